"""``suanli market import|export|quotes|events|index`` and ``suanli db init|path|backup|restore``.

Every command takes ``--db URL`` (a SQLite path or URL, or ``postgresql://...``); without
it ``$SUANLI_DATABASE_URL``, else the SQLite file in the user data directory, created and
seeded from the bundled data on first use.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer

from suanli.app import params as P
from suanli.cli._errors import SuanliGroup, fail
from suanli.cli._params import option
from suanli.cli.main import JsonOpt, app

market_app = typer.Typer(cls=SuanliGroup, no_args_is_help=True,
                         help="Market database: price quotes, leases, events, inventories; price index.")
db_app = typer.Typer(cls=SuanliGroup, no_args_is_help=True, help="Market database administration.")
app.add_typer(market_app, name="market")
app.add_typer(db_app, name="db")

DbOpt = Annotated[Optional[str], typer.Option(
    "--db", metavar="URL", help="Database: SQLite path/URL or postgresql://user@host/db "
                                "(default: $SUANLI_DATABASE_URL, else a SQLite file in the user data directory).")]
SinceOpt = Annotated[Optional[str], option(P.SINCE)]
UntilOpt = Annotated[Optional[str], option(P.UNTIL)]
ChannelOpt = Annotated[Optional[str], option(P.CHANNEL)]


def _today(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"--today {text!r} is not YYYY-MM-DD") from None


# --- market ---------------------------------------------------------------------------------

@market_app.command("import")
def market_import(
    file: Annotated[Path, typer.Argument(metavar="FILE.csv|FILE.json", help="Quotes, leases, events or inventories.")],
    kind: Annotated[Optional[str], typer.Option(
        help="quotes|leases|events|inventories (default: guessed from the columns).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and count, write nothing.")] = False,
    today: Annotated[Optional[str], typer.Option(
        metavar="YYYY-MM-DD", help="Reference date: rows dated after it are rejected (default: today).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import FILE: all rows validated; one bad row rejects the file; stored rows are skipped."""
    from suanli.app.market import import_file
    from suanli.cli import _render_market as render
    from suanli.market.errors import ImportRejected

    try:
        res = import_file(file, db, kind=kind, dry_run=dry_run, today=_today(today))
    except ImportRejected as exc:
        n, shown = exc.total, len(exc.problems)
        if as_json:
            render.print_json({"file": exc.file, "ok": False, "bad_rows": n, "problems": [
                {"line": p.line, "section": p.section or None, "reason": p.reason} for p in exc.problems]})
        elif n > 1:
            render.import_problems(exc.problems)
            if n > shown:
                render.import_problems([f"... and {n - shown:,} more bad rows (the first {shown} are listed)"])
        raise fail(f"{exc.file}: rejected, nothing written ({n:,} bad row{'s' if n != 1 else ''})"
                   + (f": {exc.problems[0]}" if n == 1 and exc.problems else "")) from None
    if as_json:
        render.print_json({**res.to_dict(), "ok": True})
    else:
        render.import_result(res)


@market_app.command("export")
def market_export(
    kind: Annotated[str, typer.Option(help="quotes|leases|events|inventories|systems|calibration|all.")] = "quotes",
    out: Annotated[Optional[Path], typer.Option("--out", metavar="FILE", help="Write here (default: stdout).")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="csv|json (default: from --out, else csv).")] = None,
    db: DbOpt = None,
) -> None:
    """Export records in the import format (re-importing the file adds nothing)."""
    from suanli.app.market import export

    text = export(kind, db, fmt=fmt, out=out)
    if out is None:
        typer.echo(text, nl=False)
    else:
        typer.echo(f"wrote {out}", err=True)


