"""``suanli compare | pareto | sweep``: deployment search across chips."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Optional

import typer

from suanli.app import params as P
from suanli.cli._params import option
from suanli.cli.main import HardwareFileOpt, JsonOpt, ProfileDbOpt, ProfileOpt, app

ModelOpt = Annotated[str, typer.Option("--model", "-m", metavar="MODEL", help="Bundled model id or config.json path.")]
IslOpt = Annotated[float, option(P.ISL)]
OslOpt = Annotated[float, option(P.OSL)]
HwListOpt = Annotated[Optional[str], typer.Option(
    "--hardware", metavar="CHIPS", help="Comma-separated chips (default: buyable in China today + H100/H200).")]
GpusOpt = Annotated[Optional[int], typer.Option("--gpus", help="Exactly this many GPUs per deployment unit.")]
MaxGpusOpt = Annotated[Optional[int], typer.Option("--max-gpus", help="At most this many GPUs (default 8).")]
EngineOpt = Annotated[str, option(P.ENGINE)]
WeightOpt = Annotated[Optional[str], typer.Option("--weight-dtype", metavar="DTYPES",
                                                  help="Comma-separated weight precisions to consider.")]
KvOpt = Annotated[Optional[str], typer.Option("--kv-dtype", metavar="DTYPES",
                                              help="Comma-separated KV-cache precisions to consider.")]
DisaggOpt = Annotated[bool, typer.Option("--disagg/--no-disagg",
                                         help="Also search disaggregated prefill/decode (xPyD).")]
BackendOpt = Annotated[str, typer.Option(help="local (processes) | serial | ray.")]
AddressOpt = Annotated[Optional[str], typer.Option(help="Ray cluster address for --backend ray (default: local Ray).")]
PlotOpt = Annotated[Optional[Path], typer.Option("--plot", metavar="FILE.png|FILE.html", help="Save a chart.")]


def _split(text: str | None, flag: str = "") -> list[str] | None:
    """``'a, b'`` -> ``['a', 'b']``; None for an option not given.  An option given with
    nothing in it is an error (it would otherwise silently mean the default)."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        from suanli.errors import InvalidInput
        raise InvalidInput(f"{flag or 'a list option'} is empty: give a comma-separated list or leave it out",
                           field=flag.lstrip("-").replace("-", "_") or None)
    return items


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from suanli.cli import _render
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=_render.stderr_console(), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _common(model: str, hardware: str | None, isl: float, osl: float, gpus: int | None, max_gpus: int | None,
            engine: str, weight_dtype: str | None, kv_dtype: str | None, disagg: bool, backend: str,
            address: str | None, hardware_file: list[Path] | None, plot: Path | None = None,
            profile: str | None = None, db: str | None = None) -> dict[str, Any]:
    """Search arguments shared by compare/pareto/sweep; checks the chart path and loads the
    profile before any work."""
    if plot is not None:
        from suanli.viz.charts import check_plot_path
        check_plot_path(plot)
    chips = _split(hardware, "--hardware")
    if chips:
        from suanli.cli.main import _catalog, note_hardware
        note_hardware(_catalog(hardware_file), *chips)
    prof = None
    if profile:
        from suanli.app.profiles import get_profile
        prof = get_profile(profile, db=db)
    return dict(model=model, hardware=chips, isl=isl, osl=osl, gpus=gpus, max_gpus=max_gpus,
                engine=engine, weight_dtypes=_split(weight_dtype, "--weight-dtype"),
                kv_dtypes=_split(kv_dtype, "--kv-dtype"), disagg=disagg, backend=backend,
                address=address, hardware_files=[str(p) for p in hardware_file or []], profile=prof)


