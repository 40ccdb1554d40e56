#!/usr/bin/env python3
"""How well do measured kernel tables transfer to a chip without tables?

Leave one system out of the kernel tables, predict every measured row of that system
(its own op times, raw, not the stored grid) from the remaining systems through the
transfer rules of ``suanli.perf.kernels``, and report the absolute percentage error
|t_pred / t_meas - 1| per op kind and per (target <- source) pair.  Also reports the
in-sample error of the stored surfaces: rows of a measured system predicted from its own
table, and held-out grid nodes (every other node of the longest axis left out of the build
and interpolated).  Writes ``docs/kernel-transfer.md`` and ``src/suanli/data/kernels/
transfer.json`` (the chosen rule per op kind and the sigmas ``KernelModel.rel_sigma`` uses).

    python tools/kernel_transfer_report.py \\
        --wheel ~/.cache/suanli-kernels/aiconfigurator_core-0.12.0-cp311-abi3-manylinux_2_28_x86_64.whl \\
        --infersim ../shared/kernels/infersim
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_kernel_tables as bkt  # noqa: E402
import kernel_data as kd  # noqa: E402
from suanli.perf import kernel_ops as ops  # noqa: E402
from suanli.perf.kernels import plan_for  # noqa: E402
from suanli.specs.kernels import KernelTables, tables_from_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RULES = ("A", "B", "C")
PAIRS = [  # (target, sources) -- explicit pairs asked for in issue 9
    ("h200_sxm", ("h100_sxm",)), ("h100_sxm", ("h200_sxm",)), ("b200_sxm", ("gb200",)),
    ("gb200", ("b200_sxm",)), ("b300_sxm", ("b200_sxm",)), ("gb300", ("gb200",)),
    ("h20", ("h100_sxm",)), ("h20", ("h800",)), ("h20", ("h100_sxm", "h800")),
    ("h800", ("h100_sxm",)), ("a100_sxm", ()), ("l40s", ()), ("rtx_pro_6000_server", ()),
]
ENGINE = {"vllm": "vllm", "sglang": "sglang", "trtllm": "trtllm", "infersim": "infersim", "nccl": "vllm"}


def only(tables: KernelTables, keep: set[str]) -> KernelTables:
    from dataclasses import replace
    from types import MappingProxyType
    return replace(tables, surfaces=MappingProxyType(
        {k: v for k, v in tables.surfaces.items() if k[1] in keep}))


def predict(tables: KernelTables, target: str, systems: dict[str, Any], group: kd.Group,
            rule: str) -> tuple[np.ndarray | None, str]:
    chip = kd.physics(systems[target], target)
    plan = plan_for(tables, chip, ENGINE[group.backend], group.kind, (group.variant,), rule=rule)
    if plan.rule in ("prior",) or plan.surface is None:
        return None, plan.basis
    return plan.time(group.arg_tuple()), f"{plan.basis}/{plan.surface.backend}"


def arch_class(systems: dict[str, Any], target: str, basis: str) -> str:
    """'same_arch' when the source system has the target's architecture, else 'cross_arch'."""
    source = basis.split(":", 1)[-1].split("/")[0]
    same = systems.get(source, {}).get("arch") == systems[target].get("arch")
    return "same_arch" if same else "cross_arch"


def log_err(pred: np.ndarray, meas: np.ndarray) -> np.ndarray:
    return np.log(pred / meas)


def ape(le: np.ndarray) -> np.ndarray:
    return np.abs(np.exp(le) - 1.0)


def stats(le: list[np.ndarray]) -> dict[str, Any]:
    if not le:
        return {"n": 0}
    arr = np.concatenate(le)
    a = ape(arr)
    return {"n": int(arr.size), "median_ape": float(np.median(a)), "p90_ape": float(np.percentile(a, 90)),
            "bias": float(np.exp(np.median(arr)) - 1.0),
            "sigma": float(1.4826 * np.median(np.abs(arr)))}


