"""``suanli report``: the buyer report (the README's main job)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from suanli.cli.main import JsonOpt, ProfileDbOpt, ProfileOpt, app

PriceOpt = Annotated[Optional[list[str]], typer.Option(
    "--price", metavar="CHIP='AMOUNT CUR DATE [unit]'",
    help="A price for a chip without a public one (repeatable): an 8-card server by default, or per "
         "'card', 'gpu-hour' or 'server-month', e.g. --price K100-AI='900000 CNY 2026-03' "
         "--price 910B='2.5 CNY 2026-03 gpu-hour'.")]
AsOfReportOpt = Annotated[Optional[str], typer.Option(
    "--as-of", metavar="DATE",
    help="Date of the analysis (default today): chips obtainable then, prices known then. "
         "--as-of 2025-07-15 is the seed article's moment (H20 sales resuming).")]


@app.command()
def report(
    model: Annotated[str, typer.Option("--model", "-m", help="Model to serve.")] = "Qwen/Qwen3-32B",
    workload: Annotated[str, typer.Option(help="Workload preset (chat, reasoning, ...).")] = "chat",
    hardware: Annotated[Optional[str], typer.Option("--hardware", help="Comma-separated chips "
                                                    "(default: buyable in China today + H100/H200).")] = None,
    option: Annotated[str, typer.Option("--option", metavar="SYSTEM|CHIP",
                                        help="The server whose fair value is solved (default: the 8x H20 141GB "
                                             "server of the seed article).")] = "cn_h20_141gb_server_leiphone",
    as_of: AsOfReportOpt = None,
    price: PriceOpt = None,
    include_grey: Annotated[bool, typer.Option("--include-grey",
                                               help="Count grey-market supply as obtainable.")] = False,
    currency: Annotated[str, typer.Option(help="CNY or USD.")] = "CNY",
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE.png|FILE.html",
                                                 help="Save the cost chart.")] = None,
    explain: Annotated[bool, typer.Option("--explain", help="List every input and sourced default used.")] = False,
    profile: ProfileOpt = None,
    db: ProfileDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Buyer report: chips ranked by cost per million tokens (owned and leased), what was obtainable
    at the date and why, and one fair value of an 8-card server against the cheapest obtainable
    alternative (P10-P90 range).

    Examples: suanli report; suanli report --as-of 2025-07-15; suanli report --price K100-AI='900000 CNY 2026-03'
    """
    from suanli.app.report import buyer_report
    from suanli.cli._render import print_json

    if plot is not None:
        from suanli.viz.charts import check_plot_path
        check_plot_path(plot)
    chips = [c.strip() for c in hardware.split(",") if c.strip()] if hardware else None
    compare_kw = None
    if profile:
        from suanli.app.profiles import get_profile
        compare_kw = {"profile": get_profile(profile, db=db)}
    rep = buyer_report(model, workload=workload, chips=chips, option=option, currency=currency, as_of=as_of,
                       prices=price or (), include_grey=include_grey, compare_kw=compare_kw)
    if plot is not None:
        from suanli.viz.charts import cost_chart
        cost_chart(rep, plot)
    if as_json:
        print_json(rep.to_dict())
        return
    from suanli.cli._render import stdout_console
    from suanli.cli._render_report import render

    con = stdout_console()
    render(con, rep)
    if explain:
        from suanli.cli._render_econ import explain_table
        explain_table(con, list(rep.explain))
    if plot:
        con.print(f"chart: {plot}")
