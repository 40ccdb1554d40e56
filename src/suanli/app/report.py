"""The buyer report (the main job): for a default workload, the chips one can buy in China
ranked by cost per million tokens (owned and leased), what was obtainable at the date, and
one fair value of an 8-card server (default: the 8x H20 141GB server of the seed article)
against the cheapest alternative obtainable then.

Every chip of the list gets an owned or leased cost, or the reason it has none ("no public
price" and how to supply one); every chip carries ``obtainable`` and the dated, sourced event
that decides it (:mod:`suanli.app.availability`); only prices known at ``as_of`` are used
(:mod:`suanli.app.price_book`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from suanli.app.availability import Availability, status
from suanli.app.compare import default_chips
from suanli.app.econ_context import Context, context, price_of, resolve_server, resolve_workload, tco_inputs
from suanli.app.economics import ChipCost, alias_of, cost
from suanli.app.price_book import no_price_reason
from suanli.econ.fair_range import Alternative, fair_price_point, fair_price_range
from suanli.econ.money import Money
from suanli.errors import SuanliError
from suanli.specs.names import chip_label, display_name, short_name

DEFAULT_MODEL = "Qwen/Qwen3-32B"
DEFAULT_WORKLOAD = "chat"
H20_SERVER = "cn_h20_141gb_server_leiphone"      # the common 8xH20 141 GB configuration (no IB), 1.28 M CNY


@dataclass(frozen=True, kw_only=True)
class ReportChip:
    """One chip of the report: its cost, names, and whether it could be obtained at the date."""

    cost: ChipCost
    name: str                         # 'H20 141GB · 英伟达 H20 141GB'
    name_en: str
    name_zh: str | None
    availability: Availability
    no_price_reason: str | None = None

    @property
    def hardware(self) -> str:
        return self.cost.hardware

    @property
    def obtainable(self) -> bool:
        return self.availability.obtainable

    def best(self) -> tuple[float, str] | None:
        """(cheapest blended cost per million tokens, 'owned' | 'leased'), or None."""
        opts = [(t.blended_per_mtok, k) for k, t in (("owned", self.cost.owned), ("leased", self.cost.leased)) if t]
        return min(opts) if opts else None

    def to_dict(self) -> dict[str, Any]:
        a = self.availability
        d = self.cost.to_dict()
        best = self.best()
        d.update(name=self.name, name_en=self.name_en, name_zh=self.name_zh, obtainable=a.obtainable,
                 obtainable_state=a.state,
                 obtainable_reason={"text": a.reason_text(), **(a.reason.to_dict() if a.reason else {})},
                 availability_caveats=[c.to_dict() for c in a.caveats], no_price_reason=self.no_price_reason,
                 best_per_mtok=best[0] if best else None, best_basis=best[1] if best else None)
        return d


@dataclass(frozen=True, kw_only=True)
class AltRow:
    """The fair price of the option against one alternative (owned or leased)."""

    hardware: str
    name: str
    basis: str                    # owned | leased
    price_text: str
    blended_per_mtok: float
    fair_price: float
    p10: float
    p90: float
    cheapest_share: float         # of the range samples in which this alternative was the cheapest

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True, kw_only=True)
class FairValue:
    """One fair value of the option: the price at which its cost per token equals the cheapest
    alternative's obtainable at the date, with the P10-P90 range."""

    option: str
    option_name: str
    currency: str
    value: float | None
    p10: float | None
    p90: float | None
    against: str | None
    against_name: str | None
    against_basis: str | None
    asking: float | None
    asking_source: str | None
    ratio: float | None
    verdict: str
    alternatives: tuple[AltRow, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("alternatives", "notes")}
        d.update(difference=(self.asking - self.value) if self.asking is not None and self.value is not None else None,
                 alternatives=[a.to_dict() for a in self.alternatives], notes=list(self.notes))
        return d


@dataclass(frozen=True, kw_only=True)
class BuyerReport:
    model: str
    workload: str
    currency: str
    as_of: str
    chips: tuple[ReportChip, ...]
    fair_value: FairValue | None
    include_grey: bool = False
    explain: tuple[tuple[str, Any, str, str], ...] = field(default=())

    def ranked(self) -> list[ReportChip]:
        """Obtainable and priced chips by cheapest cost per million tokens, then priced chips
        not obtainable at the date, then unpriced ones (fastest first), then those that cannot serve."""
        def key(c: ReportChip) -> tuple[int, float]:
            best = c.best()
            if best is not None:
                return (0 if c.obtainable else 1, best[0])
            return (2 if c.cost.feasible else 3, -(c.cost.output_tok_s_per_gpu or 0.0))
        return sorted(self.chips, key=key)

    def left_out(self) -> list[dict[str, str]]:
        """Chips without a bar in the cost chart, and why."""
        out = []
        for c in self.ranked():
            if not c.cost.feasible:
                out.append({"hardware": c.hardware, "name": c.name, "why": f"cannot serve the workload: {c.cost.reason}"})
            elif c.best() is None:
                out.append({"hardware": c.hardware, "name": c.name, "why": c.no_price_reason or "no price"})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "workload": self.workload, "currency": self.currency, "as_of": self.as_of,
                "include_grey": self.include_grey, "chips": [c.to_dict() for c in self.ranked()],
                "fair_value": self.fair_value.to_dict() if self.fair_value else None, "left_out": self.left_out(),
                "explain": [dict(zip(("name", "value", "unit", "source"), e)) for e in self.explain]}


