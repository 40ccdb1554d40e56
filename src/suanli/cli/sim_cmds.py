"""``suanli simulate``: request-level simulation of a deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from suanli.app import params as P
from suanli.cli._params import option
from suanli.cli.main import HardwareFileOpt, JsonOpt, ProfileDbOpt, ProfileOpt, _catalog, app, note_hardware
from suanli.cli.search_cmds import _progress


@app.command()
def simulate(
    model: Annotated[str, typer.Option("--model", "-m", metavar="MODEL", help="Bundled model id or config.json path.")],
    hardware: Annotated[str, typer.Option("--hardware", metavar="CHIP", help="Accelerator id or alias.")],
    request_rate: Annotated[Optional[float], option(P.REQUEST_RATE)] = P.REQUEST_RATE.default,
    duration: Annotated[Optional[float], typer.Option("--duration", help="Seconds of arrivals to simulate.")] = None,
    requests: Annotated[Optional[int], typer.Option("--requests", help="Number of requests (default 2000).")] = None,
    trace: Annotated[Optional[Path], typer.Option("--trace", metavar="FILE",
                                                  help="Replay a trace: CSV timestamp,isl,osl or JSON Lines.")] = None,
    isl: Annotated[float, option(P.ISL)] = P.ISL.default,
    osl: Annotated[float, option(P.OSL)] = P.OSL.default,
    isl_dist: Annotated[str, typer.Option("--isl-dist", help="fixed | uniform:LO:HI | lognormal[:SIGMA] | file:PATH")] = "fixed",
    osl_dist: Annotated[str, typer.Option("--osl-dist", help="fixed | uniform:LO:HI | lognormal[:SIGMA] | file:PATH")] = "fixed",
    arrival: Annotated[str, typer.Option(help="poisson | bursty (gamma inter-arrivals).")] = "poisson",
    burst_cv: Annotated[float, typer.Option("--burst-cv", help="Coefficient of variation for bursty arrivals.")] = 2.0,
    prefix_hit_rate: Annotated[float, typer.Option("--prefix-hit-rate", help="Share of each prompt served from the prefix cache.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed (results are deterministic per seed).")] = 0,
    ttft_ms: Annotated[Optional[float], option(P.TTFT_MS)] = P.TTFT_MS.default,
    tpot_ms: Annotated[Optional[float], option(P.TPOT_MS)] = P.TPOT_MS.default,
    gpus: Annotated[Optional[int], option(P.GPUS)] = P.GPUS.default,
    tp: Annotated[Optional[int], option(P.TP)] = P.TP.default,
    pp: Annotated[Optional[int], option(P.PP)] = P.PP.default,
    ep: Annotated[Optional[int], option(P.EP)] = P.EP.default,
    dp_attention: Annotated[Optional[int], option(P.DP_ATTENTION)] = P.DP_ATTENTION.default,
    weight_dtype: Annotated[Optional[str], option(P.WEIGHT_DTYPE)] = P.WEIGHT_DTYPE.default,
    kv_dtype: Annotated[Optional[str], option(P.KV_DTYPE)] = P.KV_DTYPE.default,
    engine: Annotated[str, option(P.ENGINE)] = P.ENGINE.default,
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
