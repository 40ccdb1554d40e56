#!/usr/bin/env bash
# The main job, with bundled data and the embedded database only: set up, then print the
# buyer report (chips ranked by cost per million tokens for Qwen3-32B chat traffic, owned and
# leased, and the fair price of an 8xH20 server) and save its chart to out/buyer-report.png.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/_venv.sh
. scripts/_venv.sh viz

mkdir -p out
"$VENV/bin/suanli" report --plot out/buyer-report.png
