#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian machine and run it.
# This is the one test command: the README shows it and .ci/run calls it.
#   - a virtual environment with the package and its test extras (PyPI)
#   - a PostgreSQL server on loopback for the database tests (Debian package)
#   - Chromium for the browser tests (Debian package; never a downloaded browser) and a CJK font
#     (fonts-noto-cjk) so that Chinese labels render, which the browser tests check
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/_venv.sh
. scripts/_venv.sh test

if [ -f scripts/ci-services.sh ]; then
    SUANLI_TEST_PG_URL=$(bash scripts/ci-services.sh)
    export SUANLI_TEST_PG_URL
fi
if [ -f scripts/ci-browser.sh ]; then
    bash scripts/ci-browser.sh --fonts
fi

exec "$VENV/bin/python" -m pytest -q "$@"
