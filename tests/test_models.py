"""Bundled model configs: parameter counts against the totals the authors publish,
KV-cache geometry, sliding-window layers, and config parsing / loading errors.

Convention (see ``ModelSpec.params_active``): the *active* count excludes the input
embedding (a table lookup), as the gpt-oss model card does.  Qwen, Mistral, DeepSeek and
Moonshot quote active counts *including* it, so for those we compare
``params_active + embedding_params`` with the published figure.

Tolerances: a published figure rounded to d significant digits is exact to half a unit in
the last digit; we allow that rounding error plus a small margin (stated per row) for
parameters a card may or may not count (norm weights, biases, router bias).
"""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path

import pytest

from suanli.errors import ConfigError, UnknownModel
from suanli.specs.model import ModelSpec, bundled_model_ids, load_model, parse_config

B = 1e9
T = 1e12

# id -> (published total, total tolerance (relative), source)
PUBLISHED_TOTAL = {
    # Meta Llama 3.1 model card / HF safetensors metadata: 8.03 B, 70.6 B, 405.9 B (rounded to
    # 3-4 significant digits -> half-unit rounding error <= 0.07 %); allow 0.2 %.
    "meta-llama/Llama-3.1-8B": (8.03 * B, 0.002, "Meta Llama 3.1 model card (8.03 B)"),
    "meta-llama/Llama-3.1-70B": (70.6 * B, 0.002, "Meta Llama 3.1 model card (70.6 B)"),
    "meta-llama/Llama-3.1-405B": (405.9 * B, 0.002, "Meta Llama 3.1 model card (405.9 B)"),
    # Llama 2 paper / HF card: "70B", HF safetensors 69.0 B; allow 0.2 %.
    "meta-llama/Llama-2-70b-hf": (69.0 * B, 0.002, "HF meta-llama/Llama-2-70b-hf (69.0 B)"),
    # Qwen model cards "Number of Parameters": 8.2 B, 32.8 B, 30.5 B, 235 B, 72.7 B, 7.61 B.
    # 2-3 significant digits -> rounding error up to 0.6 % (8.2 B); allow 1 %.
    "Qwen/Qwen3-8B": (8.2 * B, 0.01, "Qwen3-8B model card (8.2 B)"),
    "Qwen/Qwen3-32B": (32.8 * B, 0.01, "Qwen3-32B model card (32.8 B)"),
    "Qwen/Qwen3-30B-A3B": (30.5 * B, 0.01, "Qwen3-30B-A3B model card (30.5 B total)"),
    "Qwen/Qwen3-235B-A22B": (235 * B, 0.01, "Qwen3-235B-A22B model card (235 B total)"),
    "Qwen/Qwen2.5-72B-Instruct": (72.7 * B, 0.01, "Qwen2.5-72B model card (72.7 B)"),
    "Qwen/Qwen2.5-7B": (7.61 * B, 0.01, "Qwen2.5-7B model card (7.61 B)"),
    # Mistral "Mixtral of experts" paper (Jiang et al. 2024): 47 B total ("46.7 B" on the blog).
    "mistralai/Mixtral-8x7B-v0.1": (46.7 * B, 0.01, "Mistral AI Mixtral announcement (46.7 B)"),
    # DeepSeek-V3 technical report (arXiv 2412.19437) sec. 1: 671 B total, excluding the 14 B
    # multi-token-prediction module (HF shows 685 B = 671 + 14).  R1 is the same network.
    "deepseek-ai/DeepSeek-V3": (671 * B, 0.005, "DeepSeek-V3 tech report (671 B)"),
    "deepseek-ai/DeepSeek-R1": (671 * B, 0.005, "DeepSeek-R1 model card (671 B)"),
    # Kimi K2 tech report (arXiv 2507.20534): "1.04 trillion total"; the model card says "1T".
    # The config arithmetic gives 1.026 T (1.3 % below 1.04 T, 2.6 % above 1 T); the report
    # gives no breakdown, so allow 2 % around 1.04 T.
    "moonshotai/Kimi-K2-Instruct": (1.04 * T, 0.02, "Kimi K2 tech report (1.04 T)"),
    # OpenAI gpt-oss model card (2025-08), table 1: 116.83 B / 20.91 B total; allow 0.1 %.
    "openai/gpt-oss-120b": (116.83 * B, 0.001, "gpt-oss model card (116.83 B)"),
    "openai/gpt-oss-20b": (20.91 * B, 0.001, "gpt-oss model card (20.91 B)"),
    # Added 2026-12 (configs from shared/models, see SOURCES.md).  HF safetensors metadata /
    # model cards, rounded to 3 significant digits (<= 0.07 % rounding); allow 0.5 %.
    "Qwen/Qwen3-14B": (14.8 * B, 0.01, "Qwen3-14B model card (14.8 B)"),
    "meta-llama/Llama-2-7b-hf": (6.74 * B, 0.005, "HF meta-llama/Llama-2-7b-hf safetensors (6.74 B)"),
    "codellama/CodeLlama-34b-Instruct-hf": (33.7 * B, 0.005, "HF CodeLlama-34b-Instruct-hf safetensors (33.7 B)"),
    "01-ai/Yi-34B": (34.4 * B, 0.005, "HF 01-ai/Yi-34B safetensors (34.4 B)"),
    "mistralai/Mistral-7B-Instruct-v0.3": (7.25 * B, 0.005, "HF Mistral-7B-Instruct-v0.3 safetensors (7.25 B)"),
    # Mistral NeMo announcement "12B"; HF safetensors 12.2 B -- allow 1 % around 12.2 B.
    "mistralai/Mistral-Nemo-Instruct-2407": (12.2 * B, 0.01, "HF Mistral-Nemo-Instruct-2407 safetensors (12.2 B)"),
    # Mistral "Cheaper, Better, Faster, Stronger" (2024-04): 141 B total, 39 B active; allow 1 %.
    "mistralai/Mixtral-8x22B-v0.1": (141 * B, 0.01, "Mistral AI Mixtral 8x22B announcement (141 B)"),
    # Qwen3-Coder model card: 480 B total, 35 B activated; 2-3 digits -> allow 1 %.
    "Qwen/Qwen3-Coder-480B-A35B-Instruct": (480 * B, 0.01, "Qwen3-Coder-480B-A35B model card (480 B)"),
    # Added for issue 14.  Qwen3-Next-80B-A3B-Instruct model card: "80B in total and 3B
    # activated" (2 digits -> <= 0.6 % rounding; MTP layer not counted); allow 1 %.
    "Qwen/Qwen3-Next-80B-A3B-Instruct": (80 * B, 0.01, "Qwen3-Next-80B-A3B model card (80 B)"),
    # Meta Llama 4 model card: Scout "109B" total, which includes the vision encoder; the
    # text model alone is 109 B minus the encoder, counted by hand from vision_config
    # (hidden 1408, 34 layers, MLP 5632, patch 14, image 336, projector 4096 -> 5120):
    #   patch embedding 3*14*14*1408 = 827,904; class embedding 1,408;
    #   positions (24*24+1)*1408 = 812,416; pre/post LayerNorms 4*1408 = 5,632;
    #   per layer: q,k,v,o with bias 4*(1408^2+1408) = 7,935,488, fc1 1408*5632+5632 =
    #   7,935,488, fc2 5632*1408+1408 = 7,931,264, two LayerNorms 5,632 -> 23,807,872;
    #   x 34 = 809,467,648; pixel-shuffle MLP 5632*4096 + 4096*4096 = 39,845,888;
    #   projector 4096*5120 = 20,971,520  ->  871,932,416 (0.872 B).
    # 109 B - 0.872 B = 108.13 B (109 B is rounded to 3 digits: +-0.46 %); allow 1 %.
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": (108.13 * B, 0.01,
                                                  "Meta Llama 4 model card (109 B incl. 0.872 B vision encoder)"),
    # DeepSeek-V3.2: the V3 network (671 B, V3 tech report) plus the DSA lightning indexer
    # (DeepSeek-V3.2-Exp report: DSA is the only architectural change); the indexer adds
    # 0.13 % (see tests/test_models_arch.py).  Allow 1 %.
    "deepseek-ai/DeepSeek-V3.2": (671 * B, 0.01, "DeepSeek-V3 tech report (671 B) + DSA indexer"),
}