def same_definition(tables: KernelTables, group: kd.Group) -> KernelTables:
    """InferSim's MoE rows time the expert GEMMs only; the wheel's time the whole fused MoE
    op (routing, permutation, activation): never predict one from the other."""
    if group.kind != "moe":
        return tables
    from dataclasses import replace
    from types import MappingProxyType
    gemm_only = group.backend == "infersim"
    return replace(tables, surfaces=MappingProxyType(
        {k: v for k, v in tables.surfaces.items() if k[0] != "moe" or (k[2] == "infersim") == gemm_only}))


def evaluate(tables: KernelTables, systems: dict[str, Any], groups: list[kd.Group], target: str,
             sources: tuple[str, ...], rule: str, *, cross_definition: bool = False
             ) -> tuple[dict[str, list[np.ndarray]], dict[str, set[str]]]:
    src_tables = only(tables, set(sources)) if sources else tables.without(target)
    errs: dict[str, list[np.ndarray]] = defaultdict(list)
    used: dict[str, set[str]] = defaultdict(set)
    for g in groups:
        if g.system != target:
            continue
        pool = src_tables if cross_definition else same_definition(src_tables, g)
        pred, basis = predict(pool, target, systems, g, rule)
        if pred is None:
            continue
        ok = np.isfinite(pred) & (pred > 0)
        le = log_err(pred[ok], g.t[ok])
        errs[g.kind].append(le)
        errs[f"{g.kind}@{arch_class(systems, target, basis)}"].append(le)
        used[g.kind].add(basis)
    return errs, used


def in_sample(tables: KernelTables, systems: dict[str, Any], groups: list[kd.Group]
              ) -> dict[str, list[np.ndarray]]:
    errs: dict[str, list[np.ndarray]] = defaultdict(list)
    for g in groups:
        pred, _ = predict(tables, g.system, systems, g, "A")
        if pred is not None and "measured" in _:
            errs[g.kind].append(log_err(pred, g.t))
    return errs


