"""Economics API: ``/api/cost``, ``/api/lease``, ``/api/fairprice`` (thin adapters over
:mod:`suanli.app.economics`), and the compare page's ¥-per-million-tokens column.

Mounted only when the economics use cases are installed (``build_router``).  File
arguments of the CLI (``--defaults``, ``--fx``, ``--hardware-file``) are not exposed:
the server reads no file a request names.  ``profile`` (a stored calibration profile) corrects
the performance behind the costs; each chip's ``profile`` is its note, and the cache of the
compare page's money column is keyed by the profile's version (name and digest).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Depends, Query

from suanli.errors import SuanliError
from suanli.web import deps
from suanli.web.jsonutil import JSONResponse
from suanli.web.profile_param import ProfileDep, ProfileRef, summary
from suanli.web.routes.compare import MAX_SEARCH_GPUS
from suanli.app import params as P
from suanli.web.params import group_dependency, query
from suanli.web.routes.predict import Engine, KvDType, ModelQ, WeightDType
from suanli.web.schemas import ERRORS

F = Optional[float]
Frac = Optional[Annotated[float, Query(ge=0, le=1, allow_inf_nan=False)]]
Pos = Optional[Annotated[float, Query(ge=0, le=1e9, allow_inf_nan=False)]]
MoneyQ = Optional[Annotated[str, Query(max_length=60, description="'AMOUNT CURRENCY DATE', e.g. '1280000 CNY 2025-07'")]]
Workloads = Literal["chat", "reasoning", "summarisation", "interactive", "batch"]

# the cost model's sourced defaults a parameter may replace (declared in suanli.app.params)
EconValues = Annotated[dict[str, Any], Depends(group_dependency(P.ECONOMICS, "economics_parameters"))]


def econ_context(
    econ: EconValues,
    currency: Literal["CNY", "USD"] = "CNY",
    as_of: Annotated[Optional[str], Query(max_length=10, pattern=r"^\d{4}-\d{2}(-\d{2})?$",
                                          description="Date of amounts given without one")] = None,
) -> Any:
    """The cost model's settings: every sourced default, replaced by the parameters given."""
    from suanli.app.econ_context import context

    return context(currency=currency, overrides=P.econ_overrides(econ), as_of=as_of,
                   override_sources=P.econ_sources("given ({name})"))


Ctx = Annotated[Any, Depends(econ_context)]


def compare_kw(engine: Annotated[Engine, query(P.ENGINE)] = P.ENGINE.default,
               gpus: Optional[Annotated[int, Query(ge=1, le=MAX_SEARCH_GPUS)]] = None,
               max_gpus: Optional[Annotated[int, Query(ge=1, le=MAX_SEARCH_GPUS)]] = None,
               weight_dtype: Optional[list[WeightDType]] = Query(None), kv_dtype: Optional[list[KvDType]] = Query(None),
               disagg: bool = True, prof: ProfileDep = None) -> dict[str, Any]:
    kw = dict(engine=engine, gpus=gpus, max_gpus=max_gpus, weight_dtypes=weight_dtype or None,
              kv_dtypes=kv_dtype or None, disagg=disagg)
    return kw | ({"profile": prof.profile} if prof is not None else {})


def with_profile(report: dict[str, Any], prof: ProfileRef | None) -> dict[str, Any]:
    """A cost or report dict with the profile used and, per chip, its note."""
    if prof is not None:
        for chip in report.get("chips", []):
            chip["profile"] = prof.note_in(chip.get("perf_notes") or [])
    return {**report, "calibration_profile": summary(prof)}


CompareKw = Annotated[dict[str, Any], Depends(compare_kw)]


def _lease(ctx: Any, per_hour: float | None, per_month: float | None, flag: str = "--lease") -> Any:
    from suanli.app.econ_context import lease_arg
    return lease_arg(ctx, per_gpu_hour_cny=per_hour, per_server_month_cny=per_month, flag=flag)


def _money(text: str | None, field: str) -> Any:
    from suanli.app.econ_context import parse_money
    return parse_money(text, field=field)