# id -> (published active, tolerance, does the published figure include the input embedding?)
PUBLISHED_ACTIVE = {
    # Qwen3 cards: "3.3B activated" / "22B activated" (including the embedding: 30B-A3B's
    # embedding is 151936 x 2048 = 0.311 B, and 3.04 + 0.31 = 3.35 B).  Rounded to 2
    # significant digits -> up to 1.5 % (3.3 B) / 2.3 % (22 B) rounding; allow 3 %.
    "Qwen/Qwen3-30B-A3B": (3.3 * B, 0.03, True),
    "Qwen/Qwen3-235B-A22B": (22 * B, 0.03, True),
    # Mixtral: 12.9 B active ("uses only 12.9 B parameters per token", Mistral blog); allow 1 %.
    "mistralai/Mixtral-8x7B-v0.1": (12.9 * B, 0.01, True),
    # DeepSeek-V3 report: 37 B activated per token.  With the 0.93 B input embedding our count
    # is 37.55 B (1.5 % above; the report rounds to 2 digits = up to 1.4 %); allow 2.5 %.
    "deepseek-ai/DeepSeek-V3": (37 * B, 0.025, True),
    "deepseek-ai/DeepSeek-R1": (37 * B, 0.025, True),
    # Kimi K2: 32 B activated (card and report).  Ours + 1.17 B embedding = 32.86 B; 2 digits
    # -> up to 1.6 % rounding; allow 3 %.
    "moonshotai/Kimi-K2-Instruct": (32 * B, 0.03, True),
    # gpt-oss card: 5.13 B / 3.61 B active, *excluding* the embedding (the card says so).
    "openai/gpt-oss-120b": (5.13 * B, 0.002, False),
    "openai/gpt-oss-20b": (3.61 * B, 0.002, False),
    # Mixtral 8x22B: 39 B active (Mistral announcement; 2 digits -> up to 1.3 %); allow 2 %.
    "mistralai/Mixtral-8x22B-v0.1": (39 * B, 0.02, True),
    # Qwen3-Coder-480B-A35B: 35 B activated incl. embedding (ours 34.54 + 0.93 B); allow 2 %.
    "Qwen/Qwen3-Coder-480B-A35B-Instruct": (35 * B, 0.02, True),
    # Llama 4 Scout: "17B active parameters" (Meta model card); ours 16.14 B + 1.03 B input
    # embedding = 17.17 B; 2 digits -> up to 2.9 % rounding; allow 3 %.
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": (17 * B, 0.03, True),
}


