"""``suanli cost | lease | fairprice``: cost per million tokens, a lessor's returns, fair prices.

Every default of the cost model (``suanli/data/econ/defaults.csv``, each with its source)
can be replaced by a flag below or by a ``--defaults FILE``; ``--explain`` lists every
input, default, price row and FX rate behind the numbers.  Amounts given as plain
numbers in flags named ``...-cny-...`` are CNY dated ``--as-of``; prices are
``'AMOUNT CURRENCY DATE'`` strings (``'1500000 CNY 2026-01-10'``, ``'1.5M CNY 2026-01'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from suanli.app import params as P
from suanli.app.limits import MAX_LEASE_MONTHS
from suanli.cli._params import option, with_group
from suanli.cli.main import HardwareFileOpt, JsonOpt, ProfileDbOpt, ProfileOpt, app
from suanli.cli.search_cmds import DisaggOpt, EngineOpt, GpusOpt, KvOpt, MaxGpusOpt, ModelOpt, WeightOpt, _split

F = Optional[float]
CurrencyOpt = Annotated[str, typer.Option("--currency", help="Output currency: CNY or USD (converted with dated FX rows).")]
DefaultsOpt = Annotated[Optional[Path], typer.Option("--defaults", metavar="FILE",
                                                     help="CSV (name,value[,unit,date,source,note]) or JSON {name: value} "
                                                          "overriding the bundled sourced defaults.")]
FxOpt = Annotated[Optional[Path], typer.Option("--fx", metavar="FILE", help="Extra FX rows (date,base,quote,rate,source).")]
AsOfOpt = Annotated[Optional[str], typer.Option("--as-of", metavar="DATE",
                                                help="Date of the analysis (default today): only prices known then "
                                                     "are used; amounts given without a date are dated then.")]
PriceOpt = Annotated[Optional[list[str]], typer.Option(
    "--price", metavar="CHIP='AMOUNT CUR DATE [unit]'",
    help="A price for a chip without a public one (repeatable): an 8-card server, or per 'card', "
         "'gpu-hour' or 'server-month'.")]
ExplainOpt = Annotated[bool, typer.Option("--explain", help="List every input and sourced default used.")]
LeaseHourOpt = Annotated[F, typer.Option("--lease-cny-gpu-hour", help="Lease rate, CNY per GPU-hour.")]
LeaseMonthOpt = Annotated[F, typer.Option("--lease-cny-server-month", help="Lease rate, CNY per server-month.")]
WorkloadOpt = Annotated[Optional[str], typer.Option(
    "--workload", "-w", help="Preset: chat, reasoning, summarisation, interactive, batch (default chat).")]
IslOpt = Annotated[F, option(P.PRESET_ISL)]
OslOpt = Annotated[F, option(P.PRESET_OSL)]
TtftOpt = Annotated[F, option(P.PRESET_TTFT_MS)]
TpotOpt = Annotated[F, option(P.PRESET_TPOT_MS)]

def _context(currency: str, defaults: Path | None, fx: Path | None, as_of: str | None, econ: dict[str, Any] | None,
             hardware_file: list[Path] | None = None, prices: list[str] | None = None) -> Any:
    """The cost model's settings: the economics flags (declared in suanli.app.params) over the defaults."""
    from suanli.app.econ_context import context
    return context(currency=currency, defaults_file=defaults, fx_file=fx, overrides=P.econ_overrides(econ or {}),
                   override_sources=P.econ_sources("flag {flag}"), as_of=as_of,
                   hardware_files=[str(p) for p in hardware_file or []], prices=prices or ())


def _money(text: str | None, field: str) -> Any:
    from suanli.app.econ_context import parse_money
    return parse_money(text, field=field)


def _lease_arg(ctx: Any, per_hour: float | None, per_month: float | None, flag: str = "--lease") -> Any:
    from suanli.app.econ_context import lease_arg
    for value, unit in ((per_hour, "gpu-hour"), (per_month, "server-month")):
        if value is not None and not value > 0:
            from suanli.errors import InvalidInput
            raise InvalidInput(f"{flag}-cny-{unit} must be a rent > 0, got {value:g}",
                               field=f"{flag.lstrip('-')}_cny_{unit}".replace("-", "_"))
    return lease_arg(ctx, per_gpu_hour_cny=per_hour, per_server_month_cny=per_month, flag=flag)


def _compare_kw(engine: str, gpus: int | None, max_gpus: int | None, weight_dtype: str | None,
                kv_dtype: str | None, disagg: bool, hardware_file: list[Path] | None,
                profile: str | None = None, db: str | None = None) -> dict[str, Any]:
    kw: dict[str, Any] = dict(engine=engine, gpus=gpus, max_gpus=max_gpus,
                              weight_dtypes=_split(weight_dtype, "--weight-dtype"),
              kv_dtypes=_split(kv_dtype, "--kv-dtype"), disagg=disagg,
              hardware_files=[str(p) for p in hardware_file or []])
    if profile:
        from suanli.app.profiles import get_profile
        kw["profile"] = get_profile(profile, db=db)
    return kw


