"""Calibration profiles (issue 10): the Bayesian fit against hand calculations, the
correction's effect on op times and runtime costs, shrinkage (one run moves a little,
many consistent runs move to the data), the few-shot protocol and the profile file."""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest

from suanli.app.calibration import load_calibration
from suanli.app.predict import predict, resolve
from suanli.app.profile import (Profile, ScopeFit, few_shot_choice, fit_profile, measurement_key,
                                profile_from_dict, profile_from_json)
from suanli.app.validate import predict_case, read_cases, validate
from suanli.errors import ConfigError, InvalidInput
from suanli.perf.correction import (BIAS_PRIOR, COMMON_SD, GROUPS, PRIOR_SD, Correction, fit_log_scales, prior_cov,
                                    variance_left)
from suanli.perf.step import step_breakdown
from suanli.perf.ops import StepLoad
from suanli.specs.accelerator import load_hardware
from suanli.specs.system import load_systems

HEADER = ("case_id,source_group,source_url,hardware,gpus,model,weight_dtype,kv_dtype,engine,tp,pp,ep,"
          "dp_attention,isl,osl,concurrency,request_rate,scenario,metric,value,notes").split(",")
GEMM = GROUPS.index("gemm")


# --- the fit against hand calculations ----------------------------------------------------------

def test_one_observation_of_one_part_moves_by_the_prior_over_prior_plus_noise():
    """Gaussian fit, one log residual r seen only through the GEMM part (J = e_gemm):
    theta_gemm = v / (v + s^2) r with v = PRIOR_SD[gemm]^2 + COMMON_SD^2 (its prior variance),
    and every part sharing the common factor moves by COMMON_SD^2 / (v + s^2) r."""
    r, s = 0.4, 0.1
    J = np.zeros((1, len(GROUPS)))
    J[0, GEMM] = 1.0
    fit = fit_log_scales(np.array([r]), J, obs_sd=s, robust_df=None, bias_prior=None)
    v = 0.35 ** 2 + 0.4 ** 2          # PRIOR_SD["gemm"] = 0.35, COMMON_SD = 0.4 (stated in perf.correction)
    assert PRIOR_SD["gemm"] == 0.35 and COMMON_SD == 0.4
    assert fit.theta[GEMM] == pytest.approx(v / (v + s * s) * r, rel=1e-9)
    assert fit.theta[GROUPS.index("host")] == pytest.approx(0.16 / (v + s * s) * r, rel=1e-9)
    assert fit.theta[GROUPS.index("frontend")] == pytest.approx(0.0, abs=1e-12)   # not in the common factor
    # posterior variance of the observed part: v s^2 / (v + s^2)
    assert fit.cov[GEMM, GEMM] == pytest.approx(v * s * s / (v + s * s), rel=1e-9)


def test_spike_and_slab_weight_is_the_posterior_probability_of_a_bias():
    """One observation: p = pi N(r; 0, v + s^2) / (pi N(r; 0, v + s^2) + (1 - pi) N(r; 0, s^2))."""
    r, s = 0.3, 0.2
    J = np.zeros((1, len(GROUPS)))
    J[0, GEMM] = 1.0
    fit = fit_log_scales(np.array([r]), J, obs_sd=s, robust_df=None, bias_prior=BIAS_PRIOR)
    v = prior_cov()[GEMM, GEMM]

    def normal(x: float, var: float) -> float:
        return math.exp(-x * x / (2 * var)) / math.sqrt(2 * math.pi * var)
    p = BIAS_PRIOR * normal(r, v + s * s) / (BIAS_PRIOR * normal(r, v + s * s) + (1 - BIAS_PRIOR) * normal(r, s * s))
    assert fit.p_bias == pytest.approx(p, rel=1e-9)
    assert fit.theta[GEMM] == pytest.approx(p * v / (v + s * s) * r, rel=1e-9)


def test_a_residual_within_the_noise_moves_less_than_one_far_outside_it():
    J = np.zeros((1, len(GROUPS)))
    J[0, GEMM] = 1.0
    small = fit_log_scales(np.array([0.05]), J, obs_sd=0.2)
    large = fit_log_scales(np.array([0.8]), J, obs_sd=0.2)
    assert small.theta[GEMM] / 0.05 < 0.5 < large.theta[GEMM] / 0.8


