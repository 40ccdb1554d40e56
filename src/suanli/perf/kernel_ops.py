"""Physics of the measured op kinds: work (FLOPs, bytes) and the shape features their
efficiency surfaces are indexed by.

One function pair per op kind, shared by the runtime kernel model (``perf.kernels``) and
the offline table builder (``tools/build_kernel_tables.py``) so that an efficiency stored
in the tables means exactly what the model divides by:

    efficiency = t_roofline / t_measured,
    t_roofline = max(FLOPs / peak[compute key], bytes / memory bandwidth)   (compute ops)
    t_roofline = link bytes / scale-up link bandwidth (one direction)        (collectives)

Everything is vectorised: arguments are floats or numpy arrays of any broadcastable
shape.  Units: counts are plain numbers, bytes are bytes.  ``kvb`` is bytes per KV-cache
element (2 for BF16, 1 for FP8).

Conventions (also in docs/kernel-transfer.md):

* gemm ``C[m,n] = A[m,k] B[k,n]``; A = activations (m tokens), B = weights.
* moe: one MoE layer's routed-expert compute on one GPU of a ``moe_tp x moe_ep`` group,
  balanced routing; ``tokens`` = tokens entering the layer on the whole group (the
  aiconfigurator ``num_tokens`` convention, checked on the H100 tables: at 16k tokens the
  time falls as 1/ep).  Per GPU: ``tokens*topk/ep`` token-expert pairs over
  ``num_experts/ep`` local experts, each expert's gate/up (``hidden x 2*inter/tp``) and down
  (``inter/tp x hidden``) GEMMs.
* attention: heads are per GPU (already divided by TP); prefill is causal, a query at
  position ``j`` of a prompt with ``prefix`` cached tokens attends to ``prefix + j + 1`` keys.
* decode attention: ``ctx`` = keys attended by the one new query token (cache incl. itself).
* MLA: DeepSeek-V3 dimensions (``kv_lora_rank`` 512, ``qk_rope_head_dim`` 64,
  ``qk_nope_head_dim`` 128, ``v_head_dim`` 128; HF config.json of deepseek-ai/DeepSeek-V3);
  prefill runs on decompressed per-head K/V, decode "absorbed" over the 576-wide latent.
* allreduce: ``nbytes`` = size of the buffer being reduced; ring traffic 2(n-1)/n of it per
  GPU.  alltoall: ``nbytes`` = bytes one rank sends counting every (token, expert) copy, as
  DeepEP reports; (n-1)/n of it leaves the GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

KINDS = ("gemm", "moe", "attn_prefill", "attn_decode", "mla_prefill", "mla_decode",
         "allreduce", "alltoall")
COMM_KINDS = frozenset({"allreduce", "alltoall"})

# DeepSeek-V3 MLA dimensions (deepseek-ai/DeepSeek-V3 config.json)
MLA_KV_LORA = 512
MLA_ROPE = 64
MLA_NOPE = 128
MLA_V = 128
MLA_QK = MLA_NOPE + MLA_ROPE          # 192: per-head query/key width in prefill
MLA_LATENT = MLA_KV_LORA + MLA_ROPE   # 576: cached latent width per token

ACT_BYTES = 2.0  # activations, outputs and decompressed attention operands travel in 16 bit

# GEMM variants: (compute peak key, activation bytes/element, weight bytes/element).
# Scale overheads: FP8 block scaling one FP32 scale per 1x128 activation block and per
# 128x128 weight block (DeepSeek-V3 report, sec. 3.3); NVFP4 one FP8 scale per 16 values.
GEMM_VARIANTS: Mapping[str, tuple[str, float, float]] = MappingProxyType({
    "bf16": ("bf16", 2.0, 2.0),
    "fp8": ("fp8", 1.0, 1.0),
    "fp8_block": ("fp8", 1.0 + 4 / 128, 1.0 + 4 / 128**2),
    "nvfp4": ("fp4", 4.5 / 8, 4.5 / 8),
    "int8": ("int8", 1.0, 1.0),          # W8A8 SmoothQuant
    "int8_wo": ("bf16", 2.0, 1.0),       # weight-only INT8, BF16 math
    "int4_wo": ("bf16", 2.0, 4.125 / 8),  # weight-only INT4 (W4A16), BF16 math
})
# MoE variants: same triple.  mxfp4: one E8M0 scale per 32 values (OCP MX spec v1.0).
MOE_VARIANTS: Mapping[str, tuple[str, float, float]] = MappingProxyType({
    "bf16": ("bf16", 2.0, 2.0),
    "fp8": ("fp8", 1.0, 1.0),
    "fp8_block": ("fp8", 1.0 + 4 / 128, 1.0 + 4 / 128**2),
    "nvfp4": ("fp4", 4.5 / 8, 4.5 / 8),
    "w4a8_mxfp4": ("fp8", 1.0, 4.25 / 8),
    "w4a16_mxfp4": ("bf16", 2.0, 4.25 / 8),
    "int4_wo": ("bf16", 2.0, 4.125 / 8),
})
# Variants that need a tensor-core format beyond their compute key (MXFP4 x MXFP8 MoE
# kernels exist only where the chip has FP4 tensor cores).
REQUIRES: Mapping[str, str] = MappingProxyType({"w4a8_mxfp4": "fp4", "nvfp4": "fp4"})
KV_VARIANTS: Mapping[str, float] = MappingProxyType({"bf16": 2.0, "fp8": 1.0})

# What a caller may pass as dtype -> variants tried in order.  A variant whose compute key
# the chip lacks (FP8 on Ampere, FP4 on Hopper) is skipped: engines then run weight-only
# kernels that dequantise to 16 bit (Marlin), which the *_wo / bf16 entries stand for.
GEMM_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bf16": ("bf16",), "fp16": ("bf16",), "bfloat16": ("bf16",),
    "fp8": ("fp8", "fp8_block", "int8_wo", "bf16"),
    "fp8_block": ("fp8_block", "fp8", "int8_wo", "bf16"),
    "fp4": ("nvfp4", "int4_wo", "bf16"), "nvfp4": ("nvfp4", "int4_wo", "bf16"),
    "mxfp4": ("nvfp4", "int4_wo", "bf16"),
    "int8": ("int8", "fp8", "int8_wo", "bf16"), "w8a8": ("int8", "fp8", "int8_wo", "bf16"),
    "int8_wo": ("int8_wo", "bf16"), "w8a16": ("int8_wo", "bf16"),
    "int4": ("int4_wo", "bf16"), "int4_wo": ("int4_wo", "bf16"), "w4a16": ("int4_wo", "bf16"),
})
# FP8 MoE: block-scaled tables first.  The FP8 MoE checkpoints people serve are
# block-scaled (DeepSeek-V3/R1, Qwen3-FP8, Kimi-K2: 128x128 weight blocks), and vLLM's
# per-tensor fused-MoE table is ~5x slower than every other FP8 MoE table at DeepSeek
# shapes on H100/H200 (an untuned Triton path in the collector), while per-tensor and
# block tables of the other backends agree within ~15 %.
MOE_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bf16": ("bf16",), "fp16": ("bf16",), "bfloat16": ("bf16",),
    "fp8": ("fp8_block", "fp8", "int4_wo", "bf16"),
    "fp8_block": ("fp8_block", "fp8", "int4_wo", "bf16"),
    "fp4": ("nvfp4", "w4a8_mxfp4", "w4a16_mxfp4", "int4_wo", "bf16"),
    "nvfp4": ("nvfp4", "w4a8_mxfp4", "w4a16_mxfp4", "int4_wo", "bf16"),
    "mxfp4": ("w4a8_mxfp4", "w4a16_mxfp4", "nvfp4", "int4_wo", "bf16"),
    "w4a8_mxfp4": ("w4a8_mxfp4", "nvfp4", "w4a16_mxfp4", "bf16"),
    "w4a16_mxfp4": ("w4a16_mxfp4", "int4_wo", "bf16"),
    "int4": ("int4_wo", "w4a16_mxfp4", "bf16"), "int4_wo": ("int4_wo", "w4a16_mxfp4", "bf16"),
    "w4a16": ("int4_wo", "w4a16_mxfp4", "bf16"),
    "int8": ("fp8_block", "fp8", "bf16"), "w8a8": ("fp8_block", "fp8", "bf16"),
})
KV_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bf16": ("bf16",), "fp16": ("bf16",), "bfloat16": ("bf16",), "auto": ("bf16",),
    "fp8": ("fp8", "bf16"), "fp8_e4m3": ("fp8", "bf16"), "int8": ("fp8", "bf16"),
})
ALLREDUCE_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "graph": ("graph", "nccl"), "custom": ("graph", "nccl"), "nccl": ("nccl", "graph"),
})
ALLTOALL_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "low_latency": ("low_latency", "normal", "nccl"), "normal": ("normal", "low_latency", "nccl"),
    "nccl": ("nccl", "normal"),
})
ALIASES: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "gemm": GEMM_ALIASES, "moe": MOE_ALIASES, "attn_prefill": KV_ALIASES,
    "attn_decode": KV_ALIASES, "mla_prefill": KV_ALIASES, "mla_decode": KV_ALIASES,
    "allreduce": ALLREDUCE_ALIASES, "alltoall": ALLTOALL_ALIASES,
})

# Feature names of each kind's efficiency surface (all stored as log2 of the value).
FEATURES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "gemm": ("m", "n", "k"),
    "moe": ("tokens_per_expert", "local_experts", "expert_matrix"),
    "attn_prefill": ("batch_x_heads", "isl_eq", "head_dim"),
    "attn_decode": ("batch_x_kv_heads", "ctx", "gqa", "head_dim"),
    "mla_prefill": ("batch", "isl_eq", "heads"),
    "mla_decode": ("batch", "ctx", "heads"),
    "allreduce": ("nbytes", "gpus"),
    "alltoall": ("nbytes", "gpus"),
})
TINY = 2.0**-10  # floor for log2 of features that may be zero/fractional


def _as_array(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _log2(x: np.ndarray) -> np.ndarray:
    return np.log2(np.maximum(x, TINY))


def compute_key(kind: str, variant: str) -> str:
    """Peak-throughput key ('bf16', 'fp8', 'fp4', 'int8') the op's FLOPs run at."""
    if kind == "gemm":
        return GEMM_VARIANTS[variant][0]
    if kind == "moe":
        return MOE_VARIANTS[variant][0]
    return "bf16"  # attention math runs on 16-bit tensor cores in every table we hold


