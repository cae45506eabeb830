#!/usr/bin/env bash
# Create (idempotently) the virtualenv that holds the ORIGINAL Rust-based s3dlio from PyPI.
#
# The original has the same import name as ours (`s3dlio`), so it lives in its own venv and
# the benchmarks drive it in a subprocess (bench/_original_worker.py).
#
#   bench/setup_original.sh            # s3dlio==0.10.0 + numpy
#   bench/setup_original.sh --torch    # also torch==2.13.0 (CPU), for the torch-iter workload
#
# Environment overrides: PYTHON (default python3), S3DLIO_ORIGINAL_VERSION (default 0.10.0),
# S3DLIO_ORIGINAL_VENV (default <repo>/.bench/venv-original), TORCH_VERSION (default 2.13.0).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VERSION="${S3DLIO_ORIGINAL_VERSION:-0.10.0}"
VENV="${S3DLIO_ORIGINAL_VENV:-$REPO/.bench/venv-original}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
WITH_TORCH=0
for arg in "$@"; do
    case "$arg" in
        --torch) WITH_TORCH=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

VPY="$VENV/bin/python"

if [ ! -x "$VPY" ]; then
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
fi

# Already there at the right version? Then there is nothing to do (no network access).
have_version() {
    "$VPY" - "$1" "$2" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    have = version(sys.argv[1])
except PackageNotFoundError:
    sys.exit(1)
want = sys.argv[2]
sys.exit(0 if have == want or have.split("+")[0] == want else 1)
EOF
}

if ! have_version s3dlio "$VERSION" || ! "$VPY" -c "import numpy" 2>/dev/null; then
    "$VPY" -m pip install --quiet --disable-pip-version-check "s3dlio==$VERSION" numpy
fi

if [ "$WITH_TORCH" = 1 ] && ! have_version torch "$TORCH_VERSION"; then
    # The CPU wheel is enough; pip picks it from a local find-links dir when one is configured.
    "$VPY" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION" \
        || echo "warning: torch==$TORCH_VERSION could not be installed; torch-iter will be skipped" >&2
fi

# Smoke test: the native module loads and reports the expected version.
"$VPY" -c "import s3dlio, sys; v = s3dlio.__version__; print('original s3dlio', v, 'at', s3dlio.__file__); sys.exit(0 if v.split('+')[0] == '$VERSION' else 1)"
