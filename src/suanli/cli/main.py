"""``suanli`` command line: predict, validate, and browse the hardware, model and system catalogs.

The CLI only parses flags, calls :mod:`suanli.app` / :mod:`suanli.specs` and renders
(:mod:`suanli.cli._render`).  Errors a user can cause are one line ``error: ...`` on
stderr with exit code 2 (:mod:`suanli.cli._errors`).  Modelling modules are imported
inside the commands so that ``suanli --help`` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from suanli.app.limits import MAX_CONCURRENCY, MAX_GPUS, MAX_RATE
from suanli.cli._errors import SuanliGroup

if TYPE_CHECKING:
    from suanli.specs.accelerator import HardwareCatalog

app = typer.Typer(
    name="suanli", cls=SuanliGroup, no_args_is_help=True, add_completion=False,
    pretty_exceptions_show_locals=False,
    help="What an AI accelerator is really worth: calibrated LLM serving predictions and catalogs.",
)
hardware_app = typer.Typer(cls=SuanliGroup, no_args_is_help=True, help="Accelerator catalog.")
models_app = typer.Typer(cls=SuanliGroup, no_args_is_help=True,
                         help="Model configs: bundled, $SUANLI_MODELS_PATH and the local Hugging Face cache.")
systems_app = typer.Typer(cls=SuanliGroup, no_args_is_help=True, help="Server / rack system catalog.")
app.add_typer(hardware_app, name="hardware")
app.add_typer(models_app, name="models")
app.add_typer(systems_app, name="systems")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
ProfileOpt = Annotated[Optional[str], typer.Option(
    "--profile", metavar="NAME|FILE.json",
    help="Calibration profile fitted on your own runs (suanli calibrate --profile NAME) or an exported "
         "profile file; predictions on the chips and engines it covers are corrected and say so.")]
ProfileDbOpt = Annotated[Optional[str], typer.Option(
    "--db", metavar="URL", help="Database holding --profile (default: $SUANLI_DATABASE_URL or the local SQLite file).")]
HardwareFileOpt = Annotated[
    Optional[list[Path]],
    typer.Option("--hardware-file", metavar="PATH",
                 help="User accelerator file (CSV/JSON) or directory, merged over the bundled catalog; "
                      "repeatable.  Default: $SUANLI_HARDWARE_PATH."),
]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version
        try:
            typer.echo(f"suanli {version('suanli')}")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            typer.echo("suanli (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """What an AI accelerator is really worth: calibrated LLM serving predictions and catalogs."""


def _catalog(hardware_file: list[Path] | None) -> HardwareCatalog:
    from suanli.specs.accelerator import load_hardware
    return load_hardware(list(hardware_file)) if hardware_file else load_hardware()


def note_hardware(catalog: HardwareCatalog, *names: str | None) -> None:
    """Say on stderr which chip a loosely written name (``h-20``) was read as."""
    for name in names:
        found = catalog.loose_match(name) if name else None
        if found is not None:
            typer.echo(f"note: hardware {name!r} read as {found}", err=True)


# --- predict --------------------------------------------------------------------------------

@app.command()
def predict(
    model: Annotated[str, typer.Option("--model", "-m", metavar="MODEL",
                                       help="Bundled model id (Qwen/Qwen3-32B, qwen3-32b) or a config.json path.")],
    hardware: Annotated[str, typer.Option("--hardware", metavar="CHIP",
                                          help="Accelerator id or alias (H20, nvidia_h200_sxm, 910B).")],
    gpus: Annotated[Optional[int], typer.Option(min=1, max=MAX_GPUS,
                                                help="Accelerators in total (default: one instance).")] = None,
    tp: Annotated[Optional[int], typer.Option(
        "--tp", "--tensor-parallel-size", min=1, max=MAX_GPUS,
        help="Tensor parallel size (default: the layout an operator would run for the scenario; "
             "the output says which and why).")] = None,
    pp: Annotated[Optional[int], typer.Option("--pp", "--pipeline-parallel-size", min=1, max=MAX_GPUS,
                                              help="Pipeline parallel size (default 1).")] = None,
    ep: Annotated[Optional[int], typer.Option("--ep", "--expert-parallel-size", min=1, max=MAX_GPUS,
                                              help="Expert parallel size (MoE; default 1 = experts split by TP).")] = None,
    dp_attention: Annotated[Optional[int], typer.Option(
        "--dp-attention", min=1, max=MAX_GPUS,
        help="Data-parallel attention ranks per TP group (SGLang; default 1).")] = None,
    weight_dtype: Annotated[Optional[str], typer.Option(
        "--weight-dtype", metavar="DTYPE",
        help="bf16|fp8|int8|int4|fp4|mxfp4 (default: the checkpoint's own).")] = None,
    kv_dtype: Annotated[Optional[str], typer.Option("--kv-dtype", "--kv-cache-dtype", metavar="DTYPE",
                                                    help="bf16|fp8 (default bf16).")] = None,
    isl: Annotated[float, typer.Option(help="Input sequence length, tokens.")] = 1024,
    osl: Annotated[float, typer.Option(help="Output sequence length, tokens.")] = 256,
    concurrency: Annotated[Optional[float], typer.Option(
        max=MAX_CONCURRENCY,
        help="Concurrent requests over the whole deployment (exclusive with --request-rate).")] = None,
    request_rate: Annotated[Optional[float], typer.Option(
        "--request-rate", max=MAX_RATE, help="Poisson arrival rate, requests/s over the whole deployment.")] = None,
    scenario: Annotated[Optional[str], typer.Option(
        help="offline, server, fixed-concurrency, single-request, prefill-only or decode-only "
             "(default: from --concurrency/--request-rate).")] = None,
    num_requests: Annotated[Optional[int], typer.Option(
        "--num-requests", "--num-prompts", min=1,
        help="Requests the benchmark sends in total (its mean TTFT includes the initial burst); "
             "default: a long steady-state run.")] = None,
    engine: Annotated[str, typer.Option(help="vllm|sglang|trtllm|mindie|other.")] = "vllm",
    system: Annotated[Optional[str], typer.Option(
        metavar="ID", help="Server system id (scale-out network; default: one built from the chip).")] = None,
    mode: Annotated[str, typer.Option(help="calibrated|roofline.")] = "calibrated",
    hardware_file: HardwareFileOpt = None,
    profile: ProfileOpt = None,
    db: ProfileDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Predict TTFT, TPOT and throughput of serving MODEL on CHIP."""
    from suanli.errors import InvalidInput
    if concurrency is not None and request_rate is not None:
        raise InvalidInput("give either --concurrency or --request-rate, not both", field="concurrency")
    from suanli.app.predict import predict as run_predict
    from suanli.specs.system import load_systems

    catalog = _catalog(hardware_file)
    note_hardware(catalog, hardware)
    systems = load_systems(hardware=catalog) if hardware_file else None
    from suanli.app.profiles import calibration_with_profile
    calibration = calibration_with_profile(profile, db=db)
    pred = run_predict(
        model, hardware, gpus=gpus, tp=tp, pp=pp, ep=ep, dp_attention=dp_attention,
        weight_dtype=weight_dtype, kv_dtype=kv_dtype, isl=isl, osl=osl, concurrency=concurrency,
        request_rate=request_rate, scenario=scenario, num_requests=num_requests, engine=engine, system=system,
        mode=mode, catalog=catalog, systems=systems, calibration=calibration)
    from suanli.cli import _render
    if as_json:
        _render.print_json(pred.to_dict())
    else:
        _render.prediction(_render.stdout_console(), pred)


