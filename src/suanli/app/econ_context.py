"""Shared pieces of the economics use cases: settings and trace, servers, prices, workloads.

:class:`Context` holds the output currency, the defaults (bundled, user file, flags), the
FX table and the catalogs, and records every :class:`~suanli.app.econ_data.Item` used so
that each result can explain every number it prints.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date as _today_date
from typing import Any, Mapping, Sequence

from suanli.app.compare import ChipResult, compare
from suanli.app import price_book
from suanli.app.econ_data import Defaults, Item, PriceQuote, Workload, load_defaults, load_fx, tdp_item, workload
from suanli.app.predict import predict
from suanli.econ.money import FxTable, Money, check_currency, check_date
from suanli.econ.tco import TcoInputs
from suanli.econ.tokens import prefill_share_aggregated, prefill_share_disaggregated, prefill_share_from_rates
from suanli.errors import InvalidInput, SuanliError, UnknownHardware
from suanli.specs.accelerator import Accelerator, HardwareCatalog, closest_ids, load_hardware, name_key
from suanli.specs.system import System, SystemCatalog, load_systems

_MONEY_UNIT = re.compile(r"^(CNY|USD)\b")


@dataclass
class Context:
    """Resolved settings plus the trace of every item used (ordered, one per name)."""

    currency: str
    defaults: Defaults
    fx: FxTable
    as_of: str
    catalog: HardwareCatalog
    systems: SystemCatalog
    items: dict[str, Item] = field(default_factory=dict)
    given: tuple[price_book.GivenPrice, ...] = ()   # --price CHIP='AMOUNT CUR DATE [unit]'

    def add(self, item: Item) -> None:
        self.items.setdefault(item.name, item)

    def money(self, name: str, money: Money, unit: str, source: str) -> float:
        """``money`` in the output currency; records the input and any FX rate applied."""
        self.add(Item(name, money.amount, f"{money.currency} {unit} ({money.date})", source))
        converted, quote = self.fx.convert_explained(money, self.currency)
        if quote is not None:
            self.add(Item(f"fx {quote.base}->{quote.quote} @ {money.date}", quote.rate,
                          f"{quote.quote} per {quote.base}", quote.describe()))
        return converted.amount

    def default(self, name: str) -> float:
        d = self.defaults[name]
        self.add(d.item())
        m = _MONEY_UNIT.match(d.unit)
        if m is None:
            return d.value
        converted, quote = self.fx.convert_explained(Money(d.value, m.group(1), d.date or self.as_of), self.currency)
        if quote is not None:
            self.add(Item(f"fx {quote.base}->{quote.quote} @ {d.date or self.as_of}", quote.rate,
                          f"{quote.quote} per {quote.base}", quote.describe()))
        return converted.amount

    def explain(self) -> list[tuple[str, Any, str, str]]:
        return [(i.name, i.value, i.unit, i.source) for i in self.items.values()]


def context(*, currency: str = "CNY", defaults_file: Any = None, fx_file: Any = None,
            overrides: Mapping[str, float | None] | None = None, override_sources: Mapping[str, str] | None = None,
            as_of: str | None = None, hardware_files: Sequence[str] = (), prices: Sequence[str] = ()) -> Context:
    """Settings for a use case; ``overrides`` (e.g. from CLI flags) replace defaults by name,
    ``override_sources`` says where each came from (default ``given (name)``).  ``as_of`` (default
    today) is the date of the analysis: only prices dated at or before it are used, and amounts
    given without a date are dated then.  ``prices``: ``CHIP='AMOUNT CUR DATE [unit]'`` strings."""
    cur = check_currency(currency)
    defaults = load_defaults(defaults_file)
    if overrides:
        sources = {k: (override_sources or {}).get(k, f"given ({k})") for k in overrides}
        defaults = defaults.override(overrides, source=sources)
    fx = load_fx(fx_file)
    day = check_date(as_of, what="--as-of", field="as_of") if as_of else _today_date.today().isoformat()
    catalog = load_hardware(list(hardware_files) or None)
    given = tuple(price_book.parse_given(p, catalog) for p in prices)
    ctx = Context(cur, defaults, fx, day, catalog, load_systems(hardware=catalog), given=given)
    ctx.add(Item("currency", cur, "", "output currency (given or CNY)"))
    ctx.add(Item("as_of", day, "date", "date of the analysis: prices known by then; amounts given without a "
                 "date are dated then (default: today)"))
    for g in given:
        ctx.add(Item(f"{g.chip} given price", g.money.amount, f"{g.money.currency} per {g.unit} ({g.money.date})",
                     "given (--price)"))
    return ctx


def host_price(ctx: Context) -> price_book.Host:
    """The host added to card or module prices (defaults.csv, CNY; not recorded until used)."""
    d = ctx.defaults
    base = d["host_cny_per_server"]
    return price_book.Host(Money(base.value, "CNY", base.date or ctx.as_of), d.value("host_cny_per_server_low"),
                           d.value("host_cny_per_server_high"), f"defaults.csv host_cny_per_server: {base.source}")


# --- servers, prices, workloads, performance ----------------------------------------------

@dataclass(frozen=True)
class Server:
    label: str
    chip: Accelerator
    system: System | None
    gpus: int
    price: PriceQuote | None
    tdp_w: float
    quote: price_book.ServerPrice | None = None   # where the price came from (basis, range, flags)
    host_overhead_w: float | None = None          # None: the default; 0 when tdp_w is all-in (supernode)


def _price_quote(sp: price_book.ServerPrice) -> PriceQuote:
    flags = ", ".join(f for f, on in (("rumoured/unverified", sp.rumoured), ("assumed", sp.assumed)) if on)
    note = "; ".join(x for x in (f"basis: {sp.basis}", sp.note, flags) if x)
    return PriceQuote(money=sp.money, unit="server", row=sp.row, description=sp.description, source=sp.source,
                      gpus=sp.gpus, note=note)


def resolve_server(ctx: Context, name: str, *, price: Money | None = None, tdp_w: float | None = None,
                   require_tdp: bool = True) -> Server:
    """A system id (with its own price) or a chip (its server price known at ``ctx.as_of``, see
    :mod:`suanli.app.price_book`).  Without a catalog TDP: an error, or ``tdp_w == 0`` when
    ``require_tdp`` is False.  A supernode is priced per card as an 8-card equivalent."""
    system = ctx.systems.get(name) if name in ctx.systems else None
    if system is None and name not in ctx.catalog:
        raise UnknownHardware(f"unknown server {name!r}: neither a system id nor a chip; closest system ids: "
                            f"{closest_ids(name, {name_key(i): i for i in ctx.systems.ids()})}; closest chips: "
                            f"{closest_ids(name, {name_key(i): i for i in ctx.catalog.ids()}, most=3)}",
                            field="server")
    chip = ctx.catalog.get(system.gpu_id if system else name)
    sp: price_book.ServerPrice | None = None
    if price is not None:
        quote: PriceQuote | None = PriceQuote(money=price, unit="server", row="given",
                                              description="server price given by the user", source="user input")
    else:
        sp = price_book.server_price(chip.id, catalog=ctx.catalog, systems=ctx.systems, as_of=ctx.as_of,
                                     host=host_price(ctx), fx=ctx.fx, given=ctx.given if system is None else (),
                                     only_system=system.id if system else None)
        if sp is None and system is not None and system.price_mid is not None:
            ctx.add(Item(f"{system.id} price", system.price_mid, f"{system.currency} ({system.price_date})",
                         f"not used: dated after as_of {ctx.as_of}"))
        quote = _price_quote(sp) if sp else None
        if sp and sp.assumed and "host" in sp.basis:
            ctx.add(Item("host_cny_per_server", ctx.defaults.value("host_cny_per_server"), "CNY per server",
                         host_price(ctx).source + " (range " + f"{ctx.defaults.value('host_cny_per_server_low'):,.0f}-"
                         f"{ctx.defaults.value('host_cny_per_server_high'):,.0f})"))
    gpus = int((quote.gpus if quote and quote.gpus else None) or (system.gpus if system else None)
               or ctx.default("gpus_per_server"))
    overhead = None
    if tdp_w is not None:
        ctx.add(Item(f"{chip.id} tdp_w", tdp_w, "W per GPU", "given (--tdp-w)"))
    elif sp is not None and sp.power_w_per_gpu:
        tdp_w, overhead = sp.power_w_per_gpu, 0.0
        ctx.add(Item(f"{chip.id} all-in power per card", tdp_w, "W per card (system power / cards; host overhead 0)",
                     sp.power_source))
    elif chip.tdp_w is not None or require_tdp:
        ctx.add(tdp_item(chip))
    label = system.id if system else (sp.system.id if sp and sp.system and sp.basis == "supernode" else chip.id)
    return Server(label, chip, system, gpus, quote, float(tdp_w or chip.tdp_w or 0), sp, overhead)


def price_of(ctx: Context, s: Server, *, required: bool = True) -> float | None:
    if s.price is None:
        if required:
            raise InvalidInput(f"no public server price for {s.label} known at {ctx.as_of}: give one, e.g. "
                               f"'1500000 CNY 2026-01' with --server-price, --vs-price or --option-price",
                               field="server_price")
        return None
    q = s.price
    return ctx.money(f"{s.label} server price", q.money, "per server",
                     f"{q.row}: {q.description} [{q.source}]" + (f" ({q.note})" if q.note else ""))


def tco_inputs(ctx: Context, s: Server, price: float, *, utilisation: float | None = None) -> TcoInputs:
    ctx.add(Item(f"{s.label} gpus_per_server", s.gpus, "GPUs", s.price.row if s.price and s.price.gpus else
                 (f"systems.csv {s.system.id}" if s.system and s.system.gpus else "default gpus_per_server")))
    return TcoInputs(
        server_price=price, gpus_per_server=s.gpus, gpu_tdp_w=s.tdp_w, life_years=ctx.default("life_years"),
        residual_fraction=ctx.default("residual_fraction"), financing_rate_annual=ctx.default("financing_rate"),
        utilisation=utilisation if utilisation is not None else ctx.default("utilisation"),
        electricity_price_per_kwh=ctx.default("electricity_cny_per_kwh"), pue=ctx.default("pue"),
        host_overhead_w_per_server=(s.host_overhead_w if s.host_overhead_w is not None
                                    else ctx.default("host_overhead_w_per_server")),
        busy_power_fraction=ctx.default("busy_power_fraction"), idle_power_fraction=ctx.default("idle_power_fraction"),
        hosting_price_per_kw_month=ctx.default("hosting_cny_per_kw_month"),
        hosting_price_per_rack_month=ctx.default("hosting_cny_per_rack_month"),
        servers_per_rack=ctx.default("servers_per_rack"),
        maintenance_fraction_per_year=ctx.default("maintenance_fraction_per_year"), currency=ctx.currency)


def lease_rate(ctx: Context, s: Server, lease: tuple[Money, str] | None) -> tuple[float, str, PriceQuote] | None:
    """(rate in output currency, unit, quote) from the user or the price data."""
    q: PriceQuote | None
    if lease is not None:
        money, unit = lease
        if unit not in ("gpu_hour", "server_month"):
            raise InvalidInput(f"lease unit {unit!r} must be gpu_hour or server_month", field="lease")
        q = PriceQuote(money=money, unit=unit, row="given", description="lease rate given by the user",
                       source="user input")
    else:
        lp = price_book.lease_price(s.chip.id, catalog=ctx.catalog, as_of=ctx.as_of, given=ctx.given)
        if lp is None:
            return None
        flags = ", ".join(f for f, on in (("rumoured/estimate", lp.rumoured), ("assumed", lp.assumed)) if on)
        q = PriceQuote(money=lp.money, unit=lp.unit, row=lp.row, description=lp.description, source=lp.source,
                       note="; ".join(x for x in (lp.note, flags) if x))
    rate = ctx.money(f"{s.chip.id} lease rate", q.money, f"per {q.unit.replace('_', '-')}",
                     f"{q.row}: {q.description} [{q.source}]" + (f" ({q.note})" if q.note else ""))
    return rate, q.unit, q


def parse_money(text: str | None, *, field: str = "price") -> Money | None:
    """``'AMOUNT CURRENCY DATE'`` -> Money (None passes through)."""
    return None if text is None else Money.parse(text, field=field)


def lease_arg(ctx: Context, *, per_gpu_hour_cny: float | None = None, per_server_month_cny: float | None = None,
              flag: str = "--lease") -> tuple[Money, str] | None:
    """A lease rate given in CNY (dated ``ctx.as_of``) per GPU-hour or per server-month."""
    if per_gpu_hour_cny is not None and per_server_month_cny is not None:
        raise InvalidInput(f"give {flag}-cny-gpu-hour or {flag}-cny-server-month, not both", field="lease")
    if per_gpu_hour_cny is not None:
        return Money(per_gpu_hour_cny, "CNY", ctx.as_of), "gpu_hour"
    if per_server_month_cny is not None:
        return Money(per_server_month_cny, "CNY", ctx.as_of), "server_month"
    return None


def resolve_workload(name: str | None, *, isl: float | None = None, osl: float | None = None,
                     ttft_ms: float | None = None, tpot_ms: float | None = None) -> Workload:
    """A preset (default ``chat``) with any of its lengths / targets replaced."""
    base = workload(name or "chat")
    if any(v is not None for v in (isl, osl, ttft_ms, tpot_ms)) and name is None:
        base = Workload("custom", base.isl, base.osl, base.ttft_ms, base.tpot_ms, "given")
    return Workload(base.name, isl if isl is not None else base.isl, osl if osl is not None else base.osl,
                    ttft_ms if ttft_ms is not None else base.ttft_ms, tpot_ms if tpot_ms is not None else base.tpot_ms,
                    base.source)


def parse_mix(text: str, *, ttft_ms: float | None = None, tpot_ms: float | None = None
              ) -> list[tuple[Workload, float]]:
    """``'chat:0.7,reasoning:0.3'`` or ``'2048x256:1'`` -> [(workload, request share)] (shares normalised)."""
    out: list[tuple[Workload, float]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, w = part.partition(":")
        m = re.fullmatch(r"(\d+(?:\.\d+)?)[xX/](\d+(?:\.\d+)?)", name.strip())
        wl = Workload(name.strip(), float(m.group(1)), float(m.group(2)), ttft_ms, tpot_ms, "given") if m else \
            resolve_workload(name.strip(), ttft_ms=ttft_ms, tpot_ms=tpot_ms)
        try:
            weight = float(w) if w else 1.0
        except ValueError:
            raise InvalidInput(f"workload mix: weight {w!r} of {name!r} is not a number", field="mix") from None
        if not (math.isfinite(weight) and weight > 0):
            raise InvalidInput(f"workload mix: weight of {name!r} must be > 0", field="mix")
        out.append((wl, weight))
    if not out:
        raise InvalidInput("workload mix is empty: e.g. --mix chat:0.7,reasoning:0.3", field="mix")
    total = sum(w for _, w in out)
    return [(wl, w / total) for wl, w in out]


def perf_for(model: str, chips: Sequence[str] | None, wl: Workload, compare_kw: Mapping[str, Any]
             ) -> dict[str, ChipResult]:
    """Best deployment per chip (None: compare's default chips) on the workload."""
    kw = {"backend": "serial", **compare_kw}
    res = compare(model, list(chips) if chips else None, isl=wl.isl, osl=wl.osl, ttft_ms=wl.ttft_ms, tpot_ms=wl.tpot_ms, **kw)
    return {c.hardware: c for c in res.chips}


def prefill_share_for(model: str, c: ChipResult, wl: Workload, engine: str) -> tuple[float, str]:
    """GPU-time share of prefill at the chosen deployment (see :mod:`suanli.econ.tokens`)."""
    cfg = c.config
    if cfg.get("arch") == "disagg":
        p = cfg["x_prefill"] * cfg["prefill_gpus"]
        return prefill_share_disaggregated(prefill_gpus=p, total_gpus=cfg["gpus"]), "prefill GPUs / all GPUs (xPyD)"
    kw = dict(gpus=cfg["gpus"], tp=cfg["tp"], pp=cfg["pp"], ep=cfg["ep"], dp_attention=cfg["dp_attention"],
              weight_dtype=cfg["weight_dtype"], kv_dtype=cfg["kv_dtype"], isl=wl.isl, osl=wl.osl, engine=engine)
    try:
        pf = predict(model, c.hardware, scenario="prefill-only", **kw)
        dec = predict(model, c.hardware, scenario="decode-only", concurrency=cfg["batch"], **kw)
        t_pf, t_dec = wl.isl / pf.input_tok_s_per_gpu, wl.osl / dec.output_tok_s_per_gpu
        share = prefill_share_from_rates(isl=wl.isl, osl=wl.osl, prefill_input_tok_s_per_gpu=pf.input_tok_s_per_gpu,
                                         decode_output_tok_s_per_gpu=dec.output_tok_s_per_gpu)
        return share, (f"GPU-s per request: prefill {t_pf:.3g} (prefill-only {pf.input_tok_s_per_gpu:.0f}"
                                       f" in-tok/s/GPU) vs decode {t_dec:.3g} (decode-only at batch {cfg['batch']:g})")
    except SuanliError:
        return (prefill_share_aggregated(ttft_s=cfg["ttft_s"], tpot_s=cfg["tpot_s"], osl=wl.osl),
                "TTFT / (TTFT + (osl-1) x TPOT) (fallback)")


def perf_item(ctx: Context, c: ChipResult, wl: Workload, speed: float = 1.0) -> float:
    ctx.add(Item(f"{c.hardware} output_tok_s_per_gpu [{wl.name}]", c.output_tok_s_per_gpu, "tokens/s per GPU",
                 f"suanli compare ({c.mode}): {c.config.get('description', '')}, TTFT {c.ttft_ms:.0f} ms, "
                 f"TPOT {c.tpot_ms:.1f} ms"))
    if speed != 1.0:
        ctx.add(Item(f"{c.hardware} speed factor", speed, "x predicted throughput", "given (--option-speed)"))
    return float(c.output_tok_s_per_gpu or 0.0) * speed


__all__ = ["Context", "Server", "context", "host_price", "lease_arg", "lease_rate", "parse_mix", "parse_money", "perf_for", "perf_item", "prefill_share_for",
           "price_of", "resolve_server", "resolve_workload", "tco_inputs"]
