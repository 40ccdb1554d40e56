"""Architectures beyond the plain dense/MoE transformer (issue 14): Llama 4, Qwen3-Next,
GLM-4.5, MiniMax-M2 and DeepSeek-V3.2 -- parameter counts, KV-cache / state memory and
their ops, and the typed error for features suanli does not model.

Expected values are written out by hand from the config numbers (arithmetic in the
comments) or are published totals with their source; none is computed by the code under
test.

GLM-4.5, GLM-4.5-Air and MiniMax-M2 have no bundled config (no verbatim copy of the Hub
file was found; see suanli/data/models/SOURCES.md).  Their tests use configs written here
from the published architecture values, labelled with their sources, to check the parser
a user's own copy goes through.
"""

from __future__ import annotations

import numpy as np
import pytest

from suanli.errors import ConfigError, UnsupportedArchitecture
from suanli.perf.hardware import precision_for
from suanli.perf.layout import layout_of
from suanli.perf.memory import kv_bytes_per_sequence, kv_bytes_per_token_layer, state_bytes_per_sequence
from suanli.perf.ops import StepLoad, op_kind, step_ops
from suanli.specs.deployment import Deployment
from suanli.specs.model import load_model, parse_config

B = 1e9


def lay(model, dep=None):  # type: ignore[no-untyped-def]
    dep = dep or Deployment(gpus=1)
    return layout_of(dep, precision_for(model, None, dep.weight_dtype, dep.kv_dtype)[0])


def ops_by_name(model, load, dep=None):  # type: ignore[no-untyped-def]
    layout = lay(model, dep)
    return {o.name: o for o in step_ops(model, layout, load, layout.prec)}


# --- Qwen3-Next-80B-A3B ---------------------------------------------------------------------
# config: hidden 2048, 48 layers, full_attention_interval 4, 16 heads / 2 KV heads of 256,
# linear: 16 key heads and 32 value heads of 128, conv kernel 4; 512 experts of 512, top-10,
# one shared expert of 512 with a gate; vocab 151936, untied.

def test_qwen3_next_layer_plan() -> None:
    m = load_model("Qwen/Qwen3-Next-80B-A3B-Instruct")
    # every 4th layer (3, 7, ..., 47) is full attention: 12 full + 36 Gated DeltaNet
    assert m.num_linear_layers == 36 and m.num_full_attention_layers == 12
    assert m.layer_plan()[:2] == [{"first": 0, "last": 2, "attention": "linear", "mlp": "moe"},
                                  {"first": 3, "last": 3, "attention": "full", "mlp": "moe"}]
    assert m.attention_label == "gqa+gated_deltanet"


def test_qwen3_next_parameters_by_hand() -> None:
    m = load_model("Qwen/Qwen3-Next-80B-A3B-Instruct")
    # Gated DeltaNet layer (transformers Qwen3NextGatedDeltaNet), key dim 16*128 = 2048,
    # value dim 32*128 = 4096:
    #   in_proj_qkvz 2048 * (2*2048 + 2*4096) = 25,165,824; in_proj_ba 2048 * 64 = 131,072
    #   conv1d (2*2048 + 4096) * 4 = 32,768; dt_bias + A_log 2*32 = 64; norm 128
    #   out_proj 4096 * 2048 = 8,388,608                               -> 33,718,464
    assert m.linear_attn_params_per_layer == 33_718_464
    # gated full attention: q_proj (query + gate) 2048 * 16*256*2 = 16,777,216;
    # k, v 2 * 2048 * 512 = 2,097,152; o 4096 * 2048 = 8,388,608; q/k norms 512 -> 27,263,488
    assert m.attn_params_per_layer == 27_263_488
    # shared expert 3*2048*512 = 3,145,728 plus its gate 2048 -> 3,147,776
    assert m.shared_expert_params == 3_147_776


def test_qwen3_next_active_parameters_match_the_card() -> None:
    # Model card: "80B in total and 3B activated".  One significant digit: the activated
    # count (non-embedding: embedding and LM head excluded) lies in [2.5 B, 3.5 B).
    m = load_model("Qwen/Qwen3-Next-80B-A3B-Instruct")
    non_embedding_active = m.params_active - m.lm_head_params
    assert 2.5 * B <= non_embedding_active < 3.5 * B


