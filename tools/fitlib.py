"""Fitting the engine runtime costs on validation cases, and cross-validating
the fit by source group.  Used by ``tools/calibrate.py`` and
``tools/crossval.py`` (development tools; scipy is a test/dev dependency).

What is fitted: per engine ``step_s``, ``seq_s``, ``layer_s``, ``request_s``
and one global ``comm_eff`` (see ``suanli.perf.runtime``), in log space within
their physical ranges, with weak log-normal priors (``suanli.app.calibration.
PRIORS``).  Kernel times are measured data and are never fitted.

Objective: robust (soft-L1, scale 0.25) least squares on ``log(predicted /
measured)`` over every predictable case, each weighted by the size of its
source group (``GROUP_REF``); cases are never selected or weighted by id,
value or error, and source groups are otherwise used only to hold out whole
publications in cross-validation.

Speed: each case is resolved once (names, layout -- chosen under the priors
when blank, platform); a residual evaluation then runs only the analytical
serving model with the trial runtime.  The Jacobian is sparse by
construction: an engine's parameters move only that engine's cases.
"""

from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from suanli.app.calibration import (ENGINE_PARAMS, PRIOR_GLOBALS, PRIORS, calibration_from_params, runtime_key,  # noqa: E402
                                    prior_calibration)
from suanli.app.predict import resolve  # noqa: E402
from suanli.app.validate import METRIC_ATTR, case_inputs, metric_family, predict_case, read_cases  # noqa: E402
from suanli.errors import SuanliError  # noqa: E402
from suanli.perf.runtime import RANGES  # noqa: E402
from suanli.perf.serving import predict_serving  # noqa: E402
from suanli.specs.accelerator import load_hardware  # noqa: E402
from suanli.specs.system import load_systems  # noqa: E402

PRIOR_SD = 0.7          # log-space sd of the priors (a factor 2 either way is plausible)
PRIOR_WEIGHT = 1.0      # residual weight of one prior term relative to one (weighted) case
F_SCALE = 0.25          # soft-L1 scale on log errors
# Each case is weighted sqrt(GROUP_REF / cases of its source group) (at most 1): a
# publication family that contributes 500 rows (one table swept over many lengths) counts
# ~4x one of 30, not 17x -- the families, not their row counts, are the independent
# evidence.  No case is weighted by its id, value or error.
GROUP_REF = 30.0
# Source groups evaluated but never fitted, with the reason (reported in every CV table as
# held out; the runtime costs describe current engine builds, which the kernel tables were
# measured with -- vLLM 0.14-0.24, SGLang 0.5.x, TensorRT-LLM 1.x):
EVALUATION_ONLY = {
    "dstack": "Feb-Aug 2025 day-one DeepSeek-R1 / gpt-oss builds (vLLM 0.7.3.dev on ROCm, SGLang 0.4.3, "
              "TensorRT-LLM 0.18 pre-release) and prefill/decode-split runs the schema cannot describe; "
              "TTFT 5-15x and throughput 0.5x of the same engines' later releases",
}


def read_case_files(paths: Sequence[str | Path]) -> list[dict[str, str]]:
    """Rows of every case file (files and directories of ``*.csv``), in order."""
    rows: list[dict[str, str]] = []
    for p in paths:
        path = Path(p)
        files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
        for f in files:
            rows += [row for _, row in read_cases(f)]
    return rows


@dataclass
class Case:
    index: int
    row: dict[str, str]
    metric: str
    measured: float
    group: str
    engine: str
    resolved: Any = None      # app.predict.Resolved under the priors (None: not predictable)
    reason: str = ""