# --- work: (FLOPs, bytes) -----------------------------------------------------------------

def gemm_work(variant: str, m: Any, n: Any, k: Any) -> tuple[np.ndarray, np.ndarray]:
    _, ab, wb = GEMM_VARIANTS[variant]
    m, n, k = _as_array(m), _as_array(n), _as_array(k)
    return 2.0 * m * n * k, m * k * ab + n * k * wb + m * n * ACT_BYTES


def moe_pairs(tokens: Any, topk: Any, moe_ep: Any) -> np.ndarray:
    """Token-expert pairs one GPU computes (balanced routing)."""
    return _as_array(tokens) * _as_array(topk) / _as_array(moe_ep)


def moe_work(variant: str, tokens: Any, hidden: Any, inter: Any, topk: Any, num_experts: Any,
             moe_tp: Any, moe_ep: Any) -> tuple[np.ndarray, np.ndarray]:
    _, ab, wb = MOE_VARIANTS[variant]
    h, i_loc = _as_array(hidden), _as_array(inter) / _as_array(moe_tp)
    pairs = moe_pairs(tokens, topk, moe_ep)
    local = _as_array(num_experts) / _as_array(moe_ep)
    touched = np.minimum(local, pairs)  # balanced routing touches min(E_local, pairs) experts
    flops = 6.0 * pairs * h * i_loc     # gate+up (2*i) and down (i) GEMMs, 2 FLOPs per MAC
    weights = touched * 3.0 * h * i_loc * wb
    acts = pairs * (h * (ab + ACT_BYTES) + 4.0 * i_loc * ACT_BYTES)  # in, out, gate/up write+read
    return flops, weights + acts


