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
  memory bandwidth, preferring the engine's own backend; see :func:`nearest_surface`) and
  the transfer rule chosen by the
  leave-one-system-out evaluation (``tools/kernel_transfer_report.py``):

  - rule ``A`` (same efficiency at the same shape): t = t_roof(chip) / eff_src(shape);
  - rule ``B`` (roofline part + excess): above t0, the part of the source time its
    roofline explains scales with the target's roofline (peak ratio for tensor time,
    bandwidth ratio for memory time), and the excess beyond it with the SM-throughput
    ratio (SM count x clock) and bandwidth ratio in proportion to the shape's compute and
    memory terms -- a chip with throttled tensor cores (H20) keeps its SMs;
  - rule ``C`` (fixed floor + roofline-scaled work): t = t0 + (t_src(shape) - t0) *
    t_roof(chip) / t_roof(src), where t0 is the source table's latency floor (launch and
    synchronisation cost that does not scale with FLOP/s or bandwidth), capped at t_src.

* ``roofline-prior`` -- no NVIDIA-like table applies (Ascend, AMD, ...): t = t0 +
  max(FLOPs / (peak * e_c), bytes / (bw * e_m)) with the stated prior efficiencies of
  ``tables.priors`` (medians of the measured tables) and a wide uncertainty.

Zero work (no FLOPs; for collectives no bytes on the link) gives zero time.  Each plan carries ``rel_sigma``: the 1-sigma relative
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

from suanli.errors import InvalidInput, MissingSpec
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
# Architecture distance: one generation step along the datacenter HBM line (Ampere ->
# Hopper -> Blackwell) or the GDDR/PCIe line (Ada -> Blackwell GDDR) is 1; crossing lines
# adds 0.5.  Weighted x2 in system_distance, so architecture dominates ridge and bandwidth.
ARCH_STEPS: Mapping[frozenset[str], float] = MappingProxyType({
    frozenset({"ampere", "hopper"}): 1.0, frozenset({"hopper", "blackwell"}): 1.0,
    frozenset({"ampere", "blackwell"}): 2.0, frozenset({"ada", "blackwell-gddr"}): 1.0,
    frozenset({"ampere", "ada"}): 1.5, frozenset({"ada", "hopper"}): 1.5,
    frozenset({"blackwell", "blackwell-gddr"}): 1.5, frozenset({"hopper", "blackwell-gddr"}): 2.0,
    frozenset({"ada", "blackwell"}): 2.0, frozenset({"ampere", "blackwell-gddr"}): 2.5,
})
ARCH_WEIGHT = 2.0
UNKNOWN_ARCH_STEPS = 3.0
BACKEND_PENALTY = 1.0   # per step down the engine's backend order (same kernels first)
SPARSE_PENALTY = 2.0    # a surface from fewer than MIN_ROWS rows is mostly filled, not measured
MIN_ROWS = 1000
# Roofline prior for an op kind without any table (index.json ``priors`` overrides per kind):
# the NVIDIA tables' median achieved fractions of peak and bandwidth, and a launch floor.
PRIOR_COMPUTE_EFF = 0.6
PRIOR_MEMORY_EFF = 0.7
PRIOR_T0_S = 5e-6


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
            also = "" if key == "bf16" else " (nor bf16 to fall back on)"
            raise MissingSpec(f"{self.id}: no published {key} tensor throughput{also}; supply it "
                              "in a user hardware file", field=f"{key}_tflops")
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


