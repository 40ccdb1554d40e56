"""Calibration profiles fitted on a user's own benchmark runs (:mod:`suanli.app.profiles`).

Pages and twins: ``/profiles`` (``/api/profiles``) lists the stored profiles;
``/profiles/{name}`` (``/api/profiles/{name}``) shows one: per scope (chip x engine runtime,
model family, model) the fitted factors with their posterior sd, the runs, the median error
before -> after, and every observation measured vs predicted before and after.

Writes (token): ``POST /api/profiles/import`` (an exported profile: JSON body or a file
upload), ``DELETE /api/profiles/{name}``, and ``POST /api/calibrate`` (fit a profile on
stored runs: ``{"runs": SELECTOR, "profile": NAME}``).  ``GET /api/profiles/{name}/export``
downloads the JSON file that ``import`` (and ``suanli profiles import``) reads back.
``/api/calibrate`` is mounted only where the stored-runs layer (:mod:`suanli.app.runs`) is.

A name in the path that is not stored is a 404; a profile name in a query (``?profile=``)
that is not stored is a 422 naming ``profile`` (:mod:`suanli.web.profile_param`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Path as PathParam, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import Response

from suanli.web import figures
from suanli.web.uploads import read_upload
from suanli.web.errors import ApiError
from suanli.web.jsonutil import JSONResponse
from suanli.web.render import page
from suanli.web.schemas import ERRORS, WRITE_ERRORS
from suanli.web.security import TokenFirstRoute, control_character, require_token

NameP = Annotated[str, PathParam(min_length=1, max_length=100, description="Profile name")]
SELECTOR_HELP = ("Which stored runs: 'all', run ids and ranges ('3,5-9'), or label:NAME, hardware:ID, engine:NAME, "
                 "model:ID, format:NAME, joined with '+' (hardware:H20+label:week49); GET /api/runs lists them")


def _db(request: Request) -> Any:
    from suanli.web.routes.market_api import market_db
    return market_db(request)


Db = Annotated[Any, Depends(_db)]


def _num(value: Any) -> float | None:
    """A finite number from an imported document, else None (a profile file is user data)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _load(db: Any, name: str) -> Any:
    """The stored profile ``name``; 404 when there is none."""
    from suanli.app.profiles import get_profile, list_profiles

    names = [p["name"] for p in list_profiles(db)]
    if name.strip() not in names:
        known = f"stored profiles: {', '.join(names)}" if names else "no profiles are stored yet"
        raise ApiError(404, "unknown_profile", f"no profile named {name!r} ({known})", field="name")
    return get_profile(name, db=db, allow_file=False)


def listing(db: Any) -> dict[str, Any]:
    from suanli.app.profiles import list_profiles

    return {"profiles": list_profiles(db)}


def detail(db: Any, name: str) -> dict[str, Any]:
    """The data behind ``/profiles/{name}`` and ``/api/profiles/{name}``."""
    from suanli.app.profile import GROUPS
    from suanli.web.profile_param import ProfileRef

    prof = _load(db, name)
    ref = ProfileRef(prof)
    parts = list(GROUPS)
    scopes = []
    for s in prof.scopes:
        scopes.append({"hardware": s.hardware, "engine": s.engine, "family": s.family, "model": s.model,
                       "describe": s.describe(), "n_runs": s.n_runs, "n_obs": s.n_obs,
                       "factors": [{"part": g, "scale": _num(s.scales.get(g)), "sd": _num(s.sd.get(g))}
                                   for g in parts if g in s.scales or g in s.sd],
                       "variance_left": s.variance_left, "sigma_floor": s.sigma_floor, "clipped": list(s.clipped),
                       "median_ape_before": _num(s.median_ape_before), "median_ape_after": _num(s.median_ape_after)})
    points = []
    for p in prof.points:
        m, b, a = _num(p.get("measured")), _num(p.get("before")), _num(p.get("after"))
        points.append({"ref": str(p.get("ref", "")), "hardware": str(p.get("hardware", "")),
                       "engine": str(p.get("engine", "")), "model": str(p.get("model", "")),
                       "scenario": str(p.get("scenario", "")), "metric": str(p.get("metric", "")),
                       "measured": m, "before": b, "after": a,
                       "ape_before": abs(b / m - 1) if m and b is not None else None,
                       "ape_after": abs(a / m - 1) if m and a is not None else None})
    return {"name": prof.name, "created": prof.created, "source": prof.source, "digest": ref.digest,
            "n_runs": prof.n_runs, "runs": list(prof.runs), "covers": ref.summary()["covers"], "parts": parts,
            "scopes": scopes, "points": points, "skipped": [dict(s) for s in prof.skipped],
            "export": f"/api/profiles/{prof.name}/export"}


class CalibrateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")   # a misspelt or unsupported field (dry_run) is an error, not ignored

    runs: str = Field(min_length=1, max_length=500, description=SELECTOR_HELP, examples=["hardware:H20"])
    profile: str = Field(min_length=1, max_length=100, description="Name to store the profile under (a profile of "
                         "that name is replaced)", examples=["lab"])

    @field_validator("runs", "profile")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if bad := control_character(value):
            raise ValueError(f"contains a control character ({bad})")
        if not value.strip():
            raise ValueError("is blank")
        return value