def test_qwen3_next_state_is_constant_and_kv_grows_only_in_full_layers() -> None:
    m = load_model("Qwen/Qwen3-Next-80B-A3B-Instruct")
    one = lay(m)
    # state per sequence and layer: 32 * 128 * 128 = 524,288 (delta rule) + conv
    # (2*2048 + 4096) * (4 - 1) = 24,576 -> 548,864 elements; x 36 layers x 2 bytes
    assert float(state_bytes_per_sequence(m, one)) == 36 * 548_864 * 2 == 39_518_208
    # KV per token and full layer: 2 * 2 KV heads * 256 * 2 bytes = 2,048; 12 full layers
    for ctx in (1_000, 100_000):
        assert float(kv_bytes_per_sequence(m, one, ctx)) == 12 * 2_048 * ctx + 39_518_208


def test_qwen3_next_ops() -> None:
    m = load_model("Qwen/Qwen3-Next-80B-A3B-Instruct")
    short = ops_by_name(m, StepLoad(n_dec=8, ctx_dec=1_000))
    long = ops_by_name(m, StepLoad(n_dec=8, ctx_dec=100_000))
    assert short["attn_decode"].count == 12 and short["attn_qkv_proj"].count == 12
    assert short["linear_attn_decode"].count == 36 and short["linear_in_proj"].count == 36
    # softmax attention reads 100x more KV at 100x the context; the recurrence does not care
    assert float(long["attn_decode"].bytes_read) == pytest.approx(100 * float(short["attn_decode"].bytes_read))
    assert float(long["linear_attn_decode"].bytes_read) == float(short["linear_attn_decode"].bytes_read)
    # decode reads and writes each sequence's 548,864-element state in 16 bit once per layer
    assert float(short["linear_attn_decode"].bytes_written) == 8 * 548_864 * 2
    # in_proj: n = 2*2048 + 2*4096 + 2*32 = 12,352 outputs, k = 2048; gated q_proj:
    # (2*16 + 2*2) * 256 = 9,216 outputs
    assert short["linear_in_proj"].shape["n"] == 12_352 and short["linear_in_proj"].shape["k"] == 2_048
    assert float(short["attn_qkv_proj"].shape["n"]) == 9_216
    assert op_kind(m, "linear_attn_decode") == "linear_attn"


# --- Llama 4 Scout ----------------------------------------------------------------------------
# text_config: hidden 5120, 48 layers, 40 heads / 8 KV of 128, 16 experts of 8192 (top-1) and
# one shared expert of 8192 on every layer (interleave_moe_layer_step 1), attention_chunk_size
# 8192, no_rope_layers empty -> every 4th layer is a NoPE global-attention layer.

def test_llama4_scout_structure() -> None:
    m = load_model("meta-llama/Llama-4-Scout-17B-16E-Instruct")
    assert m.model_type == "llama4_text"
    assert (m.num_experts, m.experts_per_token, m.num_shared_experts) == (16, 1, 1)
    assert m.shared_expert_intermediate_size == 8_192 and m.num_moe_layers == 48
    assert (m.local_attention, m.sliding_window, m.num_sliding_layers) == ("chunked", 8_192, 36)
    assert m.num_full_attention_layers == 12
    # per MoE layer: 16 experts * 3*5120*8192 = 2,013,265,920; shared 125,829,120;
    # router 5120*16 = 81,920 -> 2,139,176,960
    assert m.moe_layer_params_total == 2_139_176_960


def test_llama4_chunked_kv_and_decode_span() -> None:
    m = load_model("meta-llama/Llama-4-Scout-17B-16E-Instruct")
    one = lay(m)
    # 2 * 8 KV heads * 128 * 2 bytes = 4,096 bytes per token and layer; chunked layers keep
    # at most one chunk (8192 tokens)
    assert float(kv_bytes_per_token_layer(m, one)) == 4_096
    assert float(kv_bytes_per_sequence(m, one, 20_000)) == 4_096 * (12 * 20_000 + 36 * 8_192)
    ops = ops_by_name(m, StepLoad(n_dec=1, ctx_dec=10_000))
    # a token at position 10,000 sees its own chunk only: 10,000 - 8,192 = 1,808 tokens
    assert float(ops["attn_decode_chunked"].shape["ctx"]) == 1_808
    assert float(ops["attn_decode"].shape["ctx"]) == 10_000
    assert ops["attn_decode_chunked"].count == 36 and ops["attn_decode"].count == 12


