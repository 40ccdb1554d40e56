"""Reading one uploaded file from a multipart/form-data request (market imports, run imports,
profile imports): the size limit of the settings, a clear 400 for a malformed body, a 413 kept
as such, and a 422 naming ``file`` when the part is missing."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from suanli.web.errors import ApiError


async def read_upload(request: Request, *, max_fields: int, what: str) -> tuple[Any, Any]:
    """(the parsed form, its ``file`` part) of ``request``; ``what`` describes the file in the
    422 answer when the part is missing."""
    limit = request.app.state.settings.max_upload_bytes
    try:
        form = await request.form(max_files=1, max_fields=max_fields, max_part_size=limit)
    except ApiError:
        raise
    except Exception as exc:  # malformed multipart
        if getattr(exc, "status_code", None) == 413:
            raise
        raise ApiError(400, "bad_request", f"expected a multipart/form-data upload with a 'file' field ({exc})",
                       field="file") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise ApiError(422, "invalid_input", f"the upload needs a 'file' field with {what}", field="file")
    return form, upload


__all__ = ["read_upload"]
