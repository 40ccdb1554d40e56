#!/usr/bin/env python3
"""Build suanli's measured-kernel package data (src/suanli/data/kernels/) from

* the per-op ``*_perf.parquet`` tables in NVIDIA's ``aiconfigurator-core`` wheel (PyPI,
  Apache-2.0) -- never its ``silicon_*`` end-to-end files, which stay reserved for
  independent evaluation;
* InferSim's H20/H800 kernel measurements (``bench_data``, Apache-2.0).

Reproduce (not run in CI; needs the ``test`` extra for pyarrow + PyYAML):

    pip download aiconfigurator-core==0.12.0 --no-deps --only-binary=:all: \\
        --platform manylinux_2_28_x86_64 --python-version 3.11 -d ~/.cache/suanli-kernels
    python tools/build_kernel_tables.py \\
        --wheel ~/.cache/suanli-kernels/aiconfigurator_core-0.12.0-cp311-abi3-manylinux_2_28_x86_64.whl \\
        --infersim ../shared/kernels/infersim
    python tools/kernel_transfer_report.py --wheel ... --infersim ...   # transfer.json + docs

Each row becomes log2(t_roofline / t_measured) (``suanli.perf.kernel_ops``: the same
roofline the runtime divides by), binned onto a grid over the op's log2 shape features
(median per node), unmeasured nodes filled from their neighbours, and node times made
non-decreasing along every work axis.  Stored as float16 in an .npz with a JSON index.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kernel_data as kd  # noqa: E402
from suanli.perf import kernel_ops as ops  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "suanli" / "data" / "kernels"
BACKEND_PREF = ("vllm", "sglang", "trtllm", "infersim", "nccl")
SAME = (np.log2(1.03), np.log2(1.10))  # |median|, P90 of log2 ratio under which backends merge


def download_wheel(cache: Path, version: str) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", f"aiconfigurator-core=={version}",
                    "--no-deps", "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64",
                    "--python-version", "3.11", "-d", str(cache)], check=True)
    return next(cache.glob(f"aiconfigurator_core-{version}-*.whl"))


def chip_rows() -> dict[str, dict[str, str]]:
    with (OUT / "chips.csv").open(newline="") as fh:
        return {r["kernel_system"]: r for r in csv.DictReader(fh) if r["kernel_system"]}


def collect(wheel_path: Path, infersim: Path, log: Any = print
            ) -> tuple[kd.Wheel, dict[str, dict[str, Any]], list[kd.Group]]:
    wheel = kd.Wheel(wheel_path)
    log(f"wheel {wheel.path.name} version {wheel.version} sha256 {wheel.sha256}")
    systems, groups = kd.wheel_groups(wheel, log=log)
    s2, g2 = kd.infersim_groups(infersim)
    systems.update(s2)
    groups += g2
    chips = chip_rows()
    for name, info in systems.items():
        row = chips.get(name)
        info["sm_count"] = int(row["sm_count"]) if row and row["sm_count"] else None
        info["clock_mhz"] = float(row["boost_clock_mhz"]) if row and row["boost_clock_mhz"] else None
    return wheel, systems, groups


def build_surfaces(systems: dict[str, dict[str, Any]], groups: list[kd.Group], log: Any = print
                   ) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], list[str]]:
    entries: list[dict[str, Any]] = []
    arrays: dict[str, np.ndarray] = {}
    grids: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for g in sorted(groups, key=lambda g: (g.kind, g.system, BACKEND_PREF.index(g.backend), g.variant)):
        phys = kd.physics(systems[g.system], g.system)
        grid = kd.grid_of(g, phys)
        if grid["rows_on_grid"] == 0:
            continue
        grids[g.key] = grid
        same_as = None
        for other_backend in BACKEND_PREF[: BACKEND_PREF.index(g.backend)]:
            other = grids.get((g.kind, g.system, other_backend, g.variant))
            if other is None or other.get("same_as") or len(other["axes"]) != len(grid["axes"]):
                continue
            if not all(a.shape == b.shape and np.allclose(a, b) for a, b in zip(other["axes"], grid["axes"])):
                continue
            both = other["measured"] & grid["measured"]
            if both.sum() < 10:
                continue
            d = np.abs(other["values"][both] - grid["values"][both])
            if abs(np.median(other["values"][both] - grid["values"][both])) < SAME[0] and \
                    np.percentile(d, 90) < SAME[1]:
                same_as = other_backend
                break
        name = f"s{len(entries)}"
        if same_as:
            grid["same_as"] = same_as
            ref = next(e for e in entries if (e["kind"], e["system"], e["backend"], e["variant"])
                       == (g.kind, g.system, same_as, g.variant))
            name = ref["array"]
        else:
            arrays[name] = grid["values"].astype(np.float16)
            arrays[name + "_m"] = np.packbits(grid["measured"].ravel())
        prov = dict(g.provenance)
        prov.update(rows=grid["rows"], rows_on_grid=grid["rows_on_grid"],
                    nodes=int(grid["measured"].size), nodes_measured=int(grid["measured"].sum()))
        if same_as:
            prov["stored_as"] = f"within 3 % (median) of the {same_as} surface: shares its grid"
        entries.append({"kind": g.kind, "system": g.system, "backend": g.backend,
                        "variant": g.variant, "features": list(ops.FEATURES[g.kind]),
                        "axes": [[round(float(x), 6) for x in a] for a in grid["axes"]],
                        "array": name, "t0": grid["t0"], "n_rows": grid["rows"], "provenance": prov})
    summary = backend_summary(entries, grids)
    for line in summary:
        log(line)
    return entries, arrays, summary


def backend_summary(entries: list[dict[str, Any]], grids: dict) -> list[str]:
    """Time ratio between engines' tables of the same system and variant: backend b's
    surface interpolated at backend a's measured nodes (inside b's grid), per op kind and
    variant, pooled over systems."""
    from suanli.perf.kernel_grid import Grid
    ratios: dict[tuple[str, str, str, str], list[float]] = {}
    engines = ("vllm", "sglang", "trtllm")
    for (kind, system, backend, variant), grid in grids.items():
        if backend not in engines:
            continue
        for other_backend in engines[engines.index(backend) + 1:]:
            other = grids.get((kind, system, other_backend, variant))
            if other is None:
                continue
            mesh = np.meshgrid(*grid["axes"], indexing="ij")
            coords = [m[grid["measured"]] for m in mesh]
            g_other = Grid(other["axes"], other["values"])
            inside = g_other.inside(coords)
            if not inside.any():
                continue
            coords = [c[inside] for c in coords]
            # same roofline at the same node: time ratio other/backend = 2^(le_b - le_other)
            le_b = grid["values"][grid["measured"]][inside]
            r = np.exp2(le_b - g_other(coords))
            ratios.setdefault((kind, variant, other_backend, backend), []).extend(r.tolist())
    lines = ["", "per-backend differences: time of one engine's kernel / another's at the same "
             "system, variant and measured node (median, P10, P90):"]
    for (kind, variant, b, a), r in sorted(ratios.items()):
        arr = np.asarray(r)
        if arr.size < 20:
            continue
        lines.append(f"  {kind:13s} {variant:12s} {b:>6s}/{a:<6s} median {np.median(arr):5.2f}  "
                     f"P10 {np.percentile(arr, 10):5.2f}  P90 {np.percentile(arr, 90):5.2f}  (n={arr.size})")
    return lines


def priors(systems: dict[str, dict[str, Any]], entries: list[dict[str, Any]],
           arrays: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Roofline priors for chips without an applicable table: per op kind the median over
    NVIDIA systems of the efficiency at measured nodes whose roofline time is >= 50 us,
    split by the bound (compute or memory), and the median latency floor."""
    out: dict[str, dict[str, Any]] = {}
    for kind in ops.KINDS:
        comp: dict[str, list[float]] = {}
        mem: dict[str, list[float]] = {}
        t0s: list[float] = []
        for e in entries:
            info = systems[e["system"]]
            if e["kind"] != kind or info.get("vendor") != "nvidia":
                continue
            phys = kd.physics(info, e["system"])
            axes = [np.asarray(a) for a in e["axes"]]
            shape = tuple(len(a) for a in axes)
            le = arrays[e["array"]].astype(float).reshape(shape)
            measured = np.unpackbits(arrays[e["array"] + "_m"])[: le.size].astype(bool).reshape(shape)
            mesh = np.meshgrid(*axes, indexing="ij")
            args = ops.node_args(kind, tuple(m.ravel() for m in mesh))
            flops, nbytes = ops.WORK[kind](e["variant"], *args)
            roof = kd.roofline(kind, e["variant"], args, phys)
            tc = flops / phys.peak(ops.compute_key(kind, e["variant"]))
            big = measured.ravel() & (roof >= 50e-6)
            eff = np.exp2(le.ravel())
            comp.setdefault(e["system"], []).extend(eff[big & (tc >= roof * 0.999)].tolist())
            mem.setdefault(e["system"], []).extend(eff[big & (tc < roof * 0.999)].tolist())
            t0s.append(e["t0"])
        med_c = [np.median(v) for v in comp.values() if v]
        med_m = [np.median(v) for v in mem.values() if v]
        all_med = np.log(np.asarray(med_c + med_m)) if (med_c or med_m) else np.zeros(1)
        spread = 1.4826 * float(np.median(np.abs(all_med - np.median(all_med))))
        out[kind] = {
            "compute_eff": round(float(np.median(med_c)), 3) if med_c else None,
            "memory_eff": round(float(np.median(med_m)), 3) if med_m else None,
            "t0": float(np.median(t0s)) if t0s else 5e-6,
            "sigma": round(max(0.5, 2.0 * spread), 3),
            "source": "median over the NVIDIA systems in these tables (roofline time >= 50 us); "
                      "sigma = max(0.5, 2 x robust spread across systems): a chip of another "
                      "vendor is a different population",
        }
        if out[kind]["compute_eff"] is None:
            out[kind]["compute_eff"] = out[kind]["memory_eff"] or 0.5
        if out[kind]["memory_eff"] is None:
            out[kind]["memory_eff"] = out[kind]["compute_eff"]
    return out


