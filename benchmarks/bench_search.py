#!/usr/bin/env python3
"""Speed of the deployment search (issue 3 targets).

    python benchmarks/bench_search.py

* sweep: configurations (layout x precision x batch) evaluated per second on one
  core (in-process, serial backend), target >= 100,000/s;
* `suanli compare` for one model over 6 chips with up to 8 GPUs each (agg +
  disagg), wall time including interpreter start and import, target <= 2 s;
* DeepSeek-R1 on up to 64 GPUs of one chip, target <= 10 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _wall(args: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    s = time.perf_counter()
    subprocess.run([sys.executable, "-m", "suanli", *args], check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - s


def main() -> int:
    from suanli.app.compare import SearchSpec, search_chip

    search_chip(SearchSpec(model="Qwen/Qwen3-8B", hardware="H100", isl=1024, osl=256, max_gpus=2,
                           exact_gpus=None, engine="vllm", weight_dtypes=None, kv_dtypes=None, disagg=False))
    for model, chip, gpus, disagg in (("Qwen/Qwen3-32B", "H20", 8, False), ("deepseek-ai/DeepSeek-R1", "H200", 64, False),
                                      ("Qwen/Qwen3-235B-A22B", "910B", 64, False), ("Qwen/Qwen3-32B", "H20", 8, True)):
        spec = SearchSpec(model=model, hardware=chip, isl=2048, osl=512, max_gpus=gpus, exact_gpus=None,
                          engine="vllm", weight_dtypes=("bf16", "fp8"), kv_dtypes=("bf16", "fp8"), disagg=disagg)
        s = time.perf_counter()
        res = search_chip(spec)
        dt = time.perf_counter() - s
        n = res["evaluated"]
        print(f"sweep {model} on {chip} <= {gpus} GPUs{' +disagg' if disagg else ''}: {n:,} configs evaluated "
              f"({len(res['columns'].get('ttft_s', [])):,} feasible) in {dt:.3f} s -> {n / dt:,.0f} configs/s "
              f"(one core, incl. catalog/calibration look-ups)")
    chips = "H20,H20-141G,RTX-PRO-6000,H200,910B,L20"
    t = _wall(["compare", "--model", "Qwen/Qwen3-32B", "--isl", "2048", "--osl", "512", "--ttft-ms", "2000",
               "--tpot-ms", "50", "--hardware", chips, "--json"])
    print(f"suanli compare Qwen3-32B over 6 chips <= 8 GPUs (agg+disagg), incl. start-up: {t:.2f} s wall")
    t = _wall(["compare", "--model", "deepseek-ai/DeepSeek-R1", "--isl", "4096", "--osl", "1024", "--hardware",
               "H20", "--max-gpus", "64", "--ttft-ms", "3000", "--tpot-ms", "50", "--json"])
    print(f"suanli compare DeepSeek-R1 on H20 <= 64 GPUs (agg+disagg), incl. start-up: {t:.2f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
