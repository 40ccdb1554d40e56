"""The serving engine as a runtime: scheduler limits and the host/launch costs
that no kernel table shows.

Kernel times come from measured tables (``perf.kernels``); what an engine adds
on top is modelled here with a handful of physical parameters, each with a
stated range, fitted on end-to-end measurements by ``tools/calibrate.py``
(never a compute or bandwidth multiplier):

``step_s``
    host time per engine step not hidden behind the GPU: scheduling, sampling,
    detokenisation, Python (0.1-5 ms; vLLM V1 / SGLang overlap part of it).
``seq_s``
    host time per running sequence per step (per-request bookkeeping,
    sampling/detokenising each token; 0-50 us).
``layer_s``
    time per transformer layer per step for the small kernels without
    tables (norms, RoPE, residual adds, activation quantisation, MoE routing /
    top-k / permutation) and the gaps between kernels (2-60 us).
``request_s``
    front-end cost per request in TTFT: HTTP, tokenisation, queue hand-over
    (1-30 ms).
``comm_eff``
    achieved fraction of link bandwidth for collectives where no measured
    table applies (scale-out NICs, chips without tables; 0.3-0.95).

Limits (``EngineLimits``) are engine defaults with sources
(``data/calibration/engines.json``), never fitted.
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
    activations) per accelerator;
    ``graph_max_batch``: largest decode batch replayed as a CUDA graph.
    """

    max_seqs: int = 256
    max_batched_tokens: int = 8192
    mem_fraction: float = 0.9
    workspace_bytes: float = 2.0e9
    graph_max_batch: int = 512


# Physical ranges of the fitted runtime parameters (SI units).  A fit may not leave them:
# host time per step of 0.1-5 ms (an overlapped scheduler hides most of it; Python
# scheduling + sampling of a few hundred sequences without overlap costs a few ms),
# 0-50 us per running sequence per step, 2-60 us per layer for ~5-15 small kernels at
# 1-5 us each, 1-30 ms of front end per request (HTTP round trip, tokenising a prompt of
# up to ~10k tokens at >= 1M tokens/s, detokenising; MLPerf's in-process LoadGen has none),
# 30-95 % of link bandwidth (nccl-tests bus bandwidth reaches 80-90 % of NVLink/IB line rate).
RANGES: dict[str, tuple[float, float]] = {
    "step_s": (1e-4, 5e-3),
    "seq_s": (0.0, 50e-6),
    "layer_s": (2e-6, 60e-6),
    "request_s": (1e-3, 30e-3),
    "comm_eff": (0.3, 0.95),
}


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """Runtime costs of one engine on one platform, and where they came from."""

    engine: str = "other"
    step_s: float = 1e-3
    seq_s: float = 10e-6
    layer_s: float = 20e-6
    request_s: float = 20e-3
    comm_eff: float = 0.7
    limits: EngineLimits = field(default_factory=EngineLimits)
    mode: str = "calibrated"            # "calibrated" | "roofline"
    provenance: str = ""
    sigma: float = 0.3                  # log-sd of end-to-end residuals out of sample (runtime + model error)

    def __post_init__(self) -> None:
        if not 0.0 < self.comm_eff <= 1.0:
            raise ValueError(f"comm_eff must be in (0, 1], got {self.comm_eff}")
        for name in ("step_s", "seq_s", "layer_s", "request_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    @property
    def speed_of_light(self) -> bool:
        return self.mode == "roofline"


def speed_of_light(limits: EngineLimits | None = None, engine: str = "other") -> Runtime:
    """100 % of every peak, no runtime costs.  Only when the user asks for
    ``mode='roofline'``, and labelled so."""
    return Runtime(engine=engine, step_s=0.0, seq_s=0.0, layer_s=0.0, request_s=0.0, comm_eff=1.0,
                   limits=limits or EngineLimits(), mode="roofline",
                   provenance="speed-of-light roofline: 100 % of peak, no runtime costs", sigma=0.0)


def with_limits(rt: Runtime, limits: EngineLimits) -> Runtime:
    return replace(rt, limits=limits)


__all__ = ["EngineLimits", "RANGES", "Runtime", "speed_of_light", "with_limits"]