def test_every_bundled_model_has_a_published_total() -> None:
    # Any new bundled config must come with a sourced check here.
    assert set(bundled_model_ids()) == set(PUBLISHED_TOTAL)


@pytest.mark.parametrize("model_id", sorted(PUBLISHED_TOTAL))
def test_total_parameters_match_published(model_id: str) -> None:
    expected, tol, source = PUBLISHED_TOTAL[model_id]
    got = load_model(model_id).params_total
    assert got == pytest.approx(expected, rel=tol), f"{model_id}: {got / B:.3f} B vs {source}"


@pytest.mark.parametrize("model_id", sorted(PUBLISHED_ACTIVE))
def test_active_parameters_match_published(model_id: str) -> None:
    expected, tol, with_embedding = PUBLISHED_ACTIVE[model_id]
    m = load_model(model_id)
    got = m.params_active + (m.embedding_params if with_embedding else 0)
    assert got == pytest.approx(expected, rel=tol), f"{model_id}: {got / B:.3f} B vs {expected / B} B"


@pytest.mark.parametrize("model_id", [
    "meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B", "Qwen/Qwen3-8B", "Qwen/Qwen2.5-7B",
])
def test_dense_models_have_active_equal_to_total_minus_input_embedding(model_id: str) -> None:
    m = load_model(model_id)
    assert not m.is_moe
    assert m.params_total - m.params_active == m.vocab_size * m.hidden_size


@pytest.mark.parametrize(("model_id", "non_embedding_b"), [
    # Qwen cards also state "Number of Parameters (Non-Embedding)" (embedding + LM head
    # excluded): Qwen3-8B 6.95 B, Qwen3-32B 31.2 B, Qwen2.5-72B 70.0 B, Qwen2.5-7B 6.53 B.
    ("Qwen/Qwen3-8B", 6.95), ("Qwen/Qwen3-32B", 31.2), ("Qwen/Qwen2.5-72B-Instruct", 70.0),
    ("Qwen/Qwen2.5-7B", 6.53),
])
def test_qwen_non_embedding_parameters(model_id: str, non_embedding_b: float) -> None:
    m = load_model(model_id)
    got = m.params_total - m.embedding_params - m.lm_head_params
    # 3 significant digits -> <= 0.08 % rounding error.  Qwen2.5-72B is the outlier: the
    # config gives 72.706 B - 2 x 152064 x 8192 = 70.215 B, 0.3 % above the card's "70.0 B"
    # (which looks truncated, not rounded); allow 0.5 % for all four.
    assert got == pytest.approx(non_embedding_b * B, rel=0.005)


