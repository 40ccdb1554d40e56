#!/usr/bin/env bash
# The main job, with bundled data only: set up, then show what suanli predicts
# for a default buyer workload and how accurate it is on the public cases.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${SUANLI_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e .

S="$VENV/bin/suanli"
"$S" predict --model Qwen/Qwen3-32B --hardware H20 --isl 2048 --osl 512 --concurrency 32
"$S" validate --cases tests/data/cases-public.csv --summary-only
