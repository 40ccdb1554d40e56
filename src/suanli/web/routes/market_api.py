"""Market API over :mod:`suanli.app.market` (mounted when the market store is installed).

Reads (open): ``/api/market/status``, ``/quotes``, ``/events``, ``/index/{chip}``,
``/inventories``, ``/api/calibration``.  Writes (token): ``POST /api/market/imports``
(quotes, leases, events or inventories; all or nothing), ``POST /api/market/inventories``
and ``POST /api/calibration``.  Uploads are parsed only after the token is checked, and
the body limit applies before anything is read.  Every query goes through the market
layer's SQLAlchemy expressions: no SQL is built from strings here.
"""

from __future__ import annotations

import math
import tempfile
import threading
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from fastapi import APIRouter, Depends, Path as PathParam, Query, Request
from pydantic import BaseModel, Field, StrictInt, field_validator

from suanli.app import params as P
from suanli.web import deps
from suanli.web.uploads import read_upload
from suanli.web.errors import ApiError
from suanli.web.jsonutil import JSONResponse
from suanli.web.params import query
from suanli.web.schemas import ERRORS, WRITE_ERRORS
from suanli.web.security import TokenFirstRoute, control_character, has_token, require_token

_DATE = r"^\d{4}(-\d{2}){0,2}$"
SinceQ = Annotated[Optional[str], query(P.SINCE, max_length=10, pattern=_DATE)]
UntilQ = Annotated[Optional[str], query(P.UNTIL, max_length=10, pattern=_DATE)]
Name = Optional[Annotated[str, Query(max_length=100)]]
QUOTE_KINDS = ("chip", "server", "module", "lease", "cloud", "token_api")
CHANNELS = P.CHANNEL.canonical
IMPORT_KINDS = ("quotes", "leases", "events", "inventories")
_LOCK = threading.Lock()


def market_db(request: Request) -> Any:
    """The app's market database, opened (migrated, seeded) on first use."""
    state = request.app.state
    with _LOCK:
        if getattr(state, "market_db", None) is None:
            from suanli.app.market import open_market
            state.market_db = open_market(state.settings.db_url)
    return state.market_db


Db = Annotated[Any, Depends(market_db)]


def _upload_body(kind_enum: tuple[str, ...] | None) -> dict[str, Any]:
    props: dict[str, Any] = {"file": {"type": "string", "format": "binary", "description": "CSV or JSON file"},
                             "dry_run": {"type": "boolean", "default": False}}
    if kind_enum:
        props["kind"] = {"type": "string", "enum": list(kind_enum)}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"], "properties": props}}}}}


