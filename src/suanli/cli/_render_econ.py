"""Rich rendering of the economics results (cost, lease, fairprice) and their --explain table.

Nothing here computes: it formats the report objects of :mod:`suanli.app.economics`.
"""

from __future__ import annotations

from typing import Any, Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from suanli.cli._render import DASH, num, pct, print_json, stdout_console


def output(rep: Any, *, as_json: bool, explain: bool, render: Callable[[Console, Any], None]) -> None:
    """JSON (which always carries the explain list) or tables, plus the explain table on request."""
    if as_json:
        print_json(rep.to_dict())
        return
    con = stdout_console()
    render(con, rep)
    if explain:
        explain_table(con, rep.explain())
    else:
        con.print("[dim]--explain lists every input, default, price row and FX rate used, with sources.[/]")


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.6g}" if abs(v) < 1e5 else f"{v:,.0f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v)
    return str(v)


def explain_table(con: Console, rows: list[tuple[str, Any, str, str]]) -> None:
    t = Table(title="Inputs and sourced defaults used", title_justify="left")
    for c in ("name", "value", "unit", "source"):
        t.add_column(c, overflow="fold", justify="right" if c == "value" else "left")
    for name, value, unit, source in rows:
        t.add_row(escape(name), escape(_value(value)), escape(unit), escape(source))
    con.print(t)


def _m(v: float | None, digits: int = 2) -> str:
    return DASH if v is None else num(v, digits)


def cost(con: Console, rep: Any) -> None:
    wl, cur = rep.workload, rep.currency
    con.print(f"[bold]{escape(rep.model)}[/] on {escape(wl.label())} -- cost in {cur}; owned = TCO of the server, "
              f"leased = all-inclusive rent")
    t = Table(title=f"{cur} per million tokens at the best deployment meeting the targets", title_justify="left")
    for c in ("chip", "deployment", "tok/s/GPU", "server price", "GPUs", f"TCO {cur}/GPU-h*", "prefill share",
              "owned in", "owned out", "owned blended", "leased blended", "break-even util.", "break-even months"):
        t.add_column(c, justify="left" if c in ("chip", "deployment") else "right", overflow="fold")
    for c in rep.chips:
        if not c.feasible:
            t.add_row(c.hardware, f"[red]{escape(c.reason)}[/]", *([DASH] * 11))
            continue
        o, le = c.owned, c.leased
        t.add_row(c.hardware, escape(c.deployment), num(c.output_tok_s_per_gpu, 0), _m(c.server_price, 0),
                  str(c.gpus_per_server or DASH),
                  _m(c.tco.per_gpu_hour_utilised if c.tco else None), pct(c.prefill_share),
                  _m(o.input_per_mtok if o else None), _m(o.output_per_mtok if o else None),
                  _m(o.blended_per_mtok if o else None), _m(le.blended_per_mtok if le else None),
                  pct(c.breakeven_utilisation), _m(c.breakeven_months, 1))
    con.print(t)
    con.print("[dim]* per utilised GPU-hour (wall-clock cost / utilisation). Input/output split by the GPU-time "
              "share of prefill; blended = all tokens alike. Break-even: utilisation above which owning beats "
              "renting GPU-hours, months of rent that pay for the server.[/]")
    b = Table(title=f"Owned TCO breakdown, {cur} per utilised GPU-hour", title_justify="left")
    for col in ("chip", "capex", "power", "hosting", "maintenance", "total", "per wall-clock GPU-h",
                "avg power W/server"):
        b.add_column(col, justify="left" if col == "chip" else "right")
    for c in rep.chips:
        if c.tco is not None:
            u = c.tco.breakdown_utilised
            b.add_row(c.hardware, *(num(u[k], 3) for k in ("capex", "power", "hosting", "maintenance")),
                      num(c.tco.per_gpu_hour_utilised, 3), num(c.tco.per_gpu_hour_wall, 3),
                      num(c.tco.average_power_w_per_server, 0))
    con.print(b)
    for c in rep.chips:
        for n in c.notes:
            con.print(f"[yellow]  ! {c.hardware}: {escape(n)}[/]")
    profile_notes(con, rep.chips)


def profile_notes(con: Console, chips: Any) -> None:
    """One line per chip whose performance came from a user's calibration profile."""
    for c in chips:
        for n in getattr(c, "perf_notes", ()):
            if n.startswith(("calibrated on ", "profile ")):
                con.print(f"  profile: {c.hardware}: {escape(n)}", soft_wrap=True, highlight=False)


