"""Deployment layouts as numpy arrays, so that one call evaluates many layouts.

A :class:`Layout` holds, for N candidate deployments of one model on one
accelerator, the parallel sizes (float arrays of one shape) and one
:class:`Precision` (kernel dtypes and byte widths of weights
and KV cache, shared by all N).  It is the one deployment type the
performance layer accepts; a single
:class:`~suanli.specs.deployment.Deployment` becomes a Layout of size one
(``layout_of``), so scalar predictions and vectorised sweeps run the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from suanli.specs.deployment import Deployment

_ARRAYS = ("gpus", "tp", "pp", "ep", "dp_attention")


@dataclass(frozen=True, kw_only=True)
class Precision:
    """Weight formats as kernel dtype keys plus bytes per element."""

    lin: str = "bf16"        # non-expert linear layers
    exp: str = "bf16"        # routed experts
    kv: str = "bf16"         # KV cache
    lin_bytes: Any = 2.0
    exp_bytes: Any = 2.0
    kv_bytes: Any = 2.0


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Parallel layout of N deployments (float arrays, same shape) and their precision."""

    gpus: Any
    tp: Any
    pp: Any
    ep: Any
    dp_attention: Any
    prec: Precision = field(default_factory=Precision)

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
    def lin_bytes(self) -> Any:
        return self.prec.lin_bytes

    @property
    def exp_bytes(self) -> Any:
        return self.prec.exp_bytes

    @property
    def kv_bytes(self) -> Any:
        return self.prec.kv_bytes

    @property
    def size(self) -> int:
        return int(np.asarray(self.tp).size)

    def expand(self) -> "Layout":
        """Add a trailing axis so the layout broadcasts against a grid of batch sizes."""
        arrays: dict[str, Any] = {n: np.asarray(getattr(self, n))[..., None] for n in _ARRAYS}
        return replace(self, **arrays)

    def take(self, index: Any) -> "Layout":
        return replace(self, **{n: np.asarray(getattr(self, n))[index] for n in _ARRAYS})

    def scalar(self, name: str) -> float:
        """One layout's value of an array field (size-one layouts)."""
        return float(np.asarray(getattr(self, name), dtype=float).reshape(-1)[0])


def layout_of(dep: Deployment, prec: Precision | None = None) -> Layout:
    """The size-one Layout of a Deployment (0-d arrays, so scalar loads give scalar times).
    Without ``prec`` the deployment's own formats are used as kernel dtypes."""
    if prec is None:
        prec = Precision(lin=dep.weight_dtype.value, exp=dep.weight_dtype.value,
                         kv="fp8" if dep.kv_dtype.value == "fp8" else "bf16", lin_bytes=dep.weight_dtype.bytes,
                         exp_bytes=dep.weight_dtype.bytes, kv_bytes=dep.kv_dtype.bytes)
    a = lambda v: np.asarray(v, dtype=float)  # noqa: E731
    return Layout(gpus=a(dep.gpus), tp=a(dep.tp), pp=a(dep.pp), ep=a(dep.ep), dp_attention=a(dep.dp_attention),
                  prec=prec)


def layouts(*, gpus: Sequence[int], tp: Sequence[int], pp: Sequence[int], ep: Sequence[int],
            dp_attention: Sequence[int], prec: Precision) -> Layout:
    """A Layout from parallel sequences (one entry per deployment), one precision."""
    f = lambda v: np.asarray(v, dtype=float)  # noqa: E731
    return Layout(gpus=f(gpus), tp=f(tp), pp=f(pp), ep=f(ep), dp_attention=f(dp_attention), prec=prec)


__all__ = ["Layout", "Precision", "layout_of", "layouts"]