def _pairs(batch: np.ndarray, isl: np.ndarray, prefix: np.ndarray) -> np.ndarray:
    """Query-key pairs of a causal prefill with a cached prefix."""
    return batch * (isl * prefix + isl * (isl + 1.0) / 2.0)


def isl_equivalent(isl: Any, prefix: Any) -> np.ndarray:
    """Prompt length of a prefix-free causal prefill with the same pairs per sequence:
    sqrt(isl * (isl + 2 * prefix)); equals isl without a prefix."""
    isl, prefix = _as_array(isl), _as_array(prefix)
    return np.sqrt(isl * (isl + 2.0 * prefix))


def attn_prefill_work(variant: str, batch: Any, isl: Any, num_heads: Any, num_kv_heads: Any,
                      head_dim: Any, prefix: Any = 0.0) -> tuple[np.ndarray, np.ndarray]:
    kvb = KV_VARIANTS[variant]
    b, s, h, kvh, d, p = (_as_array(x) for x in (batch, isl, num_heads, num_kv_heads, head_dim, prefix))
    flops = 4.0 * h * d * _pairs(b, s, p)
    nbytes = 2.0 * b * s * h * d * ACT_BYTES + 2.0 * b * (s + p) * kvh * d * kvb
    return flops, nbytes


def attn_decode_work(variant: str, batch: Any, ctx: Any, num_heads: Any, num_kv_heads: Any,
                     head_dim: Any) -> tuple[np.ndarray, np.ndarray]:
    kvb = KV_VARIANTS[variant]
    b, c, h, kvh, d = (_as_array(x) for x in (batch, ctx, num_heads, num_kv_heads, head_dim))
    flops = 4.0 * b * h * d * c
    nbytes = 2.0 * b * kvh * d * c * kvb + 2.0 * b * h * d * ACT_BYTES
    return flops, nbytes


