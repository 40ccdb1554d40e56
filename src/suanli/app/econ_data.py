"""Economics data: sourced defaults, the FX table, workload presets and dated prices.

Bundled files (found through ``importlib.resources``):

* ``suanli/data/econ/defaults.csv`` -- ``name,value,unit,date,source,note``: every default
  of the cost model with its source (or flagged as a suanli assumption);
* ``suanli/data/econ/fx.csv`` -- ``date,base,quote,rate,source,note``;
* ``suanli/data/econ/workloads.csv`` -- workload presets (lengths and latency targets);
* ``suanli/data/market/prices.csv`` -- dated price observations (verbatim copy of the
  shared market data) and ``suanli/data/hardware/systems.csv`` (server prices).

User files override: ``load_defaults(path)`` (CSV with at least ``name,value``, or JSON
``{"name": value}`` / ``{"name": {"value": ..., "source": ...}}``) and ``load_fx(path)``
(CSV/JSON rows with the fx.csv columns; a row for an existing date and pair replaces it).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterable, Mapping

from suanli.econ.money import FxRate, FxTable, Money, date_key
from suanli.errors import ConfigError, InvalidInput, SuanliError
from suanli.files import parse_json
from suanli.specs.accelerator import Accelerator, HardwareCatalog
from suanli.specs.system import System, SystemCatalog

PathArg = str | Path | None


@dataclass(frozen=True)
class Item:
    """One explained input: every number of an output traces to one of these."""

    name: str
    value: Any
    unit: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "source": self.source}


def _text(path: str) -> str:
    return (files("suanli") / "data" / path).read_text(encoding="utf-8")


def _csv(text: str, label: str, required: Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        raise ConfigError(f"{label}: missing column(s) {', '.join(missing)}", field="header")
    out = []
    for row in reader:
        if None in row:
            raise ConfigError(f"{label}: line {reader.line_num}: more cells than header columns", field="row")
        out.append((f"{label}: line {reader.line_num}", {k.strip(): (v or "").strip() for k, v in row.items()}))
    return out


def _read_user(path: PathArg) -> tuple[str, str]:
    p = Path(str(path)).expanduser()
    try:
        return p.read_text(encoding="utf-8-sig"), p.suffix.lower()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read ({exc})", field="path") from None


# --- defaults ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Default:
    name: str
    value: float
    unit: str
    date: str
    source: str
    note: str = ""

    def item(self) -> Item:
        src = self.source + (f" ({self.date})" if self.date else "")
        return Item(self.name, self.value, self.unit, src + (f" -- {self.note}" if self.note else ""))


class Defaults:
    """Named defaults; :meth:`override` returns a copy with new values and sources."""

    def __init__(self, rows: Mapping[str, Default]) -> None:
        self._rows = dict(rows)

    def __getitem__(self, name: str) -> Default:
        try:
            return self._rows[name]
        except KeyError:
            raise ConfigError(f"no default named {name!r}", field=name) from None

    def value(self, name: str) -> float:
        return self[name].value

    def names(self) -> list[str]:
        return list(self._rows)

    def override(self, values: Mapping[str, float | None], *, source: str | Mapping[str, str]) -> Defaults:
        rows = dict(self._rows)
        for name, value in values.items():
            if value is None:
                continue
            if name not in rows:
                raise ConfigError(f"unknown default {name!r} (known: {', '.join(sorted(rows))})", field=name)
            v = _number(value, f"{name}")
            src = source if isinstance(source, str) else source.get(name, "user")
            rows[name] = replace(rows[name], value=v, source=src, note="", date="")
        return Defaults(rows)


def _number(value: Any, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {value!r} is not a number", field="value") from None
    if not math.isfinite(v):
        raise ConfigError(f"{where}: {value!r} is not a finite number", field="value")
    return v


@functools.lru_cache(maxsize=1)
def _bundled_defaults() -> Defaults:
    rows = {}
    for where, r in _csv(_text("econ/defaults.csv"), "suanli/data/econ/defaults.csv", ("name", "value", "source")):
        rows[r["name"]] = Default(r["name"], _number(r["value"], where), r.get("unit", ""), r.get("date", ""),
                                  r["source"], r.get("note", ""))
    return Defaults(rows)


def load_defaults(path: PathArg = None) -> Defaults:
    """Bundled defaults, overridden by a user CSV/JSON file when given."""
    base = _bundled_defaults()
    if path is None:
        return base
    text, suffix = _read_user(path)
    label = str(path)
    entries: dict[str, dict[str, Any]] = {}
    if suffix == ".json":
        try:
            data = parse_json(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{label}: line {exc.lineno}: invalid JSON ({exc.msg})", field="json") from None
        if not isinstance(data, dict):
            raise ConfigError(f'{label}: expected {{"name": value, ...}}', field="json")
        for k, v in data.items():
            entries[str(k)] = dict(v) if isinstance(v, dict) else {"value": v}
    else:
        for where, r in _csv(text, label, ("name", "value")):
            entries[r["name"]] = {**r, "where": where}
    rows = {n: base[n] for n in base.names()}
    for name, e in entries.items():
        if name not in rows:
            raise ConfigError(f"{label}: unknown default {name!r} (known: {', '.join(sorted(rows))})", field=name)
        value = _number(e.get("value"), f"{e.get('where', label)}: {name}")
        rows[name] = Default(name, value, str(e.get("unit") or rows[name].unit), str(e.get("date") or ""),
                             str(e.get("source") or f"user file {label}"), str(e.get("note") or ""))
    return Defaults(rows)


# --- FX -----------------------------------------------------------------------------------

def _fx_rows(rows: Iterable[tuple[str, Mapping[str, Any]]]) -> list[FxRate]:
    out = []
    for where, r in rows:
        try:
            out.append(FxRate(date=str(r.get("date", "")), base=str(r.get("base", "")), quote=str(r.get("quote", "")),
                              rate=_number(r.get("rate"), f"{where}: rate"), source=str(r.get("source", "")),
                              note=str(r.get("note", ""))))
        except SuanliError as exc:
            raise ConfigError(f"{where}: {exc}", field="fx") from None
    return out


@functools.lru_cache(maxsize=1)
def _bundled_fx() -> tuple[FxRate, ...]:
    return tuple(_fx_rows(_csv(_text("econ/fx.csv"), "suanli/data/econ/fx.csv", ("date", "base", "quote", "rate"))))


def load_fx(path: PathArg = None) -> FxTable:
    """Bundled FX rows plus a user file's rows (which win on the same date and pair)."""
    rows = list(_bundled_fx())
    if path is not None:
        text, suffix = _read_user(path)
        if suffix == ".json":
            try:
                data = parse_json(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})", field="json") from None
            data = data.get("fx") if isinstance(data, dict) else data
            if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
                raise ConfigError(f'{path}: expected a list of rows or {{"fx": [...]}}', field="fx")
            rows += _fx_rows((f"{path}: fx entry {i}", d) for i, d in enumerate(data, 1))
        else:
            rows += _fx_rows(_csv(text, str(path), ("date", "base", "quote", "rate")))
    return FxTable(rows)


