"""Rich rendering of the buyer report (:class:`suanli.app.report.BuyerReport`); nothing computes here."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from suanli.cli._render import DASH, num

STATE = {"official": "[green]yes[/]", "restricted": "[yellow]yes, restricted[/]", "grey": "[red]no: grey only[/]",
         "none": "[red]no: not on sale[/]"}


def _flags(q: dict[str, Any] | None) -> str:
    if not q:
        return ""
    f = [x for x, on in (("rumoured", q.get("rumoured")), ("assumed", q.get("assumed"))) if on]
    return f" [yellow]({', '.join(f)})[/]" if f else ""


def render(con: Console, rep: Any) -> None:
    from suanli.app.report import short_money

    cur = rep.currency
    con.print(f"[bold]Buyer report as of {rep.as_of}[/]: {escape(rep.model)}, workload {escape(rep.workload)}; "
              f"{cur} per million tokens (blended input+output at the workload's ratio)")
    t = Table(title=f"Chips ranked by cost per million tokens (obtainable at {rep.as_of} first)", title_justify="left")
    for c in ("#", "chip", f"obtainable {rep.as_of}", "deployment", "tok/s/GPU", f"owned {cur}/M",
              f"leased {cur}/M", "server price (8-card)", "note"):
        t.add_column(c, justify="right" if c in ("#", "tok/s/GPU", f"owned {cur}/M", f"leased {cur}/M") else "left",
                     overflow="fold")
    rank = 0
    for r in rep.ranked():
        c = r.cost
        a = r.availability
        ob = STATE[a.state]
        if not c.feasible:
            t.add_row("–", escape(r.name), ob, f"[red]{escape(c.reason)}[/]", DASH, DASH, DASH, DASH, "")
            continue
        best = r.best()
        if best is not None and r.obtainable:
            rank += 1
        price = DASH
        if c.server_price is not None:
            q = c.server_quote or {}
            price = f"{num(c.server_price, 0)} ({escape(q.get('basis', ''))}, {q.get('date', '')})" + _flags(q)
        note = r.no_price_reason or "; ".join(n for n in c.notes if "no public" not in n)
        t.add_row(str(rank) if best is not None and r.obtainable else "–", escape(r.name), ob,
                  escape(c.deployment), num(c.output_tok_s_per_gpu, 0),
                  num(c.owned.blended_per_mtok, 2) if c.owned else DASH,
                  (num(c.leased.blended_per_mtok, 2) + _flags(c.lease_quote)) if c.leased else DASH,
                  price, escape(note))
    con.print(t)
    from suanli.cli._render_econ import profile_notes
    profile_notes(con, [r.cost for r in rep.chips])
    f = rep.fair_value
    if f is not None:
        con.print(f"[bold]Fair value of {escape(f.option_name)}[/] ({escape(f.option)}): the price at which its "
                  f"cost per token equals the cheapest alternative obtainable at {rep.as_of}")
        con.print(f"  [bold]{escape(f.verdict)}[/]", soft_wrap=True)
        if f.asking_source:
            con.print(f"  [dim]asking price: {escape(f.asking_source)}[/]", soft_wrap=True)
        for n in f.notes:
            con.print(f"  [yellow]! {escape(n)}[/]", soft_wrap=True)
        if f.alternatives:
            ft = Table(title="Fair value against each obtainable alternative (P10-P90 from the performance bands "
                             "and price dispersion)", title_justify="left")
            for col in ("against", "basis", f"{cur}/M", "fair value", "P10", "P90", "cheapest in"):
                ft.add_column(col, overflow="fold",
                              justify="left" if col in ("against", "basis") else "right")
            for alt in f.alternatives:
                ft.add_row(escape(alt.name), escape(alt.price_text), num(alt.blended_per_mtok, 2),
                           short_money(alt.fair_price, cur), short_money(alt.p10, cur), short_money(alt.p90, cur),
                           f"{100 * alt.cheapest_share:.0f}%")
            con.print(ft)
    con.print(f"[bold]What was obtainable at {rep.as_of}[/] (the deciding event; full timeline: suanli hardware show CHIP)")
    for r in rep.ranked():
        a = r.availability
        src = a.reason.source if a.reason else ""
        con.print(f"  {escape(r.name)}: {escape(a.reason_text())} [dim]{escape(src)}[/]", soft_wrap=True)
    left = rep.left_out()
    if left:
        con.print("[bold]Not in the cost chart[/]:")
        for x in left:
            con.print(f"  {escape(x['name'])}: {escape(x['why'])}", soft_wrap=True)
    con.print("[dim]Every price is dated and sourced: --explain or --json for the full trace.[/]")
