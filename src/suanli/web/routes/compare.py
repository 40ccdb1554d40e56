"""Compare page (``/compare``) and its twins ``/api/compare`` and ``/api/pareto``.

Results are deterministic for a given request, so the last few comparisons are kept
in memory (a repeated request, or the JSON twin of a page just shown, costs nothing).
With ``?profile=NAME`` the profile's version (:class:`~suanli.web.profile_param.ProfileRef`:
name and digest) is part of the cache key, so a refitted profile is never served stale.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Optional, get_args

from fastapi import APIRouter, Depends, Query, Request

from suanli.errors import SuanliError
from suanli.app import params as P
from suanli.specs.model import bundled_model_ids
from suanli.web import deps, figures
from suanli.web.errors import from_suanli
from suanli.web.jsonutil import JSONResponse
from suanli.web.profile_param import ProfileDep, ProfileRef, summary
from suanli.web.render import page, wants_json
from suanli.web.params import query
from suanli.web.routes.predict import Engine, KvDType, ModelQ, WeightDType
from suanli.web.schemas import ERRORS, CompareOut, ParetoOut

router = APIRouter(tags=["performance"])

MAX_SEARCH_GPUS = 64  # compare/pareto search budget the server accepts (the CLI allows more)
POINT_KEYS = ("tok_s_per_user", "output_tok_s_per_gpu", "ttft_s", "tpot_s", "gpus", "batch", "description")
Gpus = Optional[Annotated[int, Query(ge=1, le=MAX_SEARCH_GPUS)]]
Ms = Optional[Annotated[float, Query(ge=0, le=deps.MAX_MS, allow_inf_nan=False)]]


def search_params(
    model: ModelQ = deps.DEFAULT_WORKLOAD["model"],
    isl: Annotated[float, query(P.ISL)] = deps.DEFAULT_WORKLOAD["isl"],
    osl: Annotated[float, query(P.OSL)] = deps.DEFAULT_WORKLOAD["osl"],
    hardware: Annotated[Optional[list[str]], Query(max_length=deps.MAX_CHIPS,
                                                   description="Chips (repeat or comma-separate); default: "
                                                               "buyable in China today + H100/H200")] = None,
    gpus: Annotated[Gpus, Query(description="Exactly this many GPUs per deployment unit")] = None,
    max_gpus: Annotated[Gpus, Query(description=f"At most this many GPUs (default 8, ≤ {MAX_SEARCH_GPUS})")] = None,
    engine: Annotated[Engine, query(P.ENGINE)] = P.ENGINE.default,
    weight_dtype: Annotated[Optional[list[WeightDType]], Query(description="Weight precisions to consider")] = None,
    kv_dtype: Annotated[Optional[list[KvDType]], Query(description="KV-cache precisions to consider")] = None,
    disagg: Annotated[bool, Query(description="Also search disaggregated prefill/decode (xPyD)")] = True,
) -> dict[str, Any]:
    return dict(model=deps.resolve_model(model), isl=isl, osl=osl, hardware=deps.split_list(hardware), gpus=gpus,
                max_gpus=max_gpus, engine=engine, weight_dtypes=list(dict.fromkeys(weight_dtype or [])) or None,
                kv_dtypes=list(dict.fromkeys(kv_dtype or [])) or None, disagg=disagg)


Search = Annotated[dict[str, Any], Depends(search_params)]


def targets(
    ttft_ms: Annotated[Ms, Query(description="TTFT target, ms (0: none)")] = deps.DEFAULT_WORKLOAD["ttft_ms"],
    tpot_ms: Annotated[Ms, Query(description="TPOT target, ms (0: none)")] = deps.DEFAULT_WORKLOAD["tpot_ms"],
    request_rate: Annotated[Optional[float], Query(gt=0, le=deps.MAX_RATE, allow_inf_nan=False,
                                                   description="Requests/s to serve: GPUs and servers needed")] = None,
) -> dict[str, Any]:
    return dict(ttft_ms=ttft_ms or None, tpot_ms=tpot_ms or None, request_rate=request_rate)


Targets = Annotated[dict[str, Any], Depends(targets)]


def _key(kw: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kw.items()))


@functools.lru_cache(maxsize=32)
def _compare(key: tuple[Any, ...], profile: ProfileRef | None = None) -> Any:
    """``profile`` (hashed by name and document digest) is part of the cache key."""
    from suanli.app.compare import compare

    kw: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in key}
    return compare(backend="serial", profile=profile.profile if profile is not None else None, **kw)


def _frontier_dict(f: Any, labels: dict[str, Any]) -> dict[str, Any]:
    return {"hardware": f.hardware, "unverified": f.unverified, "error": f.error, "label": labels.get(f.hardware),
            "profile": f.profile, "points": [{k: p.get(k) for k in POINT_KEYS} for p in f.points]}


AsOf = Optional[Annotated[str, Query(max_length=10, pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$",
                                      description="Flag chips not obtainable in China at this date (default today)")]]


def _availability(chips: list[dict[str, Any]], as_of: str | None) -> dict[str, Any]:
    from suanli.app.availability import obtainability

    day, avail = obtainability([c["hardware"] for c in chips], as_of)
    return {"as_of": day, "availability": {hw: a.to_dict() for hw, a in avail.items()}}


def compare_data(search: dict[str, Any], tgt: dict[str, Any], as_of: str | None = None,
                 profile: ProfileRef | None = None) -> dict[str, Any]:
    """The one data dict behind ``/compare``, ``/compare?format=json`` and ``/api/compare``; each
    chip's availability in China at ``as_of`` (default today) rides along.  With ``profile``
    each chip's ``profile`` is its note and ``calibration_profile`` names the version used."""
    res = _compare(_key({**search, **tgt}), profile)
    labels = deps.labels()
    query = {**search, **tgt}
    econ = _economics(res, query, profile)
    priced = any(e and e.get("cny_per_mtok") is not None for e in econ.values())

    def order(c: Any) -> tuple[Any, ...]:  # cheapest per token first where priced, then fastest
        cny = (econ.get(c.hardware) or {}).get("cny_per_mtok")
        return (not c.feasible, cny is None, cny or 0.0, -(c.output_tok_s_per_gpu or 0.0))

    chips, rank = [], 0
    for c in sorted(res.chips, key=order) if priced else res.chips:
        d = c.to_dict()
        rank += c.feasible
        d.update(rank=rank if c.feasible else None, label=labels.get(c.hardware), economics=econ.get(c.hardware))
        chips.append(d)
    return {"query": {**query, "profile": profile.name if profile else None}, "model": res.model, "isl": res.isl, "osl": res.osl, "ttft_ms": res.ttft_ms,
            "tpot_ms": res.tpot_ms, "request_rate": res.request_rate, "engine": res.engine,
            "metric": "cny_per_mtok" if priced else "output_tok_s_per_gpu", "economics_available": priced,
            "chips": chips, "frontiers": [_frontier_dict(f, labels) for f in res.frontiers],
            "calibration_profile": summary(profile), **_availability(chips, as_of)}


