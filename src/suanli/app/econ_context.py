"""Shared pieces of the economics use cases: settings and trace, servers, prices, workloads.

:class:`Context` holds the output currency, the defaults (bundled, user file, flags), the
FX table and the catalogs, and records every :class:`~suanli.app.econ_data.Item` used so
that each result can explain every number it prints.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from suanli.app.compare import ChipResult, compare
from suanli.app.econ_data import (Defaults, Item, PriceQuote, Workload, lease_price_for, load_defaults, load_fx,
                                  server_price_for, tdp_item, workload)
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
            as_of: str | None = None, hardware_files: Sequence[str] = ()) -> Context:
    """Settings for a use case; ``overrides`` (e.g. from CLI flags) replace defaults by name,
    ``override_sources`` says where each came from (default ``given (name)``)."""
    cur = check_currency(currency)
    defaults = load_defaults(defaults_file)
    if overrides:
        sources = {k: (override_sources or {}).get(k, f"given ({k})") for k in overrides}
        defaults = defaults.override(overrides, source=sources)
    fx = load_fx(fx_file)
    day = check_date(as_of, what="--as-of", field="as_of") if as_of else (fx.latest_date() or "2026-01")
    catalog = load_hardware(list(hardware_files) or None)
    ctx = Context(cur, defaults, fx, day, catalog, load_systems(hardware=catalog))
    ctx.add(Item("currency", cur, "", "output currency (given or CNY)"))
    ctx.add(Item("as_of", day, "date", "date of amounts given without one (default: latest FX row)"))
    return ctx


# --- servers, prices, workloads, performance ----------------------------------------------

@dataclass(frozen=True)
class Server:
    label: str
    chip: Accelerator
    system: System | None
    gpus: int
    price: PriceQuote | None
    tdp_w: float


def resolve_server(ctx: Context, name: str, *, price: Money | None = None, tdp_w: float | None = None,
                   require_tdp: bool = True) -> Server:
    """A system id (with its own price) or a chip (latest priced complete server built from it).
    Without a catalog TDP: an error, or ``tdp_w == 0`` when ``require_tdp`` is False."""
    system = ctx.systems.get(name) if name in ctx.systems else None
    if system is None and name not in ctx.catalog:
        raise UnknownHardware(f"unknown server {name!r}: neither a system id nor a chip; closest system ids: "
                            f"{closest_ids(name, {name_key(i): i for i in ctx.systems.ids()})}; closest chips: "
                            f"{closest_ids(name, {name_key(i): i for i in ctx.catalog.ids()}, most=3)}",
                            field="server")
    chip = ctx.catalog.get(system.gpu_id if system else name)
    quote = server_price_for(chip.id, ctx.systems, system=system) if price is None else \
        PriceQuote(money=price, unit="server", row="given", description="server price given by the user",
                   source="user input")
    gpus = int((quote.gpus if quote and quote.gpus else None) or (system.gpus if system else None)
               or ctx.default("gpus_per_server"))
    if tdp_w is not None:
        ctx.add(Item(f"{chip.id} tdp_w", tdp_w, "W per GPU", "given (--tdp-w)"))
    elif chip.tdp_w is not None or require_tdp:
        ctx.add(tdp_item(chip))
    return Server(system.id if system else chip.id, chip, system, gpus, quote, float(tdp_w or chip.tdp_w or 0))


def price_of(ctx: Context, s: Server, *, required: bool = True) -> float | None:
    if s.price is None:
        if required:
            raise InvalidInput(f"no dated server price for {s.label} in the data: give a price, e.g. "
                               f"--server-price '1280000 CNY 2025-07'", field="server_price")
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
        host_overhead_w_per_server=ctx.default("host_overhead_w_per_server"),
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
        q = lease_price_for(s.chip.id, ctx.catalog)
        if q is None:
            return None
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


__all__ = ["Context", "Server", "context", "lease_arg", "lease_rate", "parse_mix", "parse_money", "perf_for", "perf_item", "prefill_share_for",
           "price_of", "resolve_server", "resolve_workload", "tco_inputs"]
