"""``suanli calibrate`` and ``suanli profile``: fit a calibration profile on your own runs,
list, show, export, import and delete profiles."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from suanli.cli._errors import SuanliGroup
from suanli.cli.main import JsonOpt, ProfileDbOpt, app

profile_app = typer.Typer(cls=SuanliGroup, no_args_is_help=True,
                          help="Calibration profiles fitted on your own runs: list, show, export, import, delete.")
app.add_typer(profile_app, name="profile")

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="Profile name.")]


@app.command()
def calibrate(
    profile: Annotated[str, typer.Option("--profile", metavar="NAME", help="Name to store the profile under "
                                         "(replaces a profile of that name).")],
    runs: Annotated[Optional[str], typer.Option(
        "--runs", metavar="SELECTOR",
        help="Stored runs to fit on (suanli runs list): all, ids and ranges (3,5-9), label:NAME, hardware:ID, "
             "engine:NAME, model:ID; combine with + (AND).")] = None,
    cases: Annotated[Optional[Path], typer.Option(
        "--cases", metavar="FILE.csv", help="Fit on the measured rows of a validation-case CSV instead of stored runs.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Fit and show; store nothing.")] = False,
    db: ProfileDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit a small physical correction of the performance model (per op kind and runtime cost, per chip x
    engine, with shrinkage toward the uncalibrated model) on measured runs, and store it as a profile that
    every command takes with --profile NAME."""
    from suanli.app import profiles
    from suanli.errors import InvalidInput

    if (runs is None) == (cases is None):
        raise InvalidInput("give --runs SELECTOR (stored runs) or --cases FILE.csv, exactly one", field="runs")
    from contextlib import nullcontext

    bar_ctx: Any = nullcontext(None)
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from suanli.cli._render import stderr_console
        bar_ctx = Progress(TextColumn("predicting runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           console=stderr_console(), transient=True)
    with bar_ctx as bar:
        progress = None
        if bar is not None:
            task = bar.add_task("runs", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)
        prof = _fit(profiles, runs, cases, profile, db, dry_run, progress)
    from suanli.cli import _render
    if as_json:
        _render.print_json({**prof.to_dict(), "stored": not dry_run})
        return
    _show(prof, stored=not dry_run)


def _fit(profiles: Any, runs: str | None, cases: Path | None, profile: str, db: str | None, dry_run: bool,
         progress: Any) -> Any:
    from suanli.errors import InvalidInput

    if runs is not None:
        return profiles.calibrate_runs(runs, name=profile, db=db, save=not dry_run, progress=progress)
    from suanli.app.validate import read_cases
    assert cases is not None
    rows = read_cases(cases)
    bad = [(line, row["__error__"]) for line, row in rows if "__error__" in row]
    if bad:
        line, why = bad[0]
        raise InvalidInput(f"{cases}: line {line}: {why}; nothing was fitted", field="cases")
    return profiles.calibrate_rows([row for _, row in rows], name=profile, db=db, save=not dry_run,
                                   source=f"suanli calibrate --cases {cases.name}", progress=progress)


def _show(prof: Any, *, stored: bool | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from suanli.cli._render import pct, stdout_console

    con = stdout_console()
    con.print(f"[bold]profile {escape(prof.name)}[/]: {len(prof.runs)} runs, {len(prof.points) or '?'} measured "
              f"values{' (' + escape(prof.created) + ')' if prof.created else ''}", highlight=False)
    t = Table(title="Correction per chip x engine (factor on each part; 1 = unchanged)", title_justify="left",
              caption="factor ± posterior log-sd of the factor; APE: median over the runs of that chip x engine, "
                      "before -> after (in sample)", caption_justify="left")
    for c in ("chip x engine", "for", "runs", "gemm", "attention", "comm", "host", "frontend", "TTFT rest",
              "TPOT rest", "APE before", "after"):
        t.add_column(c, justify="left" if c in ("chip x engine", "for") else "right", overflow="fold")
    for s in prof.scopes:
        what = s.model or (f"{s.family} models" if s.family else "any model")
        t.add_row(f"{s.hardware} x {s.engine}", escape(what), str(s.n_runs),
                  *(f"{s.scales.get(g, 1.0):.2f}±{s.sd.get(g, 0.0):.2f}" for g in
                    ("gemm", "attention", "comm", "host", "frontend", "ttft_rest", "tpot_rest")),
                  pct(s.median_ape_before), pct(s.median_ape_after))
    con.print(t)
    for s in prof.skipped:
        con.print(f"[yellow]  not used: {escape(str(s.get('ref')))} {escape(str(s.get('metric')))}: "
                  f"{escape(str(s.get('reason')))}[/]", soft_wrap=True)
    if stored is True:
        con.print(f"stored as profile [bold]{escape(prof.name)}[/]: use --profile {escape(prof.name)} with predict, "
                  f"compare, pareto, sweep, simulate, cost, fairprice, report", highlight=False)
    elif stored is False:
        con.print("dry run: nothing stored")


@profile_app.command("list")
def profile_list(db: ProfileDbOpt = None, as_json: JsonOpt = False) -> None:
    """Stored profiles: name, date, runs, chips x engines covered."""
    from rich.table import Table

    from suanli.app.profiles import list_profiles
    from suanli.cli._render import print_json, stdout_console

    items = list_profiles(db)
    if as_json:
        print_json({"profiles": items})
        return
    t = Table(title=f"Calibration profiles ({len(items)})", title_justify="left")
    for c in ("name", "date", "runs", "covers", "source"):
        t.add_column(c, overflow="fold")
    for p in items:
        t.add_row(p["name"], p["date"], str(p["runs"]), ", ".join(p["covers"]), p["source"])
    stdout_console().print(t)


@profile_app.command("show")
def profile_show(name: NameArg, db: ProfileDbOpt = None, as_json: JsonOpt = False) -> None:
    """Factors, runs and before/after errors of one profile."""
    from suanli.app.profiles import get_profile
    from suanli.cli._render import print_json

    prof = get_profile(name, db=db, allow_file=True)
    if as_json:
        print_json(prof.to_dict())
    else:
        _show(prof)


@profile_app.command("export")
def profile_export(
    name: NameArg,
    out: Annotated[Optional[Path], typer.Option("--out", metavar="FILE.json",
                                                help="Write here (default: standard output).")] = None,
    db: ProfileDbOpt = None,
) -> None:
    """Write a profile as a small JSON file to share (suanli profile import FILE on another machine)."""
    from suanli.app.profiles import export_profile
    from suanli.files import atomic_write, check_output
    from suanli.market.db import database_files

    if out is not None:
        check_output(out, suffixes=(".json",), field="out", what="--out file", protected=database_files(db))
    text = export_profile(name, db=db)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        atomic_write(out, text + "\n")
        typer.echo(f"wrote profile {name} to {out}")


@profile_app.command("import")
def profile_import(
    file: Annotated[Path, typer.Argument(metavar="FILE.json", help="An exported profile.")],
    name: Annotated[Optional[str], typer.Option("--name", help="Store under this name instead.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a profile of the same name.")] = False,
    db: ProfileDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store an exported profile (checked: format, factors within their physical range)."""
    from suanli.app.profiles import import_profile
    from suanli.errors import InvalidInput

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror or exc}", field="file") from None
    prof = import_profile(data, db=db, name=name, origin=str(file), replace=replace)
    if as_json:
        from suanli.cli._render import print_json
        print_json({"name": prof.name, "scopes": len(prof.scopes), "runs": len(prof.runs)})
    else:
        typer.echo(f"imported profile {prof.name} ({len(prof.scopes)} corrections, {len(prof.runs)} runs)")


@profile_app.command("delete")
def profile_delete(name: NameArg, db: ProfileDbOpt = None) -> None:
    """Delete a stored profile."""
    from suanli.app.profiles import delete_profile
    from suanli.errors import InvalidInput

    if not delete_profile(name, db=db):
        raise InvalidInput(f"no profile named {name!r}", field="profile")
    typer.echo(f"deleted profile {name}")
