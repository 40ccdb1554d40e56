"""System (server / rack / supernode) catalog and per-GPU scale-out bandwidth.

Bundled data: ``suanli/data/hardware/systems.csv`` (verbatim copy; prices may be a range
such as ``880000-1050000``).  The GPU-facing scale-out bandwidth is parsed from the free-text
``nics`` column; when the text gives no usable NIC figure a documented family default is used
and recorded in :attr:`System.assumed`.  User files follow the rules of
:func:`suanli.specs.accelerator.load_hardware` (env ``SUANLI_SYSTEMS_PATH``, JSON key
``systems``) and may also state ``scaleout_gbps_per_gpu`` / ``scaleout_kind`` directly.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from suanli.errors import ConfigError, UnknownHardware, UnknownSystem
from suanli.specs.accelerator import (
    Accelerator, FrozenMapping, HardwareCatalog, Parser, PathArg, bundled_rows, closest_ids,
    load_hardware, name_key, parse_float, parse_int, parse_text, read_rows, typed_rows,
    user_paths,
)

GBIT = 1e9 / 8  # Gb/s -> bytes/s
SCALEOUT_KINDS = ("infiniband", "roce", "ethernet", "ub", "unknown")
DEFAULT_NODE_GPUS = 8

# A node without RDMA NICs: assume two 25 GbE front-end ports shared by all its GPUs.
FRONTEND_ONLY_NODE_GBPS = 50.0
_FRONTEND_ONLY = "only a 2x 25 GbE front-end (50 Gb/s) shared by the node"


@dataclass(frozen=True, kw_only=True)
class System:
    """A server configuration; ``scaleout_gbps_per_gpu`` is Gb/s per GPU, one direction."""

    id: str
    name: str = ""
    gpus: int | None = None
    gpu_id: str = ""
    cpu: str = ""
    host_memory_gb: float | None = None
    nics: str = ""
    price_low: float | None = None
    price_high: float | None = None
    currency: str = ""
    price_date: str = ""
    source_url: str = ""
    notes: str = ""
    scaleout_gbps_per_gpu: float
    scaleout_kind: str = "unknown"  # one of SCALEOUT_KINDS
    assumed: Mapping[str, str] = field(default_factory=dict, hash=False)
    origin: str = "bundled"  # "bundled", a user file path, or "synthetic"

    def __post_init__(self) -> None:
        object.__setattr__(self, "assumed", FrozenMapping(self.assumed))

    @property
    def scaleout_bw(self) -> float:
        """GPU-facing scale-out bandwidth per GPU, one direction, in bytes/s."""
        return self.scaleout_gbps_per_gpu * GBIT

    @property
    def price_mid(self) -> float | None:
        if self.price_low is None or self.price_high is None:
            return None
        return (self.price_low + self.price_high) / 2


class SystemCatalog:
    """Systems by id (case-, '-', '_' and space-insensitive lookup)."""

    def __init__(self, systems: Iterable[System]) -> None:
        self._by_id: dict[str, System] = {}
        for system in systems:
            if system.id in self._by_id:
                raise ConfigError(f"duplicate system id {system.id!r}", field="id")
            self._by_id[system.id] = system
        self._index = {name_key(ident): ident for ident in self._by_id}

    def get(self, name: str) -> System:
        ident = self._index.get(name_key(name))
        if ident is None:
            raise UnknownSystem(f"unknown system {name!r}; closest ids: "
                                f"{closest_ids(name, self._index)}", field="system")
        return self._by_id[ident]

    def ids(self) -> list[str]:
        return list(self._by_id)

    def for_gpu(self, accelerator_id: str) -> list[System]:
        """Systems built from the accelerator with this canonical id, in catalog order."""
        return [system for system in self._by_id.values() if system.gpu_id == accelerator_id]

    def __iter__(self) -> Iterator[System]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name_key(name) in self._index


def load_systems(extra: PathArg = None, *, hardware: HardwareCatalog | None = None
                 ) -> SystemCatalog:
    """Bundled systems plus user files (``SUANLI_SYSTEMS_PATH`` when ``extra`` is None).

    ``gpu_id`` may be any name ``hardware`` (default :func:`load_hardware`) resolves; it is
    stored as the canonical accelerator id.
    """
    hardware = hardware if hardware is not None else load_hardware()
    paths = user_paths(extra, "SUANLI_SYSTEMS_PATH")
    if not paths:
        return _bundled_systems(hardware)
    merged = {values["id"]: (where, "bundled", dict(values)) for where, values in _bundled_raw()}
    for path in paths:
        for where, values in typed_rows(read_rows(path, "systems"), _COLUMNS):
            old = merged.get(values["id"], (where, str(path), {}))[2]
            merged[values["id"]] = (where, str(path), {**old, **values})
    return SystemCatalog(_build(values, hardware, where, origin)
                         for where, origin, values in merged.values())


def default_system_for(acc: Accelerator, catalog: SystemCatalog) -> System:
    """A catalog system built from ``acc`` (preferring one whose NICs are stated), else a
    synthetic 8-GPU node with the family-default scale-out, flagged as assumed."""
    candidates = sorted(catalog.for_gpu(acc.id), key=lambda system: not system.nics.strip())
    if candidates:
        return candidates[0]
    scaleout = family_scaleout(acc, DEFAULT_NODE_GPUS)
    return System(
        id=f"generic_{DEFAULT_NODE_GPUS}x_{acc.id}",
        name=f"Generic {DEFAULT_NODE_GPUS}x {acc.name or acc.id} node (synthetic)",
        gpus=DEFAULT_NODE_GPUS, gpu_id=acc.id,
        scaleout_gbps_per_gpu=scaleout.gbps_per_gpu, scaleout_kind=scaleout.kind,
        assumed={"gpus": f"no catalog system uses {acc.id}: synthetic {DEFAULT_NODE_GPUS}-GPU node",
                 "scaleout_gbps_per_gpu": scaleout.reason},
        origin="synthetic")


# --- scale-out from the nics text ---------------------------------------------------------

class ScaleOut(NamedTuple):
    gbps_per_gpu: float
    kind: str
    reason: str  # empty when read directly from the nics text


# family -> (Gb/s per GPU, kind, why).  Used when the nics text gives no NIC figure.
_FAMILY_SCALEOUT: Mapping[str, tuple[float, str, str]] = MappingProxyType({
    "nvidia-hopper": (400.0, "infiniband", "HGX norm of one 400 Gb/s NIC per GPU (NVIDIA MLPerf "
                      "HGX H200: 10x 400G IB; Nebius HGX B200: 8x ConnectX-7 NDR)"),
    "nvidia-blackwell": (400.0, "infiniband", "HGX / NVL72 norm of one 400 Gb/s ConnectX-7 NIC "
                         "per GPU (Nebius HGX B200: 8x ConnectX-7 NDR)"),
    "nvidia-hopper-china": (400.0, "roce", "HGX norm of one 400 Gb/s NIC per GPU; H20 clusters "
                            "report 8x 400G RoCE per node (NVIDIA/nccl-tests#367)"),
    "nvidia-ampere": (200.0, "infiniband", "DGX A100 norm of one 200 Gb/s HDR NIC per GPU"),
    "nvidia-ada": (100.0, "roce", "8-card PCIe server norm of 4x 200 Gb/s NICs, one per two GPUs"),
    "nvidia-blackwell-pcie": (100.0, "roce", "8-card PCIe server norm of 4x 200 Gb/s NICs, one "
                              "per two GPUs"),
    "huawei-ascend": (200.0, "roce", "Atlas 800T A2 / Huawei Cloud 910B hosts: one 200 GE RoCE "
                      "port per NPU"),
    "amd-cdna3": (400.0, "roce", "8-GPU OAM platform norm of one 400 Gb/s NIC per GPU"),
    "amd-cdna4": (400.0, "roce", "8-GPU OAM platform norm of one 400 Gb/s NIC per GPU"),
    "intel-gaudi": (600.0, "roce", "Gaudi 3 baseboard: 3 of each card's 24x 200 GbE ports face "
                    "the scale-out network, the other 21 form the 8-card mesh"),
})
_GENERIC_SCALEOUT = (100.0, "unknown", "no source: generic 8-accelerator server with 4x 200 "
                     "Gb/s NICs, one per two accelerators")
# Port speed, Gb/s, of NIC models named without a speed (their maximum).
_CONNECTX_GBPS: Mapping[int, float] = MappingProxyType({5: 100.0, 6: 200.0, 7: 400.0, 8: 800.0})

_SPEED = re.compile(r"(\d+(?:\.\d+)?)\s*(?:gb/s|gbps|gbe|gb\b|ge\b|g\b)")
_COUNT = re.compile(r"^\s*(\d+)\s*x\b")
_PORTS = re.compile(r"\b(single|dual|quad|\d+)-port")
_CONNECTX = re.compile(r"connectx-?(\d)")
_NO_RDMA = re.compile(r"\bno\b[^+]*\b(nic|infiniband|rdma|roce)\b")


def family_scaleout(acc: Accelerator, gpus: int | None, nics: str = "") -> ScaleOut:
    """The documented default when the ``nics`` text gives no usable NIC figure."""
    context = (f"nics {nics.strip()!r} gives no scale-out NIC figure" if nics.strip()
               else "NICs not stated")
    if "consumer" in acc.form_factor.lower():
        return _frontend_only(gpus, f"{context}; consumer card: assumed {_FRONTEND_ONLY}")
    gbps, kind, why = _FAMILY_SCALEOUT.get(acc.family, _GENERIC_SCALEOUT)
    return ScaleOut(gbps, kind, f"{context}; {acc.family} default {gbps:g} Gb/s per GPU: {why}")


def parse_nics(nics: str, gpus: int | None) -> ScaleOut | None:
    """GPU-facing Gb/s per GPU (one direction) from a NIC description; None if none is usable.

    ``"8x ConnectX-7 IB NDR 400Gb/s + 1x 200Gb/s Ethernet"`` -> 400 (InfiniBand): the group
    with the most bandwidth among RDMA-capable groups is taken as the compute fabric, other
    groups as storage / front-end.  More ports than GPUs -> one compute port per GPU.
    """
    text = re.sub(r"(\d),(\d{3})", r"\1\2", nics.lower())
    if _NO_RDMA.search(text):
        return _frontend_only(gpus, f"nics says {nics.strip()!r}: assumed {_FRONTEND_ONLY}")
    groups = [group for part in _split_top(text) if (group := _nic_group(part)) is not None]
    if not groups:
        return None
    rdma = [group for group in groups if group[3] != "ethernet"]
    ports, speed, speed_why, kind = max(rdma or groups, key=lambda group: group[0] * group[1])
    n = gpus or DEFAULT_NODE_GPUS
    reasons = [] if gpus else [f"GPU count not stated, assumed {DEFAULT_NODE_GPUS}"]
    if speed_why:
        reasons.append(speed_why)
    if ports > n:
        reasons.append(f"{ports} ports of {speed:g} Gb/s for {n} GPUs: assumed one compute port "
                       "per GPU, the rest storage / front-end")
    return ScaleOut(min(ports, n) * speed / n, kind, "; ".join(reasons))


def _nic_group(part: str) -> tuple[int, float, str, str] | None:
    """(ports, Gb/s per port, why the speed is assumed, kind) of one '+'-separated part."""
    if "transceiver" in part or "optical module" in part:
        return None  # optics of a scale-up fabric, counted at both ends: not NICs
    count = int(match.group(1)) if (match := _COUNT.search(part)) else 1
    ports = match.group(1) if (match := _PORTS.search(part)) else "1"
    per_nic = {"single": 1, "dual": 2, "quad": 4}.get(ports) or int(ports)
    speeds = [float(value) for value in _SPEED.findall(part)]
    why = ""
    if not speeds:
        model = _CONNECTX.search(part)
        gbps = _CONNECTX_GBPS.get(int(model.group(1))) if model else None
        if model is None or gbps is None:
            return None
        speeds, why = [gbps], f"ConnectX-{model.group(1)} speed not stated, assumed {gbps:g} Gb/s"
    return count * per_nic, max(speeds), why, _kind_of(part)


def _kind_of(text: str) -> str:
    if re.search(r"infiniband|\bib\b|\b[nhx]dr\b", text):
        return "infiniband"
    if "roce" in text:
        return "roce"
    if re.search(r"\bub\b|unified ?bus", text):
        return "ub"
    if re.search(r"ethernet|\d\s*gbe\b|\d\s*ge\b", text):
        return "ethernet"
    return "unknown"


def _split_top(text: str) -> list[str]:
    """Split on '+' outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "+" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _frontend_only(gpus: int | None, reason: str) -> ScaleOut:
    n = gpus or DEFAULT_NODE_GPUS
    return ScaleOut(FRONTEND_ONLY_NODE_GBPS / n, "ethernet", f"{reason} / {n} GPUs")