# --- workloads ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    name: str
    isl: float
    osl: float
    ttft_ms: float | None
    tpot_ms: float | None
    source: str = ""

    def label(self) -> str:
        sla = ", ".join(x for x in (f"TTFT<={self.ttft_ms:g}ms" if self.ttft_ms else "",
                                    f"TPOT<={self.tpot_ms:g}ms" if self.tpot_ms else "") if x)
        return f"{self.name} ({self.isl:g}/{self.osl:g}{', ' + sla if sla else ''})"


@functools.lru_cache(maxsize=1)
def workload_presets() -> dict[str, Workload]:
    out = {}
    for where, r in _csv(_text("econ/workloads.csv"), "suanli/data/econ/workloads.csv", ("name", "isl", "osl")):
        opt = (lambda k: _number(r[k], where) if r.get(k) else None)  # noqa: E731
        out[r["name"]] = Workload(r["name"], _number(r["isl"], where), _number(r["osl"], where), opt("ttft_ms"),
                                  opt("tpot_ms"), f"{r.get('source', '')} -- {r.get('note', '')}")
    return out


def workload(name: str) -> Workload:
    presets = workload_presets()
    key = name.strip().lower()
    if key not in presets:
        raise InvalidInput(f"unknown workload {name!r} (presets: {', '.join(presets)}; or ISLxOSL like 2048x256)",
                           field="workload")
    return presets[key]


