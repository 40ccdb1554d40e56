"""Measured kernel tables: compact efficiency surfaces with provenance (package data).

Bundled data (``suanli/data/kernels``, built by ``tools/build_kernel_tables.py``; see
``PROVENANCE.md`` there):

* ``index.json`` -- the systems the kernels were measured on (peaks, bandwidths, arch,
  with the file they come from), one entry per surface (op kind, system, backend, variant,
  feature axes in log2 units, fixed latency floor, provenance: library and version, source
  file inside the wheel or repository, licence, rows used), the leave-one-system-out
  transfer errors and the roofline priors.
* ``surfaces.npz`` -- per surface, log2(t_roofline / t_measured) on its grid (float16) and
  which nodes hold a measurement (the others are filled from their neighbours).
* ``chips.csv`` -- per suanli accelerator id: architecture, SM count, boost clock and the
  kernel system measured on that very chip (if any), each with source and date.

This module only loads and indexes; the model that turns a surface into op times lives in
``suanli.perf.kernels`` (pure).
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from suanli.errors import ConfigError
from suanli.specs.accelerator import Accelerator

# Engine -> kernel-table backends tried in order.  "infersim" holds the H20/H800 tables
# (DeepGEMM, FlashAttention-3, FlashInfer, FlashMLA: the kernels SGLang runs on Hopper).
# MindIE and other engines have no tables of their own: they take whatever backend is
# measured, vLLM first (the most common engine in our validation cases).  "nccl" holds the
# NCCL collective tables (nccl-tests), shared by all engines.
BACKEND_ORDER: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "vllm": ("vllm", "sglang", "trtllm", "infersim", "nccl"),
    "sglang": ("sglang", "infersim", "vllm", "trtllm", "nccl"),
    "trtllm": ("trtllm", "sglang", "vllm", "infersim", "nccl"),
    "infersim": ("infersim", "sglang", "vllm", "trtllm", "nccl"),
    "mindie": ("vllm", "sglang", "trtllm", "infersim", "nccl"),
    "other": ("vllm", "sglang", "trtllm", "infersim", "nccl"),
})
ENGINE_ALIASES: Mapping[str, str] = MappingProxyType({
    "tensorrt-llm": "trtllm", "tensorrt_llm": "trtllm", "trt-llm": "trtllm",
    "vllm-ascend": "mindie", "lmdeploy": "other", "tgi": "other",
})

SurfaceKey = tuple[str, str, str, str]  # (kind, system, backend, variant)


def backend_order(engine: str) -> tuple[str, ...]:
    """Kernel-table backends to try, in order, for a serving engine name."""
    name = engine.strip().lower()
    name = ENGINE_ALIASES.get(name, name)
    return BACKEND_ORDER.get(name, BACKEND_ORDER["other"])


@dataclass(frozen=True, kw_only=True)
class SystemInfo:
    """A machine the kernel tables were measured on (numbers as the source states them)."""

    name: str                       # e.g. 'h100_sxm'
    label: str = ""
    arch: str = ""                  # 'ampere' | 'ada' | 'hopper' | 'blackwell' | 'blackwell-gddr'
    vendor: str = "nvidia"
    peak_flops: Mapping[str, float] = field(default_factory=dict)  # dense FLOP/s per key
    mem_bw: float = 0.0             # bytes/s
    link_bw: float = 0.0            # scale-up, one direction, bytes/s
    sm_count: int | None = None
    clock_mhz: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "peak_flops", MappingProxyType(dict(self.peak_flops)))


@dataclass(frozen=True, kw_only=True)
class Surface:
    """log2 efficiency of one op kind on one system/backend/variant over a feature grid."""

    kind: str
    system: str
    backend: str
    variant: str
    features: tuple[str, ...]
    axes: tuple[np.ndarray, ...]     # log2 feature values of the grid nodes
    values: np.ndarray               # log2(t_roofline / t_measured) at the nodes
    measured: np.ndarray             # bool: node holds a measurement (else filled)
    t0: float                        # fixed latency floor (s) of this kernel family
    n_rows: int = 0
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> SurfaceKey:
        return (self.kind, self.system, self.backend, self.variant)


@dataclass(frozen=True, kw_only=True)
class KernelTables:
    systems: Mapping[str, SystemInfo]
    surfaces: Mapping[SurfaceKey, Surface]
    chip_system: Mapping[str, str] = field(default_factory=dict)   # accelerator id -> system
    transfer: Mapping[str, Any] = field(default_factory=dict)      # LOO results, chosen rules
    priors: Mapping[str, Any] = field(default_factory=dict)        # roofline priors per kind
    meta: Mapping[str, Any] = field(default_factory=dict)

    def find(self, kind: str, system: str, variant: str,
             backends: Iterable[str]) -> Surface | None:
        """The first surface of (kind, system, variant) among ``backends`` (in order)."""
        for backend in backends:
            surf = self.surfaces.get((kind, system, backend, variant))
            if surf is not None:
                return surf
        return None

    def systems_with(self, kind: str, variant: str) -> list[str]:
        return sorted({s.system for s in self.surfaces.values()
                       if s.kind == kind and s.variant == variant})

    def without(self, *systems: str) -> KernelTables:
        """A copy with the given systems' surfaces removed (leave-one-out evaluation)."""
        drop = set(systems)
        return replace(self, surfaces=MappingProxyType(
            {k: v for k, v in self.surfaces.items() if k[1] not in drop}))


