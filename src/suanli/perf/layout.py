"""Deployment layouts as numpy arrays, so that one call evaluates many layouts.

A :class:`Layout` holds, for N candidate deployments of one model on one
accelerator, the parallel sizes and the byte widths of weights and KV cache
(and, when built against a :class:`~suanli.perf.hardware.HwParams`, the
tensor peak for each layout's compute precision).  Every performance function
takes a Layout; a single :class:`~suanli.specs.deployment.Deployment` is a
Layout of size one (``layout_of``), so scalar predictions and vectorised
sweeps run the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Sequence

import numpy as np

from suanli.specs.deployment import Deployment
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec


def layer_weight_dtypes(model: ModelSpec, weight: DType) -> tuple[DType, DType]:
    """(non-expert linear dtype, expert dtype).  MXFP4 checkpoints (gpt-oss)
    quantise only the MoE experts; attention stays BF16 (config
    ``modules_to_not_convert``).  Other formats cover every linear layer."""
    if weight == DType.MXFP4 and model.is_moe:
        return DType.BF16, weight
    return weight, weight


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Parallel layout and precisions of N deployments (float arrays, same shape)."""

    gpus: Any
    tp: Any
    pp: Any
    ep: Any
    dp_attention: Any
    lin_bytes: Any       # bytes per weight element of non-expert linear layers
    exp_bytes: Any       # bytes per weight element of routed experts
    kv_bytes: Any        # bytes per KV-cache element
    peak_lin: Any = None  # FLOP/s of non-expert GEMMs at their compute precision
    peak_exp: Any = None  # FLOP/s of expert GEMMs

    def __post_init__(self) -> None:
        # derived sizes, computed once (hot path of sweeps and predictions)
        group = np.maximum(self.tp, self.ep)
        attn_dp = self.dp_attention * np.where(self.ep > self.tp, self.ep / self.tp, 1.0)
        object.__setattr__(self, "_group", group)
        object.__setattr__(self, "_attn_dp", attn_dp)
        object.__setattr__(self, "_attn_tp", np.maximum(1.0, group / attn_dp))

    @property
    def moe_group(self) -> Any:
        """Accelerators over which one MoE layer's experts are spread."""
        return self._group  # type: ignore[attr-defined]

    @property
    def instance_gpus(self) -> Any:
        return self.moe_group * self.pp

    @property
    def replicas(self) -> Any:
        return np.floor(self.gpus / self.instance_gpus)

    @property
    def attn_dp(self) -> Any:
        """Attention data-parallel ranks in one instance (SGLang DP attention,
        or vLLM data-parallel ranks when ep > tp)."""
        return self._attn_dp  # type: ignore[attr-defined]

    @property
    def attn_tp(self) -> Any:
        return self._attn_tp  # type: ignore[attr-defined]

    @property
    def size(self) -> int:
        return int(np.asarray(self.tp).size)

    def expand(self) -> "Layout":
        """Add a trailing axis so the layout broadcasts against a grid of batch sizes."""
        return replace(self, **{f.name: (None if getattr(self, f.name) is None else
                                         np.asarray(getattr(self, f.name))[..., None]) for f in fields(self)})

    def take(self, index: Any) -> "Layout":
        return replace(self, **{f.name: (None if getattr(self, f.name) is None else
                                         np.asarray(getattr(self, f.name))[index]) for f in fields(self)})


def layout_of(model: ModelSpec, dep: Deployment, peak_gemm: float | None = None,
              peak_16bit: float | None = None) -> Layout:
    """The size-one Layout of a Deployment (peaks from HwParams when given)."""
    lin, exp = layer_weight_dtypes(model, dep.weight_dtype)
    peak_lin = peak_exp = None
    if peak_gemm is not None and peak_16bit is not None:
        peak_lin = np.asarray(peak_gemm if lin == dep.weight_dtype else peak_16bit, dtype=float)
        peak_exp = np.asarray(peak_gemm if exp == dep.weight_dtype else peak_16bit, dtype=float)
    a = lambda v: np.asarray(v, dtype=float)  # noqa: E731  (0-d: scalar loads give scalar times)
    return Layout(gpus=a(dep.gpus), tp=a(dep.tp), pp=a(dep.pp), ep=a(dep.ep), dp_attention=a(dep.dp_attention),
                  lin_bytes=a(lin.bytes), exp_bytes=a(exp.bytes), kv_bytes=a(dep.kv_dtype.bytes),
                  peak_lin=peak_lin, peak_exp=peak_exp)


def layouts(model: ModelSpec, *, gpus: Sequence[int], tp: Sequence[int], pp: Sequence[int], ep: Sequence[int],
            dp_attention: Sequence[int], weight: Sequence[DType], kv: Sequence[DType],
            peaks: dict[DType, tuple[float, float]] | None = None) -> Layout:
    """Build a Layout from parallel sequences (one entry per deployment).
    ``peaks`` maps a weight dtype to (peak_gemm, peak_16bit) FLOP/s."""
    lin_b, exp_b, p_lin, p_exp = [], [], [], []
    for w in weight:
        lin, exp = layer_weight_dtypes(model, w)
        lin_b.append(lin.bytes)
        exp_b.append(exp.bytes)
        if peaks is not None:
            gemm, b16 = peaks[w]
            p_lin.append(gemm if lin == w else b16)
            p_exp.append(gemm if exp == w else b16)
    f = lambda v: np.asarray(v, dtype=float)  # noqa: E731
    return Layout(gpus=f(gpus), tp=f(tp), pp=f(pp), ep=f(ep), dp_attention=f(dp_attention), lin_bytes=f(lin_b),
                  exp_bytes=f(exp_b), kv_bytes=f([k.bytes for k in kv]),
                  peak_lin=f(p_lin) if peaks is not None else None, peak_exp=f(p_exp) if peaks is not None else None)
