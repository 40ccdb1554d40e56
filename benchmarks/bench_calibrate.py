#!/usr/bin/env python3
"""Speed of ``calibrate`` (issue 10 target: a profile on 1,000 runs in <= 5 s).

Builds 1,000 synthetic runs in the validation-case schema -- 3 chips x 2 engines x 3 models,
random layouts, lengths and concurrencies, each run with its output tokens/s per GPU, TPOT
and (a third of them) TTFT -- whose "measured" values are the uncalibrated model's times a
per chip x engine bias and 5 % noise (built before the clock starts).  Then times
:func:`suanli.app.profiles.calibrate_rows` into a fresh SQLite file: predicting every run,
the finite-difference sensitivities, the fits per chip x engine / family / model, the
before/after re-prediction and the store.

    python benchmarks/bench_calibrate.py [--runs N]

Prints wall and CPU time and runs/s; exit code 1 when the target is missed in wall time.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TARGET_S = 5.0
HEADER = ("case_id,source_group,source_url,hardware,gpus,model,weight_dtype,kv_dtype,engine,tp,pp,ep,"
          "dp_attention,isl,osl,concurrency,request_rate,scenario,metric,value,notes").split(",")
CHIPS = ("nvidia_h20_96gb", "nvidia_h200_sxm", "nvidia_l20")
ENGINES = ("vllm", "sglang")
MODELS = (("Qwen/Qwen3-8B", (1, 2)), ("Qwen/Qwen3-32B", (2, 4)), ("meta-llama/Llama-3.1-8B", (1, 2)))


def synthetic_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    from suanli.app.calibration import load_calibration
    from suanli.app.validate import predict_case
    from suanli.specs.accelerator import load_hardware
    from suanli.specs.system import load_systems

    rng = random.Random(seed)
    hw, systems, cal = load_hardware(), load_systems(), load_calibration()
    bias = {(c, e): math.exp(rng.gauss(0, 0.3)) for c in CHIPS for e in ENGINES}
    rows: list[dict[str, str]] = []
    i = 0
    while len({r["case_id"].rsplit("-", 1)[0] for r in rows}) < n:
        chip, engine = rng.choice(CHIPS), rng.choice(ENGINES)
        model, tps = rng.choice(MODELS)
        tp = rng.choice(tps)
        isl, osl = rng.choice(((1024, 256), (2048, 512), (512, 1024), (4096, 256), (8192, 1024)))
        conc = rng.choice((1, 4, 8, 16, 32, 64))
        metrics = ["output_tok_s", "tpot_ms"] + (["ttft_ms"] if i % 3 == 0 else [])
        run = []
        for metric in metrics:
            row = dict(zip(HEADER, [f"bench-{i}-{metric}", "bench", "https://example.org", chip, str(tp), model,
                                    "bf16", "bf16", engine, str(tp), "", "", "", str(isl), str(osl), str(conc), "",
                                    "single-request" if conc == 1 else "fixed-concurrency", metric, "0", ""]))
            try:
                _, value = predict_case(row, catalog=hw, systems=systems, calibration=cal)
            except Exception:   # noqa: BLE001 -- a layout that does not fit: draw another run
                run = []
                break
            factor = bias[(chip, engine)] * math.exp(rng.gauss(0, 0.05))
            value = value / factor if metric.endswith("_tok_s") else value * factor
            run.append({**row, "value": f"{value:.6g}"})
        rows += run
        i += 1
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    args = ap.parse_args()
    from suanli.app.profiles import calibrate_rows

    rows = synthetic_rows(args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        from suanli.market.db import open_db
        open_db(url).dispose()                      # create and seed outside the clock
        t0, c0 = time.perf_counter(), time.process_time()
        prof = calibrate_rows(rows, name="bench", db=url)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"calibrate: {args.runs} runs ({len(rows)} measured values, {len(prof.scopes)} corrections) "
          f"in {wall:.2f} s wall, {cpu:.2f} s CPU = {args.runs / wall:,.0f} runs/s "
          f"(target: 1,000 runs <= {TARGET_S:g} s)")
    before = sorted(abs(p["before"] / p["measured"] - 1) for p in prof.points)
    after = sorted(abs(p["after"] / p["measured"] - 1) for p in prof.points)
    print(f"median APE on the runs themselves: {before[len(before) // 2]:.1%} uncalibrated -> "
          f"{after[len(after) // 2]:.1%} with the profile (in sample)")
    return 0 if wall * 1000 / args.runs <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