# --- building from plain data (used by the loader and by the offline tools) -------------

def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


def tables_from_data(index: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                     chips: Mapping[str, str] | None = None) -> KernelTables:
    """KernelTables from an index dict (``index.json``) and its arrays (``surfaces.npz``)."""
    systems = {name: SystemInfo(name=name, **{k: v for k, v in info.items() if k != "name"})
               for name, info in index["systems"].items()}
    surfaces: dict[SurfaceKey, Surface] = {}
    for entry in index["surfaces"]:
        axes = tuple(_readonly(np.asarray(a, dtype=float)) for a in entry["axes"])
        shape = tuple(a.size for a in axes)
        values = np.asarray(arrays[entry["array"]], dtype=float).reshape(shape)
        mask = np.unpackbits(np.asarray(arrays[entry["array"] + "_m"], dtype=np.uint8))
        measured = mask[: values.size].astype(bool).reshape(shape)
        surf = Surface(kind=entry["kind"], system=entry["system"], backend=entry["backend"],
                       variant=entry["variant"], features=tuple(entry["features"]), axes=axes,
                       values=_readonly(values), measured=_readonly(measured),
                       t0=float(entry["t0"]), n_rows=int(entry.get("n_rows", 0)),
                       provenance=MappingProxyType(dict(entry.get("provenance", {}))))
        surfaces[surf.key] = surf
    return KernelTables(systems=MappingProxyType(systems), surfaces=MappingProxyType(surfaces),
                        chip_system=MappingProxyType(dict(chips or {})),
                        transfer=MappingProxyType(dict(index.get("transfer", {}))),
                        priors=MappingProxyType(dict(index.get("priors", {}))),
                        meta=MappingProxyType(dict(index.get("meta", {}))))


