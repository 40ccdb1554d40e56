"""``suanli simulate``: request-level simulation of a deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from suanli.app.limits import MAX_GPUS, MAX_RATE
from suanli.cli.main import HardwareFileOpt, JsonOpt, ProfileDbOpt, ProfileOpt, _catalog, app, note_hardware
from suanli.cli.search_cmds import _progress


@app.command()
def simulate(
    model: Annotated[str, typer.Option("--model", "-m", metavar="MODEL", help="Bundled model id or config.json path.")],
    hardware: Annotated[str, typer.Option("--hardware", metavar="CHIP", help="Accelerator id or alias.")],
    request_rate: Annotated[Optional[float], typer.Option("--request-rate", max=MAX_RATE,
                                                          help="Arrivals, requests/s (whole deployment).")] = None,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Seconds of arrivals to simulate.")] = None,
    requests: Annotated[Optional[int], typer.Option("--requests", help="Number of requests (default 2000).")] = None,
    trace: Annotated[Optional[Path], typer.Option("--trace", metavar="FILE",
                                                  help="Replay a trace: CSV timestamp,isl,osl or JSON Lines.")] = None,
    isl: Annotated[float, typer.Option(help="Mean input tokens.")] = 1024,
    osl: Annotated[float, typer.Option(help="Mean output tokens.")] = 256,
    isl_dist: Annotated[str, typer.Option("--isl-dist", help="fixed | uniform:LO:HI | lognormal[:SIGMA] | file:PATH")] = "fixed",
    osl_dist: Annotated[str, typer.Option("--osl-dist", help="fixed | uniform:LO:HI | lognormal[:SIGMA] | file:PATH")] = "fixed",
    arrival: Annotated[str, typer.Option(help="poisson | bursty (gamma inter-arrivals).")] = "poisson",
    burst_cv: Annotated[float, typer.Option("--burst-cv", help="Coefficient of variation for bursty arrivals.")] = 2.0,
    prefix_hit_rate: Annotated[float, typer.Option("--prefix-hit-rate", help="Share of each prompt served from the prefix cache.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed (results are deterministic per seed).")] = 0,
    ttft_ms: Annotated[Optional[float], typer.Option("--ttft-ms", help="SLA for goodput: TTFT, ms.")] = None,
    tpot_ms: Annotated[Optional[float], typer.Option("--tpot-ms", help="SLA for goodput: TPOT, ms.")] = None,
    gpus: Annotated[Optional[int], typer.Option(min=1, max=MAX_GPUS, help="Accelerators in total.")] = None,
    tp: Annotated[Optional[int], typer.Option("--tp", "--tensor-parallel-size", min=1, max=MAX_GPUS)] = None,
    pp: Annotated[int, typer.Option("--pp", "--pipeline-parallel-size", min=1, max=MAX_GPUS)] = 1,
    ep: Annotated[Optional[int], typer.Option("--ep", "--expert-parallel-size", min=1, max=MAX_GPUS)] = None,
    dp_attention: Annotated[int, typer.Option("--dp-attention", min=1, max=MAX_GPUS)] = 1,
    weight_dtype: Annotated[Optional[str], typer.Option("--weight-dtype")] = None,
    kv_dtype: Annotated[Optional[str], typer.Option("--kv-dtype", "--kv-cache-dtype")] = None,
    engine: Annotated[str, typer.Option(help="vllm|sglang|trtllm|mindie|other.")] = "vllm",
    backend: Annotated[str, typer.Option(help="serial | local (processes) | ray: replicas as tasks.")] = "serial",
    address: Annotated[Optional[str], typer.Option(help="Ray address for --backend ray.")] = None,
    hardware_file: HardwareFileOpt = None,
    profile: ProfileOpt = None,
    db: ProfileDbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Simulate requests through continuous batching: TTFT/TPOT/ITL/E2E distributions, throughput, goodput."""
    from suanli.app.simulate import simulate as run_simulate
    from suanli.cli import _render_search

    catalog = _catalog(hardware_file)
    acc = catalog.get(hardware)
    note_hardware(catalog, hardware)
    from suanli.app.profiles import calibration_with_profile
    calibration = calibration_with_profile(profile, db=db)
    with _progress("simulating replicas") as progress:
        rep = run_simulate(model, acc, request_rate=request_rate, duration_s=duration,
                           n_requests=requests, trace=trace, isl=isl, osl=osl, isl_dist=isl_dist, osl_dist=osl_dist,
                           arrival=arrival, burst_cv=burst_cv, prefix_hit_rate=prefix_hit_rate, seed=seed,
                           sla_ttft_ms=ttft_ms, sla_tpot_ms=tpot_ms, backend=backend, address=address,
                           progress=progress, gpus=gpus, tp=tp, pp=pp, ep=ep, dp_attention=dp_attention,
                           weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=engine, catalog=catalog,
                           calibration=calibration)
    if as_json:
        _render_search.print_json(rep.to_dict())
    else:
        _render_search.simulation(rep)