class Problem:
    """Cases resolved once; parameters = per-engine runtime costs + comm_eff."""

    def __init__(self, rows: list[dict[str, str]]):
        self.catalog, self.systems = load_hardware(), load_systems()
        prior = prior_calibration()
        self.cases: list[Case] = []
        for i, row in enumerate(rows):
            c = Case(index=i, row=row, metric=row.get("metric", "").strip(), measured=float(row.get("value") or 0),
                     group=row.get("source_group", "").strip(), engine=row.get("engine", "").strip())
            try:
                model, acc, kwargs = case_inputs(row, catalog=self.catalog, systems=self.systems, calibration=prior)
                r = resolve(model, acc, **kwargs)   # layout chosen under the priors when blank
                c.resolved = r
                c.engine = runtime_key(c.engine, acc.vendor)   # vllm on Ascend -> vllm-ascend
            except (SuanliError, ValueError, KeyError) as exc:
                c.reason = str(exc)
            self.cases.append(c)
        sizes: dict[str, int] = {}
        for c in self.cases:
            sizes[c.group] = sizes.get(c.group, 0) + 1
        self.weight = np.array([min(1.0, math.sqrt(GROUP_REF / sizes[c.group])) for c in self.cases])
        self.engines = sorted({c.engine for c in self.cases if c.resolved is not None})
        self.names: list[tuple[str, str]] = [(e, k) for e in self.engines for k in ENGINE_PARAMS]
        self.names.append(("", "comm_eff"))

    # ------------------------------------------------------------------ parameters
    def prior_value(self, engine: str, name: str) -> float:
        if not engine:
            return PRIOR_GLOBALS[name]
        return PRIORS.get(engine, PRIORS["other"])[name]

    def x0(self) -> np.ndarray:
        return np.log([max(self.prior_value(e, k), 1e-7) for e, k in self.names])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = [math.log(max(RANGES[k][0], 1e-7)) for _, k in self.names]
        hi = [math.log(RANGES[k][1]) for _, k in self.names]
        return np.asarray(lo), np.asarray(hi)

    def fit_dict(self, x: np.ndarray, counts: dict[str, int] | None = None) -> dict[str, Any]:
        engines: dict[str, dict[str, float]] = {}
        glob: dict[str, float] = {}
        for (e, k), v in zip(self.names, np.exp(x)):
            if e:
                engines.setdefault(e, {})[k] = float(v)
            else:
                glob[k] = float(v)
        for e, d in engines.items():
            d["n_cases"] = (counts or {}).get(e, 0)
        return {"engines": engines, "globals": glob, "sigma": {}, "meta": {}}

    def runtimes(self, x: np.ndarray) -> dict[str, Any]:
        cal = calibration_from_params(self.fit_dict(x))
        return {"cal": cal}

    # ------------------------------------------------------------------ evaluation
    def predict(self, c: Case, cal: Any) -> float | None:
        r = c.resolved
        rt = cal.runtime_for(c.engine, memory_gb=r.acc.memory_gb or 0.0, acc_id=r.acc.id)
        try:
            res = predict_serving(r.spec, r.lay, replace(r.pf, runtime=rt), r.wl)
        except (SuanliError, ValueError, ZeroDivisionError, FloatingPointError):
            return None
        value = _metric(res, c.metric, r.wl)
        return value if value is not None and math.isfinite(value) and value > 0 else None

    def log_errors(self, x: np.ndarray, subset: Iterable[int] | None = None) -> dict[int, float | None]:
        cal = calibration_from_params(self.fit_dict(x))
        idx = range(len(self.cases)) if subset is None else subset
        out: dict[int, float | None] = {}
        for i in idx:
            c = self.cases[i]
            if c.resolved is None:
                continue
            p = self.predict(c, cal)
            out[i] = None if p is None else math.log(p / c.measured)
        return out

    def residuals(self, x: np.ndarray, train: Sequence[int]) -> np.ndarray:
        errs = self.log_errors(x, train)
        r = [(errs.get(i) or 0.0) * self.weight[i] for i in train if self.cases[i].resolved is not None]
        prior = [(xi - math.log(max(self.prior_value(e, k), 1e-7))) / PRIOR_SD * PRIOR_WEIGHT
                 for xi, (e, k) in zip(x, self.names)]
        return np.asarray(r + prior)

    def jacobian(self, x: np.ndarray, train: Sequence[int]) -> np.ndarray:
        """Forward differences in log space; a parameter of engine e only moves
        the cases of engine e (the others' column entries are exactly 0)."""
        h = 1e-3
        live = [i for i in train if self.cases[i].resolved is not None]
        f0 = self.residuals(x, train)
        J = np.zeros((len(f0), len(x)))
        base = self.log_errors(x, live)
        _, hi = self.bounds()
        for j, (e, k) in enumerate(self.names):
            xs = x.copy()
            step = h if x[j] + h < hi[j] else -h     # stay inside the physical range
            xs[j] += step
            rows = [n for n, i in enumerate(live) if not e or self.cases[i].engine == e]
            sub = [live[n] for n in rows]
            errs = self.log_errors(xs, sub)
            for n, i in zip(rows, sub):
                J[n, j] = ((errs.get(i) or 0.0) - (base.get(i) or 0.0)) / step * self.weight[i]
            J[len(live) + j, j] = PRIOR_WEIGHT / PRIOR_SD
        return J

    def fit(self, train: Sequence[int] | None = None, x0: np.ndarray | None = None, max_nfev: int = 30) -> np.ndarray:
        from scipy.optimize import least_squares

        train = list(range(len(self.cases))) if train is None else list(train)
        train = [i for i in train if self.cases[i].group not in EVALUATION_ONLY]
        lo, hi = self.bounds()
        start = np.clip(self.x0() if x0 is None else x0, lo + 1e-9, hi - 1e-9)
        res = least_squares(self.residuals, start, jac=self.jacobian, bounds=(lo, hi), args=(train,),
                            loss="soft_l1", f_scale=F_SCALE, max_nfev=max_nfev, ftol=1e-4, xtol=1e-4)
        return res.x

    def counts(self, subset: Iterable[int] | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in (range(len(self.cases)) if subset is None else subset):
            c = self.cases[i]
            if c.resolved is not None:
                out[c.engine] = out.get(c.engine, 0) + 1
        return out


def _metric(res: Any, metric: str, wl: Any) -> float | None:
    attr = {"output_tok_s": "output_tok_s_per_gpu", "total_tok_s": "total_tok_s_per_gpu",
            "input_tok_s": "input_tok_s_per_gpu", "ttft_ms": "ttft_s", "tpot_ms": "tpot_s"}[metric]
    v = getattr(res, attr)
    if v is None:
        return None
    return float(v) * (1e3 if metric.endswith("_ms") else 1.0)


# ---------------------------------------------------------------------- reporting
def ape_stats(items: list[float]) -> dict[str, Any]:
    return {"count": len(items), "median_ape": round(statistics.median(items), 4) if items else None}


def held_out_predictions(problem: Problem, x: np.ndarray, held: Sequence[int]) -> list[dict[str, Any]]:
    """Predict the held-out cases exactly as ``suanli validate`` does (layout
    choice with the fold's calibration, server cases through the simulator)."""
    cal = calibration_from_params(problem.fit_dict(x, problem.counts()))
    out = []
    for i in held:
        c = problem.cases[i]
        rec = {"case_id": c.row.get("case_id", ""), "group": c.group, "hardware": c.row.get("hardware", "").strip(),
               "engine": c.engine, "scenario": c.row.get("scenario", "").strip(), "metric": c.metric,
               "family": metric_family(c.metric) if c.metric in METRIC_ATTR else c.metric,
               "measured": c.measured, "predicted": None, "ape": None, "reason": c.reason}
        try:
            _, pred = predict_case(c.row, catalog=problem.catalog, systems=problem.systems, calibration=cal)
            rec["predicted"] = pred
            rec["ape"] = abs(pred - c.measured) / c.measured
        except (SuanliError, ValueError, KeyError) as exc:
            rec["reason"] = str(exc)
        out.append(rec)
    return out


def summarise(records: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, list[float]]] = {}
    for r in records:
        if r["ape"] is None:
            continue
        groups.setdefault(r[key], {}).setdefault(r["family"], []).append(r["ape"])
    return {g: {fam: ape_stats(v) for fam, v in sorted(d.items())} for g, d in sorted(groups.items())}


