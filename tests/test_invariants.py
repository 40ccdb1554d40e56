"""Property tests: physical monotonicities the serving model must never violate.

Synthetic hardware (HwParams) and efficiencies drawn by hypothesis; bundled models in
layouts that fit the synthetic 192 GB accelerator.  Comparisons allow a relative slack of
1e-9 for floating-point noise only.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from suanli.perf.efficiency import Efficiency
from suanli.perf.hardware import HwParams
from suanli.perf.serving import ServingResult, predict_serving
from suanli.perf.step import StepLoad, step_time
from suanli.specs.deployment import Deployment, Workload, validate_deployment
from suanli.specs.dtypes import DType
from suanli.specs.model import load_model

SLACK = 1e-9
SETTINGS = settings(max_examples=int(os.environ.get("SUANLI_HYPOTHESIS_EXAMPLES", "50")), deadline=None,
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
def hardware(draw: st.DrawFn) -> HwParams:
    return HwParams(
        name="synthetic", memory=192e9,
        mem_bw=draw(st.floats(0.3e12, 8e12)),
        peak_gemm=draw(st.floats(50e12, 5e15)),
        peak_attn=draw(st.floats(50e12, 2.5e15)),
        link_bw=draw(st.floats(16e9, 900e9)), link_latency_s=draw(st.floats(1e-6, 30e-6)),
        scaleout_bw=draw(st.floats(3e9, 100e9)), scaleout_latency_s=25e-6,
        node_size=8, compute_dtype=DType.BF16,
    )


@st.composite
def efficiencies(draw: st.DrawFn) -> Efficiency:
    return Efficiency(
        compute=draw(st.floats(0.1, 1.0)), memory=draw(st.floats(0.1, 1.0)),
        comm=draw(st.floats(0.1, 1.0)),
        layer_overhead_s=draw(st.floats(0.0, 50e-6)), step_overhead_s=draw(st.floats(0.0, 3e-3)),
        request_overhead_s=draw(st.floats(0.0, 50e-3)), expert_overhead_s=draw(st.floats(0.0, 5e-6)),
    )


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
    return model, dep


def one(value: object) -> float:
    """The single value of a scalar or one-element step result."""
    return float(np.asarray(value, dtype=float).reshape(-1)[0])


def le(a: float, b: float, slack: float = SLACK) -> bool:
    return a <= b * (1 + slack) + 1e-15


# TTFT includes the residual of the step an arrival lands in, E[T^2] / 2E[T] (inspection
# paradox): when faster hardware shortens decode steps but not a compute-bound prompt step,
# that residual can grow by a hair even though the request's own prompt runs faster.  The
# effect is at the 1e-9 level in the falsifying examples found; TTFT gets a 1e-6 slack.
TTFT_SLACK = 1e-6


def assert_sane(r: ServingResult, eff: Efficiency) -> None:
    values = {"ttft_s": r.ttft_s, "tpot_s": r.tpot_s, "output_tok_s_per_gpu": r.output_tok_s_per_gpu,
              "total_tok_s_per_gpu": r.total_tok_s_per_gpu, "input_tok_s_per_gpu": r.input_tok_s_per_gpu,
              "max_concurrency": r.max_concurrency, "batch": r.batch}
    for name, value in values.items():
        assert math.isfinite(value) and value > 0, f"{name} = {value}"
    for name, value in {**r.decode_breakdown, **r.prefill_breakdown}.items():
        assert math.isfinite(value) and value >= 0, f"breakdown {name} = {value}"
    assert r.ttft_s >= eff.request_overhead_s


# --- hardware speed ---------------------------------------------------------------------

@SETTINGS
@given(layouts, replicas, hardware(), efficiencies(), workloads(), st.floats(1.0, 10.0))
def test_more_memory_bandwidth_is_never_slower(layout, n, hw, eff, wl, factor) -> None:
    model, dep = deployment(layout, n)
    slow = predict_serving(model, dep, hw, eff, wl)
    fast = predict_serving(model, dep, replace(hw, mem_bw=hw.mem_bw * factor), eff, wl)
    assert le(fast.tpot_s, slow.tpot_s)
    assert le(fast.ttft_s, slow.ttft_s, TTFT_SLACK)
    assert le(slow.output_tok_s_per_gpu, fast.output_tok_s_per_gpu)


@SETTINGS
@given(layouts, replicas, hardware(), efficiencies(), workloads(), st.floats(1.0, 10.0))
def test_more_compute_is_never_slower(layout, n, hw, eff, wl, factor) -> None:
    model, dep = deployment(layout, n)
    slow = predict_serving(model, dep, hw, eff, wl)
    fast = predict_serving(model, dep, replace(hw, peak_gemm=hw.peak_gemm * factor,
                                               peak_attn=hw.peak_attn * factor), eff, wl)
    assert le(fast.tpot_s, slow.tpot_s)
    assert le(fast.ttft_s, slow.ttft_s, TTFT_SLACK)
    assert le(slow.output_tok_s_per_gpu, fast.output_tok_s_per_gpu)


@SETTINGS
@given(layouts, replicas, hardware(), efficiencies(), workloads(), st.floats(1.0, 10.0))
def test_higher_efficiency_is_never_slower(layout, n, hw, eff, wl, factor) -> None:
    model, dep = deployment(layout, n)
    slow = predict_serving(model, dep, hw, eff, wl)
    better = replace(eff, memory=min(1.0, eff.memory * factor), compute=min(1.0, eff.compute * factor))
    fast = predict_serving(model, dep, hw, better, wl)
    assert le(fast.tpot_s, slow.tpot_s)
    assert le(slow.output_tok_s_per_gpu, fast.output_tok_s_per_gpu)


# --- memory -----------------------------------------------------------------------------

@SETTINGS
@given(layouts, replicas, hardware(), efficiencies(), workloads())
def test_larger_kv_dtype_never_gives_more_concurrency(layout, n, hw, eff, wl) -> None:
    results = []
    for kv in (DType.FP8, DType.BF16, DType.FP32):  # 1, 2, 4 bytes per element
        model, dep = deployment(layout, n, kv)
        results.append(predict_serving(model, dep, hw, eff, wl).max_concurrency)
    assert le(results[1], results[0]) and le(results[2], results[1])
    # the KV budget is the same, so concurrency is inversely proportional to KV bytes
    assert results[0] == pytest.approx(2 * results[1], rel=1e-9)


# --- step time --------------------------------------------------------------------------

@SETTINGS
@given(layouts, hardware(), efficiencies(), st.floats(0.0, 512.0), st.floats(0.0, 8192.0),
       st.floats(0.0, 100_000.0), st.floats(0.0, 100_000.0), st.floats(0.0, 32_768.0))
def test_longer_context_never_reduces_step_time(layout, hw, eff, n_dec, n_pf, ctx, extra, ctx_pf) -> None:
    model, dep = deployment(layout, 1)
    short = step_time(model, dep, hw, eff, StepLoad(n_dec=n_dec, ctx_dec=ctx, n_pf=n_pf, ctx_pf=ctx_pf))
    long = step_time(model, dep, hw, eff, StepLoad(n_dec=n_dec, ctx_dec=ctx + extra, n_pf=n_pf, ctx_pf=ctx_pf))
    assert le(one(short), one(long))


@SETTINGS
@given(layouts, hardware(), efficiencies(), st.floats(0.0, 512.0), st.floats(0.0, 512.0),
       st.floats(0.0, 32_768.0))
def test_more_decoding_sequences_never_reduce_step_time(layout, hw, eff, n, extra, ctx) -> None:
    model, dep = deployment(layout, 1)
    a = step_time(model, dep, hw, eff, StepLoad(n_dec=n, ctx_dec=ctx))
    b = step_time(model, dep, hw, eff, StepLoad(n_dec=n + extra, ctx_dec=ctx))
    assert le(one(a), one(b))
    assert math.isfinite(one(b)) and one(b) > 0


# --- load -------------------------------------------------------------------------------

@SETTINGS
@given(layouts, replicas, hardware(), efficiencies(), isl, osl, st.integers(1, 256), st.integers(1, 256))
def test_more_concurrency_never_lowers_throughput_or_tpot(layout, n, hw, eff, i, o, c1, c2) -> None:
    lo, hi = sorted((c1, c2))
    model, dep = deployment(layout, n)
    r_lo = predict_serving(model, dep, hw, eff, Workload(isl=i, osl=o, scenario="fixed-concurrency",
                                                         concurrency=float(lo)))
    r_hi = predict_serving(model, dep, hw, eff, Workload(isl=i, osl=o, scenario="fixed-concurrency",
                                                         concurrency=float(hi)))
    assume(not r_hi.saturated)  # within what the deployment holds
    assert le(r_lo.output_tok_s_per_gpu, r_hi.output_tok_s_per_gpu)
    assert le(r_lo.tpot_s, r_hi.tpot_s)


@SETTINGS
@given(layouts, replicas, hardware(), efficiencies(), workloads())
def test_outputs_are_finite_positive_and_ttft_covers_request_overhead(layout, n, hw, eff, wl) -> None:
    model, dep = deployment(layout, n)
    assert_sane(predict_serving(model, dep, hw, eff, wl), eff)


@SETTINGS
@given(layouts, replicas, hardware(), efficiencies(), isl, osl,
       st.sampled_from(["single-request", "decode-only", "prefill-only"]),
       st.one_of(st.none(), st.integers(1, 64)))
def test_isolated_phase_scenarios_are_finite(layout, n, hw, eff, i, o, scen, conc) -> None:
    model, dep = deployment(layout, n)
    if scen == "single-request":
        conc = 1
    r = predict_serving(model, dep, hw, eff, Workload(isl=i, osl=o, scenario=scen,
                                                      concurrency=None if conc is None else float(conc)))
    for name in ("ttft_s", "tpot_s", "output_tok_s_per_gpu", "total_tok_s_per_gpu", "max_concurrency"):
        value = getattr(r, name)
        assert math.isfinite(value) and value > 0, f"{name} = {value}"
    assert math.isfinite(r.input_tok_s_per_gpu) and r.input_tok_s_per_gpu >= 0
    assert r.batch >= 0 and r.ttft_s >= eff.request_overhead_s
    if scen == "decode-only":
        assert r.input_tok_s_per_gpu == 0
    if scen == "prefill-only":
        # one output token per prefilled prompt: input rate = isl x output rate
        assert r.input_tok_s_per_gpu == pytest.approx(i * r.output_tok_s_per_gpu, rel=1e-9)


@SETTINGS
@given(layouts, replicas, hardware(), efficiencies(), isl, osl, st.floats(0.01, 50.0))
def test_server_throughput_equals_offered_load_when_not_saturated(layout, n, hw, eff, i, o, rate) -> None:
    model, dep = deployment(layout, n)
    r = predict_serving(model, dep, hw, eff, Workload(isl=i, osl=o, scenario="server", request_rate=rate))
    if r.saturated:
        # overloaded: output is capped by what the engine can do at its batch limit
        offline = predict_serving(model, dep, hw, eff, Workload(isl=i, osl=o, scenario="offline"))
        assert r.output_tok_s_per_gpu == pytest.approx(offline.output_tok_s_per_gpu, rel=1e-9)
        assert r.output_tok_s_per_gpu <= rate * o / dep.gpus * (1 + SLACK)
    else:
        # Little's law: every request's osl tokens come out, spread over the deployment's GPUs
        assert r.output_tok_s_per_gpu == pytest.approx(rate * o / dep.gpus, rel=1e-9)
        assert r.input_tok_s_per_gpu == pytest.approx(rate * i / dep.gpus, rel=1e-9)


@SETTINGS
@given(layouts, hardware(), efficiencies(), isl, osl, st.floats(0.01, 20.0), st.floats(1.0, 5.0))
def test_more_server_load_never_lowers_tpot(layout, hw, eff, i, o, rate, factor) -> None:
    model, dep = deployment(layout, 1)
    light = predict_serving(model, dep, hw, eff, Workload(isl=i, osl=o, scenario="server", request_rate=rate))
    heavy = predict_serving(model, dep, hw, eff, Workload(isl=i, osl=o, scenario="server",
                                                          request_rate=rate * factor))
    assert le(light.tpot_s, heavy.tpot_s)
    assert le(light.batch, heavy.batch)


@SETTINGS
@given(layouts, hardware(), efficiencies(), isl, osl, st.floats(0.001, 50.0))
def test_server_tpot_is_never_below_a_lone_request(layout, hw, eff, i, o, rate) -> None:
    # A request's decode step always contains at least that request, so no load level can
    # make its TPOT shorter than with the server to itself (single-request scenario).
    model, dep = deployment(layout, 1)
    alone = predict_serving(model, dep, hw, eff, Workload(isl=i, osl=o, scenario="single-request", concurrency=1.0))
    served = predict_serving(model, dep, hw, eff, Workload(isl=i, osl=o, scenario="server", request_rate=rate))
    assert le(alone.tpot_s, served.tpot_s), (alone.tpot_s, served.tpot_s, served.batch)


def test_lightly_loaded_moe_server_tpot_example() -> None:
    # Qwen3-30B-A3B on one synthetic GPU (1 TB/s, 100 TFLOP/s), 0.01 req/s of 1024 -> 256.
    # Weights one decoding token must stream, whatever else is in the step:
    #   attention: 48 layers * (2048*4096 + 2*2048*512 + 4096*2048 + 2*128 qk-norm)
    #              = 48 * 18,874,624 = 905,981,952 params * 2 bytes = 1,811,963,904
    #   its k = 8 routed experts: 48 * 8 * 3*2048*768 * 2 bytes       = 3,623,878,656
    #   LM head: 151936 * 2048 * 2 bytes                               =   622,329,856
    #   total 6,058,172,416 bytes / (1e12 * 0.8) = 7.5727 ms -- a floor for any TPOT.
    # A mean batch far below one sequence (Little's law at low load) must not shrink it.
    model, dep = deployment(("Qwen/Qwen3-30B-A3B", 1, DType.BF16), 1)
    hw = HwParams(name="synthetic", memory=192e9, mem_bw=1e12, peak_gemm=100e12, peak_attn=100e12,
                  link_bw=100e9, link_latency_s=10e-6, scaleout_bw=10e9, scaleout_latency_s=20e-6,
                  node_size=8, compute_dtype=DType.BF16)
    eff = Efficiency(compute=0.5, memory=0.8)
    served = predict_serving(model, dep, hw, eff, Workload(isl=1024, osl=256, scenario="server",
                                                           request_rate=0.01))
    assert served.tpot_s >= 6_058_172_416 / 0.8e12, served.decode_breakdown
    alone = predict_serving(model, dep, hw, eff, Workload(isl=1024, osl=256, scenario="single-request",
                                                          concurrency=1.0))
    assert alone.tpot_s >= 6_058_172_416 / 0.8e12
    assert served.tpot_s >= alone.tpot_s * (1 - SLACK)
