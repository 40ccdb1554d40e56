"""``validate --few-shot K`` on the public development set (issue 10's honest test).

Each case is predicted with a profile fitted on K other cases of its (source_group, hardware,
engine) group.  The baseline here is the bundled calibration, which was itself fitted on
these cases (in sample), so the profile's room is small; the measured results and the
corpus-wide figures are in docs/accuracy.md.  What holds is pinned; the issue's targets,
which are missed, stay visible as strict xfails.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import pytest

from suanli.app.validate import metric_family, validate

CASES = Path(__file__).parent / "data" / "cases-public.csv"


@pytest.fixture(scope="module")
def runs() -> dict[int, dict[str, object]]:
    base = {c.case_id: c for c in validate(CASES).cases if c.status == "ok"}
    out: dict[int, dict[str, object]] = {}
    for k in (1, 3):
        cal = [c for c in validate(CASES, few_shot=k).cases if c.status == "ok" and c.calibrated_on]
        out[k] = {"cases": cal, "base": base}
    return out


def _medians(run: dict[str, object], family: str) -> tuple[float, float]:
    cases = [c for c in run["cases"] if metric_family(c.metric) == family]   # type: ignore[attr-defined]
    base = run["base"]
    return (statistics.median(c.ape for c in cases), statistics.median(base[c.case_id].ape for c in cases))  # type: ignore[index]


def test_three_runs_of_the_group_correct_ttft(runs):
    """TTFT is where the uncalibrated model is furthest off in this set (queueing, front end);
    three runs of the group take a third of its error away (measured 45 % -> 30 %)."""
    calibrated, uncalibrated = _medians(runs[3], "ttft")
    assert calibrated < 0.8 * uncalibrated


def test_calibrated_cases_are_most_of_the_set(runs):
    assert len(runs[1]["cases"]) >= 120 and len(runs[3]["cases"]) >= 110


@pytest.mark.xfail(strict=True, reason="issue target missed: few-shot-1 median APE 17 % throughput, 62 % TPOT, "
                   "35 % TTFT on this set (in-sample baseline 14 / 53 / 39 %); the model's error within a "
                   "chip x engine (other models, loads, MLPerf server latencies) is not a shift one run can learn")
def test_issue_target_few_shot_1(runs):
    assert _medians(runs[1], "throughput")[0] <= 0.10
    assert _medians(runs[1], "tpot")[0] <= 0.10
    assert _medians(runs[1], "ttft")[0] <= 0.20


@pytest.mark.xfail(strict=True, reason="issue target missed: few-shot-3 median APE 18 % throughput, 48 % TPOT, "
                   "33 % TTFT on this set")
def test_issue_target_few_shot_3(runs):
    assert _medians(runs[3], "throughput")[0] <= 0.07
    assert _medians(runs[3], "tpot")[0] <= 0.07
    assert _medians(runs[3], "ttft")[0] <= 0.15


@pytest.mark.xfail(strict=True, reason="issue target missed on real groups: a 1-run profile makes the median of "
                   "8 of 16 groups of this set worse than the (in-sample) uncalibrated model; on a group with a "
                   "real bias it never does (tests/test_profile.py::test_one_run_of_a_biased_group_never_makes_"
                   "its_median_worse)")
def test_one_run_never_makes_a_real_group_worse(runs):
    groups: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    base = runs[1]["base"]
    for c in runs[1]["cases"]:   # type: ignore[attr-defined]
        groups[(c.source_group, c.hardware, c.engine)].append((c.ape, base[c.case_id].ape))  # type: ignore[index]
    worse = [g for g, v in groups.items() if statistics.median(a for a, _ in v) > statistics.median(b for _, b in v)]
    assert not worse
