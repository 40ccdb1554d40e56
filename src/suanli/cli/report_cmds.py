"""``suanli report``: the buyer report (the README's main job)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from suanli.cli.main import JsonOpt, app


@app.command()
def report(
    model: Annotated[str, typer.Option("--model", "-m", help="Model to serve.")] = "Qwen/Qwen3-32B",
    workload: Annotated[str, typer.Option(help="Workload preset (chat, reasoning, ...).")] = "chat",
    hardware: Annotated[Optional[str], typer.Option("--hardware", help="Comma-separated chips "
                                                    "(default: buyable in China today + H100/H200).")] = None,
    currency: Annotated[str, typer.Option(help="CNY or USD.")] = "CNY",
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE.png|FILE.html",
                                                 help="Save the cost chart.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Buyer report: chips ranked by cost per million tokens (owned and leased) and the fair price of an 8xH20 server."""
    from suanli.app.report import buyer_report
    from suanli.cli._render import print_json

    if plot is not None:
        from suanli.viz.charts import check_plot_path
        check_plot_path(plot)
    chips = [c.strip() for c in hardware.split(",")] if hardware else None
    rep = buyer_report(model, workload=workload, chips=chips, currency=currency)
    if plot is not None:
        from suanli.viz.charts import cost_chart
        cost_chart(rep, plot)
    if as_json:
        print_json(rep.to_dict())
        return
    from rich.table import Table

    from suanli.cli._render import DASH, num, stdout_console
    con = stdout_console()
    cur = rep.currency
    con.print(f"[bold]Buyer report[/]: {rep.model}, workload {rep.workload}; {cur} per million tokens "
              f"(blended input+output at the workload's ratio)")
    t = Table(title="Chips ranked by owned cost per million tokens", title_justify="left")
    for c in ("#", "chip", "deployment", "tok/s/GPU", f"owned {cur}/M", f"leased {cur}/M", "server price", "note"):
        t.add_column(c, justify="left" if c in ("chip", "deployment", "note") else "right", overflow="fold")
    for i, c in enumerate(rep.ranked(), start=1):
        if not c.feasible:
            t.add_row("–", c.hardware, f"[red]{c.reason}[/]", DASH, DASH, DASH, DASH, "")
            continue
        t.add_row(str(i), c.hardware, c.deployment, num(c.output_tok_s_per_gpu, 0),
                  num(c.owned.blended_per_mtok, 2) if c.owned else DASH,
                  num(c.leased.blended_per_mtok, 2) if c.leased else DASH,
                  num(c.server_price, 0) if c.server_price else DASH, "; ".join(c.notes))
    con.print(t)
    f = Table(title=f"Fair price of {rep.h20_server} (same {cur} per million tokens as the alternative)",
              title_justify="left")
    for c in ("vs", "basis", "fair price", "asked", "verdict"):
        f.add_column(c, overflow="fold")
    for r in rep.fair:
        f.add_row(r.vs, r.vs_basis, num(r.fair_price, 0) if r.fair_price else DASH,
                  num(r.asked, 0) if r.asked else DASH, r.verdict)
    con.print(f)
    con.print("[dim]Every price is dated and sourced: run with --json for the full trace (explain).[/]")
    if plot:
        con.print(f"chart: {plot}")
