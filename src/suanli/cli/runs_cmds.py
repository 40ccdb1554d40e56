"""``suanli runs import|list|show|delete``: benchmark runs users already have, read from
the files their tools wrote (vLLM, SGLang, GenAI-Perf, AIPerf, guidellm, MLPerf,
trtllm-bench, case CSV) into the market database.  What a file does not say comes from the
flags (``--hardware H20 --model Qwen/Qwen3-32B --gpus 4 --tp 4``); see
:mod:`suanli.app.runs` for how flags and files merge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from suanli.cli._errors import SuanliGroup, fail
from suanli.cli.main import JsonOpt
from suanli.cli.market_cmds import DbOpt

runs_app = typer.Typer(cls=SuanliGroup, no_args_is_help=True,
                       help="Benchmark runs: import result files of vLLM, SGLang, GenAI-Perf, AIPerf, guidellm, "
                            "MLPerf, trtllm-bench and case CSVs; list, show, delete.")

_FORMATS = "auto|vllm|sglang|genai-perf|aiperf|guidellm|mlperf|trtllm|cases"


def _flags(**values: Any) -> Any:
    from suanli.app.runs import RunFlags

    return RunFlags(**values)


@runs_app.command("import")
def runs_import(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Benchmark result files.")],
    hardware: Annotated[Optional[str], typer.Option(help="Chip id or alias, e.g. H20 (see `suanli hardware list`).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model id, e.g. Qwen/Qwen3-32B (see `suanli models list`).")] = None,
    engine: Annotated[Optional[str], typer.Option(help="vllm|sglang|trtllm|mindie|other.")] = None,
    engine_version: Annotated[Optional[str], typer.Option("--engine-version", help="Engine version.")] = None,
    gpus: Annotated[Optional[int], typer.Option(min=1, help="Accelerators of the measured deployment.")] = None,
    tp: Annotated[Optional[int], typer.Option(min=1, help="Tensor-parallel size.")] = None,
    pp: Annotated[Optional[int], typer.Option(min=1, help="Pipeline-parallel size.")] = None,
    ep: Annotated[Optional[int], typer.Option(min=1, help="Expert-parallel size.")] = None,
    dp_attention: Annotated[Optional[int], typer.Option("--dp-attention", min=1, help="Attention data-parallel size.")] = None,
    weight_dtype: Annotated[Optional[str], typer.Option("--weight-dtype", help="bf16|fp16|fp8|int8|int4|fp4|mxfp4.")] = None,
    kv_dtype: Annotated[Optional[str], typer.Option("--kv-dtype", help="bf16|fp16|fp8.")] = None,
    label: Annotated[Optional[str], typer.Option(help="Your tag for these runs (replaces a file's label).")] = None,
    scenario: Annotated[Optional[str], typer.Option(
        help="offline|server|fixed-concurrency|single-request|prefill-only|decode-only.")] = None,
    isl: Annotated[Optional[float], typer.Option(min=0, help="Mean input tokens per request.")] = None,
    osl: Annotated[Optional[float], typer.Option(min=0, help="Mean output tokens per request.")] = None,
    concurrency: Annotated[Optional[int], typer.Option(min=1, help="Requests in flight (client cap).")] = None,
    request_rate: Annotated[Optional[float], typer.Option("--request-rate", min=0, help="Requests/s (server).")] = None,
    num_requests: Annotated[Optional[int], typer.Option("--num-requests", min=1, help="Requests in the run.")] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"{_FORMATS} (default: from the content).")] = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and check everything, store nothing.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import every run of FILE..., all or nothing; runs already stored count as duplicates."""
    from suanli.app.runs import import_runs
    from suanli.cli._render import print_json
    from suanli.market.errors import ImportRejected

    flags = _flags(hardware=hardware, model=model, engine=engine, engine_version=engine_version, gpus=gpus, tp=tp,
                   pp=pp, ep=ep, dp_attention=dp_attention, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                   label=label, scenario=scenario, isl=isl, osl=osl, concurrency=concurrency,
                   request_rate=request_rate, num_requests=num_requests)
    try:
        res = import_runs(files, db, flags=flags, fmt=fmt, dry_run=dry_run)
    except ImportRejected as exc:
        n = exc.total
        if as_json:
            print_json({"file": exc.file, "ok": False, "bad_records": n, "problems": [
                {"line": p.line, "section": p.section or None, "reason": p.reason} for p in exc.problems]})
        reasons = {p.reason for p in exc.problems}
        if n > 1 and len(reasons) == 1 and len(exc.problems) == n:
            raise fail(f"{exc.file}: rejected, nothing written ({n:,} bad records, all: {reasons.pop()})") from None
        if n > 1 and not as_json:
            for p in exc.problems[:20]:
                typer.echo(f"  {p}", err=True)
        raise fail(f"{exc.file}: rejected, nothing written ({n:,} bad record{'s' if n != 1 else ''})"
                   + (f": {exc.problems[0]}" if n == 1 and exc.problems else "")) from None
    if as_json:
        print_json({**res.to_dict(), "ok": True})
        return
    verb = "would add" if dry_run else "added"
    for f in res.files:
        ids = f.run_ids
        span = "" if not ids else f" (ids {ids[0]}-{ids[-1]})" if len(ids) > 1 else f" (id {ids[0]})"
        typer.echo(f"{f.file}: {f.format}, {f.runs} run{'s' if f.runs != 1 else ''}, {verb} {f.added}{span}, "
                   f"{f.duplicates} duplicate{'s' if f.duplicates != 1 else ''}")
        if any(e in ("", "other") for e in f.engines):
            typer.echo("  the file does not say which serving engine ran (stored as 'other' or blank): give --engine "
                       "vllm|sglang|trtllm|mindie; a profile applies per chip x engine")
        if f.duplicate_of:
            shown = ", ".join(map(str, f.duplicate_of[:10])) + (", ..." if len(f.duplicate_of) > 10 else "")
            typer.echo(f"  already stored from this file as run{'s' if len(f.duplicate_of) > 1 else ''} {shown} "
                       f"(with the flags given then; to import it with other flags, `suanli runs delete` them first)")


