"""The buyer report as pages: ``/report`` (ranked costs, what was obtainable, the fair value) and
``/fairprice`` (the fair value of one server against every obtainable alternative), with their
``?format=json`` twins and ``/api/report``.  Thin adapters over :func:`suanli.app.report.buyer_report`.

Reports are deterministic for a request (and a date), so the last few are kept in memory;
with ``?profile=NAME`` the profile's version (name and digest) is part of the cache key.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, Optional, get_args

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from suanli.errors import SuanliError
from suanli.specs.model import bundled_model_ids
from suanli.web import deps
from suanli.web.errors import from_suanli
from suanli.web.jsonutil import JSONResponse
from suanli.web.profile_param import ProfileDep, ProfileRef, resolve
from suanli.web.render import page, wants_json
from suanli.web.schemas import ERRORS, PROFILE_NOTE, ProfileUsed

Workload = Literal["chat", "reasoning", "summarisation", "interactive", "batch"]
DateQ = Optional[Annotated[str, Query(max_length=10, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$",
                                      description="Date of the analysis (default today): chips obtainable then, "
                                                  "prices known then; 2025-07-15 is the seed article's moment")]]
PriceQ = Optional[list[Annotated[str, Query(max_length=80)]]]
DEFAULT_OPTION = "cn_h20_141gb_server_leiphone"


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ObtainableReason(_Out):
    text: str = Field(description="e.g. 'obtainable with conditions since 2026-01-28: ...'")
    event: Optional[str] = Field(None, description="the dated event that decides it")
    date: Optional[str] = None
    source: Optional[str] = Field(None, description="URL of the event's source")


class ReportChipOut(_Out):
    hardware: str
    name: str = Field(description="English and Chinese name, e.g. 'H20 141GB · 英伟达 H20 141GB'")
    feasible: bool
    owned: Optional[dict[str, Any]] = Field(None, description="owned (TCO) cost per million tokens")
    leased: Optional[dict[str, Any]] = Field(None, description="leased cost per million tokens")
    no_price_reason: Optional[str] = Field(None, description="'no public price: ...' and how to supply one")
    obtainable: bool = Field(description="obtainable in China at as_of (official or restricted channel)")
    obtainable_state: str = Field(description="official | restricted | grey | none")
    obtainable_reason: ObtainableReason
    profile: str = Field("", description=PROFILE_NOTE)


class FairValueOut(_Out):
    value: Optional[float] = Field(None, description="server price at which its cost per token equals the "
                                   "cheapest obtainable alternative's")
    p10: Optional[float] = None
    p90: Optional[float] = None
    against: Optional[str] = Field(None, description="the alternative (chip id) that sets the fair value")
    asking: Optional[float] = None
    ratio: Optional[float] = Field(None, description="asking / value")
    verdict: str
    alternatives: list[dict[str, Any]]


class ReportOut(_Out):
    model: str
    workload: str
    currency: str
    as_of: str
    chips: list[ReportChipOut]
    fair_value: Optional[FairValueOut]
    left_out: list[dict[str, Any]]
    calibration_profile: Optional[ProfileUsed] = None


def report_params(
    model: Annotated[str, Query(min_length=1, max_length=200, description="Bundled model id")] = "Qwen/Qwen3-32B",
    workload: Workload = "chat",
    as_of: DateQ = None,
    currency: Literal["CNY", "USD"] = "CNY",
    hardware: Annotated[Optional[list[str]], Query(max_length=deps.MAX_CHIPS, description="Chips (default: buyable "
                                                   "in China today + H100/H200)")] = None,
    option: Annotated[str, Query(min_length=1, max_length=100, description="Server (system id or chip) whose fair "
                                 "value is solved")] = DEFAULT_OPTION,
    price: Annotated[PriceQ, Query(max_length=16, description="CHIP=AMOUNT CUR DATE [server|card|gpu-hour|"
                                   "server-month], for chips without a public price")] = None,
    include_grey: Annotated[bool, Query(description="Count grey-market supply as obtainable")] = False,
) -> dict[str, Any]:
    from suanli.app.availability import resolve_as_of

    return dict(model=deps.resolve_model(model), workload=workload, as_of=resolve_as_of(as_of), currency=currency,
                hardware=deps.split_list(hardware), option=option,
                prices=[p.strip() for p in price or [] if p.strip()] or None, include_grey=include_grey)


Params = Annotated[dict[str, Any], Depends(report_params)]


def _key(kw: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kw.items()))


@functools.lru_cache(maxsize=32)
def _report(key: tuple[Any, ...], profile: ProfileRef | None = None) -> dict[str, Any]:
    from suanli.app.report import buyer_report
    from suanli.web.routes.economics import with_profile

    kw: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in key}
    rep = buyer_report(kw["model"], workload=kw["workload"], chips=kw["hardware"], option=kw["option"],
                       currency=kw["currency"], as_of=kw["as_of"], prices=kw["prices"] or (),
                       include_grey=kw["include_grey"],
                       compare_kw={"profile": profile.profile} if profile is not None else None)
    return with_profile(rep.to_dict(), profile)


def report_data(params: dict[str, Any], profile: ProfileRef | None = None) -> dict[str, Any]:
    """The one data dict behind ``/report``, ``/report?format=json`` and ``/api/report``."""
    return {**_report(_key(params), profile), "query": {**params, "profile": profile.name if profile else None}}


def _form(request: Request) -> dict[str, Any]:
    from suanli.app.compare import default_chips
    from suanli.web.routes.compare import stored_profiles
    from suanli.specs.system import load_systems

    cat = deps.catalog()
    defaults = default_chips(cat)
    chosen = set()
    for name in deps.split_list(request.query_params.getlist("hardware")) or defaults:
        try:
            chosen.add(cat.resolve_id(name))
        except SuanliError:
            pass
    chips = sorted(deps.labels(cat).values(), key=lambda lab: (lab["id"] not in defaults, lab["vendor"], lab["id"]))
    systems = [{"id": s.id, "name": s.name, "gpus": s.gpus} for s in load_systems(hardware=cat)
               if s.price_mid is not None and s.gpus]
    return {"models": bundled_model_ids(), "chips": chips, "chosen": chosen, "defaults": set(defaults),
            "workloads": get_args(Workload), "systems": systems, "profiles": stored_profiles(request)}


def _render(request: Request, template: str, params: dict[str, Any], extra: dict[str, Any]) -> Any:
    from suanli.viz.report_figures import cost_figure, fair_figure

    extra = {"form": _form(request), "query": {**params, "profile": request.query_params.get("profile")}, **extra}
    try:
        data = report_data(params, resolve(request, request.query_params.get("profile")))
    except SuanliError as exc:
        if wants_json(request):
            raise
        err = from_suanli(exc)
        extra["error"] = {"code": err.code, "message": err.message, "details": err.details}
        return page(request, template, {}, status=err.status, extra=extra)
    extra.update(cost_figure=cost_figure(data), fair_figure=fair_figure(data))
    return page(request, template, data, extra=extra)


def build_router() -> APIRouter | None:
    if deps.optional("suanli.app.report") is None:
        return None
    router = APIRouter()

    @router.get("/api/report", tags=["economics"], responses=ERRORS, response_model=ReportOut,
                summary="Buyer report: chips ranked by cost per million tokens, what was obtainable, one fair value")
    def api_report(params: Params, prof: ProfileDep) -> Any:
        """Same as ``suanli report --json``: every chip with an owned or leased cost (or why it has none:
        "no public price" and how to supply one), ``obtainable`` and the event that decides it, and one
        ``fair_value`` (``value``, ``p10``, ``p90``, ``against``, ``asking``, ``ratio``)."""
        return JSONResponse(report_data(params, prof))

    @router.get("/report", include_in_schema=False)
    def report_page(request: Request, params: Params) -> Any:
        return _render(request, "report.html", params, {})

    @router.get("/fairprice", include_in_schema=False)
    def fairprice_page(request: Request, params: Params) -> Any:
        if wants_json(request):
            d = report_data(params, resolve(request, request.query_params.get("profile")))
            return JSONResponse({k: d[k] for k in ("model", "workload", "currency", "as_of", "fair_value", "query",
                                                   "calibration_profile")}
                                | {"considered": [{k: c[k] for k in ("hardware", "name", "obtainable",
                                                                      "obtainable_reason", "best_per_mtok",
                                                                      "best_basis", "no_price_reason")}
                                                  for c in d["chips"]]})
        return _render(request, "fairprice.html", params, {})

    return router
