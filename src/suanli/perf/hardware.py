"""Flat numeric view of an accelerator (+ its server) for the performance model,
with precision fallbacks resolved the way serving engines resolve them."""

from __future__ import annotations

from dataclasses import dataclass

from suanli.errors import MissingSpec
from suanli.specs.accelerator import Accelerator
from suanli.specs.dtypes import DType

# Compute-precision fallbacks when the chip has no tensor throughput for the
# weight format: engines run weight-only kernels (vLLM Marlin FP8/FP4 on
# Ampere, W4A16 everywhere) that dequantise to 16-bit and multiply in BF16.
_FALLBACK = {
    DType.FP8: (DType.BF16,),
    DType.INT8: (DType.BF16,),
    DType.FP4: (DType.FP8, DType.BF16),
    DType.MXFP4: (DType.FP8, DType.BF16),
}


@dataclass(frozen=True, kw_only=True)
class HwParams:
    """SI numbers the step-time model needs (per accelerator)."""

    name: str
    memory: float            # bytes
    mem_bw: float            # bytes/s
    peak_gemm: float         # FLOP/s for the linear layers at the compute dtype
    peak_attn: float         # FLOP/s for attention (16-bit tensor cores)
    link_bw: float           # bytes/s, one direction, per accelerator, scale-up
    link_latency_s: float    # per-hop latency of the scale-up fabric
    scaleout_bw: float       # bytes/s, one direction, per accelerator, across nodes
    scaleout_latency_s: float
    node_size: int           # accelerators reachable over the scale-up link
    compute_dtype: DType


# Per-collective latencies by fabric (alpha term).  NCCL all-reduce of small
# messages on 8xH100 NVLink takes ~10-20 us (NCCL tests, nccl-tests README
# figures); PCIe through the host bridge ~2x that; RDMA across nodes adds the
# NIC round trip (~5 us IB, more for RoCE).  The calibrated comm_latency_s
# scales these.
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


def hw_params(acc: Accelerator, weight: DType, *, scaleout_bw: float, node_size: int | None = None
              ) -> tuple[HwParams, list[str]]:
    """Resolve an :class:`Accelerator` into :class:`HwParams` for a weight format."""
    warnings: list[str] = []
    cdt, warn = compute_dtype_for(acc, weight)
    if warn:
        warnings.append(warn)
    attn = acc.peak_flops(DType.BF16) or acc.peak_flops(cdt)
    kind = link_kind(acc)
    try:
        link_bw = acc.scaleup_bw_unidir
    except MissingSpec:
        link_bw = 32e9  # PCIe Gen4 x16 one direction: the floor any server has
        warnings.append(f"{acc.id}: scale-up bandwidth not published; assuming PCIe Gen4 x16 (32 GB/s)")
    domain = node_size or acc.scaleup_domain or 8
    return HwParams(
        name=acc.id, memory=acc.memory_bytes, mem_bw=acc.mem_bw, peak_gemm=float(acc.peak_flops(cdt) or 0.0),
        peak_attn=float(attn or 0.0), link_bw=link_bw, link_latency_s=_LINK_LATENCY[kind],
        scaleout_bw=scaleout_bw, scaleout_latency_s=_SCALEOUT_LATENCY, node_size=int(domain),
        compute_dtype=cdt,
    ), warnings