def read_kernel_tables(directory: str | Path) -> KernelTables:
    """Kernel tables from a directory holding index.json, surfaces.npz (+ chips.csv)."""
    root = Path(directory)
    try:
        index = json.loads((root / "index.json").read_text(encoding="utf-8"))
        with np.load(root / "surfaces.npz") as npz:
            arrays = {k: npz[k] for k in npz.files}
        chips_text = (root / "chips.csv").read_text(encoding="utf-8") \
            if (root / "chips.csv").is_file() else ""
        if (root / "transfer.json").is_file():
            index["transfer"] = json.loads((root / "transfer.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{root}: cannot read kernel tables ({exc})", field="path") from None
    return tables_from_data(index, arrays, _chip_systems(chips_text))


@functools.lru_cache(maxsize=1)
def load_kernel_tables() -> KernelTables:
    """The bundled kernel tables (cached; arrays are read-only)."""
    root = files("suanli") / "data" / "kernels"
    index = json.loads((root / "index.json").read_text(encoding="utf-8"))
    transfer = root / "transfer.json"
    if transfer.is_file():
        index["transfer"] = json.loads(transfer.read_text(encoding="utf-8"))
    with np.load(io.BytesIO((root / "surfaces.npz").read_bytes())) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return tables_from_data(index, arrays, _chip_systems(_chips_text()))


# --- per-accelerator extras: arch, SM count, clock, measured kernel system ---------------

@dataclass(frozen=True, kw_only=True)
class ChipExtras:
    id: str
    arch: str = ""
    sm_count: int | None = None
    boost_clock_mhz: float | None = None
    kernel_system: str = ""
    source: str = ""
    date: str = ""
    note: str = ""


def _chips_text() -> str:
    return (files("suanli") / "data" / "kernels" / "chips.csv").read_text(encoding="utf-8")


def _parse_chips(text: str) -> dict[str, ChipExtras]:
    out: dict[str, ChipExtras] = {}
    for row in csv.DictReader(io.StringIO(text)):
        sm = (row.get("sm_count") or "").strip()
        clock = (row.get("boost_clock_mhz") or "").strip()
        out[row["id"]] = ChipExtras(
            id=row["id"], arch=(row.get("arch") or "").strip(),
            sm_count=int(sm) if sm else None, boost_clock_mhz=float(clock) if clock else None,
            kernel_system=(row.get("kernel_system") or "").strip(),
            source=(row.get("source") or "").strip(), date=(row.get("date") or "").strip(),
            note=(row.get("note") or "").strip())
    return out


def _chip_systems(text: str) -> dict[str, str]:
    return {i: c.kernel_system for i, c in _parse_chips(text).items() if c.kernel_system}


@functools.lru_cache(maxsize=1)
def chip_extras() -> Mapping[str, ChipExtras]:
    """Bundled per-accelerator architecture data (chips.csv), by accelerator id."""
    return MappingProxyType(_parse_chips(_chips_text()))


# Catalog family -> architecture, for chips without a chips.csv row (user chip files).
FAMILY_ARCH: Mapping[str, str] = MappingProxyType({
    "nvidia-hopper": "hopper", "nvidia-hopper-china": "hopper", "nvidia-blackwell": "blackwell",
    "nvidia-blackwell-pcie": "blackwell-gddr", "nvidia-ampere": "ampere", "nvidia-ada": "ada",
    "huawei-ascend": "ascend", "amd-cdna3": "cdna3", "amd-cdna4": "cdna4",
    "intel-gaudi": "gaudi", "cambricon": "cambricon", "hygon": "hygon",
    "kunlunxin": "kunlunxin", "alibaba": "alibaba",
})


def physics_fields(acc: Accelerator) -> dict[str, Any]:
    """Keyword arguments for ``suanli.perf.kernels.ChipPhysics`` from a catalog entry.

    Peaks are the catalog's dense FLOP/s per compute key (missing keys are left out);
    ``link_bw`` is the scale-up bandwidth one direction (0 when not published)."""
    extra = chip_extras().get(acc.id)
    peaks = {key: acc.peak_flops(key) for key in ("bf16", "fp8", "fp4", "int8")}
    try:
        link = acc.scaleup_bw_unidir
    except Exception:  # noqa: BLE001 - MissingSpec: no published scale-up bandwidth
        link = 0.0
    return {
        "id": acc.id,
        "arch": (extra.arch if extra and extra.arch else FAMILY_ARCH.get(acc.family, "")),
        "vendor": acc.vendor.strip().lower(),
        "peak_flops": {k: float(v) for k, v in peaks.items() if v is not None and v > 0},
        "mem_bw": acc.mem_bw,
        "sm_count": extra.sm_count if extra else None,
        "clock_mhz": extra.boost_clock_mhz if extra else None,
        "link_bw": float(link),
    }

