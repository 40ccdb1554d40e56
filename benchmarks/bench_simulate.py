#!/usr/bin/env python3
"""Speed of the request-level simulator: simulated requests per second on one core.

    python benchmarks/bench_simulate.py [--n 20000 50000] [--repeat 3]

Target (issue: serving simulator): >= 50,000 simulated requests/s on one core
for typical workloads.  The step table is built once per workload (timed
separately); the figure is requests / wall time of ``simulate`` alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from suanli.app.predict import predict, resolve  # noqa: E402
from suanli.perf.serving import Instance  # noqa: E402
from suanli.perf.simulate import sim_config, simulate, step_table  # noqa: E402
from suanli.perf.workload import Requests, fixed, lognormal, poisson_arrivals  # noqa: E402


def engine_for(model: str, hardware: str, isl: float, osl: float, **kw: object) -> tuple[Instance, float]:
    """The one-instance model ``predict`` resolves for this case, and its offline capacity
    (requests/s per instance)."""
    pred = predict(model, hardware, isl=isl, osl=osl, **kw)  # type: ignore[arg-type]
    r = resolve(model, hardware, isl=isl, osl=osl, gpus=pred.gpus, tp=pred.tp, pp=pred.pp, ep=pred.ep,
                dp_attention=pred.dp_attention, weight_dtype=pred.weight_dtype, kv_dtype=pred.kv_dtype,
                engine=pred.engine)
    capacity = pred.output_tok_s_per_gpu * pred.gpus / pred.replicas / osl
    return r.instance(), capacity


WORKLOADS = [
    # (label, model, hardware, isl, osl, load as a share of offline capacity, length law)
    ("Qwen3-32B H20 fixed 1000/200 @50%", "Qwen/Qwen3-32B", "H20", 1000, 200, 0.5, "fixed"),
    ("Qwen3-32B H20 fixed 1000/200 @70%", "Qwen/Qwen3-32B", "H20", 1000, 200, 0.7, "fixed"),
    ("Qwen3-32B H20 lognormal 1000/200 @70%", "Qwen/Qwen3-32B", "H20", 1000, 200, 0.7, "lognormal"),
    ("Qwen3-8B H100 fixed 1000/200 @30%", "Qwen/Qwen3-8B", "H100", 1000, 200, 0.3, "fixed"),
    ("Qwen3-8B H100 lognormal 2000/500 @50%", "Qwen/Qwen3-8B", "H100", 2000, 500, 0.5, "lognormal"),
    ("Qwen3-32B H20 fixed 1000/200 @120% (overload)", "Qwen/Qwen3-32B", "H20", 1000, 200, 1.2, "fixed"),
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[20000, 50000], help="requests per workload")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per workload (best is reported)")
    args = ap.parse_args()
    print(f"one core; 'sim s' is the best of {args.repeat} runs of simulate() alone")
    print(f"{'workload':48s} {'requests':>7s} {'table ms':>9s} {'sim s':>7s} {'req/s':>10s} {'steps':>10s} {'preempt':>8s}"
          f" {'TTFT p50 ms':>11s} {'TPOT p50 ms':>11s}")
    for label, model, hardware, isl, osl, load, law in WORKLOADS:
        eng, capacity = engine_for(model, hardware, isl, osl)
        cfg = sim_config(eng)
        t0 = time.perf_counter()
        table = step_table(eng, cfg.max_seqs, cfg.max_batched_tokens)
        t_table = time.perf_counter() - t0
        for n in args.n:
            rng = np.random.default_rng(0)
            arrivals = poisson_arrivals(load * capacity, n, rng)
            if law == "fixed":
                reqs = Requests(arrival_s=arrivals, isl=fixed(n, isl), osl=fixed(n, osl))
            else:
                reqs = Requests(arrival_s=arrivals, isl=lognormal(n, isl, 0.6, rng), osl=lognormal(n, osl, 0.6, rng))
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                res = simulate(reqs, table, cfg)
                best = min(best, time.perf_counter() - t0)
            s = res.summary()
            print(f"{label:48s} {n:7,d} {t_table * 1e3:9.1f} {best:7.3f} {n / best:10,.0f} {res.steps:10,d} "
                  f"{res.preemptions:8d} {s['ttft_s']['p50'] * 1e3:11.1f} {s['tpot_s']['p50'] * 1e3:11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
