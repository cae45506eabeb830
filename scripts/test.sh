#!/usr/bin/env bash
# The one test command: bash scripts/test.sh [pytest args]
#
# On a fresh clone it creates .venv, installs s3dlio with its test extras and Azurite (npm, into
# .tools/), then runs pytest. Later runs skip the installs unless pyproject.toml changed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
EXTRAS="test,torch,tensorflow,jax,parquet,ray,cli,otel,hdf5,fsspec,docs,lightning,dask"
AZURITE_VERSION=3.37.0
STAMP="$VENV/.s3dlio-install-stamp"

log() { printf '[test.sh] %s\n' "$*" >&2; }

# 1. virtual environment (recreated only if missing or broken)
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "creating $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv --clear "$VENV"
fi

# 2. the package and its test extras, when pyproject.toml (or the interpreter) changed
want=$(
  {
    cat pyproject.toml
    echo "extras=$EXTRAS"
    "$VENV/bin/python" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
)
have=$(cat "$STAMP" 2>/dev/null || true)
if [ "$want" != "$have" ] \
  || ! "$VENV/bin/python" -c 'import importlib.metadata as m; m.version("s3dlio")' >/dev/null 2>&1; then
  log "installing s3dlio[$EXTRAS] into $VENV (first run takes a few minutes)"
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check --progress-bar off \
    -e ".[$EXTRAS]"
  echo "$want" >"$STAMP"
fi

# 3. Azurite (Azure Blob emulator) into .tools/
if ! grep -qs "\"version\": \"$AZURITE_VERSION\"" .tools/node_modules/azurite/package.json \
  || [ ! -e .tools/node_modules/.bin/azurite-blob ]; then
  if command -v npm >/dev/null 2>&1; then
    log "installing azurite@$AZURITE_VERSION into .tools/"
    npm install --prefix .tools --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION" >&2
  else
    log "WARNING: npm not found; Azure tests will fail (install Node.js 20+ and npm)"
  fi
fi

# 4. the docs site must build without a warning (its code examples run in tests/docs)
site_dir=$(mktemp -d)
trap 'rm -rf "$site_dir"' EXIT
NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build --strict --quiet --site-dir "$site_dir"

# 5. the tests
"$VENV/bin/python" -m pytest "$@"
