#!/usr/bin/env python3
"""Print the README's accuracy tables (markdown) from `suanli validate` on a case
file and the cross-validation results stored in the calibration file.

    python tools/accuracy_report.py --cases tests/data/cases-public.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from suanli.app.validate import validate  # noqa: E402


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", required=True)
    args = ap.parse_args()
    rep = validate(args.cases)
    s = rep.summary
    print(f"{s['predicted']} of {s['cases']} cases predicted ({pct(s['predicted_share'])}); median APE:\n")
    print("| metric family | cases | median APE | mean APE | target |")
    print("|---|---:|---:|---:|---:|")
    targets = {"throughput": "≤ 25 %", "tpot": "≤ 25 %", "ttft": "≤ 35 %"}
    for fam, d in s["by_family"].items():
        print(f"| {fam} | {d['count']} | {pct(d['median_ape'])} | {pct(d['mean_ape'])} | {targets.get(fam, '')} |")
    print("\n| hardware | cases | median APE |")
    print("|---|---:|---:|")
    for hw, d in s["by_hardware"].items():
        print(f"| {hw} | {d['count']} | {pct(d['median_ape'])} |")
    print("\n| scenario | cases | median APE |")
    print("|---|---:|---:|")
    for sc, d in s["by_scenario"].items():
        print(f"| {sc} | {d['count']} | {pct(d['median_ape'])} |")
    ttft_q = [c for c in rep.cases if c.status == "ok" and c.metric == "ttft_ms" and c.scenario == "server"]
    if ttft_q:
        import statistics
        print(f"\nTTFT on cases with queueing (server scenario, simulated): median APE "
              f"{pct(statistics.median(c.ape for c in ttft_q))} over {len(ttft_q)} cases (target ≤ 30 %).")
    meta = json.loads(resources.files("suanli").joinpath("data/calibration/efficiency.json").read_text())["meta"]
    cv = meta.get("leave_one_group_out")
    if cv:
        print("\nCross-validation (refit without the held-out cases, then predict them):\n")
        print("| held out | throughput | TPOT | TTFT |")
        print("|---|---:|---:|---:|")
        for g, d in cv.items():
            cells = [f"{pct(d[k]['median_ape'])} ({d[k]['count']})" if k in d else "–" for k in ("throughput", "tpot", "ttft")]
            print(f"| source group {g} | " + " | ".join(cells) + " |")
        r5 = meta.get("random_5fold")
        if r5:
            cells = [f"{pct(r5[k]['median_ape'])} ({r5[k]['count']})" if k in r5 else "–" for k in ("throughput", "tpot", "ttft")]
            print("| random 5-fold (pooled) | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
