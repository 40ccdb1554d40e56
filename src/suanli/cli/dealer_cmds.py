"""``suanli dealer plan``: sell / hold / lease plan for a dealer's stock."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from suanli.cli._errors import SuanliGroup
from suanli.cli.main import JsonOpt, app

dealer_app = typer.Typer(cls=SuanliGroup, no_args_is_help=True, help="Dealer inventory decisions.")
app.add_typer(dealer_app, name="dealer")


@dealer_app.command("plan")
def dealer_plan(
    weekly_sell_capacity: Annotated[int, typer.Option("--weekly-sell-capacity", help="Units the market absorbs per week.")],
    price: Annotated[Optional[float], typer.Option("--price", help="Today's sale price per unit (per GPU/card); "
                                                   "default with --chip: the latest price-index point.")] = None,
    chip: Annotated[Optional[str], typer.Option("--chip", help="Use the market database: this chip's inventory "
                                                "lots and price index.")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Market database URL (default: embedded SQLite).")] = None,
    owner: Annotated[Optional[str], typer.Option("--owner", help="Inventory owner in the database.")] = None,
    inventory: Annotated[Optional[Path], typer.Option("--inventory", metavar="FILE",
                                                      help="CSV/JSON: quantity,unit_cost,currency[,financing_rate].")] = None,
    units: Annotated[Optional[int], typer.Option("--units", help="Units (GPUs/cards) in stock (or --inventory).")] = None,
    unit_cost: Annotated[Optional[float], typer.Option("--unit-cost", help="Per unit, in --currency.")] = None,
    financing_rate: Annotated[Optional[float], typer.Option("--financing-rate", help="Per year, e.g. 0.06.")] = None,
    lease_rate: Annotated[float, typer.Option("--lease-rate", help="Lease income per unit-week at 100 % use.")] = 0.0,
    lease_utilisation: Annotated[float, typer.Option("--lease-utilisation", help="Fraction of lease weeks that pay "
                                                     "(0-1); lease income = rate x utilisation.")] = 0.0,
    lease_max_units: Annotated[Optional[int], typer.Option("--lease-max-units", help="Lease demand cap.")] = None,
    storage_cost: Annotated[float, typer.Option("--storage-cost", help="Per unit-week.")] = 0.0,
    currency: Annotated[str, typer.Option(help="CNY or USD (all amounts).")] = "CNY",
    scenario: Annotated[Optional[list[str]], typer.Option("--scenario", help="Built-in scenario (repeatable).")] = None,
    scenario_file: Annotated[Optional[list[Path]], typer.Option("--scenario-file", help="JSON scenario(s).")] = None,
    weeks: Annotated[int, typer.Option(help="Horizon in weeks.")] = 52,
    paths: Annotated[int, typer.Option(help="Price paths (scenarios are mixed equally).")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed of the price paths.")] = 0,
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE.png|FILE.html")] = None,
    as_json: JsonOpt = False,
) -> None:
    """NPV-maximising weekly plan: units to sell, hold or lease out, under price scenarios.

    Example (a plan that leases, sells and holds): 1,000 cards bought at 120,000 CNY, offered at 130,000, 40
    sellable a week, lease demand for 300 at 1,500 CNY per unit-week, 80 % let:

    suanli dealer plan --units 1000 --unit-cost 120000 --financing-rate 0.06 --price 130000
    --weekly-sell-capacity 40 --lease-rate 1500 --lease-utilisation 0.8 --lease-max-units 300 --plot plan.png
    """
    from suanli.app.dealer import dealer_plan as run_plan
    from suanli.cli import _render_search

    if plot is not None:
        from suanli.market.db import database_files
        from suanli.viz.charts import check_plot_path
        check_plot_path(plot, protected=database_files(db) if chip is not None else ())
    common: dict[str, Any] = dict(weekly_sell_capacity=weekly_sell_capacity, lease_rate_week=lease_rate,
                  lease_utilisation=lease_utilisation, lease_max_units=lease_max_units, storage_cost_week=storage_cost,
                  currency=currency, scenarios=scenario, scenario_files=scenario_file or (), weeks=weeks,
                  paths=paths, seed=seed)
    if chip is not None:
        from suanli.app.dealer import dealer_plan_from_market
        rep = dealer_plan_from_market(chip, db=db, owner=owner, price=price, financing_rate=financing_rate, **common)
    else:
        from suanli.errors import InvalidInput
        if price is None:
            raise InvalidInput("give --price (or --chip to take it from the market price index)", field="price")
        rep = run_plan(price=price, units=units, unit_cost=unit_cost, financing_rate=financing_rate,
                       inventory=inventory, **common)
    if plot is not None:
        from suanli.viz.charts import dealer_chart
        dealer_chart(rep, plot)
    if as_json:
        _render_search.print_json(rep.to_dict())
        return
    from rich.table import Table

    from suanli.cli._render import num, stdout_console
    con = stdout_console()
    p, c = rep.plan, rep.currency
    con.print(f"[bold]{rep.inputs['units']} units[/], cost {num(rep.inputs['unit_cost'], 0)} {c}/unit, price now "
              f"{num(p.price_now, 0)} {c}, financing {100 * rep.inputs['financing_rate_annual']:.1f} %/yr, "
              f"scenarios: {', '.join(s['name'] for s in rep.scenarios)} ({rep.inputs['paths']} paths, seed {rep.inputs['seed']})")
    t = Table(title="Plan (expected units sold per week over the scenarios)", title_justify="left")
    for col in ("week", "sell (mean)", "sell (median path)", "stock at start"):
        t.add_column(col, justify="right")
    for w in range(len(p.sell_per_week_mean)):
        if w < 12 or p.sell_per_week_mean[w] > 0.05:
            t.add_row(str(w), num(p.sell_per_week_mean[w], 1), num(p.sell_per_week_median_path[w], 0),
                      num(p.stock_mean[w], 0))
    con.print(t)
    con.print(f"leased out for the horizon: {p.leased_units} units")
    con.print(f"expected NPV {num(p.npv_mean / 1e6, 2)} M {c} (P10 {num(p.npv_p10 / 1e6, 2)} – P90 "
              f"{num(p.npv_p90 / 1e6, 2)}); sell-at-capacity-now {num(p.npv_sell_all_now / 1e6, 2)} M; "
              f"hold-all {num(p.npv_hold_to_horizon / 1e6, 2)} M; profit vs cost {num(p.profit_mean / 1e6, 2)} M {c}")
    for line in p.explanation:
        con.print(f"• {line}")
    if plot:
        con.print(f"chart: {plot}")
