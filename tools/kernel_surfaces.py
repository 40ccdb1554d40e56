"""Reducing measured rows to efficiency surfaces (offline; see build_kernel_tables.py).

Each row becomes log2(t_roofline / t_measured) with the roofline of
``suanli.perf.kernel_ops``; rows are binned onto a grid over log2 shape features (median
per node), unmeasured nodes filled from their neighbours, node times made non-decreasing
along the work axes and stored as float16 without breaking that order.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from suanli.perf import kernel_ops as ops  # noqa: E402
from suanli.perf.kernels import ChipPhysics  # noqa: E402

# Grid axes per kind: ('exact', preferred node values or None) or ('bin', step in octaves).
PREF_M = [1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 160, 192, 256, 384, 512, 768, 1024, 1536,
          2048, 3072, 4096, 6144, 8192, 16384, 32768, 65536, 131072]
PREF_NK = [32, 64, 128, 256, 512, 576, 768, 1024, 1536, 2048, 3072, 4096, 6144, 7168, 8192,
           12288, 16384, 24576, 32768, 65536]
AXES: dict[str, tuple[tuple[str, Any], ...]] = {
    "gemm": (("exact", PREF_M), ("exact", PREF_NK), ("exact", PREF_NK)),
    "moe": (("bin", 1.0), ("bin", 1.0), ("bin", 1.0)),
    "attn_prefill": (("bin", 1.0), ("exact", None), ("exact", None)),
    "attn_decode": (("bin", 1.0), ("bin", 1.0), ("bin", 1.0), ("exact", [64, 128, 256])),
    "mla_prefill": (("exact", None), ("exact", None), ("exact", None)),
    "mla_decode": (("exact", None), ("bin", 1.0), ("exact", None)),
    "allreduce": (("exact", None), ("exact", None)),
    "alltoall": (("bin", 0.5), ("exact", None)),
}
MAX_EFF = 2.0
# axes along which time must not fall as the feature grows (see monotone())
MONOTONE_SKIP = {("allreduce", 1), ("alltoall", 1)}


@dataclass
class Group:
    """Measured rows of one (kind, system, backend, variant)."""

    kind: str
    system: str
    backend: str
    variant: str
    args: dict[str, np.ndarray]
    t: np.ndarray                 # seconds
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.system, self.backend, self.variant)

    def arg_tuple(self) -> tuple[np.ndarray, ...]:
        return tuple(self.args[name] for name in ops.ARGS[self.kind])


# --- grids -------------------------------------------------------------------------------

def physics(info: dict[str, Any], name: str) -> ChipPhysics:
    return ChipPhysics(id=name, arch=info.get("arch", ""), peak_flops=info["peak_flops"],
                       mem_bw=info["mem_bw"], link_bw=info.get("link_bw", 0.0),
                       vendor=info.get("vendor", ""), sm_count=info.get("sm_count"),
                       clock_mhz=info.get("clock_mhz"))


def roofline(kind: str, variant: str, args: tuple[np.ndarray, ...], phys: ChipPhysics) -> np.ndarray:
    flops, nbytes = ops.WORK[kind](variant, *args)
    link = phys.link_bw if phys.link_bw > 0 else 32e9
    return ops.roofline_time(kind, variant, flops, nbytes, peak=phys.peak(ops.compute_key(kind, variant)),
                             mem_bw=phys.mem_bw, link_bw=link)


def _nodes(spec: tuple[str, Any], x: np.ndarray) -> tuple[np.ndarray, float]:
    how, arg = spec
    if how == "bin":
        lo, hi = math.floor(x.min() / arg + 0.5), math.floor(x.max() / arg + 0.5)
        return np.arange(lo, hi + 1) * arg, arg / 2 + 1e-9
    vals = np.unique(np.round(x, 6))
    if arg is not None:
        pref = np.log2(np.asarray(arg, dtype=float))
        keep = vals[np.isin(np.round(vals, 6), np.round(pref, 6))]
        if keep.size >= 3:
            vals = keep
    return vals, 1e-3


def _fill(values: np.ndarray, known: np.ndarray, sweeps: int = 200) -> np.ndarray:
    """Fill unknown nodes: propagate known neighbours outward, then relax the unknown
    nodes towards the mean of their neighbours (discrete harmonic extension)."""
    v = np.where(known, values, 0.0)
    have = known.copy()
    d = v.ndim

    def neighbour_sum(arr: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.zeros_like(arr)
        c = np.zeros_like(arr)
        for ax in range(d):
            n = arr.shape[ax]
            if n < 2:
                continue
            lo = [slice(None)] * d
            hi = [slice(None)] * d
            lo[ax], hi[ax] = slice(0, n - 1), slice(1, n)
            s[tuple(lo)] += (arr * w)[tuple(hi)]
            c[tuple(lo)] += w[tuple(hi)]
            s[tuple(hi)] += (arr * w)[tuple(lo)]
            c[tuple(hi)] += w[tuple(lo)]
        return s, c

    while not have.all():
        s, c = neighbour_sum(v, have.astype(float))
        new = ~have & (c > 0)
        if not new.any():
            break
        v[new] = s[new] / c[new]
        have |= new
    free = ~known
    if free.any():
        ones = np.ones_like(v)
        for _ in range(sweeps):
            s, c = neighbour_sum(v, ones)
            v[free] = s[free] / c[free]
    return v


def grid_of(group: Group, phys: ChipPhysics) -> dict[str, Any]:
    """Reduce a group's rows to a grid of log2 efficiency (median per node), filled and
    made monotone (op time never falls as a work feature grows)."""
    kind = group.kind
    args = group.arg_tuple()
    eff = roofline(kind, group.variant, args, phys) / group.t
    le = np.log2(np.maximum(eff, 1e-9))
    coords = ops.FEATURE_FN[kind](*args)
    # more than MAX_EFF x the roofline is not physics (cache-resident benchmark loops,
    # broken timings): such rows are left out
    axes, idx, ok = [], [], eff <= MAX_EFF
    for dim, spec in enumerate(AXES[kind]):
        nodes, tol = _nodes(spec, coords[dim])
        pos = np.clip(np.searchsorted(nodes, coords[dim]), 1, max(len(nodes) - 1, 1))
        left = nodes[np.maximum(pos - 1, 0)]
        right = nodes[np.minimum(pos, len(nodes) - 1)]
        near = np.where(np.abs(coords[dim] - left) <= np.abs(coords[dim] - right), pos - 1, pos)
        near = np.clip(near, 0, len(nodes) - 1)
        ok &= np.abs(coords[dim] - nodes[near]) <= tol
        axes.append(nodes)
        idx.append(near)
    shape = tuple(len(a) for a in axes)
    cell = np.ravel_multi_index(tuple(i[ok] for i in idx), shape)
    vals = le[ok]
    order = np.argsort(cell, kind="stable")
    cell, vals = cell[order], vals[order]
    bounds = np.flatnonzero(np.diff(cell)) + 1
    med = np.full(int(np.prod(shape)), np.nan)
    for seg_cells, seg_vals in zip(np.split(cell, bounds), np.split(vals, bounds)):
        if seg_cells.size:
            med[seg_cells[0]] = np.median(seg_vals)
    med = med.reshape(shape)
    known = np.isfinite(med)
    filled = _fill(np.where(known, med, 0.0), known)
    monotone_values = quantise(kind, group.variant, axes,
                               monotone(kind, group.variant, axes, filled, phys, known), phys)
    return {"axes": [np.asarray(a, dtype=float) for a in axes], "values": monotone_values,
            "measured": known, "rows_on_grid": int(ok.sum()), "rows": int(group.t.size),
            "t0": float(0.9 * group.t.min())}


def _node_roofline(kind: str, variant: str, axes: list[np.ndarray], shape: tuple[int, ...],
                   phys: ChipPhysics) -> np.ndarray:
    mesh = np.meshgrid(*axes, indexing="ij")
    args = ops.node_args(kind, tuple(m.ravel() for m in mesh))
    return roofline(kind, variant, args, phys).reshape(shape)


def quantise(kind: str, variant: str, axes: list[np.ndarray], le: np.ndarray,
             phys: ChipPhysics) -> np.ndarray:
    """float16 log2 efficiencies whose node times are still non-decreasing along the work
    axes: where rounding made a larger node faster than its predecessor, its efficiency is
    stepped down to the next float16 (times only ever go up, so the sweeps terminate)."""
    roof = _node_roofline(kind, variant, axes, le.shape, phys)
    q = le.astype(np.float16)
    for _ in range(50):
        changed = False
        for ax in range(le.ndim):
            if (kind, ax) in MONOTONE_SKIP or le.shape[ax] < 2:
                continue
            t = roof * np.exp2(-q.astype(float))
            prev = np.take(t, range(0, le.shape[ax] - 1), axis=ax)
            cur = np.take(t, range(1, le.shape[ax]), axis=ax)
            bad = cur < prev
            if not bad.any():
                continue
            changed = True
            sl = [slice(None)] * le.ndim
            sl[ax] = slice(1, None)
            target = np.log2(np.take(roof, range(1, le.shape[ax]), axis=ax) / prev)
            new = target.astype(np.float16)
            new = np.where(new.astype(float) > target, np.nextafter(new, np.float16(-np.inf)), new)
            sub = q[tuple(sl)]
            sub[bad] = np.minimum(sub[bad], new[bad])
            q[tuple(sl)] = sub
        if not changed:
            break
    return q.astype(float)


def monotone(kind: str, variant: str, axes: list[np.ndarray], le: np.ndarray,
             phys: ChipPhysics, measured: np.ndarray) -> np.ndarray:
    """Node times made non-decreasing along every work axis, back in log2 efficiency.

    Measured nodes take the lower envelope of the measured nodes: the least time of any
    measured node at least as large in every feature (an engine can run a smaller op padded
    to a larger shape, as CUDA-graph batch padding does; this also discards slow outliers
    such as first-call JIT or a poor kernel pick).  Filled nodes keep their filled value,
    clipped between the measured envelope below and above them, then swept forward with a
    cumulative max (which never raises a measured node).  Physically impossible fast rows
    are dropped before (``grid_of``)."""
    roof = _node_roofline(kind, variant, axes, le.shape, phys)
    t = roof * np.exp2(-le)
    work_axes = [ax for ax in range(le.ndim) if (kind, ax) not in MONOTONE_SKIP]
    upper = np.where(measured, t, np.inf)
    for ax in work_axes:
        upper = np.flip(np.minimum.accumulate(np.flip(upper, axis=ax), axis=ax), axis=ax)
    lower = np.where(measured, upper, -np.inf)
    for ax in work_axes:
        lower = np.maximum.accumulate(lower, axis=ax)
    out = np.where(measured, upper, np.clip(t, lower, upper))
    for ax in work_axes:
        out = np.maximum.accumulate(out, axis=ax)
    return np.log2(roof / out)