def test_llama4_interleaved_dense_layers() -> None:
    # Maverick-style interleave_moe_layer_step 2: layers 1, 3, 5, ... are MoE, the others
    # dense with intermediate_size_mlp (transformers Llama4TextConfig)
    cfg = {"model_type": "llama4_text", "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
           "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100, "num_local_experts": 4,
           "num_experts_per_tok": 1, "intermediate_size": 32, "intermediate_size_mlp": 96,
           "interleave_moe_layer_step": 2}
    m = parse_config(cfg, model_id="t/l4", origin="test")
    assert [r["mlp"] for r in m.layer_plan()] == ["dense", "moe", "dense", "moe"]
    assert (m.num_dense_layers, m.intermediate_size, m.moe_intermediate_size) == (2, 96, 32)
    # 2 dense layers * 3*64*96 + 2 MoE layers * (4 experts * 3*64*32 + shared 3*64*32 + router 64*4)
    mlp = 2 * 3 * 64 * 96 + 2 * (4 * 3 * 64 * 32 + 3 * 64 * 32 + 64 * 4)
    # attention 4 * (64*64 + 2*64*32 + 64*64); embeddings 2 * 100*64; norms (2*4+1)*64
    assert m.params_total == mlp + 4 * (64 * 64 + 2 * 64 * 32 + 64 * 64) + 2 * 100 * 64 + 9 * 64


# --- DeepSeek-V3.2 (DSA) ----------------------------------------------------------------------

def test_deepseek_v32_indexer_parameters_by_hand() -> None:
    v3, v32 = load_model("deepseek-ai/DeepSeek-V3"), load_model("deepseek-ai/DeepSeek-V3.2")
    # indexer per layer: wq_b 1536 * 64*128 = 12,582,912; wk 7168*128 = 917,504;
    # k_norm (LayerNorm) 2*128 = 256; weights_proj 7168*64 = 458,752 -> 13,959,424
    assert v32.params_total - v3.params_total == 61 * 13_959_424


def test_deepseek_v32_sparse_attention_ops() -> None:
    m = load_model("deepseek-ai/DeepSeek-V3.2")
    ops = ops_by_name(m, StepLoad(n_dec=1, ctx_dec=10_000), Deployment(gpus=8, tp=8))
    # MLA attends to the 2048 selected tokens; the indexer scores all 10,000:
    # 2 * 64 heads * 128 dims * 10,000 = 163,840,000 FLOPs per layer
    assert float(ops["attn_decode"].shape["ctx"]) == 2_048
    assert float(ops["attn_indexer_decode"].flops) == 163_840_000
    assert float(ops["attn_indexer_decode"].bytes_read) == 10_000 * (128 + 4)
    # cache per token and layer: latent 512 + rope 64 = 576 (bf16: 1,152 bytes) + FP8 index
    # key 128 + FP32 scale 4 = 1,284 bytes
    assert float(kv_bytes_per_token_layer(m, lay(m, Deployment(gpus=8, tp=8)))) == 1_284


# --- GLM-4.5 family and MiniMax-M2: the user's own config ---------------------------------------

def glm45_config(air: bool = False) -> dict:
    """GLM-4.5 / GLM-4.5-Air as the published values state them: NVIDIA Megatron-Bridge
    docs (docs/models/llm/glm45.md: layers, dense layers, hidden, FFN, heads, query groups,
    experts, top-8, MoE FFN, shared expert, QK-norm, vocab, context) and THUDM slime's
    scripts/models/glm4.5-*.sh (kv-channels 128, q/k/v bias, rotary 0.5, untied embeddings).
    Not the Hub file (none found)."""
    common = {"architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe", "num_attention_heads": 96,
              "num_key_value_heads": 8, "head_dim": 128, "attention_bias": True, "partial_rotary_factor": 0.5,
              "vocab_size": 151552, "max_position_embeddings": 131072, "num_experts_per_tok": 8,
              "n_shared_experts": 1, "num_nextn_predict_layers": 1, "tie_word_embeddings": False,
              "torch_dtype": "bfloat16"}
    if air:
        return {**common, "num_hidden_layers": 46, "first_k_dense_replace": 1, "hidden_size": 4096,
                "intermediate_size": 10944, "n_routed_experts": 128, "moe_intermediate_size": 1408,
                "use_qk_norm": False}
    return {**common, "num_hidden_layers": 92, "first_k_dense_replace": 3, "hidden_size": 5120,
            "intermediate_size": 12288, "n_routed_experts": 160, "moe_intermediate_size": 1536, "use_qk_norm": True}


