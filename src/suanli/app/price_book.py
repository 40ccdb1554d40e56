"""Which price of a chip was known at a date: complete servers, supernodes, modules and
cards (turned into an 8-card server equivalent) and lease rates, each with its source.

Bundled data (found through ``importlib.resources``):

* ``suanli/data/hardware/systems.csv`` -- complete servers, GPU modules and supernodes;
* ``suanli/data/market/prices.csv`` (the project's researched prices, verbatim) and
  ``prices-research.csv`` (suanli's additions, with ``rumoured`` / ``assumed`` flags) --
  card prices and lease rates;
* ``suanli/data/market/supernodes.csv`` -- all-in power of a supernode (per card).

A server price is chosen in this order: a complete server (or a supernode, priced per card
and shown per 8-card equivalent), then a GPU module plus a host, then 8 cards plus a host;
within one kind the latest quote dated at or before ``as_of`` wins (quotes of the same date
and source form a range, whose midpoint is used).  The host price (``host_cny_per_server``
in ``suanli/data/econ/defaults.csv``) is a suanli derivation and flagged ``assumed``.  The
dispersion (``low`` / ``high``) spans the chosen quote's range and the other server-grade
quotes of the same chip from the 12 months before it -- the input to the fair value's
P10-P90 range.  A price the user gives (``--price CHIP='AMOUNT CUR DATE [unit]'``) wins.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass, field
from datetime import date as _date
from importlib.resources import files
from typing import Any, Mapping, Sequence

from suanli.econ.money import FxTable, Money, date_key
from suanli.errors import InvalidInput, SuanliError
from suanli.specs.accelerator import HardwareCatalog
from suanli.specs.system import System, SystemCatalog

EQUIVALENT_GPUS = 8          # a supernode is shown per 8-card equivalent
SUPERNODE_MIN_GPUS = 17      # more cards than one 16-card server: priced per card
PEER_WINDOW_DAYS = 365       # dispersion: other quotes from the year before the chosen one
UNITS = ("server", "card", "gpu-hour", "server-month")
_PARTIAL = re.compile(r"\b(module|kit|baseboard)\b", re.I)
_LEASE_UNITS = {"per_gpu_hour": "gpu_hour", "per_server_month": "server_month"}
_LEASE_KINDS = ("lease", "cloud_on_demand", "cloud_reserved")
HOW_TO_SUPPLY = {"server price": "supply one with --price {chip}='AMOUNT CUR DATE' (an 8-card server; or "
                                  "'AMOUNT CUR DATE card')",
                 "lease price": "supply one with --price {chip}='AMOUNT CUR DATE gpu-hour' (or server-month)",
                 "price": "supply one with --price {chip}='AMOUNT CUR DATE' (an 8-card server; or add card, "
                          "gpu-hour, server-month)"}


def _truthy(text: str | None) -> bool:
    return str(text or "").strip().lower() in ("true", "yes", "1")


def _days(text: str) -> int:
    y, m, d = date_key(text)
    return _date(y, m, d).toordinal()


def known_at(when: str, as_of: str | None) -> bool:
    """A quote dated ``when`` is known at ``as_of`` (a year or month counts from its first day)."""
    return as_of is None or date_key(when) <= date_key(as_of)


# --- bundled rows ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PriceRow:
    """One line of prices.csv or prices-research.csv."""

    where: str
    values: Mapping[str, str]
    rumoured: bool
    assumed: bool

    def __getitem__(self, key: str) -> str:
        return self.values.get(key, "") or ""


def _read(name: str) -> str:
    return (files("suanli") / "data" / "market" / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def price_rows() -> tuple[PriceRow, ...]:
    out = []
    for name in ("prices.csv", "prices-research.csv"):
        reader = csv.DictReader(io.StringIO(_read(name)))
        for row in reader:
            vals = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            text = f"{vals.get('notes', '')} {vals.get('config', '')}".lower()
            rumoured = _truthy(vals.get("rumoured")) or any(w in text for w in ("estimate", "rumour", "expected",
                                                                                  "low reliability", "unverified"))
            out.append(PriceRow(f"{name} line {reader.line_num}", vals, rumoured, _truthy(vals.get("assumed"))))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def supernode_power() -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO(_read("supernodes.csv")))
    return {r["system_id"].strip(): {k: (v or "").strip() for k, v in r.items()} for r in rows}


# --- results --------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ServerPrice:
    """A complete-server price (or its equivalent) of ``gpus`` cards, in its own currency."""

    chip: str
    money: Money
    gpus: int
    low: float
    high: float
    basis: str            # server | supernode | module + host | card x 8 + host | given
    row: str
    description: str
    source: str
    channel: str = ""
    rumoured: bool = False
    assumed: bool = False
    note: str = ""
    system: System | None = field(default=None, compare=False)
    power_w_per_gpu: float | None = None
    power_source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.money.amount, "currency": self.money.currency, "date": self.money.date,
                "gpus": self.gpus, "low": self.low, "high": self.high, "basis": self.basis, "row": self.row,
                "description": self.description, "source": self.source, "channel": self.channel,
                "rumoured": self.rumoured, "assumed": self.assumed, "note": self.note,
                "power_w_per_gpu": self.power_w_per_gpu}


@dataclass(frozen=True, kw_only=True)
class LeasePrice:
    chip: str
    money: Money
    unit: str             # gpu_hour | server_month
    low: float
    high: float
    row: str
    description: str
    source: str
    channel: str = ""
    region: str = ""
    rumoured: bool = False
    assumed: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.money.amount, "currency": self.money.currency, "date": self.money.date,
                "unit": self.unit, "low": self.low, "high": self.high, "row": self.row,
                "description": self.description, "source": self.source, "channel": self.channel,
                "region": self.region, "rumoured": self.rumoured, "assumed": self.assumed, "note": self.note}


@dataclass(frozen=True)
class GivenPrice:
    """A price the user supplies for one chip: ``unit`` one of :data:`UNITS`."""

    chip: str
    money: Money
    unit: str = "server"


@dataclass(frozen=True)
class Host:
    """Price of the host (CPUs, memory, chassis, NICs) added to cards or a module."""

    money: Money
    low: float
    high: float
    source: str


def parse_given(text: str, catalog: HardwareCatalog, *, field: str = "price") -> GivenPrice:
    """``CHIP='AMOUNT CUR DATE [server|card|gpu-hour|server-month]'`` -> GivenPrice."""
    chip, eq, rest = str(text).partition("=")
    if not eq or not chip.strip() or not rest.strip():
        raise InvalidInput(f"{field} {text!r}: expected CHIP='AMOUNT CURRENCY DATE [unit]', "
                           f"e.g. 910B='950000 CNY 2026-03'", field=field)
    parts = rest.strip().strip("'\"").split()
    unit = "server"
    if parts and parts[-1].lower().replace("_", "-") in UNITS:
        unit = parts.pop().lower().replace("_", "-")
    money = Money.parse(" ".join(parts), field=field)
    if money.amount <= 0:
        raise InvalidInput(f"{field} {text!r}: the amount must be > 0", field=field)
    return GivenPrice(catalog.resolve_id(chip.strip()), money, unit)


# --- candidates ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Cand:
    rank: int             # 0 complete server / supernode, 1 module + host, 2 cards + host
    when: str
    price: ServerPrice


def _fx_amount(fx: FxTable | None, money: Money, currency: str) -> float | None:
    if money.currency == currency:
        return money.amount
    if fx is None:
        return None
    try:
        return fx.convert(money, currency).amount
    except SuanliError:
        return None


def _system_candidates(chip: str, systems: SystemCatalog, host: Host | None) -> list[_Cand]:
    out = []
    for s in systems.for_gpu(chip):
        if s.price_low is None or s.price_high is None or not s.currency or not s.gpus:
            continue
        try:
            date_key(s.price_date)
        except SuanliError:
            continue
        lo, hi, note = s.price_low, s.price_high, ""
        if lo != hi:
            note = f"range {lo:,.0f}-{hi:,.0f}: midpoint used"
        common: dict[str, Any] = dict(chip=chip, row=f"systems.csv {s.id}", description=s.name, source=s.source_url, system=s)
        if s.gpus >= SUPERNODE_MIN_GPUS:
            per = EQUIVALENT_GPUS / s.gpus
            power = supernode_power().get(s.id)
            pw = float(power["power_w"]) / s.gpus if power and power.get("power_w") else None
            mid = (lo + hi) / 2 * per
            out.append(_Cand(0, s.price_date, ServerPrice(
                money=Money(mid, s.currency, s.price_date), gpus=EQUIVALENT_GPUS, low=lo * per, high=hi * per,
                basis="supernode", rumoured=bool(power and _truthy(power.get("rumoured"))),
                note="; ".join(x for x in (f"{s.gpus}-card supernode priced per card: {EQUIVALENT_GPUS}/{s.gpus} of "
                                           f"the system price", note) if x),
                power_w_per_gpu=pw, power_source=(f"supernodes.csv {s.id}: {power['source_url']} ({power['note']})"
                                                  if power else ""), **common)))
        elif _PARTIAL.search(s.name):
            if host is None or host.money.currency != s.currency:
                continue
            out.append(_Cand(1, s.price_date, ServerPrice(
                money=Money((lo + hi) / 2 + host.money.amount, s.currency, s.price_date), gpus=s.gpus,
                low=lo + host.low, high=hi + host.high, basis="module + host", assumed=True,
                note="; ".join(x for x in (note, f"GPU module without a host: + {host.money.amount:,.0f} "
                                                 f"{host.money.currency} host (assumed, {host.source})") if x),
                **common)))
        else:
            out.append(_Cand(0, s.price_date, ServerPrice(
                money=Money((lo + hi) / 2, s.currency, s.price_date), gpus=s.gpus, low=lo, high=hi, basis="server",
                note=note, **common)))
    return out


_GPU_COUNT = re.compile(r"\b(\d{1,3})\s*(?:x\b|-gpu\b|-card\b|gpu\b)", re.I)


def _row_server_candidates(chip: str, catalog: HardwareCatalog, host: Host | None) -> list[_Cand]:
    """``server`` rows of the price files (a GPU count in the configuration, e.g. ``8x H100``)."""
    groups: dict[tuple[str, str, str, int], list[tuple[PriceRow, Money]]] = {}
    for r in price_rows():
        if r["item_kind"] != "server" or r["unit"] != "per_server":
            continue
        m = _GPU_COUNT.search(r["config"])
        if m is None:
            continue
        try:
            if catalog.resolve_id(r["item"]) != chip:
                continue
            money = Money(float(r["price"]), r["currency"], r["date"])
        except (SuanliError, ValueError):
            continue
        module = bool(_PARTIAL.search(r["config"]))
        groups.setdefault((r["date"], r["source_url"], "module" if module else "server", int(m.group(1))),
                          []).append((r, money))
    out = []
    for (when, _src, kind, gpus), rows in groups.items():
        if gpus >= SUPERNODE_MIN_GPUS or gpus < 1:
            continue
        cur = rows[0][1].currency
        amounts = [mo.amount for _, mo in rows if mo.currency == cur]
        lo, hi = min(amounts), max(amounts)
        first = rows[0][0]
        common: dict[str, Any] = dict(chip=chip, gpus=gpus, row=first.where, description=first["config"], source=first["source_url"],
                      channel=first["channel"], rumoured=any(r.rumoured for r, _ in rows))
        rng = f"range {lo:,.0f}-{hi:,.0f}: midpoint used" if lo != hi else ""
        if kind == "server":
            out.append(_Cand(0, when, ServerPrice(money=Money((lo + hi) / 2, cur, when), low=lo, high=hi,
                                                  basis="server", note="; ".join(x for x in (rng, first["notes"]) if x),
                                                  **common)))
        elif host is not None and host.money.currency == cur:
            h = host.money.amount
            out.append(_Cand(1, when, ServerPrice(money=Money((lo + hi) / 2 + h, cur, when), low=lo + host.low,
                                                  high=hi + host.high, basis="module + host", assumed=True,
                                                  note="; ".join(x for x in (rng, f"GPU module without a host: + {h:,.0f}"
                                                                             f" {cur} host (assumed, {host.source})")
                                                                 if x), **common)))
    return out


def _card_candidates(chip: str, catalog: HardwareCatalog, host: Host | None, fx: FxTable | None) -> list[_Cand]:
    if host is None:
        return []
    groups: dict[tuple[str, str], list[tuple[PriceRow, Money]]] = {}
    for r in price_rows():
        if r["item_kind"] != "chip" or r["unit"] != "per_chip":
            continue
        try:
            if catalog.resolve_id(r["item"]) != chip:
                continue
            money = Money(float(r["price"]), r["currency"], r["date"])
        except (SuanliError, ValueError):
            continue
        groups.setdefault((r["date"], r["source_url"]), []).append((r, money))
    out = []
    n = EQUIVALENT_GPUS
    for (when, _src), rows in groups.items():
        cur = rows[0][1].currency
        amounts = [m.amount for _, m in rows if m.currency == cur]
        h = _fx_amount(fx, host.money, cur)
        if h is None:
            continue
        scale = h / host.money.amount if host.money.amount else 1.0
        lo, hi = min(amounts), max(amounts)
        first = rows[0][0]
        out.append(_Cand(2, when, ServerPrice(
            chip=chip, money=Money(n * (lo + hi) / 2 + h, cur, when), gpus=n, low=n * lo + host.low * scale,
            high=n * hi + host.high * scale, basis=f"card x {n} + host", row=first.where,
            description=f"{n} x {first['config']} + host", source=first["source_url"], channel=first["channel"],
            rumoured=any(r.rumoured for r, _ in rows), assumed=True,
            note=(f"{n} cards at {'%s-%s' % (f'{lo:,.0f}', f'{hi:,.0f}') if lo != hi else f'{lo:,.0f}'} {cur} "
                  f"+ host {h:,.0f} {cur} (assumed, {host.source})" + (f"; {first['notes']}" if first['notes'] else "")),
        )))
    return out


def server_price(chip: str, *, catalog: HardwareCatalog, systems: SystemCatalog, as_of: str | None,
                 host: Host | None = None, fx: FxTable | None = None,
                 given: Sequence[GivenPrice] = (), only_system: str | None = None) -> ServerPrice | None:
    """The server price of ``chip`` known at ``as_of`` (see the module docstring); None if none.
    ``only_system``: the price of that catalog system only."""
    for g in given:
        if g.chip != chip or g.unit not in ("server", "card"):
            continue
        if g.unit == "server":
            return ServerPrice(chip=chip, money=g.money, gpus=EQUIVALENT_GPUS, low=g.money.amount,
                               high=g.money.amount, basis="given", row="given", description="price given (--price)",
                               source="user input")
        h = _fx_amount(fx, host.money, g.money.currency) if host else None
        if h is None:
            raise InvalidInput(f"--price {chip}: a card price needs the host price in {g.money.currency}",
                               field="price")
        amount = EQUIVALENT_GPUS * g.money.amount + h
        return ServerPrice(chip=chip, money=Money(amount, g.money.currency, g.money.date), gpus=EQUIVALENT_GPUS,
                           low=amount, high=amount, basis=f"card x {EQUIVALENT_GPUS} + host", row="given",
                           description="card price given (--price ... card) + host", source="user input",
                           assumed=True, note=f"+ host {h:,.0f} {g.money.currency} (assumed)")
    if only_system is not None:
        pool = [c for c in _system_candidates(chip, systems, host) if c.price.system and c.price.system.id == only_system]
    else:
        pool = (_system_candidates(chip, systems, host) + _row_server_candidates(chip, catalog, host)
                + _card_candidates(chip, catalog, host, fx))
    cands = [c for c in pool if known_at(c.when, as_of)]
    if not cands:
        return None
    best = min(cands, key=lambda c: (c.rank, -_days(c.when), c.price.rumoured))
    chosen = best.price
    cur = chosen.money.currency
    lows, highs = [chosen.low], [chosen.high]
    for c in cands:
        if c is best or c.rank > max(best.rank, 1) or not (0 <= _days(best.when) - _days(c.when) <= PEER_WINDOW_DAYS):
            continue
        if c.price.gpus != chosen.gpus:
            continue
        lo = _fx_amount(fx, Money(c.price.low, c.price.money.currency, c.when), cur)
        hi = _fx_amount(fx, Money(c.price.high, c.price.money.currency, c.when), cur)
        if lo is not None and hi is not None:
            lows.append(lo)
            highs.append(hi)
    return ServerPrice(**{**{k: getattr(chosen, k) for k in chosen.__dataclass_fields__},
                          "low": min(lows), "high": max(highs)})


def lease_price(chip: str, *, catalog: HardwareCatalog, as_of: str | None,
                given: Sequence[GivenPrice] = ()) -> LeasePrice | None:
    """The lease rate of ``chip`` known at ``as_of``: China (CN) rows first, then the latest,
    then the lowest of that date; ``low`` / ``high`` over the same-unit rows of that region
    from the year before it."""
    for g in given:
        if g.chip == chip and g.unit in ("gpu-hour", "server-month"):
            unit = g.unit.replace("-", "_")
            return LeasePrice(chip=chip, money=g.money, unit=unit, low=g.money.amount, high=g.money.amount,
                              row="given", description="lease rate given (--price)", source="user input")
    cands = []
    for r in price_rows():
        row_unit = _LEASE_UNITS.get(r["unit"])
        if row_unit is None or r["item_kind"] not in _LEASE_KINDS:
            continue
        try:
            if catalog.resolve_id(r["item"]) != chip:
                continue
            money = Money(float(r["price"]), r["currency"], r["date"])
        except (SuanliError, ValueError):
            continue
        if not known_at(money.date, as_of):
            continue
        cands.append((r["region"] == "CN", _days(money.date), -money.amount, r, money, row_unit))
    if not cands:
        return None
    cn, day, _, r, money, unit = max(cands, key=lambda t: t[:3])
    peers = [m.amount for c, d, _, _, m, u in cands
             if c == cn and u == unit and m.currency == money.currency and 0 <= day - d <= PEER_WINDOW_DAYS]
    return LeasePrice(chip=chip, money=money, unit=unit, low=min(peers), high=max(peers), row=r.where,
                      description=f"{r['item']}: {r['config']} ({r['item_kind']}, {r['channel']}, {r['region']})",
                      source=r["source_url"], channel=r["channel"], region=r["region"], rumoured=r.rumoured,
                      assumed=r.assumed, note=r["notes"] + ("" if cn else "; not a China price"))


def first_known(chip: str, *, catalog: HardwareCatalog, systems: SystemCatalog) -> str | None:
    """Date of the earliest server, module, card or lease price of ``chip`` in the data."""
    dates = [c.when for c in _system_candidates(chip, systems, Host(Money(1, "CNY", "2000"), 0, 0, ""))]
    for r in price_rows():
        if r["item_kind"] in ("chip", *_LEASE_KINDS):
            try:
                if catalog.resolve_id(r["item"]) == chip:
                    date_key(r["date"])
                    dates.append(r["date"])
            except SuanliError:
                continue
    return min(dates, key=date_key) if dates else None


def no_price_reason(chip: str, alias: str, *, catalog: HardwareCatalog, systems: SystemCatalog,
                    as_of: str | None, what: str = "price") -> str:
    """``no public price`` and why (none at all / none known yet at ``as_of``), and how to supply one."""
    first = first_known(chip, catalog=catalog, systems=systems)
    if first is not None and as_of is not None and not known_at(first, as_of):
        why = f"no public {what} known at {as_of} (earliest in the data: {first})"
    else:
        why = f"no public {what}"
    return f"{why}: {HOW_TO_SUPPLY.get(what, HOW_TO_SUPPLY['price']).format(chip=alias)}"


def host_from(values: Mapping[str, float], currency: str, date: str, source: str) -> Host:
    return Host(Money(values["host"], currency, date), values["low"], values["high"], source)


__all__ = ["EQUIVALENT_GPUS", "GivenPrice", "Host", "LeasePrice", "PriceRow", "ServerPrice", "first_known",
           "host_from", "known_at", "lease_price", "no_price_reason", "parse_given", "price_rows", "server_price",
           "supernode_power"]
