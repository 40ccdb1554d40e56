#!/usr/bin/env python3
"""Speed of the core: in-process predictions per second and `suanli validate` wall time.

    python benchmarks/bench_predict.py [--n 2000]

Targets (issue 2): one prediction <= 1 ms median after import; validate on the
public set <= 10 s wall (measured as a subprocess, including interpreter start).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

WORKLOADS = [
    dict(model="Qwen/Qwen3-32B", hardware="H20", isl=2048, osl=512, concurrency=32),
    dict(model="meta-llama/Llama-3.1-70B", hardware="H100", gpus=8, tp=4, weight_dtype="fp8", isl=1000, osl=1000),
    dict(model="deepseek-ai/DeepSeek-R1", hardware="H200", gpus=8, tp=8, isl=4096, osl=1024, request_rate=2.0),
    dict(model="Qwen/Qwen3-30B-A3B", hardware="910B", gpus=2, tp=2, isl=1000, osl=2000, concurrency=64),
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000, help="predictions to time")
    args = ap.parse_args()
    t0 = time.perf_counter()
    import suanli
    suanli.predict(**WORKLOADS[0])  # warm caches (catalog, calibration, model configs)
    print(f"import + first prediction: {(time.perf_counter() - t0) * 1e3:.0f} ms")
    times = []
    for i in range(args.n):
        kw = WORKLOADS[i % len(WORKLOADS)]
        s = time.perf_counter()
        suanli.predict(**kw)
        times.append(time.perf_counter() - s)
    med = statistics.median(times)
    print(f"predict: median {med * 1e3:.3f} ms, p90 {sorted(times)[int(0.9 * len(times))] * 1e3:.3f} ms, "
          f"{1 / statistics.fmean(times):,.0f} predictions/s on one core")

    cases = ROOT / "tests" / "data" / "cases-public.csv"
    s = time.perf_counter()
    subprocess.run([sys.executable, "-m", "suanli", "validate", "--cases", str(cases), "--json"],
                   check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    print(f"suanli validate (public set, subprocess incl. start-up): {time.perf_counter() - s:.2f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
