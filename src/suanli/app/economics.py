"""Economics use cases: ``cost``, ``lease`` and ``fairprice``.

Here the performance search (:func:`suanli.app.compare.compare`), the pure economics
(:mod:`suanli.econ`) and the sourced data (:mod:`suanli.app.econ_data`) meet.  Every
amount is converted to one output currency with a dated FX row before it reaches
:mod:`suanli.econ`; every input, default, price row and FX rate used is recorded as an
:class:`~suanli.app.econ_data.Item` (name, value, unit, source), returned by each
result's ``explain()``.  Settings and shared helpers: :mod:`suanli.app.econ_context`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from suanli.app.econ_context import (Context, Server, context, lease_rate, parse_mix, perf_for, perf_item,
                                     prefill_share_for, price_of, resolve_server, resolve_workload, tco_inputs)
from suanli.app.econ_data import Item, PriceQuote, Workload
from suanli.app.availability import status
from suanli.app.price_book import no_price_reason
from suanli.econ.fairvalue import FairValueResult, OptionCost, fair_value, mix_gpu_hours_per_request
from suanli.econ.finance import (LessorResult, breakeven_months, breakeven_utilisation, lease_rate_for_irr,
                                 lessor_cashflows, lessor_economics)
from suanli.econ.money import Money
from suanli.econ.tco import HOURS_PER_MONTH, TcoResult, leased_per_utilised_gpu_hour, tco_per_gpu_hour
from suanli.econ.tokens import TokenCost, cost_per_million_tokens
from suanli.errors import InvalidInput

GRID_UTILISATION = (0.3, 0.5, 0.7, 0.9)
GRID_ELECTRICITY_FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5)


# --- cost ------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ChipCost:
    hardware: str
    name: str
    feasible: bool
    reason: str = ""
    deployment: str = ""
    output_tok_s_per_gpu: float | None = None
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    prefill_share: float | None = None
    server: str = ""
    gpus_per_server: int | None = None
    server_price: float | None = None
    tco: TcoResult | None = None
    owned: TokenCost | None = None
    lease_rate: float | None = None
    lease_unit: str | None = None
    leased: TokenCost | None = None
    breakeven_utilisation: float | None = None
    breakeven_months: float | None = None
    notes: tuple[str, ...] = ()          # economics: missing prices, TDP
    perf_notes: tuple[str, ...] = ()     # from the performance search (assumed specs, calibration)
    band: tuple[float, float] = (1.0, 1.0)       # the prediction's P10-P90 band (compare's ChipResult.band)
    server_quote: dict[str, Any] | None = None   # price book: basis, range, rumoured/assumed flags, source
    lease_quote: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("tco", "owned", "leased")}
        d.update(tco=self.tco.to_dict() if self.tco else None, owned=self.owned.to_dict() if self.owned else None,
                 leased=self.leased.to_dict() if self.leased else None, notes=list(self.notes),
                 perf_notes=list(self.perf_notes), server_quote=self.server_quote, lease_quote=self.lease_quote,
                 band=list(self.band))
        return d


@dataclass(frozen=True, kw_only=True)
class CostReport:
    model: str
    workload: Workload
    currency: str
    chips: tuple[ChipCost, ...]
    items: tuple[Item, ...]

    def explain(self) -> list[tuple[str, Any, str, str]]:
        return [(i.name, i.value, i.unit, i.source) for i in self.items]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "workload": vars(self.workload), "currency": self.currency,
                "chips": [c.to_dict() for c in self.chips], "explain": [i.to_dict() for i in self.items]}


def cost(model: str, chips: Sequence[str] | None = None, *, workload_name: str | None = None,
         isl: float | None = None, osl: float | None = None, ttft_ms: float | None = None,
         tpot_ms: float | None = None, system: str | None = None, server_price: Money | None = None,
         lease: tuple[Money, str] | None = None, prefill_share: float | None = None, ctx: Context | None = None,
         compare_kw: Mapping[str, Any] | None = None) -> CostReport:
    """Owned-TCO and leased cost per million tokens of each chip (default: compare's China-buyable
    chips plus H100/H200) at its best deployment under the SLA."""
    ctx = ctx or context()
    wl = resolve_workload(workload_name, isl=isl, osl=osl, ttft_ms=ttft_ms, tpot_ms=tpot_ms)
    ctx.add(Item("workload", wl.label(), "isl/osl tokens, latency targets", wl.source))
    if system is not None:
        chips = [ctx.systems.get(system).gpu_id]
    if (server_price is not None or lease is not None) and len(chips or ()) != 1:
        raise InvalidInput("a given server price or lease rate applies to one chip: name exactly one", field="hardware")
    perf = perf_for(model, [ctx.catalog.resolve_id(c) for c in chips] if chips else None, wl, compare_kw or {})
    rows = []
    for hw, c in perf.items():
        if not c.feasible:
            rows.append(ChipCost(hardware=hw, name=c.name, feasible=False, reason=c.reason))
            continue
        s = resolve_server(ctx, system or hw, price=server_price, require_tdp=False)
        rate = perf_item(ctx, c, wl)
        share, how = (prefill_share, "given (--prefill-share)") if prefill_share is not None else \
            prefill_share_for(model, c, wl, str((compare_kw or {}).get("engine", "vllm")))
        ctx.add(Item(f"{hw} prefill_share", share, "fraction of GPU time", how))
        notes, price = [], price_of(ctx, s, required=False)
        av = status(s.chip, ctx.as_of)
        if not av.obtainable:
            notes.append(f"not obtainable in China at {ctx.as_of}: {av.reason_text()} [{av.reason.source if av.reason else ''}]")
        tco = owned = leased = None
        u = ctx.default("utilisation")
        if price is not None and s.tdp_w <= 0:
            notes.append(f"no TDP for {hw} in the catalog: owned cost (power) not computed")
        elif price is not None:
            tco = tco_per_gpu_hour(tco_inputs(ctx, s, price))
            owned = cost_per_million_tokens(tco.per_gpu_hour_utilised, output_tok_s_per_gpu=rate, isl=wl.isl,
                                            osl=wl.osl, prefill_share=share, currency=ctx.currency)
        else:
            notes.append(no_price_reason(hw, alias_of(ctx, hw), catalog=ctx.catalog, systems=ctx.systems,
                                         as_of=ctx.as_of, what="server price") + " -- owned cost not computed")
        lz = lease_rate(ctx, s, lease)
        be_u = be_m = None
        if lz is not None:
            per_h = float(leased_per_utilised_gpu_hour(lz[0], lz[1], gpus_per_server=s.gpus, utilisation=u))
            leased = cost_per_million_tokens(per_h, output_tok_s_per_gpu=rate, isl=wl.isl, osl=wl.osl,
                                             prefill_share=share, currency=ctx.currency)
            if tco is not None:
                be_u, be_m = _buy_vs_lease(ctx, tco, lz[0], lz[1], s.gpus)
        else:
            notes.append(no_price_reason(hw, alias_of(ctx, hw), catalog=ctx.catalog, systems=ctx.systems,
                                         as_of=ctx.as_of, what="lease price"))
        rows.append(ChipCost(hardware=hw, name=c.name, feasible=True, deployment=c.config.get("description", ""),
                             output_tok_s_per_gpu=rate, ttft_ms=c.ttft_ms, tpot_ms=c.tpot_ms, prefill_share=share,
                             server=s.label, gpus_per_server=s.gpus, server_price=price, tco=tco, owned=owned,
                             lease_rate=lz[0] if lz else None, lease_unit=lz[1] if lz else None, leased=leased,
                             breakeven_utilisation=be_u, breakeven_months=be_m, notes=tuple(notes),
                             perf_notes=tuple(c.notes) + ((c.profile,) if c.profile else ()), band=(float(c.band[0]), float(c.band[1])),
                             server_quote=s.quote.to_dict() if s.quote else None,
                             lease_quote=_lease_dict(lz[2]) if lz else None))
    return CostReport(model=model, workload=wl, currency=ctx.currency, chips=tuple(rows),
                      items=tuple(ctx.items.values()))


def alias_of(ctx: Context, chip: str) -> str:
    """The first alias of a chip (what a user types: ``910B``, ``L20``), else its id."""
    acc = ctx.catalog.get(chip)
    return acc.aliases[0] if acc.aliases else acc.id


def _lease_dict(q: PriceQuote) -> dict[str, Any]:
    return {"amount": q.money.amount, "currency": q.money.currency, "date": q.money.date, "unit": q.unit,
            "row": q.row, "description": q.description, "source": q.source, "note": q.note}


def _buy_vs_lease(ctx: Context, tco: TcoResult, rate: float, unit: str, gpus: int) -> tuple[float | None, float | None]:
    per_gpu_hour = rate if unit == "gpu_hour" else rate / (HOURS_PER_MONTH * gpus)
    per_month = rate * gpus * HOURS_PER_MONTH if unit == "gpu_hour" else rate
    be_u = breakeven_utilisation(fixed_per_gpu_hour_wall=tco.fixed_per_gpu_hour_wall,
                                 variable_per_busy_gpu_hour=tco.variable_per_busy_gpu_hour,
                                 lease_per_gpu_hour=per_gpu_hour)
    be_m = breakeven_months(purchase_price=tco.inputs.server_price, own_cost_per_month=tco.opex_per_server_month,
                            lease_per_month=per_month, discount_rate_annual=ctx.default("discount_rate"))
    return be_u, be_m


# --- lease (lessor) ---------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class LeaseReport:
    server: str
    chip: str
    currency: str
    gpus_per_server: int
    server_price: float
    rent_per_server_month: float
    rent_per_gpu_hour: float
    term_months: int
    occupancy: float
    opex_per_server_month: float
    residual_value: float
    lessor: LessorResult
    target_irr: float
    rent_for_target_irr: float
    owner_tco: TcoResult
    lessee_breakeven_months: float | None
    lessee_breakeven_utilisation: float | None
    items: tuple[Item, ...]

    def explain(self) -> list[tuple[str, Any, str, str]]:
        return [(i.name, i.value, i.unit, i.source) for i in self.items]

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("lessor", "owner_tco", "items")}
        d.update(lessor=self.lessor.to_dict(), owner_tco=self.owner_tco.to_dict(),
                 explain=[i.to_dict() for i in self.items])
        return d


def lease(server: str, *, server_price: Money | None = None, rent: tuple[Money, str] | None = None,
          term_months: int | None = None, occupancy: float | None = None, target_irr: float | None = None,
          lessor_pays_power: bool = True, tdp_w: float | None = None, ctx: Context | None = None) -> LeaseReport:
    """A lessor buying ``server`` (system id or chip) and renting it out per month."""
    ctx = ctx or context()
    s = resolve_server(ctx, server, price=server_price, tdp_w=tdp_w)
    price = price_of(ctx, s)
    assert price is not None
    tco = tco_per_gpu_hour(tco_inputs(ctx, s, price))
    lz = lease_rate(ctx, s, rent)
    if lz is None:
        raise InvalidInput(f"no lease price for {s.chip.id} in prices.csv: give --lease-cny-server-month or "
                           f"--lease-cny-gpu-hour", field="lease")
    rate, unit, _ = lz
    rent_month = rate if unit == "server_month" else rate * s.gpus * HOURS_PER_MONTH
    if unit == "gpu_hour":
        ctx.add(Item("rent per server-month", rent_month, f"{ctx.currency}", f"GPU-hour rate x {s.gpus} GPUs x "
                     f"{HOURS_PER_MONTH:g} h/month (rented around the clock)"))
    n = int(term_months if term_months is not None else ctx.default("lease_term_months"))
    if term_months is not None:
        ctx.add(Item("lease_term_months", n, "months", "given (--term-months)"))
    occ = occupancy if occupancy is not None else ctx.default("lease_occupancy")
    if occupancy is not None:
        ctx.add(Item("lease_occupancy", occ, "fraction", "given (--occupancy)"))
    if n < 1:
        raise InvalidInput(f"lease term must be >= 1 month, got {n}", field="term_months")
    life_m = 12 * tco.inputs.life_years
    book = price * (1 - (1 - tco.inputs.residual_fraction) * min(n, life_m) / life_m)
    ctx.add(Item("residual value at end of term", book, ctx.currency, "straight-line book value: price x (1 - (1 - "
                 "residual_fraction) x term / life)"))
    b = tco.breakdown_wall
    opex = (b["maintenance"] + ((b["power"] + b["hosting"]) if lessor_pays_power else 0.0)) * s.gpus * HOURS_PER_MONTH
    ctx.add(Item("lessor opex per server-month", opex, ctx.currency, "maintenance" + (
        " + power + hosting (lessor hosts the server)" if lessor_pays_power else " (lessee pays power and hosting)")))
    disc = ctx.default("discount_rate")
    cf = lessor_cashflows(price=price, rent_per_month=rent_month, months=n, occupancy=occ, opex_per_month=opex,
                          residual_value=book)
    target = target_irr if target_irr is not None else disc
    ctx.add(Item("target_irr", target, "fraction per year", "given (--target-irr)" if target_irr is not None
                 else "= discount_rate"))
    need = lease_rate_for_irr(price=price, months=n, target_irr_annual=target, occupancy=occ, opex_per_month=opex,
                              residual_value=book)
    be_u, be_m = _buy_vs_lease(ctx, tco, rent_month, "server_month", s.gpus)
    return LeaseReport(server=s.label, chip=s.chip.id, currency=ctx.currency, gpus_per_server=s.gpus,
                       server_price=price, rent_per_server_month=rent_month,
                       rent_per_gpu_hour=rent_month / (s.gpus * HOURS_PER_MONTH), term_months=n, occupancy=occ,
                       opex_per_server_month=opex, residual_value=book,
                       lessor=lessor_economics(cf, discount_rate_annual=disc), target_irr=target,
                       rent_for_target_irr=need, owner_tco=tco, lessee_breakeven_months=be_m,
                       lessee_breakeven_utilisation=be_u, items=tuple(ctx.items.values()))


# --- fair price ----------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class FairPriceReport:
    model: str
    mix: tuple[tuple[Workload, float], ...]
    currency: str
    option: str
    vs: str
    option_gpus_per_server: int
    vs_price: float | None
    vs_basis: str
    option_tok_s_per_gpu: tuple[float, ...]
    vs_tok_s_per_gpu: tuple[float, ...]
    result: FairValueResult
    items: tuple[Item, ...]
    notes: tuple[str, ...] = ()      # e.g. an option not obtainable in China at as_of

    def explain(self) -> list[tuple[str, Any, str, str]]:
        return [(i.name, i.value, i.unit, i.source) for i in self.items]

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("mix", "result", "items", "notes")}
        d.update(mix=[{**vars(w), "weight": x} for w, x in self.mix], result=self.result.to_dict(),
                 explain=[i.to_dict() for i in self.items], notes=list(self.notes))
        return d


def fairprice(option: str, vs: str, *, model: str, mix: Sequence[tuple[Workload, float]],
              option_price: Money | None = None, option_price_ratio: float | None = None,
              vs_price: Money | None = None, vs_lease: tuple[Money, str] | None = None, option_speed: float = 1.0,
              option_tdp_w: float | None = None, grid_utilisation: Sequence[float] | None = None,
              grid_electricity: Sequence[float] | None = None, ctx: Context | None = None,
              compare_kw: Mapping[str, Any] | None = None) -> FairPriceReport:
    """Server price of ``option`` at which its cost per token equals ``vs``'s on the workload mix."""
    ctx = ctx or context()
    if not (math.isfinite(option_speed) and option_speed > 0):
        raise InvalidInput(f"--option-speed must be > 0, got {option_speed!r}", field="option_speed")
    x, y = resolve_server(ctx, option, tdp_w=option_tdp_w), resolve_server(ctx, vs, price=vs_price)
    for wl, share in mix:
        ctx.add(Item(f"workload {wl.name}", wl.label(), f"request share {share:.3g}", wl.source))
    rx: list[float] = []
    ry: list[float] = []
    profile_notes: dict[str, str] = {}
    for wl, _ in mix:
        perf = perf_for(model, [x.chip.id, y.chip.id], wl, compare_kw or {})
        for srv, out in ((x, rx), (y, ry)):
            c = perf[srv.chip.id]
            if c.profile:
                profile_notes.setdefault(srv.chip.id, c.profile)
            if not c.feasible:
                raise InvalidInput(f"{srv.chip.id} cannot serve {model} on {wl.label()}: {c.reason}", field="sla")
            out.append(perf_item(ctx, c, wl, option_speed if srv is x else 1.0))
    w = [m[1] for m in mix]
    osl, tokens = [m[0].osl for m in mix], sum(m[1] * (m[0].isl + m[0].osl) for m in mix)
    hx = mix_gpu_hours_per_request(weights=w, osl=osl, output_tok_s_per_gpu=rx)
    hy = mix_gpu_hours_per_request(weights=w, osl=osl, output_tok_s_per_gpu=ry)
    py = None
    if vs_lease is not None:
        lz = lease_rate(ctx, y, vs_lease)
        assert lz is not None
        yopt = OptionCost(name=y.label, gpu_hours_per_request=hy, tokens_per_request=tokens, lease_rate=lz[0],
                          lease_unit=lz[1], gpus_per_server=y.gpus)
        basis = f"leased at {lz[0]:,.4g} {ctx.currency} per {lz[1].replace('_', '-')}"
    else:
        py = price_of(ctx, y)
        assert py is not None
        yopt = OptionCost(name=y.label, gpu_hours_per_request=hy, tokens_per_request=tokens,
                          tco=tco_inputs(ctx, y, py))
        basis = f"owned at {py:,.0f} {ctx.currency}"
    asked = None
    if option_price is not None:
        x = Server(x.label, x.chip, x.system, x.gpus, PriceQuote(money=option_price, unit="server", row="given",
                   description="asked price given by the user", source="user input"), x.tdp_w)
    if option_price_ratio is not None:
        if py is None or not option_price_ratio > 0:
            raise InvalidInput("--option-price-ratio needs an owned --vs price and a ratio > 0", field="ratio")
        asked = py * option_price_ratio
        ctx.add(Item(f"{x.label} asked price", asked, ctx.currency, f"given ratio {option_price_ratio:g} x {y.label} price"))
    elif x.price is not None:
        asked = price_of(ctx, x)
    xopt = OptionCost(name=x.label, gpu_hours_per_request=hx, tokens_per_request=tokens,
                      tco=tco_inputs(ctx, x, asked if asked is not None else 0.0))
    assert xopt.tco is not None
    e0 = xopt.tco.electricity_price_per_kwh
    gu = tuple(grid_utilisation) if grid_utilisation else GRID_UTILISATION
    ge = tuple(grid_electricity) if grid_electricity else tuple(round(e0 * f, 6) for f in GRID_ELECTRICITY_FACTORS)
    ctx.add(Item("grid utilisation", list(gu), "fraction", "given" if grid_utilisation else "suanli default grid"))
    ctx.add(Item("grid electricity", list(ge), f"{ctx.currency}/kWh",
                 "given" if grid_electricity else "electricity default x 0.5, 0.75, 1, 1.25, 1.5"))
    res = fair_value(xopt, yopt, grid_utilisation=gu, grid_electricity=ge, x_asked_price=asked)
    notes = []
    for srv, role in ((x, "X"), (y, "Y")):
        av = status(srv.chip, ctx.as_of)
        if not av.obtainable:
            notes.append(f"{role} ({srv.chip.id}) was not obtainable in China at {ctx.as_of}: {av.reason_text()}")
    for role, srv in (("X", x), ("Y", y)):
        if srv.chip.id in profile_notes:
            notes.append(f"{role} ({srv.chip.id}): {profile_notes[srv.chip.id]}")
    return FairPriceReport(notes=tuple(notes), model=model, mix=tuple(mix), currency=ctx.currency, option=x.label, vs=y.label,
                           option_gpus_per_server=x.gpus, vs_price=py, vs_basis=basis,
                           option_tok_s_per_gpu=tuple(rx), vs_tok_s_per_gpu=tuple(ry), result=res,
                           items=tuple(ctx.items.values()))


__all__ = ["ChipCost", "Context", "CostReport", "FairPriceReport", "LeaseReport", "context", "cost", "fairprice",
           "lease", "parse_mix", "resolve_server", "resolve_workload", "tco_inputs"]
