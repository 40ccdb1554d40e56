"""Market use cases: what the CLI, the web API and the dealer plan call.

Every function takes ``db``: an open :class:`~suanli.market.db.Database`, a URL / SQLite
path, or None (``$SUANLI_DATABASE_URL``, else the default SQLite file, created and seeded
on first use).  Long-running callers (web) open the database once with :func:`open_market`
and pass it; one-shot callers pass the URL.

For the dealer plan, :func:`dealer_market` returns in one object what the market holds
about a chip for an owner: inventory lots, the weekly per-GPU price index by channel and
the chip's dated events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from suanli.app import params as P
from suanli.errors import InvalidInput
from suanli.market import query
from suanli.market.db import Database, location, open_db, schema_version
from suanli.market.index import PriceIndex
from suanli.market.index import price_index as _price_index
from suanli.market.pricing import HostCostModel, IndexPoint, IndexSeries

DbArg = Database | str | None


def open_market(db: DbArg = None) -> Database:
    """An open, migrated and seeded market database."""
    return db if isinstance(db, Database) else open_db(db)


def _with_db(db: DbArg) -> tuple[Database, bool]:
    """(database, whether we opened it and must dispose of it)."""
    return (db, False) if isinstance(db, Database) else (open_db(db), True)


class _Session:
    def __init__(self, db: DbArg) -> None:
        self.db, self._own = _with_db(db)

    def __enter__(self) -> Database:
        return self.db

    def __exit__(self, *exc: Any) -> None:
        if self._own:
            self.db.dispose()


# --- database administration ----------------------------------------------------------------

def table_counts(db: Database) -> dict[str, int]:
    from sqlalchemy import func, select

    from suanli.market import schema

    with db.read() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
                for t in schema.ALL_TABLES if t.name not in ("market_meta",)}


def db_status(db: DbArg = None) -> dict[str, Any]:
    """Location, dialect, schema version and row counts (creating the database if new)."""
    with _Session(db) as d:
        with d.read() as conn:
            version = schema_version(conn)
        return {"location": location(d.url), "url": d.display_url, "dialect": d.dialect, "schema": version,
                "rows": table_counts(d)}


def db_location(db: str | None = None) -> dict[str, str]:
    """Where the database is, without opening or creating it."""
    from suanli.market.db import redact, resolve_url

    return {"location": location(db), "url": redact(resolve_url(db))}


def _url(db: DbArg) -> str | None:
    return db.url if isinstance(db, Database) else db


def backup(path: str | Path, db: DbArg = None) -> dict[str, Any]:
    """Write the whole database to ``path`` (``.json`` / ``.json.gz``; checked before the
    database is opened: never over the database's own files)."""
    from suanli.market.backup import backup as _backup
    from suanli.market.backup import check_backup_path

    check_backup_path(path, _url(db))
    with _Session(db) as d:
        return _backup(d, path).to_dict()


def restore(path: str | Path, db: DbArg = None) -> dict[str, Any]:
    from suanli.market.backup import restore as _restore

    with _Session(db) as d:
        return _restore(d, path).to_dict()


# --- import / export ------------------------------------------------------------------------

def import_file(path: str | Path, db: DbArg = None, *, kind: str | None = None, dry_run: bool = False,
                today: date | None = None) -> Any:
    """Validate and import one CSV/JSON file (all or nothing, idempotent); an
    :class:`~suanli.market.ingest.ImportResult`."""
    from suanli.market.ingest import import_file as _import

    with _Session(db) as d:
        return _import(d, path, kind=kind, dry_run=dry_run, today=today)


def export(kind: str = "quotes", db: DbArg = None, *, fmt: str | None = None, out: str | Path | None = None,
           **filters: Any) -> str:
    """The export text; written to ``out`` when given (format from its suffix unless ``fmt``)."""
    from suanli.files import atomic_write, check_output
    from suanli.market.db import database_files
    from suanli.market.export import export_text

    p = None
    if out is not None:
        p = Path(out).expanduser()
        if fmt is None:
            fmt = "json" if p.suffix.lower() == ".json" else "csv"
        if fmt in ("csv", "json"):  # an unknown format is export_text's error
            check_output(p, suffixes=(f".{fmt}",), field="out", what=f"{fmt.upper()} export",
                         protected=database_files(_url(db)))
    fmt = fmt or "csv"
    with _Session(db) as d:
        text = export_text(d, kind, fmt, **filters)
    if p is not None:
        atomic_write(p, text)
    return text


# --- queries --------------------------------------------------------------------------------

def quotes(db: DbArg = None, *, item: str | None = None, chip: str | None = None, kind: str | None = None,
           channel: str | None = P.CHANNEL.default, region: str | None = None, currency: str | None = None,
           since: str | None = P.SINCE.default, until: str | None = P.UNTIL.default,
           limit: int | None = None) -> list[query.Quote]:
    """Price quotes matching the filters (market filters declared in :mod:`suanli.app.params`), oldest first."""
    with _Session(db) as d:
        return query.quotes(d, item=item, chip=chip, kind=kind, channel=channel, region=region, currency=currency,
                            since=since, until=until, limit=limit)


def events(db: DbArg = None, *, chip: str | None = None, kind: str | None = None, region: str | None = None,
           since: str | None = P.SINCE.default, until: str | None = P.UNTIL.default) -> list[query.Event]:
    """Market events, oldest first; ``chip`` keeps those tagged with that chip."""
    with _Session(db) as d:
        return query.events(d, chip=chip, kind=kind, region=region, since=since, until=until)


def inventories(db: DbArg = None, *, owner: str | None = None, chip: str | None = None) -> list[query.InventoryLot]:
    with _Session(db) as d:
        return query.inventories(d, owner=owner, chip=chip)


def price_index(chip: str, db: DbArg = None, *, channel: str | None = None, measure: str = "purchase",
                currency: str | None = None, fx: Mapping[str, float] | None = None,
                since: date | str | None = None, until: date | str | None = None,
                host_model: HostCostModel | None = None) -> PriceIndex:
    """The weekly per-GPU price index of ``chip`` by channel, with its events.  A chip the
    market data never names and the hardware catalog does not know is an error (a typo
    must not read as "no quotes")."""
    with _Session(db) as d:
        check_chip(d, chip)
        return _price_index(d, chip, channel=channel, measure=measure, currency=currency, fx=fx, since=since,
                            until=until, host_model=host_model)


def check_chip(db: Database, chip: str) -> None:
    """:class:`UnknownHardware` unless the market data or the hardware catalog knows ``chip``."""
    from suanli.errors import UnknownHardware
    from suanli.specs.accelerator import closest_ids, load_hardware, name_key

    if not chip or not chip.strip() or query.market_chips(db, chip):
        return  # an empty name is the index's own error
    if chip in load_hardware():
        return
    names = query.market_chips(db, items=False)
    raise UnknownHardware(f"no quotes or events for {chip!r} in the market data and no such accelerator; "
                          f"closest chips in the market data: {closest_ids(chip, {name_key(n): n for n in names})}",
                          field="chip")


def parse_fx(pairs: list[str] | None) -> dict[str, float]:
    """``["USD=7.1", "HKD=0.92"]`` -> ``{"USD": 7.1, "HKD": 0.92}`` (index-currency units per unit)."""
    out: dict[str, float] = {}
    for pair in pairs or []:
        code, sep, value = pair.partition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = float("nan")
        if not sep or len(code.strip()) != 3 or not rate > 0:
            raise InvalidInput(f"bad exchange rate {pair!r}: use CODE=RATE, e.g. USD=7.1", field="fx")
        out[code.strip().upper()] = rate
    return out


# --- the dealer plan's view of the market ---------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class DealerMarket:
    """What the market database says about one chip for one owner.

    * ``lots``: the owner's inventory of the chip (units, GPUs per unit, unit cost,
      currency, acquisition date, financing and its annual rate).
    * ``index``: the weekly per-GPU purchase-price index by channel (``index.series``),
      in ``index.currency``; ``price_series(channel)`` gives it gap-free.
    * ``rent``: the per-GPU-hour rent index (lease and cloud quotes), same currency rules.
    * ``events``: the chip's dated events, oldest first.
    """

    chip: str
    owner: str | None
    lots: tuple[query.InventoryLot, ...]
    index: PriceIndex
    rent: PriceIndex

    @property
    def events(self) -> tuple[query.Event, ...]:
        return self.index.events

    @property
    def gpus_in_stock(self) -> int:
        return sum(lot.total_gpus for lot in self.lots)

    def price_series(self, channel: str = "dealer", until: date | None = None) -> list[IndexPoint]:
        series: IndexSeries | None = self.index.series.get(channel)
        return series.filled(until) if series is not None else []

    def latest_price(self, channel: str = "dealer") -> IndexPoint | None:
        series = self.index.series.get(channel)
        return series.latest if series is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"chip": self.chip, "owner": self.owner, "gpus_in_stock": self.gpus_in_stock,
                "lots": [lot.to_dict() for lot in self.lots], "index": self.index.to_dict(),
                "rent": self.rent.result.to_dict()}


def dealer_market(chip: str, db: DbArg = None, *, owner: str | None = None, currency: str = "CNY",
                  fx: Mapping[str, float] | None = None, since: date | str | None = None,
                  host_model: HostCostModel | None = None) -> DealerMarket:
    """Inventory, price index and events of ``chip`` (see :class:`DealerMarket`)."""
    with _Session(db) as d:
        lots = tuple(query.inventories(d, owner=owner, chip=chip))
        idx = _price_index(d, chip, currency=currency, fx=fx, since=since, host_model=host_model)
        rent = _price_index(d, chip, measure="rent", currency=currency, fx=fx, since=since, with_events=False)
    return DealerMarket(chip=chip, owner=owner, lots=lots, index=idx, rent=rent)