def arch_steps(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return ARCH_STEPS.get(frozenset({a, b}), UNKNOWN_ARCH_STEPS)


def sm_ratio(src: ChipPhysics, chip: ChipPhysics) -> float | None:
    """How much slower the chip runs SM-bound (non-tensor-core) work than the source:
    SM count x boost clock; clocks count as equal when either is unknown."""
    if not (src.sm_count and chip.sm_count):
        return None
    ratio = src.sm_count / chip.sm_count
    if src.clock_mhz and chip.clock_mhz:
        ratio *= src.clock_mhz / chip.clock_mhz
    return ratio


def system_distance(src: ChipPhysics, chip: ChipPhysics, key: str = "bf16") -> float:
    """How far a measured system is from a chip: 2 x architecture steps (ARCH_STEPS), then
    |log2 ratio| of ridge points (FLOP per byte at the compute key) plus half the
    |log2 ratio| of memory bandwidths."""
    d = ARCH_WEIGHT * arch_steps(src.arch, chip.arch)
    d += abs(math.log2(_ridge(src, key) / _ridge(chip, key)))
    d += 0.5 * abs(math.log2(src.mem_bw / chip.mem_bw))
    return d


def _compatible(src: ChipPhysics, chip: ChipPhysics) -> bool:
    """Transfers stay within a vendor: NVIDIA-like chips from NVIDIA systems, any other
    architecture only from systems of that very architecture."""
    return src.arch == chip.arch or (chip.nvidia_like and src.nvidia_like)


def nearest_surface(tables: KernelTables, chip: ChipPhysics, kind: str, variant: str,
                    backends: tuple[str, ...], exclude: frozenset[str] = frozenset()
                    ) -> Surface | None:
    """The source surface for a chip without its own table: the (system, backend) with the
    least ``system_distance + BACKEND_PENALTY x rank of the backend in the engine's order``,
    plus SPARSE_PENALTY for a surface built from fewer than MIN_ROWS rows (its grid is
    mostly filled, not measured).  Collectives rank systems by link bandwidth instead of
    ridge point."""
    key = compute_key(kind, variant)
    best: tuple[float, str, str] | None = None
    for (k, name, backend, v), surf in tables.surfaces.items():
        if k != kind or v != variant or name in exclude or name == chip.id or backend not in backends:
            continue
        src = physics_of(tables.systems[name])
        if not _compatible(src, chip):
            continue
        if kind in COMM_KINDS:
            if src.link_bw <= 0 or chip.link_bw <= 0:
                continue
            dist = ARCH_WEIGHT * arch_steps(src.arch, chip.arch) + abs(math.log2(src.link_bw / chip.link_bw))
        else:
            dist = system_distance(src, chip, key)
        dist += BACKEND_PENALTY * backends.index(backend)
        dist += SPARSE_PENALTY if surf.n_rows < MIN_ROWS else 0.0
        if best is None or (dist, name, backend) < best:
            best = (dist, name, backend)
    return tables.surfaces[(kind, best[1], best[2], variant)] if best else None


def own_surface(tables: KernelTables, system: str, kind: str, variant: str,
                backends: tuple[str, ...]) -> Surface | None:
    """A measured system's surface: the first backend in the engine's order, skipping a
    sparse one (< MIN_ROWS rows) when another backend of the system has a full table."""
    found = [s for b in backends if (s := tables.surfaces.get((kind, system, b, variant)))]
    full = [s for s in found if s.n_rows >= MIN_ROWS]
    pick = full or found
    return pick[0] if pick else None


@dataclass(frozen=True, kw_only=True)
class OpPlan:
    """How one (op kind, variant) is timed on one chip; everything precomputed."""

    kind: str
    variant: str
    basis: str
    rule: str                      # 'measured' | 'A' | 'B' | 'C' | 'prior'
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
    sm_ratio: float | None = None  # rule B: source/chip SM throughput (None: use peak ratio)
    prior_compute: float = 1.0
    prior_memory: float = 1.0
    src_variant: str = ""          # rule B from another format's table of the same chip

    def time(self, args: tuple[Any, ...], shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Seconds for positional arguments (as in ARGS) broadcastable to ``shape``
        (default: the broadcast shape of the arguments)."""
        if shape is None:
            shape = np.broadcast_shapes(*(np.shape(a) for a in args))
        flops, nbytes = WORK[self.kind](self.variant, *args)
        src_work = WORK[self.kind](self.src_variant, *args) if self.src_variant else (flops, nbytes)
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
            elif self.rule == "B" and self.kind not in COMM_KINDS:
                t = self._rule_b(src_work[0], src_work[1], flops / self.peak, nbytes / self.bw, inv_eff)
            else:               # rule C (and B for collectives)
                if self.kind in COMM_KINDS:
                    roof_src = nbytes / self.src_link
                else:
                    roof_src = np.maximum(flops / self.src_peak, nbytes / self.src_bw)
                t_src = roof_src * inv_eff
                floor = np.minimum(self.t0, t_src)
                scale = np.divide(roof, roof_src, out=np.ones_like(roof), where=roof_src > 0)
                t = floor + (t_src - floor) * scale
        # no FLOPs (no tokens, no context) or no bytes on the link: the op does not run
        t = np.where((nbytes if self.kind in COMM_KINDS else flops) > 0, t, 0.0)
        return t if t.shape == shape else np.broadcast_to(t, shape).copy()


    def _rule_b(self, flops: np.ndarray, nbytes: np.ndarray, tc_t: np.ndarray, tm_t: np.ndarray,
                inv_eff: np.ndarray) -> np.ndarray:
        """Rule B: above the latency floor, the part of the source time its roofline explains
        scales with the target's roofline (``tc_t`` tensor time at the target's peak, ``tm_t``
        memory time at its bandwidth -- a max of the two, continuous and monotone in the
        shape), and the excess beyond the roofline (non-tensor SM work, pipeline bubbles)
        scales with the SM-throughput ratio (SM count x clock) and the memory-time ratio in
        proportion to the shape's compute and memory terms.  A chip with throttled tensor
        cores (H20) keeps its SMs: only its tensor-bound time grows.  ``flops`` / ``nbytes``
        are the op's work in the source table's format (another format of the same chip
        when ``src_variant`` is set)."""
        tc = flops / self.src_peak
        tm = nbytes / self.src_bw
        roof_src = np.maximum(tc, tm)
        t_src = roof_src * inv_eff
        floor = np.minimum(self.t0, t_src)      # the latency floor stays (never above t_src)
        work = t_src - floor
        core = np.minimum(work, roof_src)
        excess = work - core
        r_sm = self.sm_ratio if self.sm_ratio is not None else self.src_peak / self.peak
        r_mem = np.divide(tm_t, tm, out=np.ones_like(tm), where=tm > 0)
        r_core = np.maximum(tc_t, tm_t) / np.maximum(roof_src, 1e-300)
        r_excess = (tm * r_mem + tc * r_sm) / np.maximum(tm + tc, 1e-300)
        return floor + core * r_core + excess * r_excess


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

    def extrapolated(self, kind: str, *args: Any, dtype: str | None = None) -> np.ndarray:
        """True where a shape (positional arguments as the op method takes them) lies
        outside the stored grid of its table, i.e. the efficiency was clamped to the edge
        value (always True for a roofline prior)."""
        plan = self.plan(kind, dtype)
        arrays = tuple(np.asarray(a, dtype=float) for a in args)
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        if plan.grid is None:
            return np.ones(shape, dtype=bool)
        return np.broadcast_to(~plan.grid.inside(FEATURE_FN[kind](*arrays)), shape).copy()

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

def _sigma(tables: KernelTables, rule: str, kind: str, same_arch: bool = True) -> float:
    """1-sigma relative error: in-sample (measured), leave-one-system-out for a source of
    the same / another architecture (transferred), the prior's stated spread (prior)."""
    if rule == "measured":
        value = tables.transfer.get("in_sample_sigma", {}).get(kind)
        return float(value) if value else DEFAULT_SIGMA["measured"]
    if rule == "prior":
        value = tables.priors.get(kind, {}).get("sigma")
        return float(value) if value else DEFAULT_SIGMA["roofline-prior"]
    entry = tables.transfer.get("sigma", {}).get(kind)
    if isinstance(entry, Mapping):
        entry = entry.get("same_arch" if same_arch else "cross_arch") or entry.get("all")
    return float(entry) if entry else DEFAULT_SIGMA["transferred"]


def _usable(chip: ChipPhysics, kind: str, variant: str) -> bool:
    if kind not in ("gemm", "moe"):
        return True
    needs = {compute_key(kind, variant), REQUIRES.get(variant, "bf16")}
    return all(chip.peak_flops.get(k) for k in needs)


def measured_plan(tables: KernelTables, chip: ChipPhysics, surf: Surface) -> OpPlan:
    """Time an op on the system its surface was measured on (the system's own physics)."""
    src = physics_of(tables.systems[surf.system])
    key = compute_key(surf.kind, surf.variant)
    return OpPlan(kind=surf.kind, variant=surf.variant, rule="measured",
                  basis=f"measured-kernels:{surf.system}/{surf.backend}",
                  rel_sigma=_sigma(tables, "measured", surf.kind),
                  grid=Grid(surf.axes, surf.values), surface=surf,
                  src_peak=src.peak(key), src_bw=src.mem_bw, src_link=src.link_bw,
                  peak=src.peak(key), bw=src.mem_bw, link=src.link_bw or chip.link_bw, t0=surf.t0)


def transfer_plan(tables: KernelTables, chip: ChipPhysics, surf: Surface, rule: str) -> OpPlan:
    """Time an op on ``chip`` from another system's surface with transfer rule A, B or C."""
    src = physics_of(tables.systems[surf.system])
    key = compute_key(surf.kind, surf.variant)
    return OpPlan(kind=surf.kind, variant=surf.variant, rule=rule,
                  basis=f"transferred:{surf.system}",
                  rel_sigma=_sigma(tables, "transfer", surf.kind, src.arch == chip.arch),
                  grid=Grid(surf.axes, surf.values), surface=surf,
                  src_peak=src.peak(key), src_bw=src.mem_bw, src_link=src.link_bw,
                  peak=chip.peak(key), bw=chip.mem_bw, link=chip.link_bw, t0=surf.t0,
                  sm_ratio=sm_ratio(src, chip))


def variant_plan(tables: KernelTables, chip: ChipPhysics, surf: Surface, variant: str) -> OpPlan:
    """Time ``variant`` on the chip its surface (of another format) was measured on: rule B
    with the source's work in the surface's format and the target's in ``variant``'s."""
    src = physics_of(tables.systems[surf.system])
    return OpPlan(kind=surf.kind, variant=variant, src_variant=surf.variant, rule="B",
                  basis=f"transferred:{surf.system}/{surf.variant}",
                  rel_sigma=_sigma(tables, "transfer", surf.kind, True),
                  grid=Grid(surf.axes, surf.values), surface=surf,
                  src_peak=src.peak(compute_key(surf.kind, surf.variant)), src_bw=src.mem_bw,
                  src_link=src.link_bw, peak=src.peak(compute_key(surf.kind, variant)), bw=src.mem_bw,
                  link=src.link_bw or chip.link_bw, t0=surf.t0, sm_ratio=1.0)


def _prior_plan(tables: KernelTables, chip: ChipPhysics, kind: str, variant: str) -> OpPlan:
    prior = tables.priors.get(kind, {})
    key = compute_key(kind, variant)
    link = chip.link_bw if chip.link_bw > 0 else 32e9  # PCIe Gen4 x16, one direction
    return OpPlan(kind=kind, variant=variant, rule="prior", basis="roofline-prior",
                  rel_sigma=_sigma(tables, "prior", kind), peak=chip.peak(key), bw=chip.mem_bw,
                  link=link, t0=float(prior.get("t0", PRIOR_T0_S)),
                  prior_compute=float(prior.get("compute_eff", PRIOR_COMPUTE_EFF)),
                  prior_memory=float(prior.get("memory_eff", PRIOR_MEMORY_EFF)))


def plan_for(tables: KernelTables, chip: ChipPhysics, backend: str, kind: str,
             variants: tuple[str, ...], *, rule: str | None = None) -> OpPlan:
    """Choose the table (or prior) timing ``kind`` for the first usable variant."""
    order = backend_order(backend)
    usable = [v for v in variants if _usable(chip, kind, v)] or [variants[-1]]
    own = tables.chip_system.get(chip.id) or (chip.id if chip.id in tables.systems else "")
    if own:
        for variant in usable:
            surf = own_surface(tables, own, kind, variant, order)
            if surf is not None:
                return measured_plan(tables, chip, surf)
        if kind in ("gemm", "moe"):
            # the chip's own table of another format (H20: measured FP8 GEMMs -> its BF16 GEMMs)
            # knows its achieved bandwidth and SM behaviour better than another chip's table
            for (k, name, backend, v), surf in sorted(tables.surfaces.items()):
                if k == kind and name == own and _usable(chip, kind, v):
                    return variant_plan(tables, chip, surf, usable[0])
    if chip.nvidia_like or any(s.arch == chip.arch for s in tables.systems.values()):
        chosen = rule or str(tables.transfer.get("rule", {}).get(kind, "B"))
        for variant in usable:
            surf = nearest_surface(tables, chip, kind, variant, order, exclude=frozenset({own}))
            if surf is not None:
                return transfer_plan(tables, chip, surf, chosen)
    return _prior_plan(tables, chip, kind, usable[0])


# Engine-specific kernel choice where it differs from the default alias order: TensorRT-LLM
# serves NVIDIA's ModelOpt checkpoints, whose FP8 MoE experts are per-tensor scaled (and its
# per-tensor FP8 MoE table is the faster one at Qwen3/Mixtral shapes); the other engines
# mostly serve block-scaled FP8 MoE checkpoints (kernel_ops.MOE_ALIASES).
BACKEND_VARIANTS: Mapping[tuple[str, str, str], tuple[str, ...]] = MappingProxyType({
    ("moe", "trtllm", "fp8"): ("fp8", "fp8_block", "int4_wo", "bf16"),
})


def kernel_model(tables: KernelTables, chip: ChipPhysics, backend: str, *,
                 rule: str | None = None) -> KernelModel:
    """Resolve every op kind and dtype alias for ``chip`` under serving engine ``backend``
    ('vllm', 'sglang', 'trtllm', 'mindie', 'other').  Takes a few ms: cache the result.
    ``rule`` forces a transfer rule ('A', 'B' or 'C'; default: the one chosen per op kind by the
    leave-one-system-out evaluation stored in the tables)."""
    plans: dict[str, dict[str, OpPlan]] = {}
    for kind in KINDS:
        by_variants: dict[tuple[str, ...], OpPlan] = {}
        by_alias: dict[str, OpPlan] = {}
        for alias, variants in ALIASES[kind].items():
            variants = BACKEND_VARIANTS.get((kind, backend, alias), variants)
            if variants not in by_variants:
                by_variants[variants] = plan_for(tables, chip, backend, kind, variants, rule=rule)
            by_alias[alias] = by_variants[variants]
        plans[kind] = by_alias
    return KernelModel(chip, backend, plans)


__all__ = ["ARGS", "ChipPhysics", "KernelModel", "OpPlan", "kernel_model", "measured_plan",
           "nearest_surface", "own_surface", "physics_of", "plan_for", "system_distance",
           "transfer_plan"]