def short_money(amount: float | None, currency: str) -> str:
    """``1.28 M¥``, ``171 k¥``, ``$1.2 M``."""
    if amount is None:
        return "–"
    sign, x = ("-" if amount < 0 else ""), abs(amount)
    num = f"{x / 1e6:.3g} M" if x >= 1e6 else (f"{x / 1e3:.3g} k" if x >= 1e3 else f"{x:.3g} ")
    return f"{sign}{num}¥" if currency == "CNY" else f"{sign}${num.strip()}"


def buyer_report(model: str = DEFAULT_MODEL, *, workload: str = DEFAULT_WORKLOAD, chips: Sequence[str] | None = None,
                 option: str = H20_SERVER, currency: str = "CNY", as_of: str | None = None,
                 prices: Sequence[str] = (), include_grey: bool = False,
                 compare_kw: dict[str, Any] | None = None) -> BuyerReport:
    """The report at ``as_of`` (default today).  ``prices``: ``CHIP='AMOUNT CUR DATE [unit]'``
    strings for chips without a public price; ``include_grey``: count grey-market supply as
    obtainable (for the fair value's alternatives)."""
    ctx = context(currency=currency, as_of=as_of, prices=prices)
    wl = resolve_workload(workload)
    x = resolve_server(ctx, option)
    ids = [ctx.catalog.resolve_id(c) for c in chips] if chips else default_chips(ctx.catalog)
    if x.chip.id not in ids:
        ids.append(x.chip.id)
    rep = cost(model, ids, workload_name=workload, ctx=ctx, compare_kw=compare_kw)
    rows = []
    for c in rep.chips:
        acc = ctx.catalog.get(c.hardware)
        label = chip_label(acc)
        reason = None
        if c.feasible and c.owned is None and c.leased is None:
            reason = no_price_reason(c.hardware, alias_of(ctx, c.hardware), catalog=ctx.catalog, systems=ctx.systems,
                                     as_of=ctx.as_of)
            if c.server_price is not None:   # priced but no TDP: say so rather than "no public price"
                reason = "; ".join(n for n in c.notes if "TDP" in n) or reason
        rows.append(ReportChip(cost=c, name=display_name(acc), name_en=short_name(acc), name_zh=label["name_zh"],
                               availability=status(acc, ctx.as_of, include_grey=include_grey), no_price_reason=reason))
    fair = _fair_value(ctx, wl, rows, x, option, include_grey)
    return BuyerReport(model=rep.model, workload=wl.label(), currency=rep.currency, as_of=ctx.as_of,
                       chips=tuple(rows), fair_value=fair, include_grey=include_grey,
                       explain=tuple((i.name, i.value, i.unit, i.source) for i in ctx.items.values()))


def _in_currency(ctx: Context, amount: float, quote: dict[str, Any]) -> float:
    return ctx.fx.convert(Money(amount, quote["currency"], quote["date"]), ctx.currency).amount


def _alternatives(ctx: Context, rows: Sequence[ReportChip], option_chip: str,
                  include_grey: bool) -> list[tuple[ReportChip, str, Alternative, str]]:
    """(chip, basis, alternative, price text) for every obtainable, priced option but the server itself."""
    out = []
    for r in rows:
        c = r.cost
        if not c.feasible or not (r.obtainable or (include_grey and r.availability.state == "grey")):
            continue
        rate = float(c.output_tok_s_per_gpu or 0.0)
        band = _band(ctx, c)
        if c.owned is not None and c.tco is not None and c.hardware != option_chip and c.server_quote:
            q = c.server_quote
            lo, hi = _in_currency(ctx, q["low"], q), _in_currency(ctx, q["high"], q)
            flags = "".join(f", {f}" for f, on in (("rumoured", q["rumoured"]), ("assumed", q["assumed"])) if on)
            rng = f"; range {short_money(lo, ctx.currency)} to {short_money(hi, ctx.currency)}" if hi > lo else ""
            text = f"owned at {short_money(c.tco.inputs.server_price, ctx.currency)} ({q['basis']}, {q['date']}{flags}{rng})"
            out.append((r, "owned", Alternative(name=f"{c.hardware} owned", tok_s_per_gpu=rate, band=band,
                                                tco=c.tco.inputs, price_low=lo, price_high=hi), text))
        if c.leased is not None and c.lease_rate is not None and c.lease_unit:
            unit = c.lease_unit.replace("_", "-")
            q = c.lease_quote or {}
            text = f"leased at {c.lease_rate:,.4g} {ctx.currency} per {unit} ({q.get('date', '')})"
            out.append((r, "leased", Alternative(name=f"{c.hardware} leased", tok_s_per_gpu=rate, band=band,
                                                 lease_rate=c.lease_rate, lease_unit=c.lease_unit,
                                                 gpus_per_server=c.gpus_per_server or 8), text))
    return out


