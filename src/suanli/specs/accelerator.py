"""Accelerator catalog: sourced chip specs plus suanli's own, flagged additions.

Bundled data (``suanli/data/hardware``, see ``PROVENANCE.md`` there):

* ``accelerators.csv`` -- verbatim copy of the researched catalog.  Units: GB, GB/s, dense
  TFLOPS/TOPS; ``scaleup_bw_gbs_per_gpu_bidir`` is bidirectional per GPU; an empty cell means
  no source stated the value.
* ``overlay.csv`` -- one ``id,field,value,source,note`` row per addition: the calibration
  ``family``, ``aliases``, ``china_buyable`` and values for *empty* spec cells.  Every filled
  spec value lands in :attr:`Accelerator.assumed` with its reason; the overlay may never
  overwrite a published value (loading fails if it tries).

User files are merged on top (:func:`load_hardware`).  Inside the catalog values keep the
units of the CSV (``*_gb``, ``*_gbs``, ``*_tflops``); the properties return SI units.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

from suanli.errors import ConfigError, MissingSpec, UnknownHardware
from suanli.files import parse_json
from suanli.specs.dtypes import DType

GIB = 2.0**30
GIGA = 1e9  # GB -> bytes and GB/s -> bytes/s (vendors quote decimal units)
TERA = 1e12  # TFLOPS -> FLOP/s

FAMILIES = frozenset({
    "nvidia-hopper", "nvidia-hopper-china", "nvidia-blackwell", "nvidia-blackwell-pcie",
    "nvidia-ampere", "nvidia-ada", "huawei-ascend", "amd-cdna3", "amd-cdna4", "intel-gaudi",
    "cambricon", "hygon", "kunlunxin", "alibaba", "other",
})
UNVERIFIED_STATUSES = frozenset({"rumoured", "announced"})
# PCIe x16 bandwidth, GB/s bidirectional (the accelerators.csv convention for PCIe-only cards).
PCIE_X16_BIDIR_GBS: Mapping[int, float] = MappingProxyType({3: 32.0, 4: 64.0, 5: 128.0, 6: 256.0})

PathArg: TypeAlias = "str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None"


class FrozenMapping(Mapping[str, str]):
    """Read-only, picklable ``str -> str`` mapping (the reasons behind assumed values)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"

    def __reduce__(self) -> tuple[type[FrozenMapping], tuple[dict[str, str]]]:
        return FrozenMapping, (self._data,)