def _floats(values: list[float] | None) -> list[float] | None:
    return list(values) if values else None


# --- the compare page's money column --------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _chip_cost(model: str, hw: str, isl: float, osl: float, ttft: float | None, tpot: float | None,
               kw: tuple[tuple[str, Any], ...], profile: ProfileRef | None = None) -> dict[str, Any] | None:
    from suanli.app.economics import cost

    compare_kw = {k: list(v) if isinstance(v, tuple) else v for k, v in kw}
    if profile is not None:
        compare_kw["profile"] = profile.profile
    try:
        rep = cost(model, [hw], isl=isl, osl=osl, ttft_ms=ttft, tpot_ms=tpot, compare_kw=compare_kw)
    except SuanliError as exc:
        return {"cny_per_mtok": None, "leased_cny_per_mtok": None, "note": str(exc)}
    c = rep.to_dict()["chips"][0]
    owned, leased = c.get("owned") or {}, c.get("leased") or {}
    return {"cny_per_mtok": owned.get("blended_per_mtok"), "output_cny_per_mtok": owned.get("output_per_mtok"),
            "leased_cny_per_mtok": leased.get("blended_per_mtok"), "server": c.get("server"),
            "server_price": c.get("server_price"), "note": "; ".join(c.get("notes") or [])}


def compare_economics(res: Any, query: dict[str, Any],
                      profile: ProfileRef | None = None) -> dict[str, dict[str, Any] | None]:
    """Owned (and leased) ¥ per million tokens, blended input+output, per feasible chip of a
    comparison, with the cost model's sourced defaults.  Chips without a dated price get a note."""
    kw = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in query.items()
                      if k in ("engine", "gpus", "max_gpus", "weight_dtypes", "kv_dtypes", "disagg")))
    return {c.hardware: _chip_cost(query["model"], c.hardware, res.isl, res.osl, res.ttft_ms, res.tpot_ms, kw,
                                   profile)
            for c in res.chips if c.feasible}


# --- API ------------------------------------------------------------------------------------