def _metric(run: Any, key: str) -> str:
    v = run.metrics.get(key)
    return "-" if v is None else f"{v:,.1f}" if v >= 100 else f"{v:,.3g}"


@runs_app.command("list")
def runs_list(
    hardware: Annotated[Optional[str], typer.Option(help="Only runs on this chip (id or alias).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Only runs of this model id.")] = None,
    engine: Annotated[Optional[str], typer.Option(help="Only runs of this engine.")] = None,
    label: Annotated[Optional[str], typer.Option(help="Only runs with this label.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stored runs, oldest first (throughputs per accelerator, mean latencies)."""
    from suanli.app.runs import list_runs
    from suanli.cli._render import print_json, stdout_console

    rows = list_runs(db, hardware=hardware, model=model, engine=engine, label=label)
    if as_json:
        print_json({"runs": [r.to_dict() for r in rows]})
        return
    t = Table(title=f"{len(rows)} run{'s' if len(rows) != 1 else ''}", title_justify="left")
    for c in ("id", "hardware", "gpus", "model", "engine", "scenario", "isl/osl", "load", "out tok/s/gpu",
              "TTFT ms", "TPOT ms", "label", "file"):
        t.add_column(c, overflow="fold", justify="right" if c in ("id", "gpus") else "left")
    for r in rows:
        load = (f"c={r.concurrency}" if r.concurrency else "") + (f" {r.request_rate:g}/s" if r.request_rate else "")
        lengths = "-" if r.isl is None and r.osl is None else f"{r.isl or 0:.0f}/{r.osl or 0:.0f}"
        t.add_row(str(r.id), r.hardware, str(r.gpus), escape(r.model), r.engine or "-", r.scenario or "-", lengths,
                  load.strip() or "-", _metric(r, "output_tok_s"), _metric(r, "ttft_ms"), _metric(r, "tpot_ms"),
                  escape(r.label), escape(f"{r.file_name}#{r.record_index + 1}"))
    stdout_console().print(t)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[int, typer.Argument(metavar="ID", help="Run id (see `suanli runs list`).")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every field of one run, its metrics and extras."""
    from suanli.app.runs import get_run
    from suanli.cli._render import print_json, stdout_console

    run = get_run(run_id, db)
    if as_json:
        print_json(run.to_dict())
        return
    con = stdout_console()
    d = run.to_dict()
    t = Table(title=f"run {run.id}", title_justify="left", show_header=False)
    t.add_column("field")
    t.add_column("value", overflow="fold")
    for k, v in d.items():
        if k in ("metrics", "extras"):
            continue
        t.add_row(k, "-" if v in (None, "") else escape(str(v)))
    for k, v in sorted(run.metrics.items()):
        t.add_row(f"[bold]{k}[/]", f"{v:.6g}")
    for k, v in sorted(run.extras.items()):
        t.add_row(f"[dim]{escape(k)}[/]", escape(str(v)))
    con.print(t)


@runs_app.command("delete")
def runs_delete(
    ids: Annotated[list[int], typer.Argument(metavar="ID...", help="Run ids.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete runs (all given ids must exist, else nothing is deleted)."""
    from suanli.app.runs import delete_runs
    from suanli.cli._render import print_json

    if not yes:
        import sys

        if not sys.stdin.isatty():   # nobody to ask
            raise fail("deleting runs needs confirmation; nothing deleted (use --yes)")
        try:
            confirmed = typer.confirm(f"delete {len(set(ids))} run(s)?", default=False, err=True)
        except (typer.Abort, EOFError):
            confirmed = False
        if not confirmed:
            raise fail("not confirmed; nothing deleted (use --yes)")
    n = delete_runs(ids, db)
    if as_json:
        print_json({"deleted": n})
    else:
        typer.echo(f"deleted {n} run{'s' if n != 1 else ''}")
