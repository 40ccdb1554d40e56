"""Predictions against published measurements (the public development set).

These are IN-SAMPLE numbers: the engine runtime costs (25 parameters) were fitted by
tools/calibrate.py on the training corpus *and* this file.  The honest, out-of-sample
accuracy (leave one source group out, refit per fold) is in docs/accuracy.md and the
README; it is not recomputed here (45 minutes on two cores).  What these tests pin down:
the regimes the model claims (memory-bound decode, long-context prefill, tuned TensorRT-LLM
offline runs, server throughput = offered load) stay within stated tolerances, and the
issue's TPOT / TTFT targets, which the model misses, stay visible as strict xfails.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from suanli.app.validate import HEADER, read_cases, validate

CASES = Path(__file__).parent / "data" / "cases-public.csv"


@pytest.fixture(scope="module")
def report():
    return validate(CASES)


def test_every_case_is_reported(report):
    with CASES.open(encoding="utf-8") as fh:
        n_rows = sum(1 for _ in csv.DictReader(fh))
    assert len(report.cases) == n_rows == 139
    for c in report.cases:
        assert c.status in ("ok", "skipped")
        if c.status == "skipped":
            assert c.reason, c.case_id


def _apes(report, *, group=None, scenario=None, metric=None):
    return [c.ape for c in report.cases if c.status == "ok"
            and (group is None or c.source_group == group)
            and (scenario is None or c.scenario in scenario)
            and (metric is None or c.metric in metric)]


def _median(xs):
    assert xs, "no cases selected"
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def test_in_sample_predicted_share_and_throughput(report):
    # issue targets: >= 95 % of cases predicted; throughput median APE <= 25 % (in sample:
    # 15.7 % at the 2026-12-06 fit; out of sample 21.1 % pooled, docs/accuracy.md)
    s = report.summary
    assert s["predicted_share"] >= 0.95
    assert s["by_family"]["throughput"]["median_ape"] <= 0.25


def test_memory_bound_decode_at_low_concurrency(report):
    # Single requests and small closed loops (GPUStack c1-c8, Qwen bs1, SGLang PR): decode
    # streams the weights and the KV cache, which the measured kernel tables time; only the
    # per-step / per-layer runtime costs are fitted.  20 %: the kernel tables' own spread
    # (docs/kernel-transfer.md, 3-15 % per op kind) plus one fitted runtime cost per engine.
    low = ("single-request", "fixed-concurrency")
    assert _median(_apes(report, scenario=low, metric=("tpot_ms",))) <= 0.20
    assert _median(_apes(report, scenario=low, metric=("output_tok_s", "total_tok_s"))) <= 0.20


def test_tuned_trtllm_offline_throughput(report):
    # TensorRT-LLM perf-overview offline runs (36 cases, compute-bound at large batch): 20 %,
    # the measured GEMM / attention kernels' spread at these shapes; out of sample this group
    # is at 10.5 % (docs/accuracy.md).
    assert _median(_apes(report, group="trtllm")) <= 0.20


def test_server_throughput_is_the_offered_load(report):
    # MLPerf Server runs are valid only below capacity, so their throughput is QPS x osl; a
    # model that called them saturated (the old core did) would be off by the capacity gap.
    # 8 of 9 are within 5 % (the residue is the osl convention); the B200 FP4 run is
    # predicted saturated (capacity 32.6 req/s against 39.6 offered, from measured B200
    # TensorRT-LLM kernels: an error of the model, not of the data) and is the one exception.
    apes = _apes(report, group="mlperf4.1", scenario=("server",), metric=("output_tok_s",))
    assert len(apes) == 9
    assert sum(a <= 0.05 for a in apes) >= 8


@pytest.mark.xfail(strict=True, reason="issue target missed: MLPerf server TPOT is ill-conditioned near "
                   "capacity (predicted 0.3-0.4x) and GPUStack offline bursts are not modelled well; "
                   "in sample 52.7 % (README Limitations)")
def test_issue_target_tpot(report):
    assert report.summary["by_family"]["tpot"]["median_ape"] <= 0.25


@pytest.mark.xfail(strict=True, reason="issue target missed: TTFT under load (MLPerf server queueing, "
                   "closed-loop bursts) in sample 50.8 % (README Limitations)")
def test_issue_target_ttft(report):
    assert report.summary["by_family"]["ttft"]["median_ape"] <= 0.35


def test_ape_definition(report):
    for c in report.cases:
        if c.status == "ok":
            assert c.ape == pytest.approx(abs(c.predicted - c.measured) / c.measured)


def test_single_case_h100_qwen3_8b_batch1_tpot(report):
    # GPUStack vLLM on H100, Qwen3-8B BF16, concurrency 1: measured mean TPOT 7.28 ms.
    # Decode at batch 1 streams 16.4 GB of weights per token: 16.4e9 / 3.35e12 = 4.9 ms at
    # 100 % bandwidth, so a calibrated model must land near 6-9 ms; we allow 30 %.
    case = next(c for c in report.cases if c.case_id == "gpustack-h100-1x-qwen3-8b-vllm-bf16-tp1-233-221-c1-tpot")
    assert case.status == "ok"
    assert case.ape <= 0.30


def test_long_context_prefill_dominated_case(report):
    # Qwen speed benchmark: Qwen3-32B, 129,024-token prompt on 2xH20 (TP2): the quadratic
    # attention term dominates (~1.7e16 FLOPs); a model that ignored it or charged
    # FlashAttention per-token KV reads would be off by >2x.  Allow 35 %.
    case = next(c for c in report.cases if "129024" in c.case_id)
    assert case.status == "ok"
    assert case.ape <= 0.35


def _one_row(**over):
    base = dict(zip(HEADER, [""] * len(HEADER)))
    base.update(case_id="x1", source_group="test", source_url="https://example.org", hardware="nvidia_h100_sxm",
                gpus="1", model="Qwen/Qwen3-8B", weight_dtype="bf16", kv_dtype="bf16", engine="vllm", tp="1",
                isl="1000", osl="100", concurrency="1", scenario="single-request", metric="tpot_ms", value="8")
    base.update(over)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HEADER, lineterminator="\n")
    w.writeheader()
    w.writerow(base)
    return io.StringIO(buf.getvalue())


@pytest.mark.parametrize("over, reason", [
    (dict(hardware="nvidia_h999"), "unknown"),
    (dict(model="acme/NoSuchModel"), "unknown model"),
    (dict(metric="joules"), "unknown metric"),
    (dict(isl="-5"), "isl"),
    (dict(gpus="3", tp="2"), "not a multiple"),
    (dict(scenario="offline", metric="ttft_ms", concurrency=""), "burst"),
    (dict(value="abc"), "value must be a number"),
])
def test_unpredictable_rows_are_skipped_with_reason(over, reason):
    rep = validate(_one_row(**over))
    (case,) = rep.cases
    assert case.status == "skipped"
    assert reason.lower() in case.reason.lower()
    assert rep.summary["skipped"] == 1


def test_wrong_header_is_a_config_error(tmp_path):
    from suanli.errors import ConfigError

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="header lacks"):
        read_cases(bad)


def test_row_with_wrong_field_count_is_reported(tmp_path):
    text = _one_row().getvalue().rstrip("\n") + "\nx2,test,https://e.org,nvidia_h100_sxm\n"
    rep = validate(io.StringIO(text))
    assert [c.status for c in rep.cases] == ["ok", "skipped"]
    assert "fields" in rep.cases[1].reason
