"""Rich rendering of market results (quotes, events, price index, import and database
reports).  Text from the database is escaped: it is data, never markup."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from rich.markup import escape
from rich.table import Table

from suanli.cli._render import DASH, num, print_json, stdout_console

__all__ = ["quotes", "events", "index", "import_result", "import_problems", "db_status", "print_json"]


def _short(text: str, width: int) -> str:
    text = " ".join((text or "").split())
    return escape(text if len(text) <= width else text[: width - 1] + "…")


def _price(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.4g}"


def quotes(rows: Iterable[Any]) -> None:
    rows = list(rows)
    con = stdout_console()
    t = Table(title=f"{len(rows)} quote{'s' if len(rows) != 1 else ''}", title_justify="left")
    for c in ("date", "item", "kind", "configuration", "price", "unit", "channel", "region", "conf.", "source"):
        t.add_column(c, justify="right" if c == "price" else "left", overflow="fold")
    for q in rows:
        d = q.to_dict()
        conf = q.confidence if q.confidence != "low" else "[yellow]low[/]"
        t.add_row(d["date"], escape(q.item), q.kind + (f" ({q.term})" if q.term else ""), _short(q.configuration, 48),
                  f"{_price(q.price)} {q.currency}", q.unit, q.channel, escape(q.region), conf, _short(q.source, 40))
    con.print(t)


def events(rows: Iterable[Any]) -> None:
    rows = list(rows)
    con = stdout_console()
    t = Table(title=f"{len(rows)} event{'s' if len(rows) != 1 else ''}", title_justify="left")
    for c in ("date", "kind", "chips", "event", "region", "source"):
        t.add_column(c, overflow="fold")
    for e in rows:
        t.add_row(e.to_dict()["date"], e.kind, escape(", ".join(e.chips)), _short(e.description, 90),
                  escape(e.region), _short(e.source, 40))
    con.print(t)


def index(idx: Any, plot: Any = None) -> None:
    con = stdout_console()
    res = idx.result
    unit = f"{res.currency}/GPU" + ("-hour" if res.measure == "rent" else "")
    con.print(f"[bold]{escape(res.chip)}[/]: weekly {'rent' if res.measure == 'rent' else 'price'} per GPU "
              f"({unit}), median of the week's quotes, band from quote spread and confidence")
    if not res.series:
        con.print("[yellow]no usable quotes[/] (see `suanli market quotes --item ...`)")
    for channel, s in res.series.items():
        t = Table(title=f"{channel}: {s.observations} quotes in {len(s.points)} weeks", title_justify="left")
        for c in ("week of", "n", "price", "low", "high"):
            t.add_column(c, justify="left" if c == "week of" else "right")
        for p in s.points:
            t.add_row(p.week.isoformat(), str(p.n), _price(p.price), _price(p.low), _price(p.high))
        con.print(t)
    if res.measure == "purchase":
        hosts = ", ".join(f"{v:,.0f} {k}" for k, v in res.host_model.per_gpu.items())
        con.print(f"[dim]servers: (price - host cost) / GPUs, host cost {hosts} per GPU "
                  f"(±{res.host_model.rel_error:.0%}); modules: price / GPUs[/]")
    if res.excluded:
        reasons: dict[str, int] = {}
        for _, why in res.excluded:
            reasons[why] = reasons.get(why, 0) + 1
        for why, n in sorted(reasons.items()):
            con.print(f"[yellow]left out {n}: {escape(why)}[/]")
    if idx.events:
        con.print(f"{len(idx.events)} events for {escape(res.chip)} (latest: "
                  f"{idx.events[-1].to_dict()['date']} {_short(idx.events[-1].description, 80)})")
    if plot:
        con.print(f"chart: {plot}")


def import_result(res: Any) -> None:
    con = stdout_console()
    verb = "would add" if res.dry_run else "added"
    parts = [f"{k}: {r} rows, {verb} {a}" for k, (r, a) in res.kinds.items()]
    con.print(f"{escape(res.file)}: " + "; ".join(parts)
              + (f" ({res.duplicates} already stored)" if res.duplicates else "")
              + (" [dim](dry run: nothing written)[/]" if res.dry_run else ""))


def import_problems(problems: Iterable[Any]) -> None:
    from suanli.cli._render import stderr_console

    con = stderr_console()
    for p in problems:
        con.print(f"  {escape(str(p))}", soft_wrap=True, highlight=False, markup=False)


def db_status(info: Mapping[str, Any]) -> None:
    con = stdout_console()
    con.print(f"database: {escape(str(info['location']))} ({info['dialect']}, schema {info['schema']})")
    rows = info.get("rows", {})
    t = Table(show_header=True)
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in rows.items():
        t.add_row(name, num(n, 0) if n is not None else DASH)
    con.print(t)


def backup_info(info: Mapping[str, Any], *, restored: bool = False) -> None:
    con = stdout_console()
    verb = "restored from" if restored else "backed up to"
    con.print(f"{verb} {escape(str(info['path']))}: {sum(info['rows'].values())} rows in {len(info['rows'])} "
              f"tables (schema {info['schema']})")
