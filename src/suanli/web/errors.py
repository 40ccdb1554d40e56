"""One error envelope for every error the server answers.

``{"error": {"code": "...", "message": "one line", "details": {"field": ..., ...}}}``

Status codes (also in the OpenAPI description and docs/deploy.md):

* 400 -- a malformed request body or upload (not UTF-8, not the expected file format:
  :class:`~suanli.errors.ConfigError`).
* 401 -- a write endpoint called without a token; 403 -- a wrong token, or writes
  disabled because the operator configured none.
* 404 -- an unknown route, or an unknown id *in the path* (``/api/hardware/xyz``,
  ``/chips/xyz``).
* 413 -- a request body over the upload limit.
* 422 -- a well-formed request whose values are wrong: FastAPI validation errors, and
  every other :class:`~suanli.errors.SuanliError` (an unknown chip or model named in a
  query or form field, an invalid layout, a deployment that does not fit in memory, a
  missing spec).  ``details.field`` names the offending field.
* 503 -- the market database is unreachable or locked.
* 500 -- a bug (never a user's input); the message carries no traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanli.errors import ConfigError, SuanliError, UnknownHardware, UnknownModel, UnknownSystem
from suanli.web.params import bound_message

log = logging.getLogger("suanli.web")

# library field names -> the name of the API parameter a user sets
FIELD_ALIASES = {"accelerator": "hardware"}
DEFAULT_FIELD = {UnknownHardware: "hardware", UnknownModel: "model", UnknownSystem: "system"}
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "invalid_input", 429: "too_many_requests",
              500: "internal_error", 501: "not_implemented", 503: "unavailable"}


class ApiError(Exception):
    """An error raised by the web layer itself (auth, limits, not found in a path)."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None, **details: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, " ".join(message.split())
        self.details = ({"field": field} if field else {}) | details
        self.headers = headers or {}


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": " ".join(str(message).split()), "details": details or {}}}


def status_for(exc: SuanliError) -> int:
    if exc.code == "database_error":  # the server's database is down or locked: not the request's fault
        return 503
    return 400 if isinstance(exc, ConfigError) else 422


def field_of(exc: SuanliError) -> str | None:
    name = exc.field or next((f for cls, f in DEFAULT_FIELD.items() if isinstance(exc, cls)), None)
    return FIELD_ALIASES.get(name, name) if name else None


def not_found(exc: SuanliError) -> ApiError:
    """An unknown id named in the URL path: 404 (same code and message as the library's)."""
    return ApiError(404, exc.code, str(exc), field=field_of(exc))


def from_suanli(exc: SuanliError) -> ApiError:
    status = status_for(exc)
    if status == 503:  # the message names the database (a file path, user@host): only the log gets it
        log.error("market database error: %s", exc)
        return ApiError(503, exc.code, "the market database is unavailable (the server log has the details)")
    extra: dict[str, Any] = {}
    problems = getattr(exc, "problems", None)
    if problems:  # a rejected import: the bad rows (the first 100) with line and reason, and their count
        extra["problems"] = [str(p) for p in list(problems)[:200]]
        extra["bad_rows"] = int(getattr(exc, "total", len(problems)))
    return ApiError(status, exc.code, str(exc), field=field_of(exc), **extra)


def _validation_details(exc: RequestValidationError) -> tuple[str, dict[str, Any]]:
    errors: list[dict[str, str]] = []
    first_declared = False
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ())]
        where = loc[0] if loc else ""
        name = ".".join(loc[1:]) if len(loc) > 1 else where
        # a declared parameter out of its bounds: the declaration's one message (as the CLI's)
        declared = bound_message(loc[-1] if loc else "", str(err.get("type", "")), err.get("input"), err.get("ctx"))
        first_declared = first_declared or (not errors and declared is not None)
        errors.append({"field": name, "location": where, "message": declared or str(err.get("msg", "invalid"))})
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    message = first["message"] if first_declared or not first["field"] else f"{first['field']}: {first['message']}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return message, {"field": first["field"], "errors": errors}


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    methods: set[str] = set()
    for route in app.routes:
        regex = getattr(route, "path_regex", None)
        route_methods = getattr(route, "methods", None)
        if regex is not None and regex.match(path) and route_methods:
            methods |= set(route_methods)
    return sorted(methods)


def install(app: FastAPI, render_html: Any) -> None:
    """Register the handlers; ``render_html(request, status, body)`` returns an HTML response
    for browser pages (or None to answer JSON)."""
    from suanli.web.jsonutil import JSONResponse

    def respond(request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        html = render_html(request, status, body)
        if html is not None:
            return html
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Any:
        return respond(request, exc.status, envelope(exc.code, exc.message, exc.details), exc.headers)

    @app.exception_handler(SuanliError)
    async def _suanli(request: Request, exc: SuanliError) -> Any:
        err = from_suanli(exc)
        return respond(request, err.status, envelope(err.code, err.message, err.details))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Any:
        message, details = _validation_details(exc)
        return respond(request, 422, envelope("invalid_input", message, details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such page or endpoint: {request.url.path}"
        if exc.status_code == 405:  # a path served by several routes (GET list, POST import): name them all
            allowed = _allowed_methods(app, request.url.path)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed on {request.url.path}; allowed: {headers['Allow']}"
        return respond(request, exc.status_code, envelope(code, message), headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return respond(request, 500, envelope("internal_error", "internal error (a bug in suanli, not in your "
                                              "input): please report it with the request that caused it"))
