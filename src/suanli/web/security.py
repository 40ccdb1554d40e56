"""Write-endpoint tokens and request-size limits.

* Write endpoints depend on :func:`require_token`: the operator's ``SUANLI_API_TOKEN`` is
  compared in constant time (:func:`hmac.compare_digest`) with ``Authorization: Bearer ...``
  or ``X-API-Token``.  No token header: 401; a wrong one: 403; no token configured: 403
  (writes are disabled rather than open).  Routers with write endpoints use
  :class:`TokenFirstRoute`, so the token is checked before the body is parsed.
* :func:`reject_control_characters` (an app-wide dependency): no path or query value holds
  a control character (422 naming the field).
* :class:`BodyLimit` refuses a body over the limit with 413: at once when
  ``Content-Length`` says so (nothing is read), and as soon as a chunked body passes the
  limit otherwise.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any, Awaitable, Callable, Coroutine

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanli.web.errors import ApiError, envelope

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

AUTH_HEADER = "X-API-Token"


def _presented(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = request.headers.get(AUTH_HEADER.lower())
    return token.strip() if token and token.strip() else None


def has_token(request: Request) -> bool:
    """Whether the request carries the operator's token (for reads that show more to it)."""
    expected = request.app.state.settings.api_token
    given = _presented(request)
    return bool(expected) and given is not None and hmac.compare_digest(given.encode("utf-8"),
                                                                         expected.encode("utf-8"))


def require_token(request: Request) -> None:
    """FastAPI dependency guarding every write endpoint."""
    expected = request.app.state.settings.api_token
    if not expected:
        raise ApiError(403, "writes_disabled", "write endpoints are disabled: the operator has not set "
                       "SUANLI_API_TOKEN")
    given = _presented(request)
    if given is None:
        raise ApiError(401, "unauthorized", "this endpoint changes data and needs a token: send "
                       "'Authorization: Bearer TOKEN' (or X-API-Token)", headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise ApiError(403, "forbidden", "the API token is not valid")


class TokenFirstRoute(APIRoute):
    """A route class checking the token of a write endpoint before anything else: FastAPI
    would otherwise parse and validate the body first (a malformed body without a token
    would get 422 instead of 401)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not any(getattr(d, "dependency", None) is require_token for d in self.dependencies):
            return handler

        async def guarded(request: Request) -> Response:
            require_token(request)
            return await handler(request)

        return guarded


# --- control characters ----------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def control_character(text: str) -> str | None:
    """``'U+0000'`` for the first control character in ``text`` (C0, DEL, C1); None if none."""
    m = _CONTROL.search(text)
    return None if m is None else f"U+{ord(m.group()):04X}"


def reject_control_characters(request: Request) -> None:
    """App-wide dependency: no path or query value (nor query name) may hold a control
    character.  Names, chips, owners and filters are single-line text; a NUL would reach
    the database (PostgreSQL refuses it) and anything else is not a name.  422 naming the
    field."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and (bad := control_character(value)):
            raise ApiError(422, "invalid_input", f"{name} contains a control character ({bad})", field=name)
    query = request.scope.get("query_string", b"")
    if query:
        for name, value in request.query_params.multi_items():
            if bad := control_character(name) or control_character(value):
                field = name if control_character(name) is None else repr(name)
                raise ApiError(422, "invalid_input", f"{field} contains a control character ({bad})", field=field)


class TooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a chunked body passes the limit.  An HTTPException so that
    FastAPI's body parsing re-raises it instead of turning it into a generic 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit:,} bytes (SUANLI_MAX_UPLOAD_BYTES)")


class BodyLimit:
    """ASGI middleware: at most ``limit`` bytes of request body."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _reject(send, 400, "bad_request", "Content-Length is not a number")
                return
            if declared > self.limit:
                await _reject(send, 413, "payload_too_large", TooLarge(self.limit).detail)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise TooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(envelope(code, message, {"field": "body"} if status == 413 else {})).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