def build_router() -> APIRouter | None:
    if deps.optional("suanli.app.economics") is None or deps.optional("suanli.app.econ_context") is None:
        return None
    router = APIRouter(prefix="/api", tags=["economics"])

    @router.get("/cost", responses=ERRORS, summary="Cost per million tokens per chip: owned (TCO) and leased")
    def api_cost(
        ctx: Ctx, kw: CompareKw, prof: ProfileDep, model: ModelQ,
        hardware: Annotated[Optional[list[str]], Query(max_length=deps.MAX_CHIPS, description="Chips")] = None,
        system: Annotated[Optional[str], Query(max_length=100, description="A priced system id instead")] = None,
        workload: Optional[Workloads] = None, isl: Annotated[Optional[float], query(P.PRESET_ISL)] = None,
        osl: Annotated[Optional[float], query(P.PRESET_OSL)] = None,
        ttft_ms: Annotated[Optional[float], query(P.PRESET_TTFT_MS)] = None,
        tpot_ms: Annotated[Optional[float], query(P.PRESET_TPOT_MS)] = None, server_price: MoneyQ = None, lease_cny_gpu_hour: Pos = None,
        lease_cny_server_month: Pos = None, prefill_share: Frac = None,
    ) -> Any:
        """Same as ``suanli cost``; ``explain`` lists every input, default, price row and FX rate used."""
        from suanli.app.economics import cost

        rep = cost(deps.resolve_model(model), deps.split_list(hardware), workload_name=workload, isl=isl, osl=osl,
                   ttft_ms=ttft_ms, tpot_ms=tpot_ms, system=system, server_price=_money(server_price, "server_price"),
                   lease=_lease(ctx, lease_cny_gpu_hour, lease_cny_server_month), prefill_share=prefill_share,
                   ctx=ctx, compare_kw=kw)
        return JSONResponse(with_profile(rep.to_dict(), prof))

    @router.get("/lease", responses=ERRORS, summary="A lessor's NPV, IRR and payback on a monthly lease")
    def api_lease(
        ctx: Ctx,
        server: Annotated[str, Query(min_length=1, max_length=100, description="System id or chip")],
        server_price: MoneyQ = None, lease_cny_gpu_hour: Pos = None, lease_cny_server_month: Pos = None,
        term_months: Optional[Annotated[int, Query(ge=1, le=240)]] = None,
        occupancy: Optional[Annotated[float, Query(gt=0, le=1, allow_inf_nan=False)]] = None,
        target_irr: Optional[Annotated[float, Query(gt=-1, le=10, allow_inf_nan=False)]] = None,
        lessee_pays_power: bool = False, tdp_w: Optional[Annotated[float, Query(gt=0, le=1e5)]] = None,
    ) -> Any:
        """Same as ``suanli lease``."""
        from suanli.app.economics import lease

        rep = lease(server, server_price=_money(server_price, "server_price"),
                    rent=_lease(ctx, lease_cny_gpu_hour, lease_cny_server_month), term_months=term_months,
                    occupancy=occupancy, target_irr=target_irr, lessor_pays_power=not lessee_pays_power,
                    tdp_w=tdp_w, ctx=ctx)
        return JSONResponse(rep.to_dict())

    @router.get("/fairprice", responses=ERRORS,
                summary="Server price of an option at which its cost per token equals another's")
    def api_fairprice(
        ctx: Ctx, kw: CompareKw, prof: ProfileDep, model: ModelQ,
        option: Annotated[str, Query(min_length=1, max_length=100, description="Option X (system id or chip)")],
        vs: Annotated[str, Query(min_length=1, max_length=100, description="Option Y (system id or chip)")],
        workload: Optional[Workloads] = None, isl: Annotated[Optional[float], query(P.PRESET_ISL)] = None,
        osl: Annotated[Optional[float], query(P.PRESET_OSL)] = None,
        ttft_ms: Annotated[Optional[float], query(P.PRESET_TTFT_MS)] = None,
        tpot_ms: Annotated[Optional[float], query(P.PRESET_TPOT_MS)] = None,
        mix: Annotated[Optional[str], Query(max_length=200, description="e.g. chat:0.7,reasoning:0.3")] = None,
        option_price: MoneyQ = None,
        option_price_ratio: Optional[Annotated[float, Query(gt=0, le=100, allow_inf_nan=False)]] = None,
        option_speed: Annotated[float, Query(gt=0, le=100, allow_inf_nan=False)] = 1.0,
        option_tdp_w: Optional[Annotated[float, Query(gt=0, le=1e5)]] = None, vs_price: MoneyQ = None,
        vs_lease_cny_gpu_hour: Pos = None, vs_lease_cny_server_month: Pos = None,
        grid_utilisation: Optional[list[Annotated[float, Query(gt=0, le=1)]]] = Query(None, max_length=10),
        grid_electricity: Optional[list[Annotated[float, Query(ge=0, le=100)]]] = Query(None, max_length=10),
    ) -> Any:
        """Same as ``suanli fairprice``."""
        from suanli.app.econ_context import parse_mix, resolve_workload
        from suanli.app.economics import fairprice

        mixed = parse_mix(mix, ttft_ms=ttft_ms, tpot_ms=tpot_ms) if mix else \
            [(resolve_workload(workload, isl=isl, osl=osl, ttft_ms=ttft_ms, tpot_ms=tpot_ms), 1.0)]
        rep = fairprice(option, vs, model=deps.resolve_model(model), mix=mixed,
                        option_price=_money(option_price, "option_price"), option_price_ratio=option_price_ratio,
                        vs_price=_money(vs_price, "vs_price"),
                        vs_lease=_lease(ctx, vs_lease_cny_gpu_hour, vs_lease_cny_server_month, "--vs-lease"),
                        option_speed=option_speed, option_tdp_w=option_tdp_w,
                        grid_utilisation=_floats(grid_utilisation), grid_electricity=_floats(grid_electricity),
                        ctx=ctx, compare_kw=kw)
        return JSONResponse({**rep.to_dict(), "calibration_profile": summary(prof)})

    return router