def held_out(systems: dict[str, Any], groups: list[kd.Group]) -> dict[str, list[np.ndarray]]:
    """Leave every other node of a group's longest axis out of its grid; predict those rows."""
    from suanli.perf.kernel_grid import Grid
    errs: dict[str, list[np.ndarray]] = defaultdict(list)
    for g in groups:
        if g.system == "b60":
            continue
        phys = kd.physics(systems[g.system], g.system)
        full = kd.grid_of(g, phys)
        axis = int(np.argmax([len(a) for a in full["axes"]]))
        nodes = full["axes"][axis]
        if len(nodes) < 5:
            continue
        coord = ops.FEATURE_FN[g.kind](*g.arg_tuple())[axis]
        pos = np.argmin(np.abs(coord[:, None] - nodes[None, :]), axis=1)
        drop = (pos % 2 == 1) & (pos < len(nodes) - 1)
        if drop.sum() < 5 or (~drop).sum() < 5:
            continue
        train = kd.Group(g.kind, g.system, g.backend, g.variant,
                         {k: v[~drop] for k, v in g.args.items()}, g.t[~drop], g.provenance)
        try:
            part = kd.grid_of(train, phys)
        except ValueError:
            continue
        grid = Grid(part["axes"], part["values"])
        args = tuple(a[drop] for a in g.arg_tuple())
        le = grid(ops.FEATURE_FN[g.kind](*args))
        pred = kd.roofline(g.kind, g.variant, args, phys) * np.exp2(-le)
        errs[g.kind].append(log_err(pred, g.t[drop]))
    return errs


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, required=True)
    ap.add_argument("--infersim", type=Path, default=ROOT.parent / "shared" / "kernels" / "infersim")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "kernel-transfer.md")
    ap.add_argument("--json", type=Path, default=bkt.OUT / "transfer.json")
    ap.add_argument("--skip-held-out", action="store_true")
    args = ap.parse_args()
    wheel, systems, groups = bkt.collect(args.wheel, args.infersim, log=lambda *_: None)
    entries, arrays, _ = bkt.build_surfaces(systems, groups, log=lambda *_: None)
    index = bkt.index_dict(wheel, args.infersim, systems, entries, bkt.priors(systems, entries, arrays))
    tables = tables_from_data(index, arrays)
    nvidia = sorted(s for s, i in systems.items() if i.get("vendor") == "nvidia")

    # leave one system out, nearest source, each rule
    loo: dict[str, dict[str, dict[str, Any]]] = {}
    pooled: dict[str, dict[str, list[np.ndarray]]] = {r: defaultdict(list) for r in RULES}
    per_target: dict[str, dict[str, dict[str, Any]]] = {r: {} for r in RULES}
    bases: dict[str, dict[str, set[str]]] = {}
    for rule in RULES:
        for target in nvidia:
            errs, used = evaluate(tables, systems, groups, target, (), rule)
            per_target[rule][target] = {k: stats(v) for k, v in errs.items()}
            if rule == "C":
                bases[target] = {k: {b.split("/")[0] for b in v} for k, v in used.items()}
            for k, v in errs.items():
                pooled[rule][k] += v
        loo[rule] = {k: stats(v) for k, v in pooled[rule].items()}
    chosen = {k: min(RULES, key=lambda r: (loo[r].get(k, {}).get("median_ape", 9.0), r)) for k in ops.KINDS}

    pair_rows = []
    for target, sources in PAIRS:
        if target not in systems:
            continue
        for rule in RULES:
            errs, used = evaluate(tables, systems, groups, target, sources, rule)
            pair_rows.append((target, sources, rule, {k: stats(v) for k, v in errs.items()},
                              {k: sorted(v) for k, v in used.items()}))

    cross = {}
    for target, sources in (("h20", ("h100_sxm",)), ("h800", ("h100_sxm",))):
        errs, _ = evaluate(tables, systems, groups, target, sources, chosen["moe"], cross_definition=True)
        cross[f"{target} <- {sources[0]}"] = stats(errs.get("moe", []))
    ins = {k: stats(v) for k, v in in_sample(tables, systems, groups).items()}
    held = {} if args.skip_held_out else {k: stats(v) for k, v in held_out(systems, groups).items()}

    # transferred chips: sigma of the chosen rule, separately for a source of the chip's own
    # architecture and for one of another architecture (cross-generation transfers err more)
    sigma: dict[str, dict[str, float]] = {}
    for k in ops.KINDS:
        res = loo[chosen[k]]
        if k not in res:
            continue
        overall = res[k]["sigma"]
        sigma[k] = {cls: round(max(res.get(f"{k}@{cls}", {}).get("sigma", overall), 0.05), 3)
                    for cls in ("same_arch", "cross_arch")}
        sigma[k]["all"] = round(max(overall, 0.05), 3)
    # measured chips: own rows from own table (binning, monotone envelope, float16); the
    # held-out column interpolates across twice the node spacing and is reported, not used
    in_sigma = {k: round(max(ins[k]["sigma"], 0.03), 3) for k in ops.KINDS if ins.get(k, {}).get("n")}
    result = {"rule": chosen, "sigma": sigma, "in_sample_sigma": in_sigma,
              "loo": {r: loo[r] for r in RULES}, "in_sample": ins, "held_out": held,
              "moe_cross_definition": cross,
              "meta": {"wheel": wheel.version, "wheel_sha256": wheel.sha256,
                       "definition": "APE = |t_pred / t_meas - 1| over every measured row of the "
                                     "left-out system; sigma = 1.4826 x median |ln(t_pred/t_meas)|"}}
    args.json.write_text(json.dumps(result, indent=1) + "\n")

    # --- markdown --------------------------------------------------------------------------
    out = ["# Kernel transfer: leave-one-system-out error", "",
           "Op times in `suanli.perf.kernels` come from measured kernel tables "
           "(`src/suanli/data/kernels`, built by `tools/build_kernel_tables.py` from the per-op "
           "tables in NVIDIA's aiconfigurator-core wheel and InferSim's H20/H800 benchmarks; see "
           "PROVENANCE.md there). A chip with its own table is *measured* (basis "
           "`measured-kernels:<system>/<backend>`); a chip without one is *transferred* from the "
           "nearest measured system of the same vendor (basis `transferred:<system>`); other "
           "vendors get a stated roofline prior (basis `roofline-prior`). This page measures how "
           "good the transfer is.", "",
           "Generated by `tools/kernel_transfer_report.py` (reproduce with the command below). "
           "Every measured row of a left-out system (raw rows of the wheel's per-op tables or "
           "InferSim's CSVs, not the stored grid) is predicted from the *other* systems' tables "
           "through `suanli.perf.kernels` with the left-out system's own stated peaks and "
           "bandwidths; error = |t_pred / t_meas - 1|.", "",
           "```",
           "python tools/kernel_transfer_report.py --wheel <aiconfigurator_core-0.12.0-...whl> "
           "--infersim ../shared/kernels/infersim",
           "```", "",
           "Rules: **A** = same efficiency at the same shape (t = t_roof(target) / eff_src); "
           "**B** = above the source's latency floor t0, the part of the source time its "
           "roofline explains scales with the target's roofline (tensor time with the peak "
           "ratio, memory time with the bandwidth ratio) and the excess beyond it with the "
           "SM-throughput ratio (SM count x clock) and the bandwidth ratio in proportion to the "
           "shape's compute and memory terms; "
           "**C** = the source's latency floor t0 stays, the rest scales with the roofline "
           "(t = t0 + (t_src - t0) x t_roof(target) / t_roof(src)). The source is the nearest "
           "measured system (same architecture first, then ridge point and bandwidth; "
           "collectives: link bandwidth). Target: median error per op kind <= 15 %.", "",
           "## Leave one system out (nearest source), pooled over systems", "",
           "| op kind | " + " | ".join(f"rule {r} median / P90" for r in RULES)
           + " | chosen | same-arch source | cross-arch source | rows |",
           "|---|" + "---:|" * len(RULES) + "---|---:|---:|---:|"]
    for k in ops.KINDS:
        cells = [loo[r].get(k, {}) for r in RULES]
        if not cells[0].get("n"):
            continue
        same = loo[chosen[k]].get(f"{k}@same_arch", {})
        cross_a = loo[chosen[k]].get(f"{k}@cross_arch", {})
        out.append(f"| {k} | " + " | ".join(f"{pct(c.get('median_ape'))} / {pct(c.get('p90_ape'))}"
                                             for c in cells) + f" | {chosen[k]} | "
                   f"{pct(same.get('median_ape'))} / {pct(same.get('p90_ape'))} | "
                   f"{pct(cross_a.get('median_ape'))} / {pct(cross_a.get('p90_ape'))} | {cells[0]['n']} |")
    out += ["", "## Per left-out system (chosen rule per kind: median / P90)", "",
            "| target | " + " | ".join(ops.KINDS) + " |", "|---|" + "---|" * len(ops.KINDS)]
    for target in nvidia:
        cells = []
        for k in ops.KINDS:
            s = per_target[chosen[k]][target].get(k)
            cells.append(f"{pct(s['median_ape'])} / {pct(s['p90_ape'])}" if s and s.get("n") else "–")
        out.append(f"| {target} | " + " | ".join(cells) + " |")
    out += ["", "Sources used: " + "; ".join(
        f"{t}: " + ", ".join(f"{k}←{'/'.join(sorted(v))}" for k, v in sorted(bases[t].items()))
        for t in nvidia if t in bases), "",
        "## Named pairs (median / P90 per op kind)", "",
        "| target ← source | rule | " + " | ".join(ops.KINDS) + " |",
        "|---|---|" + "---|" * len(ops.KINDS)]
    for target, sources, rule, st, _used in pair_rows:
        src = "+".join(sources) if sources else "nearest"
        cells = [f"{pct(st[k]['median_ape'])} / {pct(st[k]['p90_ape'])}" if k in st and st[k].get("n") else "–"
                 for k in ops.KINDS]
        out.append(f"| {target} ← {src} | {rule} | " + " | ".join(cells) + " |")
    out += ["", "MoE: InferSim's H20/H800 rows time the DeepGEMM expert GEMMs only, the wheel's "
            "rows the whole fused MoE op (routing, permutation, activation, GEMMs); the tables "
            "above never predict one from the other. Across the two definitions (chosen rule): "
            + "; ".join(f"{k}: median {pct(v.get('median_ape'))}, P90 {pct(v.get('p90_ape'))}, "
                        f"bias {pct(v.get('bias'))}" for k, v in cross.items() if v.get("n"))
            + " -- the fused op is that much slower than its GEMMs.", ""]
    out += ["", "## In-sample (measured systems, not a transfer)", "",
            "| op kind | own rows from own table: median / P90 | held-out grid nodes: median / P90 |",
            "|---|---|---|"]
    for k in ops.KINDS:
        i, h = ins.get(k, {}), held.get(k, {})
        out.append(f"| {k} | {pct(i.get('median_ape'))} / {pct(i.get('p90_ape'))} | "
                   f"{pct(h.get('median_ape'))} / {pct(h.get('p90_ape'))} |")
    out += ["", "## What limits the transfer (read before trusting a number)", "",
            "* **Targets.** Pooled over all left-out systems the median error is within 15 % "
            "for every op kind except `attn_prefill` (see the first table; it is within 15 % "
            "from a same-architecture source). From a source of the same architecture the "
            "errors are 2-14 %; across architectures (A100 from Hopper, L40S from the RTX PRO "
            "6000 and back) they are 25-35 % median: the kernels differ (FlashAttention-2 vs "
            "-3, Ampere has no FP8), which no peak/bandwidth/SM ratio captures. "
            "`rel_sigma` says so: it is the same- or cross-architecture sigma.",
            "* **Blackwell Ultra attention.** B300/GB300 double the SFU (exp) throughput "
            "(NVIDIA technical blog, 'Making softmax more efficient with NVIDIA Blackwell "
            "Ultra'); transferred from B200/GB200, attention prefill is predicted ~10-15 % "
            "slow. The physics here knows tensor peak, bandwidth and SM count x clock only.",
            "* **Benchmarks repeat one kernel.** Small weights or KV caches stay in L2 across "
            "iterations, so small shapes run faster than any bandwidth-based transfer predicts "
            "(L40S decode from the RTX PRO 6000 is predicted 25-40 % slow). Rows faster than "
            "2x the roofline are dropped when the tables are built.",
            "* **Definitions differ between sources.** InferSim's MoE rows are the expert GEMMs "
            "only (see above); SGLang's MLA prefill table on H100 is ~3.5x slower than "
            "TensorRT-LLM's and than InferSim's FA3 on H800 (H800 <- H100 mla_prefill: 240 %), "
            "which is a property of that table, not of the transfer; vLLM's FP8 block-scaled "
            "GEMM table on H100 has a 60-90 us floor for shapes SGLang's DeepGEMM runs in "
            "10-15 us (the engine's wrapper, measured as such).",
            "* **Collectives** transfer by link bandwidth within one architecture family; NVLink "
            "to PCIe (or back) is cross-architecture and errs by 25-35 % median.",
            ""]
    out += ["", "`rel_sigma` of a KernelModel: in-sample sigma of the first column (floor 3 %; "
            "the held-out column leaves every other node out, i.e. interpolates across twice "
            "the stored spacing, and is an upper bound) for measured chips, the chosen rule's leave-one-out sigma for "
            "transferred chips, the prior's sigma (index.json `priors`) otherwise; sigma = "
            "1.4826 x median |ln(t_pred / t_meas)|.", ""]
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text("\n".join(out))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
