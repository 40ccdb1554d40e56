"""The bundled market data (``suanli/data/market``) and how it seeds a new database.

``prices.csv`` (and suanli's additions in ``prices-research.csv``) becomes quotes (kind ``server`` rows whose configuration says "module"
become ``module`` quotes priced ``per_module``; notes that call a value an estimate,
rumour or approximate, or a ``rumoured`` flag, give ``low`` confidence), ``events.csv`` and
``events-research.csv`` events with their chips,
``systems.csv`` systems (a ``880000-1050000`` price is a low-high range).  Bundled rows go
through the same validation as imports; one that fails is a packaging bug and raises.
Seeding is idempotent (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import csv
import io
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from suanli.errors import ConfigError
from suanli.market import records, schema
from suanli.market.ingest import insert_ignore, insert_records

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

BUNDLED = ("prices.csv", "events.csv", "systems.csv", "prices-research.csv", "events-research.csv")


def bundled_files() -> list[tuple[str, bytes]]:
    root = files("suanli") / "data" / "market"
    return [(name, (root / name).read_bytes()) for name in BUNDLED]


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _check(name: str, line: int, reasons: list[str]) -> None:
    if reasons:
        raise ConfigError(f"bundled {name} line {line}: {'; '.join(reasons)}", field=name)


def bundled_quotes(data: bytes) -> list[dict[str, Any]]:
    ctx = records.Context(today=None)
    out = []
    for line, raw in enumerate(_rows(data), start=2):
        row = {"date": raw["date"], "item": raw["item"], "kind": raw["item_kind"],
               "configuration": raw["config"], "price": raw["price"], "currency": raw["currency"],
               "unit": raw["unit"], "channel": raw["channel"], "region": raw["region"],
               "source": raw["source_url"], "notes": raw["notes"],
               "confidence": "low" if raw.get("rumoured", "").strip().lower() == "true" else
               records.confidence_from_notes(raw["notes"] + " " + raw["config"])}
        if row["kind"] == "server" and "module" in row["configuration"].lower():
            row["kind"], row["unit"] = "module", "per_module"
        values, reasons = records.validate("quotes", row, ctx)
        _check("prices.csv", line, reasons)
        assert values is not None
        out.append(values)
    return out


def bundled_events(data: bytes) -> list[dict[str, Any]]:
    ctx = records.Context(today=None)
    out = []
    for line, raw in enumerate(_rows(data), start=2):
        row = {"date": raw["date"], "description": raw["event"], "kind": raw["kind"], "chips": raw["chips"],
               "region": raw["region"], "impact": raw["impact"], "source": raw["source_url"]}
        values, reasons = records.validate("events", row, ctx)
        _check("events.csv", line, reasons)
        assert values is not None
        out.append(values)
    return out


def bundled_systems(data: bytes) -> list[dict[str, Any]]:
    out = []
    for line, raw in enumerate(_rows(data), start=2):
        notes = raw["notes"].strip()
        try:
            low, high = _price_range(raw["price"])
            when: tuple[Any, str] = (None, "day")
            if low is not None:
                when = records.parse_date(raw["price_date"])
            elif raw["price_date"].strip():  # a date without a price ("2026-Q4 (planned)"): keep as text
                notes = f"{notes} [date: {raw['price_date'].strip()}]".strip()
            mem = float(raw["host_memory_gb"]) if raw["host_memory_gb"].strip() else None
            gpus = int(raw["gpus"]) if raw["gpus"].strip() else None
        except (ValueError, records.Bad) as exc:
            raise ConfigError(f"bundled systems.csv line {line}: {exc}", field="systems.csv") from None
        out.append({"id": raw["id"].strip(), "name": raw["name"].strip(), "gpus": gpus,
                    "gpu_id": raw["gpu_id"].strip(), "cpu": raw["cpu"].strip(), "host_memory_gb": mem,
                    "nics": raw["nics"].strip(), "price_low": low, "price_high": high,
                    "currency": raw["currency"].strip().upper() or None if low is not None else None,
                    "price_date": when[0], "date_precision": when[1],
                    "source": raw["source_url"].strip(), "notes": notes})
    return out


def _price_range(text: str) -> tuple[float | None, float | None]:
    text = text.strip()
    if not text:
        return None, None
    lo, sep, hi = text.partition("-")
    low = float(lo)
    return low, (float(hi) if sep else None)


def seed_bundled(conn: Connection) -> dict[str, int]:
    """Insert the bundled data (rows already present are skipped); rows added per table."""
    data = dict(bundled_files())
    added = {"quotes": insert_records(conn, "quotes", bundled_quotes(data["prices.csv"])
                                      + bundled_quotes(data["prices-research.csv"])),
             "events": insert_records(conn, "events", bundled_events(data["events.csv"])
                                      + bundled_events(data["events-research.csv"]))}
    rows = bundled_systems(data["systems.csv"])
    added["systems"] = len(insert_ignore(conn, schema.systems, rows, returning=(schema.systems.c.id,)))
    return added
