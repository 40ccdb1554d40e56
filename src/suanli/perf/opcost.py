"""Time of each op of an :class:`~suanli.perf.ops.OpTable`: one pure cost
function per op kind, registered by kind.

Kernel ops (GEMM, MoE, attention, MLA) take their time from the platform's
kernel model (measured tables, transferred through physics, or a stated
roofline prior -- ``perf.kernels``); element-wise ops stream their bytes at a
stated fraction of memory bandwidth; collectives inside a scale-up domain use
the kernel model's measured collectives, across nodes an alpha-beta model over
the server's NIC (``perf.comm``).  In speed-of-light mode every op is its bare
roofline ``max(FLOPs / peak, bytes / bandwidth)``.

Adding an op kind is one function here and one ``@cost("kind")`` line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from suanli.perf import comm
from suanli.perf.hardware import HwParams
from suanli.perf.kernels import PRIOR_COMPUTE_EFF, PRIOR_MEMORY_EFF, PRIOR_T0_S
from suanli.perf.ops import Op, OpTable
from suanli.perf.runtime import Runtime

# Element-wise kernels stream at ~80-90 % of peak HBM bandwidth on large
# tensors (BabelStream copy/triad on A100/H100/MI250X reach 85-93 %:
# Deakin et al., "Evaluating the performance of HPC-style SYCL applications",
# and the BabelStream results pages); 0.8 leaves room for the small, unfused
# tensors of inference.  Their fixed latency is the runtime's ``layer_s``.
STREAM_EFF = 0.8
# DeepEP's low-latency dispatch/combine serves at most 128 tokens per rank per call by
# default (num_max_dispatch_tokens_per_rank = 128 in its examples); larger batches use the
# normal kernels.
LOW_LATENCY_TOKENS = 128.0
CUSTOM_ALLREDUCE_MAX_BYTES = 8 * 2**20


@dataclass(frozen=True, kw_only=True)
class Platform:
    """Where a model runs: the chip (``hw``), its kernel model and the engine runtime."""

    hw: HwParams
    kernels: Any
    runtime: Runtime
    # multiplier per op kind from a user's calibration profile (perf.correction); () = none
    op_scale: tuple[tuple[str, float], ...] = ()

    @property
    def speed_of_light(self) -> bool:
        return self.runtime.speed_of_light


CostFn = Callable[[Op, Platform], Any]
COSTS: dict[str, CostFn] = {}


def cost(kind: str) -> Callable[[CostFn], CostFn]:
    def register(fn: CostFn) -> CostFn:
        COSTS[kind] = fn
        return fn
    return register


def _sol(op: Op, pf: Platform) -> Any:
    """Bare roofline of a compute op at the chip's peak for the op's dtype."""
    peak = pf.hw.peaks.get(op.dtype) or pf.hw.peak_attn
    return np.maximum(op.flops / peak, (op.bytes_read + op.bytes_written) / pf.hw.mem_bw)


@cost("gemm")
def gemm_time(op: Op, pf: Platform) -> Any:
    if pf.speed_of_light:
        return _sol(op, pf)
    s = op.shape
    return pf.kernels.gemm(s["m"], s["n"], s["k"], op.dtype)


@cost("moe")
def moe_time(op: Op, pf: Platform) -> Any:
    if pf.speed_of_light:
        return _sol(op, pf)
    s = op.shape
    return pf.kernels.moe(s["tokens"], s["hidden"], s["inter"], s["topk"], s["experts"], s["moe_tp"], s["moe_ep"],
                          op.dtype)


@cost("attn_prefill")
def attn_prefill_time(op: Op, pf: Platform) -> Any:
    if pf.speed_of_light:
        return _sol(op, pf)
    s = op.shape
    return pf.kernels.attn_prefill(s["batch"], s["isl"], s["heads"], s["kv_heads"], s["head_dim"], op.dtype,
                                   s["prefix"])


@cost("attn_decode")
def attn_decode_time(op: Op, pf: Platform) -> Any:
    if pf.speed_of_light:
        return _sol(op, pf)
    s = op.shape
    return pf.kernels.attn_decode(s["batch"], s["ctx"], s["heads"], s["kv_heads"], s["head_dim"], op.dtype)


@cost("mla_prefill")
def mla_prefill_time(op: Op, pf: Platform) -> Any:
    if pf.speed_of_light:
        return _sol(op, pf)
    s = op.shape
    return pf.kernels.mla_prefill(s["batch"], s["isl"], s["heads"], op.dtype, s["prefix"])


@cost("mla_decode")
def mla_decode_time(op: Op, pf: Platform) -> Any:
    if pf.speed_of_light:
        return _sol(op, pf)
    s = op.shape
    return pf.kernels.mla_decode(s["batch"], s["ctx"], s["heads"], op.dtype)


# Ops without a measured kernel table (Gated DeltaNet recurrence, DSA indexer scores): the
# roofline prior of ``perf.kernels`` with its default efficiencies -- speed-of-light mode
# uses the bare roofline.


def _prior(op: Op, pf: Platform) -> Any:
    if pf.speed_of_light:
        return _sol(op, pf)
    peak = pf.hw.peaks.get(op.dtype) or pf.hw.peak_attn
    busy = np.maximum(op.flops / (peak * PRIOR_COMPUTE_EFF),
                      (op.bytes_read + op.bytes_written) / (pf.hw.mem_bw * PRIOR_MEMORY_EFF))
    return np.where(np.asarray(busy) > 0, PRIOR_T0_S + busy, 0.0)


@cost("linear_attn")
def linear_attn_time(op: Op, pf: Platform) -> Any:
    return _prior(op, pf)


@cost("indexer")
def indexer_time(op: Op, pf: Platform) -> Any:
    return _prior(op, pf)


@cost("elementwise")
def elementwise_time(op: Op, pf: Platform) -> Any:
    eff = 1.0 if pf.speed_of_light else STREAM_EFF
    return (op.bytes_read + op.bytes_written) / (pf.hw.mem_bw * eff)


def _fabric(pf: Platform) -> dict[str, Any]:
    hw = pf.hw
    return dict(link_bw=hw.link_bw, scaleout_bw=hw.scaleout_bw, node_size=hw.node_size, latency=hw.link_latency_s,
                scaleout_latency=hw.scaleout_latency_s, eff=pf.runtime.comm_eff)


def _by_element(first: Any, a: Callable[[], Any], b: Callable[[], Any]) -> Any:
    """``where(first, a(), b())`` evaluating only the branches some element needs."""
    if np.all(first):
        return a()
    if not np.any(first):
        return b()
    return np.where(first, a(), b())


@cost("allreduce")
def allreduce_time(op: Op, pf: Platform) -> Any:
    n = np.asarray(op.group, dtype=float)
    model = comm.allreduce_time(op.comm_bytes, n, **_fabric(pf))
    if pf.speed_of_light:
        return model
    inside = n <= pf.hw.node_size
    # engines' custom one-/two-shot all-reduce (captured in CUDA graphs) up to 8 MiB, NCCL
    # above (vLLM CustomAllreduce max_size default 8 MiB; TRT-LLM and SGLang alike)
    nb, nn = op.comm_bytes, np.where(inside, n, 2.0)
    measured = _by_element(np.asarray(nb, dtype=float) <= CUSTOM_ALLREDUCE_MAX_BYTES,
                           lambda: pf.kernels.allreduce(nb, nn, "graph"), lambda: pf.kernels.allreduce(nb, nn, "nccl"))
    return np.where(n > 1, np.where(inside, measured, model), 0.0)


@cost("allgather")
def allgather_time(op: Op, pf: Platform) -> Any:
    # ring all-gather moves half an all-reduce's volume
    return 0.5 * allreduce_time(op, pf)


@cost("alltoall")
def alltoall_time(op: Op, pf: Platform) -> Any:
    n = np.asarray(op.group, dtype=float)
    model = comm.alltoall_time(op.comm_bytes, n, **_fabric(pf))
    if pf.speed_of_light:
        return model
    inside = n <= pf.hw.node_size
    # DeepEP low-latency kernels for decode-sized batches, normal kernels for prefill
    # (DeepEP README: LL mode for inference decoding, normal for training/prefill)
    tokens = np.asarray(op.shape.get("tokens", 0.0), dtype=float)
    nb, nn = op.shape.get("copy_bytes", op.comm_bytes), np.where(inside, n, 2.0)
    measured = _by_element(tokens <= LOW_LATENCY_TOKENS, lambda: pf.kernels.alltoall(nb, nn, "low_latency"),
                           lambda: pf.kernels.alltoall(nb, nn, "normal"))
    return np.where(n > 1, np.where(inside, measured, model), 0.0)


@cost("p2p")
def p2p_time(op: Op, pf: Platform) -> Any:
    hw = pf.hw
    return comm.p2p_time(op.comm_bytes, bw=hw.link_bw, latency=hw.link_latency_s, eff=pf.runtime.comm_eff)


@cost("kv_transfer")
def kv_transfer_time(op: Op, pf: Platform) -> Any:
    """KV cache of prompts moving from prefill to decode instances; ``group`` > node size
    means it crosses the scale-out network."""
    hw = pf.hw
    crosses = np.asarray(op.group, dtype=float) > hw.node_size
    bw = np.where(crosses, min(hw.link_bw, hw.scaleout_bw), hw.link_bw)
    lat = hw.link_latency_s + np.where(crosses, hw.scaleout_latency_s, 0.0)
    return comm.p2p_time(op.comm_bytes, bw=bw, latency=lat, eff=pf.runtime.comm_eff)


_STACKED = ("count", "flops", "bytes_read", "bytes_written", "comm_bytes", "group")


def _stacked(ops: list[Op]) -> Op:
    """Several ops of one kind and dtype as one op whose arrays gain a leading axis (every
    cost function is elementwise in its op's arrays, so one call times them all -- the
    kernel model's fixed cost per call dominates the small arrays of a step)."""
    first = ops[0]
    fields = {f: [np.asarray(getattr(o, f), dtype=float) for o in ops] for f in _STACKED}
    shape_keys = list(first.shape)
    shapes = {k: [np.asarray(o.shape[k], dtype=float) for o in ops] for k in shape_keys}
    dims = {a.shape for v in (*fields.values(), *shapes.values()) for a in v} - {()}
    # usually every array is a scalar or of one shape; broadcast_shapes only otherwise
    common = next(iter(dims)) if len(dims) == 1 else () if not dims else np.broadcast_shapes(*dims)

    def stack(arrays: list[np.ndarray]) -> np.ndarray:
        out = np.empty((len(arrays), *common))
        for i, a in enumerate(arrays):      # assignment broadcasts (cheaper than broadcast_to)
            out[i] = a
        return out
    return Op(name=first.name, kind=first.kind, dtype=first.dtype, **{f: stack(v) for f, v in fields.items()},
              shape={k: stack(v) for k, v in shapes.items()})


def op_times(table: OpTable, pf: Platform) -> dict[str, Any]:
    """Seconds each op takes in one step (``count`` x per-occurrence time).  Ops of one kind
    and dtype (with the same shape arguments) are timed in one call (same result, less
    overhead)."""
    groups: dict[tuple[str, str, tuple[str, ...]], list[Op]] = {}
    for op in table:
        groups.setdefault((op.kind, op.dtype, tuple(op.shape)), []).append(op)
    out: dict[str, Any] = {}
    for (kind, _, _), ops in groups.items():
        if len(ops) == 1:
            out[ops[0].name] = np.asarray(ops[0].count, dtype=float) * COSTS[kind](ops[0], pf)
            continue
        big = _stacked(ops)
        t = big.count * COSTS[kind](big, pf)
        for i, op in enumerate(ops):
            out[op.name] = t[i]
    if pf.op_scale:
        scale = dict(pf.op_scale)
        return {op.name: out[op.name] * scale[op.kind] if op.kind in scale else out[op.name] for op in table}
    return {op.name: out[op.name] for op in table}


__all__ = ["COSTS", "Platform", "STREAM_EFF", "cost", "op_times"]