# --- validate -------------------------------------------------------------------------------

@app.command()
def validate(
    cases: Annotated[Path, typer.Option("--cases", metavar="FILE",
                                        help="Validation-case CSV (schema of shared/validation/README).")],
    hardware_file: HardwareFileOpt = None,
    summary_only: Annotated[bool, typer.Option("--summary-only",
                                               help="Skip the per-case table (skipped cases are still listed).")] = False,
    few_shot: Annotated[int, typer.Option(
        "--few-shot", metavar="K", min=0, max=50,
        help="Predict each case calibrated on K other cases of its (source_group, hardware, engine) group "
             "(never itself or another metric of the same measurement; fixed seed), as if they were your own "
             "runs.  Groups with fewer than K others are predicted uncalibrated and counted separately.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Predict every case of a validation file and compare with the measurements (APE)."""
    from suanli.app.validate import validate as run_validate
    from suanli.cli import _render

    catalog = _catalog(hardware_file)
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        with Progress(TextColumn("validating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=_render.stderr_console(), transient=True) as bar:
            task = bar.add_task("cases", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = run_validate(cases, catalog=catalog, progress=progress, few_shot=few_shot)
    else:
        report = run_validate(cases, catalog=catalog, few_shot=few_shot)
    if as_json:
        _render.print_json(report.to_dict())
    else:
        _render.validation(_render.stdout_console(), report, summary_only=summary_only)


# --- hardware -------------------------------------------------------------------------------

@hardware_app.command("list")
def hardware_list(
    china_buyable: Annotated[bool, typer.Option("--china-buyable",
                                                help="Only chips that can be bought in China today.")] = False,
    hardware_file: HardwareFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List accelerators: memory, bandwidth, dense TFLOPS, link, status."""
    from suanli.cli import _render

    accs = [acc for acc in _catalog(hardware_file) if acc.china_buyable or not china_buyable]
    if as_json:
        _render.print_json([_render.accelerator_dict(acc) for acc in accs])
    else:
        _render.hardware_table(_render.stdout_console(), accs)


@hardware_app.command("show")
def hardware_show(
    chip: Annotated[str, typer.Argument(metavar="ID", help="Accelerator id or alias.")],
    as_of: Annotated[Optional[str], typer.Option("--as-of", metavar="DATE",
                                                 help="Date for the 'obtainable in China' line (default today).")] = None,
    hardware_file: HardwareFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every field of one accelerator, with sources, notes and assumed values, and its availability
    timeline in China (export licences, revenue shares, Chinese guidance, approvals), each with its source."""
    from suanli.app.availability import resolve_as_of, status, timeline
    from suanli.cli import _render
    from suanli.specs.system import load_systems

    day = resolve_as_of(as_of)
    catalog = _catalog(hardware_file)
    acc = catalog.get(chip)
    note_hardware(catalog, chip)
    systems = load_systems(hardware=catalog).for_gpu(acc.id)
    events, now = timeline(acc), status(acc, day)
    if as_json:
        _render.print_json({**_render.accelerator_dict(acc), "systems": [s.id for s in systems],
                            "availability": {"timeline": [e.to_dict() for e in events], "status": now.to_dict()}})
    else:
        con = _render.stdout_console()
        _render.hardware_detail(con, acc, systems)
        _render.availability(con, events, now)


# --- models ---------------------------------------------------------------------------------

def _model_details(name: str) -> dict[str, Any]:
    from suanli.app.catalogs import model_details
    from suanli.cli._render import model_info
    from suanli.specs.model import load_model

    spec = load_model(name)
    return model_info(spec, model_details(spec))


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """List the models suanli can find -- bundled configs, then $SUANLI_MODELS_PATH and the
    local Hugging Face cache -- with family, total and active parameters, attention type,
    KV-cache bytes per token (BF16 / FP8) and where each config came from."""
    from suanli.app.catalogs import model_rows
    from suanli.cli import _render

    rows = model_rows()
    if as_json:
        _render.print_json(rows)
    else:
        _render.models_table(_render.stdout_console(), rows)


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(metavar="ID|PATH", help="Model id (bundled, $SUANLI_MODELS_PATH or the "
                                        "Hugging Face cache) or config.json path/directory.")],
    as_json: JsonOpt = False,
) -> None:
    """Structure, layer plan, parameter counts, KV-cache size and config source of one model."""
    from suanli.cli import _render

    info = _model_details(name)
    if as_json:
        _render.print_json(info)
    else:
        _render.model_detail(_render.stdout_console(), info)


# --- systems --------------------------------------------------------------------------------

@systems_app.command("list")
def systems_list(hardware_file: HardwareFileOpt = None, as_json: JsonOpt = False) -> None:
    """List server systems: GPUs, accelerator, scale-out network, price."""
    from suanli.cli import _render
    from suanli.specs.system import load_systems

    systems = list(load_systems(hardware=_catalog(hardware_file)))
    if as_json:
        _render.print_json([_render.system_dict(s) for s in systems])
    else:
        _render.systems_table(_render.stdout_console(), systems)


@systems_app.command("show")
def systems_show(
    system_id: Annotated[str, typer.Argument(metavar="ID", help="System id.")],
    hardware_file: HardwareFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every field of one system, with the reason for any assumed value."""
    from suanli.cli import _render
    from suanli.specs.system import load_systems

    system = load_systems(hardware=_catalog(hardware_file)).get(system_id)
    if as_json:
        _render.print_json(_render.system_dict(system))
    else:
        _render.system_detail(_render.stdout_console(), system)

def main() -> None:
    """Console-script entry point (``suanli``)."""
    app(prog_name="suanli")




# commands defined in sibling modules register themselves on `app`
from suanli.cli import search_cmds  # noqa: E402,F401
from suanli.cli import sim_cmds  # noqa: E402,F401
from suanli.cli import dealer_cmds  # noqa: E402,F401
from suanli.cli import train_cmds  # noqa: E402,F401
from suanli.cli import market_cmds  # noqa: E402,F401
from suanli.cli import web_cmds  # noqa: E402,F401
from suanli.cli import econ_cmds  # noqa: E402,F401
from suanli.cli import report_cmds  # noqa: E402,F401
from suanli.cli.runs_cmds import runs_app  # noqa: E402
app.add_typer(runs_app, name="runs")
