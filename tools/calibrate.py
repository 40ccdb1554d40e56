#!/usr/bin/env python3
"""Fit suanli's engine runtime costs on validation cases (reproducible) and
write ``src/suanli/data/calibration/runtime.json``.

    python tools/calibrate.py --cases tests/data/cases-public.csv corpus/ [--no-cv]

Parameters, ranges, priors and the objective: see ``tools/fitlib.py`` and
``suanli.perf.runtime``.  With cross-validation (default) every source group
is held out in turn, the parameters are refitted on the rest and the group is
predicted as ``suanli validate`` predicts it; the pooled held-out log errors
give the uncertainty (``sigma``) every prediction's band uses, and the
out-of-sample accuracy stored in ``meta`` (in-sample numbers are stored too,
labelled as such).

Needs scipy (a development dependency, not a runtime one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fitlib import (Problem, held_out_predictions, leave_one_group_out, overall,  # noqa: E402
                    read_case_files)

ROOT = Path(__file__).resolve().parents[1]


def robust_sigma(logs: list[float]) -> float:
    """1.4826 x median absolute deviation of log errors about 0 (a robust sd)."""
    return round(1.4826 * float(np.median(np.abs(logs))), 4) if logs else 0.35


def digest(paths: list[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        path = Path(p)
        for f in (sorted(path.glob("*.csv")) if path.is_dir() else [path]):
            h.update(f.read_bytes())
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="+", required=True, help="case files or directories of *.csv")
    ap.add_argument("--out", default=str(ROOT / "src/suanli/data/calibration/runtime.json"))
    ap.add_argument("--no-cv", action="store_true", help="skip leave-one-source-group-out cross-validation")
    ap.add_argument("--max-nfev", type=int, default=30)
    ap.add_argument("--report", help="also write the cross-validation tables (markdown) to this file")
    ap.add_argument("--records", help="also write every held-out prediction (JSON) to this file")
    args = ap.parse_args()
    rows = read_case_files(args.cases)
    problem = Problem(rows)
    live = sum(1 for c in problem.cases if c.resolved is not None)
    print(f"{len(rows)} cases ({live} predictable), {len(problem.names)} parameters", file=sys.stderr)
    x = problem.fit(max_nfev=args.max_nfev)
    fit = problem.fit_dict(x, problem.counts())
    for d in fit["engines"].values():
        for k, v in d.items():
            d[k] = round(v, 7) if k != "n_cases" else v
    fit["globals"] = {k: round(v, 4) for k, v in fit["globals"].items()}

    # cases that inform each parameter: the prediction moves > 1 % when it doubles (halves)
    informs: dict[str, int] = {}
    base = problem.log_errors(x)
    _, hi = problem.bounds()
    for j, (e, k) in enumerate(problem.names):
        xs = x.copy()
        xs[j] += math.log(2.0) if x[j] + math.log(2.0) <= hi[j] else -math.log(2.0)   # double (or halve at the bound)
        moved = problem.log_errors(xs, [i for i, c in enumerate(problem.cases)
                                        if c.resolved is not None and (not e or c.engine == e)])
        informs[f"{e}.{k}" if e else k] = sum(1 for i, v in moved.items()
                                               if v is not None and base.get(i) is not None
                                               and abs(v - base[i]) > 0.01)
    in_sample = overall(held_out_predictions(problem, x, list(range(len(problem.cases)))))
    fit["meta"] = {
        "script": "tools/calibrate.py", "cases_file": " ".join(Path(p).name for p in args.cases),
        "cases_sha256": digest(args.cases), "n_cases": len(rows), "n_predictable": live,
        "fitted_on": dt.date.today().isoformat(),
        "objective": "soft-L1 least squares on log(pred/measured), log-normal priors, physical bounds (tools/fitlib.py)",
        "informing_cases": informs,
        "in_sample_labelled_as_such": in_sample,
    }
    fit["sigma"] = {"overall": 0.35}
    if not args.no_cv:
        records = leave_one_group_out(problem, max_nfev=args.max_nfev, log=lambda s: print(s, file=sys.stderr))
        logs = [math.log(r["predicted"] / r["measured"]) for r in records if r["ape"] is not None]
        fit["sigma"] = {"overall": robust_sigma(logs)}
        for e in problem.engines:
            le = [math.log(r["predicted"] / r["measured"]) for r in records if r["ape"] is not None and r["engine"] == e]
            if len(le) >= 10:
                fit["sigma"][e] = robust_sigma(le)
        fit["meta"]["leave_one_group_out"] = overall(records)
        if args.report:
            from crossval import report
            text = report(records, "Out of sample: leave one source group out (refit per fold)")
            text += "\n" + report(held_out_predictions(problem, x, list(range(len(problem.cases)))),
                                  "In sample (fitted on every case; optimistic)")
            Path(args.report).write_text(text, encoding="utf-8")
        if args.records:
            Path(args.records).write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    Path(args.out).write_text(json.dumps(fit, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"in_sample": in_sample, "cv": fit["meta"].get("leave_one_group_out")}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
