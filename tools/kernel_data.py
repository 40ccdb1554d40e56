"""Reading measured kernel tables into rows and reducing rows to efficiency surfaces.

Shared by ``build_kernel_tables.py`` (writes the package data) and
``kernel_transfer_report.py`` (leave-one-system-out evaluation).  Offline only: needs
pyarrow and PyYAML (the ``test`` extra), never imported by the package.

Sources
* the per-op ``*_perf.parquet`` tables inside the ``aiconfigurator-core`` wheel (Apache-2.0).
  The wheel's ``silicon_sample.csv`` / ``silicon_refs.csv`` (end-to-end measurements kept for
  independent evaluation) are filtered out of the listing and never opened.
* InferSim ``bench_data`` (alibaba/InferSim, Apache-2.0): H20 and H800 kernel latencies.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from suanli.perf import kernel_ops as ops  # noqa: E402
from suanli.specs.accelerator import load_hardware  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_surfaces import (  # noqa: E402,F401  (re-exported for the two tools)
    AXES, MAX_EFF, MONOTONE_SKIP, Group, grid_of, monotone, physics, quantise, roofline,
)

RESERVED = ("silicon_sample", "silicon_refs")   # never opened
PREFIX = "aiconfigurator_core/systems/"
WHEEL_RELEASED = {"0.12.0": "2026-09-18"}        # PyPI upload time of the 0.12.0 wheels
INFERSIM = {"repo": "alibaba/InferSim", "commit": "f2293dab6d23fe2780356eb71e0ffc3b4baf61dd",
            "date": "2026-05-08", "license": "Apache-2.0"}
ARCH_BY_SM = {80: "ampere", 86: "ampere", 89: "ada", 90: "hopper", 100: "blackwell",
              103: "blackwell", 120: "blackwell-gddr"}
PEAK_KEYS = {"bfloat16_tc_flops": "bf16", "fp8_tc_flops": "fp8", "fp4_tc_flops": "fp4",
             "int8_tc_flops": "int8"}

GEMM_DTYPE = {"bfloat16": "bf16", "fp8": "fp8", "fp8_block": "fp8_block", "nvfp4": "nvfp4",
              "sq": "int8", "int8_wo": "int8_wo", "int4_wo": "int4_wo"}
MOE_DTYPE = {"bfloat16": "bf16", "fp8": "fp8", "fp8_block": "fp8_block", "nvfp4": "nvfp4",
             "w4a8_mxfp4_mxfp8": "w4a8_mxfp4", "w4a16_mxfp4": "w4a16_mxfp4", "int4_wo": "int4_wo"}
KV_DTYPE = {"bfloat16": "bf16", "bf16": "bf16", "fp8": "fp8"}
A2A_BYTES = {"bfloat16": 2.0, "fp8": 1.0 + 4 / 128, "nvfp4": 4.5 / 8}
# DeepEP normal-mode payload per (token, expert) element: FP8 dispatch (+1 FP32 scale per
# 128 values), BF16 combine (DeepEP README; SGLang DeepEP normal mode with FP8 weights).
DEEPEP_BYTES = {"dispatch": 1.0 + 4 / 128, "combine": 2.0}

@dataclass
class Piece:
    kind: str
    variant: str
    args: dict[str, np.ndarray]
    t: np.ndarray
    kernel: np.ndarray            # kernel source per row
    file: str
    version: str


# --- the wheel ---------------------------------------------------------------------------

def _version_key(v: str) -> tuple:
    parts = re.findall(r"\d+|[a-z]+", v.lower())
    key: list[Any] = []
    for p in parts:
        if p.isdigit():
            key.append((1, int(p)))
        else:  # pre-release tags sort before the release
            key.append((0, {"rc": 2, "post": 4, "dev": 0}.get(p, 1)))
    return tuple(key)


class Wheel:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()
        self.zip = zipfile.ZipFile(self.path)
        names = [n for n in self.zip.namelist() if not any(r in n for r in RESERVED)]
        meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
        text = self.zip.read(meta).decode()
        self.version = re.search(r"^Version:\s*(\S+)", text, re.M).group(1)  # type: ignore[union-attr]
        self.names = [n for n in names if n.startswith(PREFIX)]
        import yaml
        self._yaml = yaml

    def read(self, rel: str) -> bytes:
        if any(r in rel for r in RESERVED):
            raise RuntimeError(f"refusing to read reserved evaluation file {rel}")
        return self.zip.read(PREFIX + rel)

    def yaml(self, rel: str) -> Any:
        return self._yaml.safe_load(self.read(rel))

    def table(self, rel: str) -> dict[str, np.ndarray]:
        import pyarrow.parquet as pq
        tab = pq.read_table(io.BytesIO(self.read(rel)))
        out = {}
        for name in tab.column_names:
            col = tab.column(name).to_pylist()
            arr = np.asarray(col)
            out[name] = arr.astype(float) if arr.dtype.kind in "iuf" else arr.astype(str)
        return out

    def systems(self) -> list[str]:
        found = set()
        for n in self.names:
            m = re.match(re.escape(PREFIX) + r"data/([^/]+)/[^/]+/[^/]+/[^/]+/[^/]+_perf\.parquet$", n)
            if m:
                found.add(m.group(1))
        return sorted(found)

    def versions(self, system: str, family: str, backend: str, filename: str) -> list[str]:
        pat = re.compile(re.escape(f"{PREFIX}data/{system}/{family}/{backend}/") + r"([^/]+)/"
                         + re.escape(filename) + "$")
        return sorted({m.group(1) for n in self.names if (m := pat.match(n))}, key=_version_key)

    def backends(self, system: str, family: str) -> list[str]:
        pat = re.compile(re.escape(f"{PREFIX}data/{system}/{family}/") + r"([^/]+)/")
        return sorted({m.group(1) for n in self.names if (m := pat.match(n))})


def choose_version(available: list[str], current: str | None) -> str | None:
    """The engine's current version (query_versions.yaml); when that version lacks the table,
    the newest older version that has it; else the newest there is."""
    if not available:
        return None
    if current in available:
        return current
    if current:
        older = [v for v in available if _version_key(v) <= _version_key(current)]
        if older:
            return older[-1]
    return available[-1]


def wheel_system(wheel: Wheel, system: str) -> dict[str, Any]:
    conf = wheel.yaml(f"{system}.yaml")
    gpu, node = conf.get("gpu", {}), conf.get("node", {})
    peaks = {key: float(gpu[name]) for name, key in PEAK_KEYS.items() if gpu.get(name)}
    sm = int(gpu.get("sm_version", 0) or 0)
    return {"label": system, "arch": ARCH_BY_SM.get(sm, "xe2" if system == "b60" else ""),
            "vendor": "intel" if system == "b60" else "nvidia", "peak_flops": peaks,
            "mem_bw": float(gpu["mem_bw"]), "link_bw": float(node.get("intra_node_bw", 0.0)),
            "source": f"aiconfigurator-core {wheel.version}: aiconfigurator_core/systems/{system}.yaml"}


# --- rows of each wheel table -------------------------------------------------------------

def _ms(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=float) * 1e-3


def _piece(kind: str, variant: str, cols: dict[str, np.ndarray], mask: np.ndarray,
           args: dict[str, Any], t: np.ndarray, file: str, version: str) -> Piece:
    n = int(mask.sum())
    full = {k: np.broadcast_to(np.asarray(v, dtype=float), mask.shape)[mask].copy()
            if np.ndim(v) else np.full(n, float(v)) for k, v in args.items()}
    kernel = cols.get("kernel_source", np.full(mask.shape, "")).astype(str)[mask]
    return Piece(kind, variant, full, t[mask], kernel, file, version)


def gemm_pieces(c: dict[str, np.ndarray], file: str, version: str) -> Iterator[Piece]:
    for raw, variant in GEMM_DTYPE.items():
        mask = c["gemm_dtype"] == raw
        if mask.any():
            yield _piece("gemm", variant, c, mask, {"m": c["m"], "n": c["n"], "k": c["k"]},
                         _ms(c["latency"]), file, version)


def _window0(c: dict[str, np.ndarray]) -> np.ndarray:
    mask = np.ones(len(c["latency"]), dtype=bool)
    if "window_size" in c:
        mask &= c["window_size"] == 0
    if "attn_dtype" in c:
        mask &= c["attn_dtype"] == "bfloat16"
    if "beam_width" in c:
        mask &= c["beam_width"] == 1
    return mask


def context_attention_pieces(c: dict[str, np.ndarray], file: str, version: str) -> Iterator[Piece]:
    base = _window0(c) & (c["step"] == 0)
    for raw, variant in (("bfloat16", "bf16"), ("fp8", "fp8")):
        mask = base & (c["kv_cache_dtype"] == raw)
        if mask.any():
            yield _piece("attn_prefill", variant, c, mask,
                         {"batch": c["batch_size"], "isl": c["isl"], "num_heads": c["num_heads"],
                          "num_kv_heads": c["num_key_value_heads"], "head_dim": c["head_dim"],
                          "prefix": 0.0}, _ms(c["latency"]), file, version)


def generation_attention_pieces(c: dict[str, np.ndarray], file: str, version: str) -> Iterator[Piece]:
    base = _window0(c)
    for raw, variant in (("bfloat16", "bf16"), ("fp8", "fp8")):
        mask = base & (c["kv_cache_dtype"] == raw)
        if mask.any():
            yield _piece("attn_decode", variant, c, mask,
                         {"batch": c["batch_size"], "ctx": c["isl"] + c["step"],
                          "num_heads": c["num_heads"], "num_kv_heads": c["num_key_value_heads"],
                          "head_dim": c["head_dim"]}, _ms(c["latency"]), file, version)


def mla_pieces(c: dict[str, np.ndarray], file: str, version: str, *, context: bool) -> Iterator[Piece]:
    base = c["mla_dtype"] == "bfloat16"
    for raw, variant in (("bfloat16", "bf16"), ("fp8", "fp8")):
        mask = base & (c["kv_cache_dtype"] == raw)
        if not mask.any():
            continue
        if context:
            mask &= c["step"] == 0
            args = {"batch": c["batch_size"], "isl": c["isl"], "num_heads": c["num_heads"],
                    "prefix": 0.0}
            yield _piece("mla_prefill", variant, c, mask, args, _ms(c["latency"]), file, version)
        else:
            args = {"batch": c["batch_size"], "ctx": c["isl"] + c["step"], "num_heads": c["num_heads"]}
            yield _piece("mla_decode", variant, c, mask, args, _ms(c["latency"]), file, version)


def moe_pieces(c: dict[str, np.ndarray], file: str, version: str) -> Iterator[Piece]:
    base = c["distribution"] == "balanced"
    for raw, variant in MOE_DTYPE.items():
        mask = base & (c["moe_dtype"] == raw)
        if mask.any():
            yield _piece("moe", variant, c, mask,
                         {"tokens": c["num_tokens"], "hidden": c["hidden_size"],
                          "inter": c["inter_size"], "topk": c["topk"],
                          "num_experts": c["num_experts"], "moe_tp": c["moe_tp_size"],
                          "moe_ep": c["moe_ep_size"]}, _ms(c["latency"]), file, version)


def nccl_pieces(c: dict[str, np.ndarray], file: str, version: str) -> Iterator[Piece]:
    # message_size counts elements (bytes / element size; aiconfigurator collector/collect_nccl.py)
    elem = np.where(c["nccl_dtype"] == "half", 2.0, 1.0)
    for op, kind in (("all_reduce", "allreduce"), ("alltoall", "alltoall")):
        mask = (c["op_name"] == op) & (c["nccl_dtype"] == "half")
        if mask.any():
            yield _piece(kind, "nccl", c, mask, {"nbytes": c["message_size"] * elem,
                                                 "n": c["num_gpus"]}, _ms(c["latency"]), file, version)


def custom_allreduce_pieces(c: dict[str, np.ndarray], file: str, version: str) -> Iterator[Piece]:
    mask = c["allreduce_dtype"] == "bfloat16"
    ks = c["kernel_source"]
    graph = np.char.find(np.char.lower(ks.astype(str)), "eager") < 0   # CUDA-graph mode rows
    mask &= graph
    if mask.any():  # message_size counts BF16 elements (collector/collect_all_reduce.py)
        yield _piece("allreduce", "graph", c, mask, {"nbytes": c["message_size"] * 2.0,
                                                     "n": c["num_gpus"]}, _ms(c["latency"]), file, version)


def moe_a2a_pieces(c: dict[str, np.ndarray], file: str, version: str) -> Iterator[Piece]:
    modes = {"trtllm_deepep_ll": "low_latency", "trtllm_deepep_ht": "normal"}
    for backend, mode in modes.items():
        for dtype, elem in A2A_BYTES.items():
            mask = (c["comm_backend"] == backend) & (c["comm_dtype"] == dtype) & (c["node_num"] == 1)
            if mask.any():
                nbytes = c["num_tokens"] * c["topk"] * c["hidden_size"] * elem
                yield _piece("alltoall", mode, c, mask, {"nbytes": nbytes, "n": c["ep_size"]},
                             np.asarray(c["latency"], dtype=float) * 1e-6, file, version)


def deepep_ll_pieces(c: dict[str, np.ndarray], file: str, version: str) -> Iterator[Piece]:
    mask = c["node_num"] == 1
    for phase in ("dispatch", "combine"):
        t = np.asarray(c[f"{phase}_avg_t_us"], dtype=float) * 1e-6
        nbytes = np.asarray(c[f"{phase}_bandwidth_gbps"], dtype=float) * 1e9 * t  # DeepEP's own bytes
        yield _piece("alltoall", "low_latency", c, mask, {"nbytes": nbytes, "n": 8.0 * c["node_num"]},
                     t, file, version)


def deepep_normal_pieces(c: dict[str, np.ndarray], file: str, version: str) -> Iterator[Piece]:
    mask = c["node_num"] == 1
    for phase in ("dispatch", "combine"):
        t = np.asarray(c[f"{phase}_transmit_us"], dtype=float) * 1e-6
        nbytes = c["num_token"] * c["num_topk"] * c["hidden_size"] * DEEPEP_BYTES[phase]
        yield _piece("alltoall", "normal", c, mask, {"nbytes": nbytes, "n": 8.0 * c["node_num"]},
                     t, file, version)


WHEEL_TABLES = (
    ("gemm", "gemm_perf.parquet", gemm_pieces),
    ("attention", "context_attention_perf.parquet", context_attention_pieces),
    ("attention", "generation_attention_perf.parquet", generation_attention_pieces),
    ("mla", "context_mla_perf.parquet", lambda c, f, v: mla_pieces(c, f, v, context=True)),
    ("mla", "generation_mla_perf.parquet", lambda c, f, v: mla_pieces(c, f, v, context=False)),
    ("moe", "moe_perf.parquet", moe_pieces),
    ("comm", "custom_allreduce_perf.parquet", custom_allreduce_pieces),
    ("comm", "moe_a2a_perf.parquet", moe_a2a_pieces),
    ("comm", "wideep_deepep_ll_perf.parquet", deepep_ll_pieces),
    ("comm", "wideep_deepep_normal_perf.parquet", deepep_normal_pieces),
)
ENGINE_DIRS = ("vllm", "sglang", "trtllm")


def wheel_groups(wheel: Wheel, systems: Iterable[str] | None = None,
                 log: Any = print) -> tuple[dict[str, dict[str, Any]], list[Group]]:
    """Systems (physics) and row groups of every per-op table in the wheel."""
    qv = wheel.yaml("query_versions.yaml")
    sysinfo: dict[str, dict[str, Any]] = {}
    groups: list[Group] = []
    for system in systems or wheel.systems():
        try:
            info = wheel_system(wheel, system)
        except KeyError:
            continue
        sysinfo[system] = info
        conf = wheel.yaml(f"{system}.yaml")
        device = ""
        pieces: dict[str, list[Piece]] = {}
        for family, filename, reader in WHEEL_TABLES:
            for backend in ENGINE_DIRS:
                avail = wheel.versions(system, family, backend, filename)
                current = qv.get("overrides", {}).get(system, {}).get(backend, {}).get("current") \
                    or qv["defaults"].get(backend, {}).get("current")
                version = choose_version(avail, current)
                if version is None:
                    continue
                rel = f"data/{system}/{family}/{backend}/{version}/{filename}"
                cols = wheel.table(rel)
                device = device or str(cols.get("device", [""])[0])
                for piece in reader(cols, PREFIX + rel, version):
                    pieces.setdefault(backend, []).append(piece)
        nccl_versions = wheel.versions(system, "comm", "nccl", "nccl_perf.parquet")
        want = str(conf.get("misc", {}).get("nccl_version", ""))
        nccl = want if want in nccl_versions else (nccl_versions[-1] if nccl_versions else None)
        if nccl:
            rel = f"data/{system}/comm/nccl/{nccl}/nccl_perf.parquet"
            for piece in nccl_pieces(wheel.table(rel), PREFIX + rel, nccl):
                pieces.setdefault("nccl", []).append(piece)
        info["label"] = device or system
        for backend, plist in pieces.items():
            groups += merge_pieces(system, backend, plist, source=f"aiconfigurator-core {wheel.version} wheel",
                                   extra={"license": "Apache-2.0", "device": device,
                                          "released": WHEEL_RELEASED.get(wheel.version, "")})
        log(f"  {system}: {sum(len(p) for p in pieces.values())} tables read")
    return sysinfo, groups


def merge_pieces(system: str, backend: str, pieces: list[Piece], *, source: str,
                 extra: dict[str, Any]) -> list[Group]:
    """One group per (kind, variant).  Where several kernel sources measured the same shape,
    the one with the most rows (the backend's default kernel) wins."""
    by_kv: dict[tuple[str, str], list[Piece]] = {}
    for p in pieces:
        by_kv.setdefault((p.kind, p.variant), []).append(p)
    out = []
    for (kind, variant), plist in sorted(by_kv.items()):
        names = ops.ARGS[kind]
        args = {n: np.concatenate([p.args[n] for p in plist]) for n in names}
        t = np.concatenate([p.t for p in plist])
        kernel = np.concatenate([p.kernel for p in plist])
        ok = np.isfinite(t) & (t > 0)
        args, t, kernel = {n: a[ok] for n, a in args.items()}, t[ok], kernel[ok]
        counts = {str(k): int(c) for k, c in zip(*np.unique(kernel, return_counts=True))}
        rank = np.array([-counts[str(k)] for k in kernel])
        keys = np.stack([args[n] for n in names], axis=1)
        order = np.lexsort((rank, *keys.T[::-1]))
        keys_sorted = keys[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = np.any(keys_sorted[1:] != keys_sorted[:-1], axis=1)
        keep = order[first]
        used = {str(k): int(c) for k, c in zip(*np.unique(kernel[keep], return_counts=True))}
        files = sorted({p.file for p in plist})
        versions = sorted({p.version for p in plist})
        prov = {"source": source, "files": files, "version": ",".join(versions),
                "kernel_sources": used, **extra}
        out.append(Group(kind, system, backend, variant, {n: args[n][keep] for n in names},
                         t[keep], prov))
    return out


# --- InferSim bench_data --------------------------------------------------------------------

DECODE_HEADER = ["dtype", "kv_dtype", "batch_size", "kv_len", "latency_us", "mfu"]


def _csv(path: Path, header: list[str] | None = None) -> dict[str, np.ndarray]:
    """Rows of a bench_data CSV; ``header`` is used when the file has none (one upstream
    file, mha/decode/h20/64-2-128.csv, starts directly with data)."""
    with path.open(newline="") as fh:
        first = fh.readline()
        fh.seek(0)
        has_header = any(ch.isalpha() for ch in first.split(",")[-1]) or "latency" in first
        rows = list(csv.DictReader(fh) if has_header or header is None
                    else csv.DictReader(fh, fieldnames=header))
    out = {}
    for key in rows[0]:
        vals = [r[key] for r in rows]
        try:
            out[key] = np.asarray([float(v) for v in vals])
        except ValueError:
            out[key] = np.asarray(vals)
    return out


def infersim_groups(root: str | Path) -> tuple[dict[str, dict[str, Any]], list[Group]]:
    """H20 and H800 kernel latencies (microseconds in the CSVs)."""
    root = Path(root)
    bench = root / "bench_data"
    catalog = load_hardware()
    sysinfo: dict[str, dict[str, Any]] = {}
    for system, acc_id in (("h20", "nvidia_h20_96gb"), ("h800", "nvidia_h800_sxm")):
        acc = catalog.get(acc_id)
        peaks = {k: float(acc.peak_flops(k) or 0) for k in ("bf16", "fp8", "int8")}
        sysinfo[system] = {"label": acc.name, "arch": "hopper", "vendor": "nvidia",
                           "peak_flops": {k: v for k, v in peaks.items() if v},
                           "mem_bw": acc.mem_bw, "link_bw": acc.scaleup_bw_unidir,
                           "source": f"suanli accelerators.csv ({acc_id})"}
    pieces: dict[str, list[Piece]] = {"h20": [], "h800": []}

    def add(system: str, kind: str, variant: str, path: Path, args: dict[str, Any], t_us: Any,
            library: str) -> None:
        t = np.asarray(t_us, dtype=float) * 1e-6
        n = t.size
        full = {k: (np.asarray(v, dtype=float) if np.ndim(v) else np.full(n, float(v)))
                for k, v in args.items()}
        rel = str(path.relative_to(root))
        pieces[system].append(Piece(kind, variant, full, t, np.full(n, library), rel, library))

    for system in ("h20", "h800"):
        f = bench / "gemm" / system / "data.csv"
        if f.is_file():
            c = _csv(f)
            add(system, "gemm", "fp8_block", f, {"m": c["m"], "n": c["n"], "k": c["k"]},
                c["latency_us"], "DeepGEMM")
        for phase, tok in (("prefill", "seq_len_per_gpu"), ("decode", "batch_size_per_gpu")):
            f = bench / "grouped_gemm" / phase / system / "data.csv"
            if f.is_file():
                c = _csv(f)
                add(system, "moe", "fp8_block", f,
                    {"tokens": c[tok] * c["num_gpus"], "hidden": c["hidden_size"],
                     "inter": c["intermediate_size"], "topk": c["topk"],
                     "num_experts": c["num_experts"], "moe_tp": 1.0, "moe_ep": c["num_gpus"]},
                    c["up_proj_us"] + c["down_proj_us"],
                    f"DeepGEMM grouped GEMM ({'contiguous' if phase == 'prefill' else 'masked'})")
        for f in sorted((bench / "mha" / "prefill" / system).glob("*.csv")):
            h, kvh, hd = (float(x) for x in f.stem.split("-"))
            c = _csv(f)
            mask = c["dtype"] == "bf16"
            add(system, "attn_prefill", "bf16", f,
                {"batch": 1.0, "isl": c["seq_len"][mask], "num_heads": h, "num_kv_heads": kvh,
                 "head_dim": hd, "prefix": 0.0}, c["latency_us"][mask], "FlashAttention-3")
        for f in sorted((bench / "mha" / "decode" / system).glob("*.csv")):
            h, kvh, hd = (float(x) for x in f.stem.split("-"))
            c = _csv(f, DECODE_HEADER)
            for variant in ("bf16", "fp8"):
                mask = (c["dtype"] == "bf16") & (c["kv_dtype"] == variant)
                if mask.any():
                    add(system, "attn_decode", variant, f,
                        {"batch": c["batch_size"][mask], "ctx": c["kv_len"][mask], "num_heads": h,
                         "num_kv_heads": kvh, "head_dim": hd}, c["latency_us"][mask], "FlashInfer")
        f = bench / "mla" / "decode" / system / "128-512-64.csv"
        if f.is_file():
            c = _csv(f, DECODE_HEADER)
            for variant in ("bf16", "fp8"):
                mask = (c["dtype"] == "bf16") & (c["kv_dtype"] == variant)
                if mask.any():
                    add(system, "mla_decode", variant, f,
                        {"batch": c["batch_size"][mask], "ctx": c["kv_len"][mask], "num_heads": 128.0},
                        c["latency_us"][mask], "FlashMLA")
        f = bench / "mla" / "prefill" / system / "128-128-64.csv"
        if f.is_file():
            c = _csv(f)
            mask = c["dtype"] == "bf16"
            add(system, "mla_prefill", "bf16", f,
                {"batch": 1.0, "isl": c["seq_len"][mask], "num_heads": 128.0, "prefix": 0.0},
                c["latency_us"][mask], "FlashAttention-3 (MLA prefill)")
    groups: list[Group] = []
    for system, plist in pieces.items():
        groups += merge_pieces(system, "infersim", plist,
                               source=f"InferSim bench_data ({INFERSIM['repo']}@{INFERSIM['commit'][:7]})",
                               extra={"license": INFERSIM["license"], "released": INFERSIM["date"]})
    return sysinfo, groups
