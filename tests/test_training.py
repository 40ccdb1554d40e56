"""Training and fine-tuning estimates: hand calculations, memory feasibility, validation
against published MFU / step times (with sources), the ``train`` use case and CLI.

Published figures used (every number below is copied from these pages):

* [LLAMA3] Llama Team, "The Llama 3 Herd of Models", arXiv:2407.21783, sec. 3.3.2 and
  Table 4: 405B on 8,192 / 16,384 H100, TP 8, PP 16, DP 64 / 128, 8,192-token sequences,
  16M tokens per batch, 430 / 400 TFLOPs per GPU = 43 / 41 % BF16 MFU.  No activation
  checkpointing at 8K; FSDP that does not reshard after forward (= ZeRO-2 here); interleaved
  schedule whose first chunk holds only the embedding (1 layer per chunk: V = 8).
  https://arxiv.org/abs/2407.21783
* [KORTH] Korthikanti et al. 2022, arXiv:2205.05198, Tables 3 and 5: GPT 22B / 175B / 530B / 1T
  on 8 / 64 / 280 / 512 A100, TP 8, MFU 41.5 / 51.4 / 56.0 / 56.3 % with sequence parallelism
  + selective recompute; iteration times 1.42 / 18.13 / 49.05 / 94.42 s with full recompute
  (no SP) vs 1.10 / 13.75 / 37.83 / 71.49 s.  https://arxiv.org/abs/2205.05198
* [FOUNDRY] MosaicML llm-foundry, scripts/train/benchmarking/README.md (MPT 125M-70B, FSDP,
  H100 and A100 BF16/FP8 MFU tables).
  https://github.com/mosaicml/llm-foundry/blob/main/scripts/train/benchmarking/README.md
* [QWEN] QwenLM/Qwen README, "Profiling of Memory and Speed": one A100-SXM4-80G, batch 1,
  gradient accumulation 8, FlashAttention 2, LoRA / Q-LoRA s/it.  https://github.com/QwenLM/Qwen
* [NEMO] NVIDIA NeMo Framework 24.12 performance summary, fine-tuning table (FP8, SQuAD packed
  to 4,096 tokens): Llama2-7B SFT 16,891 and LoRA 24,824 tokens/s/GPU on 8 H100.
  https://docs.nvidia.com/nemo-framework/user-guide/24.12/nemotoolkit/performance/performance_summary.html

MLPerf Training (e.g. v4.0 Llama-2-70B LoRA: "just over 28 minutes" on one DGX H100; GPT-3
175B: 3.4 min on 11,616 H100; NVIDIA technical blog "NVIDIA Sets New Generative AI
Performance and Scale Records in MLPerf Training v4.0", https://developer.nvidia.com/blog/)
is not used as a case: results are FP8 time-to-convergence and the number of tokens each
run needed to converge is not published with the result, so no MFU can be derived from it.

Which cases were fitted is recorded in ``src/suanli/data/calibration/training.json``; the
others are held out, and the tolerances below say which is which.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from suanli.app.training import (
    synthetic_dense_model, parse_count, train_estimate, training_constants, training_platform,
)
from suanli.cli.main import app
from suanli.errors import InsufficientMemory, InvalidInput, SuanliError, UnknownHardware, UnknownModel
from suanli.perf.training import (
    TrainConstants, TrainSetup, activation_memory, attention_flops_per_token,
    flops_per_token, layer_activation_bytes, lora_params, matmul_params, recompute_flops_per_token,
    train_memory, train_step,
)
from suanli.specs.accelerator import GIB, load_hardware
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec, load_model
from suanli.specs.system import System

CATALOG = load_hardware()
H100, A100 = CATALOG.get("nvidia_h100_sxm"), CATALOG.get("nvidia_a100_sxm_80gb")
LLAMA8 = load_model("meta-llama/Llama-3.1-8B")
LLAMA70 = load_model("meta-llama/Llama-3.1-70B")
NO_RESERVE = TrainConstants(reserve_fraction=0.0, reserve_bytes=0.0)


def gpt(name: str, h: int, layers: int, heads: int, *, vocab: int = 51200, tied: bool = True) -> ModelSpec:
    """A GPT-style layer (MHA, 4h GeLU MLP) as a ModelSpec: a SwiGLU of width 8h/3 has the same
    parameters (3 h f = 8 h^2) and stores the same activations (6 s b f = 16 s b h)."""
    return ModelSpec(id=name, model_type="gpt", origin="test", hidden_size=h, num_layers=layers, vocab_size=vocab,
                     tie_word_embeddings=tied, num_heads=heads, num_kv_heads=heads, head_dim=h // heads,
                     intermediate_size=round(8 * h / 3))


def system(acc_id: str, gbps: float) -> System:
    return System(id=f"test-{acc_id}", gpus=8, gpu_id=acc_id, scaleout_gbps_per_gpu=gbps, origin="test")


def hw_eff(acc, gbps: float, dtype: DType = DType.BF16):
    """(platform with the chip's kernel model, training constants) of ``acc`` with ``gbps`` per GPU."""
    return training_platform(acc, dtype, system(acc.id, gbps))[0], training_constants(acc, dtype)


# --- hand calculations ---------------------------------------------------------------------

def test_mixed_precision_adam_is_16_bytes_per_parameter_and_zero_shards_it():
    p = float(LLAMA8.params_total)
    m0 = train_memory(LLAMA8, TrainSetup(gpus=8, seq_len=1024, global_batch=8, zero=0), capacity=80 * GIB,
                      eff=NO_RESERVE)
    assert (m0.weights, m0.gradients, m0.optimizer) == (2 * p, 2 * p, 12 * p)
    assert m0.weights + m0.gradients + m0.optimizer == 16 * p
    by_stage = {z: train_memory(LLAMA8, TrainSetup(gpus=8, seq_len=1024, global_batch=8, zero=z),
                                capacity=80 * GIB, eff=NO_RESERVE) for z in (1, 2, 3)}
    assert (by_stage[1].weights, by_stage[1].gradients, by_stage[1].optimizer) == (2 * p, 2 * p, 12 * p / 8)
    assert (by_stage[2].weights, by_stage[2].gradients, by_stage[2].optimizer) == (2 * p, 2 * p / 8, 12 * p / 8)
    assert by_stage[3].weights + by_stage[3].gradients + by_stage[3].optimizer == pytest.approx(16 * p / 8)
    # TP splits every tensor; PP keeps the busiest stage (L/p layers + the larger of embedding / head)
    tp2 = train_memory(LLAMA8, TrainSetup(gpus=8, seq_len=1024, global_batch=4, tp=2), capacity=80 * GIB,
                       eff=NO_RESERVE)
    assert tp2.weights == pytest.approx(p)
    pp4 = train_memory(LLAMA8, TrainSetup(gpus=8, seq_len=1024, global_batch=2, pp=4), capacity=80 * GIB,
                       eff=NO_RESERVE)
    layers = p - LLAMA8.embedding_params - LLAMA8.lm_head_params - LLAMA8.hidden_size
    assert pp4.weights == pytest.approx(2 * (layers / 4 + LLAMA8.lm_head_params + LLAMA8.hidden_size))


def test_activation_memory_matches_korthikanti_table_2():
    # GPT-3 175B: a = 96, s = 2048, h = 12288, so 5as/h = 80 (the paper's own example)
    g3 = gpt("gpt3", 12288, 96, 96)
    s, h, a = 2048, 12288, 96
    sbh = s * h
    kw = dict(seq_len=s, flash_attention=False, dropout=True)
    assert layer_activation_bytes(g3, tp=1, **kw) == pytest.approx(sbh * (34 + 5 * a * s / h))
    assert 5 * a * s / h == 80
    t = 8
    assert layer_activation_bytes(g3, tp=t, sequence_parallel=False, **kw) == pytest.approx(
        sbh * (10 + 24 / t + 5 * a * s / (h * t)))
    assert layer_activation_bytes(g3, tp=t, **kw) == pytest.approx(sbh / t * (34 + 5 * a * s / h))
    assert layer_activation_bytes(g3, tp=t, selective=True, **kw) == pytest.approx(34 * sbh / t)
    # full recomputation: 2sbh per layer (Table 2) + one layer being recomputed + fp32 logits (4sbv)
    st = TrainSetup(gpus=1, seq_len=s, global_batch=1, recompute="full", flash_attention=False, dropout=True)
    logits = 4 * s * g3.vocab_size
    assert activation_memory(g3, st) == pytest.approx(96 * 2 * sbh + layer_activation_bytes(g3, **kw) + logits)
    # pipeline: the first stage holds L layers' worth, whatever p (eq. 5)
    flat = TrainSetup(gpus=8, seq_len=s, global_batch=64, tp=8, flash_attention=False, dropout=True)
    piped = replace(flat, gpus=64, pp=8)
    assert activation_memory(g3, piped) == pytest.approx(96 * layer_activation_bytes(g3, tp=8, **kw))
    assert activation_memory(g3, flat) == pytest.approx(activation_memory(g3, piped) + logits / 8)


def test_flash_attention_and_gqa_shrink_activations():
    kw = dict(seq_len=8192)
    plain = layer_activation_bytes(LLAMA8, flash_attention=False, **kw)
    flash = layer_activation_bytes(LLAMA8, **kw)
    assert plain - flash == pytest.approx(2 * 32 * 8192 ** 2 - 4 * 8192 * 32)   # softmax kept vs log-sum-exp
    # Llama 3 8B, per token: norms + block inputs 8h, Q 2h, K,V 2x2x1024, O 2h, SwiGLU 3x2x14336
    per_token = 8 * 4096 + 2 * 4096 + 4 * 1024 + 2 * 4096 + 6 * 14336 + 4 * 32
    assert flash == pytest.approx(8192 * per_token)


def test_flops_per_token_follow_palm_and_megatron():
    s = 2048
    model, executed = flops_per_token(LLAMA8, TrainSetup(gpus=1, seq_len=s, global_batch=1))
    n = LLAMA8.params_active            # excludes the input embedding, includes the LM head
    assert matmul_params(LLAMA8) == n
    assert model == pytest.approx(6 * n + 12 * 32 * 32 * 128 * s)
    assert executed == pytest.approx(6 * n + 6 * 32 * 32 * 128 * (s + 1))   # causal: (s+1)/2 context
    # Korthikanti eq. 7: 72 B L s h^2 (1 + s/6h + v/12hL) per iteration (tied embeddings)
    g3 = gpt("gpt3", 12288, 96, 96)
    model3, _ = flops_per_token(g3, TrainSetup(gpus=1, seq_len=s, global_batch=1))
    eq7 = 72 * 96 * 12288 ** 2 * (1 + s / (6 * 12288) + 51200 / (12 * 12288 * 96))
    assert model3 == pytest.approx(eq7, rel=1e-3)
    # full recomputation adds one forward (2N + attention) -- about a third of the work
    extra = recompute_flops_per_token(LLAMA8, TrainSetup(gpus=1, seq_len=s, global_batch=1, recompute="full"))
    assert extra == pytest.approx(2 * n + attention_flops_per_token(LLAMA8, s, causal=True))
    # LoRA: forward + input gradients through the frozen base (4N) + 6 x adapters
    lora, _ = flops_per_token(LLAMA8, TrainSetup(gpus=1, seq_len=s, global_batch=1, method="lora"))
    assert lora == pytest.approx(4 * n + 6 * lora_params(LLAMA8, 16) + 12 * 32 * 32 * 128 * s)


def test_lora_parameter_count_for_llama3_8b():
    # rank 16 on q, k, v, o, gate, up, down: 16 x (8192 + 5120 + 5120 + 8192 + 3 x 18432) x 32 layers
    assert lora_params(LLAMA8, 16) == 41_943_040
    assert lora_params(LLAMA8, 8, ("q", "v")) == 8 * (8192 + 5120) * 32


def test_pipeline_bubble_and_step_breakdown_sum():
    hw, eff = hw_eff(H100, 400)
    st = TrainSetup(gpus=64, seq_len=4096, global_batch=64, tp=8, pp=4, virtual_stages=2)
    r = train_step(LLAMA70, st, hw, eff)
    bd = r.breakdown
    busy = bd["gemm"] + bd["attention"] + bd["non_gemm"] + bd["recompute"] + bd["tp_comm"] + bd["dequant"]
    assert bd["pipeline_bubble"] == pytest.approx(busy * 3 / (2 * st.micro_batches))
    assert sum(bd.values()) == pytest.approx(r.step_s)
    assert r.tokens_per_s == pytest.approx(64 * 4096 / r.step_s)
    assert r.mfu == pytest.approx(r.model_flops_per_token * r.tokens_per_s / (64 * hw.hw.peaks["bf16"]))
    assert 0 < r.mfu < 0.7


def test_data_parallel_sync_hides_behind_the_backward_until_the_network_is_slow():
    hw, eff = hw_eff(H100, 400)
    st = TrainSetup(gpus=64, seq_len=4096, global_batch=256, zero=1)
    fast = train_step(LLAMA8, st, hw, eff)
    assert fast.breakdown["dp_comm_exposed"] == 0 < fast.dp_comm_s
    slow = train_step(LLAMA8, st, replace(hw, hw=replace(hw.hw, scaleout_bw=hw.hw.scaleout_bw / 40)), eff)
    assert slow.breakdown["dp_comm_exposed"] > 0 and slow.step_s > fast.step_s


# --- synthetic models and parsing ----------------------------------------------------------

def test_parameter_count_gives_a_llama_like_model():
    m8 = synthetic_dense_model(8e9)
    assert (m8.hidden_size, m8.num_layers, m8.num_kv_heads, m8.intermediate_size, m8.vocab_size) == \
        (4096, 32, 8, 14336, 128256)                      # = Llama 3 8B
    for n in (1.25e8, 1e9, 7e9, 70e9, 405e9):
        spec = synthetic_dense_model(n)
        assert spec.params_total == pytest.approx(n, rel=0.04)
        assert spec.num_heads % spec.num_kv_heads == 0 and spec.origin == "synthetic"
    assert parse_count("7B", name="params") == 7e9 and parse_count("2T", name="tokens") == 2e12
    assert parse_count("350m", name="params") == 3.5e8 and parse_count(1e9, name="tokens") == 1e9
    for bad in ("-5", "0", "seven", "1e9x", float("nan")):
        with pytest.raises(InvalidInput):
            parse_count(bad, name="tokens")
    with pytest.raises(InvalidInput):
        synthetic_dense_model(1e3)


# --- feasibility ---------------------------------------------------------------------------

def test_70b_full_training_needs_zero3_and_more_than_8_h100():
    fits = {z: train_estimate(LLAMA70, "H100", gpus=8, tokens=1e9, zero=z, strict_fit=False)
            for z in (0, 1, 2, 3)}
    assert not any(e.fits for e in fits.values())
    # even fully sharded, 16 bytes x 70.6 B / 8 = 141 GB per GPU > 80 GiB
    assert fits[3].memory_gib["weights"] + fits[3].memory_gib["gradients"] + fits[3].memory_gib["optimizer"] == \
        pytest.approx(16 * LLAMA70.params_total / 8 / GIB)
    assert fits[0].shortfall_gib > fits[1].shortfall_gib > fits[2].shortfall_gib > fits[3].shortfall_gib > 0
    with pytest.raises(InsufficientMemory, match=r"GiB short"):
        train_estimate(LLAMA70, "H100", gpus=8, tokens=1e9, zero=3)
    assert train_estimate(LLAMA70, "H100", gpus=32, tokens=1e9, zero=3).fits
    assert train_estimate(LLAMA70, "H100", gpus=64, tokens=1e9, tp=8, pp=4).fits


def test_lora_of_8b_fits_one_h20_and_qlora_of_70b_fits_one_h100():
    e = train_estimate(LLAMA8, "H20", gpus=1, tokens=1e8, method="lora", seq_len=4096)
    assert e.fits and e.recompute == "none" and e.trainable_params == 41_943_040
    assert e.memory_gib["weights"] == pytest.approx(2 * (LLAMA8.params_total + 41_943_040) / GIB)
    assert not train_estimate(LLAMA70, "H100", gpus=1, tokens=1e8, method="lora", strict_fit=False).fits
    q = train_estimate(LLAMA70, "H100", gpus=1, tokens=1e8, method="qlora", seq_len=2048)
    assert q.fits and q.memory_gib["weights"] < 40 and q.breakdown_s["dequant"] > 0


def test_recompute_is_switched_on_only_when_needed():
    short = train_estimate(LLAMA8, "H100", gpus=8, tokens=1e9, seq_len=2048)
    assert short.recompute == "none"
    long = train_estimate(LLAMA8, "H100", gpus=8, tokens=1e9, seq_len=8192)
    assert long.recompute == "full" and any("checkpointing" in w for w in long.warnings)
    with pytest.raises(InsufficientMemory):
        train_estimate(LLAMA8, "H100", gpus=8, tokens=1e9, seq_len=8192, recompute=False)


# --- validation against published runs -----------------------------------------------------

MPT = {"125m": (768, 12, 12), "350m": (1024, 24, 16), "760m": (1536, 24, 12), "1b": (2048, 24, 16),
       "3b": (2560, 32, 20), "7b": (4096, 32, 32), "13b": (5120, 40, 40), "30b": (7168, 48, 64),
       "70b": (8192, 80, 64)}
# [FOUNDRY] rows (model, seq, GPUs, micro-batch, grad accum, activation checkpointing, MFU), FSDP FULL_SHARD
FOUNDRY_H100 = [("1b", 2048, 8, 14, 1, False, .4182), ("3b", 4096, 8, 5, 6, False, .4231),
                ("7b", 2048, 8, 6, 1, False, .4644), ("13b", 2048, 8, 2, 1, False, .3979),
                ("30b", 2048, 8, 3, 21, True, .3811), ("70b", 2048, 64, 8, 4, True, .4257),
                ("7b", 4096, 8, 16, 2, True, .4042), ("13b", 4096, 8, 10, 3, True, .4160),
                ("7b", 8192, 8, 8, 2, True, .3714), ("1b", 8192, 8, 3, 4, False, .3773),
                ("760m", 2048, 8, 24, 2, False, .3490)]
FOUNDRY_A100 = [("1b", 2048, 8, 14, 4, False, .5986), ("3b", 2048, 8, 10, 2, False, .6211),
                ("7b", 2048, 8, 6, 2, False, .6423), ("13b", 2048, 8, 2, 3, False, .5957),
                ("30b", 2048, 8, 3, 21, True, .5530), ("70b", 2048, 64, 8, 4, True, .5333),
                ("7b", 4096, 8, 16, 2, True, .5484), ("13b", 8192, 8, 5, 3, True, .5607),
                ("350m", 2048, 8, 32, 2, False, .5162), ("125m", 2048, 8, 40, 2, False, .4479),
                ("7b", 16384, 8, 4, 2, True, .5196)]


def foundry_error(acc, row) -> float:
    size, s, gpus, mb, ga, ckpt, mfu = row
    h, layers, heads = MPT[size]
    spec = gpt(f"mpt-{size}", h, layers, heads, vocab=50368)
    hw, eff = hw_eff(acc, 400 if acc is H100 else 200)   # MosaicML: 3.2 / 1.6 Tb/s per node
    st = TrainSetup(gpus=gpus, seq_len=s, global_batch=mb * ga * gpus, micro_batch=mb, zero=3,
                    recompute="full" if ckpt else "none")
    return train_step(spec, st, hw, eff).mfu / mfu - 1


def test_llm_foundry_mfu_in_sample():
    # Fitted cases (the non-GEMM constant comes from the <= 8k-token rows, tools/fit_training.py;
    # GEMM and attention times are the measured kernel tables, not fitted), so this checks the
    # fit: median |error| 9.6 %, worst +29.5 % (13B at micro-batch 2 on H100, whose FSDP
    # traffic per micro-batch is not fully hidden in practice).  Before the kernel tables a
    # fitted per-family GEMM efficiency gave 8 % / 21 %; it is gone (issue 9: no per-family
    # multipliers), and these bounds record the model as it now is.  Rows at 16k-65k
    # tokens on H100 are not used: their 2023 Triton/ALiBi attention kernels ran far below
    # FlashAttention-2 speed, and suanli predicts 35-60 % higher MFU for them.
    errors = [foundry_error(H100, row) for row in FOUNDRY_H100] + [foundry_error(A100, row) for row in FOUNDRY_A100]
    assert statistics.median(abs(e) for e in errors) < 0.10
    assert max(abs(e) for e in errors) < 0.30


LLAMA3_405B = load_model("meta-llama/Llama-3.1-405B")


@pytest.mark.parametrize("gpus, published", [(8192, 430 / 989.4), (16384, 400 / 989.4)])
def test_llama3_405b_mfu_held_out(gpus: int, published: float):
    # Held out: predicted 50.9 / 47.9 % vs 43.5 / 40.4 % published (+17 / +18 %).  The GEMMs
    # now run at the measured kernel tables' efficiency (~73 % of peak for these shapes, timed
    # in short loops at boost clock); a 3-month run at 700 W sustains lower clocks, and Meta's
    # unstated micro-batch size (1 assumed) and NCCLX/RoCE details are not modelled.  The old
    # model's fitted per-family GEMM efficiency (removed, issue 9) gave +7 %.  The assertion
    # pins this known optimism: never pessimistic, at most 20 % optimistic.
    hw, eff = hw_eff(H100, 400)
    st = TrainSetup(gpus=gpus, seq_len=8192, global_batch=2048, tp=8, pp=16, virtual_stages=8, zero=2)
    r = train_step(LLAMA3_405B, st, hw, eff)
    assert 1.0 < r.mfu / published < 1.20
    # Meta trained 8K sequences without activation checkpointing; suanli's estimate (70 GiB of
    # activations on the first stage, eq. 5 x interleave factor, + 2 GB + 5 % reserve) lands a
    # few GiB over 80 GiB -- Meta also deallocated stage inputs/outputs early, not modelled.
    assert r.memory.total < 1.1 * r.memory.capacity


def test_llama3_405b_drop_from_8k_to_16k_gpus_is_the_pipeline_bubble():
    # [LLAMA3]: "The slight drop in MFU to 41% on 16K GPUs with DP=128 compared to 43% on 8K
    # GPUs with DP=64 is due to the lower batch size per DP group" -- i.e. half the
    # micro-batches per pipeline: bubble (p-1)/(v m) from 15/256 to 15/128.
    hw, eff = hw_eff(H100, 400)
    runs = [train_step(LLAMA3_405B, TrainSetup(gpus=g, seq_len=8192, global_batch=2048, tp=8, pp=16,
                                               virtual_stages=8, zero=2), hw, eff) for g in (8192, 16384)]
    assert runs[1].mfu / runs[0].mfu == pytest.approx(400 / 430, abs=0.03)
    assert runs[1].breakdown["pipeline_bubble"] / runs[1].step_s > 1.5 * (
        runs[0].breakdown["pipeline_bubble"] / runs[0].step_s)


# [KORTH] Table 3 / 5: (hidden, layers, heads, pp, GPUs, global batch, micro-batch, interleave,
# MFU with SP + selective recompute, iteration time selective, iteration time full recompute)
KORTH = {"22B": (6144, 48, 64, 1, 8, 4, 4, 1, .415, 1.10, 1.42),
         "175B": (12288, 96, 96, 8, 64, 64, 1, 3, .514, 13.75, 18.13),
         "530B": (20480, 105, 128, 35, 280, 280, 1, 3, .560, 37.83, 49.05),
         "1T": (25600, 128, 160, 64, 512, 512, 1, 1, .563, 71.49, 94.42)}


@pytest.mark.parametrize("name", list(KORTH))
def test_megatron_korthikanti_table5(name: str):
    # Fitted for the ampere family together with llm-foundry A100: predictions run +17 / +10 /
    # +7 / +2 % above Megatron-LM 2022 (no FlashAttention, TP-split GEMMs); +-20 % tolerance.
    # The recompute penalty is not fitted: full recompute without SP must cost what the paper
    # measured (t_selective / t_full = 0.76-0.78; predicted 0.68-0.76) within 15 %.
    h, layers, heads, pp, gpus, gb, mb, v, mfu, t_sel, t_full = KORTH[name]
    spec = gpt(f"gpt-{name}", h, layers, heads)
    hw, eff = hw_eff(A100, 200)      # Selene: 8 x 200 Gb/s HDR per DGX A100
    base = TrainSetup(gpus=gpus, seq_len=2048, global_batch=gb, micro_batch=mb, tp=8, pp=pp, virtual_stages=v,
                      flash_attention=False, dropout=True, recompute="selective")
    sel = train_step(spec, base, hw, eff)
    full = train_step(spec, replace(base, recompute="full", sequence_parallel=False), hw, eff)
    assert sel.mfu == pytest.approx(mfu, rel=0.20)
    assert full.mfu / sel.mfu == pytest.approx(t_sel / t_full, rel=0.15)
    assert sel.memory.fits


def qwen(name: str, h: int, layers: int, heads: int, ffn: int, vocab: int) -> ModelSpec:
    return ModelSpec(id=name, model_type="qwen", origin="test", hidden_size=h, num_layers=layers, vocab_size=vocab,
                     tie_word_embeddings=False, num_heads=heads, num_kv_heads=heads, head_dim=h // heads,
                     intermediate_size=ffn, attention_bias=True)


QWEN = {"1.8B": qwen("qwen-1.8b", 2048, 24, 16, 5504, 151936), "7B": qwen("qwen-7b", 4096, 32, 32, 11008, 151936),
        "14B": qwen("qwen-14b", 5120, 40, 40, 13696, 152064), "72B": qwen("qwen-72b", 8192, 80, 64, 24576, 152064)}
# [QWEN] seconds per iteration of 8 sequences: (model, tokens, method, GPUs, published s/it)
QWEN_RUNS = [("7B", 2048, "lora", 1, 5.2), ("7B", 4096, "lora", 1, 10.1), ("7B", 8192, "lora", 1, 21.3),
             ("14B", 2048, "lora", 1, 8.4), ("14B", 4096, "lora", 1, 17.0), ("14B", 8192, "lora", 1, 36.0),
             ("72B", 2048, "qlora", 1, 59.5), ("72B", 4096, "qlora", 1, 97.7), ("72B", 8192, "qlora", 1, 179.8),
             ("72B", 2048, "lora", 4, 45.7), ("72B", 4096, "lora", 4, 83.4), ("72B", 8192, "lora", 4, 161.5)]


@pytest.mark.parametrize("size, seq, method, gpus, published", QWEN_RUNS)
def test_qwen_lora_and_qlora_step_times_held_out(size: str, seq: int, method: str, gpus: int, published: float):
    # Held out (the QLoRA dequantisation constant was fitted on Qwen 1.8B-14B, not on 72B).
    # Predictions are 2-27 % faster than measured (7B: -14/-8/-3 %, 14B: -8/-6/-3 %,
    # 72B QLoRA: -16/-13/-10 %, 72B LoRA on 4 GPUs: -27/-18/-10 % at 2k/4k/8k tokens): Hugging
    # Face Trainer overheads (data collation, logging, per-step Python) and ZeRO-3 gathers of
    # small LoRA steps are not modelled, so the tolerance is -30 % / +5 % (it was -22 % with
    # the removed per-family GEMM efficiency).
    # LoRA r=64 on all linear layers, gradient checkpointing; 72B LoRA ran DeepSpeed ZeRO-3.
    hw, eff = hw_eff(A100, 200)
    st = TrainSetup(gpus=gpus, seq_len=seq, global_batch=8 * gpus, recompute="full", method=method, lora_rank=64,
                    zero=3 if gpus > 1 else 0)
    r = train_step(QWEN[size], st, hw, eff)
    assert -0.30 < r.step_s / published - 1 < 0.05
    assert r.memory.fits


def test_small_model_lora_is_dominated_by_framework_overhead():
    # [QWEN] 1.8B: 1.7 s/it measured at 2k tokens; the FLOP model says ~1.1 s.  Documented
    # limitation: fixed per-step costs of the training loop are not modelled.
    hw, eff = hw_eff(A100, 200)
    st = TrainSetup(gpus=1, seq_len=2048, global_batch=8, recompute="full", method="lora", lora_rank=64)
    assert train_step(QWEN["1.8B"], st, hw, eff).step_s < 1.7


def test_nemo_lora_speedup_over_full_fine_tuning():
    # [NEMO] Llama2-7B on 8 H100, FP8, 4,096 tokens: LoRA 24,824 vs SFT 16,891 tokens/s/GPU,
    # a 1.47x speed-up (the 6N -> 4N FLOP ratio is 1.5).  suanli predicts 1.09x: its
    # memory-bound non-GEMM time, fitted on PyTorch/FSDP runs, does not shrink with LoRA,
    # while NeMo fuses those operations, and with FP8 GEMMs at the measured tables' speed that
    # constant is most of a 7B step.  Held out; biased low by design of the constant: the
    # ratio must stay above 1 (LoRA is never slower) and below the published 1.47x, within
    # 30 % of it (it was 20 % with the removed per-family GEMM efficiency, predicting 1.20x).
    l7 = ModelSpec(id="llama2-7b", model_type="llama", origin="test", hidden_size=4096, num_layers=32,
                   vocab_size=32000, tie_word_embeddings=False, num_heads=32, num_kv_heads=32, head_dim=128,
                   intermediate_size=11008)
    hw, eff = hw_eff(H100, 400, DType.FP8)
    runs = {m: train_step(l7, TrainSetup(gpus=8, seq_len=4096, global_batch=32, zero=1, method=m, dtype="fp8"), hw, eff)
            for m in ("full", "lora")}
    ratio = runs["lora"].tokens_per_s / runs["full"].tokens_per_s
    assert 1.0 < ratio < 24824 / 16891 and ratio == pytest.approx(24824 / 16891, rel=0.30)
    assert runs["full"].tokens_per_s / 8 == pytest.approx(16891, rel=0.25)


# --- the use case --------------------------------------------------------------------------

def test_estimate_totals_cost_and_json():
    e = train_estimate(None, "H100", params="7e9", gpus=16, tokens="200B", seq_len=4096,
                       cost_per_gpu_hour=2.5, currency="usd")
    assert e.model.startswith("synthetic-dense") and e.model_origin == "synthetic"
    assert e.steps == math.ceil(200e9 / e.tokens_per_step)
    assert e.total_time_s == pytest.approx(e.steps * e.step_s)
    assert e.gpu_hours == pytest.approx(16 * e.total_time_s / 3600)
    assert e.cost == pytest.approx(e.gpu_hours * 2.5) and e.currency == "USD"
    assert "user-given rate" in e.cost_note
    assert e.tokens_per_step == pytest.approx(4 * 2**20, rel=0.01)      # default ~4M-token batch
    lo, hi = e.range("gpu_hours")
    assert lo < e.gpu_hours < hi
    rlo, rhi = e.range("mfu")
    assert rlo < e.mfu < rhi <= 1.0
    d = json.loads(json.dumps(e.to_dict()))
    for key in ("mfu", "step_s", "tokens_per_s", "total_time_days", "gpu_hours", "memory_gib", "breakdown_s",
                "fits", "cost", "currency", "provenance", "mode", "band", "warnings"):
        assert key in d
    assert train_estimate(LLAMA8, "H100", gpus=8, tokens=1e9).cost is None


def test_transferred_kernels_are_flagged_with_a_wider_band():
    # H20 has no GEMM tables of its own (InferSim measured its FP8 GEMMs only): its BF16 GEMM
    # times are transferred from a measured Hopper; H100 has measured tables.
    e = train_estimate(LLAMA8, "H20", gpus=8, tokens=1e9, seq_len=2048)
    h = train_estimate(LLAMA8, "H100", gpus=8, tokens=1e9, seq_len=2048)
    assert e.mode == "transferred" and h.mode == "measured-kernels"
    assert e.band[1] > h.band[1] and any("transferred" in w for w in e.warnings)


def test_tensor_parallel_across_nodes_is_warned_and_slow():
    inside = train_estimate(LLAMA70, "H100", gpus=64, tp=8, tokens=1e9, strict_fit=False)
    across = train_estimate(LLAMA70, "H100", gpus=64, tp=16, tokens=1e9, strict_fit=False)
    assert any("spans 2 nodes" in w for w in across.warnings)
    assert across.breakdown_s["tp_comm"] > 5 * inside.breakdown_s["tp_comm"]


@pytest.mark.parametrize("kwargs, error", [
    (dict(model="qwen3-8b", hardware="no-such-chip"), UnknownHardware),
    (dict(model="no-such-model", hardware="H100"), UnknownModel),
    (dict(model="qwen3-8b", hardware="H100", tokens=-1), InvalidInput),
    (dict(model="qwen3-8b", hardware="H100", tp=3, gpus=3), InvalidInput),
    (dict(model="qwen3-8b", hardware="H100", params="8e9"), InvalidInput),
    (dict(model=None, hardware="H100"), InvalidInput),
    (dict(model="qwen3-8b", hardware="H100", global_batch=3), InvalidInput),
    (dict(model="qwen3-8b", hardware="H100", method="dpo"), InvalidInput),
    (dict(model="qwen3-8b", hardware="H100", zero=4), InvalidInput),
    (dict(model="qwen3-8b", hardware="H100", currency="dollars", cost_per_gpu_hour=1.0), InvalidInput),
    (dict(model="qwen3-8b", hardware="A100", dtype="fp8"), SuanliError),
])
def test_bad_input_raises_typed_errors(kwargs: dict, error: type):
    kwargs = {"tokens": 1e9, **kwargs}
    with pytest.raises(error):
        train_estimate(**kwargs)


# --- CLI -----------------------------------------------------------------------------------

runner = CliRunner()


def cli(*args: str):
    return runner.invoke(app, ["train", *args])


def test_cli_json_and_table():
    r = cli("--model", "meta-llama/Llama-3.1-8B", "--hardware", "H100", "--gpus", "8", "--tokens", "10B",
            "--seq-len", "2048", "--cost-per-gpu-hour", "14", "--currency", "CNY", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["hardware"] == "nvidia_h100_sxm" and d["gpus"] == 8 and d["currency"] == "CNY"
    assert d["cost"] == pytest.approx(d["gpu_hours"] * 14) and 0.2 < d["mfu"] < 0.65
    r = cli("--params", "1.5B", "--hardware", "H20", "--gpus", "1", "--tokens", "20M", "--method", "qlora",
            "--lora-rank", "32")
    assert r.exit_code == 0, r.output
    for text in ("MFU", "GPU-hours", "memory per GPU", "time per step", "transferred", "qlora"):
        assert text in r.stdout, text


@pytest.mark.parametrize("args, needle", [
    (["--model", "qwen3-8b", "--hardware", "nochip", "--tokens", "1e9"], "unknown accelerator"),
    (["--model", "nope", "--hardware", "H100", "--tokens", "1e9"], "unknown model"),
    (["--model", "qwen3-8b", "--hardware", "H100", "--tokens", "-5"], "must be positive"),
    (["--model", "meta-llama/Llama-3.1-70B", "--hardware", "H100", "--gpus", "9", "--tp", "3", "--tokens", "1e9"],
     "does not divide the 64 attention heads"),
    (["--model", "meta-llama/Llama-3.1-70B", "--hardware", "H100", "--gpus", "8", "--zero", "3", "--tokens", "1e9"],
     "GiB short"),
    (["--hardware", "H100", "--tokens", "1e9"], "exactly one of --model and --params"),
    (["--params", "7e9", "--hardware", "H100", "--tokens", "1e9", "--method", "rlhf"], "--method"),
])
def test_cli_bad_input_is_one_line_exit_2(args: list[str], needle: str):
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
