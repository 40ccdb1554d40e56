"""The FastAPI application: JSON API (OpenAPI at ``/docs`` and ``/openapi.json``) and
server-rendered pages, each page with a JSON twin.

``create_app(db_url=None, **settings)`` builds it; ``suanli serve`` runs it with uvicorn.
The web layer holds no modelling logic: every route calls a :mod:`suanli.app` use case (or
a catalog of :mod:`suanli.specs`) and renders the result.
"""

from __future__ import annotations

import contextlib
import logging
from importlib.resources import files
from typing import Any, AsyncIterator, MutableMapping

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from suanli.web import errors, render
from suanli.web.jsonutil import JSONResponse
from suanli.web.security import BodyLimit, reject_control_characters
from suanli.web.settings import Settings, load_settings

DESCRIPTION = """
Calibrated LLM-serving predictions, chip comparisons, economics and market data.

**Errors** share one envelope: `{"error": {"code", "message", "details": {"field", ...}}}`.
400 malformed request or file · 401 missing token · 403 wrong token or writes disabled ·
404 unknown route or unknown id *in the path* (`/api/hardware/{chip}`) · 413 body over the
upload limit · 422 invalid value, including an unknown chip or model named in a query or
form field (`details.field` names it), a control character in any text, and deployments
that do not fit in memory · 503 market database unavailable.

**Writes** (imports, inventories, calibration uploads) need `Authorization: Bearer TOKEN`
with the operator's `SUANLI_API_TOKEN`.  Reads are open.
"""

# Query values a browser form sends empty: the targets mean "no target", the rest "default".
_EMPTY_MEANS = {b"ttft_ms": b"0", b"tpot_ms": b"0"}


class FormQuery:
    """For page routes (not ``/api``): drop ``key=`` pairs of an HTML GET form so that an empty
    field means the default, except latency targets, where empty means none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string") and not scope["path"].startswith("/api"):
            pairs = []
            for pair in scope["query_string"].split(b"&"):
                key, eq, value = pair.partition(b"=")
                if eq and not value:
                    if key in _EMPTY_MEANS:
                        pairs.append(key + b"=" + _EMPTY_MEANS[key])
                    continue
                if pair:
                    pairs.append(pair)
            scope = {**scope, "query_string": b"&".join(pairs)}
        await self.app(scope, receive, send)


def warm_up() -> None:
    """What the first visitor would otherwise wait for: catalogs, the Plotly bundle (gzipped
    once), the compare page's default workload and the default buyer report.  Run at startup, before the server
    accepts connections.  (The accuracy report is computed on its first request: done in the
    background it would hold the GIL while the first pages are served.)"""
    from suanli.web.routes import compare, pages

    try:
        pages._plotly()
        compare.compare_data(compare.search_params(), compare.targets())
        from suanli.web.routes import report
        report.report_data(report.report_params())
    except Exception:  # a warm-up failure must not stop the server; the page will show it
        logging.getLogger("suanli.web").exception("warm-up failed")


async def _touch(app: FastAPI, path: str) -> None:
    """One in-process GET: the first request to reach a route makes FastAPI analyse the
    parameters of every route before it (~0.3-0.5 s on 2 cores); pay that at startup."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"localhost"), (b"accept", b"*/*")], "client": ("127.0.0.1", 0),
             "server": ("127.0.0.1", 0)}

    import asyncio

    done = asyncio.Event()
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()  # a real client stays connected until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    await asyncio.wait_for(app(scope, receive, send), timeout=60)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    if app.state.warm:
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(warm_up)
        for path in ("/static/style.css", "/compare"):
            try:
                await _touch(app, path)
            except Exception:  # never stop the server over a warm-up
                logging.getLogger("suanli.web").exception("warm-up request %s failed", path)
    yield


def create_app(db_url: str | None = None, *, warm: bool = True, **overrides: Any) -> FastAPI:
    """The application.  ``db_url`` and ``overrides`` (``api_token``, ``cors_origins``,
    ``max_upload_bytes``) take precedence over the environment (see :mod:`.settings`).
    ``warm``: precompute the default pages at startup (:func:`warm_up`)."""
    from suanli.web.routes import accuracy, catalog, compare, dealer, market, pages, predict

    settings: Settings = load_settings(db_url=db_url, **overrides)
    app = FastAPI(title="suanli", version=pages._version(), description=DESCRIPTION, lifespan=_lifespan,
                  default_response_class=JSONResponse, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", dependencies=[Depends(reject_control_characters)])
    app.state.settings = settings
    app.state.warm = warm
    errors.install(app, render.error_page)
    for module in (pages, predict, compare, catalog, accuracy, dealer, market):
        app.include_router(module.router)
    for name in ("economics", "training", "market_api", "report", "profiles", "runs"):
        optional = _optional_router(name)
        if optional is not None:
            app.include_router(optional)
    app.mount("/static", StaticFiles(directory=str(files("suanli.web") / "static")), name="static")
    app.add_middleware(FormQuery)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Token"])
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)
    return app


def _optional_router(name: str) -> Any:
    """Routers over modules other parts of the project provide; None when those are missing."""
    from suanli.web import deps

    module = deps.optional(f"suanli.web.routes.{name}")
    build = getattr(module, "build_router", None)
    return build() if build else None
