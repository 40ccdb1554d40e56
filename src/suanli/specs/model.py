"""Transformer models described by a Hugging Face ``config.json``.

A :class:`ModelSpec` keeps only the structural numbers a performance model needs
(layer counts, widths, attention kind, MoE routing).  Parameter counts are
derived from them and checked in the tests against the totals the model
authors publish.

Supported families (by ``model_type``):

* dense GQA/MHA: ``llama``, ``qwen2``, ``qwen3``, ``mistral``;
* MoE with GQA: ``qwen3_moe``, ``mixtral``, ``gpt_oss`` (alternating
  sliding-window / full attention layers, per-expert biases);
* MLA + MoE with shared experts and dense first layers: ``deepseek_v3``,
  ``kimi_k2`` (and ``deepseek_v2``).

Unknown ``model_type`` values are read as dense or MoE GQA models when the
standard fields are present, so a new Llama-like model needs no code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from suanli.errors import ConfigError, UnknownModel, UnsupportedArchitecture
from suanli.files import parse_json
from suanli.specs.model_files import (MODELS_PATH_ENV, find_local_config, hf_cache_dirs, model_id_from_path,
                                      models_path_dirs, snapshot_config)



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


# ---------------------------------------------------------------------------
# parsing


def _req(cfg: Mapping[str, Any], key: str, where: str, *alts: str) -> Any:
    for k in (key, *alts):
        if k in cfg and cfg[k] is not None:
            return cfg[k]
    raise ConfigError(f"{where}: config.json is missing required field {key!r}", field=key)


def _int(cfg: Mapping[str, Any], key: str, where: str, *alts: str, default: int | None = None) -> int:
    if default is not None and not any(k in cfg and cfg[k] is not None for k in (key, *alts)):
        return default
    value = _req(cfg, key, where, *alts)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < 0:
        raise ConfigError(f"{where}: field {key!r} must be a non-negative integer, got {value!r}", field=key)
    return int(value)


def _native_dtype(cfg: Mapping[str, Any], where: str) -> str:
    qc = cfg.get("quantization_config") or {}
    if not isinstance(qc, Mapping):
        raise ConfigError(f"{where}: field 'quantization_config' must be an object", field="quantization_config")
    method = str(qc.get("quant_method", "")).lower()
    if method == "fp8":
        return "fp8"
    if method == "mxfp4":
        return "mxfp4"
    if method in {"awq", "gptq"}:
        return "int4"
    dt = str(cfg.get("torch_dtype") or cfg.get("dtype") or "bfloat16").lower()
    return {"float16": "fp16", "float32": "fp32"}.get(dt, "bf16")


# Config fields of architectures the engine does not model: field -> what it means.  A
# config carrying one is refused (UnsupportedArchitecture) rather than read as a dense model.
_UNMODELLED_FIELDS = {
    "hybrid_override_pattern": "hybrid Mamba/attention layers (Nemotron-H)",
    "ssm_state_size": "state-space (Mamba) layers",
    "mamba_d_state": "state-space (Mamba) layers",
    "linear_attn_config": "linear-attention layers (Kimi Linear)",
    "sliding_window_pattern": "interleaved local/global attention (Gemma 3)",
    "cross_attention_layers": "cross-attention layers (Llama 3.2 Vision)",
    "block_configs": "per-layer heterogeneous blocks (Nemotron NAS)",
    "compress_ratios": "compressed sparse attention (DeepSeek-V4)",
}
# model types modelled beyond the generic dense/MoE GQA reading
_LINEAR_TYPES = {"qwen3_next"}
_LAYER_TYPES = {"full_attention": "full", "sliding_attention": "sliding", "chunked_attention": "chunked",
                "linear_attention": "linear"}


def _unsupported(where: str, mtype: str, key: str, what: str) -> UnsupportedArchitecture:
    return UnsupportedArchitecture(
        f"{where}: model_type {mtype or '(none)'!r} uses {what} (config field {key!r}), which suanli does not "
        f"model yet; refusing rather than approximating it as a dense transformer", field=key)


def _check_supported(cfg: Mapping[str, Any], mtype: str, where: str) -> None:
    for key, what in _UNMODELLED_FIELDS.items():
        if cfg.get(key) not in (None, [], {}, 0, False):
            raise _unsupported(where, mtype, key, what)
    if cfg.get("is_encoder_decoder"):
        raise _unsupported(where, mtype, "is_encoder_decoder", "an encoder-decoder stack")
    attn_types = cfg.get("attn_type_list")  # MiniMax: 0 = lightning (linear) attention, 1 = softmax
    if isinstance(attn_types, list) and any(int(t) != 1 for t in attn_types):
        raise _unsupported(where, mtype, "attn_type_list", "lightning linear-attention layers (MiniMax-01)")
    if mtype not in _LINEAR_TYPES:
        for key in ("full_attention_interval", "linear_num_value_heads"):
            if cfg.get(key):
                raise _unsupported(where, mtype, key, "linear-attention layers of an unknown kind")
    layer_types = cfg.get("layer_types")
    if isinstance(layer_types, list):
        bad = sorted({str(t) for t in layer_types} - set(_LAYER_TYPES))
        if bad:
            raise _unsupported(where, mtype, "layer_types", f"layers of type {', '.join(bad)}")
        if "linear_attention" in layer_types and mtype not in _LINEAR_TYPES:
            raise _unsupported(where, mtype, "layer_types", "linear-attention layers of an unknown kind")


def parse_config(cfg: Mapping[str, Any], *, model_id: str, origin: str) -> ModelSpec:
    """Build a :class:`ModelSpec` from a parsed ``config.json`` mapping."""
    where = model_id
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{where}: config.json must be a JSON object")
    outer = cfg
    if "text_config" in cfg and "hidden_size" not in cfg:  # multimodal wrappers
        cfg = cfg["text_config"]
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"{where}: field 'text_config' must be an object", field="text_config")
        if "torch_dtype" not in cfg and "dtype" not in cfg and "quantization_config" not in cfg:
            cfg = {**cfg, **{k: outer[k] for k in ("torch_dtype", "dtype", "quantization_config") if k in outer}}
    mtype = str(cfg.get("model_type", "") or outer.get("model_type", "")).lower()
    _check_supported(cfg, mtype, where)
    h = _int(cfg, "hidden_size", where, "n_embd", "d_model")
    layers = _int(cfg, "num_hidden_layers", where, "n_layer", "num_layers")
    heads = _int(cfg, "num_attention_heads", where, "n_head")
    vocab = _int(cfg, "vocab_size", where)
    kv_heads = _int(cfg, "num_key_value_heads", where, default=heads)
    head_dim = _int(cfg, "head_dim", where, default=h // heads if heads else 0)
    for name, value in (("hidden_size", h), ("num_hidden_layers", layers), ("num_attention_heads", heads),
                        ("vocab_size", vocab), ("num_key_value_heads", kv_heads), ("head_dim", head_dim)):
        if value == 0:
            raise ConfigError(f"{where}: field {name!r} must be > 0", field=name)
    if "kv_lora_rank" not in cfg and heads % kv_heads:
        raise ConfigError(f"{where}: num_key_value_heads {kv_heads} does not divide num_attention_heads {heads}",
                          field="num_key_value_heads")
    max_pos = cfg.get("max_position_embeddings") or 0
    if isinstance(max_pos, bool) or not isinstance(max_pos, (int, float)):
        raise ConfigError(f"{where}: field 'max_position_embeddings' must be an integer, got {max_pos!r}",
                          field="max_position_embeddings")
    common: dict[str, Any] = dict(
        id=model_id, model_type=mtype or "unknown", origin=origin, hidden_size=h, num_layers=layers,
        vocab_size=vocab, tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        num_heads=heads, num_kv_heads=kv_heads, head_dim=head_dim,
        native_weight_dtype=_native_dtype(cfg, where),
        max_position_embeddings=int(max_pos),
    )
    notes: list[str] = []
    attn_plan = ["full"] * layers

    if "kv_lora_rank" in cfg and cfg.get("kv_lora_rank"):  # MLA (DeepSeek-V2/V3/R1/V3.2, Kimi-K2)
        common.update(
            attention="mla", num_kv_heads=heads,
            q_lora_rank=cfg.get("q_lora_rank") or None,
            kv_lora_rank=_int(cfg, "kv_lora_rank", where),
            qk_nope_head_dim=_int(cfg, "qk_nope_head_dim", where),
            qk_rope_head_dim=_int(cfg, "qk_rope_head_dim", where),
            v_head_dim=_int(cfg, "v_head_dim", where),
            head_dim=_int(cfg, "v_head_dim", where),
        )
        if cfg.get("index_topk"):  # DeepSeek-V3.2 sparse attention
            common.update(index_topk=_int(cfg, "index_topk", where), index_heads=_int(cfg, "index_n_heads", where),
                          index_head_dim=_int(cfg, "index_head_dim", where))
            notes.append(f"DeepSeek sparse attention: MLA attends to the top {common['index_topk']} tokens the "
                         "lightning indexer selects; the indexer itself scans the whole context (FP8 keys)")
    elif cfg.get("index_topk"):
        raise _unsupported(where, mtype, "index_topk", "sparse attention without MLA")
    else:
        bias = cfg.get("attention_bias")
        if bias is None:
            bias = mtype == "qwen2"  # Qwen2/2.5 have q/k/v biases without a config flag
        common["attention_bias"] = bool(bias)
        common["o_bias"] = bool(bias) and mtype == "gpt_oss"
        # Qwen3 per-head q/k RMSNorm; GLM-4.5 / MiniMax-M2 say so with use_qk_norm.  Llama 4's
        # use_qk_norm is a weightless L2 norm (no parameters).
        common["qk_norm"] = mtype.startswith("qwen3") or (bool(cfg.get("use_qk_norm")) and mtype != "llama4_text")
        if common["qk_norm"] and cfg.get("qk_norm_type") == "per_layer":  # MiniMax-M2: norms over all heads
            common["qk_norm_params"] = (heads + kv_heads) * head_dim
        common["attention_sinks"] = mtype == "gpt_oss"
        common["attn_output_gate"] = mtype == "qwen3_next"
    mtp = int(cfg.get("num_nextn_predict_layers") or cfg.get("num_mtp_modules") or 0)
    if mtp:
        common["extra_layers_ignored"] = mtp
        notes.append(f"{mtp} multi-token-prediction layer(s) not counted (not served unless speculative decoding)")

    # local attention: explicit layer_types (gpt-oss, newer Qwen), use_sliding_window, or
    # Llama 4's chunked attention on the RoPE layers
    layer_types = cfg.get("layer_types")
    window = cfg.get("sliding_window")
    if isinstance(layer_types, list):
        if len(layer_types) != layers:
            raise ConfigError(f"{where}: layer_types has {len(layer_types)} entries for {layers} layers",
                              field="layer_types")
        attn_plan = [_LAYER_TYPES[str(t)] for t in layer_types]
        if "sliding" in attn_plan and not window:  # as before: no window, no sliding layers
            attn_plan = ["full" if a == "sliding" else a for a in attn_plan]
    elif window and cfg.get("use_sliding_window"):
        max_window_layers = int(cfg.get("max_window_layers") or 0)
        attn_plan = ["sliding" if i >= max_window_layers else "full" for i in range(layers)]
    if mtype == "llama4_text" and cfg.get("attention_chunk_size") and not isinstance(layer_types, list):
        rope = cfg.get("no_rope_layers") or [int((i + 1) % int(cfg.get("no_rope_layer_interval") or 4) != 0)
                                            for i in range(layers)]
        if len(rope) != layers:
            raise ConfigError(f"{where}: no_rope_layers has {len(rope)} entries for {layers} layers",
                              field="no_rope_layers")
        attn_plan = ["chunked" if r else "full" for r in rope]
    elif cfg.get("attention_chunk_size") and "chunked" not in attn_plan:
        raise _unsupported(where, mtype, "attention_chunk_size", "chunked local attention outside Llama 4")
    if mtype in _LINEAR_TYPES and not isinstance(layer_types, list):
        interval = _int(cfg, "full_attention_interval", where)
        attn_plan = ["full" if (i + 1) % max(interval, 1) == 0 else "linear" for i in range(layers)]
    kinds = set(attn_plan) - {"full"}
    if len(kinds - {"linear"}) > 1:
        raise _unsupported(where, mtype, "layer_types", "both sliding-window and chunked attention layers")
    local = next((k for k in ("sliding", "chunked") if k in kinds), None)
    if local:
        span = window if local == "sliding" else cfg.get("attention_chunk_size")
        common.update(sliding_window=int(span), num_sliding_layers=attn_plan.count(local), local_attention=local)
    if "linear" in kinds:
        if mtype not in _LINEAR_TYPES:
            raise _unsupported(where, mtype, "layer_types", "linear-attention layers of an unknown kind")
        common.update(num_linear_layers=attn_plan.count("linear"), linear_attention="gated_deltanet",
                      linear_k_heads=_int(cfg, "linear_num_key_heads", where),
                      linear_v_heads=_int(cfg, "linear_num_value_heads", where),
                      linear_k_dim=_int(cfg, "linear_key_head_dim", where),
                      linear_v_dim=_int(cfg, "linear_value_head_dim", where),
                      linear_conv_kernel=_int(cfg, "linear_conv_kernel_dim", where))

    mlp_plan = ["dense"] * layers
    n_experts = int(cfg.get("n_routed_experts") or cfg.get("num_experts") or cfg.get("num_local_experts") or 0)
    if n_experts:
        topk = _int(cfg, "num_experts_per_tok", where, "experts_per_token", "moe_topk")
        if topk == 0 or topk > n_experts:
            raise ConfigError(f"{where}: num_experts_per_tok={topk} must be in 1..{n_experts}",
                              field="num_experts_per_tok")
        moe_inter = _int(cfg, "moe_intermediate_size", where, "intermediate_size")
        n_shared = int(cfg.get("n_shared_experts") or 0)
        shared_inter = int(cfg.get("shared_expert_intermediate_size") or cfg.get("shared_intermediate_size") or 0)
        dense_inter = int(cfg.get("intermediate_size") or 0)
        if mtype == "llama4_text":  # one shared expert as wide as a routed one; dense layers use _mlp
            n_shared, shared_inter = 1, moe_inter
            dense_inter = int(cfg.get("intermediate_size_mlp") or 0)
        if n_shared and not shared_inter:
            shared_inter = n_shared * moe_inter
        if shared_inter and not n_shared:
            n_shared = 1
        first_dense = int(cfg.get("first_k_dense_replace") or 0)
        step = int(cfg.get("decoder_sparse_step") or cfg.get("moe_layer_freq") or 1)
        if step != 1:
            raise ConfigError(f"{where}: MoE every {step} layers (decoder_sparse_step/moe_layer_freq) is not supported",
                              field="decoder_sparse_step")
        mlp_only = {int(i) for i in (cfg.get("mlp_only_layers") or [])}
        mlp_plan = ["dense" if i < first_dense or i in mlp_only else "moe" for i in range(layers)]
        interleave = int(cfg.get("interleave_moe_layer_step") or 1)
        if interleave > 1:  # Llama 4 Maverick: MoE on every interleave-th layer (transformers Llama4TextConfig)
            mlp_plan = ["moe" if (i + 1) % interleave == 0 else "dense" for i in range(layers)]
        common.update(
            num_experts=n_experts, experts_per_token=topk, moe_intermediate_size=moe_inter,
            num_shared_experts=n_shared, shared_expert_intermediate_size=shared_inter,
            num_dense_layers=mlp_plan.count("dense"),
            intermediate_size=dense_inter,
            expert_bias=mtype == "gpt_oss", router_bias=mtype == "gpt_oss",
            shared_expert_gate=mtype in ("qwen2_moe", "qwen3_next") and bool(shared_inter),
        )
        if common["num_dense_layers"] and not common["intermediate_size"]:
            raise ConfigError(f"{where}: dense layers need 'intermediate_size'", field="intermediate_size")
    else:
        common["intermediate_size"] = _int(cfg, "intermediate_size", where, "ffn_dim", "n_inner")
        if common["intermediate_size"] == 0:
            raise ConfigError(f"{where}: field 'intermediate_size' must be > 0", field="intermediate_size")
    if mtype and mtype not in _KNOWN_TYPES:
        notes.append(f"model_type {mtype!r} is not one suanli knows; read as a standard "
                     f"{'MoE' if n_experts else 'dense'} transformer from its standard config fields")
    common["layer_plan_raw"] = tuple(zip(attn_plan, mlp_plan))
    common["notes"] = tuple(notes)
    return ModelSpec(**common)


_FAMILIES = {
    "llama": "Llama", "llama4_text": "Llama 4", "mistral": "Mistral", "mixtral": "Mixtral (MoE)",
    "qwen2": "Qwen2/2.5", "qwen3": "Qwen3", "qwen2_moe": "Qwen2 MoE", "qwen3_moe": "Qwen3 MoE",
    "qwen3_next": "Qwen3-Next (hybrid linear attention)", "gpt_oss": "gpt-oss", "deepseek_v2": "DeepSeek-V2",
    "deepseek_v3": "DeepSeek-V3", "deepseek_v32": "DeepSeek-V3.2 (sparse attention)", "kimi_k2": "Kimi K2",
    "glm4_moe": "GLM-4.5", "minimax_m2": "MiniMax-M2", "minimax": "MiniMax",
}
_KNOWN_TYPES = frozenset({
    "llama", "mistral", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "qwen3_next", "mixtral", "gpt_oss",
    "deepseek_v2", "deepseek_v3", "deepseek_v32", "kimi_k2", "llama4_text", "glm4_moe", "minimax_m2", "minimax",
})


# ---------------------------------------------------------------------------
# loading


def _bundled_root() -> Any:
    return resources.files("suanli").joinpath("data").joinpath("models")


@lru_cache(maxsize=1)
def bundled_model_ids() -> tuple[str, ...]:
    """Hugging Face ids (``org/name``) of the configs shipped with suanli."""
    ids = []
    for entry in _bundled_root().iterdir():
        if entry.is_dir() and "__" in entry.name and entry.joinpath("config.json").is_file():
            ids.append(entry.name.replace("__", "/", 1))
    return tuple(sorted(ids))


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _resolve_bundled(name: str) -> str | None:
    ids = bundled_model_ids()
    if name in ids:
        return name
    key = _norm(name)
    for mid in ids:  # full id, case/punctuation-insensitive
        if _norm(mid) == key:
            return mid
    matches = [mid for mid in ids if _norm(mid.split("/", 1)[1]) == key]
    if len(matches) == 1:
        return matches[0]
    return None


@lru_cache(maxsize=64)
def _load_bundled(model_id: str) -> ModelSpec:
    path = _bundled_root().joinpath(model_id.replace("/", "__", 1)).joinpath("config.json")
    return parse_config(json.loads(path.read_text(encoding="utf-8")), model_id=model_id, origin="bundled")


def _load_file(path: Path, text: str, *, model_id: str | None = None, origin: str | None = None) -> ModelSpec:
    if not path.is_file():
        raise UnknownModel(f"model config file not found: {text}")
    try:
        cfg = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{text}: not a readable JSON config ({exc})") from None
    model_id = model_id or model_id_from_path(path)
    try:
        return parse_config(cfg, model_id=model_id, origin=origin or str(path))
    except ConfigError as exc:  # name the file, not just the directory
        raise type(exc)(str(exc).replace(f"{model_id}:", f"{path}:", 1), field=exc.field) from None


def load_config_file(path: str | os.PathLike[str], *, model_id: str | None = None,
                     origin: str | None = None) -> ModelSpec:
    """Parse one ``config.json`` file (``model_id`` defaults to one derived from the path,
    ``origin`` to the path)."""
    p = Path(os.fspath(path))
    return _load_file(p, str(p), model_id=model_id, origin=origin)


def load_model(name: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> ModelSpec:
    """Load a model by bundled id (``Qwen/Qwen3-32B``, ``qwen3-32b``), a ``config.json``
    path, a directory containing one (or an HF-cache ``models--org--name`` folder), or the
    id of a model in ``SUANLI_MODELS_PATH`` or the local Hugging Face cache (see
    :mod:`suanli.specs.model_files`; ``env`` replaces ``os.environ`` there).  The spec's
    ``origin`` says where the config came from."""
    text = os.fspath(name)
    path = Path(text).expanduser()
    if path.is_dir():
        inner = path / "config.json"
        if not inner.is_file() and (path / "snapshots").is_dir():
            inner = snapshot_config(path) or inner
        path = inner
    if path.suffix == ".json" or path.is_file():
        return _load_file(path, text)
    resolved = _resolve_bundled(text)
    if resolved is not None:
        return _load_bundled(resolved)
    local = find_local_config(text, env)
    if local is not None:
        return _load_file(local.path, str(local.path), model_id=local.model_id, origin=local.origin)
    import difflib

    ids = bundled_model_ids()
    close = difflib.get_close_matches(text, ids, n=4, cutoff=0.3)
    close += [m for m in difflib.get_close_matches(text.split("/")[-1], [i.split("/")[1] for i in ids], n=4, cutoff=0.3)
              for m in [next(i for i in ids if i.endswith("/" + m))] if m not in close]
    hint = ", ".join(dict.fromkeys(close)) or ", ".join(ids[:5])
    searched = [str(d) for d in models_path_dirs(env)] + [str(d) for d in hf_cache_dirs(env)]
    raise UnknownModel(f"unknown model {text!r}: not bundled (closest bundled ids: {hint}) and not found in "
                       f"${MODELS_PATH_ENV} or the Hugging Face cache (searched {', '.join(searched)}); "
                       f"pass a path to a Hugging Face config.json or model directory")
