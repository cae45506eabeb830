#!/usr/bin/env bash
# Set up a virtual environment with s3dlio and run the local demo (no server needed).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/python examples/demo.py "$@"
