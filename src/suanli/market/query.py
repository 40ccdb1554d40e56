"""Read queries over the market database, returning frozen records.

Names match case-insensitively: ``item="h20"`` finds quotes whose item *or* chip is H20
(``H20``, ``H20 server``, an H20 module).  ``since`` / ``until`` take a date or
``YYYY[-MM[-DD]]`` text; ``until`` includes its whole period (``until="2025-06"`` is up to
30 June).  A quote stated for a month is stored at the month's first day, so it is found
by any ``since`` up to that day.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from suanli.errors import InvalidInput
from suanli.market import records, schema

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql import Select

    from suanli.market.db import Database


def _fmt(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@dataclass(frozen=True, kw_only=True)
class _Record:
    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        out = {k: _fmt(v) for k, v in raw.items()}
        if "date" in out and "date_precision" in out:
            out["date"] = records.format_date(raw["date"], out["date_precision"])
        if isinstance(out.get("chips"), tuple):
            out["chips"] = list(out["chips"])
        return out

    @classmethod
    def from_row(cls, row: Mapping[Any, Any], **extra: Any) -> Any:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names}, **extra)


@dataclass(frozen=True, kw_only=True)
class Quote(_Record):
    id: int
    date: dt.date
    date_precision: str
    item: str
    chip: str | None
    kind: str
    term: str
    configuration: str
    gpus: int | None
    price: float
    currency: str
    unit: str
    channel: str
    region: str
    source: str
    confidence: str
    notes: str


@dataclass(frozen=True, kw_only=True)
class Lease(_Record):
    id: int
    date: dt.date
    date_precision: str
    item: str
    chip: str | None
    configuration: str
    gpus: int | None
    units: int
    term_months: int
    start_date: dt.date | None
    price: float
    currency: str
    unit: str
    channel: str
    region: str
    lessor: str
    lessee: str
    source: str
    confidence: str
    notes: str


@dataclass(frozen=True, kw_only=True)
class Event(_Record):
    id: int
    date: dt.date
    date_precision: str
    kind: str
    description: str
    chips: tuple[str, ...]
    impact: str
    region: str
    source: str
    confidence: str


@dataclass(frozen=True, kw_only=True)
class InventoryLot(_Record):
    """One lot of stock: ``quantity`` units of ``item``, each holding ``gpus`` GPUs, bought
    at ``unit_cost`` (``currency``) on ``acquisition_date``, financed by ``financing`` at
    ``financing_rate`` per year (None: not stated / cash)."""

    id: int
    owner: str
    item: str
    chip: str | None
    kind: str
    configuration: str
    gpus: int
    quantity: int
    unit_cost: float
    currency: str
    acquisition_date: dt.date
    financing: str
    financing_rate: float | None
    location: str
    source: str
    notes: str

    @property
    def total_gpus(self) -> int:
        return self.quantity * self.gpus

    @property
    def cost_per_gpu(self) -> float:
        return self.unit_cost / self.gpus


@dataclass(frozen=True, kw_only=True)
class System(_Record):
    id: str
    name: str
    gpus: int | None
    gpu_id: str
    cpu: str
    host_memory_gb: float | None
    nics: str
    price_low: float | None
    price_high: float | None
    currency: str | None
    price_date: dt.date | None
    date_precision: str
    source: str
    notes: str


@dataclass(frozen=True, kw_only=True)
class CalibrationProfile(_Record):
    id: int
    name: str
    engine: str
    hardware: str
    model: str
    date: dt.date
    params: dict[str, Any]
    source: str
    notes: str


# --- date bounds ------------------------------------------------------------------------------

def since_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return records.parse_date(value)[0]
    except records.Bad as exc:
        raise InvalidInput(str(exc), field="since") from None


def until_date(value: date | str | None) -> date | None:
    """The last day of the period ``value`` names."""
    if value is None or isinstance(value, date):
        return value
    try:
        d, precision = records.parse_date(value)
    except records.Bad as exc:
        raise InvalidInput(str(exc), field="until") from None
    if precision == "year":
        return date(d.year, 12, 31)
    if precision == "month":
        return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])
    return d


def _check_choice(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    if value is None:
        return None
    key = value.strip().lower().replace("-", "_")
    key = records.CHANNEL_ALIASES.get(key, key) if name == "channel" else key
    allowed = tuple(allowed)
    if key not in allowed:
        raise InvalidInput(f"unknown {name} {value!r} (one of: {', '.join(a for a in allowed if a)})", field=name)
    return key


def _between(stmt: Select[Any], col: Any, since: date | str | None, until: date | str | None) -> Select[Any]:
    lo, hi = since_date(since), until_date(until)
    if lo is not None:
        stmt = stmt.where(col >= lo)
    if hi is not None:
        stmt = stmt.where(col <= hi)
    return stmt


# --- queries ---------------------------------------------------------------------------------

def quote_select(*, item: str | None = None, chip: str | None = None, kind: str | None = None,
                 channel: str | None = None, region: str | None = None, currency: str | None = None,
                 since: date | str | None = None, until: date | str | None = None) -> Select[Any]:
    """The SELECT behind :func:`quotes` (also used by the price index)."""
    from sqlalchemy import func, or_, select

    t = schema.quotes
    stmt = select(t)
    if item:
        key = item.strip().lower()
        stmt = stmt.where(or_(func.lower(t.c.item) == key, func.lower(t.c.chip) == key))
    if chip:
        stmt = stmt.where(func.lower(t.c.chip) == chip.strip().lower())
    if (k := _check_choice("kind", kind, schema.QUOTE_KINDS)) is not None:
        stmt = stmt.where(t.c.kind == k)
    if (c := _check_choice("channel", channel, schema.CHANNELS)) is not None:
        stmt = stmt.where(t.c.channel == c)
    if region:
        stmt = stmt.where(func.lower(t.c.region) == region.strip().lower())
    if currency:
        stmt = stmt.where(t.c.currency == currency.strip().upper())
    return _between(stmt, t.c.date, since, until)


def market_chips(db: Database, name: str | None = None, *, items: bool = True, most: int = 1000) -> list[str]:
    """Chip names the market data uses (quotes' chip and, with ``items``, item; events'
    chips), sorted; with ``name`` only those equal to it without case (empty: the market
    knows nothing of it)."""
    from sqlalchemy import func, select, union

    q, ec = schema.quotes, schema.event_chips
    parts = [select(q.c.chip.label("name")).where(q.c.chip.is_not(None)), select(ec.c.chip.label("name"))]
    if items:
        parts.append(select(q.c.item.label("name")))
    if name is not None:
        key = name.strip().lower()
        parts = [p.where(func.lower(p.selected_columns[0]) == key) for p in parts]
    names = union(*parts).subquery()
    with db.read() as conn:
        return list(conn.execute(select(names.c.name).order_by(names.c.name).limit(most)).scalars())


def quotes(db: Database, *, limit: int | None = None, **filters: Any) -> list[Quote]:
    """Quotes matching ``filters`` (see :func:`quote_select`), oldest first."""
    t = schema.quotes
    stmt = quote_select(**filters).order_by(t.c.date, t.c.item, t.c.price, t.c.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    with db.read() as conn:
        return [Quote.from_row(r._mapping) for r in conn.execute(stmt)]


def leases(db: Database, *, chip: str | None = None, since: date | str | None = None,
           until: date | str | None = None) -> list[Lease]:
    from sqlalchemy import func, select

    t = schema.leases
    stmt = select(t)
    if chip:
        stmt = stmt.where(func.lower(t.c.chip) == chip.strip().lower())
    stmt = _between(stmt, t.c.date, since, until).order_by(t.c.date, t.c.id)
    with db.read() as conn:
        return [Lease.from_row(r._mapping) for r in conn.execute(stmt)]


def events(db: Database, *, chip: str | None = None, kind: str | None = None, region: str | None = None,
           since: date | str | None = None, until: date | str | None = None) -> list[Event]:
    """Events, oldest first; ``chip`` keeps those tagged with that chip."""
    with db.read() as conn:
        return events_in(conn, chip=chip, kind=kind, region=region, since=since, until=until)


def events_in(conn: Connection, *, chip: str | None = None, kind: str | None = None, region: str | None = None,
              since: date | str | None = None, until: date | str | None = None) -> list[Event]:
    from sqlalchemy import func, select

    e, ec = schema.events, schema.event_chips
    ids = select(e.c.id)
    if chip:
        tagged = select(ec.c.event_id).where(func.lower(ec.c.chip) == chip.strip().lower())
        ids = ids.where(e.c.id.in_(tagged))
    if (k := _check_choice("kind", kind, schema.EVENT_KINDS)) is not None:
        ids = ids.where(e.c.kind == k)
    if region:
        ids = ids.where(func.lower(e.c.region) == region.strip().lower())
    ids = _between(ids, e.c.date, since, until)
    stmt = (select(e, ec.c.chip.label("tag")).outerjoin(ec, ec.c.event_id == e.c.id)
            .where(e.c.id.in_(ids)).order_by(e.c.date, e.c.id, ec.c.chip))
    rows: dict[int, dict[str, Any]] = {}
    for r in conn.execute(stmt):
        m = r._mapping
        entry = rows.setdefault(m["id"], {**{k: v for k, v in m.items() if k != "tag"}, "chips": []})
        if m["tag"] is not None:
            entry["chips"].append(m["tag"])
    return [Event.from_row({**v, "chips": tuple(v["chips"])}) for v in rows.values()]


def inventories(db: Database, *, owner: str | None = None, chip: str | None = None) -> list[InventoryLot]:
    """Inventory lots, by owner and acquisition date."""
    from sqlalchemy import func, select

    t = schema.inventories
    stmt = select(t)
    if owner:
        stmt = stmt.where(t.c.owner == owner)
    if chip:
        stmt = stmt.where(func.lower(t.c.chip) == chip.strip().lower())
    stmt = stmt.order_by(t.c.owner, t.c.acquisition_date, t.c.id)
    with db.read() as conn:
        return [InventoryLot.from_row(r._mapping) for r in conn.execute(stmt)]


def systems(db: Database) -> list[System]:
    from sqlalchemy import select

    with db.read() as conn:
        return [System.from_row(r._mapping) for r in conn.execute(select(schema.systems).order_by(schema.systems.c.id))]


def calibration_profiles(db: Database, *, name: str | None = None) -> list[CalibrationProfile]:
    """Stored calibration profiles (newest version of a name last)."""
    from sqlalchemy import select

    t = schema.calibration_profiles
    stmt = select(t).order_by(t.c.name, t.c.date, t.c.id)
    if name:
        stmt = stmt.where(t.c.name == name)
    with db.read() as conn:
        return [CalibrationProfile.from_row({**r._mapping, "params": json.loads(r.params)}) for r in conn.execute(stmt)]


def save_calibration_profile(db: Database, *, name: str, params: Mapping[str, Any], date_: date, source: str,
                             engine: str = "", hardware: str = "", model: str = "", notes: str = "") -> bool:
    """Store one calibration profile version; False if that exact version exists."""
    from suanli.market.ingest import insert_ignore

    if not name.strip() or not source.strip():
        raise InvalidInput("a calibration profile needs a name and a source", field="name")
    for field_name, text in (("name", name), ("engine", engine), ("hardware", hardware), ("model", model),
                             ("source", source), ("notes", notes.replace("\n", " ").replace("\t", " "))):
        if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text):
            raise InvalidInput(f"calibration profile {field_name} contains a control character", field=field_name)
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidInput(f"calibration parameter {key!r} must be a finite number, got {value!r}",
                               field="params")
    row = {"name": name.strip(), "engine": engine, "hardware": hardware, "model": model, "date": date_,
           "params": json.dumps(dict(params), sort_keys=True, allow_nan=False), "source": source, "notes": notes}
    with db.write() as conn:
        return bool(insert_ignore(conn, schema.calibration_profiles, [row]))