def test_more_consistent_runs_remove_more_of_the_prior_variance():
    rng = np.random.default_rng(0)
    J1 = rng.uniform(0, 1, (1, len(GROUPS)))
    J20 = rng.uniform(0, 1, (20, len(GROUPS)))
    one = fit_log_scales(np.full(1, 0.3), J1)
    twenty = fit_log_scales(J20 @ np.full(len(GROUPS), 0.1), J20)
    assert 0.5 < variance_left(one) < 1.0
    assert variance_left(twenty) < variance_left(one) - 0.3


def test_corrected_band_keeps_the_unremoved_prior_share_and_never_drops_below_the_floor():
    c = Correction(variance_left=0.25, sigma_floor=0.05)
    # sqrt(0.05^2 + (0.4^2 - 0.05^2) * 0.25) by hand
    assert c.sigma(0.4) == pytest.approx(math.sqrt(0.0025 + (0.16 - 0.0025) * 0.25))
    assert Correction(variance_left=0.0, sigma_floor=0.05).sigma(0.4) == pytest.approx(0.05)
    assert Correction(variance_left=1.0, sigma_floor=0.05).sigma(0.4) == pytest.approx(0.4)


# --- the correction acts on the physical parts ------------------------------------------------

class _Fixed:
    def __init__(self, corr: Correction) -> None:
        self.corr = corr

    def correction_for(self, *args: object) -> Correction:
        return self.corr

    def note_for(self, *args: object) -> str:
        return "test profile"


def test_op_and_runtime_factors_scale_exactly_their_parts():
    corr = Correction(scales=(("gemm", 2.0), ("attention", 1.5), ("host", 3.0)))
    kw = dict(tp=2, isl=2048, osl=256, concurrency=16, engine="vllm")
    base = resolve("Qwen/Qwen3-32B", "nvidia_h20_96gb", **kw)
    cal = load_calibration().with_profile(_Fixed(corr))
    corrected = resolve("Qwen/Qwen3-32B", "nvidia_h20_96gb", calibration=cal, **kw)
    load = StepLoad(n_dec=16.0, ctx_dec=2100.0)
    a = step_breakdown(base.spec, base.lay, base.pf, load)
    b = step_breakdown(corrected.spec, corrected.lay, corrected.pf, load)
    assert float(b["mlp_gate_up"]) == pytest.approx(2.0 * float(a["mlp_gate_up"]), rel=1e-12)
    assert float(b["attn_decode"]) == pytest.approx(1.5 * float(a["attn_decode"]), rel=1e-12)
    assert float(b["attn_allreduce"]) == pytest.approx(float(a["attn_allreduce"]), rel=1e-12)   # comm untouched
    assert float(b["runtime"]) == pytest.approx(3.0 * float(a["runtime"]), rel=1e-12)


def test_front_end_factor_adds_exactly_its_share_of_request_time_to_a_single_request_ttft():
    kw = dict(tp=1, isl=1024, osl=128, concurrency=1, engine="sglang")
    base = predict("Qwen/Qwen3-8B", "nvidia_h20_96gb", **kw)
    cal = load_calibration().with_profile(_Fixed(Correction(scales=(("frontend", 2.0),))))
    corrected = predict("Qwen/Qwen3-8B", "nvidia_h20_96gb", calibration=cal, **kw)
    request_ms = load_calibration().runtime_for("sglang").request_s * 1e3
    assert corrected.ttft_ms - base.ttft_ms == pytest.approx(request_ms, rel=1e-9)
    assert corrected.tpot_ms == pytest.approx(base.tpot_ms, rel=1e-12)
    assert corrected.profile == "test profile"


# --- shrinkage on a group whose truth is known ------------------------------------------------

TRUTH = Correction(scales=(("gemm", 1.5), ("attention", 1.3), ("host", 2.0)))


def _rows() -> list[dict[str, str]]:
    """One chip x engine, one model, 12 configurations x 2 metrics (offline and closed loop)."""
    rows = []
    for i, (isl, osl, conc) in enumerate([(1024, 256, 4), (1024, 256, 16), (1024, 256, 64), (4096, 512, 8),
                                          (4096, 512, 32), (512, 1024, 16), (2048, 128, 2), (2048, 128, 128),
                                          (8192, 256, 8), (256, 256, 32), (1024, 2048, 8), (3000, 300, 24)]):
        for metric in ("output_tok_s", "tpot_ms"):
            rows.append(dict(zip(HEADER, [f"syn-{i}-{metric}", "syn", "https://example.org", "nvidia_h20_96gb", "1",
                                          "Qwen/Qwen3-32B", "bf16", "bf16", "sglang", "1", "", "", "", str(isl),
                                          str(osl), str(conc), "", "fixed-concurrency", metric, "0", ""])))
    return rows


