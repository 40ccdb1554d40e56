"""The :class:`ModelSpec` dataclass: the structural numbers of a decoder-only
transformer that the performance model needs, and the parameter counts derived from
them (parsed from a Hugging Face ``config.json`` by :mod:`suanli.specs.model_parse`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_FAMILIES = {
    "llama": "Llama", "llama4_text": "Llama 4", "mistral": "Mistral", "mixtral": "Mixtral (MoE)",
    "qwen2": "Qwen2/2.5", "qwen3": "Qwen3", "qwen2_moe": "Qwen2 MoE", "qwen3_moe": "Qwen3 MoE",
    "qwen3_next": "Qwen3-Next (hybrid linear attention)", "gpt_oss": "gpt-oss", "deepseek_v2": "DeepSeek-V2",
    "deepseek_v3": "DeepSeek-V3", "deepseek_v32": "DeepSeek-V3.2 (sparse attention)", "kimi_k2": "Kimi K2",
    "glm4_moe": "GLM-4.5", "minimax_m2": "MiniMax-M2", "minimax": "MiniMax",
}


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Structural description of a decoder-only transformer.

    Widths are element counts, not bytes.  ``attention`` is ``"gqa"`` (covers
    MHA and MQA) or ``"mla"`` (DeepSeek multi-head latent attention).
    """

    id: str
    model_type: str
    origin: str
    hidden_size: int
    num_layers: int
    vocab_size: int
    tie_word_embeddings: bool
    num_heads: int
    num_kv_heads: int
    head_dim: int
    attention: str = "gqa"
    attention_bias: bool = False      # q/k/v (and o, for gpt-oss) biases
    o_bias: bool = False
    qk_norm: bool = False             # Qwen3 per-head RMSNorm on q and k
    attention_sinks: bool = False     # gpt-oss learned sink logits per head
    # MLA only
    q_lora_rank: int | None = None
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    # sliding-window layers (gpt-oss): window in tokens and how many layers use it
    sliding_window: int | None = None
    num_sliding_layers: int = 0
    # MLP / MoE
    intermediate_size: int = 0        # dense MLP width (dense layers)
    num_experts: int = 0              # routed experts (0 = dense model)
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    num_shared_experts: int = 0
    shared_expert_intermediate_size: int = 0
    num_dense_layers: int = 0         # leading dense layers of an MoE model
    expert_bias: bool = False         # gpt-oss per-expert biases
    router_bias: bool = False
    native_weight_dtype: str = "bf16"  # as published (quantization_config / torch_dtype)
    max_position_embeddings: int = 0
    extra_layers_ignored: int = 0      # e.g. DeepSeek MTP layers, not served by default
    # local attention kind of the ``num_sliding_layers`` layers: "sliding" (a window of the
    # last tokens, gpt-oss) or "chunked" (Llama 4: attention inside fixed chunks of
    # ``sliding_window`` tokens; a chunk's KV is all a layer keeps)
    local_attention: str = "sliding"
    qk_norm_params: int | None = None  # per layer when not 2 x head_dim (MiniMax-M2: per-layer q/k norms)
    attn_output_gate: bool = False     # Qwen3-Next: q_proj also yields a sigmoid gate on the output
    shared_expert_gate: bool = False   # Qwen2-MoE / Qwen3-Next: Linear(h, 1) gate on the shared expert
    # linear-attention layers (Qwen3-Next Gated DeltaNet): a constant recurrent state per
    # sequence instead of a growing KV cache
    num_linear_layers: int = 0
    linear_attention: str = ""         # "gated_deltanet"
    linear_k_heads: int = 0
    linear_v_heads: int = 0
    linear_k_dim: int = 0
    linear_v_dim: int = 0
    linear_conv_kernel: int = 0
    # DeepSeek sparse attention (DSA, DeepSeek-V3.2): a lightning indexer scores every cached
    # token, MLA then attends to the ``index_topk`` best
    index_heads: int = 0
    index_head_dim: int = 0
    index_topk: int = 0
    # per-layer plan as parsed (attention kind, MLP kind), e.g. ("linear", "moe")
    layer_plan_raw: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    # ---- derived structure -------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def num_moe_layers(self) -> int:
        return self.num_layers - self.num_dense_layers if self.is_moe else 0

    @property
    def num_full_attention_layers(self) -> int:
        """Layers whose KV cache grows with the whole context."""
        return self.num_layers - self.num_sliding_layers - self.num_linear_layers

    @property
    def attention_label(self) -> str:
        """Short description of the attention layers ("gqa", "mla+dsa", "gqa+chunked", ...)."""
        label = self.attention + ("+dsa" if self.index_topk else "")
        if self.num_sliding_layers:
            label += f"+{self.local_attention}"
        if self.num_linear_layers:
            label += f"+{self.linear_attention or 'linear'}"
        return label

    @property
    def linear_state_elements(self) -> int:
        """Recurrent state of one sequence in one linear-attention layer (whole model, before
        TP): ``v_heads x k_dim x v_dim`` for the delta-rule state plus the short convolution's
        last ``kernel - 1`` inputs of q, k and v (Gated DeltaNet, arXiv:2412.06464)."""
        if not self.num_linear_layers:
            return 0
        conv_dim = 2 * self.linear_k_heads * self.linear_k_dim + self.linear_v_heads * self.linear_v_dim
        return (self.linear_v_heads * self.linear_k_dim * self.linear_v_dim
                + conv_dim * max(0, self.linear_conv_kernel - 1))

    @property
    def family(self) -> str:
        """Model family by ``model_type`` (the type itself when unknown)."""
        return _FAMILIES.get(self.model_type, self.model_type)

    def layer_plan(self) -> list[dict[str, Any]]:
        """Runs of identical layers: ``[{"first": 0, "last": 2, "attention": "full",
        "mlp": "dense"}, ...]`` (layer indices inclusive, from 0)."""
        plan = self.layer_plan_raw or self._default_plan()
        runs: list[dict[str, Any]] = []
        for i, (attn, mlp) in enumerate(plan):
            if runs and runs[-1]["attention"] == attn and runs[-1]["mlp"] == mlp and runs[-1]["last"] == i - 1:
                runs[-1]["last"] = i
            else:
                runs.append({"first": i, "last": i, "attention": attn, "mlp": mlp})
        return runs

    def _default_plan(self) -> tuple[tuple[str, str], ...]:
        dense = self.num_dense_layers if self.is_moe else self.num_layers
        local = self.num_sliding_layers
        return tuple(("full" if i < self.num_layers - local else self.local_attention,
                      "dense" if i < dense else "moe") for i in range(self.num_layers))

    @property
    def q_head_dim(self) -> int:
        """Per-head width of queries/keys used in the QK product."""
        if self.attention == "mla":
            return self.qk_nope_head_dim + self.qk_rope_head_dim
        return self.head_dim

    @property
    def kv_elements_per_token_per_layer(self) -> int:
        """KV-cache elements stored per token and layer (whole model, before TP)."""
        if self.attention == "mla":
            return self.kv_lora_rank + self.qk_rope_head_dim
        return 2 * self.num_kv_heads * self.head_dim

    # ---- parameter counts --------------------------------------------------
    @property
    def attn_params_per_layer(self) -> int:
        h = self.hidden_size
        if self.attention == "mla":
            nh = self.num_heads
            qk = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank:
                q = h * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * nh * qk
            else:
                q = h * nh * qk
            kv_a = h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank
            kv_b = self.kv_lora_rank * nh * (self.qk_nope_head_dim + self.v_head_dim)
            o = nh * self.v_head_dim * h
            return q + kv_a + kv_b + o
        q = h * self.num_heads * self.head_dim * (2 if self.attn_output_gate else 1)
        kv = 2 * h * self.num_kv_heads * self.head_dim
        o = self.num_heads * self.head_dim * h
        bias = 0
        if self.attention_bias:
            bias += (self.num_heads + 2 * self.num_kv_heads) * self.head_dim
        if self.o_bias:
            bias += h
        norm = 0
        if self.qk_norm:
            norm = 2 * self.head_dim if self.qk_norm_params is None else self.qk_norm_params
        sinks = self.num_heads if self.attention_sinks else 0
        return q + kv + o + bias + norm + sinks

    @property
    def indexer_params_per_layer(self) -> int:
        """DSA lightning indexer (DeepSeek-V3.2 ``Indexer``): ``wq_b`` from the query latent,
        ``wk`` and ``weights_proj`` from the hidden state, and a LayerNorm (weight + bias) on
        the index key."""
        if not self.index_topk:
            return 0
        hi, di = self.index_heads, self.index_head_dim
        q_in = self.q_lora_rank or self.hidden_size
        return q_in * hi * di + self.hidden_size * di + 2 * di + self.hidden_size * hi

    @property
    def linear_attn_params_per_layer(self) -> int:
        """Gated DeltaNet layer (transformers ``Qwen3NextGatedDeltaNet``): in_proj_qkvz
        (q, k, v and the output gate z), in_proj_ba (beta and alpha per value head), a
        depthwise causal conv over q, k, v (no bias), dt_bias and A_log per value head, a
        gated RMSNorm over one value head, and out_proj."""
        if not self.num_linear_layers:
            return 0
        h = self.hidden_size
        kd = self.linear_k_heads * self.linear_k_dim
        vd = self.linear_v_heads * self.linear_v_dim
        in_proj = h * (2 * kd + 2 * vd) + h * 2 * self.linear_v_heads
        conv = (2 * kd + vd) * self.linear_conv_kernel
        return in_proj + conv + 2 * self.linear_v_heads + self.linear_v_dim + vd * h

    @property
    def attn_params_all_layers(self) -> int:
        """Attention (or linear-attention) parameters of every layer together."""
        softmax_layers = self.num_layers - self.num_linear_layers
        return (softmax_layers * (self.attn_params_per_layer + self.indexer_params_per_layer)
                + self.num_linear_layers * self.linear_attn_params_per_layer)

    @property
    def attn_replicated_params_per_layer(self) -> int:
        """Attention weights every tensor-parallel rank holds whole: the MLA
        down-projections (q_a, kv_a with their norms) are not split by TP in
        vLLM / SGLang.  0 for GQA."""
        if self.attention != "mla":
            return 0
        h = self.hidden_size
        q = (h * self.q_lora_rank + self.q_lora_rank) if self.q_lora_rank else 0
        return q + h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank

    @property
    def dense_mlp_params(self) -> int:
        """Gated (SwiGLU) MLP: gate, up and down projections."""
        return 3 * self.hidden_size * self.intermediate_size

    @property
    def expert_params(self) -> int:
        """Parameters of one routed expert."""
        p = 3 * self.hidden_size * self.moe_intermediate_size
        if self.expert_bias:
            p += 2 * self.moe_intermediate_size + self.hidden_size
        return p

    @property
    def shared_expert_params(self) -> int:
        gate = self.hidden_size if self.shared_expert_gate and self.shared_expert_intermediate_size else 0
        return 3 * self.hidden_size * self.shared_expert_intermediate_size + gate

    @property
    def router_params(self) -> int:
        if not self.is_moe:
            return 0
        return self.hidden_size * self.num_experts + (self.num_experts if self.router_bias else 0)

    @property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def lm_head_params(self) -> int:
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    @property
    def norm_params(self) -> int:
        return (2 * self.num_layers + 1) * self.hidden_size

    @property
    def moe_layer_params_total(self) -> int:
        return self.num_experts * self.expert_params + self.shared_expert_params + self.router_params

    @property
    def moe_layer_params_active(self) -> int:
        return self.experts_per_token * self.expert_params + self.shared_expert_params + self.router_params

    @property
    def params_total(self) -> int:
        mlp = self.num_dense_layers * self.dense_mlp_params if self.is_moe else self.num_layers * self.dense_mlp_params
        moe = self.num_moe_layers * self.moe_layer_params_total
        return (self.attn_params_all_layers + mlp + moe + self.embedding_params
                + self.lm_head_params + self.norm_params)

    @property
    def params_active(self) -> int:
        """Parameters used per token: routed experts top-k only, and the input
        embedding excluded (a table lookup, not a matmul) -- the convention of
        the gpt-oss model card (116.8 B total / 5.1 B active)."""
        mlp = self.num_dense_layers * self.dense_mlp_params if self.is_moe else self.num_layers * self.dense_mlp_params
        moe = self.num_moe_layers * self.moe_layer_params_active
        return (self.attn_params_all_layers + mlp + moe
                + self.lm_head_params + self.norm_params)

    @property
    def params_expert_total(self) -> int:
        """Routed-expert parameters of the whole model (what EP shards)."""
        return self.num_moe_layers * self.num_experts * self.expert_params

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "model_type": self.model_type, "attention": self.attention,
            "attention_type": self.attention_label,
            "layers": self.num_layers, "hidden_size": self.hidden_size,
            "heads": self.num_heads, "kv_heads": self.num_kv_heads, "head_dim": self.head_dim,
            "experts": self.num_experts, "experts_per_token": self.experts_per_token,
            "params_total_b": round(self.params_total / 1e9, 3),
            "params_active_b": round(self.params_active / 1e9, 3),
            "native_weight_dtype": self.native_weight_dtype, "origin": self.origin,
            "notes": list(self.notes),
        }