def test_llama_3_1_70b_parameter_count_by_hand() -> None:
    # config: h=8192, L=80, 64 heads, 8 KV heads, head_dim=128, ffn=28672, vocab=128256, untied
    # attention per layer: q 8192*8192 = 67,108,864; k+v 2*8192*(8*128) = 16,777,216;
    #                      o 8192*8192 = 67,108,864                      -> 150,994,944
    # SwiGLU MLP per layer: 3*8192*28672                                  -> 704,643,072
    # 80 layers: 80 * (150,994,944 + 704,643,072) = 68,451,041,280
    # embedding + LM head: 2 * 128256*8192 = 2,101,346,304
    # RMSNorms: (2*80 + 1) * 8192 = 1,318,912
    # total = 68,451,041,280 + 2,101,346,304 + 1,318,912 = 70,553,706,496
    m = load_model("meta-llama/Llama-3.1-70B")
    assert m.attn_params_per_layer == 150_994_944
    assert m.dense_mlp_params == 704_643_072
    assert m.params_total == 70_553_706_496


def test_deepseek_v3_parameter_counts_by_hand() -> None:
    # config: h=7168, L=61 (first 3 dense, ffn 18432), 128 heads, q_lora 1536, kv_lora 512,
    # qk_nope 128, qk_rope 64, v 128; 256 routed experts (top 8) of width 2048 + 1 shared;
    # vocab 129280, untied.
    # MLA per layer: q_a 7168*1536 = 11,010,048 + q_a norm 1536 + q_b 1536*128*192 = 37,748,736
    #   + kv_a 7168*(512+64) = 4,128,768 + kv_a norm 512 + kv_b 512*128*(128+128) = 16,777,216
    #   + o 128*128*7168 = 117,440,512                                 -> 187,107,328
    # 61 layers of attention: 11,413,547,008
    # 3 dense MLPs: 3 * 3*7168*18432 = 3 * 396,361,728 = 1,189,085,184
    # expert: 3*7168*2048 = 44,040,192; router: 7168*256 = 1,835,008
    # MoE layer total: 257 experts * 44,040,192 + 1,835,008 = 11,320,164,352 (x58 = 656,569,532,416)
    # MoE layer active: 9 * 44,040,192 + 1,835,008 = 398,196,736 (x58 = 23,095,410,688)
    # embedding = LM head = 129280*7168 = 926,679,040; norms (2*61+1)*7168 = 881,664
    # total  = 11,413,547,008 + 1,189,085,184 + 656,569,532,416 + 2*926,679,040 + 881,664
    #        = 671,026,404,352
    # active = 11,413,547,008 + 1,189,085,184 + 23,095,410,688 + 926,679,040 + 881,664
    #        = 36,625,603,584 (input embedding excluded)
    m = load_model("deepseek-ai/DeepSeek-V3")
    assert m.attention == "mla"
    assert m.attn_params_per_layer == 187_107_328
    assert m.num_dense_layers == 3 and m.num_moe_layers == 58
    assert m.params_total == 671_026_404_352
    assert m.params_active == 36_625_603_584
    assert m.params_active == pytest.approx(36.6 * B, rel=0.002)
    assert m.extra_layers_ignored == 1  # the MTP layer is not counted (671 B, not 685 B)


def test_deepseek_r1_has_the_same_network_as_v3() -> None:
    v3, r1 = load_model("deepseek-ai/DeepSeek-V3"), load_model("deepseek-ai/DeepSeek-R1")
    assert (v3.params_total, v3.params_active) == (r1.params_total, r1.params_active)


# --- KV cache geometry ------------------------------------------------------------------

def test_kv_elements_gqa_llama_3_1_70b() -> None:
    # K and V, 8 KV heads of 128: 2 * 8 * 128 = 2048 elements per token per layer
    assert load_model("meta-llama/Llama-3.1-70B").kv_elements_per_token_per_layer == 2048


