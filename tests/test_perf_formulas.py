"""Hand calculations of the performance formulas.

Every expected value is written out as arithmetic on literal numbers taken from the model
configs, the formulas cited in the comments and the synthetic hardware below -- never by
calling the code under test.  Tolerances are floating-point only (rel 1e-9) unless a
comment says otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

from suanli.perf import comm
from suanli.perf.hardware import HwParams, compute_dtype_for, kernel_dtype, precision_for
from suanli.perf.layout import Layout, layout_of
from suanli.perf.memory import kv_bytes_per_sequence, kv_bytes_per_token_layer, plan_memory, weights_per_gpu
from suanli.perf.opcost import COSTS, Platform, op_times
from suanli.perf.ops import KINDS, StepLoad, distinct_ranks, step_ops
from suanli.perf.runtime import EngineLimits, Runtime, speed_of_light
from suanli.perf.step import step_breakdown, step_time
from suanli.specs.accelerator import load_hardware
from suanli.specs.deployment import Deployment, validate_deployment
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec, load_model, parse_config

EXACT = 1e-9


def one(value: object) -> float:
    """The single value of a scalar or one-element result (shape is tested separately)."""
    arr = np.asarray(value, dtype=float)
    assert arr.size == 1, arr.shape
    return float(arr.reshape(-1)[0])


@pytest.fixture(autouse=True)
def no_user_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUANLI_HARDWARE_PATH", raising=False)
    monkeypatch.delenv("SUANLI_SYSTEMS_PATH", raising=False)


# --- synthetic fixtures -----------------------------------------------------------------

def tiny_dense() -> ModelSpec:
    """h=1024, 4 layers, 8 heads = 8 KV heads of 128, SwiGLU 4096, vocab 32000, untied.

    attention per layer: q 1024*1024 + k,v 2*1024*1024 + o 1024*1024 = 4,194,304
    MLP per layer:       3*1024*4096                                 = 12,582,912
    LM head:             32000*1024                                  = 32,768,000
    KV per token-layer (bf16): 2 * 8 * 128 * 2 bytes                 = 4,096 bytes
    """
    return parse_config({
        "model_type": "llama", "hidden_size": 1024, "num_hidden_layers": 4,
        "num_attention_heads": 8, "num_key_value_heads": 8, "head_dim": 128,
        "intermediate_size": 4096, "vocab_size": 32000, "tie_word_embeddings": False,
    }, model_id="test/tiny-dense", origin="test")


def tiny_moe() -> ModelSpec:
    """Mixtral-style: h=1024, 2 layers, 8 heads = 8 KV heads of 128, 8 experts (top 2) of
    width 512, vocab 32000.  One expert: 3*1024*512 = 1,572,864 parameters."""
    return parse_config({
        "model_type": "mixtral", "hidden_size": 1024, "num_hidden_layers": 2,
        "num_attention_heads": 8, "num_key_value_heads": 8, "head_dim": 128,
        "intermediate_size": 512, "num_local_experts": 8, "num_experts_per_tok": 2,
        "vocab_size": 32000, "tie_word_embeddings": False,
    }, model_id="test/tiny-moe", origin="test")


def synthetic_hw(**kw: float) -> HwParams:
    """1 TB/s memory, 100 TFLOP/s at BF16 (200 at FP8), 100 GB/s link (one direction),
    10 GB/s scale-out, 8 per node."""
    base = dict(name="synthetic", memory=100e9, mem_bw=1e12, peaks={"bf16": 100e12, "fp8": 200e12},
                link_bw=100e9, link_latency_s=10e-6, scaleout_bw=10e9, scaleout_latency_s=20e-6, node_size=8)
    base.update(kw)
    return HwParams(**base)  # type: ignore[arg-type]


def sol(**kw: float) -> Platform:
    """Speed-of-light platform: every op is its bare roofline, no runtime costs."""
    return Platform(hw=synthetic_hw(**kw), kernels=None, runtime=speed_of_light())


def lay(dep: Deployment, model: ModelSpec | None = None) -> Layout:
    """Layout of ``dep``; with ``model`` its per-layer formats (MXFP4 only on experts)."""
    if model is None:
        return layout_of(dep)
    return layout_of(dep, precision_for(model, None, dep.weight_dtype, dep.kv_dtype)[0])


# --- weights per accelerator ------------------------------------------------------------

def test_llama_3_1_8b_weights_bf16_tp1() -> None:
    # Llama-3.1-8B: h=4096, L=32, 32 heads, 8 KV heads of 128, ffn 14336, vocab 128256.
    # linear params per layer: attn 2*4096*4096 + 2*4096*1024 = 41,943,040
    #                          MLP 3*4096*14336 = 176,160,768  -> 218,103,808; x32 = 6,979,321,856
    # embedding + LM head: 2*128256*4096 = 1,050,673,152
    # norms held as "other": 32 layers * 2 * 4096 * 2 bytes = 524,288 bytes
    # bytes = 2 * (6,979,321,856 + 1,050,673,152) + 524,288 = 16,060,514,304
    m = load_model("meta-llama/Llama-3.1-8B")
    w = weights_per_gpu(m, lay(Deployment(gpus=1)))
    assert w.total == pytest.approx(16_060_514_304, rel=EXACT)
    assert w.routed_experts == 0 and w.shared_experts == 0


def test_llama_3_1_70b_weights_bf16_tp1_is_two_bytes_per_parameter() -> None:
    # linear params 68,451,041,280; embedding + LM head 2,101,346,304 (see test_models);
    # bytes = 2 * (68,451,041,280 + 2,101,346,304) + 80*2*8192*2 (norms) = 141,107,396,608,
    # i.e. 2 bytes x 70.55e9 params (the final norm, 16 KB, is the only thing left out).
    m = load_model("meta-llama/Llama-3.1-70B")
    w = weights_per_gpu(m, lay(Deployment(gpus=1, weight_dtype=DType.BF16)))
    assert w.total == pytest.approx(141_107_396_608, rel=EXACT)
    assert w.total == pytest.approx(2 * 70.55e9, rel=1e-3)


def test_llama_3_1_70b_weights_fp8_tp4() -> None:
    # FP8 checkpoints keep embedding and LM head in BF16 (as published FP8 Llama checkpoints do):
    # (68,451,041,280 * 1 byte + 2,101,346,304 * 2 bytes) / 4 + norms 2,621,440 (replicated)
    # = 72,653,733,888 / 4 + 2,621,440 = 18,166,054,912 bytes
    # which is ~1/8 of the BF16 TP1 figure (141.1 GB / 8 = 17.64 GB) plus the 16-bit embeddings.
    m = load_model("meta-llama/Llama-3.1-70B")
    dep = Deployment(gpus=4, tp=4, weight_dtype=DType.FP8)
    validate_deployment(dep, m)
    w = weights_per_gpu(m, lay(dep))
    assert w.total == pytest.approx(18_166_054_912, rel=EXACT)
    assert w.total == pytest.approx(141.107e9 / 8, rel=0.035)  # 3 % above 1/8: BF16 embeddings


def test_llama_3_1_70b_weights_pp2_hold_half_the_layers_and_one_embedding() -> None:
    # PP 2: 40 layers per stage; the first stage holds the embedding, the last the LM head
    # (same size here), so the busiest stage holds one of them:
    # 40 * 855,638,016 * 2 + 128256*8192 * 2 + 40 * 2*8192 * 2 (norms)
    # = 68,451,041,280 + 2,101,346,304 + 1,310,720 = 70,553,698,304 bytes
    m = load_model("meta-llama/Llama-3.1-70B")
    dep = Deployment(gpus=2, pp=2)
    validate_deployment(dep, m)
    assert weights_per_gpu(m, lay(dep)).total == pytest.approx(70_553_698_304, rel=EXACT)


def test_deepseek_v3_fp8_tp8_weights() -> None:
    # Per-GPU bytes with TP 8, FP8 linear layers, BF16 embeddings (counts from test_models):
    #   attention   MLA down-projections are replicated on every TP rank (vLLM/SGLang):
    #               q_a 7168*1536 + 1536 norm = 11,011,584; kv_a 7168*576 + 512 norm = 4,129,280
    #               -> 15,140,864 replicated; the other 171,966,464 split 8 ways = 21,495,808
    #               61 * (15,140,864 + 21,495,808)          =  2,234,836,992
    #   dense MLP   3 * 396,361,728 / 8                     =    148,635,648
    #   shared exp. 58 * 44,040,192 / 8                     =    319,291,392
    #   routed      58 * 256 * 44,040,192 / 8               = 81,738,596,352
    #   embeddings  2 * 926,679,040 * 2 bytes / 8           =    463,339,520
    #   other       61 * (2*7168 + 7168*256) * 2 bytes      =    225,619,968
    #   total                                               = 85,130,319,872
    # (more than 0.9 x 80 GiB = 77.3e9: V3 does not fit one 8 x H100 node, as is well known)
    m = load_model("deepseek-ai/DeepSeek-V3")
    dep = Deployment(gpus=8, tp=8, weight_dtype=DType.FP8)
    validate_deployment(dep, m)
    w = weights_per_gpu(m, lay(dep))
    assert w.routed_experts == pytest.approx(81_738_596_352, rel=EXACT)
    assert w.attention == pytest.approx(2_234_836_992, rel=EXACT)
    assert w.total == pytest.approx(85_130_319_872, rel=EXACT)
    assert w.total > 0.9 * 80 * 2**30


def test_gpt_oss_120b_mxfp4_experts_bf16_attention() -> None:
    # gpt-oss-120b: MXFP4 only on the MoE experts (config modules_to_not_convert), 4.25 bits.
    # expert: 3*2880*2880 + 2*2880 (gate/up bias) + 2880 (down bias) = 24,891,840
    # routed: 36 layers * 128 experts * 24,891,840 * 4.25/8 bytes = 60,935,224,320
    # attention: q 2880*64*64 = 11,796,480, k+v 2*2880*8*64 = 2,949,120, o 11,796,480,
    #   q/k/v bias (64+16)*64 = 5,120, o bias 2,880, sinks 64 -> 26,550,144; x36 x2 bytes
    #   = 1,911,610,368
    # embedding + LM head: 2 * 201088*2880 * 2 bytes = 2,316,533,760
    # other (norms + router): 36 * (2*2880 + 2880*128) * 2 bytes = 26,956,800
    # total = 65,190,325,248 bytes (fits an 80 GB card, as OpenAI states)
    m = load_model("openai/gpt-oss-120b")
    w = weights_per_gpu(m, lay(Deployment(gpus=1, weight_dtype=DType.MXFP4), m))
    assert w.routed_experts == pytest.approx(60_935_224_320, rel=EXACT)
    assert w.attention == pytest.approx(1_911_610_368, rel=EXACT)
    assert w.embeddings == pytest.approx(2_316_533_760, rel=EXACT)
    assert w.total == pytest.approx(65_190_325_248, rel=EXACT)


# --- KV cache ---------------------------------------------------------------------------

@pytest.mark.parametrize(("tp", "expected"), [
    (1, 2 * 8 * 128 * 2),   # 8 KV heads on one GPU: 4096 bytes
    (4, 2 * 2 * 128 * 2),   # 2 heads per rank: 1024
    (8, 2 * 1 * 128 * 2),   # 1 head per rank: 512
    (16, 2 * 1 * 128 * 2),  # TP 16 > 8 KV heads: each rank keeps a replica of one head: 512
    (32, 2 * 1 * 128 * 2),  # still one replicated head per rank
])
def test_gqa_kv_bytes_per_token_layer(tp: int, expected: float) -> None:
    m = load_model("meta-llama/Llama-3.1-70B")
    dep = Deployment(gpus=tp, tp=tp)
    validate_deployment(dep, m)
    assert kv_bytes_per_token_layer(m, lay(dep)) == expected


@pytest.mark.parametrize("tp", [1, 8, 16])
def test_mla_kv_is_not_split_by_tp(tp: int) -> None:
    # DeepSeek-V3 latent 512 + RoPE key 64 = 576 elements; BF16: 1152 bytes, FP8: 576 bytes,
    # held whole by every TP rank (vLLM/SGLang MLA backends).
    m = load_model("deepseek-ai/DeepSeek-V3")
    assert kv_bytes_per_token_layer(m, lay(Deployment(gpus=tp, tp=tp))) == 576 * 2
    assert kv_bytes_per_token_layer(m, lay(Deployment(gpus=tp, tp=tp, kv_dtype=DType.FP8))) == 576 * 1


def test_sliding_window_caps_kv_per_sequence() -> None:
    # gpt-oss-120b: 36 layers, 18 full + 18 sliding (window 128); KV per token-layer
    # 2 * 8 * 64 * 2 bytes = 2048.
    m = load_model("openai/gpt-oss-120b")
    dep = Deployment(gpus=1, weight_dtype=DType.MXFP4)
    # context 100 < window: all 36 layers hold 100 tokens: 2048 * 36 * 100 = 7,372,800
    assert kv_bytes_per_sequence(m, lay(dep), 100) == pytest.approx(7_372_800, rel=EXACT)
    # context 1000: 2048 * (18 * 1000 + 18 * 128) = 2048 * 20,304 = 41,582,592
    assert kv_bytes_per_sequence(m, lay(dep), 1000) == pytest.approx(41_582_592, rel=EXACT)
    # context 100,000: 2048 * (18 * 100,000 + 18 * 128) = 2048 * 1,802,304 = 3,691,118,592
    assert kv_bytes_per_sequence(m, lay(dep), 100_000) == pytest.approx(3_691_118_592, rel=EXACT)


def test_plan_memory_max_sequences_llama_3_1_8b() -> None:
    # 80e9 bytes x 0.9 = 72e9 usable; weights 16,060,514,304 (above); workspace 2e9
    # kv_free = 72e9 - 16,060,514,304 - 2e9 = 53,939,485,696
    # per sequence of 4096 tokens: 4096 bytes/token-layer x 32 layers x 4096 = 536,870,912
    # max sequences = 53,939,485,696 / 536,870,912 = 100.47...
    m = load_model("meta-llama/Llama-3.1-8B")
    plan = plan_memory(m, lay(Deployment(gpus=1)), memory=80e9, mem_fraction=0.9, workspace=2e9,
                       context=4096)
    assert plan.capacity_bytes == pytest.approx(72e9, rel=EXACT)
    assert plan.kv_free_bytes == pytest.approx(53_939_485_696, rel=EXACT)
    assert plan.kv_bytes_per_seq == pytest.approx(536_870_912, rel=EXACT)
    assert plan.max_seqs_per_instance == pytest.approx(53_939_485_696 / 536_870_912, rel=EXACT)
    assert 100 < plan.max_seqs_per_instance < 101
    assert plan.fits and plan.shortfall_bytes == 0


def test_plan_memory_reports_shortfall_when_weights_do_not_fit() -> None:
    # Llama-3.1-70B BF16 on one 80e9-byte card: 72e9 usable < 141.1e9 weights.
    # shortfall = weights + workspace + one sequence - capacity
    #           = 141,107,396,608 + 2e9 + (4096 * 80 * 1024 = 335,544,320) - 72e9
    #           = 71,442,940,928
    m = load_model("meta-llama/Llama-3.1-70B")
    plan = plan_memory(m, lay(Deployment(gpus=1)), memory=80e9, mem_fraction=0.9, workspace=2e9,
                       context=1024)
    assert not plan.fits
    assert plan.max_seqs_per_instance == 0
    assert plan.shortfall_bytes == pytest.approx(71_442_940_928, rel=EXACT)


# --- collectives (alpha-beta) -----------------------------------------------------------

COMM = dict(link_bw=450e9, scaleout_bw=50e9, node_size=8, latency=8e-6, scaleout_latency=25e-6,
            eff=0.7)


def test_allreduce_within_node() -> None:
    # ring all-reduce: alpha + 2(n-1)/n * S / (B * eff)
    # 8e-6 + 2*7/8 * 1e6 / (450e9 * 0.7) = 8e-6 + 1.75e6 / 315e9 = 8e-6 + 5.5556e-6
    assert comm.allreduce_time(1e6, 8, **COMM) == pytest.approx(8e-6 + 1.75e6 / 315e9, rel=EXACT)


def test_allreduce_spanning_nodes_uses_scaleout_bandwidth() -> None:
    # 16 ranks on 8-GPU nodes: the ring crosses the NIC, slowest hop 50e9 * 0.7 = 35e9
    # alpha = 8e-6 + 25e-6 = 33e-6; beta = 2*15/16 * 1e6 / 35e9 = 1.875e6 / 35e9 = 53.571e-6
    expected = 33e-6 + 1.875e6 / 35e9
    assert comm.allreduce_time(1e6, 16, **COMM) == pytest.approx(expected, rel=EXACT)
    assert expected == pytest.approx(86.571e-6, rel=1e-4)


def test_allreduce_of_one_rank_is_free_and_vectorised() -> None:
    assert comm.allreduce_time(1e6, 1, **COMM) == 0
    sizes = np.array([0.0, 1e6, 2e6])
    got = comm.allreduce_time(sizes, 2, **COMM)
    # n=2: 8e-6 + 2*1/2 * S / 315e9 = 8e-6 + S / 315e9
    np.testing.assert_allclose(got, 8e-6 + sizes / 315e9, rtol=EXACT)


def test_alltoall_within_node() -> None:
    # (n-1)/n of the rank's bytes leave it: 8e-6 + 7/8 * 1e6 / 315e9
    assert comm.alltoall_time(1e6, 8, **COMM) == pytest.approx(8e-6 + 0.875e6 / 315e9, rel=EXACT)


def test_alltoall_spanning_nodes() -> None:
    # n=16, node 8: away = 15/16 * 1e6 = 937,500 bytes; 8 of the 15 peers are remote.
    # intra: 937,500 * 7/15 / 315e9 = 437,500 / 315e9 = 1.389e-6
    # inter: 937,500 * 8/15 / 35e9  = 500,000 / 35e9  = 14.286e-6 (NIC-bound, runs in parallel)
    # time = 8e-6 + 25e-6 + max(1.389e-6, 14.286e-6)
    expected = 33e-6 + 500_000 / 35e9
    assert comm.alltoall_time(1e6, 16, **COMM) == pytest.approx(expected, rel=EXACT)


def test_p2p() -> None:
    # 10e-6 + 1e6 / (50e9 * 0.5) = 10e-6 + 40e-6 = 50e-6
    assert comm.p2p_time(1e6, bw=50e9, latency=10e-6, eff=0.5) == pytest.approx(50e-6, rel=EXACT)


# --- the op table of one engine step (speed-of-light costs: every op its bare roofline) ----

def sol_time(model: ModelSpec, dep: Deployment, load: StepLoad, **hw: float) -> float:
    return one(step_time(model, lay(dep), sol(**hw), load))


def test_decode_step_batch_one_op_table() -> None:
    # tiny_dense, TP1, BF16, one sequence, no context.  Bytes per op (read + written):
    #   qkv   m=1, n=(8+2*8)*128=3072, k=1024: 1024*3072*2 + 1024*2 + 3072*2 =  6,299,648
    #   o     m=1, n=1024, k=1024:             1024*1024*2 + 2048 + 2048     =  2,101,248
    #   attention output (no context):         8*128*2                       =      2,048
    #   gate/up m=1, n=8192, k=1024:           1024*8192*2 + 2048 + 16,384   = 16,795,648
    #   down  m=1, n=1024, k=4096:             4096*1024*2 + 8192 + 2048     =  8,398,848
    #   SiLU*up: 2*4096*2 + 4096*2                                           =     24,576
    #   element-wise passes: 10 * 1024 * 2                                    =     20,480
    #   -> per layer 33,642,496, x 4 layers = 134,569,984
    #   LM head m=1, n=32000, k=1024:          32000*1024*2 + 2048 + 64,000  = 65,602,048
    #   total 200,172,032 bytes; every op is memory-bound (a GEMV does 1 FLOP per byte,
    #   the synthetic machine balances at 100 FLOP/byte) -> 200.172032 us at 1 TB/s.
    m = tiny_dense()
    assert sol_time(m, Deployment(gpus=1), StepLoad(n_dec=1, ctx_dec=0)) == pytest.approx(200_172_032 / 1e12,
                                                                                         rel=EXACT)


def test_step_flops_are_two_per_parameter_per_token() -> None:
    # 4096 decodes: 2 x 4096 x (4 layers x 16,777,216 linear params + 32,768,000 LM head)
    #   = 2 * 4096 * 99,876,864 = 818,191,269,888 FLOPs (no context: attention FLOPs 0)
    m = tiny_dense()
    table = step_ops(m, lay(Deployment(gpus=1)), StepLoad(n_dec=4096, ctx_dec=0), lay(Deployment(gpus=1)).prec)
    assert one(table.total("flops")) == pytest.approx(818_191_269_888, rel=EXACT)
    cols = table.columns()
    assert set(cols["kind"]) <= set(KINDS)
    assert cols["flops"].shape[0] == len(table)


def test_decode_step_large_batch_is_compute_bound() -> None:
    # The GEMMs above are compute-bound at 4096 tokens (e.g. the LM head: 268.4 GFLOP = 2.68 ms
    # vs 336 MB = 0.34 ms), so they take 818,191,269,888 / 1e14 = 8.18191269888 ms.
    # Memory-bound per layer: element-wise 10*4096*1024*2 = 83,886,080; SiLU*up 3*4096*4096*2
    # = 100,663,296; attention output 4096*8*128*2 = 8,388,608 -> 192,937,984 x 4 layers
    # = 771,751,936 bytes = 771.751936 us.  Total 8.95366463488 ms.
    got = sol_time(tiny_dense(), Deployment(gpus=1), StepLoad(n_dec=4096, ctx_dec=0))
    assert got == pytest.approx(818_191_269_888 / 1e14 + 771_751_936 / 1e12, rel=EXACT)


def test_decode_step_reads_the_kv_cache() -> None:
    # + 1000 tokens of context: 4 layers * 1000 tokens * 2*8*128*2 bytes = 16,384,000 bytes
    # (4*8*128*1000 = 4.1 MFLOP per layer: memory-bound)
    m = tiny_dense()
    base = sol_time(m, Deployment(gpus=1), StepLoad(n_dec=1, ctx_dec=0))
    more = sol_time(m, Deployment(gpus=1), StepLoad(n_dec=1, ctx_dec=1000))
    assert more - base == pytest.approx(16_384_000 / 1e12, rel=1e-6)


def test_step_of_one_deployment_and_scalar_load_is_a_scalar() -> None:
    m = tiny_dense()
    t = step_time(m, lay(Deployment(gpus=1)), sol(), StepLoad(n_dec=1, ctx_dec=0))
    assert np.ndim(t) == 0
    parts = step_breakdown(m, lay(Deployment(gpus=1)), sol(), StepLoad(n_dec=1, ctx_dec=0))
    assert all(np.ndim(v) == 0 for v in parts.values()), {k: np.shape(v) for k, v in parts.items()}


def test_tp2_decode_has_two_allreduces_per_layer() -> None:
    # Megatron TP: one all-reduce after attention, one after the MLP, of the hidden state.
    # 1 token: 1024 * 2 bytes = 2048 bytes; n=2: 10e-6 + 2*(1/2) * 2048 / 100e9 = 10.02048e-6,
    # x 2 per layer x 4 layers
    m = tiny_dense()
    dep = Deployment(gpus=2, tp=2)
    validate_deployment(dep, m)
    parts = step_breakdown(m, lay(dep), sol(), StepLoad(n_dec=1, ctx_dec=0))
    assert one(parts["attn_allreduce"] + parts["mlp_allreduce"]) == pytest.approx(8 * (10e-6 + 2048 / 100e9),
                                                                                  rel=EXACT)


def test_runtime_costs_per_step_sequence_and_layer() -> None:
    # step 1 ms + 8 sequences x 10 us + 4 layers x 20 us = 1.16 ms; under attention-DP 8 each
    # rank's scheduler handles 1 of the 8 sequences: 1 ms + 10 us + 80 us = 1.09 ms
    m = tiny_dense()
    rt = Runtime(step_s=1e-3, seq_s=10e-6, layer_s=20e-6, request_s=0.0, comm_eff=1.0)
    pf = Platform(hw=synthetic_hw(), kernels=RecordingKernels(), runtime=rt)
    parts = step_breakdown(m, lay(Deployment(gpus=1)), pf, StepLoad(n_dec=8, ctx_dec=0))
    assert one(parts["runtime"]) == pytest.approx(1e-3 + 8 * 10e-6 + 4 * 20e-6, rel=EXACT)
    dep = Deployment(gpus=8, tp=8, dp_attention=8)
    parts = step_breakdown(m, lay(dep), pf, StepLoad(n_dec=8, ctx_dec=0))
    assert one(parts["runtime"]) == pytest.approx(1e-3 + 1 * 10e-6 + 4 * 20e-6, rel=EXACT)


@pytest.mark.parametrize(("tokens", "touched"), [
    (1, 2.0),                        # one token reads exactly its k = 2 of E = 8 experts
    (3, 8 * (1 - 0.75 ** 3)),        # 8 * (1 - (1 - 2/8)^3) = 4.625
    (64, 8 * (1 - 0.75 ** 64)),      # ~8: every expert is read
])
def test_moe_touched_experts(tokens: int, touched: float) -> None:
    # A token picks k = 2 distinct of E = 8 experts: an expert escapes T tokens with
    # probability (1 - k/E)^T.  Expert bytes per layer: touched * 3*1024*512 params * 2 bytes
    # + read and written activations 2 * T*k*1024*2; memory-bound (FLOPs 2*T*k*1,572,864 over
    # >= 6.3 MB), 2 MoE layers.
    m = tiny_moe()
    parts = step_breakdown(m, lay(Deployment(gpus=1)), sol(), StepLoad(n_dec=tokens, ctx_dec=0))
    bytes_per_layer = touched * 1_572_864 * 2 + 2 * tokens * 2 * 1024 * 2
    assert one(parts["moe_experts"]) == pytest.approx(2 * bytes_per_layer / 1e12, rel=EXACT)


def test_expert_parallel_dispatch_and_combine_all_to_all() -> None:
    # tiny_moe with EP 8 (tp 1: DP attention over 8 ranks).  64 decodes, 8 per rank; a token
    # goes once to each distinct rank holding one of its k = 2 experts: 8 * (1 - (7/8)^2)
    # = 1.875 ranks.  Per rank 8 * 1.875 * 1024 elements * 2 bytes = 30,720 bytes, each way.
    # all-to-all in the node: 10e-6 + 7/8 * 30,720 / 100e9; dispatch + combine, 2 layers.
    m = tiny_moe()
    dep = Deployment(gpus=8, tp=1, ep=8)
    validate_deployment(dep, m)
    assert one(distinct_ranks(8, 2)) == pytest.approx(1.875, rel=EXACT)
    parts = step_breakdown(m, lay(dep), sol(), StepLoad(n_dec=64, ctx_dec=0))
    got = one(parts["moe_dispatch"] + parts["moe_combine"])
    assert got == pytest.approx(4 * (10e-6 + 26_880 / 100e9), rel=EXACT)
    assert one(parts["moe_allreduce"]) == 0.0


def test_prefill_attention_flops_are_quadratic() -> None:
    # A causal prompt of N tokens: each attends on average to N/2 keys.  Per token and layer
    # QK^T + PV = 2 * 2 * heads * head_dim * ctx FLOPs.
    # N = 8192: 4*8*128 * 8192 * 4096 = 137,438,953,472 per layer (compute-bound: its K/V and
    # output are 50 MB = 50 us < 1.37 ms), x 4 layers at 100 TFLOP/s.
    m = tiny_dense()
    n = 8192
    parts = step_breakdown(m, lay(Deployment(gpus=1)), sol(), StepLoad(n_pf=n, pf_seqs=1))
    assert one(parts["attn_prefill"]) == pytest.approx(4 * 137_438_953_472 / 1e14, rel=EXACT)
    parts2 = step_breakdown(m, lay(Deployment(gpus=1)), sol(), StepLoad(n_pf=2 * n, pf_seqs=1))
    assert one(parts2["attn_prefill"]) == pytest.approx(4 * one(parts["attn_prefill"]), rel=EXACT)
    # a chunk after a cached prefix attends to the prefix too: 4*8*128 * 4096 * (2048 + 4096)
    chunk = step_breakdown(m, lay(Deployment(gpus=1)), sol(), StepLoad(n_pf=4096, pf_seqs=1, pf_prefix=4096))
    assert one(chunk["attn_prefill"]) == pytest.approx(4 * 4 * 8 * 128 * 4096 * 6144 / 1e14, rel=EXACT)


def test_lm_head_flops_are_not_duplicated_by_attention_dp() -> None:
    # tp=8 split into 8 attention-DP ranks (attn_tp = 1): each rank computes its own tokens'
    # logits, so the logits of T tokens cost 2*T*h*V / 8 per GPU.  T = 8192 decodes:
    #   2 * 8192 * 1024 * 32000 / 8 = 67,108,864,000 FLOP per GPU (compute-bound)
    m = tiny_dense()
    dep = Deployment(gpus=8, tp=8, dp_attention=8)
    validate_deployment(dep, m)
    assert dep.attn_tp == 1 and dep.attn_dp == 8
    parts = step_breakdown(m, lay(dep), sol(), StepLoad(n_dec=8192, ctx_dec=0))
    assert one(parts["lm_head"]) == pytest.approx(67_108_864_000 / 1e14, rel=EXACT)


def test_busiest_dp_rank_holds_a_whole_prompt() -> None:
    # One 8192-token prompt on a DP-8 instance is prefilled by one rank, not spread 1/8 each:
    # its attention costs the same as on one GPU.
    m = tiny_dense()
    dep = Deployment(gpus=8, tp=8, dp_attention=8)
    one_gpu = step_breakdown(m, lay(Deployment(gpus=1)), sol(), StepLoad(n_pf=8192, pf_seqs=1))
    dp = step_breakdown(m, lay(dep), sol(), StepLoad(n_pf=8192, pf_seqs=1))
    assert one(dp["attn_prefill"]) == pytest.approx(one(one_gpu["attn_prefill"]), rel=EXACT)


class RecordingKernels:
    """A kernel model that records its calls, one record per element of stacked (batched)
    arguments, and answers 1 us per op (routing tests)."""

    basis: dict = {}

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name: str):  # gemm, moe, attn_*, mla_*, allreduce, alltoall
        def call(*args):
            nums = [a for a in args if not isinstance(a, str)]
            arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in nums))
            strs = [a for a in args if isinstance(a, str)]
            for row in zip(*(a.reshape(-1) for a in arrays)):
                self.calls.append((name, *(float(v) for v in row), *strs))
            return 1e-6 + 0.0 * arrays[0]
        return call


def test_every_op_kind_has_one_cost_function() -> None:
    assert set(COSTS) == set(KINDS)


def test_ops_reach_the_kernel_model_with_their_shapes() -> None:
    # Llama-style GEMMs as (m, n, k, dtype) per rank; decode attention as (batch, ctx, heads,
    # kv_heads, head_dim, kv dtype); FP8 weights use the FP8 GEMM tables.
    m = tiny_dense()
    kern = RecordingKernels()
    pf = Platform(hw=synthetic_hw(), kernels=kern, runtime=Runtime(comm_eff=1.0))
    dep = Deployment(gpus=2, tp=2, weight_dtype=DType.FP8)
    prec, _, _ = precision_for(m, None, DType.FP8, DType.BF16)
    op_times(step_ops(m, layout_of(dep, prec), StepLoad(n_dec=4, ctx_dec=100), prec), pf)
    gemms = {c[1:] for c in kern.calls if c[0] == "gemm"}
    assert (4.0, (4 + 2 * 4) * 128.0, 1024.0, "fp8") in gemms        # qkv: 4 q + 2x4 kv heads per rank
    assert (4.0, 1024.0, 512.0, "fp8") in gemms                      # o: k = 4 heads * 128
    assert (4.0, 4096.0, 1024.0, "fp8") in gemms                     # gate/up: 2 * 4096 / 2
    assert (4.0, 16000.0, 1024.0, "bf16") in gemms                   # LM head stays 16-bit
    assert ("attn_decode", 4.0, 100.0, 4.0, 4.0, 128.0, "bf16") in kern.calls
    assert ("allreduce", 8192.0, 2.0, "graph") in kern.calls         # 4 tokens * 1024 * 2 bytes, custom AR


@pytest.mark.parametrize(("chip", "weight", "key"), [
    ("H100", DType.FP8, "fp8"), ("A100", DType.FP8, "w8a16"), ("H100", DType.INT4, "w4a16"),
    ("H100", DType.MXFP4, "w4a16"), ("B200", DType.MXFP4, "fp4"), ("B200", DType.FP4, "fp4"),
    ("H100", DType.BF16, "bf16"), ("910B", DType.INT8, "int8"),
])
def test_kernel_dtype_of_the_linear_layers(chip: str, weight: DType, key: str) -> None:
    got, _, _ = kernel_dtype(load_hardware().get(chip), weight)
    assert got == key


def test_speed_of_light_runtime_is_labelled_and_free() -> None:
    rt = speed_of_light(EngineLimits(max_seqs=7))
    assert rt.mode == "roofline" and "roofline" in rt.provenance
    assert rt.step_s == rt.seq_s == rt.layer_s == rt.request_s == 0.0 and rt.comm_eff == 1.0
    assert rt.limits.max_seqs == 7 and rt.sigma == 0.0


def test_runtime_rejects_impossible_values() -> None:
    with pytest.raises(ValueError):
        Runtime(comm_eff=1.2)
    with pytest.raises(ValueError):
        Runtime(step_s=-1.0)


@pytest.mark.parametrize(("chip", "weight", "compute", "warns"), [
    ("A100", DType.FP8, DType.BF16, True),        # Ampere: no FP8 tensor cores -> W8A16 Marlin
    ("910B", DType.FP8, DType.BF16, True),        # Ascend 910B: no FP8 in the catalog
    ("H100", DType.FP8, DType.FP8, False),        # Hopper FP8 native
    ("B200", DType.FP4, DType.FP4, False),        # Blackwell NVFP4 native
    ("RTX-PRO-6000", DType.FP4, DType.FP4, False),  # Blackwell workstation FP4 native
    ("H100", DType.MXFP4, DType.FP8, True),       # no FP4 on Hopper: MXFP4 weights, FP8 compute
    ("B200", DType.MXFP4, DType.FP4, False),
    ("A100", DType.MXFP4, DType.BF16, True),
    ("H100", DType.INT4, DType.BF16, False),      # W4A16: 16-bit math by design, no warning
    ("H100", DType.BF16, DType.BF16, False),
])
def test_compute_dtype_fallbacks(chip: str, weight: DType, compute: DType, warns: bool) -> None:
    acc = load_hardware().get(chip)
    got, warning = compute_dtype_for(acc, weight)
    assert got == compute
    assert (warning is not None) == warns
    if warns:
        assert weight.value in warning and compute.value in warning


@pytest.mark.parametrize("model_id", ["deepseek-ai/DeepSeek-R1", "openai/gpt-oss-120b", "Qwen/Qwen3-30B-A3B",
                                      "meta-llama/Llama-3.1-8B", "mistralai/Mixtral-8x7B-v0.1"])
def test_op_kind_by_name_matches_the_op_table(model_id: str) -> None:
    # predictions attribute each op's time to a kernel basis by op name (no second table build)
    from suanli.perf.ops import op_kind
    m = load_model(model_id)
    dep = Deployment(gpus=8, tp=8, ep=8 if m.is_moe else 1)
    table = step_ops(m, lay(dep, m), StepLoad(n_dec=4, ctx_dec=100, n_pf=100, pf_seqs=1), lay(dep, m).prec)
    assert {o.name: o.kind for o in table} == {o.name: op_kind(m, o.name) for o in table}


def test_idle_server_tpot_is_the_batch_one_step_even_for_a_large_instance():
    # Birth-death chain at lam -> 0: N is 0 or 1, P(N=1) = lam / r(1) with r(1) = 1 / (t(1) osl),
    # so TPOT = E[b] / (lam osl) = t(1), the batch-1 step -- what one user alone sees.  Before
    # the queue used integer cells at its light-load end, an instance holding > 1024
    # sequences gave 0.03 ms here (cells 13 sequences wide).
    import suanli

    kw = dict(model="meta-llama/Llama-3.1-8B", hardware="H200", gpus=1, tp=1, weight_dtype="fp8",
              kv_dtype="fp8", engine="trtllm", isl=100, osl=100)
    idle = suanli.predict(**kw, request_rate=0.01)
    alone = suanli.predict(**kw, concurrency=1)
    assert idle.max_concurrency > 1024
    assert idle.tpot_ms == pytest.approx(alone.tpot_ms, rel=0.02)