@market_app.command("quotes")
def market_quotes(
    item: Annotated[Optional[str], typer.Option(help="Item or chip name, e.g. H20 (case-insensitive).")] = None,
    kind: Annotated[Optional[str], typer.Option(help="chip|server|module|lease|cloud|token_api.")] = None,
    channel: ChannelOpt = None,
    region: Annotated[Optional[str], typer.Option(help="CN, US, Global, ...")] = None,
    currency: Annotated[Optional[str], typer.Option(help="CNY, USD, ...")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="At most this many rows.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Price quotes, oldest first."""
    from suanli.app.market import quotes
    from suanli.cli import _render_market as render

    rows = quotes(db, item=item, kind=kind, channel=channel, region=region, currency=currency, since=since,
                  until=until, limit=limit)
    if as_json:
        render.print_json([q.to_dict() for q in rows])
    else:
        render.quotes(rows)


@market_app.command("events")
def market_events(
    chip: Annotated[Optional[str], typer.Option(help="Only events about this chip, e.g. H20.")] = None,
    kind: Annotated[Optional[str], typer.Option(
        help="export_control|licence|policy|supply|demand|price|product_launch|other.")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Dated market events (export rules, licences, supply, demand, prices)."""
    from suanli.app.market import events
    from suanli.cli import _render_market as render

    rows = events(db, chip=chip, kind=kind, since=since, until=until)
    if as_json:
        render.print_json([e.to_dict() for e in rows])
    else:
        render.events(rows)


@market_app.command("index")
def market_index(
    chip: Annotated[str, typer.Option(help="Chip, e.g. H20.")],
    channel: ChannelOpt = None,
    measure: Annotated[str, typer.Option(help="purchase (per GPU) | rent (per GPU-hour).")] = "purchase",
    currency: Annotated[Optional[str], typer.Option(
        help="Index currency (default: the most quoted one).")] = None,
    fx: Annotated[Optional[list[str]], typer.Option(
        "--fx", metavar="CODE=RATE", help="Convert quotes in CODE at RATE index-currency units each; "
                                          "repeatable (default: other currencies are left out).")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE.png|FILE.html",
                                                 help="Save a chart with the events overlaid.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Weekly per-GPU price index by channel, with quote counts and a confidence band."""
    from suanli.app.market import parse_fx, price_index
    from suanli.cli import _render_market as render

    if plot is not None:
        from suanli.market.db import database_files
        from suanli.viz.charts import check_plot_path
        check_plot_path(plot, protected=database_files(db))
    idx = price_index(chip, db, channel=channel, measure=measure, currency=currency, fx=parse_fx(fx),
                      since=since, until=until)
    if plot is not None:
        from suanli.viz.market_charts import price_index_chart
        price_index_chart(idx, plot)
    if as_json:
        render.print_json({**idx.to_dict(), **({"plot": str(plot)} if plot else {})})
    else:
        render.index(idx, plot)


# --- db -------------------------------------------------------------------------------------

@db_app.command("init")
def db_init(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Create (or migrate) the database and load the bundled data; safe to repeat."""
    from suanli.app.market import db_status
    from suanli.cli import _render_market as render

    info = db_status(db)
    if as_json:
        render.print_json(info)
    else:
        render.db_status(info)


@db_app.command("path")
def db_path(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Where the database is (does not create it)."""
    from suanli.app.market import db_location
    from suanli.cli import _render_market as render

    info = db_location(db)
    if as_json:
        render.print_json(info)
    else:
        typer.echo(info["location"])


@db_app.command("backup")
def db_backup(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="Backup file (.json, or .json.gz compressed).")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the whole database to one portable file (SQLite and PostgreSQL alike)."""
    from suanli.app.market import backup
    from suanli.cli import _render_market as render

    info = backup(path, db)
    if as_json:
        render.print_json(info)
    else:
        render.backup_info(info)


@db_app.command("restore")
def db_restore(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="A file written by `suanli db backup`.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace the database's contents with a backup (all or nothing)."""
    from suanli.app.market import restore
    from suanli.cli import _render_market as render

    info = restore(path, db)
    if as_json:
        render.print_json(info)
    else:
        render.backup_info(info, restored=True)