@dataclass(frozen=True, kw_only=True)
class Accelerator:
    """One accelerator SKU (per GPU / per package; dense tensor throughput)."""

    id: str
    vendor: str = ""
    name: str = ""
    memory_gb: float | None = None
    memory_type: str = ""
    mem_bw_gbs: float | None = None
    fp32_tflops: float | None = None
    tf32_tflops: float | None = None
    bf16_tflops: float | None = None
    fp8_tflops: float | None = None
    int8_tops: float | None = None
    fp4_tflops: float | None = None
    scaleup_link: str = ""
    scaleup_bw_gbs_bidir: float | None = None
    scaleup_domain: int | None = None
    pcie_gen: int | None = None
    tdp_w: float | None = None
    form_factor: str = ""
    launch: str = ""
    china_export_status: str = ""
    status: str = ""  # shipping / discontinued / rumoured / announced / ''
    source_urls: tuple[str, ...] = ()
    notes: str = ""
    family: str = "other"
    aliases: tuple[str, ...] = ()
    china_buyable: bool = False
    assumed: Mapping[str, str] = field(default_factory=dict, hash=False)
    origin: str = "bundled"

    def __post_init__(self) -> None:
        object.__setattr__(self, "assumed", FrozenMapping(self.assumed))

    @property
    def unverified(self) -> bool:
        """Rumoured or merely announced: every output must flag the specs as unverified."""
        return self.status in UNVERIFIED_STATUSES

    @property
    def memory_bytes(self) -> float:
        """Accelerator memory in bytes.

        Vendors' memory "GB" are binary for HBM/GDDR (stacks and chips come in
        powers of two): an "80 GB" H100 shows 81,559 MiB in nvidia-smi and a
        "96 GB" H20 97,871 MiB, i.e. ~GiB less firmware reservations.  So the
        catalog's memory_gb is read as GiB."""
        return self._require("memory_gb") * GIB

    @property
    def mem_bw(self) -> float:
        """Peak memory bandwidth in bytes/s."""
        return self._require("mem_bw_gbs") * GIGA

    @property
    def is_pcie_only(self) -> bool:
        """True when there is no NVLink/HCCS/UB/Infinity Fabric scale-up fabric."""
        return self.scaleup_link.strip().lower().startswith("pcie")

    @property
    def scaleup_bw_unidir(self) -> float:
        """Scale-up bandwidth per GPU, one direction, in bytes/s (bidirectional / 2).

        PCIe-only cards without a catalog figure fall back to the PCIe x16 rate of their
        ``pcie_gen``.
        """
        bidir = self.scaleup_bw_gbs_bidir
        if bidir is None and self.is_pcie_only and self.pcie_gen is not None:
            bidir = PCIE_X16_BIDIR_GBS.get(self.pcie_gen)
        if bidir is None:
            raise MissingSpec(f"{self.id}: no scale-up bandwidth in the catalog "
                              "(scaleup_bw_gbs_bidir); supply it in a user hardware file",
                              field="scaleup_bw_gbs_bidir")
        return bidir * GIGA / 2

    def peak_flops(self, dtype: DType | str) -> float | None:
        """Dense tensor FLOP/s (or OP/s) for a compute dtype; None when not in the catalog.

        BF16/FP16 use the 16-bit column, FP4/MXFP4 the FP4 column.  INT4 is a weight-storage
        format (W4A16 computes in BF16), so it has no compute column and returns None.
        """
        attr = _COMPUTE_ATTR.get(DType.parse(dtype))
        value = getattr(self, attr) if attr else None
        return None if value is None else float(value) * TERA

    def supports_compute(self, dtype: DType | str) -> bool:
        return self.peak_flops(dtype) is not None

    def flags(self) -> list[str]:
        """Human-readable warnings to show next to any result that uses this chip."""
        out = [f"{self.status} chip: specs unverified"] if self.unverified else []
        out += [f"assumed value: {name} ({reason})" for name, reason in self.assumed.items()]
        if self.origin != "bundled":
            out.append(f"user-supplied data: {self.origin}")
        return out

    def _require(self, attr: str) -> float:
        value = getattr(self, attr)
        if value is None:
            raise MissingSpec(f"{self.id}: no {attr} in the catalog (no source published it); "
                              "supply it in a user hardware file", field=attr)
        return float(value)


_COMPUTE_ATTR: Mapping[DType, str] = MappingProxyType({
    DType.FP32: "fp32_tflops", DType.BF16: "bf16_tflops", DType.FP16: "bf16_tflops",
    DType.FP8: "fp8_tflops", DType.INT8: "int8_tops", DType.FP4: "fp4_tflops",
    DType.MXFP4: "fp4_tflops",
})


class HardwareCatalog:
    """Accelerators by id, looked up by id or alias (case-, '-', '_' and space-insensitive)."""

    def __init__(self, accelerators: Iterable[Accelerator]) -> None:
        self._by_id: dict[str, Accelerator] = {}
        for acc in accelerators:
            if acc.id in self._by_id:
                raise ConfigError(f"duplicate accelerator id {acc.id!r}", field="id")
            self._by_id[acc.id] = acc
        self._index = _name_index((acc.id, (acc.id, *acc.aliases)) for acc in self._by_id.values())

    def resolve_id(self, name: str) -> str:
        found = self._index.get(name_key(name))
        if found is None:
            raise UnknownHardware(f"unknown accelerator {name!r}; closest ids: "
                                  f"{closest_ids(name, self._index)}", field="accelerator")
        return found

    def get(self, name: str) -> Accelerator:
        return self._by_id[self.resolve_id(name)]

    def loose_match(self, name: str) -> str | None:
        """The id ``name`` resolves to when it is not literally an id or alias (case aside),
        e.g. ``'h-20'`` -> ``nvidia_h20_96gb``, so that an interface can say which chip it
        used; None for exact names and unknown ones."""
        found = self._index.get(name_key(name))
        if found is None:
            return None
        acc = self._by_id[found]
        exact = {n.strip().lower() for n in (acc.id, *acc.aliases)}
        return None if name.strip().lower() in exact else found

    def ids(self) -> list[str]:
        return list(self._by_id)

    def __iter__(self) -> Iterator[Accelerator]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name_key(name) in self._index


