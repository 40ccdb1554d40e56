"""Export of market records as CSV or JSON in the import format: importing an export into
the same database adds nothing, into another one copies the records."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any, Iterable

from suanli.errors import InvalidInput
from suanli.market import query

if TYPE_CHECKING:
    from suanli.market.db import Database

COLUMNS: dict[str, tuple[str, ...]] = {
    "quotes": ("date", "item", "chip", "kind", "term", "configuration", "gpus", "price", "currency", "unit",
               "channel", "region", "source", "confidence", "notes"),
    "leases": ("date", "item", "chip", "configuration", "gpus", "units", "term_months", "start_date", "price",
               "currency", "unit", "channel", "region", "lessor", "lessee", "source", "confidence", "notes"),
    "events": ("date", "kind", "description", "chips", "impact", "region", "source", "confidence"),
    "inventories": ("owner", "item", "chip", "kind", "configuration", "gpus", "quantity", "unit_cost", "currency",
                    "acquisition_date", "financing", "financing_rate", "location", "source", "notes"),
    "systems": ("id", "name", "gpus", "gpu_id", "cpu", "host_memory_gb", "nics", "price_low", "price_high",
                "currency", "price_date", "date_precision", "source", "notes"),
    "calibration": ("name", "engine", "hardware", "model", "date", "params", "source", "notes"),
}
EXPORT_KINDS = tuple(COLUMNS)
IMPORTABLE = ("quotes", "leases", "events", "inventories")


def records(db: Database, kind: str, **filters: Any) -> list[dict[str, Any]]:
    """The records of ``kind`` as import-format dicts (dates at their precision)."""
    if kind == "quotes":
        items: Iterable[Any] = query.quotes(db, **filters)
    elif kind == "leases":
        items = query.leases(db, **filters)
    elif kind == "events":
        items = query.events(db, **filters)
    elif kind == "inventories":
        items = query.inventories(db, **filters)
    elif kind == "systems":
        items = query.systems(db)
    elif kind == "calibration":
        items = query.calibration_profiles(db)
    else:
        raise InvalidInput(f"unknown kind {kind!r} (one of: {', '.join(EXPORT_KINDS)}, all)", field="kind")
    cols = COLUMNS[kind]
    return [{c: d.get(c) for c in cols} for d in (i.to_dict() for i in items)]


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, (list, tuple)):
        return ";".join(map(str, v))
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    return str(v)


def to_csv(kind: str, rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS[kind])
    for r in rows:
        w.writerow([_csv_cell(r[c]) for c in COLUMNS[kind]])
    return buf.getvalue()


def to_json(sections: dict[str, list[dict[str, Any]]]) -> str:
    return json.dumps(sections, ensure_ascii=False, indent=1) + "\n"


def export_text(db: Database, kind: str = "quotes", fmt: str = "csv", **filters: Any) -> str:
    """The export of ``kind`` (or ``all`` importable kinds, JSON only) in ``fmt``."""
    if fmt not in ("csv", "json"):
        raise InvalidInput(f"unknown format {fmt!r} (csv or json)", field="format")
    if kind == "all":
        if fmt != "json":
            raise InvalidInput("--kind all needs JSON (--format json or an --out FILE.json)", field="kind")
        return to_json({k: records(db, k) for k in IMPORTABLE})
    rows = records(db, kind, **filters)
    return to_csv(kind, rows) if fmt == "csv" else to_json({kind: rows})