def overall(records: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, list[float]] = {}
    for r in records:
        if r["ape"] is not None:
            by.setdefault(r["family"], []).append(r["ape"])
    predicted = sum(1 for r in records if r["ape"] is not None)
    return {"cases": len(records), "predicted": predicted,
            "predicted_share": round(predicted / len(records), 4) if records else 0.0,
            **{fam: ape_stats(v) for fam, v in sorted(by.items())}}


_FOLD_PROBLEM: Problem | None = None


def _fold(args: tuple[str, list[int], int]) -> tuple[str, list[dict[str, Any]]]:
    g, held, max_nfev = args
    problem = _FOLD_PROBLEM
    assert problem is not None
    train = sorted(set(range(len(problem.cases))) - set(held))
    xg = problem.fit(train, max_nfev=max_nfev)
    return g, held_out_predictions(problem, xg, held)


def leave_one_group_out(problem: Problem, max_nfev: int = 30, log: Any = None,
                        workers: int = 2) -> list[dict[str, Any]]:
    """Refit without each source group, predict it; all held-out records pooled.
    Folds run in ``workers`` forked processes (same results as serially)."""
    import multiprocessing as mp

    global _FOLD_PROBLEM
    groups: dict[str, list[int]] = {}
    for c in problem.cases:
        groups.setdefault(c.group, []).append(c.index)
    tasks = [(g, held, max_nfev) for g, held in sorted(groups.items(), key=lambda kv: -len(kv[1]))]
    _FOLD_PROBLEM = problem
    results: dict[str, list[dict[str, Any]]] = {}
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            for g, recs in pool.imap_unordered(_fold, tasks):
                results[g] = recs
                if log:
                    log(f"held out {g} ({len(recs)} cases): {overall(recs)}")
    else:
        for t in tasks:
            g, recs = _fold(t)
            results[g] = recs
            if log:
                log(f"held out {g} ({len(recs)} cases): {overall(recs)}")
    return [r for g in sorted(results) for r in results[g]]