def load_hardware(extra: PathArg = None) -> HardwareCatalog:
    """The bundled catalog plus user files.

    ``extra`` is a path or a sequence of paths; each is a CSV file with (a subset of) the
    accelerators.csv header -- ``id`` is required, ``family``, ``aliases`` and
    ``china_buyable`` are optional extra columns -- a JSON file (a list of objects or
    ``{"accelerators": [...]}``, keys as CSV columns or attribute names) or a directory of
    such files.  When ``extra`` is None, ``SUANLI_HARDWARE_PATH`` (``os.pathsep``-separated)
    is read instead.  A row with a known id overrides only the fields it gives; its aliases
    are added to the existing ones and any overridden value stops being ``assumed``.
    """
    paths = user_paths(extra, "SUANLI_HARDWARE_PATH")
    bundled = _bundled_catalog()
    if not paths:
        return bundled
    merged = {acc.id: acc for acc in bundled}
    for path in paths:
        for where, values in typed_rows(read_rows(path, "accelerators"), _COLUMNS):
            merged[values["id"]] = _merge(merged.get(values["id"]), values, str(path), where)
    return HardwareCatalog(merged.values())


# --- columns ----------------------------------------------------------------------------

Parser: TypeAlias = Callable[[str], Any]


def parse_text(text: str) -> str:
    return text


def parse_words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def parse_float(text: str) -> float:
    """A finite, non-negative number; thousands separators (``1,200,000``) allowed."""
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a finite non-negative number")
    return value


def parse_int(text: str) -> int:
    value = parse_float(text)
    if not value.is_integer():
        raise ValueError(f"{text!r} is not a whole number")
    return int(value)


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"true", "yes", "1", "y"}:
        return True
    if lowered in {"false", "no", "0", "n"}:
        return False
    raise ValueError(f"{text!r} is not true/false")


# accelerators.csv column -> (Accelerator attribute, parser).  User files may use either.
_COLUMNS: Mapping[str, tuple[str, Parser]] = MappingProxyType({
    "id": ("id", parse_text), "vendor": ("vendor", parse_text), "name": ("name", parse_text),
    "memory_gb": ("memory_gb", parse_float), "memory_type": ("memory_type", parse_text),
    "mem_bw_gbs": ("mem_bw_gbs", parse_float), "fp32_tflops": ("fp32_tflops", parse_float),
    "tf32_tflops": ("tf32_tflops", parse_float), "bf16_tflops_dense": ("bf16_tflops", parse_float),
    "fp8_tflops_dense": ("fp8_tflops", parse_float), "int8_tops_dense": ("int8_tops", parse_float),
    "fp4_tflops_dense": ("fp4_tflops", parse_float), "scaleup_link": ("scaleup_link", parse_text),
    "scaleup_bw_gbs_per_gpu_bidir": ("scaleup_bw_gbs_bidir", parse_float),
    "scaleup_domain_gpus": ("scaleup_domain", parse_int), "pcie_gen": ("pcie_gen", parse_int),
    "tdp_w": ("tdp_w", parse_float), "form_factor": ("form_factor", parse_text),
    "launch": ("launch", parse_text), "china_export_status": ("china_export_status", parse_text),
    "status": ("status", parse_text), "source_urls": ("source_urls", parse_words),
    "notes": ("notes", parse_text), "family": ("family", parse_text),
    "aliases": ("aliases", parse_words), "china_buyable": ("china_buyable", parse_bool),
})
_OVERLAY_META = frozenset({"family", "aliases", "china_buyable"})


