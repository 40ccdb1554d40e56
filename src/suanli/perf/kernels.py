"""Op times from measured kernels (pure, vectorised).

``kernel_model(tables, chip, backend)`` resolves, once, where each op kind's time comes
from on ``chip`` and returns a :class:`KernelModel` whose methods map shapes (floats or
numpy arrays of any broadcastable shape) to seconds:

* ``measured-kernels:<system>/<backend>`` -- the chip is one the tables were measured on:
  time = t_roofline(system) / efficiency(shape), the efficiency interpolated (log-linear in
  log2 shape features) on that system's surface.  At a grid node this reproduces the
  stored measurement.
* ``transferred:<system>`` -- no table for this chip: the nearest measured system of the
  same vendor (same architecture first, then the smallest distance in ridge point and
  memory bandwidth, see :func:`nearest_system`) and the transfer rule chosen by the
  leave-one-system-out evaluation (``tools/kernel_transfer_report.py``):

  - rule ``A`` (same efficiency at the same shape): t = t_roof(chip) / eff_src(shape);
  - rule ``C`` (fixed floor + roofline-scaled work): t = t0 + (t_src(shape) - t0) *
    t_roof(chip) / t_roof(src), where t0 is the source table's latency floor (launch and
    synchronisation cost that does not scale with FLOP/s or bandwidth).

* ``roofline-prior`` -- no NVIDIA-like table applies (Ascend, AMD, ...): t = t0 +
  max(FLOPs / (peak * e_c), bytes / (bw * e_m)) with the stated prior efficiencies of
  ``tables.priors`` (medians of the measured tables) and a wide uncertainty.

Zero work gives zero time.  Each plan carries ``rel_sigma``: the 1-sigma relative
uncertainty of the op time on this chip (in-sample interpolation error, leave-one-out
transfer error of the op kind, or the prior's spread).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from suanli.errors import InvalidInput
from suanli.perf.kernel_grid import Grid
from suanli.perf.kernel_ops import (
    ALIASES, ARGS, COMM_KINDS, FEATURE_FN, KINDS, REQUIRES, WORK, compute_key,
)
from suanli.specs.kernels import KernelTables, Surface, SystemInfo, backend_order

NVIDIA_ARCHS = frozenset({"ampere", "ada", "hopper", "blackwell", "blackwell-gddr"})
PRIMARY_VARIANT: Mapping[str, str] = MappingProxyType({
    "gemm": "bf16", "moe": "bf16", "attn_prefill": "bf16", "attn_decode": "bf16",
    "mla_prefill": "bf16", "mla_decode": "bf16", "allreduce": "graph", "alltoall": "low_latency",
})
# Fallbacks when the tables carry no transfer/prior statistics (documented defaults).
DEFAULT_SIGMA = {"measured": 0.10, "transferred": 0.25, "roofline-prior": 0.6}
ARCH_MISMATCH = 2.0   # distance added when the source architecture differs


@dataclass(frozen=True, kw_only=True)
class ChipPhysics:
    """What the kernel model needs to know about an accelerator (SI units).

    ``peak_flops``: dense FLOP/s per compute key ('bf16', 'fp8', 'fp4', 'int8');
    ``mem_bw``: bytes/s; ``link_bw``: scale-up bandwidth per GPU, one direction, bytes/s;
    ``arch``: 'ampere' | 'ada' | 'hopper' | 'blackwell' | 'blackwell-gddr' | 'cdna3' |
    'ascend' | ...; ``vendor``: lower-case vendor name ('' = infer from ``arch``)."""

    id: str
    arch: str = ""
    peak_flops: Mapping[str, float] = field(default_factory=dict)
    mem_bw: float
    sm_count: int | None = None
    clock_mhz: float | None = None
    link_bw: float = 0.0
    vendor: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "peak_flops", MappingProxyType(dict(self.peak_flops)))

    def peak(self, key: str) -> float:
        """Peak FLOP/s for a compute key; 16-bit when the chip has no such tensor format."""
        value = self.peak_flops.get(key) or self.peak_flops.get("bf16")
        if not value:
            raise InvalidInput(f"{self.id}: no tensor throughput for {key} or bf16", field="peak_flops")
        return float(value)

    @property
    def nvidia_like(self) -> bool:
        return self.arch in NVIDIA_ARCHS or (not self.arch and self.vendor == "nvidia")


def physics_of(system: SystemInfo) -> ChipPhysics:
    """The physics a kernel table was normalised with (its system's stated peaks)."""
    return ChipPhysics(id=system.name, arch=system.arch, peak_flops=system.peak_flops,
                       mem_bw=system.mem_bw, link_bw=system.link_bw, sm_count=system.sm_count,
                       clock_mhz=system.clock_mhz, vendor=system.vendor)


def _ridge(phys: ChipPhysics, key: str) -> float:
    return phys.peak(key) / phys.mem_bw


def system_distance(src: ChipPhysics, chip: ChipPhysics, key: str = "bf16") -> float:
    """How far a measured system is from a chip: architecture mismatch (2.0), then
    |log2 ratio| of ridge points (FLOP per byte at the compute key) plus half the
    |log2 ratio| of memory bandwidths."""
    d = 0.0 if src.arch == chip.arch else ARCH_MISMATCH
    d += abs(math.log2(_ridge(src, key) / _ridge(chip, key)))
    d += 0.5 * abs(math.log2(src.mem_bw / chip.mem_bw))
    return d


def nearest_system(tables: KernelTables, chip: ChipPhysics, kind: str, variant: str,
                   exclude: frozenset[str] = frozenset()) -> str | None:
    """The measured system with a (kind, variant) surface closest to ``chip``."""
    key = compute_key(kind, variant)
    best: tuple[float, str] | None = None
    for name in tables.systems_with(kind, variant):
        if name in exclude or name == chip.id:
            continue
        src = physics_of(tables.systems[name])
        if not (src.arch == chip.arch or (chip.nvidia_like and src.nvidia_like)):
            continue  # never across vendors
        if kind in COMM_KINDS and (src.link_bw <= 0 or chip.link_bw <= 0):
            continue
        dist = system_distance(src, chip, key)
        if kind in COMM_KINDS:   # collectives: the fabric matters, not the ridge point
            dist = (0.0 if src.arch == chip.arch else ARCH_MISMATCH) + \
                abs(math.log2(src.link_bw / chip.link_bw))
        if best is None or (dist, name) < best:
            best = (dist, name)
    return best[1] if best else None


@dataclass(frozen=True, kw_only=True)
class OpPlan:
    """How one (op kind, variant) is timed on one chip; everything precomputed."""

    kind: str
    variant: str
    basis: str
    rule: str                      # 'measured' | 'A' | 'C' | 'prior'
    rel_sigma: float
    grid: Grid | None = None
    surface: Surface | None = None
    src_peak: float = 0.0
    src_bw: float = 0.0
    src_link: float = 0.0
    peak: float = 0.0
    bw: float = 0.0
    link: float = 0.0
    t0: float = 0.0
    prior_compute: float = 1.0
    prior_memory: float = 1.0

    def time(self, args: tuple[Any, ...], shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Seconds for positional arguments (as in ARGS) broadcastable to ``shape``
        (default: the broadcast shape of the arguments)."""
        if shape is None:
            shape = np.broadcast_shapes(*(np.shape(a) for a in args))
        flops, nbytes = WORK[self.kind](self.variant, *args)
        if self.kind in COMM_KINDS:
            roof = nbytes / self.link
        else:
            roof = np.maximum(flops / self.peak, nbytes / self.bw)
        if self.grid is None:   # roofline prior
            if self.kind in COMM_KINDS:
                t = self.t0 + nbytes / (self.link * self.prior_memory)
            else:
                t = self.t0 + np.maximum(flops / (self.peak * self.prior_compute),
                                         nbytes / (self.bw * self.prior_memory))
        else:
            inv_eff = np.exp2(-self.grid(FEATURE_FN[self.kind](*args), shape))
            if self.rule in ("measured", "A"):
                t = roof * inv_eff
            else:               # rule C
                if self.kind in COMM_KINDS:
                    roof_src = nbytes / self.src_link
                else:
                    roof_src = np.maximum(flops / self.src_peak, nbytes / self.src_bw)
                t_src = roof_src * inv_eff
                scale = np.divide(roof, roof_src, out=np.ones_like(roof), where=roof_src > 0)
                t = self.t0 + np.maximum(t_src - self.t0, 0.0) * scale
        t = np.where(roof > 0, t, 0.0)
        return t if t.shape == shape else np.broadcast_to(t, shape).copy()


class KernelModel:
    """Op times on one chip for one serving backend (see the module docstring).

    Methods take floats or arrays (broadcast together) and return seconds as an ndarray
    of the broadcast shape.  ``dtype`` names: see ``suanli.perf.kernel_ops.ALIASES``.
    """

    def __init__(self, chip: ChipPhysics, backend: str,
                 plans: Mapping[str, Mapping[str, OpPlan]]) -> None:
        self.chip = chip
        self.backend = backend
        self._plans = plans
        basis: dict[str, str] = {}
        for kind, by_alias in plans.items():
            primary = by_alias.get(PRIMARY_VARIANT[kind]) or next(iter(by_alias.values()))
            basis[kind] = primary.basis
            for plan in {id(p): p for p in by_alias.values()}.values():
                basis[f"{kind}:{plan.variant}"] = plan.basis
        self.basis: Mapping[str, str] = MappingProxyType(basis)

    # --- introspection -------------------------------------------------------------------
    def plan(self, kind: str, dtype: str | None = None) -> OpPlan:
        by_alias = self._plans.get(kind)
        if by_alias is None:
            raise InvalidInput(f"unknown op kind {kind!r} (one of {', '.join(KINDS)})", field="kind")
        name = (dtype or PRIMARY_VARIANT[kind]).strip().lower()
        plan = by_alias.get(name)
        if plan is None:
            raise InvalidInput(f"{kind}: unknown dtype {dtype!r} (one of {', '.join(sorted(by_alias))})",
                               field="dtype")
        return plan

    def rel_sigma(self, kind: str, dtype: str | None = None) -> float:
        """1-sigma relative uncertainty of this op kind's time on this chip."""
        return self.plan(kind, dtype).rel_sigma

    def _run(self, kind: str, dtype: str | None, args: tuple[Any, ...]) -> np.ndarray:
        plan = self.plan(kind, dtype)
        arrays = tuple(np.asarray(a, dtype=float) for a in args)
        return plan.time(arrays, np.broadcast_shapes(*(a.shape for a in arrays)))

    # --- op kinds --------------------------------------------------------------------------
    def gemm(self, m: Any, n: Any, k: Any, dtype: str = "bf16") -> np.ndarray:
        """C[m,n] = A[m,k] B[k,n]; m = tokens, B = weights."""
        return self._run("gemm", dtype, (m, n, k))

    def moe(self, tokens: Any, hidden: Any, inter: Any, topk: Any, num_experts: Any,
            moe_tp: Any, moe_ep: Any, dtype: str = "bf16") -> np.ndarray:
        """Routed-expert compute of one MoE layer on one GPU; ``tokens`` enter the layer on
        the whole moe_tp x moe_ep group (balanced routing)."""
        return self._run("moe", dtype, (tokens, hidden, inter, topk, num_experts, moe_tp, moe_ep))

    def attn_prefill(self, batch: Any, isl: Any, num_heads: Any, num_kv_heads: Any,
                     head_dim: Any, kv_dtype: str = "bf16", prefix: Any = 0) -> np.ndarray:
        """Causal prefill attention core per GPU (heads already divided by TP)."""
        return self._run("attn_prefill", kv_dtype,
                         (batch, isl, num_heads, num_kv_heads, head_dim, prefix))

    def attn_decode(self, batch: Any, ctx: Any, num_heads: Any, num_kv_heads: Any,
                    head_dim: Any, kv_dtype: str = "bf16") -> np.ndarray:
        return self._run("attn_decode", kv_dtype, (batch, ctx, num_heads, num_kv_heads, head_dim))

    def mla_prefill(self, batch: Any, isl: Any, num_heads: Any, kv_dtype: str = "bf16",
                    prefix: Any = 0) -> np.ndarray:
        return self._run("mla_prefill", kv_dtype, (batch, isl, num_heads, prefix))

    def mla_decode(self, batch: Any, ctx: Any, num_heads: Any, kv_dtype: str = "bf16") -> np.ndarray:
        return self._run("mla_decode", kv_dtype, (batch, ctx, num_heads))

    def allreduce(self, nbytes: Any, n: Any, impl: str = "graph") -> np.ndarray:
        """All-reduce of an ``nbytes`` buffer over ``n`` GPUs of one scale-up domain;
        ``impl`` 'graph' (the engine's custom all-reduce, CUDA-graph mode) or 'nccl'."""
        return self._run("allreduce", impl, (nbytes, n))

    def alltoall(self, nbytes_per_rank: Any, n: Any, mode: str = "low_latency") -> np.ndarray:
        """One all-to-all phase (MoE dispatch or combine) inside one scale-up domain;
        ``nbytes_per_rank`` counts every (token, expert) copy a rank sends;
        ``mode`` 'low_latency' | 'normal' (DeepEP) | 'nccl'."""
        return self._run("alltoall", mode, (nbytes_per_rank, n))

    def __repr__(self) -> str:
        return f"KernelModel({self.chip.id!r}, backend={self.backend!r})"


# --- building plans ---------------------------------------------------------------------------

def _sigma(tables: KernelTables, rule: str, kind: str) -> float:
    if rule == "measured":
        value = tables.transfer.get("in_sample_sigma", {}).get(kind)
        return float(value) if value else DEFAULT_SIGMA["measured"]
    if rule == "prior":
        value = tables.priors.get(kind, {}).get("sigma")
        return float(value) if value else DEFAULT_SIGMA["roofline-prior"]
    value = tables.transfer.get("sigma", {}).get(kind)
    return float(value) if value else DEFAULT_SIGMA["transferred"]


def _usable(chip: ChipPhysics, kind: str, variant: str) -> bool:
    if kind not in ("gemm", "moe"):
        return True
    needs = {compute_key(kind, variant), REQUIRES.get(variant, "bf16")}
    return all(chip.peak_flops.get(k) for k in needs)


def _measured_plan(tables: KernelTables, chip: ChipPhysics, surf: Surface) -> OpPlan:
    src = physics_of(tables.systems[surf.system])
    key = compute_key(surf.kind, surf.variant)
    return OpPlan(kind=surf.kind, variant=surf.variant, rule="measured",
                  basis=f"measured-kernels:{surf.system}/{surf.backend}",
                  rel_sigma=_sigma(tables, "measured", surf.kind),
                  grid=Grid(surf.axes, surf.values), surface=surf,
                  src_peak=src.peak(key), src_bw=src.mem_bw, src_link=src.link_bw,
                  peak=src.peak(key), bw=src.mem_bw, link=src.link_bw or chip.link_bw, t0=surf.t0)


def _transfer_plan(tables: KernelTables, chip: ChipPhysics, surf: Surface, rule: str) -> OpPlan:
    src = physics_of(tables.systems[surf.system])
    key = compute_key(surf.kind, surf.variant)
    return OpPlan(kind=surf.kind, variant=surf.variant, rule=rule,
                  basis=f"transferred:{surf.system}", rel_sigma=_sigma(tables, "transfer", surf.kind),
                  grid=Grid(surf.axes, surf.values), surface=surf,
                  src_peak=src.peak(key), src_bw=src.mem_bw, src_link=src.link_bw,
                  peak=chip.peak(key), bw=chip.mem_bw, link=chip.link_bw, t0=surf.t0)


def _prior_plan(tables: KernelTables, chip: ChipPhysics, kind: str, variant: str) -> OpPlan:
    prior = tables.priors.get(kind, {})
    key = compute_key(kind, variant)
    link = chip.link_bw if chip.link_bw > 0 else 32e9  # PCIe Gen4 x16, one direction
    return OpPlan(kind=kind, variant=variant, rule="prior", basis="roofline-prior",
                  rel_sigma=_sigma(tables, "prior", kind), peak=chip.peak(key), bw=chip.mem_bw,
                  link=link, t0=float(prior.get("t0", 5e-6)),
                  prior_compute=float(prior.get("compute_eff", 0.6)),
                  prior_memory=float(prior.get("memory_eff", 0.7)))


def plan_for(tables: KernelTables, chip: ChipPhysics, backend: str, kind: str,
             variants: tuple[str, ...], *, rule: str | None = None) -> OpPlan:
    """Choose the table (or prior) timing ``kind`` for the first usable variant."""
    order = backend_order(backend)
    usable = [v for v in variants if _usable(chip, kind, v)] or [variants[-1]]
    own = tables.chip_system.get(chip.id) or (chip.id if chip.id in tables.systems else "")
    if own:
        for variant in usable:
            surf = tables.find(kind, own, variant, order)
            if surf is not None:
                return _measured_plan(tables, chip, surf)
    if chip.nvidia_like or any(s.arch == chip.arch for s in tables.systems.values()):
        chosen = rule or str(tables.transfer.get("rule", {}).get(kind, "C"))
        for variant in usable:
            name = nearest_system(tables, chip, kind, variant, exclude=frozenset({own}))
            if name is not None:
                surf = tables.find(kind, name, variant, order)
                if surf is not None:
                    return _transfer_plan(tables, chip, surf, chosen)
    return _prior_plan(tables, chip, kind, usable[0])


def kernel_model(tables: KernelTables, chip: ChipPhysics, backend: str, *,
                 rule: str | None = None) -> KernelModel:
    """Resolve every op kind and dtype alias for ``chip`` under serving engine ``backend``
    ('vllm', 'sglang', 'trtllm', 'mindie', 'other').  Takes a few ms: cache the result.
    ``rule`` forces a transfer rule ('A' or 'C'; default: the one chosen per op kind by the
    leave-one-system-out evaluation stored in the tables)."""
    plans: dict[str, dict[str, OpPlan]] = {}
    for kind in KINDS:
        by_variants: dict[tuple[str, ...], OpPlan] = {}
        by_alias: dict[str, OpPlan] = {}
        for alias, variants in ALIASES[kind].items():
            if variants not in by_variants:
                by_variants[variants] = plan_for(tables, chip, backend, kind, variants, rule=rule)
            by_alias[alias] = by_variants[variants]
        plans[kind] = by_alias
    return KernelModel(chip, backend, plans)


__all__ = ["ARGS", "ChipPhysics", "KernelModel", "OpPlan", "kernel_model", "nearest_system",
           "physics_of", "plan_for", "system_distance"]
