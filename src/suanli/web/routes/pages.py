"""Home page, health check, and the Plotly bundle served from the installed plotly package."""

from __future__ import annotations

import functools
import gzip
import hashlib
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from suanli.web import deps
from suanli.web.errors import ApiError
from suanli.web.jsonutil import JSONResponse
from suanli.web.render import page
from suanli.web.schemas import Health

router = APIRouter()


def _version() -> str:
    try:
        return version("suanli")
    except PackageNotFoundError:  # pragma: no cover - source tree without install
        return "0+unknown"


def features() -> dict[str, bool]:
    """Which optional parts this installation has (the pages say what is missing)."""
    return {"economics": deps.optional("suanli.app.economics") is not None,
            "training": deps.optional("suanli.app.training") is not None,
            "market": deps.optional("suanli.market") is not None}


@router.get("/api/health", response_model=Health, tags=["meta"], summary="Liveness and installed features")
def health() -> Any:
    return JSONResponse({"status": "ok", "version": _version(), "features": features()})


@router.get("/", include_in_schema=False)
def home(request: Request) -> Any:
    return page(request, "index.html", {"version": _version(), "features": features(),
                                        "pages": ["/report", "/fairprice", "/compare", "/chips", "/market", "/dealer", "/accuracy"],
                                        "api": "/openapi.json"})


@router.get("/docs", include_in_schema=False)
def api_docs(request: Request) -> Any:
    """The OpenAPI schema as a readable page (served by the app: no CDN, works offline)."""
    spec = request.app.openapi()
    ops = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                       "schema": _schema_text(p.get("schema", {})), "description": p.get("description", "")}
                      for p in op.get("parameters", [])]
            body = op.get("requestBody", {}).get("content", {})
            ops.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                        "description": op.get("description", ""), "tags": op.get("tags", []), "params": params,
                        "body": ", ".join(body), "responses": sorted(op.get("responses", {}))})
    return page(request, "api_docs.html", {"title": spec["info"]["title"], "version": spec["info"]["version"],
                                           "description": spec["info"].get("description", ""), "operations": ops})


def _schema_text(schema: dict[str, Any]) -> str:
    """A one-line rendering of a parameter schema: type, enum, bounds, default."""
    options = schema.get("anyOf") or [schema]
    parts = []
    for opt in options:
        if opt.get("type") == "null":
            continue
        text = opt.get("type", "")
        if opt.get("type") == "array":
            text = f"list of {_schema_text(opt.get('items', {}))}"
        if "enum" in opt:
            text = " | ".join(map(str, opt["enum"]))
        bounds = [f"{sym} {opt[key]:g}" for key, sym in (("minimum", "≥"), ("exclusiveMinimum", ">"),
                                                         ("maximum", "≤"), ("exclusiveMaximum", "<"))
                  if isinstance(opt.get(key), (int, float))]
        parts.append(text + (f" ({', '.join(bounds)})" if bounds else ""))
    out = " or ".join(p for p in parts if p)
    if "default" in schema and schema["default"] is not None:
        out += f"; default {schema['default']}"
    return out


# plotly.js "basic" bundle (scatter, bar, pie: all the charts here draw), vendored from npm
# (see web/data/PROVENANCE.md); a quarter of the full bundle, so a first visit on a slow
# machine or a phone parses ~1 MB of JavaScript instead of ~5 MB.
VENDORED_PLOTLY = "vendor/plotly-basic.min.js"


@functools.lru_cache(maxsize=1)
def _plotly() -> tuple[bytes, bytes, str]:
    """(plain, gzipped, etag) of the Plotly bundle: the vendored basic bundle, else the full
    one inside the installed plotly package."""
    vendored = files("suanli.web") / "static" / VENDORED_PLOTLY
    if vendored.is_file():
        raw = vendored.read_bytes()
    else:
        try:
            import plotly
        except ImportError:
            raise ApiError(404, "not_found", "plotly is not installed: pip install 'suanli[web]'") from None
        raw = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    return raw, gzip.compress(raw, compresslevel=6), '"' + hashlib.sha256(raw).hexdigest()[:16] + '"'


@router.get("/static/plotly.min.js", include_in_schema=False)
def plotly_js(request: Request) -> Response:
    raw, packed, etag = _plotly()
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"})
    return Response(raw, media_type="text/javascript", headers=headers)
