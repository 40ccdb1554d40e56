"""Time of one engine step (one forward pass over a mixed batch), per op.

The step's op table (``perf.ops.step_ops``) is costed op by op
(``perf.opcost``), and the engine runtime adds what no kernel shows
(``perf.runtime``): host time per step and per running sequence, and the
small kernels and gaps of every layer.  Ops run one after another on the
GPU (no credit for overlapping a compute-bound op with a memory-bound one).
With pipeline parallelism one decode *cycle* (the time between two tokens of
a sequence) runs every layer once at micro-batch size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from suanli.perf.layout import Layout
from suanli.perf.opcost import Platform, op_times
from suanli.perf.ops import StepLoad, step_ops
from suanli.specs.model import ModelSpec

RUNTIME_OP = "runtime"


def runtime_time(model: ModelSpec, lay: Layout, pf: Platform, load: StepLoad) -> Any:
    """Engine runtime cost of one step: ``step_s + seq_s x running sequences + layer_s x
    layers``.  Each attention-DP rank runs its own scheduler process, so the host cost
    per sequence counts the sequences of one rank."""
    rt = pf.runtime
    n = (np.asarray(load.n_dec, dtype=float) + np.asarray(load.pf_seqs, dtype=float)) / lay.attn_dp
    return rt.step_s + rt.seq_s * n + rt.layer_s * model.num_layers


def step_breakdown(model: ModelSpec, lay: Layout, pf: Platform, load: StepLoad) -> dict[str, Any]:
    """Seconds per op (and ``runtime``) of one step of ``load`` on one instance.
    With a Layout of many deployments every value is an array broadcast
    against the load's arrays."""
    out = op_times(step_ops(model, lay, load, lay.prec), pf)
    out[RUNTIME_OP] = runtime_time(model, lay, pf, load) + 0.0 * np.asarray(lay.tp)
    return out


def step_time(model: ModelSpec, lay: Layout, pf: Platform, load: StepLoad) -> Any:
    total: Any = 0.0
    for value in step_breakdown(model, lay, pf, load).values():
        total = total + value
    return total


def chunks(tokens: float, budget: int) -> int:
    """Engine steps needed to prefill ``tokens`` with a per-step token budget."""
    return max(1, math.ceil(tokens / max(1, budget)))


__all__ = ["RUNTIME_OP", "StepLoad", "chunks", "runtime_time", "step_breakdown", "step_time"]
