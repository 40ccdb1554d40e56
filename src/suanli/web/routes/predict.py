"""``/api/predict`` and ``/api/simulate``: one deployment of one model on one chip."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from suanli.app import params as P
from suanli.errors import InvalidInput
from suanli.specs.deployment import ENGINES, SCENARIOS
from suanli.web import deps
from suanli.web.jsonutil import JSONResponse, fields_dict
from suanli.web.params import field, query
from suanli.web.profile_param import PROFILE_DESCRIPTION, ProfileDep, calibration, resolve, summary
from suanli.web.schemas import ERRORS, PredictionOut, SimulationOut

router = APIRouter(prefix="/api", tags=["performance"])

Engine = Literal[ENGINES]  # type: ignore[valid-type]
Scenario = Literal[SCENARIOS]  # type: ignore[valid-type]
_WEIGHT_DTYPES = P.WEIGHT_DTYPE.canonical
_KV_DTYPES = P.KV_DTYPE.canonical
WeightDType = Literal[_WEIGHT_DTYPES]  # type: ignore[valid-type]
KvDType = Literal[_KV_DTYPES]  # type: ignore[valid-type]
Mode = Literal[P.MODES]  # type: ignore[valid-type]

ModelQ = Annotated[str, Query(min_length=1, max_length=200, description="Bundled model id (Qwen/Qwen3-32B, qwen3-32b)",
                              examples=["Qwen/Qwen3-32B"])]
ChipQ = Annotated[str, Query(min_length=1, max_length=100, description="Accelerator id or alias (H20, 910B)",
                             examples=["H20"])]


def deployment(
    gpus: Annotated[Optional[int], query(P.GPUS)] = P.GPUS.default,
    tp: Annotated[Optional[int], query(P.TP)] = P.TP.default,
    pp: Annotated[Optional[int], query(P.PP)] = P.PP.default,
    ep: Annotated[Optional[int], query(P.EP)] = P.EP.default,
    dp_attention: Annotated[Optional[int], query(P.DP_ATTENTION)] = P.DP_ATTENTION.default,
    weight_dtype: Annotated[Optional[WeightDType], query(P.WEIGHT_DTYPE)] = P.WEIGHT_DTYPE.default,
    kv_dtype: Annotated[Optional[KvDType], query(P.KV_DTYPE)] = P.KV_DTYPE.default,
    engine: Annotated[Engine, query(P.ENGINE)] = P.ENGINE.default,
) -> dict[str, Any]:
    return dict(gpus=gpus, tp=tp, pp=pp, ep=ep, dp_attention=dp_attention, weight_dtype=weight_dtype,
                kv_dtype=kv_dtype, engine=engine)


Deployment = Annotated[dict[str, Any], Depends(deployment)]


class PredictQuery(BaseModel):
    """Query parameters of ``/api/predict`` (one model: validated in one pass, which keeps the
    endpoint fast).  Defaults, bounds and descriptions: :mod:`suanli.app.params`."""

    model: str = Field(min_length=1, max_length=200, description="Bundled model id (Qwen/Qwen3-32B, qwen3-32b)",
                       examples=["Qwen/Qwen3-32B"])
    hardware: str = Field(min_length=1, max_length=100, description="Accelerator id or alias (H20, 910B)",
                          examples=["H20"])
    gpus: Optional[int] = field(P.GPUS)
    tp: Optional[int] = field(P.TP)
    pp: Optional[int] = field(P.PP)
    ep: Optional[int] = field(P.EP)
    dp_attention: Optional[int] = field(P.DP_ATTENTION)
    weight_dtype: Optional[WeightDType] = field(P.WEIGHT_DTYPE)
    kv_dtype: Optional[KvDType] = field(P.KV_DTYPE)
    engine: Engine = field(P.ENGINE)
    isl: float = field(P.ISL)
    osl: float = field(P.OSL)
    concurrency: Optional[float] = field(P.CONCURRENCY)
    request_rate: Optional[float] = field(P.REQUEST_RATE)
    scenario: Optional[Scenario] = field(P.SCENARIO)
    num_requests: Optional[int] = field(P.NUM_REQUESTS)
    system: Optional[str] = field(P.SYSTEM, max_length=100)
    mode: Mode = field(P.MODE)
    profile: Optional[str] = Field(None, max_length=100, description=PROFILE_DESCRIPTION)


@router.get("/predict", response_model=PredictionOut, responses=ERRORS,
            summary="Predict TTFT, TPOT and throughput of one deployment")
async def predict(request: Request, q: Annotated[PredictQuery, Query()]) -> Any:
    """Same as ``suanli predict``; a deployment that does not fit answers 422 insufficient_memory.
    (Runs on the event loop: a prediction takes ~1-2 ms, less than a hop to a worker thread.)
    With ``profile``, ``profile`` in the answer is the profile's note for this chip and engine
    ("calibrated on N of your runs (profile NAME); ...") and ``band`` is narrowed by its runs;
    ``calibration_profile`` says which profile version was used."""
    from suanli.app.predict import predict as run

    if q.concurrency is not None and q.request_rate is not None:
        raise InvalidInput("give either concurrency or request_rate, not both", field="concurrency")
    ref = None
    if q.profile and q.profile.strip():  # a database read: off the event loop
        from starlette.concurrency import run_in_threadpool
        ref = await run_in_threadpool(resolve, request, q.profile)
    cat = deps.catalog()
    acc = cat.get(q.hardware)
    pred = run(deps.resolve_model(q.model), acc, isl=q.isl, osl=q.osl, concurrency=q.concurrency,
               request_rate=q.request_rate, scenario=q.scenario, system=q.system, mode=q.mode, catalog=cat,
               gpus=q.gpus, tp=q.tp, pp=q.pp, ep=q.ep, dp_attention=q.dp_attention, weight_dtype=q.weight_dtype,
               kv_dtype=q.kv_dtype, engine=q.engine, num_requests=q.num_requests, calibration=calibration(ref))
    out = fields_dict(pred)
    if out.get("model_source") not in (None, "", "bundled"):   # no server file paths in responses
        out["model_source"] = out["model_source"].split(":", 1)[0]
    return JSONResponse({**out, "label": deps.chip_label(acc), "calibration_profile": summary(ref)})


@router.get("/simulate", response_model=SimulationOut, responses=ERRORS,
            summary="Request-level simulation of one deployment under Poisson or bursty arrivals")
def simulate(
    model: ModelQ, hardware: ChipQ, dep: Deployment,
    request_rate: Annotated[float, query(P.REQUEST_RATE)],
    requests: Annotated[Optional[int], Query(ge=1, le=deps.MAX_SIM_REQUESTS,
                                             description=f"Requests (default 2000, at most {deps.MAX_SIM_REQUESTS})")] = None,
    duration: Annotated[Optional[float], Query(gt=0, le=deps.MAX_SIM_DURATION_S, allow_inf_nan=False,
                                               description="Seconds of arrivals (instead of requests)")] = None,
    isl: Annotated[float, query(P.ISL)] = P.ISL.default, osl: Annotated[float, query(P.OSL)] = P.OSL.default,
    isl_dist: Annotated[str, Query(max_length=40, description="fixed | uniform:LO:HI | lognormal[:SIGMA]")] = "fixed",
    osl_dist: Annotated[str, Query(max_length=40, description="fixed | uniform:LO:HI | lognormal[:SIGMA]")] = "fixed",
    arrival: Literal["poisson", "bursty"] = "poisson",
    burst_cv: Annotated[float, Query(ge=0.01, le=100, allow_inf_nan=False)] = 2.0,
    prefix_hit_rate: Annotated[float, Query(ge=0, lt=1, allow_inf_nan=False)] = 0.0,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
    ttft_ms: Annotated[Optional[float], query(P.TTFT_MS)] = P.TTFT_MS.default,
    tpot_ms: Annotated[Optional[float], query(P.TPOT_MS)] = P.TPOT_MS.default,
    prof: ProfileDep = None,
) -> Any:
    """Same as ``suanli simulate`` (generated arrivals only; traces are CLI-only).  Bounded to
    ``requests`` (or ``request_rate x duration``) of at most 20,000 so a request stays short."""
    from suanli.app.simulate import simulate as run

    if duration is not None and request_rate * duration > deps.MAX_SIM_REQUESTS:
        raise InvalidInput(f"request_rate x duration = {request_rate * duration:,.0f} requests; the web API "
                           f"simulates at most {deps.MAX_SIM_REQUESTS:,} (use the CLI for more)", field="duration")
    cat = deps.catalog()
    rep = run(deps.resolve_model(model), cat.get(hardware), request_rate=request_rate, duration_s=duration,
              n_requests=requests, isl=isl, osl=osl, isl_dist=deps.check_dist(isl_dist, "isl_dist"),
              osl_dist=deps.check_dist(osl_dist, "osl_dist"), arrival=arrival, burst_cv=burst_cv,
              prefix_hit_rate=prefix_hit_rate, seed=seed, sla_ttft_ms=ttft_ms, sla_tpot_ms=tpot_ms,
              backend="serial", catalog=cat, calibration=calibration(prof), **dep)
    return JSONResponse({**rep.to_dict(), "calibration_profile": summary(prof)})
