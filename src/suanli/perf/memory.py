"""Accelerator memory: weights, KV cache and workspace per accelerator, and how
many sequences fit.

All functions are pure and take a :class:`~suanli.perf.layout.Layout`
(arrays: many layouts at once; 0-d arrays for one deployment); sizes are bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from suanli.perf.layout import Layout
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec

STATE_BYTES = 2.0        # linear-attention recurrent state, 16 bit
INDEX_SCALE_BYTES = 4.0  # FP32 scale of one DSA index key (per token and layer)


@dataclass(frozen=True, kw_only=True)
class WeightSplit:
    """Weight bytes held by one accelerator of the busiest pipeline stage."""

    attention: Any
    dense_mlp: Any
    shared_experts: Any
    routed_experts: Any
    embeddings: Any   # input embedding + LM head (kept in 16-bit by quantised checkpoints)
    other: Any        # norms, router

    @property
    def total(self) -> Any:
        return (self.attention + self.dense_mlp + self.shared_experts + self.routed_experts
                + self.embeddings + self.other)


def weights_per_gpu(model: ModelSpec, lay: Layout) -> WeightSplit:
    """Weights on one accelerator.  Attention is split by the attention TP
    width (replicated across attention-DP ranks; MLA down-projections are
    replicated on every rank); dense MLP and shared experts
    by the TP group; routed experts across the MoE group (EP or TP);
    embeddings vocab-parallel by attention TP; layers by PP (the first stage
    holds the embedding, the last the LM head; we report the larger)."""
    layers = np.ceil(model.num_layers / lay.pp)
    moe_layers = np.ceil(model.num_moe_layers / lay.pp)
    dense_layers = layers - moe_layers if model.is_moe else layers
    group = lay.moe_group
    rep = model.attn_replicated_params_per_layer
    if model.num_linear_layers or model.index_topk:
        # softmax layers (with the DSA indexer, replicated like the MLA down-projections) and
        # linear-attention layers (split by heads like attention), in the stage's proportion
        soft = model.num_layers - model.num_linear_layers
        per_model = (soft * (rep + model.indexer_params_per_layer + (model.attn_params_per_layer - rep) / lay.attn_tp)
                     + model.num_linear_layers * model.linear_attn_params_per_layer / lay.attn_tp)
        attn = layers / model.num_layers * per_model * lay.lin_bytes
    else:
        attn = layers * (rep + (model.attn_params_per_layer - rep) / lay.attn_tp) * lay.lin_bytes
    dense = dense_layers * model.dense_mlp_params * lay.lin_bytes / group
    shared = moe_layers * model.shared_expert_params * lay.lin_bytes / group
    # routed experts: ceil(E / ep) per EP rank (redundant experts fill an EP size that does not
    # divide E), each split over the group's remaining TP ranks
    moe_ep = np.where(lay.ep > 1, lay.ep, 1.0)
    routed = (moe_layers * np.ceil(model.num_experts / moe_ep) * model.expert_params * lay.exp_bytes
              / (group / moe_ep))
    emb_params = np.where(lay.pp > 1, max(model.embedding_params, model.lm_head_params),
                          model.embedding_params + model.lm_head_params)
    emb = emb_params * DType.BF16.bytes / lay.attn_tp
    other = layers * (2 * model.hidden_size + model.hidden_size * model.num_experts) * DType.BF16.bytes
    return WeightSplit(attention=attn, dense_mlp=dense, shared_experts=shared,
                       routed_experts=routed, embeddings=emb, other=other)


def kv_bytes_per_token_layer(model: ModelSpec, lay: Layout) -> Any:
    """KV-cache bytes one token occupies in one layer on one accelerator.

    GQA: K and V heads are split over the attention TP ranks; when TP exceeds
    the KV heads each rank keeps one (replicated) head.  MLA: the compressed
    latent (kv_lora_rank + rope dims) is not split by TP -- every rank holds
    it (vLLM/SGLang MLA backends)."""
    if model.attention == "mla":
        # DSA (DeepSeek-V3.2) also caches one FP8 index key per token and layer with its FP32
        # scale (vLLM's indexer cache: index_head_dim + 4 bytes), whole on every rank
        if model.index_topk:
            return model.kv_elements_per_token_per_layer * lay.kv_bytes + model.index_head_dim + INDEX_SCALE_BYTES
        return model.kv_elements_per_token_per_layer * lay.kv_bytes
    heads_per_rank = np.maximum(1.0, model.num_kv_heads / lay.attn_tp)
    return 2 * heads_per_rank * model.head_dim * lay.kv_bytes


def kv_bytes_per_sequence(model: ModelSpec, lay: Layout, context: Any) -> Any:
    """KV bytes of one sequence of ``context`` tokens on one accelerator of its
    pipeline stage; sliding-window layers keep at most ``sliding_window`` tokens."""
    per = kv_bytes_per_token_layer(model, lay)
    full = np.ceil(model.num_full_attention_layers / lay.pp)
    sliding = np.ceil(model.num_sliding_layers / lay.pp)
    window = model.sliding_window or 0
    kv = per * (full * context + sliding * np.minimum(context, window))
    if model.num_linear_layers:
        kv = kv + state_bytes_per_sequence(model, lay)
    return kv


def state_bytes_per_sequence(model: ModelSpec, lay: Layout) -> Any:
    """Constant recurrent state of one sequence in the linear-attention layers of one
    pipeline stage on one accelerator (Gated DeltaNet: split by value heads over the
    attention TP ranks; kept in 16 bit whatever the KV-cache dtype, as vLLM's default
    ``mamba_ssm_cache_dtype=auto`` does for a BF16 model).  0 without such layers."""
    if not model.num_linear_layers:
        return 0.0
    layers = np.ceil(model.num_linear_layers / lay.pp)
    ranks = np.minimum(lay.attn_tp, max(model.linear_v_heads, 1))
    return layers * model.linear_state_elements / ranks * STATE_BYTES


@dataclass(frozen=True, kw_only=True)
class MemoryPlan:
    capacity_bytes: Any    # per accelerator, usable by the engine
    weights_bytes: Any     # per accelerator
    workspace_bytes: Any   # per accelerator (activations, CUDA graphs, ...)
    kv_free_bytes: Any     # per accelerator, left for the KV cache (may be < 0)
    kv_bytes_per_seq: Any  # per sequence at the planning context
    max_seqs_per_instance: Any  # sequences one model instance can hold

    @property
    def fits(self) -> Any:
        ok = (np.asarray(self.kv_free_bytes) > 0) & (np.asarray(self.max_seqs_per_instance) >= 1)
        return bool(ok) if ok.ndim == 0 else ok

    @property
    def shortfall_bytes(self) -> Any:
        """Bytes per accelerator missing to hold the weights plus one sequence."""
        return np.maximum(0.0, self.weights_bytes + self.workspace_bytes + self.kv_bytes_per_seq
                          - self.capacity_bytes)


def plan_memory(model: ModelSpec, lay: Layout, *, memory: float, mem_fraction: float,
                workspace: float, context: Any, weights: Any = None) -> MemoryPlan:
    """How many sequences of ``context`` tokens one instance holds.

    With attention data parallelism each rank keeps the KV of its own
    sequences only, so an instance holds ``attn_dp`` times the per-rank count.
    ``weights`` (bytes per accelerator) skips recomputing them.
    """
    cap = memory * mem_fraction
    w = weights_per_gpu(model, lay).total if weights is None else weights
    kv_free = cap - w - workspace
    per_seq = kv_bytes_per_sequence(model, lay, context)
    seqs = np.maximum(0.0, kv_free) / np.maximum(per_seq, 1e-30) * lay.attn_dp
    return MemoryPlan(capacity_bytes=cap, weights_bytes=w, workspace_bytes=workspace, kv_free_bytes=kv_free,
                      kv_bytes_per_seq=per_seq, max_seqs_per_instance=seqs)