def lease(con: Console, rep: Any) -> None:
    cur, le = rep.currency, rep.lessor
    con.print(f"[bold]Lessor: {rep.server}[/] ({rep.gpus_per_server}x {rep.chip}) bought at "
              f"{num(rep.server_price, 0)} {cur}, rented at {num(rep.rent_per_server_month, 0)} {cur}/server-month "
              f"({num(rep.rent_per_gpu_hour, 2)} {cur}/GPU-h) for {rep.term_months} months, occupancy "
              f"{pct(rep.occupancy)}")
    t = Table(show_header=False, title="Lessor economics", title_justify="left")
    t.add_column("", style="bold")
    t.add_column("", justify="right")
    irr = DASH if le.irr_annual is None else f"{100 * le.irr_annual:.1f} %/yr ({100 * le.irr_monthly:.2f} %/month)"
    rows = [
        ("opex per server-month (lessor)", f"{num(rep.opex_per_server_month, 0)} {cur}"),
        ("residual value at end of term", f"{num(rep.residual_value, 0)} {cur}"),
        (f"NPV at {100 * le.discount_rate_annual:.1f} %/yr", f"{num(le.npv, 0)} {cur}"),
        ("IRR", irr),
        ("payback", DASH if le.payback_months is None else f"{le.payback_months:.1f} months"),
        ("discounted payback", DASH if le.discounted_payback_months is None
         else f"{le.discounted_payback_months:.1f} months"),
        (f"rent for a {100 * rep.target_irr:.1f} %/yr IRR", f"{num(rep.rent_for_target_irr, 0)} {cur}/server-month"),
        ("owner TCO per utilised GPU-hour", f"{num(rep.owner_tco.per_gpu_hour_utilised, 3)} {cur}"),
        ("lessee: months of rent that buy the server", DASH if rep.lessee_breakeven_months is None
         else f"{rep.lessee_breakeven_months:.1f}"),
        ("lessee: utilisation above which owning beats this rate by the hour", pct(rep.lessee_breakeven_utilisation)),
    ]
    for k, v in rows:
        t.add_row(k, v)
    con.print(t)


def fairprice(con: Console, rep: Any) -> None:
    r, cur = rep.result, rep.currency
    mix = ", ".join(f"{w.label()} x{share:.2f}" for w, share in rep.mix)
    con.print(f"[bold]{escape(rep.model)}[/] on {escape(mix)}")
    con.print(f"Y = {rep.vs}: {rep.vs_basis}; {_tok(rep.vs_tok_s_per_gpu)} tok/s/GPU -> "
              f"{num(r.y_blended_per_mtok, 3)} {cur} per million tokens")
    con.print(f"X = {rep.option} ({rep.option_gpus_per_server} GPUs): {_tok(rep.option_tok_s_per_gpu)} tok/s/GPU")
    if r.feasible:
        con.print(f"[bold green]Fair price of X: {num(r.fair_price, 0)} {cur}[/] per server "
                  f"(X then costs {num(r.x_blended_per_mtok_at_fair, 3)} {cur} per million tokens, as Y)")
    else:
        con.print(f"[bold red]X cannot match Y per token even at a price of zero[/] (fair price "
                  f"{num(r.fair_price, 0)} {cur})")
    if r.x_asked_price is not None:
        con.print(f"X asked {num(r.x_asked_price, 0)} {cur} -> {num(r.x_blended_per_mtok_at_asked, 3)} {cur} per "
                  f"million tokens: [bold]{r.verdict}[/]")
    t = Table(title=f"Fair price of X ({cur} per server): utilisation (rows) x electricity {cur}/kWh (columns)",
              title_justify="left")
    t.add_column("utilisation", justify="right")
    for e in r.grid_electricity:
        t.add_column(f"{e:.3g}", justify="right")
    for u, row in zip(r.grid_utilisation, r.grid_fair_price):
        t.add_row(pct(u), *(num(p, 0) for p in row))
    con.print(t)
    for n in getattr(rep, "notes", ()):
        con.print(f"[yellow]! {escape(n)}[/]", soft_wrap=True)
    con.print("[dim]One fair value against the cheapest obtainable alternative, with a P10-P90 range: suanli report "
              "(or /fairprice on the web).[/]")


def _tok(values: Any) -> str:
    return "/".join(num(v, 0) for v in values)


__all__ = ["cost", "explain_table", "fairprice", "lease", "output"]
