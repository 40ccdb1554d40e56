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

from suanli.errors import ConfigError, UnknownModel
from suanli.files import parse_json



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
        return self.num_layers - self.num_sliding_layers

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
        q = h * self.num_heads * self.head_dim
        kv = 2 * h * self.num_kv_heads * self.head_dim
        o = self.num_heads * self.head_dim * h
        bias = 0
        if self.attention_bias:
            bias += (self.num_heads + 2 * self.num_kv_heads) * self.head_dim
        if self.o_bias:
            bias += h
        norm = 2 * self.head_dim if self.qk_norm else 0
        sinks = self.num_heads if self.attention_sinks else 0
        return q + kv + o + bias + norm + sinks

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
        return 3 * self.hidden_size * self.shared_expert_intermediate_size

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
        return (self.num_layers * self.attn_params_per_layer + mlp + moe + self.embedding_params
                + self.lm_head_params + self.norm_params)

    @property
    def params_active(self) -> int:
        """Parameters used per token: routed experts top-k only, and the input
        embedding excluded (a table lookup, not a matmul) -- the convention of
        the gpt-oss model card (116.8 B total / 5.1 B active)."""
        mlp = self.num_dense_layers * self.dense_mlp_params if self.is_moe else self.num_layers * self.dense_mlp_params
        moe = self.num_moe_layers * self.moe_layer_params_active
        return (self.num_layers * self.attn_params_per_layer + mlp + moe
                + self.lm_head_params + self.norm_params)

    @property
    def params_expert_total(self) -> int:
        """Routed-expert parameters of the whole model (what EP shards)."""
        return self.num_moe_layers * self.num_experts * self.expert_params

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "model_type": self.model_type, "attention": self.attention,
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