# --- loading --------------------------------------------------------------------------

def parse_price(text: str) -> tuple[float, float]:
    """``"1200000"`` -> (1.2e6, 1.2e6); ``"880000-1050000"`` -> (8.8e5, 1.05e6)."""
    low, sep, high = text.replace("–", "-").partition("-")
    low_value = parse_float(low.strip())
    high_value = parse_float(high.strip()) if sep else low_value
    if high_value < low_value:
        raise ValueError(f"{text!r}: upper end below lower end")
    return low_value, high_value


def _parse_kind(text: str) -> str:
    if text.lower() not in SCALEOUT_KINDS:
        raise ValueError(f"{text!r} is not one of {', '.join(SCALEOUT_KINDS)}")
    return text.lower()


# systems.csv column -> (System attribute, parser); the last two are optional user columns.
_COLUMNS: Mapping[str, tuple[str, Parser]] = MappingProxyType({
    "id": ("id", parse_text), "name": ("name", parse_text), "gpus": ("gpus", parse_int),
    "gpu_id": ("gpu_id", parse_text), "cpu": ("cpu", parse_text),
    "host_memory_gb": ("host_memory_gb", parse_float), "nics": ("nics", parse_text),
    "price": ("price", parse_price), "currency": ("currency", parse_text),
    "price_date": ("price_date", parse_text), "source_url": ("source_url", parse_text),
    "notes": ("notes", parse_text),
    "scaleout_gbps_per_gpu": ("scaleout_gbps_per_gpu", parse_float),
    "scaleout_kind": ("scaleout_kind", _parse_kind),
})