@app.command()
def compare(
    model: ModelOpt, isl: IslOpt = P.ISL.default, osl: OslOpt = P.OSL.default,
    ttft_ms: Annotated[Optional[float], option(P.TTFT_MS)] = P.TTFT_MS.default,
    tpot_ms: Annotated[Optional[float], option(P.TPOT_MS)] = P.TPOT_MS.default,
    hardware: HwListOpt = None, gpus: GpusOpt = None, max_gpus: MaxGpusOpt = None,
    request_rate: Annotated[Optional[float], typer.Option(
        "--request-rate", help="Requests/s to serve: GPUs and servers needed.")] = None,
    engine: EngineOpt = P.ENGINE.default, weight_dtype: WeightOpt = None, kv_dtype: KvOpt = None, disagg: DisaggOpt = True,
    backend: BackendOpt = "local", address: AddressOpt = None, plot: PlotOpt = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", metavar="DATE", help="Flag chips not obtainable in China "
                                                 "at this date (default today), with the deciding event.")] = None,
    obtainable_only: Annotated[bool, typer.Option("--obtainable-only",
                                                  help="Leave out chips not obtainable in China at --as-of.")] = False,
    hardware_file: HardwareFileOpt = None, profile: ProfileOpt = None, db: ProfileDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Best deployment per chip under TTFT/TPOT targets, ranked by tokens/s per GPU; each chip flagged
    with whether it could be obtained in China at --as-of (see `suanli hardware show CHIP`)."""
    from suanli.app.availability import obtainability
    from suanli.app.compare import compare as run_compare
    from suanli.cli import _render_search

    kw = _common(model, hardware, isl, osl, gpus, max_gpus, engine, weight_dtype, kv_dtype, disagg, backend,
                 address, hardware_file, plot, profile=profile, db=db)
    with _progress("comparing chips") as progress:
        res = run_compare(ttft_ms=ttft_ms, tpot_ms=tpot_ms, request_rate=request_rate, progress=progress, **kw)
    day, avail = obtainability([c.hardware for c in res.chips], as_of, hardware_files=kw["hardware_files"])
    if obtainable_only:
        from dataclasses import replace
        keep = {hw for hw, a in avail.items() if a.obtainable}
        res = replace(res, chips=tuple(c for c in res.chips if c.hardware in keep),
                      frontiers=type(res.frontiers)(f for f in res.frontiers if f.hardware in keep))
    if plot is not None:
        from suanli.viz.charts import frontier_chart
        fronts = res.frontiers
        best = {c.hardware: (c.tok_s_per_user, c.output_tok_s_per_gpu) for c in res.chips
                if c.feasible and c.tok_s_per_user is not None and c.output_tok_s_per_gpu is not None}
        frontier_chart(fronts, plot, title=_title(res.model, isl, osl, ttft_ms, tpot_ms), best=best)
    if as_json:
        _render_search.print_json({**res.to_dict(), "as_of": day,
                                   "availability": {hw: a.to_dict() for hw, a in avail.items()
                                                    if any(c.hardware == hw for c in res.chips)}})
    else:
        _render_search.comparison(res, plot, avail=avail, as_of=day)


def _title(model: str, isl: float, osl: float, ttft: float | None = None, tpot: float | None = None) -> str:
    sla = ", ".join(x for x in (f"TTFT ≤ {ttft:g} ms" if ttft else "", f"TPOT ≤ {tpot:g} ms" if tpot else "") if x)
    return f"{model}, {isl:g} in / {osl:g} out" + (f" ({sla})" if sla else "") + " — suanli calibrated predictions"


@app.command()
def pareto(
    model: ModelOpt, isl: IslOpt = P.ISL.default, osl: OslOpt = P.OSL.default, hardware: HwListOpt = None, gpus: GpusOpt = None,
    max_gpus: MaxGpusOpt = None, engine: EngineOpt = P.ENGINE.default, weight_dtype: WeightOpt = None, kv_dtype: KvOpt = None,
    disagg: DisaggOpt = True, backend: BackendOpt = "local", address: AddressOpt = None, plot: PlotOpt = None,
    hardware_file: HardwareFileOpt = None, profile: ProfileOpt = None, db: ProfileDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Throughput per GPU vs tokens/s per user frontier per chip (table and chart)."""
    from suanli.app.compare import pareto as run_pareto
    from suanli.cli import _render_search

    kw = _common(model, hardware, isl, osl, gpus, max_gpus, engine, weight_dtype, kv_dtype, disagg, backend,
                 address, hardware_file, plot, profile=profile, db=db)
    with _progress("searching") as progress:
        fronts = run_pareto(progress=progress, **kw)
    if plot is not None:
        from suanli.specs.model import load_model
        from suanli.viz.charts import frontier_chart
        frontier_chart(fronts, plot, title=_title(load_model(model).id, isl, osl))
    if as_json:
        _render_search.print_json({"model": model, "isl": isl, "osl": osl,
                                   "frontiers": [_render_search.frontier_dict(f) for f in fronts]})
    else:
        _render_search.frontiers(fronts, plot)


@app.command()
def sweep(
    model: ModelOpt,
    out: Annotated[Path, typer.Option("--out", metavar="FILE.parquet|FILE.csv", help="Where to write every row.")],
    isl: IslOpt = P.ISL.default, osl: OslOpt = P.OSL.default, hardware: HwListOpt = None, gpus: GpusOpt = None,
    max_gpus: MaxGpusOpt = None, engine: EngineOpt = P.ENGINE.default, weight_dtype: WeightOpt = None, kv_dtype: KvOpt = None,
    disagg: DisaggOpt = True, backend: BackendOpt = "local", address: AddressOpt = None,
    hardware_file: HardwareFileOpt = None, profile: ProfileOpt = None, db: ProfileDbOpt = None,
) -> None:
    """Every evaluated configuration of every chip, written to a Parquet or CSV file."""
    from suanli.app.compare import sweep as run_sweep
    from suanli.cli._export import check_table_path, write_table

    check_table_path(out)
    kw = _common(model, hardware, isl, osl, gpus, max_gpus, engine, weight_dtype, kv_dtype, disagg, backend,
                 address, hardware_file, profile=profile, db=db)
    with _progress("sweeping") as progress:
        cols = run_sweep(progress=progress, **kw)
    n = write_table(cols, out)
    typer.echo(f"wrote {n:,} configurations to {out}")
    if "profile" in cols:
        for note in dict.fromkeys(str(v) for v in cols["profile"]):
            typer.echo(f"profile: {note}")