def parse_config(cfg: Mapping[str, Any], *, model_id: str, origin: str) -> ModelSpec:
    """Build a :class:`ModelSpec` from a parsed ``config.json`` mapping."""
    where = model_id
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{where}: config.json must be a JSON object")
    if "text_config" in cfg and "hidden_size" not in cfg:  # multimodal wrappers
        cfg = cfg["text_config"]
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"{where}: field 'text_config' must be an object", field="text_config")
    mtype = str(cfg.get("model_type", "")).lower()
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

    if "kv_lora_rank" in cfg and cfg.get("kv_lora_rank"):  # MLA (DeepSeek-V2/V3/R1, Kimi-K2)
        common.update(
            attention="mla", num_kv_heads=heads,
            q_lora_rank=cfg.get("q_lora_rank") or None,
            kv_lora_rank=_int(cfg, "kv_lora_rank", where),
            qk_nope_head_dim=_int(cfg, "qk_nope_head_dim", where),
            qk_rope_head_dim=_int(cfg, "qk_rope_head_dim", where),
            v_head_dim=_int(cfg, "v_head_dim", where),
            head_dim=_int(cfg, "v_head_dim", where),
        )
        mtp = int(cfg.get("num_nextn_predict_layers") or 0)
        if mtp:
            common["extra_layers_ignored"] = mtp
            notes.append(f"{mtp} multi-token-prediction layer(s) not counted (not served unless speculative decoding)")
    else:
        bias = cfg.get("attention_bias")
        if bias is None:
            bias = mtype == "qwen2"  # Qwen2/2.5 have q/k/v biases without a config flag
        common["attention_bias"] = bool(bias)
        common["o_bias"] = bool(bias) and mtype == "gpt_oss"
        common["qk_norm"] = mtype.startswith("qwen3")
        common["attention_sinks"] = mtype == "gpt_oss"

    # sliding-window layers: explicit layer_types (gpt-oss, newer Qwen) or use_sliding_window
    layer_types = cfg.get("layer_types")
    window = cfg.get("sliding_window")
    if isinstance(layer_types, list) and window:
        n_sliding = sum(1 for t in layer_types if "sliding" in str(t))
        if len(layer_types) != layers:
            raise ConfigError(f"{where}: layer_types has {len(layer_types)} entries for {layers} layers",
                              field="layer_types")
        if n_sliding:
            common.update(sliding_window=int(window), num_sliding_layers=n_sliding)
    elif window and cfg.get("use_sliding_window"):
        max_window_layers = int(cfg.get("max_window_layers") or 0)
        n_sliding = max(0, layers - max_window_layers)
        if n_sliding:
            common.update(sliding_window=int(window), num_sliding_layers=n_sliding)

    n_experts = int(cfg.get("n_routed_experts") or cfg.get("num_experts") or cfg.get("num_local_experts") or 0)
    if n_experts:
        topk = _int(cfg, "num_experts_per_tok", where, "experts_per_token", "moe_topk")
        if topk == 0 or topk > n_experts:
            raise ConfigError(f"{where}: num_experts_per_tok={topk} must be in 1..{n_experts}",
                              field="num_experts_per_tok")
        moe_inter = _int(cfg, "moe_intermediate_size", where, "intermediate_size")
        n_shared = int(cfg.get("n_shared_experts") or 0)
        shared_inter = int(cfg.get("shared_expert_intermediate_size") or 0)
        if n_shared and not shared_inter:
            shared_inter = n_shared * moe_inter
        if shared_inter and not n_shared:
            n_shared = 1
        first_dense = int(cfg.get("first_k_dense_replace") or 0)
        step = int(cfg.get("decoder_sparse_step") or cfg.get("moe_layer_freq") or 1)
        if step != 1:
            raise ConfigError(f"{where}: MoE every {step} layers (decoder_sparse_step/moe_layer_freq) is not supported",
                              field="decoder_sparse_step")
        mlp_only = cfg.get("mlp_only_layers") or []
        common.update(
            num_experts=n_experts, experts_per_token=topk, moe_intermediate_size=moe_inter,
            num_shared_experts=n_shared, shared_expert_intermediate_size=shared_inter,
            num_dense_layers=first_dense + len(mlp_only),
            intermediate_size=int(cfg.get("intermediate_size") or 0),
            expert_bias=mtype == "gpt_oss", router_bias=mtype == "gpt_oss",
        )
        if common["num_dense_layers"] and not common["intermediate_size"]:
            raise ConfigError(f"{where}: dense layers need 'intermediate_size'", field="intermediate_size")
    else:
        common["intermediate_size"] = _int(cfg, "intermediate_size", where, "ffn_dim", "n_inner")
        if common["intermediate_size"] == 0:
            raise ConfigError(f"{where}: field 'intermediate_size' must be > 0", field="intermediate_size")
    common["notes"] = tuple(notes)
    return ModelSpec(**common)


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


def load_model(name: str | os.PathLike[str]) -> ModelSpec:
    """Load a model by bundled id (``Qwen/Qwen3-32B``, ``qwen3-32b``), a
    ``config.json`` path, or a directory containing one."""
    text = os.fspath(name)
    path = Path(text)
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise UnknownModel(f"model config file not found: {text}")
        try:
            cfg = parse_json(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{text}: not a readable JSON config ({exc})") from None
        model_id = path.parent.name.replace("__", "/", 1) if path.name == "config.json" else path.stem
        try:
            return parse_config(cfg, model_id=model_id, origin=str(path))
        except ConfigError as exc:  # name the file, not just the directory
            raise ConfigError(str(exc).replace(f"{model_id}:", f"{path}:", 1), field=exc.field) from None
    resolved = _resolve_bundled(text)
    if resolved is None:
        import difflib

        ids = bundled_model_ids()
        close = difflib.get_close_matches(text, ids, n=4, cutoff=0.3)
        close += [m for m in difflib.get_close_matches(text.split("/")[-1], [i.split("/")[1] for i in ids], n=4, cutoff=0.3)
                  for m in [next(i for i in ids if i.endswith("/" + m))] if m not in close]
        hint = ", ".join(dict.fromkeys(close)) or ", ".join(ids[:5])
        raise UnknownModel(f"unknown model {text!r}; closest bundled ids: {hint} "
                           f"(or pass a path to a Hugging Face config.json)")
    return _load_bundled(resolved)