def minimax_m2_config() -> dict:
    """MiniMax-M2 as public code states it: ModelCloud GPTQModel
    gptqmodel/hf_minimax_m2/configuration_minimax_m2.py (commit 3d14511523cc) defaults --
    vocab 200064, hidden 3072, expert FFN 1536, 62 layers, 48 heads / 8 KV of 128, 256
    experts top-8, per-layer QK norm, 3 MTP modules, no shared expert, untied.  Not the Hub
    file (none found)."""
    return {"architectures": ["MiniMaxM2ForCausalLM"], "model_type": "minimax_m2", "vocab_size": 200064,
            "hidden_size": 3072, "intermediate_size": 1536, "num_hidden_layers": 62, "num_attention_heads": 48,
            "num_key_value_heads": 8, "head_dim": 128, "num_local_experts": 256, "num_experts_per_tok": 8,
            "attn_type_list": [1] * 62, "use_qk_norm": True, "qk_norm_type": "per_layer", "rotary_dim": 64,
            "num_mtp_modules": 3, "shared_intermediate_size": 0, "tie_word_embeddings": False,
            "torch_dtype": "bfloat16"}


@pytest.mark.parametrize(("air", "total_b", "active_b"), [
    # GLM-4.5 README / tech report (arXiv 2508.06471): 355 B total, 32 B active; Air 106 B / 12 B.
    (False, 355, 32), (True, 106, 12),
])
def test_glm45_parameters_match_published(air: bool, total_b: float, active_b: float) -> None:
    m = parse_config(glm45_config(air), model_id="zai-org/GLM-4.5" + ("-Air" if air else ""), origin="test")
    assert m.num_dense_layers == (1 if air else 3) and m.shared_expert_intermediate_size == (1408 if air else 1536)
    assert m.qk_norm is (not air) and m.extra_layers_ignored == 1
    # totals: 3 significant digits (<= 0.5 % rounding); allow 1 % (MTP layer not counted)
    assert m.params_total == pytest.approx(total_b * B, rel=0.01)
    # active, without embedding and LM head (GLM counts non-embedding); 2 digits -> allow 3 %
    assert m.params_active - m.lm_head_params == pytest.approx(active_b * B, rel=0.03)


def test_glm45_qk_norm_parameters() -> None:
    with_norm = parse_config(glm45_config(), model_id="g", origin="test")
    without = parse_config({**glm45_config(), "use_qk_norm": False}, model_id="g", origin="test")
    # per-head q and k RMSNorm weights: 2 * 128 per layer, 92 layers
    assert with_norm.params_total - without.params_total == 92 * 2 * 128


def test_minimax_m2_parameters_match_published() -> None:
    m = parse_config(minimax_m2_config(), model_id="MiniMaxAI/MiniMax-M2", origin="test")
    # per-layer QK norm over all heads: (48 + 8) * 128 = 7,168 weights per layer
    assert m.qk_norm_params == 7_168
    assert m.extra_layers_ignored == 3 and not m.num_shared_experts
    # transformers docs (model_doc/minimax_m2.md): "230 billion total parameters with 10
    # billion active"; 230 B to 3 digits -> allow 1 %.  "10 billion" has 2 significant
    # digits at most; counted without embedding and LM head (as GLM and Qwen3-Next count)
    # it must lie in [9.5 B, 10.5 B).
    assert m.params_total == pytest.approx(230 * B, rel=0.01)
    assert 9.5 * B <= m.params_active - m.lm_head_params < 10.5 * B


def test_glm_and_minimax_predict_through_a_user_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from suanli.app.predict import predict

    d = tmp_path / "GLM-4.5-Air"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(glm45_config(air=True)), encoding="utf-8")
    p = predict(str(d), "H20", gpus=4, tp=4, isl=1000, osl=200, concurrency=8)
    assert p.fits and p.tpot_ms > 0 and p.model_source == str(d / "config.json")


# --- unsupported architectures are a typed error -----------------------------------------------

BASE = {"hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
        "intermediate_size": 128, "vocab_size": 100}