@pytest.mark.parametrize("model_id", ["deepseek-ai/DeepSeek-V3", "moonshotai/Kimi-K2-Instruct"])
def test_kv_elements_mla(model_id: str) -> None:
    # MLA caches the compressed latent (kv_lora_rank 512) + the decoupled RoPE key (64):
    # 512 + 64 = 576 elements per token per layer (DeepSeek-V2 paper sec. 2.1.2)
    assert load_model(model_id).kv_elements_per_token_per_layer == 576


@pytest.mark.parametrize(("model_id", "elements"), [
    ("meta-llama/Llama-3.1-8B", 2 * 8 * 128),       # 2048
    ("Qwen/Qwen3-235B-A22B", 2 * 4 * 128),          # 1024
    ("Qwen/Qwen2.5-7B", 2 * 4 * (3584 // 28)),      # head_dim 128 -> 1024
    ("openai/gpt-oss-120b", 2 * 8 * 64),            # 1024
    ("mistralai/Mixtral-8x7B-v0.1", 2 * 8 * 128),   # 2048
])
def test_kv_elements_other_gqa_models(model_id: str, elements: int) -> None:
    assert load_model(model_id).kv_elements_per_token_per_layer == elements


@pytest.mark.parametrize(("model_id", "layers", "sliding"), [
    # gpt-oss config layer_types alternate sliding/full, starting with sliding; window 128
    ("openai/gpt-oss-120b", 36, 18),
    ("openai/gpt-oss-20b", 24, 12),
])
def test_gpt_oss_sliding_window_layers(model_id: str, layers: int, sliding: int) -> None:
    m = load_model(model_id)
    assert m.num_layers == layers
    assert m.num_sliding_layers == sliding
    assert m.num_full_attention_layers == layers - sliding
    assert m.sliding_window == 128
    assert m.attention_sinks and m.native_weight_dtype == "mxfp4"


@pytest.mark.parametrize("model_id", ["Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-72B-Instruct"])
def test_qwen2_sliding_window_field_is_ignored_when_disabled(model_id: str) -> None:
    # Qwen2.5 configs carry sliding_window=131072 with use_sliding_window=false
    m = load_model(model_id)
    assert m.num_sliding_layers == 0 and m.sliding_window is None


def test_native_weight_dtypes() -> None:
    assert load_model("deepseek-ai/DeepSeek-V3").native_weight_dtype == "fp8"
    assert load_model("moonshotai/Kimi-K2-Instruct").native_weight_dtype == "fp8"
    assert load_model("meta-llama/Llama-2-70b-hf").native_weight_dtype == "fp16"
    assert load_model("meta-llama/Llama-3.1-8B").native_weight_dtype == "bf16"


# --- parsing errors ---------------------------------------------------------------------

def _bundled_config(model_id: str) -> dict:
    path = files("suanli") / "data" / "models" / model_id.replace("/", "__", 1) / "config.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_missing_hidden_size_names_the_field() -> None:
    cfg = _bundled_config("meta-llama/Llama-3.1-8B")
    del cfg["hidden_size"]
    with pytest.raises(ConfigError) as err:
        parse_config(cfg, model_id="x/missing", origin="test")
    assert err.value.field == "hidden_size"
    assert "hidden_size" in str(err.value)
    assert "x/missing" in str(err.value)


@pytest.mark.parametrize("bad", ["eighty", 80.5, -2, True, [80]])
def test_non_integer_layer_count_is_a_config_error(bad: object) -> None:
    cfg = _bundled_config("meta-llama/Llama-3.1-8B")
    cfg["num_hidden_layers"] = bad
    with pytest.raises(ConfigError) as err:
        parse_config(cfg, model_id="x/bad", origin="test")
    assert err.value.field == "num_hidden_layers"
    assert "num_hidden_layers" in str(err.value)


def test_integral_float_layer_count_is_accepted() -> None:
    cfg = _bundled_config("meta-llama/Llama-3.1-8B")
    cfg["num_hidden_layers"] = 32.0
    assert parse_config(cfg, model_id="x/ok", origin="test").num_layers == 32


def test_config_that_is_not_an_object() -> None:
    with pytest.raises(ConfigError):
        parse_config([1, 2, 3], model_id="x/list", origin="test")  # type: ignore[arg-type]


def test_topk_larger_than_experts_is_rejected() -> None:
    cfg = _bundled_config("mistralai/Mixtral-8x7B-v0.1")
    cfg["num_experts_per_tok"] = 9  # 8 experts
    with pytest.raises(ConfigError) as err:
        parse_config(cfg, model_id="x/moe", origin="test")
    assert err.value.field == "num_experts_per_tok"


def test_unknown_model_lists_close_ids() -> None:
    with pytest.raises(UnknownModel) as err:
        load_model("Qwen/Qwen3-33B")
    text = str(err.value)
    assert "Qwen/Qwen3-32B" in text
    assert "\n" not in text


def test_unknown_model_without_org_lists_close_ids() -> None:
    with pytest.raises(UnknownModel) as err:
        load_model("Llama-3.1-7B")
    assert "meta-llama/Llama-3.1-8B" in str(err.value) or "meta-llama/Llama-3.1-70B" in str(err.value)


def test_missing_json_path_is_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel):
        load_model(tmp_path / "nope.json")


def test_malformed_json_file_is_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{ not json", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_model(bad)


# --- loading ----------------------------------------------------------------------------

def _copy_bundled(model_id: str, dest_dir: Path) -> Path:
    src = files("suanli") / "data" / "models" / model_id.replace("/", "__", 1) / "config.json"
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / "config.json"
    dest.write_bytes(src.read_bytes())
    return dest


def test_load_by_config_path(tmp_path: Path) -> None:
    path = _copy_bundled("Qwen/Qwen3-8B", tmp_path / "acme__my-model")
    m = load_model(path)
    assert isinstance(m, ModelSpec)
    assert m.id == "acme/my-model"          # org__name directory -> org/name
    assert m.origin == str(path)
    # Qwen3-8B by hand: h=4096, L=36, 32 heads, 8 KV heads of 128, ffn 12288, vocab 151936
    # layer: q 16,777,216 + k,v 8,388,608 + o 16,777,216 + qk-norm 256 + MLP 150,994,944
    #        = 192,938,240; x36 = 6,945,776,640
    # + embedding and LM head 2*151936*4096 = 1,244,659,712 + norms 73*4096 = 299,008
    # = 8,190,735,360
    assert m.params_total == 8_190_735_360


def test_config_error_from_a_file_names_the_file(tmp_path: Path) -> None:
    path = _copy_bundled("Qwen/Qwen3-8B", tmp_path / "acme__broken")
    cfg = json.loads(path.read_text(encoding="utf-8"))
    del cfg["hidden_size"]
    path.write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_model(path)
    assert err.value.field == "hidden_size"
    assert str(path) in str(err.value) and "hidden_size" in str(err.value)


def test_load_by_directory(tmp_path: Path) -> None:
    d = tmp_path / "plain-dir"
    _copy_bundled("meta-llama/Llama-3.1-8B", d)
    m = load_model(str(d))
    assert m.id == "plain-dir"
    # Llama-3.1-8B by hand: layers 32 * (41,943,040 attention + 176,160,768 MLP) = 6,979,321,856
    # + embedding and LM head 2*128256*4096 = 1,050,673,152 + norms 65*4096 = 266,240
    assert m.params_total == 8_030_261_248


def test_load_by_other_json_name(tmp_path: Path) -> None:
    src = _copy_bundled("Qwen/Qwen3-8B", tmp_path / "x")
    other = tmp_path / "qwen-variant.json"
    shutil.copy(src, other)
    assert load_model(other).id == "qwen-variant"


@pytest.mark.parametrize(("alias", "model_id"), [
    ("qwen3-32b", "Qwen/Qwen3-32B"),
    ("QWEN/QWEN3-32B", "Qwen/Qwen3-32B"),
    ("Qwen3_32B", "Qwen/Qwen3-32B"),
    ("llama-3.1-70b", "meta-llama/Llama-3.1-70B"),
    ("deepseek-v3", "deepseek-ai/DeepSeek-V3"),
    ("gpt-oss-120b", "openai/gpt-oss-120b"),
    ("Qwen/Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B"),
])
def test_aliases_resolve(alias: str, model_id: str) -> None:
    assert load_model(alias).id == model_id


def test_bundled_models_are_cached_and_frozen() -> None:
    a = load_model("Qwen/Qwen3-8B")
    assert load_model("qwen3-8b") is a
    with pytest.raises(AttributeError):
        a.hidden_size = 1  # type: ignore[misc]