@functools.lru_cache(maxsize=1)
def _bundled_raw() -> tuple[tuple[str, Mapping[str, Any]], ...]:
    return tuple((where, MappingProxyType(values))
                 for where, values in typed_rows(bundled_rows("systems.csv"), _COLUMNS))


@functools.lru_cache(maxsize=4)
def _bundled_systems(hardware: HardwareCatalog) -> SystemCatalog:
    return SystemCatalog(_build(dict(values), hardware, where, "bundled")
                         for where, values in _bundled_raw())


def _build(values: dict[str, Any], hardware: HardwareCatalog, where: str, origin: str) -> System:
    values = dict(values)
    try:
        acc = hardware.get(values.get("gpu_id", ""))
    except UnknownHardware as exc:
        raise ConfigError(f"{where}: field 'gpu_id': {exc}", field="gpu_id") from None
    values["gpu_id"] = acc.id
    values["price_low"], values["price_high"] = values.pop("price", (None, None))
    assumed: dict[str, str] = {}
    if "scaleout_gbps_per_gpu" not in values:
        scaleout = parse_nics(values.get("nics", ""), values.get("gpus"))
        scaleout = scaleout or family_scaleout(acc, values.get("gpus"), values.get("nics", ""))
        values["scaleout_gbps_per_gpu"], values["scaleout_kind"] = scaleout[:2]
        if scaleout.reason:
            assumed["scaleout_gbps_per_gpu"] = scaleout.reason
    return System(**values, assumed=assumed, origin=origin)
