"""HTML pages and their JSON twins from the same data.

A page handler builds one plain ``data`` dict and calls :func:`page`: with
``?format=json`` (or an ``Accept`` asking for JSON only) it is returned as JSON, exactly
what the ``/api/...`` twin returns; otherwise the template renders it.  Charts are
Plotly figure dicts (:mod:`suanli.web.figures`) drawn in the browser by the Plotly
bundle the app serves itself (``/static/plotly.min.js``): no CDN, works offline.
"""

from __future__ import annotations

import math
from importlib.resources import files
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from suanli.web.jsonutil import JSONResponse, plain

TEMPLATES = Jinja2Templates(directory=str(files("suanli.web") / "templates"))

NAV = (("/report", "Report", "报告"), ("/compare", "Compare", "对比"), ("/chips", "Chips", "芯片"), ("/market", "Market", "市场"),
       ("/dealer", "Dealer", "经销商"), ("/accuracy", "Accuracy", "准确度"),
       ("/profiles", "Profiles", "校准"), ("/docs", "API", "接口"))


def num(value: Any, digits: int = 0) -> str:
    """Thousands-separated number; '–' for missing or non-finite."""
    if value is None:
        return "–"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "–"
    return f"{x:,.{digits}f}"


def pct(value: Any, digits: int = 0) -> str:
    return "–" if value is None else f"{100 * float(value):.{digits}f} %"


def g(value: Any) -> str:
    """A number for a form field: shortest exact form, '' when unset."""
    if value is None or value == "":
        return ""
    x = float(value)
    return str(int(x)) if x.is_integer() else repr(x)


def chip_name(label: dict[str, Any] | None, fallback: str = "") -> str:
    if not label:
        return fallback
    return label["name"] + (f" · {label['name_zh']}" if label.get("name_zh") else "")


from suanli.web.markdown import inline as _md_inline, paragraphs as _md_paragraphs  # noqa: E402

TEMPLATES.env.filters.update(num=num, pct=pct, g=g, chip_name=chip_name, md=_md_inline, md_paragraphs=_md_paragraphs)
TEMPLATES.env.globals.update(nav=NAV)


def wants_json(request: Request) -> bool:
    fmt = request.query_params.get("format")
    if fmt is not None:
        return fmt.lower() == "json"
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def is_page(request: Request) -> bool:
    """A browser page (HTML unless JSON was asked for), as opposed to an /api endpoint."""
    path = request.url.path
    return not (path.startswith("/api") or path in ("/openapi.json",) or path.startswith("/static")) \
        and not wants_json(request) and "text/html" in request.headers.get("accept", "text/html")


def page(request: Request, template: str, data: dict[str, Any], *, status: int = 200,
         extra: dict[str, Any] | None = None) -> Response:
    """``data`` as JSON (the twin) or through ``template`` (``extra``: presentation only,
    e.g. chart figures derived from ``data`` and form choices)."""
    if wants_json(request):
        return JSONResponse(data, status_code=status)
    ctx = {"data": plain(data), "path": request.url.path, **(extra or {})}
    return TEMPLATES.TemplateResponse(request, template, ctx, status_code=status)


def error_page(request: Request, status: int, body: dict[str, Any]) -> Response | None:
    """The HTML rendering of an error envelope for browser pages; None for the API."""
    if not is_page(request):
        return None
    return TEMPLATES.TemplateResponse(request, "error.html", {"error": body["error"], "status": status,
                                                              "path": request.url.path}, status_code=status)
