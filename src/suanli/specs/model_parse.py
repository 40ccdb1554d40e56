"""Parsing a Hugging Face ``config.json`` into a :class:`~suanli.specs.model_spec.ModelSpec`
(see :mod:`suanli.specs.model` for the supported families)."""

from __future__ import annotations

from typing import Any, Mapping

from suanli.errors import ConfigError, UnsupportedArchitecture
from suanli.specs.model_spec import ModelSpec


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
    """Build a :class:`ModelSpec` from a parsed ``config.json`` mapping.  A field of the wrong
    type anywhere is a :class:`~suanli.errors.ConfigError`, never a traceback."""
    try:
        return _parse(cfg, model_id=model_id, origin=origin)
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"{model_id}: malformed config.json ({type(exc).__name__}: {exc})") from None


def _parse(cfg: Mapping[str, Any], *, model_id: str, origin: str) -> ModelSpec:
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
        if span is None:
            raise ConfigError(f"{where}: {local} attention layers without a window size "
                              f"(attention_chunk_size)", field="attention_chunk_size")
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


_KNOWN_TYPES = frozenset({
    "llama", "mistral", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "qwen3_next", "mixtral", "gpt_oss",
    "deepseek_v2", "deepseek_v3", "deepseek_v32", "kimi_k2", "llama4_text", "glm4_moe", "minimax_m2", "minimax",
})
