#!/usr/bin/env python3
"""Speed of ``runs import`` (issue 10 target: 10,000 runs <= 10 s).

Writes 10,000 benchmark runs into a temporary directory -- by default as SGLang
``bench_serving`` JSON Lines files (one run a line, 2,500 runs a file, the real key set of
``sglang 0.5.3``) plus one vLLM ``--append-result`` JSON Lines file -- and times
:func:`suanli.app.runs.import_runs` on them into a fresh SQLite file (or ``--db``):
reading, format detection, parsing, catalog lookups, flag merging and the one transaction.
The re-import (every run a duplicate) is timed too.

    python benchmarks/bench_runs.py [--runs N] [--files K] [--db URL]

Prints wall and CPU time and runs/s; exit code 1 when the target is missed in CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TARGET_S = 10.0


def sglang_line(rng: random.Random, i: int) -> dict:
    completed = rng.choice((100, 200, 500, 1000))
    isl, osl = rng.choice(((1024, 1024), (2048, 256), (128, 2048), (4000, 500)))
    duration = completed * (isl + osl) / rng.uniform(2000, 20000)
    rate = rng.choice((1.0, 2.0, 4.0, 8.0, float("inf")))
    ttft = rng.uniform(20, 3000)
    tpot = rng.uniform(5, 80)
    return {
        "backend": "sglang", "dataset_name": "random", "request_rate": rate, "max_concurrency": rng.choice((None, 64)),
        "sharegpt_output_len": None, "random_input_len": isl, "random_output_len": osl, "random_range_ratio": 1.0,
        "duration": duration, "completed": completed, "total_input_tokens": completed * isl,
        "total_output_tokens": completed * osl, "total_output_tokens_retokenized": completed * osl,
        "request_throughput": completed / duration, "input_throughput": completed * isl / duration,
        "output_throughput": completed * osl / duration, "mean_e2e_latency_ms": ttft + tpot * osl,
        "median_e2e_latency_ms": ttft + tpot * osl, "std_e2e_latency_ms": 1.0, "p99_e2e_latency_ms": ttft + tpot * osl,
        "mean_ttft_ms": ttft, "median_ttft_ms": ttft, "std_ttft_ms": 1.0, "p99_ttft_ms": ttft * 1.5,
        "mean_tpot_ms": tpot, "median_tpot_ms": tpot, "std_tpot_ms": 0.1, "p99_tpot_ms": tpot * 1.2,
        "mean_itl_ms": tpot, "median_itl_ms": tpot, "std_itl_ms": 0.2, "p95_itl_ms": tpot, "p99_itl_ms": tpot * 1.3,
        "concurrency": rng.uniform(1, 64), "accept_length": None, "run": i,
    }


def vllm_line(rng: random.Random, i: int) -> dict:
    rec = sglang_line(rng, i)
    for k in ("dataset_name", "sharegpt_output_len", "random_input_len", "random_output_len", "random_range_ratio",
              "total_output_tokens_retokenized", "input_throughput", "concurrency", "accept_length"):
        rec.pop(k, None)
    rec.update({"date": "20261206-100000", "backend": "vllm", "model_id": "Qwen/Qwen3-32B", "num_prompts": rec["completed"],
                "total_token_throughput": (rec["total_input_tokens"] + rec["total_output_tokens"]) / rec["duration"],
                "request_rate": "inf" if rec["request_rate"] == float("inf") else rec["request_rate"]})
    return rec


def write_files(folder: Path, runs: int, files: int, seed: int = 11) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    vllm_runs = runs // (files + 1)
    per_file = (runs - vllm_runs) // files
    sizes = [per_file] * files
    sizes[-1] += runs - vllm_runs - per_file * files
    n = 0
    for k, size in enumerate(sizes):
        p = folder / f"sglang_{k}.jsonl"
        with p.open("w", encoding="utf-8") as f:
            for _ in range(size):
                f.write(json.dumps(sglang_line(rng, n)) + "\n")
                n += 1
        paths.append(p)
    p = folder / "vllm_append.jsonl"
    with p.open("w", encoding="utf-8") as f:
        for _ in range(vllm_runs):
            f.write(json.dumps(vllm_line(rng, n)) + "\n")
            n += 1
    paths.append(p)
    return paths


def timed(fn):  # type: ignore[no-untyped-def]
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--files", type=int, default=4, help="SGLang files (plus one vLLM file)")
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = ap.parse_args()

    from suanli.app.runs import RunFlags, import_runs
    from suanli.market.db import open_db

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_files(folder, args.runs, args.files)
        size = sum(p.stat().st_size for p in paths)
        url = args.db or f"sqlite:///{folder / 'bench.sqlite3'}"
        db = open_db(url, seed=False)
        flags = RunFlags(hardware="H20", model="Qwen/Qwen3-32B", gpus=8, tp=8, engine=None, label="bench")
        # the vLLM file names its engine and model; the SGLang lines name the engine only
        res, wall, cpu = timed(lambda: import_runs(paths, db, flags=flags))
        assert res.added == args.runs, res.to_dict()
        print(f"runs import: {args.runs:,} runs in {len(paths)} files ({size / 2**20:.1f} MiB) -> {res.added:,} added: "
              f"{wall:.2f} s wall, {cpu:.2f} s CPU = {args.runs / wall:,.0f} runs/s (target <= {TARGET_S:g} s)")
        res2, wall2, cpu2 = timed(lambda: import_runs(paths, db, flags=flags))
        assert res2.added == 0 and res2.duplicates == args.runs
        print(f"re-import (all duplicates): {wall2:.2f} s wall, {cpu2:.2f} s CPU = {args.runs / wall2:,.0f} runs/s")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; database: {db.display_url}")
        db.dispose()
    return 0 if cpu <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