@pytest.fixture(scope="module")
def truth_rows() -> list[dict[str, str]]:
    cal = load_calibration().with_profile(_Fixed(TRUTH))
    hw, systems = load_hardware(), load_systems()
    out = []
    for row in _rows():
        _, value = predict_case(row, catalog=hw, systems=systems, calibration=cal)
        out.append({**row, "value": f"{value:.6g}"})
    return out


def _group_median_ape(rows: list[dict[str, str]], profile: object | None) -> float:
    hw, systems = load_hardware(), load_systems()
    cal = load_calibration() if profile is None else load_calibration().with_profile(profile)
    apes = []
    for row in rows:
        _, value = predict_case(row, catalog=hw, systems=systems, calibration=cal)
        apes.append(abs(value / float(row["value"]) - 1.0))
    return statistics.median(apes)


def test_one_run_of_a_biased_group_never_makes_its_median_worse(truth_rows):
    before = _group_median_ape(truth_rows, None)
    assert before > 0.15                       # the truth is far from the uncalibrated model
    for i in range(0, len(truth_rows), 2):     # every single run (both of its metrics)
        prof = fit_profile(truth_rows[i:i + 2], name="one")
        after = _group_median_ape(truth_rows, prof)
        assert after < before, f"run {i // 2}: {after:.3f} >= {before:.3f}"


def test_many_consistent_runs_move_the_predictions_to_the_data(truth_rows):
    prof = fit_profile(truth_rows, name="all")
    assert _group_median_ape(truth_rows, prof) < 0.03
    one = fit_profile(truth_rows[:2], name="one")
    # one run narrows the band a little, twelve consistent runs much more
    kw = dict(tp=1, isl=1500, osl=400, concurrency=12, engine="sglang")
    sigma = {}
    for name, p in (("none", None), ("one", one), ("all", prof)):
        cal = load_calibration() if p is None else load_calibration().with_profile(p)
        band = predict("Qwen/Qwen3-32B", "nvidia_h20_96gb", calibration=cal, **kw).band
        sigma[name] = math.log(band[1])
    assert 0.7 * sigma["none"] < sigma["one"] < sigma["none"]
    assert sigma["all"] < 0.6 * sigma["one"]


def test_one_run_that_agrees_with_the_model_barely_moves_it():
    rows = []
    for row, noise in zip(_rows()[:2], (1.03, 0.98)):
        _, value = predict_case(row, catalog=load_hardware(), systems=load_systems(), calibration=load_calibration())
        rows.append({**row, "value": f"{value * noise:.6g}"})
    prof = fit_profile(rows, name="agree")
    any_model = prof.scopes[0]
    assert all(abs(math.log(f)) < 0.03 for f in any_model.scales.values())


def test_a_run_far_outside_any_correction_is_reported_not_fitted(truth_rows):
    wild = {**truth_rows[0], "value": str(float(truth_rows[0]["value"]) * 20)}
    prof = fit_profile([wild, truth_rows[1]], name="wild")
    assert [s["ref"] for s in prof.skipped] == [wild["case_id"]]
    assert "check the run's hardware" in prof.skipped[0]["reason"]
    with pytest.raises(InvalidInput, match="could be predicted"):
        fit_profile([wild], name="only-wild")


# --- profile file ------------------------------------------------------------------------------

def test_profile_json_round_trip_and_checks(truth_rows):
    prof = fit_profile(truth_rows[:4], name="rt")
    back = profile_from_json(prof.to_json())
    assert back.to_dict() == prof.to_dict()
    assert back.correction_for("nvidia_h20_96gb", "sglang", "Qwen3", "Qwen/Qwen3-32B") is not None
    assert back.correction_for("nvidia_h20_96gb", "vllm", "Qwen3") is None
    doc = json.loads(prof.to_json())
    doc["scopes"][0]["scales"]["gemm"] = 10.0
    with pytest.raises(ConfigError, match="scales.gemm"):
        profile_from_dict(doc)
    with pytest.raises(ConfigError, match="not a suanli profile"):
        profile_from_json('{"name": "x"}')
    with pytest.raises(ConfigError, match="not valid JSON"):
        profile_from_json("{")
    with pytest.raises(ConfigError, match="too large"):
        profile_from_json(" " * 2_000_001)


