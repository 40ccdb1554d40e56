"""Efficiencies and engine limits: the calibrated numbers that turn a roofline
into a prediction.

Every field is a plain number; where it came from (a fitted calibration file,
a family fallback, or the speed-of-light roofline) travels in ``mode`` and
``provenance`` so that every result can say how it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True, kw_only=True)
class EngineLimits:
    """Scheduler limits of a serving engine (defaults, not tuned values).

    ``max_seqs``: most sequences decoded together (vLLM ``max_num_seqs``);
    ``max_batched_tokens``: token budget of one step (chunked-prefill size);
    ``mem_fraction``: share of accelerator memory the engine claims for
    weights + KV cache (vLLM ``gpu_memory_utilization``);
    ``workspace_bytes``: memory outside weights and KV (CUDA context, graphs,
    activations) per accelerator.
    """

    max_seqs: int = 256
    max_batched_tokens: int = 8192
    mem_fraction: float = 0.9
    workspace_bytes: float = 2.0e9


@dataclass(frozen=True, kw_only=True)
class Efficiency:
    """Achieved fraction of peak and fixed costs, per accelerator family x engine.

    compute: fraction of dense tensor peak reached by GEMMs and attention.
    memory: fraction of HBM/GDDR bandwidth reached by weight and KV streaming.
    comm: fraction of link bandwidth reached by collectives (their fixed
        latency is a property of the fabric, see ``perf.hardware``).
    layer_overhead_s: fixed cost per transformer layer per step (kernel
        launches and small ops that neither roofline term captures).
    step_overhead_s: fixed cost per engine step (scheduling, sampling).
    request_overhead_s: fixed cost per request added to TTFT (HTTP,
        tokenisation, detokenisation of the first token).
    seq_overhead_s: fixed cost per decoding sequence per step (the engine's
        per-sequence scheduling, sampling and detokenisation work on the host).
    expert_overhead_s: fixed cost per routed-expert GEMM an accelerator runs
        in one MoE layer (tile scheduling of grouped GEMMs on small, sharded
        experts; dominates MoE models with hundreds of experts under TP).
    """

    compute: float
    memory: float
    comm: float = 0.7
    layer_overhead_s: float = 20e-6
    step_overhead_s: float = 1e-3
    request_overhead_s: float = 20e-3
    expert_overhead_s: float = 2e-6
    seq_overhead_s: float = 0.0
    limits: EngineLimits = field(default_factory=EngineLimits)
    mode: str = "calibrated"           # "calibrated" | "family-default" | "roofline"
    provenance: str = ""
    band: tuple[float, float] = (0.75, 1.33)   # multiplicative P10..P90 uncertainty of predictions

    def __post_init__(self) -> None:
        for name in ("compute", "memory", "comm"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"efficiency {name} must be in (0, 1], got {value}")


def roofline(limits: EngineLimits | None = None) -> Efficiency:
    """Speed of light: 100 % of every peak and no fixed costs.  Only ever used
    when the user asks for ``mode='roofline'``, and labelled so."""
    return Efficiency(compute=1.0, memory=1.0, comm=1.0, layer_overhead_s=0.0,
                      step_overhead_s=0.0, request_overhead_s=0.0, expert_overhead_s=0.0, seq_overhead_s=0.0, limits=limits or EngineLimits(),
                      mode="roofline", provenance="speed-of-light roofline: 100 % of peak, no overheads",
                      band=(1.0, 1.0))


def with_limits(eff: Efficiency, limits: EngineLimits) -> Efficiency:
    return replace(eff, limits=limits)
