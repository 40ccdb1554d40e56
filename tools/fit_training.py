#!/usr/bin/env python3
"""Fit the training framework's non-GEMM memory traffic (``non_gemm_bytes``, the one
fitted constant of the training step model) on llm-foundry's published MFU.

    python tools/fit_training.py [--write]

GEMM and attention times come from the measured kernel tables (never fitted); this
constant stands for what no kernel table shows: the memory-bound norms, activations,
residual adds, casts and launch gaps of a PyTorch/FSDP training step.  One-dimensional
least squares on log(predicted MFU / published MFU) over ``tests/data/llm-foundry-mfu.csv``
(rows at <= 8,192 tokens; the 16k-token A100 row is held out with the other published
runs in ``tests/test_training.py``).  With ``--write`` the value, the residuals and the
cases go into ``src/suanli/data/calibration/training.json``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from suanli.app.training import _read_constants, training_constants, training_platform  # noqa: E402
from suanli.perf.training import TrainSetup, train_step  # noqa: E402
from suanli.specs.accelerator import load_hardware  # noqa: E402
from suanli.specs.dtypes import DType  # noqa: E402
from suanli.specs.model import ModelSpec  # noqa: E402
from suanli.specs.system import System  # noqa: E402

CASES = ROOT / "tests" / "data" / "llm-foundry-mfu.csv"
OUT = ROOT / "src" / "suanli" / "data" / "calibration" / "training.json"
MAX_SEQ = 8192


def gpt(name: str, h: int, layers: int, heads: int, vocab: int) -> ModelSpec:
    """A GPT-style layer (MHA, 4h MLP) as a ModelSpec: a SwiGLU of width 8h/3 has the same
    parameters (3 h f = 8 h^2) and stores the same activations."""
    return ModelSpec(id=name, model_type="gpt", origin="test", hidden_size=h, num_layers=layers, vocab_size=vocab,
                     tie_word_embeddings=True, num_heads=heads, num_kv_heads=heads, head_dim=h // heads,
                     intermediate_size=round(8 * h / 3))


def read_cases(path: Path = CASES) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    return list(csv.DictReader(lines))


def predicted_mfu(row: dict[str, str], non_gemm_bytes: float) -> float:
    acc = load_hardware().get(row["hardware"])
    gbps = 400 if "h100" in acc.id else 200       # MosaicML: 3.2 / 1.6 Tb/s per 8-GPU node
    pf, _ = training_platform(acc, DType.BF16, System(id=f"fit-{acc.id}", gpus=8, gpu_id=acc.id,
                                                      scaleout_gbps_per_gpu=gbps, origin="fit"))
    consts = replace(training_constants(acc, DType.BF16), non_gemm_bytes=non_gemm_bytes)
    spec = gpt(f"mpt-{row['model']}", int(row["hidden"]), int(row["layers"]), int(row["heads"]), int(row["vocab"]))
    gpus, mb, ga = int(row["gpus"]), int(row["micro_batch"]), int(row["grad_accum"])
    st = TrainSetup(gpus=gpus, seq_len=int(row["seq_len"]), global_batch=mb * ga * gpus, micro_batch=mb, zero=3,
                    recompute="full" if row["activation_checkpointing"] == "true" else "none")
    return train_step(spec, st, pf, consts).mfu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    rows = [r for r in read_cases() if int(r["seq_len"]) <= MAX_SEQ]

    def loss(x: float) -> float:
        return sum(math.log(predicted_mfu(r, x) / float(r["mfu"])) ** 2 for r in rows)

    lo, hi = 0.0, 3000.0                     # golden-section search on [0, 3000] bytes
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(40):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = loss(b)
    best = round((lo + hi) / 2, 1)
    errors = [predicted_mfu(r, best) / float(r["mfu"]) - 1 for r in rows]
    print(f"non_gemm_bytes = {best}; median |error| {statistics.median(abs(e) for e in errors):.3f}, "
          f"max {max(abs(e) for e in errors):.3f} over {len(rows)} runs (in sample)")
    if args.write:
        data = dict(_read_constants(None))
        data["global"] = dict(data["global"], non_gemm_bytes=best)
        data["meta"] = dict(data["meta"], script="tools/fit_training.py", fitted_on=dt.date.today().isoformat(),
                            fit_cases=f"{len(rows)} llm-foundry BF16 runs <= {MAX_SEQ} tokens (H100, A100)",
                            in_sample_median_abs_error=round(statistics.median(abs(e) for e in errors), 4))
        OUT.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