def index_dict(wheel: kd.Wheel, infersim: Path, systems: dict[str, dict[str, Any]],
               entries: list[dict[str, Any]], prior: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": {
            "built_by": "tools/build_kernel_tables.py",
            "wheel": {"name": wheel.path.name, "package": "aiconfigurator-core", "version": wheel.version,
                      "sha256": wheel.sha256, "released": kd.WHEEL_RELEASED.get(wheel.version, ""),
                      "license": "Apache-2.0", "tables": "per-op *_perf.parquet only"},
            "infersim": {**kd.INFERSIM, "path": "bench_data (copied unchanged in ../shared/kernels/infersim)"},
            "efficiency": "log2(t_roofline / t_measured); t_roofline = max(FLOPs / peak, bytes / "
                          "mem_bw) (collectives: link bytes / link_bw) with the system's own stated "
                          "peaks (suanli.perf.kernel_ops)",
        },
        "systems": {name: {k: v for k, v in info.items()} for name, info in sorted(systems.items())},
        "surfaces": entries,
        "priors": prior,
    }


def provenance_md(index: dict[str, Any], summary: list[str]) -> str:
    meta = index["meta"]
    w, inf = meta["wheel"], meta["infersim"]
    lines = [
        "# Measured kernel tables: provenance",
        "",
        "Generated by `tools/build_kernel_tables.py` (do not edit by hand; re-run the tool).",
        "",
        "## Sources",
        "",
        f"* **aiconfigurator-core {w['version']}** (NVIDIA, PyPI, released {w['released']}, licence "
        f"{w['license']}), wheel `{w['name']}`, sha256 `{w['sha256']}`. Only the per-op tables "
        "`aiconfigurator_core/systems/data/<system>/<op>/<backend>/<version>/*_perf.parquet` and "
        "the system YAMLs (peaks, bandwidths) are read. The wheel's `silicon_sample.csv` and "
        "`silicon_refs.csv` (end-to-end measurements) are never opened: they are reserved for "
        "independent evaluation. Versions: the engine's `current` version in the wheel's "
        "`query_versions.yaml`; where that version lacks a table, the newest older version "
        "that has it. NCCL: the version named in the system YAML.",
        f"* **InferSim bench_data** ({inf['repo']}@{inf['commit'][:7]}, {inf['date']}, licence "
        f"{inf['license']}): H20 and H800 latencies of DeepGEMM FP8 GEMM and grouped GEMM, "
        "FlashAttention-3 prefill, FlashInfer decode, FlashMLA decode, FA3 MLA prefill "
        "(microseconds). Backend label `infersim`. Its grouped GEMM times are the expert GEMMs "
        "only (up + down projection), without routing/permutation, unlike the wheel's `moe` "
        "tables which time the whole fused MoE op. Its end-to-end results table is not used.",
        "",
        "## What is stored and why",
        "",
        "Raw tables are ~200 MB; the model needs how far each kernel falls short of the "
        "roofline as a function of shape. Each row becomes `log2(t_roofline / t_measured)` "
        "where `t_roofline = max(FLOPs / peak, bytes / mem_bw)` (collectives: link bytes / "
        "one-direction scale-up bandwidth) computed by `suanli.perf.kernel_ops` with the "
        "system's own stated peaks (table below). Rows are binned onto a grid over log2 shape "
        "features (median per node; exact values for GEMM m/n/k, MLA and prompt lengths, "
        "1-octave bins for products such as batch x heads), unmeasured nodes are filled from "
        "their neighbours (`measured` mask kept), and node times are made non-decreasing along "
        "every work axis (a larger op is never faster). Values are float16 in `surfaces.npz`; "
        "`index.json` holds axes, the latency floor `t0` (0.9 x fastest row) and provenance per "
        "surface. Where two backends of one system agree within 3 % (median, P90 within 10 %), "
        "the later backend shares the earlier one's grid (`stored_as`).",
        "",
        "Features (log2): gemm (m, n, k); moe (tokens per expert = tokens*topk/experts, local "
        "experts = experts/ep, expert matrix = hidden*inter/tp); attn_prefill (batch*heads, "
        "prompt length, head dim; GQA pooled); attn_decode (batch*kv_heads, context, heads per "
        "kv head, head dim); mla_prefill (batch, prompt length, heads); mla_decode (batch, "
        "context, heads); allreduce / alltoall (bytes, GPUs).",
        "",
        "Conventions checked on the data: latency columns are milliseconds (wheel `*_perf`; "
        "e.g. H100 BF16 GEMM 32768x65536x12288 takes 60.3 ms = 88 % of 989 TFLOPS), "
        "microseconds in `moe_a2a` and DeepEP tables and in InferSim; NCCL and custom "
        "all-reduce `message_size` counts elements (2 bytes for half/bf16); MoE `num_tokens` "
        "are the tokens entering the whole EP group (time falls as 1/ep at 16k tokens); "
        "generation tables' context = isl + step; MLA `num_heads` are per GPU.",
        "",
        "## Systems",
        "",
        "| system | device | arch | BF16 / FP8 / FP4 TFLOPS | mem GB/s | link GB/s | source |",
        "|---|---|---|---|---:|---:|---|",
    ]
    for name, s in index["systems"].items():
        p = s["peak_flops"]
        peaks = " / ".join(f"{p[k] / 1e12:g}" if k in p else "–" for k in ("bf16", "fp8", "fp4"))
        lines.append(f"| {name} | {s['label']} | {s['arch']} | {peaks} | {s['mem_bw'] / 1e9:g} | "
                     f"{s['link_bw'] / 1e9:g} | {s['source']} |")
    lines += ["", "## Tables", "",
              "| kind | system | backend | variant | library version | kernel sources (rows) | rows | nodes measured | file |",
              "|---|---|---|---|---|---|---:|---:|---|"]
    for e in index["surfaces"]:
        p = e["provenance"]
        ks = ", ".join(f"{k} ({v})" for k, v in p.get("kernel_sources", {}).items())
        files = "<br>".join(p.get("files", []))
        note = f" — {p['stored_as']}" if p.get("stored_as") else ""
        lines.append(f"| {e['kind']} | {e['system']} | {e['backend']} | {e['variant']} | "
                     f"{p.get('version', '')} | {ks} | {p['rows']} | {p['nodes_measured']}/{p['nodes']} | "
                     f"{files}{note} |")
    lines += ["", "## Per-backend differences", "", "```", *[s for s in summary if s], "```", "",
              "## Roofline priors (chips without an applicable table)", "",
              "| kind | compute eff | memory eff | t0 (us) | sigma |", "|---|---:|---:|---:|---:|"]
    for kind, pr in index["priors"].items():
        lines.append(f"| {kind} | {pr['compute_eff']} | {pr['memory_eff']} | {pr['t0'] * 1e6:.1f} | {pr['sigma']} |")
    lines += ["", index["priors"]["gemm"]["source"], ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, help="aiconfigurator-core wheel (else --download)")
    ap.add_argument("--download", type=Path, metavar="CACHE_DIR",
                    help="pip download aiconfigurator-core==VERSION into this directory")
    ap.add_argument("--version", default="0.12.0")
    ap.add_argument("--infersim", type=Path, default=ROOT.parent / "shared" / "kernels" / "infersim")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    wheel_path = args.wheel or (download_wheel(args.download, args.version) if args.download else None)
    if wheel_path is None:
        ap.error("give --wheel or --download")
    wheel, systems, groups = collect(wheel_path, args.infersim)
    entries, arrays, summary = build_surfaces(systems, groups)
    index = index_dict(wheel, args.infersim, systems, entries, priors(systems, entries, arrays))
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "surfaces.npz", **arrays)
    (args.out / "index.json").write_text(json.dumps(index, separators=(",", ":")) + "\n")
    (args.out / "PROVENANCE.md").write_text(provenance_md(index, summary))
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"\n{len(entries)} surfaces ({len(arrays) // 2} stored grids) from {len(systems)} systems; "
          f"{args.out} holds {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