# --- shared loading helpers (also used by suanli.specs.system) ---------------------------

Row: TypeAlias = "tuple[str, dict[str, str]]"  # (location for messages, raw cells)


def name_key(name: str) -> str:
    """Lookup key: lower case, without '-', '_' and whitespace."""
    return re.sub(r"[-_\s]", "", name).lower()


def _name_index(entries: Iterable[tuple[str, Iterable[str]]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for ident, names in entries:
        for name in names:
            other = index.setdefault(name_key(name), ident)
            if other != ident:
                raise ConfigError(f"name {name!r} is ambiguous: it matches both {other!r} "
                                  f"and {ident!r}", field="aliases")
    return index


def closest_ids(query: str, index: Mapping[str, str], *, most: int = 5) -> str:
    """The 3-5 ids whose names look most like ``query`` (difflib ratio), comma-separated."""
    key = name_key(query)
    best: dict[str, float] = {}
    for name, ident in index.items():
        best[ident] = max(best.get(ident, 0.0), difflib.SequenceMatcher(None, key, name).ratio())
    ranked = sorted(best, key=lambda ident: (-best[ident], ident))
    picks = [ident for ident in ranked[:most] if best[ident] >= 0.6]
    return ", ".join(picks if len(picks) >= 3 else ranked[:3])


def user_paths(extra: PathArg, env_var: str) -> list[Path]:
    """Files named by ``extra`` (or the env var when None); directories expand to their
    ``*.csv``/``*.json`` files in name order."""
    if extra is None:
        items: list[str | os.PathLike[str]] = [
            p for p in os.environ.get(env_var, "").split(os.pathsep) if p.strip()]
    elif isinstance(extra, (str, os.PathLike)):
        items = [extra]
    else:
        items = list(extra)
    paths: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            paths += sorted(p for p in path.iterdir() if p.suffix.lower() in {".csv", ".json"})
        elif path.is_file():
            paths.append(path)
        else:
            raise ConfigError(f"{path}: no such file or directory", field="path")
    return paths


def read_rows(path: Path, collection: str) -> list[Row]:
    """Raw rows of a user CSV or JSON file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})", field="path") from None
    return rows_from_text(text, str(path), path.suffix.lower(), collection)


def bundled_rows(name: str) -> list[Row]:
    """Raw rows of a CSV shipped in ``suanli/data/hardware``."""
    resource = files("suanli") / "data" / "hardware" / name
    return rows_from_text(resource.read_text(encoding="utf-8"), f"suanli/data/hardware/{name}",
                          ".csv", "")


def rows_from_text(text: str, label: str, suffix: str, collection: str) -> list[Row]:
    if suffix == ".csv":
        return _csv_rows(text, label)
    if suffix == ".json":
        return _json_rows(text, label, collection)
    raise ConfigError(f"{label}: unsupported file type (expected .csv, .json or a directory)",
                      field="path")


def _csv_rows(text: str, label: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    if "id" not in header:
        raise ConfigError(f"{label}: missing required column 'id'", field="id")
    rows: list[Row] = []
    for row in reader:
        where = f"{label}: line {reader.line_num}"
        if None in row:
            raise ConfigError(f"{where}: more cells than header columns", field="row")
        rows.append((where, {key.strip(): (value or "") for key, value in row.items()}))
    return rows


def _json_rows(text: str, label: str, collection: str) -> list[Row]:
    try:
        data = parse_json(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{label}: line {exc.lineno}: invalid JSON ({exc.msg})",
                          field="json") from None
    if isinstance(data, dict):
        data = data.get(collection)
    if not isinstance(data, list):
        raise ConfigError(f'{label}: expected a list of objects or {{"{collection}": [...]}}',
                          field=collection)
    rows: list[Row] = []
    for number, item in enumerate(data, start=1):
        where = f"{label}: {collection} entry {number}"
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: expected an object", field=collection)
        rows.append((where, {str(key): _json_cell(value) for key, value in item.items()}))
    return rows


def _json_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    return str(value)


def typed_rows(rows: Iterable[Row], columns: Mapping[str, tuple[str, Parser]]
               ) -> list[tuple[str, dict[str, Any]]]:
    """Parse the non-empty cells of each row into ``{attribute: value}``.

    Raises ConfigError naming the file, line and column for an unknown column, an
    unparseable cell, a missing id or an id repeated within the same file.
    """
    lookup = {**columns, **{attr: (attr, parse) for attr, parse in columns.values()}}
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for where, cells in rows:
        values: dict[str, Any] = {}
        for column, raw in cells.items():
            spec = lookup.get(column)
            if spec is None:
                raise ConfigError(f"{where}: unknown column {column!r} (known: "
                                  f"{', '.join(columns)})", field=column)
            if raw.strip():
                try:
                    values[spec[0]] = spec[1](raw.strip())
                except ValueError as exc:
                    raise ConfigError(f"{where}: field {column!r}: {exc}", field=column) from None
        if not values.get("id"):
            raise ConfigError(f"{where}: missing value for 'id'", field="id")
        if values["id"] in seen:
            raise ConfigError(f"{where}: duplicate id {values['id']!r}", field="id")
        seen.add(values["id"])
        out.append((where, values))
    return out


# --- bundled data, overlay and merging ---------------------------------------------------

@functools.lru_cache(maxsize=1)
def _bundled_catalog() -> HardwareCatalog:
    base = {values["id"]: values for _, values in typed_rows(bundled_rows("accelerators.csv"),
                                                              _COLUMNS)}
    assumed: dict[str, dict[str, str]] = {ident: {} for ident in base}
    for where, cells in bundled_rows("overlay.csv"):
        _apply_overlay(base, assumed, where, cells)
    return HardwareCatalog(_checked(Accelerator(**values, assumed=assumed[ident]), "bundled data")
                           for ident, values in base.items())


def _apply_overlay(base: dict[str, dict[str, Any]], assumed: dict[str, dict[str, str]],
                   where: str, cells: Mapping[str, str]) -> None:
    ident, column = cells.get("id", ""), cells.get("field", "")
    if ident not in base:
        raise ConfigError(f"{where}: overlay id {ident!r} is not in accelerators.csv", field="id")
    if column not in _COLUMNS or column == "id":
        raise ConfigError(f"{where}: overlay field {column!r} is not a catalog column",
                          field="field")
    attr, parse = _COLUMNS[column]
    try:
        value = parse(cells.get("value", "").strip())
    except ValueError as exc:
        raise ConfigError(f"{where}: field {column!r}: {exc}", field=column) from None
    if attr not in _OVERLAY_META:
        if base[ident].get(attr) is not None:
            raise ConfigError(f"{where}: overlay would overwrite the published {column} of "
                              f"{ident}", field=column)
        assumed[ident][attr] = cells.get("note", "").strip() or "assumed by suanli"
    base[ident][attr] = value


def _merge(old: Accelerator | None, values: dict[str, Any], origin: str,
           where: str) -> Accelerator:
    if old is None:
        return _checked(Accelerator(**values, origin=origin), where)
    aliases = tuple(dict.fromkeys((*old.aliases, *values.get("aliases", ()))))
    assumed = {name: why for name, why in old.assumed.items() if name not in values}
    return _checked(replace(old, **{**values, "aliases": aliases}, assumed=assumed,
                            origin=origin), where)


def _checked(acc: Accelerator, where: str) -> Accelerator:
    if acc.family not in FAMILIES:
        raise ConfigError(f"{where}: {acc.id}: unknown family {acc.family!r} (one of: "
                          f"{', '.join(sorted(FAMILIES))})", field="family")
    return acc
