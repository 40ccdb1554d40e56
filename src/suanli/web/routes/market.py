"""Market page (``/market``): the price index of a chip by channel with its events overlaid,
and the quotes table with filters; its JSON twin is ``/market?format=json``.

The market store (:mod:`suanli.market`) is optional: without it the page says so, the
Chip page shows no price history, and ``/api/market/...`` is not mounted
(:mod:`.market_api`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Query, Request

from suanli.errors import SuanliError
from suanli.web import deps, figures
from suanli.web.errors import from_suanli
from suanli.web.render import page, wants_json

router = APIRouter(tags=["market"])

DEFAULT_CHIP = "H20"
QUOTE_LIMIT = 300


def available() -> bool:
    return deps.optional("suanli.market") is not None and deps.optional("suanli.app.market") is not None


def _db(request: Request) -> Any:
    from suanli.web.routes.market_api import market_db
    return market_db(request)


def market_chips(db: Any) -> list[str]:
    """The chip names the market data uses (quotes and events)."""
    from suanli.app import market

    names = {q.chip for q in market.quotes(db, limit=5000) if q.chip}
    names |= {c for e in market.events(db) for c in e.chips}
    return sorted(names)


def market_name(db: Any, name: str, acc: Any = None) -> str | None:
    """The market's name for a chip given by a market name, a catalog id or an alias
    ('910B', 'huawei_ascend_910b' -> 'Ascend 910B'), compared without case, '-', '_' or spaces."""
    from suanli.specs.accelerator import name_key

    by_key = {name_key(n): n for n in market_chips(db)}
    if acc is None and name_key(name) in by_key:
        return by_key[name_key(name)]
    if acc is None:
        cat = deps.catalog()
        acc = cat.get(name) if name in cat else None
    keys = [name_key(n) for n in ((acc.id, *acc.aliases) if acc is not None else (name,))]
    if acc is not None:  # the market often names a part 'Vendor Model' ('Ascend 910B')
        keys += [name_key(f"{acc.vendor.split()[0]} {a}") for a in acc.aliases] + [name_key(acc.name.split(" (")[0])]
    return next((by_key[k] for k in keys if k in by_key), None)


def chip_market(acc: Any, request: Request | None = None) -> dict[str, Any] | None:
    """Dated events and price quotes of one chip for the Chip page; None without market."""
    if not available() or request is None:
        return None
    from suanli.app import market

    db = _db(request)
    name = market_name(db, acc.id, acc)
    if name:
        events = market.events(db, chip=name)
        quotes = market.quotes(db, chip=name, limit=QUOTE_LIMIT)
        index = market.price_index(name, db, currency="CNY").to_dict() if quotes else None
        return {"market_chip": name,
                "events": [{"date": e.to_dict()["date"], "event": e.description, "kind": e.kind,
                            "source": e.source} for e in events],
                "prices": [q.to_dict() for q in quotes],
                "index": {k: v for k, v in index.items() if k != "events"} if index else None}
    return {"market_chip": None, "events": [], "prices": [], "index": None}


def market_data(request: Request, chip: str, channel: str | None, kind: str | None, since: str | None,
                currency: str) -> dict[str, Any]:
    """The one data dict behind ``/market`` and ``/market?format=json``."""
    if not available():
        return {"available": False, "chip": chip, "index": None, "quotes": [], "chips": [],
                "message": "market data is not available in this installation (suanli.market is missing)"}
    from suanli.app import market

    db = _db(request)
    chip = market_name(db, chip) or chip
    index = market.price_index(chip, db, currency=currency).to_dict()
    quotes = market.quotes(db, item=chip or None, channel=channel, kind=kind, since=since, limit=QUOTE_LIMIT)
    chips = market_chips(db)
    return {"available": True, "chip": chip, "currency": currency,
            "filters": {"channel": channel, "kind": kind, "since": since}, "index": index,
            "quotes": [q.to_dict() for q in quotes], "chips": chips}


@router.get("/market", include_in_schema=False)
def market_page(
    request: Request, chip: Annotated[str, Query(min_length=1, max_length=100)] = DEFAULT_CHIP,
    channel: Optional[Literal["oem", "dealer", "grey", "cloud", "marketplace"]] = None,
    kind: Optional[Literal["chip", "server", "module", "lease", "cloud", "token_api"]] = None,
    since: Optional[Annotated[str, Query(pattern=r"^\d{4}(-\d{2}){0,2}$")]] = None,
    currency: Literal["CNY", "USD"] = "CNY",
) -> Any:
    extra: dict[str, Any] = {}
    try:
        data = market_data(request, chip, channel, kind, since, currency)
    except SuanliError as exc:
        if wants_json(request):
            raise
        err = from_suanli(exc)
        extra["error"] = {"code": err.code, "message": err.message, "details": err.details}
        return page(request, "market.html", {"available": True, "chip": chip, "chips": [], "quotes": [],
                                             "index": None, "filters": {}}, status=err.status, extra=extra)
    if data["index"]:
        idx = data["index"]
        series = [{"name": f"{ch} ({idx['currency']} per GPU, weekly)", "dates": [p["week"] for p in s["points"]],
                   "values": [p["price"] for p in s["points"]]} for ch, s in idx["series"].items()]
        events = [{"date": _day(e["date"]), "event": e["description"]} for e in idx.get("events", [])]
        extra["figure"] = figures.price_index(series, events, f"{data['chip']}: price index per GPU with events")
    return page(request, "market.html", data, extra=extra)


def _day(d: str) -> str:
    """A plottable date for a month- or year-precision event date."""
    return d if len(d) == 10 else (d + "-01" if len(d) == 7 else d + "-01-01")
