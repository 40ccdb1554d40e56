#!/usr/bin/env python3
"""Honest accuracy: leave-one-source-group-out cross-validation.

    python tools/crossval.py --cases tests/data/cases-public.csv corpus/ [--json out.json] [--markdown]

For every source group (one publication family) the engine runtime costs are
refitted on all *other* groups (``tools/fitlib.py``, from the priors), then
that group is predicted exactly as ``suanli validate`` predicts it (layout
choice, simulator for server cases).  All held-out predictions are pooled;
the tables give median absolute percentage error per source group,
hardware, engine, scenario and metric family.  Kernel tables are measured
data and never fitted, so they are the same in every fold.

With ``--in-sample`` the same tables are printed for the fit on all cases,
labelled in-sample (optimistic; never the headline).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fitlib import Problem, held_out_predictions, leave_one_group_out, overall, read_case_files, summarise  # noqa: E402

FAMILIES = ("throughput", "tpot", "ttft")


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def table(title: str, by: dict[str, dict], records: list[dict], key: str) -> list[str]:
    counts: dict[str, int] = {}
    predicted: dict[str, int] = {}
    for r in records:
        counts[r[key]] = counts.get(r[key], 0) + 1
        predicted[r[key]] = predicted.get(r[key], 0) + (r["ape"] is not None)
    lines = [f"\n### {title}\n", f"| {key} | cases | predicted | " + " | ".join(f"{f} (n, median APE)" for f in FAMILIES)
             + " |", "|---|---:|---:|" + "---:|" * len(FAMILIES)]
    for g in sorted(counts):
        cells = []
        for f in FAMILIES:
            s = by.get(g, {}).get(f)
            cells.append("–" if not s else f"{s['count']}, {pct(s['median_ape'])}")
        lines.append(f"| {g} | {counts[g]} | {predicted[g]} | " + " | ".join(cells) + " |")
    return lines


def report(records: list[dict], label: str) -> str:
    o = overall(records)
    out = [f"## {label}\n", f"{o['predicted']} of {o['cases']} cases predicted ({100 * o['predicted_share']:.1f} %).\n",
           "| metric family | cases | median APE |", "|---|---:|---:|"]
    for f in FAMILIES:
        if f in o:
            out.append(f"| {f} | {o[f]['count']} | {pct(o[f]['median_ape'])} |")
    for key, title in (("group", "By source group (held out as a whole)"), ("hardware", "By hardware"),
                       ("engine", "By engine"), ("scenario", "By scenario")):
        out += table(title, summarise(records, key), records, key)
    skipped: dict[str, int] = {}
    for r in records:
        if r["ape"] is None:
            reason = r["reason"].split(":")[0][:90]
            skipped[reason] = skipped.get(reason, 0) + 1
    if skipped:
        out.append("\n### Not predicted (reason: cases)\n")
        out += [f"- {k}: {v}" for k, v in sorted(skipped.items(), key=lambda kv: -kv[1])]
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="+", required=True, help="case files or directories of *.csv")
    ap.add_argument("--json", help="write every held-out prediction to this file")
    ap.add_argument("--in-sample", action="store_true", help="also print the in-sample tables (labelled)")
    ap.add_argument("--max-nfev", type=int, default=30)
    args = ap.parse_args()
    problem = Problem(read_case_files(args.cases))
    records = leave_one_group_out(problem, max_nfev=args.max_nfev, log=lambda s: print(s, file=sys.stderr))
    text = report(records, "Out of sample: leave one source group out (refit per fold)")
    if args.in_sample:
        x = problem.fit(max_nfev=args.max_nfev)
        text += "\n" + report(held_out_predictions(problem, x, list(range(len(problem.cases)))),
                              "In sample (fitted on every case; optimistic)")
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
