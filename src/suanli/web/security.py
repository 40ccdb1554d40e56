"""Write-endpoint tokens and request-size limits.

* Write endpoints depend on :func:`require_token`: the operator's ``SUANLI_API_TOKEN`` is
  compared in constant time (:func:`hmac.compare_digest`) with ``Authorization: Bearer ...``
  or ``X-API-Token``.  No token header: 401; a wrong one: 403; no token configured: 403
  (writes are disabled rather than open).
* :class:`BodyLimit` refuses a body over the limit with 413: at once when
  ``Content-Length`` says so (nothing is read), and as soon as a chunked body passes the
  limit otherwise.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Awaitable, Callable

from fastapi import Request
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
