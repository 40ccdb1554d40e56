"""The price index read from the database: a chip's quotes in, weekly per-GPU series and
the chip's events out (the computation itself is :mod:`suanli.market.pricing`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Mapping

from suanli.errors import InvalidInput
from suanli.market import schema
from suanli.market.pricing import (
    MEASURES,
    PURCHASE_KINDS,
    RENT_KINDS,
    HostCostModel,
    IndexResult,
    ObservationColumns,
    compute_index,
)
from suanli.market.query import Event, events_in, quote_select

if TYPE_CHECKING:
    from suanli.market.db import Database


@dataclass(frozen=True, kw_only=True)
class PriceIndex:
    """A chip's weekly per-GPU price series by channel, with the chip's events."""

    result: IndexResult
    events: tuple[Event, ...]

    @property
    def chip(self) -> str:
        return self.result.chip

    @property
    def currency(self) -> str:
        return self.result.currency

    @property
    def series(self) -> dict[str, Any]:
        return self.result.series

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "events": [e.to_dict() for e in self.events]}


def load_observations(db: Database, chip: str, *, measure: str = "purchase", channel: str | None = None,
                      since: date | str | None = None, until: date | str | None = None) -> ObservationColumns:
    """The chip's purchase (or rent) quotes as columns.  Read through the driver's cursor
    (the statement compiled by SQLAlchemy, values bound): per-row result processing would
    cost more than the whole index."""
    from sqlalchemy import func

    t = schema.quotes
    kinds = PURCHASE_KINDS if measure == "purchase" else RENT_KINDS
    stmt = quote_select(chip=chip, channel=channel, since=since, until=until).where(t.c.kind.in_(kinds))
    stmt = stmt.with_only_columns(t.c.id, t.c.date, t.c.channel, t.c.kind, t.c.unit, t.c.price, t.c.currency,
                                  func.coalesce(t.c.gpus, 0), t.c.confidence)
    with db.read() as conn:
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = compiled.construct_params()
        args: Any = tuple(params[k] for k in compiled.positiontup or []) if compiled.positional else params
        if conn.dialect.name == "sqlite":  # bound dates as ISO text, as SQLAlchemy's Date type stores them
            args = tuple(a.isoformat() if isinstance(a, date) else a for a in args)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(str(compiled), args)
            rows = cursor.fetchall()
        finally:
            cursor.close()
    return ObservationColumns.from_rows(rows)


def price_index(db: Database, chip: str, *, channel: str | None = None, measure: str = "purchase",
                currency: str | None = None, fx: Mapping[str, float] | None = None,
                since: date | str | None = None, until: date | str | None = None,
                host_model: HostCostModel | None = None, with_events: bool = True) -> PriceIndex:
    """The weekly per-GPU price index of ``chip`` (see :mod:`suanli.market.pricing`)."""
    if not chip or not chip.strip():
        raise InvalidInput("give a chip (e.g. H20)", field="chip")
    if measure not in MEASURES:
        raise InvalidInput(f"unknown measure {measure!r} (one of: {', '.join(MEASURES)})", field="measure")
    cur = currency.strip().upper() if currency else None
    if cur is not None:
        from sqlalchemy import select

        with db.read() as conn:
            known = sorted(conn.execute(select(schema.currencies.c.code)).scalars())
        if cur not in known:
            raise InvalidInput(f"unknown currency {currency!r} (known: {', '.join(known)})", field="currency")
    fx_up = {k.strip().upper(): float(v) for k, v in (fx or {}).items()}
    for k, v in fx_up.items():
        if not v > 0:
            raise InvalidInput(f"exchange rate for {k} must be > 0", field="fx")
    obs = load_observations(db, chip, measure=measure, channel=channel, since=since, until=until)
    result = compute_index(obs, chip=chip.strip(), measure=measure, currency=cur, fx=fx_up, host_model=host_model)
    evs: tuple[Event, ...] = ()
    if with_events:
        with db.read() as conn:
            evs = tuple(events_in(conn, chip=chip, since=since, until=until))
    return PriceIndex(result=result, events=evs)