# --- prices -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PriceQuote:
    """A dated, sourced price picked from the data (or given by the user)."""

    money: Money
    unit: str            # "server", "gpu_hour" or "server_month"
    row: str             # which row: system id or "prices.csv line N"
    description: str
    source: str
    gpus: int | None = None
    note: str = ""

    def describe(self) -> str:
        return f"{self.money} per {self.unit.replace('_', '-')} -- {self.row}: {self.description} [{self.source}]"


_PARTIAL = re.compile(r"\b(module|kit|baseboard)\b", re.I)


def server_price_for(chip: str, systems: SystemCatalog, *, system: System | None = None) -> PriceQuote | None:
    """The latest dated price of a complete server built from ``chip`` (modules and kits
    without a host are skipped unless nothing else is priced); a price range gives its midpoint."""
    if system is not None:
        cands = [system] if system.price_mid is not None else []
    else:
        cands = [s for s in systems.for_gpu(chip) if s.price_mid is not None and s.currency and s.price_date]
        full = [s for s in cands if not _PARTIAL.search(s.name)]
        cands = full or cands
    dated = []
    for s in cands:
        try:
            dated.append((date_key(s.price_date), s))
        except SuanliError:
            continue
    if not dated:
        return None
    s = max(dated, key=lambda t: t[0])[1]
    assert s.price_low is not None and s.price_high is not None
    note = (f"range {s.price_low:,.0f}-{s.price_high:,.0f}: midpoint used" if s.price_low != s.price_high else "")
    if _PARTIAL.search(s.name):
        note = "; ".join(x for x in (note, "GPU module/kit without a host server") if x)
    return PriceQuote(money=Money((s.price_low + s.price_high) / 2, s.currency, s.price_date), unit="server", row=f"systems.csv {s.id}",
                      description=s.name, source=s.source_url, gpus=s.gpus, note=note)


@functools.lru_cache(maxsize=1)
def _price_rows() -> tuple[tuple[str, Mapping[str, str]], ...]:
    return tuple(_csv(_text("market/prices.csv"), "prices.csv",
                      ("date", "item", "item_kind", "price", "currency", "unit", "source_url")))


_LEASE_UNITS = {"per_gpu_hour": "gpu_hour", "per_server_month": "server_month"}


def lease_price_for(chip: str, catalog: HardwareCatalog) -> PriceQuote | None:
    """The latest lease / rental price for ``chip`` in prices.csv: China (CN) rows first,
    then the latest date, then the lowest price among rows of that date."""
    cands = []
    for where, r in _price_rows():
        unit = _LEASE_UNITS.get(r["unit"])
        if unit is None or r["item_kind"] not in ("lease", "cloud_on_demand", "cloud_reserved"):
            continue
        try:
            if catalog.resolve_id(r["item"]) != chip:
                continue
            money = Money(float(r["price"]), r["currency"], r["date"])
        except (SuanliError, ValueError):
            continue
        cands.append((r.get("region") == "CN", date_key(money.date), -money.amount, where, r, money, unit))
    if not cands:
        return None
    _, _, _, where, r, money, unit = max(cands, key=lambda t: t[:3])
    return PriceQuote(money=money, unit=unit, row=where, description=f"{r['item']}: {r.get('config', '')} "
                      f"({r['item_kind']}, {r.get('channel', '')}, {r.get('region', '')})", source=r["source_url"],
                      note=r.get("notes", ""))


def tdp_item(acc: Accelerator) -> Item:
    if acc.tdp_w is None:
        raise InvalidInput(f"{acc.id}: no TDP in the catalog: give --tdp-w", field="tdp_w")
    src = acc.assumed.get("tdp_w") or (acc.source_urls[0] if acc.source_urls else f"catalog ({acc.origin})")
    return Item(f"{acc.id} tdp_w", acc.tdp_w, "W per GPU", f"accelerators.csv {acc.id}: {src}")


__all__ = ["Default", "Defaults", "Item", "PriceQuote", "Workload", "lease_price_for", "load_defaults", "load_fx",
           "server_price_for", "tdp_item", "workload", "workload_presets"]
