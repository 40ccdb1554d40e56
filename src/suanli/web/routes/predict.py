"""``/api/predict`` and ``/api/simulate``: one deployment of one model on one chip."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from suanli.errors import InvalidInput
from suanli.specs.deployment import ENGINES, SCENARIOS
from suanli.specs.dtypes import DType
from suanli.web import deps
from suanli.web.jsonutil import JSONResponse, fields_dict
from suanli.web.profile_param import PROFILE_DESCRIPTION, ProfileDep, calibration, resolve, summary
from suanli.web.schemas import ERRORS, PredictionOut, SimulationOut

router = APIRouter(prefix="/api", tags=["performance"])

Engine = Literal[ENGINES]  # type: ignore[valid-type]
Scenario = Literal[SCENARIOS]  # type: ignore[valid-type]
WeightDType = Literal[tuple(d.value for d in DType)]  # type: ignore[valid-type]
KvDType = Literal["bf16", "fp16", "fp8"]
Mode = Literal["calibrated", "roofline"]

ModelQ = Annotated[str, Query(min_length=1, max_length=200, description="Bundled model id (Qwen/Qwen3-32B, qwen3-32b)",
                              examples=["Qwen/Qwen3-32B"])]
ChipQ = Annotated[str, Query(min_length=1, max_length=100, description="Accelerator id or alias (H20, 910B)",
                             examples=["H20"])]
Tokens = Annotated[float, Query(ge=1, le=deps.MAX_TOKENS, allow_inf_nan=False)]
Par = Optional[Annotated[int, Query(ge=1, le=deps.MAX_GPUS)]]


def deployment(
    gpus: Annotated[Par, Query(description="Accelerators in total (default: one instance)")] = None,
    tp: Annotated[Par, Query(description="Tensor parallel size (default: smallest that fits)")] = None,
    pp: Annotated[int, Query(ge=1, le=deps.MAX_GPUS, description="Pipeline parallel size")] = 1,
    ep: Annotated[Par, Query(description="Expert parallel size (MoE)")] = None,
    dp_attention: Annotated[int, Query(ge=1, le=deps.MAX_GPUS, description="Data-parallel attention ranks")] = 1,
    weight_dtype: Annotated[Optional[WeightDType], Query(description="default: the checkpoint's own")] = None,
    kv_dtype: Annotated[Optional[KvDType], Query(description="default: bf16")] = None,
    engine: Engine = "vllm",
) -> dict[str, Any]:
    return dict(gpus=gpus, tp=tp, pp=pp, ep=ep, dp_attention=dp_attention, weight_dtype=weight_dtype,
                kv_dtype=kv_dtype, engine=engine)


Deployment = Annotated[dict[str, Any], Depends(deployment)]


class PredictQuery(BaseModel):
    """Query parameters of ``/api/predict`` (one model: validated in one pass, which keeps the
    endpoint fast)."""

    model: str = Field(min_length=1, max_length=200, description="Bundled model id (Qwen/Qwen3-32B, qwen3-32b)",
                       examples=["Qwen/Qwen3-32B"])
    hardware: str = Field(min_length=1, max_length=100, description="Accelerator id or alias (H20, 910B)",
                          examples=["H20"])
    gpus: Optional[int] = Field(None, ge=1, le=deps.MAX_GPUS, description="Accelerators in total (default: one instance)")
    tp: Optional[int] = Field(None, ge=1, le=deps.MAX_GPUS,
                              description="Tensor parallel size (default: the layout an operator would run)")
    pp: Optional[int] = Field(None, ge=1, le=deps.MAX_GPUS, description="Pipeline parallel size")
    ep: Optional[int] = Field(None, ge=1, le=deps.MAX_GPUS, description="Expert parallel size (MoE)")
    dp_attention: Optional[int] = Field(None, ge=1, le=deps.MAX_GPUS, description="Data-parallel attention ranks")
    weight_dtype: Optional[WeightDType] = Field(None, description="default: the checkpoint's own")
    kv_dtype: Optional[KvDType] = Field(None, description="default: bf16")
    engine: Engine = "vllm"
    isl: float = Field(1024, ge=1, le=deps.MAX_TOKENS, allow_inf_nan=False, description="Input tokens")
    osl: float = Field(256, ge=1, le=deps.MAX_TOKENS, allow_inf_nan=False, description="Output tokens")
    concurrency: Optional[float] = Field(None, ge=1, le=deps.MAX_CONCURRENCY, allow_inf_nan=False,
                                         description="Requests in flight (exclusive with request_rate)")
    request_rate: Optional[float] = Field(None, gt=0, le=deps.MAX_RATE, allow_inf_nan=False,
                                          description="Poisson arrivals, requests/s")
    scenario: Optional[Scenario] = None
    num_requests: Optional[int] = Field(None, ge=1, le=10**9, description="Requests sent in total (burst TTFT)")
    system: Optional[str] = Field(None, max_length=100, description="Server system id")
    mode: Mode = "calibrated"
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
    request_rate: Annotated[float, Query(gt=0, le=deps.MAX_RATE, allow_inf_nan=False,
                                         description="Arrivals, requests/s (whole deployment)")],
    requests: Annotated[Optional[int], Query(ge=1, le=deps.MAX_SIM_REQUESTS,
                                             description=f"Requests (default 2000, at most {deps.MAX_SIM_REQUESTS})")] = None,
    duration: Annotated[Optional[float], Query(gt=0, le=deps.MAX_SIM_DURATION_S, allow_inf_nan=False,
                                               description="Seconds of arrivals (instead of requests)")] = None,
    isl: Tokens = 1024, osl: Tokens = 256,
    isl_dist: Annotated[str, Query(max_length=40, description="fixed | uniform:LO:HI | lognormal[:SIGMA]")] = "fixed",
    osl_dist: Annotated[str, Query(max_length=40, description="fixed | uniform:LO:HI | lognormal[:SIGMA]")] = "fixed",
    arrival: Literal["poisson", "bursty"] = "poisson",
    burst_cv: Annotated[float, Query(ge=0.01, le=100, allow_inf_nan=False)] = 2.0,
    prefix_hit_rate: Annotated[float, Query(ge=0, lt=1, allow_inf_nan=False)] = 0.0,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
    ttft_ms: Annotated[Optional[float], Query(gt=0, le=deps.MAX_MS, allow_inf_nan=False,
                                              description="SLA for goodput")] = None,
    tpot_ms: Annotated[Optional[float], Query(gt=0, le=deps.MAX_MS, allow_inf_nan=False,
                                              description="SLA for goodput")] = None,
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