def test_most_specific_scope_wins():
    scopes = tuple(ScopeFit(hardware="h", engine="e", family=f, model=m, n_runs=1, n_obs=1, scales={"gemm": g},
                            sd={}, variance_left=1.0, sigma_floor=0.1)
                   for f, m, g in ((None, None, 1.1), ("Qwen3", None, 1.2), ("Qwen3", "Qwen/Qwen3-8B", 1.3)))
    p = Profile(name="p", scopes=scopes)
    assert p.correction_for("h", "e", "Qwen3", "Qwen/Qwen3-8B").scale("gemm") == 1.3
    assert p.correction_for("h", "e", "Qwen3", "Qwen/Qwen3-32B").scale("gemm") == 1.2
    assert p.correction_for("h", "e", "Llama", "x").scale("gemm") == 1.1
    assert "no runs for h x other" in p.note_for("h", "other", None)


# --- few-shot protocol ------------------------------------------------------------------------

def test_few_shot_choice_never_uses_the_case_or_its_measurement():
    rows = read_cases("tests/data/cases-public.csv")
    for i in range(0, len(rows), 7):
        chosen = few_shot_choice(rows, i, 2)
        if chosen is None:
            continue
        _, row = rows[i]
        assert i not in chosen
        for j in chosen:
            other = rows[j][1]
            assert measurement_key(other) != measurement_key(row)
            assert (other["source_group"], other["hardware"], other["engine"]) == \
                (row["source_group"], row["hardware"], row["engine"])
        assert few_shot_choice(rows, i, 2) == chosen        # fixed seed


def test_validate_few_shot_reports_the_cases_used_and_counts_small_groups_apart():
    report = validate("tests/data/cases-public.csv", few_shot=1).to_dict()
    few = report["summary"]["few_shot"]
    assert few["k"] == 1 and few["calibrated_cases"] > 100 and few["uncalibrated_cases"] > 0
    ids = {c["case_id"] for c in report["cases"]}
    for case in report["cases"]:
        assert "calibrated_on" in case
        assert case["case_id"] not in case["calibrated_on"]
        assert set(case["calibrated_on"]) <= ids
    plain = validate("tests/data/cases-public.csv").to_dict()
    assert all("calibrated_on" not in c for c in plain["cases"])


# --- invariant ---------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(factors=st.lists(st.floats(1.0, 4.0), min_size=5, max_size=5), conc=st.sampled_from([1, 8, 64]),
       isl=st.sampled_from([256, 2048]))
def test_slower_parts_never_make_a_prediction_faster(factors, conc, isl):
    """Any correction with every factor >= 1 (slower kernels, host, front end) gives a TPOT and
    TTFT at least as long and a throughput at most as high as the uncalibrated model."""
    corr = Correction(scales=tuple(zip(("gemm", "attention", "comm", "host", "frontend"), factors)))
    kw = dict(tp=2, isl=isl, osl=256, concurrency=conc, engine="vllm")
    base = predict("Qwen/Qwen3-8B", "nvidia_h20_96gb", **kw)
    slow = predict("Qwen/Qwen3-8B", "nvidia_h20_96gb", calibration=load_calibration().with_profile(_Fixed(corr)),
                   **kw)
    assert slow.tpot_ms >= base.tpot_ms * (1 - 1e-9)
    assert slow.ttft_ms >= base.ttft_ms * (1 - 1e-9)
    assert slow.output_tok_s_per_gpu <= base.output_tok_s_per_gpu * (1 + 1e-9)



def test_a_server_case_gets_the_latency_factor_once():
    """Regression: validate's server path runs the simulator, which already applies a profile's
    TTFT factor; applying it again halved a 0.5 factor twice."""
    import csv
    row = next(r for r in csv.DictReader(open("tests/data/cases-public.csv", encoding="utf-8"))
               if r["scenario"] == "server" and r["metric"] == "ttft_ms")
    hw, systems = load_hardware(), load_systems()
    _, plain = predict_case(row, catalog=hw, systems=systems, calibration=load_calibration())
    cal = load_calibration().with_profile(_Fixed(Correction(scales=(("ttft_rest", 0.5),))))
    _, half = predict_case(row, catalog=hw, systems=systems, calibration=cal)
    assert half == pytest.approx(0.5 * plain, rel=1e-3)
