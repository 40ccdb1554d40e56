"""Flat numeric view of an accelerator (+ its server) for the performance model,
and the precision each layer runs at, resolved the way serving engines resolve it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from suanli.errors import MissingSpec
from suanli.perf.layout import Precision
from suanli.specs.accelerator import Accelerator
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec

# Compute-precision fallbacks when the chip has no tensor throughput for the
# weight format: engines run weight-only kernels (vLLM Marlin FP8/FP4 on
# Ampere, W4A16 everywhere) that dequantise to 16-bit and multiply in BF16.
_FALLBACK = {
    DType.FP8: (DType.BF16,),
    DType.INT8: (DType.BF16,),
    DType.FP4: (DType.FP8, DType.BF16),
    DType.MXFP4: (DType.FP8, DType.BF16),
}

# Kernel dtype keys: the GEMM the engine runs.  'w8a16' / 'w4a16' are
# weight-only kernels (8- or 4-bit weights, 16-bit math).
_WEIGHT_ONLY = {DType.FP8: "w8a16", DType.INT8: "w8a16", DType.INT4: "w4a16", DType.FP4: "w4a16",
                DType.MXFP4: "w4a16"}


@dataclass(frozen=True, kw_only=True)
class HwParams:
    """SI numbers the performance model needs (per accelerator)."""

    name: str
    memory: float            # bytes
    mem_bw: float            # bytes/s
    peaks: Mapping[str, float] = field(default_factory=dict)   # dense FLOP/s per kernel dtype key
    link_bw: float           # bytes/s, one direction, per accelerator, scale-up
    link_latency_s: float    # per-collective latency of the scale-up fabric
    scaleout_bw: float       # bytes/s, one direction, per accelerator, across nodes
    scaleout_latency_s: float
    node_size: int           # accelerators reachable over the scale-up link
    family: str = ""

    @property
    def peak_attn(self) -> float:
        """16-bit tensor peak (attention kernels run in BF16/FP16)."""
        return float(self.peaks.get("bf16") or max(self.peaks.values(), default=1.0))


# Per-collective latencies by fabric (alpha term).  NCCL all-reduce of small
# messages on 8xH100 NVLink takes ~10-20 us (nccl-tests README figures);
# PCIe through the host bridge ~2x that; RDMA across nodes adds the NIC round
# trip (~5 us IB, more for RoCE).
_LINK_LATENCY = {"nvlink": 8e-6, "hccs": 12e-6, "pcie": 20e-6, "other": 15e-6}
_SCALEOUT_LATENCY = 25e-6


def link_kind(acc: Accelerator) -> str:
    text = acc.scaleup_link.lower()
    if acc.is_pcie_only or not text:
        return "pcie"
    if "nvlink" in text:
        return "nvlink"
    if "hccs" in text or "ub" in text:
        return "hccs"
    return "other"


def compute_dtype_for(acc: Accelerator, weight: DType) -> tuple[DType, str | None]:
    """The precision the GEMMs actually run at, and a warning when it is a fallback."""
    if weight in (DType.BF16, DType.FP16, DType.FP32, DType.INT4):
        # INT4 is W4A16: 4-bit storage, 16-bit math.
        base = DType.BF16 if weight != DType.FP32 else DType.FP32
        if acc.peak_flops(base) is None:
            raise MissingSpec(f"{acc.id} has no published {base.value} throughput; cannot predict", field="bf16_tflops")
        return base, None
    compute = DType.FP4 if weight == DType.MXFP4 else weight
    if acc.supports_compute(compute):
        return compute, None
    for alt in _FALLBACK.get(weight, ()):
        if acc.supports_compute(alt):
            return alt, (f"{acc.id} has no {compute.value} tensor throughput in the catalog: "
                         f"{weight.value} weights run weight-only with {alt.value} compute")
    raise MissingSpec(f"{acc.id} publishes no tensor throughput usable for {weight.value} weights",
                      field=f"{compute.value}_tflops")


def kernel_dtype(acc: Accelerator, weight: DType) -> tuple[str, DType, str | None]:
    """(kernel dtype key, compute dtype, warning) for linear layers with ``weight`` storage."""
    compute, warn = compute_dtype_for(acc, weight)
    if weight in (DType.BF16, DType.FP16, DType.FP32):
        return "bf16", compute, warn
    if weight == DType.INT4:
        return "w4a16", compute, warn
    if compute in (DType.FP8, DType.INT8) and weight in (DType.FP8, DType.INT8):
        return compute.value, compute, warn
    if compute == DType.FP4:
        return "fp4", compute, warn
    if compute == DType.FP8 and weight in (DType.FP4, DType.MXFP4):
        # FP4 weights on an FP8 chip: weight-only 4-bit kernels (e.g. Marlin / Triton MXFP4)
        return "w4a16", DType.BF16, warn
    return _WEIGHT_ONLY.get(weight, "bf16"), compute, warn


def layer_weight_dtypes(model: ModelSpec, weight: DType) -> tuple[DType, DType]:
    """(non-expert linear dtype, expert dtype).  MXFP4 checkpoints (gpt-oss)
    quantise only the MoE experts; attention stays BF16 (config
    ``modules_to_not_convert``).  Other formats cover every linear layer."""
    if weight == DType.MXFP4 and model.is_moe:
        return DType.BF16, weight
    return weight, weight


# storage format -> the kernel model's dtype key (it resolves the kernel variant the chip runs)
_STORAGE_KEY = {DType.BF16: "bf16", DType.FP16: "bf16", DType.FP32: "bf16", DType.FP8: "fp8", DType.INT8: "int8",
                DType.INT4: "int4", DType.FP4: "fp4", DType.MXFP4: "mxfp4"}


def precision_for(model: ModelSpec, acc: Accelerator | None, weight: DType, kv: DType
                  ) -> tuple[Precision, DType, list[str]]:
    """Storage formats (kernel dtype keys) and byte widths of the linear layers, experts
    and KV cache, the compute dtype of the bulk of the weights, and fallback warnings.
    The kernel model picks the kernel a chip runs for a format (weight-only kernels where
    the chip lacks the tensor format); without an accelerator the formats are native."""
    lin, exp = layer_weight_dtypes(model, weight)
    warnings: list[str] = []
    if acc is None:
        compute = weight
    else:
        lin_c, w1 = compute_dtype_for(acc, lin)
        exp_c, w2 = compute_dtype_for(acc, exp)
        compute = exp_c if model.is_moe else lin_c
        warnings += [w for w in (w1, w2) if w]
    kv_key = "fp8" if kv == DType.FP8 else "bf16"
    return (Precision(lin=_STORAGE_KEY[lin], exp=_STORAGE_KEY[exp], kv=kv_key, lin_bytes=lin.bytes,
                      exp_bytes=exp.bytes, kv_bytes=kv.bytes), compute, list(dict.fromkeys(warnings)))


def _peaks(acc: Accelerator) -> dict[str, float]:
    """Dense FLOP/s per storage key: the tensor peak the format computes at on this chip
    (16-bit math for weight-only kernels where the chip lacks the format)."""
    bf16 = acc.peak_flops(DType.BF16)
    if not bf16:
        return {}
    fp8, int8, fp4 = (acc.peak_flops(d) for d in (DType.FP8, DType.INT8, DType.FP4))
    return {"bf16": bf16, "fp8": fp8 or bf16, "int8": int8 or fp8 or bf16, "fp4": fp4 or bf16,
            "mxfp4": fp4 or bf16, "int4": bf16}


def hw_params(acc: Accelerator, *, scaleout_bw: float, node_size: int | None = None
              ) -> tuple[HwParams, list[str]]:
    """Resolve an :class:`Accelerator` (in a server with ``scaleout_bw`` per GPU) into :class:`HwParams`."""
    warnings: list[str] = []
    memory, mem_bw = acc.memory_bytes, acc.mem_bw      # raise MissingSpec naming the field first
    kind = link_kind(acc)
    try:
        link_bw = acc.scaleup_bw_unidir
    except MissingSpec:
        link_bw = 32e9  # PCIe Gen4 x16 one direction: the floor any server has
        warnings.append(f"{acc.id}: scale-up bandwidth not published; assuming PCIe Gen4 x16 (32 GB/s)")
    domain = node_size or acc.scaleup_domain or 8
    peaks = _peaks(acc)
    if not peaks:
        raise MissingSpec(f"{acc.id} has no published tensor throughput; cannot predict", field="bf16_tflops")
    return HwParams(
        name=acc.id, memory=memory, mem_bw=mem_bw, peaks=peaks, link_bw=link_bw,
        link_latency_s=_LINK_LATENCY[kind], scaleout_bw=scaleout_bw, scaleout_latency_s=_SCALEOUT_LATENCY,
        node_size=int(domain), family=acc.family,
    ), warnings


__all__ = ["HwParams", "compute_dtype_for", "hw_params", "kernel_dtype", "layer_weight_dtypes", "link_kind",
           "precision_for"]
