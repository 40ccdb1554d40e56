"""Property tests: physical monotonicities the serving model must never violate.

Synthetic Hopper-like chips drawn by hypothesis (peaks, bandwidth, link), timed by the real
kernel model (their op times transferred from the nearest measured system through physics),
and engine runtimes drawn within their ranges; bundled models in layouts that fit the
synthetic 192 GB accelerator.  Comparisons allow a relative slack of 1 %: op times come
from measured kernel tables interpolated (log-linear in log2 shape coordinates, float16
storage) between grid nodes, and measured GEMMs are not monotone in the batch size at tile
boundaries either (m = 16 can run faster than m = 15).  The worst step-time dip found over
80 random synthetic chips x 7 models x batches 0..512 was 0.43 % (Qwen3-32B at 15 -> 16
decodes); the tests guard against real errors, which are far larger.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from suanli.perf.hardware import HwParams, precision_for
from suanli.perf.kernels import ChipPhysics, kernel_model
from suanli.perf.layout import layout_of
from suanli.perf import opcost
from suanli.perf.opcost import Platform
from suanli.perf.ops import StepLoad
from suanli.perf.runtime import Runtime
from suanli.perf.serving import ServingResult, predict_serving
from suanli.perf.step import step_time
from suanli.specs.deployment import Deployment, Workload, validate_deployment
from suanli.specs.dtypes import DType
from suanli.specs.kernels import load_kernel_tables
from suanli.specs.model import load_model

# 2 %: op times come from measured kernel tables, which are not exactly monotone in the
# token count (the kernels switch tile configurations) and transferred through rules that
# blend compute and memory ratios.  Random exploration (1,500 examples per property) finds
# dips of this size and a little beyond -- gpt-oss-20b MXFP4 on a slow synthetic chip, a
# decode step of 192.4 ms with fewer sequences and 188.6 ms with more (-2.0 %); an offline
# TPOT 2.3 % longer with more memory bandwidth -- which the fixed CI examples do not hit.
# Known, reported in the README's limitations, not hidden by a wider slack.
SLACK = 2e-2
# Fixed examples in the test suite (derandomize: CI stays reproducible); explore with
# SUANLI_HYPOTHESIS_EXAMPLES=2000 SUANLI_HYPOTHESIS_RANDOM=1 (how the cases cited below were found).
SETTINGS = settings(max_examples=int(os.environ.get("SUANLI_HYPOTHESIS_EXAMPLES", "40")), deadline=None,
                    **({} if os.environ.get("SUANLI_HYPOTHESIS_RANDOM") else {"derandomize": True, "database": None}),
                    suppress_health_check=[HealthCheck.too_slow])

# (model, tp, weight dtype): every one fits a 192 GB accelerator with room for KV
LAYOUTS = [
    ("meta-llama/Llama-3.1-8B", 1, DType.BF16),
    ("meta-llama/Llama-3.1-70B", 4, DType.FP8),
    ("Qwen/Qwen3-32B", 2, DType.BF16),
    ("Qwen/Qwen3-30B-A3B", 1, DType.BF16),
    ("mistralai/Mixtral-8x7B-v0.1", 2, DType.BF16),
    ("openai/gpt-oss-20b", 1, DType.MXFP4),
    ("deepseek-ai/DeepSeek-V3", 8, DType.FP8),
]

layouts = st.sampled_from(LAYOUTS)
replicas = st.sampled_from([1, 2])
isl = st.integers(min_value=16, max_value=16_384)
osl = st.integers(min_value=1, max_value=2048)
scenarios = st.sampled_from(["offline", "server", "fixed-concurrency"])


@st.composite
def chips(draw: st.DrawFn) -> dict:
    bf16 = draw(st.floats(100e12, 2.5e15))
    return dict(mem_bw=draw(st.floats(0.3e12, 8e12)), bf16=bf16, link_bw=draw(st.floats(16e9, 900e9)),
                link_latency_s=draw(st.floats(1e-6, 30e-6)), scaleout_bw=draw(st.floats(3e9, 100e9)))


def platform(chip: dict, rt: Runtime, *, bw_factor: float = 1.0, compute_factor: float = 1.0) -> Platform:
    """A synthetic Hopper-like chip (FP8 at twice BF16) with its transferred kernel model."""
    bw, bf16 = chip["mem_bw"] * bw_factor, chip["bf16"] * compute_factor
    peaks = {"bf16": bf16, "fp8": 2 * bf16}
    phys = ChipPhysics(id="synthetic", arch="hopper", vendor="nvidia", peak_flops=peaks, mem_bw=bw,
                       sm_count=132, clock_mhz=1980.0 * compute_factor, link_bw=chip["link_bw"])
    hw = HwParams(name="synthetic", memory=192e9, mem_bw=bw,
                  peaks={**peaks, "int8": 2 * bf16, "fp4": bf16, "mxfp4": bf16, "int4": bf16},
                  link_bw=chip["link_bw"], link_latency_s=chip["link_latency_s"], scaleout_bw=chip["scaleout_bw"],
                  scaleout_latency_s=25e-6, node_size=8)
    return Platform(hw=hw, kernels=kernel_model(load_kernel_tables(), phys, "vllm"), runtime=rt)


@st.composite
def runtimes(draw: st.DrawFn) -> Runtime:
    return Runtime(step_s=draw(st.floats(0.0, 3e-3)), seq_s=draw(st.floats(0.0, 30e-6)),
                   layer_s=draw(st.floats(0.0, 50e-6)), request_s=draw(st.floats(0.0, 50e-3)),
                   comm_eff=draw(st.floats(0.3, 1.0)))


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    scen = draw(scenarios)
    conc = float(draw(st.integers(1, 512))) if scen == "fixed-concurrency" else None
    rate = draw(st.floats(0.01, 50.0)) if scen == "server" else None
    return Workload(isl=draw(isl), osl=draw(osl), scenario=scen, concurrency=conc, request_rate=rate)


def deployment(layout: tuple[str, int, DType], n_replicas: int, kv: DType = DType.BF16):
    model_id, tp, wdt = layout
    model = load_model(model_id)
    dep = Deployment(gpus=tp * n_replicas, tp=tp, weight_dtype=wdt, kv_dtype=kv)
    validate_deployment(dep, model)
    return model, layout_of(dep, precision_for(model, None, wdt, kv)[0])


def one(value: object) -> float:
    """The single value of a scalar or one-element step result."""
    return float(np.asarray(value, dtype=float).reshape(-1)[0])


def le(a: float, b: float, slack: float = SLACK) -> bool:
    return a <= b * (1 + slack) + 1e-15


# TTFT includes the residual of the step an arrival lands in, E[T^2] / 2E[T] (inspection
# paradox): when faster hardware shortens decode steps but not a compute-bound prompt step,
# that residual can grow by a hair even though the request's own prompt runs faster (1e-9
# level in the falsifying examples found) -- inside SLACK.  In a closed loop (fixed
# concurrency) TTFT is not monotone at all: faster hardware completes requests sooner, so
# prompts arrive more often and a newcomer more often waits behind another user's prompt
# (found: Llama-3.1-70B FP8 TP4 at concurrency 2, TTFT 567 -> 578 ms when the memory
# bandwidth doubles) -- as on a real engine; TTFT_CHECKED excludes that scenario.
TTFT_SLACK = SLACK
TTFT_CHECKED = ("server", "offline", "single-request", "prefill-only", "decode-only")
COMM_SLACK = 0.10       # throughput dips with more concurrency (see its property)


def assert_sane(r: ServingResult, rt: Runtime) -> None:
    values = {"tpot_s": r.tpot_s, "output_tok_s_per_gpu": r.output_tok_s_per_gpu,
              "total_tok_s_per_gpu": r.total_tok_s_per_gpu, "input_tok_s_per_gpu": r.input_tok_s_per_gpu,
              "max_concurrency": r.max_concurrency, "batch": r.batch, "capacity_req_s": r.capacity_req_s}
    for name, value in values.items():
        assert math.isfinite(value) and value > 0, f"{name} = {value}"
    for name, value in {**r.decode_breakdown_s, **r.prefill_breakdown_s}.items():
        assert math.isfinite(value) and value >= 0, f"breakdown {name} = {value}"
    if r.saturated and r.scenario == "server":
        assert r.ttft_s is None          # a growing queue has no finite mean TTFT
    else:
        assert r.ttft_s is not None and math.isfinite(r.ttft_s) and r.ttft_s >= rt.request_s


# --- hardware speed ---------------------------------------------------------------------

# 5 %: a chip without kernel tables borrows them from the *nearest* measured system (by
# architecture, ridge point and bandwidth), so scaling one chip parameter can switch the
# source, and with it the measured efficiency at a shape: single prefill GEMMs were found
# up to 30 % slower on a synthetic chip with 5-10x the memory bandwidth (attn_o_proj of
# gpt-oss-20b at 15k-token prompts).  End to end the largest effect found at 1,500 random
# examples per property is 3.3 % (a lightly loaded server's TPOT).  A known limitation of
# nearest-source transfer (README), bounded here so that a real regression still fails.
HW_SLACK = 0.05

@SETTINGS
@given(layouts, replicas, chips(), runtimes(), workloads(), st.floats(1.0, 10.0))
def test_more_memory_bandwidth_is_never_slower(layout, n, chip, rt, wl, factor) -> None:
    model, lay = deployment(layout, n)
    slow = predict_serving(model, lay, platform(chip, rt), wl)
    fast = predict_serving(model, lay, platform(chip, rt, bw_factor=factor), wl)
    assume(not slow.saturated)
    assert le(fast.tpot_s, slow.tpot_s, HW_SLACK)
    if wl.scenario in TTFT_CHECKED:
        assert le(fast.ttft_s, slow.ttft_s, HW_SLACK)
    assert le(slow.output_tok_s_per_gpu, fast.output_tok_s_per_gpu, HW_SLACK)


@SETTINGS
@given(layouts, replicas, chips(), runtimes(), workloads(), st.floats(1.0, 10.0))
def test_more_compute_is_never_slower(layout, n, chip, rt, wl, factor) -> None:
    # tensor peaks and SM clock scale together (a faster chip of the same architecture)
    model, lay = deployment(layout, n)
    slow = predict_serving(model, lay, platform(chip, rt), wl)
    fast = predict_serving(model, lay, platform(chip, rt, compute_factor=factor), wl)
    assume(not slow.saturated)
    assert le(fast.tpot_s, slow.tpot_s, HW_SLACK)
    if wl.scenario in TTFT_CHECKED:
        assert le(fast.ttft_s, slow.ttft_s, HW_SLACK)
    assert le(slow.output_tok_s_per_gpu, fast.output_tok_s_per_gpu, HW_SLACK)


@SETTINGS
@given(layouts, replicas, chips(), runtimes(), workloads(), st.floats(1.0, 10.0))
def test_lower_runtime_costs_are_never_slower(layout, n, chip, rt, wl, factor) -> None:
    model, lay = deployment(layout, n)
    slow = predict_serving(model, lay, platform(chip, rt), wl)
    lean = replace(rt, step_s=rt.step_s / factor, seq_s=rt.seq_s / factor, layer_s=rt.layer_s / factor)
    fast = predict_serving(model, lay, platform(chip, lean), wl)
    assume(not slow.saturated)
    assert le(fast.tpot_s, slow.tpot_s)
    assert le(slow.output_tok_s_per_gpu, fast.output_tok_s_per_gpu)


# --- memory -----------------------------------------------------------------------------

@SETTINGS
@given(layouts, replicas, chips(), runtimes(), workloads())
def test_larger_kv_dtype_never_gives_more_concurrency(layout, n, chip, rt, wl) -> None:
    results = []
    pf = platform(chip, rt)
    for kv in (DType.FP8, DType.BF16, DType.FP32):  # 1, 2, 4 bytes per element
        model, lay = deployment(layout, n, kv)
        results.append(predict_serving(model, lay, pf, wl).max_concurrency)
    assert le(results[1], results[0]) and le(results[2], results[1])
    # the KV budget is the same, so concurrency is inversely proportional to KV bytes
    assert results[0] == pytest.approx(2 * results[1], rel=1e-9)


# --- step time --------------------------------------------------------------------------

@SETTINGS
@given(layouts, chips(), runtimes(), st.floats(0.0, 512.0), st.floats(0.0, 8192.0),
       st.floats(0.0, 100_000.0), st.floats(0.0, 100_000.0), st.floats(0.0, 32_768.0))
def test_longer_context_never_reduces_step_time(layout, chip, rt, n_dec, n_pf, ctx, extra, prefix) -> None:
    model, lay = deployment(layout, 1)
    pf = platform(chip, rt)
    seqs = 1.0 if n_pf > 0 else 0.0
    short = step_time(model, lay, pf, StepLoad(n_dec=n_dec, ctx_dec=ctx, n_pf=n_pf, pf_seqs=seqs, pf_prefix=prefix))
    long = step_time(model, lay, pf, StepLoad(n_dec=n_dec, ctx_dec=ctx + extra, n_pf=n_pf, pf_seqs=seqs,
                                              pf_prefix=prefix))
    assert le(one(short), one(long))


@SETTINGS
@given(layouts, chips(), runtimes(), st.floats(0.0, 512.0), st.floats(0.0, 512.0),
       st.floats(0.0, 32_768.0))
def test_more_decoding_sequences_never_reduce_step_time(layout, chip, rt, n, extra, ctx) -> None:
    model, lay = deployment(layout, 1)
    pf = platform(chip, rt)
    a = step_time(model, lay, pf, StepLoad(n_dec=n, ctx_dec=ctx))
    b = step_time(model, lay, pf, StepLoad(n_dec=n + extra, ctx_dec=ctx))
    assert le(one(a), one(b))
    assert math.isfinite(one(b)) and one(b) >= 0
    if n + extra >= 1:                  # a step that decodes something takes time
        assert one(b) > 0


# --- load -------------------------------------------------------------------------------

@SETTINGS
@given(layouts, replicas, chips(), runtimes(), isl, st.integers(min_value=16, max_value=2048),
       st.integers(1, 256), st.integers(1, 256))
def test_more_concurrency_never_lowers_throughput_or_tpot(layout, n, chip, rt, i, o, c1, c2) -> None:
    # osl >= 16: a closed loop of bare prompts (osl 1-2) is the prefill-only scenario, where the
    # closed-loop approximation (a newcomer waits for the running step, then runs its own
    # prompt) does not batch concurrent prompts and can lose a few % of throughput.
    lo, hi = sorted((c1, c2))
    model, lay = deployment(layout, n)
    pf = platform(chip, rt)
    r_lo = predict_serving(model, lay, pf, Workload(isl=i, osl=o, scenario="fixed-concurrency",
                                                         concurrency=float(lo)))
    r_hi = predict_serving(model, lay, pf, Workload(isl=i, osl=o, scenario="fixed-concurrency",
                                                         concurrency=float(hi)))
    assume(not r_hi.saturated)  # within what the deployment holds
    # Throughput never *collapses* with more concurrency; it may dip a few %, as on real
    # engines, because the measured kernels are not monotone per token: GEMM tile and wave
    # quantisation, the custom all-reduce's one-shot -> two-shot switch and the engines'
    # switch to NCCL above 8 MiB (test_allreduce_algorithm_switch_can_cost_throughput).
    # Found by this property: Llama-3.1-70B TP4, 265 tok/s per GPU at concurrency 76 and 257
    # at 91 (-2.9 %).  NVLink-class links only: PCIe-class links (< 100 GB/s) take their
    # collective times from the L40S / RTX PRO 6000 tables, whose measured custom all-reduce
    # jumps ~3.6x in time between 1 and 2 MiB, so there a bigger batch can be clearly slower.
    assume(chip["link_bw"] >= 100e9)
    assert le(r_lo.output_tok_s_per_gpu, r_hi.output_tok_s_per_gpu, COMM_SLACK)
    assert le(r_lo.tpot_s, r_hi.tpot_s, TTFT_SLACK)   # log-space table interpolation: rounding


def test_allreduce_algorithm_switch_can_cost_throughput() -> None:
    # Found by the property above: DeepSeek-V3 FP8 TP8 on a slow-link chip (16 GB/s links).
    # At concurrency 100 a step's all-reduce message (~450 tokens x 7168 x 2 B = 6.5 MB) is
    # under vLLM's 8 MiB custom all-reduce limit; at 131 (~590 tokens, 8.4 MB) NCCL runs,
    # which on such a link is slower per byte, so throughput per GPU drops -- the engine's
    # behaviour, kept.  With the custom kernel at every size the drop disappears.
    chip = dict(bf16=1e14, link_bw=16e9, link_latency_s=1e-5, mem_bw=3e11, scaleout_bw=3e9)
    rt = Runtime(step_s=0.0, seq_s=0.0, layer_s=0.0, request_s=0.0, comm_eff=1.0)
    model, lay = deployment(("deepseek-ai/DeepSeek-V3", 8, DType.FP8), 1)
    pf = platform(chip, rt)

    def tput(conc: float) -> float:
        wl = Workload(isl=56, osl=16, scenario="fixed-concurrency", concurrency=conc)
        return predict_serving(model, lay, pf, wl).output_tok_s_per_gpu

    assert tput(131.0) < tput(100.0)
    with patch.object(opcost, "CUSTOM_ALLREDUCE_MAX_BYTES", math.inf):
        assert tput(131.0) > tput(100.0)


@SETTINGS
@given(layouts, replicas, chips(), runtimes(), workloads())
def test_outputs_are_finite_positive_and_ttft_covers_request_overhead(layout, n, chip, rt, wl) -> None:
    model, lay = deployment(layout, n)
    pf = platform(chip, rt)
    assert_sane(predict_serving(model, lay, pf, wl), rt)


@SETTINGS
@given(layouts, replicas, chips(), runtimes(), isl, osl,
       st.sampled_from(["single-request", "decode-only", "prefill-only"]),
       st.one_of(st.none(), st.integers(1, 64)))
def test_isolated_phase_scenarios_are_finite(layout, n, chip, rt, i, o, scen, conc) -> None:
    model, lay = deployment(layout, n)
    pf = platform(chip, rt)
    if scen == "single-request":
        conc = 1
    r = predict_serving(model, lay, pf, Workload(isl=i, osl=o, scenario=scen,
                                                      concurrency=None if conc is None else float(conc)))
    for name in ("ttft_s", "tpot_s", "output_tok_s_per_gpu", "total_tok_s_per_gpu", "max_concurrency"):
        value = getattr(r, name)
        assert math.isfinite(value) and value > 0, f"{name} = {value}"
    assert math.isfinite(r.input_tok_s_per_gpu) and r.input_tok_s_per_gpu >= 0
    assert r.batch >= 0 and r.ttft_s >= rt.request_s
    if scen == "decode-only":
        assert r.input_tok_s_per_gpu == 0
    if scen == "prefill-only":
        # one output token per prefilled prompt: input rate = isl x output rate
        assert r.input_tok_s_per_gpu == pytest.approx(i * r.output_tok_s_per_gpu, rel=1e-9)


@SETTINGS
@given(layouts, replicas, chips(), runtimes(), isl, osl, st.floats(0.01, 50.0))
def test_server_throughput_equals_offered_load_when_not_saturated(layout, n, chip, rt, i, o, rate) -> None:
    model, lay = deployment(layout, n)
    pf = platform(chip, rt)
    r = predict_serving(model, lay, pf, Workload(isl=i, osl=o, scenario="server", request_rate=rate))
    if r.saturated:
        # overloaded: output is capped by what the engine can do at its batch limit
        offline = predict_serving(model, lay, pf, Workload(isl=i, osl=o, scenario="offline"))
        assert r.output_tok_s_per_gpu == pytest.approx(offline.output_tok_s_per_gpu, rel=1e-9)
        assert r.output_tok_s_per_gpu <= rate * o / float(lay.gpus) * (1 + SLACK)
    else:
        # Little's law: every request's osl tokens come out, spread over the deployment's GPUs
        assert r.output_tok_s_per_gpu == pytest.approx(rate * o / float(lay.gpus), rel=1e-9)
        assert r.input_tok_s_per_gpu == pytest.approx(rate * i / float(lay.gpus), rel=1e-9)


@SETTINGS
@given(layouts, chips(), runtimes(), isl, osl, st.floats(0.01, 20.0), st.floats(1.0, 5.0))
def test_more_server_load_never_lowers_tpot(layout, chip, rt, i, o, rate, factor) -> None:
    model, lay = deployment(layout, 1)
    pf = platform(chip, rt)
    light = predict_serving(model, lay, pf, Workload(isl=i, osl=o, scenario="server", request_rate=rate))
    heavy = predict_serving(model, lay, pf, Workload(isl=i, osl=o, scenario="server",
                                                          request_rate=rate * factor))
    # Found by this property: near an idle server the queue's TPOT drifted (69.1 vs 68.4 ms
    # at mean batches 0.004 / 0.013) because its first cells were fractional; since the
    # first 512 cells are integer batches it is the batch-1 step (test in test_perf_formulas).
    assert le(light.tpot_s, heavy.tpot_s)
    assert le(light.batch, heavy.batch)


@SETTINGS
@given(layouts, chips(), runtimes(), isl, osl, st.floats(0.001, 50.0))
def test_server_tpot_is_never_below_a_lone_request(layout, chip, rt, i, o, rate) -> None:
    # A request's decode step always contains at least that request, so no load level can
    # make its TPOT shorter than with the server to itself (single-request scenario).
    model, lay = deployment(layout, 1)
    pf = platform(chip, rt)
    alone = predict_serving(model, lay, pf, Workload(isl=i, osl=o, scenario="single-request", concurrency=1.0))
    served = predict_serving(model, lay, pf, Workload(isl=i, osl=o, scenario="server", request_rate=rate))
    # 1e-6 slack: the kernel tables are interpolated in log space, monotone up to rounding
    # (a batch of 1.06 vs 1.0 sequence can come out 1e-9 faster)
    assert le(alone.tpot_s, served.tpot_s, TTFT_SLACK), (alone.tpot_s, served.tpot_s, served.batch)


def test_lightly_loaded_moe_server_tpot_example() -> None:
    # Qwen3-30B-A3B on one synthetic GPU (1 TB/s, 100 TFLOP/s), 0.01 req/s of 1024 -> 256.
    # Weights one decoding token must stream, whatever else is in the step:
    #   attention: 48 layers * (2048*4096 + 2*2048*512 + 4096*2048 + 2*128 qk-norm)
    #              = 48 * 18,874,624 = 905,981,952 params * 2 bytes = 1,811,963,904
    #   its k = 8 routed experts: 48 * 8 * 3*2048*768 * 2 bytes       = 3,623,878,656
    #   LM head: 151936 * 2048 * 2 bytes                               =   622,329,856
    #   total 6,058,172,416 bytes / 1e12 B/s = 6.058 ms -- a floor for any TPOT at 100 % of
    #   the bandwidth.  A mean batch far below one sequence (Little's law at low load) must
    #   not shrink it.
    model, lay = deployment(("Qwen/Qwen3-30B-A3B", 1, DType.BF16), 1)
    chip = dict(mem_bw=1e12, bf16=100e12, link_bw=100e9, link_latency_s=10e-6, scaleout_bw=10e9)
    pf = platform(chip, Runtime(step_s=0.0, seq_s=0.0, layer_s=0.0, request_s=0.0))
    served = predict_serving(model, lay, pf, Workload(isl=1024, osl=256, scenario="server", request_rate=0.01))
    assert served.tpot_s >= 6_058_172_416 / 1e12, served.decode_breakdown_s
    alone = predict_serving(model, lay, pf, Workload(isl=1024, osl=256, scenario="single-request", concurrency=1.0))
    assert alone.tpot_s >= 6_058_172_416 / 1e12
    assert served.tpot_s >= alone.tpot_s * (1 - SLACK)


def test_saturated_server_has_capacity_and_no_ttft() -> None:
    # Far beyond capacity: reported saturated, throughput = the capacity, no finite TTFT.
    model, lay = deployment(("meta-llama/Llama-3.1-8B", 1, DType.BF16), 1)
    chip = dict(mem_bw=3.35e12, bf16=989e12, link_bw=450e9, link_latency_s=8e-6, scaleout_bw=50e9)
    pf = platform(chip, Runtime())
    wl = Workload(isl=1000, osl=500, scenario="server", request_rate=1e4)
    r = predict_serving(model, lay, pf, wl)
    assert r.saturated and r.ttft_s is None
    assert r.output_tok_s_per_gpu == pytest.approx(r.capacity_req_s * 500, rel=1e-6)
    assert r.capacity_req_s < 1e4
    ok = predict_serving(model, lay, pf, replace(wl, request_rate=0.5 * r.capacity_req_s))
    assert not ok.saturated and ok.ttft_s is not None


def test_burst_ttft_grows_with_the_wave_and_fades_with_many_requests() -> None:
    # Closed loop of 64 with the initial burst: 64 requests sent in total all arrive at once
    # (their prompts share the first steps), so their mean TTFT exceeds the steady state;
    # with 100,000 requests the burst is a vanishing share and TTFT tends to the steady value.
    model, lay = deployment(("meta-llama/Llama-3.1-8B", 1, DType.BF16), 1)
    chip = dict(mem_bw=3.35e12, bf16=989e12, link_bw=450e9, link_latency_s=8e-6, scaleout_bw=50e9)
    pf = platform(chip, Runtime())
    base = Workload(isl=2000, osl=200, scenario="fixed-concurrency", concurrency=64)
    steady = predict_serving(model, lay, pf, base)
    burst = predict_serving(model, lay, pf, replace(base, num_requests=64))
    long = predict_serving(model, lay, pf, replace(base, num_requests=100_000))
    assert burst.ttft_s > 2 * steady.ttft_s
    assert long.ttft_s == pytest.approx(steady.ttft_s, rel=0.02)
