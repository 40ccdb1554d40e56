"""Accelerator memory: weights, KV cache and workspace per accelerator, and how
many sequences fit.

All functions are pure and take plain numbers; sizes are bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from suanli.specs.deployment import Deployment
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec


def _layer_weight_dtypes(model: ModelSpec, weight: DType) -> tuple[DType, DType]:
    """(non-expert linear dtype, expert dtype).  MXFP4 checkpoints (gpt-oss)
    quantise only the MoE experts; attention stays BF16 (config
    ``modules_to_not_convert``).  Other formats cover every linear layer."""
    if weight == DType.MXFP4 and model.is_moe:
        return DType.BF16, weight
    return weight, weight


@dataclass(frozen=True, kw_only=True)
class WeightSplit:
    """Weight bytes held by one accelerator of the busiest pipeline stage."""

    attention: float
    dense_mlp: float
    shared_experts: float
    routed_experts: float
    embeddings: float   # input embedding + LM head (kept in 16-bit by quantised checkpoints)
    other: float        # norms, router

    @property
    def total(self) -> float:
        return (self.attention + self.dense_mlp + self.shared_experts + self.routed_experts
                + self.embeddings + self.other)


def weights_per_gpu(model: ModelSpec, dep: Deployment) -> WeightSplit:
    """Weights on one accelerator.  Attention is split by the attention TP
    width (replicated across attention-DP ranks); dense MLP by TP; experts
    across the MoE group (EP or TP); embeddings vocab-parallel by TP; layers
    by PP (the first stage holds the embedding, the last the LM head; we
    report the larger)."""
    lin_dt, exp_dt = _layer_weight_dtypes(model, dep.weight_dtype)
    layers = math.ceil(model.num_layers / dep.pp)
    moe_layers = math.ceil(model.num_moe_layers / dep.pp)
    dense_layers = layers - moe_layers if model.is_moe else layers
    tp_all = max(dep.tp, dep.ep)
    attn = layers * model.attn_params_per_layer * lin_dt.bytes / dep.attn_tp
    dense = dense_layers * model.dense_mlp_params * lin_dt.bytes / tp_all
    shared = moe_layers * model.shared_expert_params * lin_dt.bytes / tp_all
    routed = moe_layers * model.num_experts * model.expert_params * exp_dt.bytes / dep.moe_group
    emb_params = max(model.embedding_params, model.lm_head_params) if dep.pp > 1 else (
        model.embedding_params + model.lm_head_params)
    emb = emb_params * DType.BF16.bytes / dep.attn_tp
    other = (layers * (2 * model.hidden_size + model.hidden_size * model.num_experts)) * DType.BF16.bytes
    return WeightSplit(attention=attn, dense_mlp=dense, shared_experts=shared, routed_experts=routed,
                       embeddings=emb, other=other)


def kv_bytes_per_token_layer(model: ModelSpec, dep: Deployment) -> float:
    """KV-cache bytes one token occupies in one layer on one accelerator.

    GQA: K and V heads are split over the attention TP ranks; when TP exceeds
    the KV heads each rank keeps one (replicated) head.  MLA: the compressed
    latent (kv_lora_rank + rope dims) is not split by TP -- every rank holds
    it (vLLM/SGLang MLA backends)."""
    kv = dep.kv_dtype.bytes
    if model.attention == "mla":
        return model.kv_elements_per_token_per_layer * kv
    heads_per_rank = max(1.0, model.num_kv_heads / dep.attn_tp)
    return 2 * heads_per_rank * model.head_dim * kv


def kv_bytes_per_sequence(model: ModelSpec, dep: Deployment, context: float) -> float:
    """KV bytes of one sequence of ``context`` tokens on one accelerator of its
    pipeline stage; sliding-window layers keep at most ``sliding_window`` tokens."""
    per = kv_bytes_per_token_layer(model, dep)
    full = math.ceil(model.num_full_attention_layers / dep.pp)
    sliding = math.ceil(model.num_sliding_layers / dep.pp)
    window = model.sliding_window or 0
    return per * (full * context + sliding * min(context, window))


@dataclass(frozen=True, kw_only=True)
class MemoryPlan:
    capacity: float          # bytes per accelerator usable by the engine
    weights: float           # bytes per accelerator
    workspace: float
    kv_free: float           # bytes per accelerator left for the KV cache (may be < 0)
    kv_per_seq: float        # bytes per sequence at the planning context
    max_seqs_per_instance: float  # sequences one model instance can hold

    @property
    def fits(self) -> bool:
        return self.kv_free > 0 and self.max_seqs_per_instance >= 1

    @property
    def shortfall(self) -> float:
        """Bytes per accelerator missing to hold the weights plus one sequence."""
        return max(0.0, self.weights + self.workspace + self.kv_per_seq - self.capacity)


def plan_memory(model: ModelSpec, dep: Deployment, *, memory: float, mem_fraction: float,
                workspace: float, context: float) -> MemoryPlan:
    """How many sequences of ``context`` tokens one instance holds.

    With attention data parallelism each rank keeps the KV of its own
    sequences only, so an instance holds ``attn_dp`` times the per-rank count.
    """
    cap = memory * mem_fraction
    w = weights_per_gpu(model, dep).total
    kv_free = cap - w - workspace
    per_seq = kv_bytes_per_sequence(model, dep, context)
    seqs = max(0.0, kv_free) / per_seq * dep.attn_dp if per_seq > 0 else float("inf")
    return MemoryPlan(capacity=cap, weights=w, workspace=workspace, kv_free=kv_free, kv_per_seq=per_seq,
                      max_seqs_per_instance=seqs)