def _band(ctx: Context, c: ChipCost) -> tuple[float, float]:
    """The throughput band of a chip's prediction ((1, 1) where the search gives none)."""
    lo, hi = c.band
    return (float(lo), float(hi)) if 0 < lo <= hi else (1.0, 1.0)


def _fair_value(ctx: Context, wl: Any, rows: Sequence[ReportChip], x: Any, option: str,
                include_grey: bool) -> FairValue:
    name = display_name(x.chip)
    label = x.label if x.label != x.chip.id else name
    xrow = next((r for r in rows if r.hardware == x.chip.id), None)
    asking = price_of(ctx, x, required=False)
    src = f"{x.price.row}: {x.price.description} ({x.price.money.date})" if x.price is not None else None
    empty: dict[str, Any] = dict(option=label, option_name=name, currency=ctx.currency, p10=None, p90=None, against=None,
                 against_name=None, against_basis=None, asking=asking, asking_source=src, ratio=None)
    if xrow is None or not xrow.cost.feasible or not xrow.cost.output_tok_s_per_gpu:
        why = xrow.cost.reason if xrow else "not in the comparison"
        return FairValue(value=None, verdict=f"no fair value: {x.chip.id} cannot serve the workload ({why})",
                         **empty)
    if x.tdp_w <= 0:
        return FairValue(value=None, verdict=f"no fair value: no TDP for {x.chip.id} in the catalog", **empty)
    alts = _alternatives(ctx, rows, x.chip.id, include_grey)
    if not alts:
        return FairValue(value=None, verdict="no fair value: no obtainable alternative with a price at "
                         f"{ctx.as_of}", **empty)
    x_tco = tco_inputs(ctx, x, asking if asking is not None else 0.0)
    rate = float(xrow.cost.output_tok_s_per_gpu)
    u = ctx.default("utilisation")
    try:
        point, best, each = fair_price_point(x_tco, rate, [a for _, _, a, _ in alts], osl=wl.osl, lease_utilisation=u)
        rng = fair_price_range(x_tco, rate, _band(ctx, xrow.cost), [a for _, _, a, _ in alts], osl=wl.osl,
                               lease_utilisation=u)
    except SuanliError as exc:
        return FairValue(value=None, verdict=f"no fair value: {exc}", **empty)
    table = []
    for i, (r, basis, a, text) in enumerate(alts):
        per_mtok = (r.cost.owned if basis == "owned" else r.cost.leased).blended_per_mtok  # type: ignore[union-attr]
        table.append(AltRow(hardware=r.hardware, name=r.name, basis=basis, price_text=text, blended_per_mtok=per_mtok,
                            fair_price=each[i], p10=rng["each_p10"][i], p90=rng["each_p90"][i],  # type: ignore[index]
                            cheapest_share=rng["cheapest_share"][i]))  # type: ignore[index]
    table.sort(key=lambda t: t.fair_price)
    r, basis, _, text = alts[best]
    notes = []
    if point <= 0:
        notes.append(f"{name} costs more per token than {r.name} ({basis}) even at a price of zero: its power "
                     "and hosting alone exceed the alternative's cost")
    ratio = asking / point if asking is not None and point > 0 else None
    verdict = _verdict(ctx.currency, point, rng["p10"], rng["p90"], asking, ratio, f"{r.name}, {text}")  # type: ignore[arg-type]
    return FairValue(option=label, option_name=name, currency=ctx.currency, value=point, p10=rng["p10"],  # type: ignore[arg-type]
                     p90=rng["p90"], against=r.hardware, against_name=r.name, against_basis=f"{basis}: {text}",  # type: ignore[arg-type]
                     asking=asking, asking_source=src, ratio=ratio, verdict=verdict, alternatives=tuple(table),
                     notes=tuple(notes))


def _verdict(cur: str, value: float, p10: float, p90: float, asking: float | None, ratio: float | None,
             against: str) -> str:
    m = (lambda v: short_money(v, cur) if v >= 0 else "below zero")  # noqa: E731
    head = f"fair value {m(value)} (P10-P90 {m(p10)} to {m(p90)}) against {against}"
    if value <= 0:
        return f"no positive fair value: {head}"
    if asking is None or ratio is None:
        return f"{head}; no asking price known"
    diff = asking - value
    side = "above" if diff > 0 else "below"
    return f"asking {m(asking)} = {ratio:.2f}x fair value; {head}; asking price is {m(abs(diff))} {side}"


__all__ = ["AltRow", "BuyerReport", "FairValue", "ReportChip", "buyer_report", "short_money"]