def _import_body() -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "description": "an exported profile "
                                        "(GET /api/profiles/{name}/export)"}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "exported profile (.json)"},
            "name": {"type": "string", "maxLength": 100, "description": "as the query parameter"},
            "replace": {"type": "boolean", "description": "as the query parameter"}}}}}}}


async def _profile_text(request: Request) -> tuple[bytes, str, dict[str, str]]:
    """(the profile's bytes, its file name, the upload's other text fields) from a JSON body
    or a multipart upload."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form, upload = await read_upload(request, max_fields=4, what="the exported profile (.json)")
        fields = {k: v for k, v in form.items() if isinstance(v, str) and k in ("name", "replace")}
        return await upload.read(), Path(upload.filename or "profile.json").name, fields
    body = await request.body()
    if not body.strip():
        raise ApiError(422, "invalid_input", "send the exported profile as the JSON body or as a 'file' upload",
                       field="body")
    return body, "request body", {}


def build_router() -> APIRouter | None:
    from suanli.web import deps

    if deps.optional("suanli.app.profiles") is None:
        return None
    router = APIRouter(tags=["calibration"], route_class=TokenFirstRoute)

    @router.get("/api/profiles", responses=ERRORS, summary="Stored calibration profiles fitted on your own runs")
    def api_profiles(db: Db) -> Any:
        """Per profile: name, date, source, runs (observations) and the chip x engine pairs it covers."""
        return JSONResponse(listing(db))

    @router.get("/profiles", include_in_schema=False)
    def profiles_page(request: Request, db: Db) -> Any:
        return page(request, "profiles.html", listing(db))

    @router.get("/api/profiles/{name:id}", responses=ERRORS, summary="One calibration profile: factors, errors, points")
    def api_profile(db: Db, name: NameP) -> Any:
        """Per scope the fitted factors (``scale``, with ``sd`` the posterior sd of its log), runs and median
        error before -> after; per observation measured and predicted before and after calibration."""
        return JSONResponse(detail(db, name))

    @router.get("/profiles/{name:id}", include_in_schema=False)
    def profile_page(request: Request, db: Db, name: NameP) -> Any:
        data = detail(db, name)
        return page(request, "profile.html", data, extra={"scatter": figures.profile_scatter(data)})

    @router.get("/api/profiles/{name:id}/export", responses=ERRORS, summary="Download a profile as a JSON file")
    def api_export(db: Db, name: NameP) -> Any:
        """The file ``POST /api/profiles/import`` and ``suanli profiles import`` read back."""
        prof = _load(db, name)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in prof.name)
        return Response(prof.to_json(), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="suanli-profile-{safe}.json"'})

    @router.post("/api/profiles/import", responses=WRITE_ERRORS, openapi_extra=_import_body(),
                 dependencies=[Depends(require_token)], summary="Store an exported profile")
    async def api_import(request: Request, db: Db,
                         name: Annotated[Optional[str], Query(max_length=100, description="Store it under this "
                                                              "name instead of its own")] = None,
                         replace: Annotated[bool, Query(description="Replace a stored profile of that name")] = False,
                         ) -> Any:
        """Needs the API token.  A stored profile of the same name is kept (422 naming ``name``) unless
        ``replace``."""
        from starlette.concurrency import run_in_threadpool

        from suanli.app.profiles import import_profile

        text, file_name, fields = await _profile_text(request)
        name = name or fields.get("name")  # an upload form may send them as fields
        replace = replace or fields.get("replace", "").lower() in ("1", "true", "yes", "on")
        if name and (bad := control_character(name)):
            raise ApiError(422, "invalid_input", f"name contains a control character ({bad})", field="name")
        prof = await run_in_threadpool(import_profile, text, db=db, name=(name or "").strip() or None,
                                       origin=file_name, replace=replace)
        return JSONResponse({"name": prof.name, "runs": prof.n_runs, "scopes": len(prof.scopes),
                             "created": prof.created, "url": f"/profiles/{prof.name}"})

    @router.delete("/api/profiles/{name:id}", responses=WRITE_ERRORS, dependencies=[Depends(require_token)],
                   summary="Delete a stored profile")
    def api_delete(db: Db, name: NameP) -> Any:
        """Needs the API token.  404 when no profile of that name is stored."""
        from suanli.app.profiles import delete_profile

        _load(db, name)
        return JSONResponse({"name": name.strip(), "deleted": delete_profile(name, db=db)})

    if deps.optional("suanli.app.runs") is None:  # fitting on stored runs needs the runs layer
        return router

    @router.post("/api/calibrate", responses=WRITE_ERRORS, dependencies=[Depends(require_token)],
                 summary="Fit a profile on stored runs and store it")
    def api_calibrate(body: CalibrateIn, db: Db) -> Any:
        """Needs the API token.  Same as ``suanli calibrate --runs SELECTOR --profile NAME``: a profile of
        that name is replaced; predictions asked with ``?profile=NAME`` use the new one at once."""
        from suanli.app.profiles import calibrate_runs

        calibrate_runs(body.runs.strip(), name=body.profile, db=db)
        return JSONResponse(detail(db, body.profile.strip()))

    return router