def mla_prefill_work(variant: str, batch: Any, isl: Any, num_heads: Any,
                     prefix: Any = 0.0) -> tuple[np.ndarray, np.ndarray]:
    b, s, h, p = (_as_array(x) for x in (batch, isl, num_heads, prefix))
    flops = 2.0 * h * _pairs(b, s, p) * (MLA_QK + MLA_V)
    nbytes = (b * s * h * (MLA_QK + MLA_V) + b * (s + p) * h * (MLA_QK + MLA_V)) * ACT_BYTES
    return flops, nbytes


def mla_decode_work(variant: str, batch: Any, ctx: Any,
                    num_heads: Any) -> tuple[np.ndarray, np.ndarray]:
    kvb = KV_VARIANTS[variant]
    b, c, h = _as_array(batch), _as_array(ctx), _as_array(num_heads)
    flops = 2.0 * b * h * c * (MLA_LATENT + MLA_KV_LORA)
    nbytes = b * c * MLA_LATENT * kvb + b * h * (MLA_LATENT + MLA_KV_LORA) * ACT_BYTES
    return flops, nbytes


def allreduce_work(variant: str, nbytes: Any, n: Any) -> tuple[np.ndarray, np.ndarray]:
    n = _as_array(n)
    link = np.where(n > 1, 2.0 * (n - 1.0) / np.maximum(n, 1.0), 0.0) * _as_array(nbytes)
    return np.zeros_like(link), link


def alltoall_work(variant: str, nbytes: Any, n: Any) -> tuple[np.ndarray, np.ndarray]:
    n = _as_array(n)
    link = np.where(n > 1, (n - 1.0) / np.maximum(n, 1.0), 0.0) * _as_array(nbytes)
    return np.zeros_like(link), link


# --- features: log2 coordinates of the efficiency surfaces --------------------------------

def gemm_features(m: Any, n: Any, k: Any) -> tuple[np.ndarray, ...]:
    return _log2(_as_array(m)), _log2(_as_array(n)), _log2(_as_array(k))


def moe_features(tokens: Any, hidden: Any, inter: Any, topk: Any, num_experts: Any,
                 moe_tp: Any, moe_ep: Any) -> tuple[np.ndarray, ...]:
    per_expert = _as_array(tokens) * _as_array(topk) / _as_array(num_experts)
    return (_log2(per_expert), _log2(_as_array(num_experts) / _as_array(moe_ep)),
            _log2(_as_array(hidden) * _as_array(inter) / _as_array(moe_tp)))


def attn_prefill_features(batch: Any, isl: Any, num_heads: Any, num_kv_heads: Any,
                          head_dim: Any, prefix: Any = 0.0) -> tuple[np.ndarray, ...]:
    return (_log2(_as_array(batch) * _as_array(num_heads)), _log2(isl_equivalent(isl, prefix)),
            _log2(_as_array(head_dim)))