@app.command()
@with_group(P.ECONOMICS, into="econ")
def cost(
    model: ModelOpt,
    hardware: Annotated[Optional[str], typer.Option("--hardware", metavar="CHIPS", help="Comma-separated chips (default: buyable in China + H100/H200).")] = None,
    system: Annotated[Optional[str], typer.Option("--system", metavar="ID", help="A priced system id instead.")] = None,
    workload: WorkloadOpt = None, isl: IslOpt = None, osl: OslOpt = None, ttft_ms: TtftOpt = None,
    tpot_ms: TpotOpt = None,
    server_price: Annotated[Optional[str], typer.Option("--server-price", metavar="'AMOUNT CUR DATE'",
                                                        help="Server price (one chip), e.g. '1280000 CNY 2025-07'.")] = None,
    lease_cny_gpu_hour: LeaseHourOpt = None, lease_cny_server_month: LeaseMonthOpt = None,
    prefill_share: Annotated[F, typer.Option("--prefill-share", help="GPU-time share of prefill (input/output split).")] = None,
    price: PriceOpt = None,
    currency: CurrencyOpt = "CNY", defaults: DefaultsOpt = None, fx: FxOpt = None, as_of: AsOfOpt = None,
    engine: EngineOpt = P.ENGINE.default, gpus: GpusOpt = None, max_gpus: MaxGpusOpt = None, weight_dtype: WeightOpt = None,
    kv_dtype: KvOpt = None, disagg: DisaggOpt = True, hardware_file: HardwareFileOpt = None,
    profile: ProfileOpt = None, db: ProfileDbOpt = None,
    as_json: JsonOpt = False, explain: ExplainOpt = False, econ: Optional[dict[str, Any]] = None,
) -> None:
    """Cost per million tokens (input, output, blended) per chip at its best deployment: owned (TCO) and leased."""
    from suanli.app.economics import cost as run_cost
    from suanli.cli import _render_econ

    ctx = _context(currency, defaults, fx, as_of, econ, hardware_file, price)
    rep = run_cost(model, _split(hardware, "--hardware"), workload_name=workload, isl=isl, osl=osl, ttft_ms=ttft_ms,
                   tpot_ms=tpot_ms, system=system, server_price=_money(server_price, "--server-price"),
                   lease=_lease_arg(ctx, lease_cny_gpu_hour, lease_cny_server_month), prefill_share=prefill_share,
                   ctx=ctx, compare_kw=_compare_kw(engine, gpus, max_gpus, weight_dtype, kv_dtype, disagg,
                                                   hardware_file, profile, db))
    _render_econ.output(rep, as_json=as_json, explain=explain, render=_render_econ.cost)


@app.command()
@with_group(P.ECONOMICS, into="econ")
def lease(
    server: Annotated[str, typer.Option("--server", "--hardware", metavar="ID|CHIP",
                                        help="System id (priced) or chip (latest priced server built from it).")],
    server_price: Annotated[Optional[str], typer.Option("--server-price", metavar="'AMOUNT CUR DATE'",
                                                        help="Purchase price, e.g. '1280000 CNY 2025-07'.")] = None,
    lease_cny_gpu_hour: LeaseHourOpt = None, lease_cny_server_month: LeaseMonthOpt = None,
    term_months: Annotated[Optional[int], typer.Option("--term-months", min=1, max=MAX_LEASE_MONTHS,
                                                       help="Lease term, months (default 36).")] = None,
    occupancy: Annotated[F, typer.Option("--occupancy", help="Fraction of months paid (default 1.0).")] = None,
    target_irr: Annotated[F, typer.Option("--target-irr", help="IRR per year to price the lease for "
                                                               "(default: the discount rate).")] = None,
    lessee_pays_power: Annotated[bool, typer.Option("--lessee-pays-power",
                                                    help="Lessee pays power and hosting (lessor: maintenance only).")] = False,
    tdp_w: Annotated[F, typer.Option("--tdp-w", help="GPU TDP, W (default: catalog).")] = None,
    currency: CurrencyOpt = "CNY", defaults: DefaultsOpt = None, fx: FxOpt = None, as_of: AsOfOpt = None,
    hardware_file: HardwareFileOpt = None,
    as_json: JsonOpt = False, explain: ExplainOpt = False, econ: Optional[dict[str, Any]] = None,
) -> None:
    """A lessor's NPV, IRR and payback on a monthly lease, the rent for a target IRR, and buy-vs-lease break-even."""
    from suanli.app.economics import lease as run_lease
    from suanli.cli import _render_econ

    ctx = _context(currency, defaults, fx, as_of, econ, hardware_file)
    rep = run_lease(server, server_price=_money(server_price, "--server-price"),
                    rent=_lease_arg(ctx, lease_cny_gpu_hour, lease_cny_server_month), term_months=term_months,
                    occupancy=occupancy, target_irr=target_irr, lessor_pays_power=not lessee_pays_power, tdp_w=tdp_w,
                    ctx=ctx)
    _render_econ.output(rep, as_json=as_json, explain=explain, render=_render_econ.lease)