async def _import(request: Request, db: Any, kind: str | None) -> Any:
    """Parse the multipart upload (after the token check), import it, report what was added."""
    from starlette.concurrency import run_in_threadpool

    from suanli.app.market import import_file

    form, upload = await read_upload(request, max_fields=4, what="the CSV or JSON file")
    name = Path(upload.filename or "upload.csv").name
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ApiError(422, "invalid_input", f"{name}: the file must end in .csv or .json", field="file")
    form_kind = form.get("kind")
    if kind is None and isinstance(form_kind, str) and form_kind:
        if form_kind not in IMPORT_KINDS:
            raise ApiError(422, "invalid_input", f"kind must be one of {', '.join(IMPORT_KINDS)}", field="kind")
        kind = form_kind
    dry_run = str(form.get("dry_run", "false")).lower() in ("1", "true", "yes", "on")
    data = await upload.read()
    with tempfile.TemporaryDirectory(prefix="suanli-import-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            result = await run_in_threadpool(import_file, path, db, kind=kind, dry_run=dry_run)
        except Exception as exc:
            if hasattr(exc, "file"):
                exc.message = exc.message.replace(path.name, name, 1)  # type: ignore[attr-defined]
            raise
    return JSONResponse({**result.to_dict(), "file": name})


Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class CalibrationIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    params: dict[str, Union[StrictInt, Finite]] = Field(
        max_length=100, description="fitted parameters (finite numbers), e.g. {'compute': 0.5, 'memory': 0.75}")
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD: when the profile was fitted")
    source: str = Field(min_length=1, max_length=500, description="how and from what the profile was fitted")
    engine: str = Field("", max_length=20)
    hardware: str = Field("", max_length=100)
    model: str = Field("", max_length=200)
    notes: str = Field("", max_length=2000)

    @field_validator("name", "date", "source", "engine", "hardware", "model")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if bad := control_character(value):
            raise ValueError(f"contains a control character ({bad})")
        return value

    @field_validator("notes")
    @classmethod
    def _text(cls, value: str) -> str:
        if bad := control_character(value.replace("\n", " ").replace("\t", " ")):
            raise ValueError(f"contains a control character ({bad})")
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, v in value.items():
                if not isinstance(key, str) or not key.strip() or control_character(key):
                    raise ValueError(f"parameter name {key!r} is empty or contains a control character")
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ValueError(f"parameter {key!r} must be a finite number, got {v!r}")
        return value


def build_router() -> APIRouter | None:
    if deps.optional("suanli.app.market") is None or deps.optional("suanli.market") is None:
        return None
    from suanli.app import market

    router = APIRouter(prefix="/api", tags=["market"], route_class=TokenFirstRoute)

    @router.get("/market/status", summary="Market database: dialect, schema version, row counts")
    def api_status(request: Request, db: Db) -> Any:
        """Where the database is (file path or server URL) only for holders of the API token."""
        status = market.db_status(db)
        if not has_token(request):
            status = {k: v for k, v in status.items() if k not in ("location", "url")}
        return JSONResponse(status)

    @router.get("/market/quotes", responses=ERRORS, summary="Dated price quotes with their sources")
    def api_quotes(db: Db, item: Name = None, chip: Name = None, kind: Optional[Literal[QUOTE_KINDS]] = None,  # type: ignore[valid-type]
                   channel: Annotated[Optional[Literal[CHANNELS]], query(P.CHANNEL)] = None, region: Name = None,  # type: ignore[valid-type]
                   currency: Optional[Annotated[str, Query(pattern=r"^[A-Za-z]{3}$")]] = None, since: SinceQ = None,
                   until: UntilQ = None, limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> Any:
        rows = market.quotes(db, item=item, chip=chip, kind=kind, channel=channel, region=region, currency=currency,
                             since=since, until=until, limit=limit)
        return JSONResponse([q.to_dict() for q in rows])

    @router.get("/market/events", responses=ERRORS, summary="Dated market events (export rules, supply, demand)")
    def api_events(db: Db, chip: Name = None, kind: Name = None, region: Name = None, since: SinceQ = None,
                   until: UntilQ = None) -> Any:
        return JSONResponse([e.to_dict() for e in market.events(db, chip=chip, kind=kind, region=region,
                                                                 since=since, until=until)])

    @router.get("/market/index/{chip}", responses=ERRORS,
                summary="Weekly per-GPU price index of a chip by channel, with its events")
    def api_index(db: Db, chip: Annotated[str, PathParam(min_length=1, max_length=100)],
                  channel: Annotated[Optional[Literal[CHANNELS]], query(P.CHANNEL)] = None,  # type: ignore[valid-type]
                  measure: Literal["purchase", "rent"] = "purchase", currency: Literal["CNY", "USD"] = "CNY",
                  since: SinceQ = None, until: UntilQ = None) -> Any:
        from suanli.errors import UnknownHardware
        from suanli.web.errors import not_found

        try:
            idx = market.price_index(chip, db, channel=channel, measure=measure, currency=currency, since=since,
                                     until=until)
        except UnknownHardware as exc:  # an unknown id in the path
            raise not_found(exc) from None
        return JSONResponse(idx.to_dict())

    @router.get("/market/inventories", responses=ERRORS, summary="Inventory lots by owner and chip")
    def api_inventories(db: Db, owner: Name = None, chip: Name = None) -> Any:
        return JSONResponse([lot.to_dict() for lot in market.inventories(db, owner=owner, chip=chip)])

    @router.post("/market/imports", responses=WRITE_ERRORS, openapi_extra=_upload_body(IMPORT_KINDS),
                 dependencies=[Depends(require_token)],
                 summary="Import quotes, leases, events or inventories (CSV/JSON; all or nothing)")
    async def api_import(request: Request, db: Db) -> Any:
        """Needs the API token.  Idempotent: rows already present are counted as duplicates."""
        return await _import(request, db, None)

    @router.post("/market/inventories", responses=WRITE_ERRORS, openapi_extra=_upload_body(None),
                 dependencies=[Depends(require_token)], summary="Import inventory lots (CSV/JSON)")
    async def api_inventory(request: Request, db: Db) -> Any:
        """Needs the API token."""
        return await _import(request, db, "inventories")

    @router.get("/calibration", summary="Stored calibration profiles")
    def api_calibrations(db: Db, name: Name = None) -> Any:
        from suanli.market import calibration_profiles
        return JSONResponse([p.to_dict() for p in calibration_profiles(db, name=name)])

    @router.post("/calibration", responses=WRITE_ERRORS, dependencies=[Depends(require_token)],
                 summary="Store a calibration profile version")
    def api_calibration(profile: CalibrationIn, db: Db) -> Any:
        """Needs the API token.  ``stored`` is false when that exact version already exists."""
        from suanli.market import save_calibration_profile

        try:
            day = date.fromisoformat(profile.date)
        except ValueError:
            raise ApiError(422, "invalid_input", f"date {profile.date!r} is not a calendar date", field="date") from None
        stored = save_calibration_profile(db, name=profile.name, params=profile.params, date_=day,
                                          source=profile.source, engine=profile.engine, hardware=profile.hardware,
                                          model=profile.model, notes=profile.notes)
        return JSONResponse({"name": profile.name, "date": day.isoformat(), "stored": bool(stored)})

    return router