@pytest.mark.parametrize(("extra", "field"), [
    ({"model_type": "nemotron_h", "hybrid_override_pattern": "M-M*"}, "hybrid_override_pattern"),
    ({"model_type": "minimax", "attn_type_list": [0, 0, 0, 1]}, "attn_type_list"),
    ({"model_type": "falcon_h1", "layer_types": ["mamba", "attention", "mamba", "attention"]}, "layer_types"),
    ({"model_type": "mystery", "layer_types": ["linear_attention"] * 4}, "layer_types"),
    ({"model_type": "mystery", "full_attention_interval": 4, "linear_num_value_heads": 8},
     "full_attention_interval"),
    ({"model_type": "gemma3_text", "sliding_window_pattern": 6, "sliding_window": 512}, "sliding_window_pattern"),
    ({"model_type": "llama", "attention_chunk_size": 1024}, "attention_chunk_size"),
    ({"model_type": "t5", "is_encoder_decoder": True}, "is_encoder_decoder"),
])
def test_unmodelled_features_are_refused_by_name(extra: dict, field: str) -> None:
    with pytest.raises(UnsupportedArchitecture) as err:
        parse_config({**BASE, **extra}, model_id="t/x", origin="test")
    assert err.value.field == field
    text = str(err.value)
    assert repr(extra["model_type"]) in text and repr(field) in text and "does not model" in text
    assert isinstance(err.value, ConfigError)   # rendered as one line, exit 2 / HTTP 400


def test_unknown_model_type_is_read_with_a_note() -> None:
    m = parse_config({**BASE, "model_type": "brand_new"}, model_id="t/x", origin="test")
    assert any("brand_new" in n and "standard dense" in n for n in m.notes)


def test_qwen3_next_without_its_linear_fields_names_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({**BASE, "model_type": "qwen3_next", "full_attention_interval": 2}, model_id="t/x",
                     origin="test")
    assert err.value.field == "linear_num_key_heads"


def test_new_op_kinds_are_costed_and_flagged_as_priors() -> None:
    from suanli.app.predict import predict

    for mid in ("Qwen/Qwen3-Next-80B-A3B-Instruct", "deepseek-ai/DeepSeek-V3.2"):
        p = predict(mid, "H20", gpus=8, tp=8, isl=2000, osl=200, concurrency=16)
        assert p.decode_breakdown_ms.get("linear_attn_decode", p.decode_breakdown_ms.get("attn_indexer_decode")) > 0
        assert any("roofline prior" in w for w in p.warnings)
        assert np.isfinite(p.tpot_ms)


# --- training accounting ----------------------------------------------------------------------

def test_training_attention_flops_of_chunked_layers_by_hand() -> None:
    from suanli.perf.training import attention_flops_per_token

    m = load_model("meta-llama/Llama-4-Scout-17B-16E-Instruct")
    # 2 * 40 heads * (128 + 128) = 20,480 FLOPs per (query, key) pair.  At 16,384 tokens,
    # causal: full layers average (16,384 + 1) / 2 = 8,192.5 keys; chunked layers two full
    # chunks of 8,192 * 8,193 / 2 keys over 16,384 queries = 4,096.5
    assert attention_flops_per_token(m, 16_384, causal=True) == pytest.approx(
        20_480 * (12 * 8_192.5 + 36 * 4_096.5), rel=1e-12)


@pytest.mark.parametrize(("model_id", "field"), [
    ("Qwen/Qwen3-Next-80B-A3B-Instruct", "linear_num_value_heads"), ("deepseek-ai/DeepSeek-V3.2", "index_topk"),
])
def test_training_refuses_what_it_does_not_model(model_id: str, field: str) -> None:
    from suanli.perf.training import TrainSetup, check_setup

    with pytest.raises(UnsupportedArchitecture) as err:
        check_setup(load_model(model_id), TrainSetup(gpus=8, seq_len=4096, global_batch=8, tp=8))
    assert err.value.field == field and "training" in str(err.value)


@pytest.mark.parametrize("extra", [
    {"attn_type_list": ["x"] * 4}, {"mlp_only_layers": ["a"], "num_experts": 4, "num_experts_per_tok": 1},
    {"interleave_moe_layer_step": "two", "num_local_experts": 4, "num_experts_per_tok": 1},
])
def test_malformed_new_fields_are_a_config_error(extra: dict) -> None:
    with pytest.raises(ConfigError):
        parse_config({**BASE, "model_type": "llama", **extra}, model_id="t/x", origin="test")
