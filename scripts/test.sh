#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine and run it.
# This is the one test command: the README shows it and .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${SUANLI_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[test]'

exec "$VENV/bin/python" -m pytest -q "$@"