def attn_decode_features(batch: Any, ctx: Any, num_heads: Any, num_kv_heads: Any,
                         head_dim: Any) -> tuple[np.ndarray, ...]:
    kvh = np.maximum(_as_array(num_kv_heads), 1.0)
    return (_log2(_as_array(batch) * kvh), _log2(_as_array(ctx)), _log2(_as_array(num_heads) / kvh),
            _log2(_as_array(head_dim)))


def mla_prefill_features(batch: Any, isl: Any, num_heads: Any,
                         prefix: Any = 0.0) -> tuple[np.ndarray, ...]:
    return _log2(_as_array(batch)), _log2(isl_equivalent(isl, prefix)), _log2(_as_array(num_heads))


def mla_decode_features(batch: Any, ctx: Any, num_heads: Any) -> tuple[np.ndarray, ...]:
    return _log2(_as_array(batch)), _log2(_as_array(ctx)), _log2(_as_array(num_heads))


def comm_features(nbytes: Any, n: Any) -> tuple[np.ndarray, ...]:
    return _log2(_as_array(nbytes)), _log2(_as_array(n))


WorkFn = Callable[..., "tuple[np.ndarray, np.ndarray]"]
FeatureFn = Callable[..., "tuple[np.ndarray, ...]"]
WORK: Mapping[str, WorkFn] = MappingProxyType({
    "gemm": gemm_work, "moe": moe_work, "attn_prefill": attn_prefill_work,
    "attn_decode": attn_decode_work, "mla_prefill": mla_prefill_work,
    "mla_decode": mla_decode_work, "allreduce": allreduce_work, "alltoall": alltoall_work,
})
FEATURE_FN: Mapping[str, FeatureFn] = MappingProxyType({
    "gemm": gemm_features, "moe": moe_features, "attn_prefill": attn_prefill_features,
    "attn_decode": attn_decode_features, "mla_prefill": mla_prefill_features,
    "mla_decode": mla_decode_features, "allreduce": comm_features, "alltoall": comm_features,
})
# Positional argument names of each kind (the KernelModel method signatures, dtype aside).
ARGS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "gemm": ("m", "n", "k"),
    "moe": ("tokens", "hidden", "inter", "topk", "num_experts", "moe_tp", "moe_ep"),
    "attn_prefill": ("batch", "isl", "num_heads", "num_kv_heads", "head_dim", "prefix"),
    "attn_decode": ("batch", "ctx", "num_heads", "num_kv_heads", "head_dim"),
    "mla_prefill": ("batch", "isl", "num_heads", "prefix"),
    "mla_decode": ("batch", "ctx", "num_heads"),
    "allreduce": ("nbytes", "n"),
    "alltoall": ("nbytes", "n"),
})


def roofline_time(kind: str, variant: str, flops: np.ndarray, nbytes: np.ndarray, *,
                  peak: float, mem_bw: float, link_bw: float) -> np.ndarray:
    """Speed-of-light time in seconds (``peak`` FLOP/s for the variant, bytes/s)."""
    if kind in COMM_KINDS:
        return nbytes / link_bw
    return np.maximum(flops / peak, nbytes / mem_bw)


def node_args(kind: str, coords: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """A representative shape (positional API arguments) at log2 feature coordinates.

    Exact where the features determine the roofline (gemm, decode attention, MLA,
    collectives); prefill attention assumes GQA 8 (kv heads = heads / 8, at least 1) and
    MoE one routed expert per token on one GPU (the roofline depends only on the products
    the features fix)."""
    x = [np.exp2(np.asarray(c, dtype=float)) for c in coords]
    one = np.ones_like(x[0])
    if kind == "gemm":
        return x[0], x[1], x[2]
    if kind == "moe":
        per_expert, local, matrix = x
        side = np.sqrt(matrix)
        return per_expert * local, side, side, one, local, one, one
    if kind == "attn_prefill":
        bh, isl, hd = x
        return one, isl, bh, np.maximum(bh / 8.0, 1.0), hd, 0.0 * one
    if kind == "attn_decode":
        bkvh, ctx, gqa, hd = x
        return one, ctx, bkvh * gqa, bkvh, hd
    if kind == "mla_prefill":
        return x[0], x[1], x[2], 0.0 * one
    if kind == "mla_decode":
        return x[0], x[1], x[2]
    return x[0], x[1]