@app.command()
@with_group(P.ECONOMICS, into="econ")
def fairprice(
    model: ModelOpt,
    option: Annotated[str, typer.Option("--option", metavar="ID|CHIP", help="Option X whose fair price is solved.")],
    vs: Annotated[str, typer.Option("--vs", metavar="ID|CHIP", help="Option Y at its (given or data) price.")],
    workload: WorkloadOpt = None, isl: IslOpt = None, osl: OslOpt = None, ttft_ms: TtftOpt = None,
    tpot_ms: TpotOpt = None,
    mix: Annotated[Optional[str], typer.Option("--mix", metavar="NAME:SHARE,...",
                                               help="Workload mix by request share, e.g. chat:0.7,reasoning:0.3 "
                                                    "or 2048x256:0.5,chat:0.5.")] = None,
    option_price: Annotated[Optional[str], typer.Option("--option-price", metavar="'AMOUNT CUR DATE'",
                                                        help="X's asked price (verdict against the fair price).")] = None,
    option_price_ratio: Annotated[F, typer.Option("--option-price-ratio",
                                                  help="X's asked price as a fraction of Y's (0.6 = 40 % cheaper).")] = None,
    option_speed: Annotated[float, typer.Option("--option-speed",
                                                help="X's throughput as a multiple of its chip's prediction "
                                                     "(0.8 = 20 % slower; for hypothetical chips).")] = 1.0,
    option_tdp_w: Annotated[F, typer.Option("--option-tdp-w", help="X's GPU TDP, W (default: catalog).")] = None,
    vs_price: Annotated[Optional[str], typer.Option("--vs-price", metavar="'AMOUNT CUR DATE'",
                                                    help="Y's server price (default: latest dated price).")] = None,
    vs_lease_cny_gpu_hour: Annotated[F, typer.Option("--vs-lease-cny-gpu-hour", help="Y leased per GPU-hour.")] = None,
    vs_lease_cny_server_month: Annotated[F, typer.Option("--vs-lease-cny-server-month",
                                                         help="Y leased per server-month.")] = None,
    grid_utilisation: Annotated[Optional[str], typer.Option("--grid-utilisation", metavar="U,...",
                                                            help="Sensitivity rows (default 0.3,0.5,0.7,0.9).")] = None,
    grid_electricity: Annotated[Optional[str], typer.Option("--grid-electricity", metavar="E,...",
                                                            help="Sensitivity columns, output currency per kWh "
                                                                 "(default: 0.5-1.5 x the electricity price).")] = None,
    currency: CurrencyOpt = "CNY", defaults: DefaultsOpt = None, fx: FxOpt = None, as_of: AsOfOpt = None,
    engine: EngineOpt = P.ENGINE.default, gpus: GpusOpt = None, max_gpus: MaxGpusOpt = None, weight_dtype: WeightOpt = None,
    kv_dtype: KvOpt = None, disagg: DisaggOpt = True, hardware_file: HardwareFileOpt = None,
    profile: ProfileOpt = None, db: ProfileDbOpt = None,
    as_json: JsonOpt = False, explain: ExplainOpt = False, econ: Optional[dict[str, Any]] = None,
) -> None:
    """Price of --option at which its cost per token equals --vs on the workload, with a sensitivity table."""
    from suanli.app.econ_context import parse_mix, resolve_workload
    from suanli.app.economics import fairprice as run_fairprice
    from suanli.cli import _render_econ

    ctx = _context(currency, defaults, fx, as_of, econ, hardware_file)
    mixed = parse_mix(mix, ttft_ms=ttft_ms, tpot_ms=tpot_ms) if mix else \
        [(resolve_workload(workload, isl=isl, osl=osl, ttft_ms=ttft_ms, tpot_ms=tpot_ms), 1.0)]
    rep = run_fairprice(option, vs, model=model, mix=mixed, option_price=_money(option_price, "--option-price"),
                        option_price_ratio=option_price_ratio, vs_price=_money(vs_price, "--vs-price"),
                        vs_lease=_lease_arg(ctx, vs_lease_cny_gpu_hour, vs_lease_cny_server_month, "--vs-lease"),
                        option_speed=option_speed, option_tdp_w=option_tdp_w,
                        grid_utilisation=_floats(grid_utilisation, "--grid-utilisation"),
                        grid_electricity=_floats(grid_electricity, "--grid-electricity"), ctx=ctx,
                        compare_kw=_compare_kw(engine, gpus, max_gpus, weight_dtype, kv_dtype, disagg, hardware_file,
                                               profile, db))
    _render_econ.output(rep, as_json=as_json, explain=explain, render=_render_econ.fairprice)


def _floats(text: str | None, flag: str) -> list[float] | None:
    if not text:
        return None
    from suanli.errors import InvalidInput
    try:
        return [float(t) for t in _split(text) or []]
    except ValueError:
        raise InvalidInput(f"{flag}: {text!r} is not a comma-separated list of numbers", field=flag) from None
