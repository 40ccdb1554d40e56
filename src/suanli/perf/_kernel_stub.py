"""TEMPORARY stand-in for perf.kernels (measured kernel tables) while they are built:
roofline with prior efficiencies, same API.  Removed when perf.kernels lands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

ACT = 2.0
_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5625, "w4a16": 0.515625}


@dataclass(frozen=True, kw_only=True)
class ChipPhysics:
    id: str
    arch: str
    peak_flops: Mapping[str, float]
    mem_bw: float
    sm_count: int | None = None
    clock_mhz: float | None = None
    link_bw: float = 0.0


@dataclass(frozen=True, kw_only=True)
class StubKernelModel:
    chip: ChipPhysics
    backend: str
    compute_eff: float = 0.7
    memory_eff: float = 0.8
    latency_s: float = 4e-6
    basis: Mapping[str, str] = field(default_factory=dict)

    def rel_sigma(self, kind: str) -> float:
        return 0.3

    def _peak(self, dtype: str) -> float:
        p = self.chip.peak_flops
        key = "fp4" if dtype in ("fp4", "mxfp4") else ("bf16" if dtype == "w4a16" else dtype)
        return float(p.get(key) or p.get("bf16") or 1e12)

    def _roof(self, flops: Any, nbytes: Any, peak: float) -> Any:
        t = np.maximum(flops / (peak * self.compute_eff), nbytes / (self.chip.mem_bw * self.memory_eff))
        return np.where(np.asarray(flops) + np.asarray(nbytes) > 0, t + self.latency_s, 0.0)

    def gemm(self, m: Any, n: Any, k: Any, dtype: str) -> Any:
        m = np.asarray(m, dtype=float)
        b = _BYTES.get(dtype, 2.0)
        return np.where(m > 0, self._roof(2 * m * n * k, k * n * b + m * (k + n) * ACT, self._peak(dtype)), 0.0)

    def moe(self, tokens: Any, hidden: Any, inter: Any, topk: Any, num_experts: Any, moe_tp: Any, moe_ep: Any,
            dtype: str) -> Any:
        tokens = np.asarray(tokens, dtype=float)
        assign = tokens * topk / moe_ep
        local = np.maximum(num_experts / moe_ep, 1.0)
        touched = local * (1 - np.power(1 - topk / num_experts, tokens))
        w = touched * 3 * hidden * inter / moe_tp * _BYTES.get(dtype, 2.0)
        return np.where(tokens > 0, self._roof(6 * assign * hidden * inter / moe_tp, w + 2 * assign * hidden * ACT,
                                               self._peak(dtype)), 0.0)

    def attn_prefill(self, batch: Any, isl: Any, num_heads: Any, num_kv_heads: Any, head_dim: Any, kv_dtype: str,
                     prefix: Any = 0.0) -> Any:
        batch = np.asarray(batch, dtype=float)
        f = 4 * batch * num_heads * head_dim * isl * (isl / 2 + prefix)
        b = batch * (isl + prefix) * 2 * num_kv_heads * head_dim * _BYTES.get(kv_dtype, 2.0)
        return np.where(batch * isl > 0, self._roof(f, b, self._peak("bf16")), 0.0)

    def attn_decode(self, batch: Any, ctx: Any, num_heads: Any, num_kv_heads: Any, head_dim: Any,
                    kv_dtype: str) -> Any:
        batch = np.asarray(batch, dtype=float)
        f = 4 * batch * num_heads * head_dim * ctx
        b = batch * ctx * 2 * num_kv_heads * head_dim * _BYTES.get(kv_dtype, 2.0)
        return np.where(batch > 0, self._roof(f, b, self._peak("bf16")), 0.0)

    def mla_prefill(self, batch: Any, isl: Any, num_heads: Any, kv_dtype: str, prefix: Any = 0.0) -> Any:
        batch = np.asarray(batch, dtype=float)
        f = 2 * batch * num_heads * isl * (isl / 2 + prefix) * (128 + 64 + 128)
        b = batch * (isl + prefix) * 576 * _BYTES.get(kv_dtype, 2.0)
        return np.where(batch * isl > 0, self._roof(f, b, self._peak("bf16")), 0.0)

    def mla_decode(self, batch: Any, ctx: Any, num_heads: Any, kv_dtype: str) -> Any:
        batch = np.asarray(batch, dtype=float)
        f = 2 * batch * num_heads * ctx * (2 * 512 + 64)
        b = batch * ctx * 576 * _BYTES.get(kv_dtype, 2.0)
        return np.where(batch > 0, self._roof(f, b, self._peak("bf16")), 0.0)

    def allreduce(self, nbytes: Any, n: Any) -> Any:
        n = np.asarray(n, dtype=float)
        bw = max(self.chip.link_bw, 1e9) * 0.7
        return np.where(n > 1, 10e-6 + 2 * (n - 1) / np.maximum(n, 1) * nbytes / bw, 0.0)

    def alltoall(self, nbytes_per_rank: Any, n: Any, mode: str = "normal") -> Any:
        n = np.asarray(n, dtype=float)
        bw = max(self.chip.link_bw, 1e9) * 0.6
        return np.where(n > 1, 20e-6 + (n - 1) / np.maximum(n, 1) * nbytes_per_rank / bw, 0.0)


def kernel_model(tables: Any, chip: ChipPhysics, backend: str) -> StubKernelModel:
    kinds = ("gemm", "moe", "attn_prefill", "attn_decode", "mla_prefill", "mla_decode", "allreduce", "alltoall")
    return StubKernelModel(chip=chip, backend=backend, basis={k: "roofline-prior" for k in kinds})