def _economics(res: Any, query: dict[str, Any],
               profile: ProfileRef | None = None) -> dict[str, dict[str, Any] | None]:
    """¥ per million tokens per chip where the economics use cases are installed."""
    if deps.optional("suanli.app.economics") is None:
        return {}
    from suanli.web.routes.economics import compare_economics
    return compare_economics(res, query, profile)


@router.get("/api/compare", response_model=CompareOut, responses=ERRORS,
            summary="Rank chips by their best deployment under TTFT/TPOT targets")
def api_compare(search: Search, tgt: Targets, prof: ProfileDep, as_of: AsOf = None) -> Any:
    """Same as ``suanli compare`` (default workload: Qwen/Qwen3-32B, 2048 in / 512 out, TTFT ≤ 2 s,
    TPOT ≤ 50 ms).  Includes every chip's throughput-vs-interactivity frontier."""
    return JSONResponse(compare_data(search, tgt, as_of, prof))


@router.get("/api/pareto", response_model=ParetoOut, responses=ERRORS,
            summary="Throughput per GPU vs tokens/s per user frontier per chip")
def api_pareto(search: Search, prof: ProfileDep) -> Any:
    res = _compare(_key({**search, "ttft_ms": None, "tpot_ms": None, "request_rate": None}), prof)
    labels = deps.labels()
    return JSONResponse({"model": res.model, "isl": res.isl, "osl": res.osl,
                         "frontiers": [_frontier_dict(f, labels) for f in res.frontiers],
                         "calibration_profile": summary(prof)})


def _form(request: Request) -> dict[str, Any]:
    from suanli.app.compare import default_chips

    cat = deps.catalog()
    defaults = default_chips(cat)
    chosen = request.query_params.getlist("hardware")
    chosen_ids = set()
    for name in deps.split_list(chosen) or defaults:
        try:
            chosen_ids.add(cat.resolve_id(name))
        except SuanliError:
            pass
    chips = sorted(deps.labels(cat).values(), key=lambda lab: (lab["id"] not in defaults, lab["vendor"], lab["id"]))
    return {"models": bundled_model_ids(), "chips": chips, "chosen": chosen_ids, "defaults": set(defaults),
            "engines": get_args(Engine), "dtypes": get_args(WeightDType), "profiles": stored_profiles(request)}


def stored_profiles(request: Request) -> list[dict[str, Any]]:
    """The profiles a form can choose from (none when the database cannot be read: the page
    still renders)."""
    from suanli.app.profiles import list_profiles
    from suanli.web.routes.market_api import market_db

    try:
        return list_profiles(market_db(request))
    except SuanliError:
        return []


@router.get("/compare", include_in_schema=False)
def compare_page(request: Request, search: Search, tgt: Targets, as_of: AsOf = None) -> Any:
    extra: dict[str, Any] = {"form": _form(request), "query": {**search, **tgt,
                                                               "profile": request.query_params.get("profile")}}
    try:
        from suanli.web.profile_param import resolve
        prof = resolve(request, request.query_params.get("profile"))
        data = compare_data(search, tgt, as_of, prof)
    except SuanliError as exc:
        err = from_suanli(exc)
        if wants_json(request):
            raise
        extra["error"] = {"code": err.code, "message": err.message, "details": err.details}
        return page(request, "compare.html", {}, status=err.status, extra=extra)
    extra["figure"] = figures.frontier(data)
    return page(request, "compare.html", data, extra=extra)
