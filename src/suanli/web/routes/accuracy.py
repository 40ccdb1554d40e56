"""Accuracy page (``/accuracy``): the validation report on the bundled public cases, and
``POST /api/validate`` for a user's own case file (same schema, uploaded)."""

from __future__ import annotations

import functools
import io
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, File, Request, UploadFile

from suanli.web import deps, figures
from suanli.web.errors import ApiError
from suanli.web.jsonutil import JSONResponse
from suanli.web.render import page
from suanli.web.schemas import ERRORS, ValidationOut

router = APIRouter(tags=["accuracy"])

MAX_CASES = 1000  # rows of an uploaded case file (server cases run a simulation each)
PUBLIC = "cases-public.csv"


def public_cases_text() -> tuple[str, str]:
    """(label, text) of the bundled public case file."""
    for where in (files("suanli") / "data" / "validation" / PUBLIC, files("suanli.web") / "data" / PUBLIC):
        if where.is_file():
            return f"bundled {PUBLIC}", where.read_text(encoding="utf-8")
    raise ApiError(404, "not_found", "no bundled public validation cases in this installation")


@functools.lru_cache(maxsize=1)
def public_report() -> dict[str, Any]:
    from suanli.app.validate import validate

    label, text = public_cases_text()
    return {"source": label, **validate(io.StringIO(text)).to_dict()}


def accuracy_data() -> dict[str, Any]:
    return public_report()


@router.get("/api/accuracy", response_model=ValidationOut, summary="Validation report on the bundled public cases")
def api_accuracy() -> Any:
    """Every public case predicted and compared with its measurement (absolute percentage
    error); skipped cases carry their reason."""
    return JSONResponse(accuracy_data())


@router.post("/api/validate", response_model=ValidationOut, responses=ERRORS,
             summary="Validate the model on an uploaded case file")
async def api_validate(file: UploadFile = File(description="Validation-case CSV (schema of the validation "
                                                           f"README), UTF-8, at most {MAX_CASES} rows")) -> Any:
    """Reads no file on the server: the upload itself is the case file.  Bodies over the
    upload limit are refused with 413 before being read."""
    raw = await file.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", "the case file is not UTF-8 text", field="file") from None
    if text.count("\n") > MAX_CASES + 1:
        raise ApiError(422, "invalid_input", f"at most {MAX_CASES} cases per upload (use the CLI for more)",
                       field="file")
    from starlette.concurrency import run_in_threadpool

    from suanli.app.validate import validate

    report = await run_in_threadpool(validate, io.StringIO(text))
    return JSONResponse({"source": file.filename or "upload", **report.to_dict()})


@router.get("/accuracy", include_in_schema=False)
def accuracy_page(request: Request) -> Any:
    data = accuracy_data()
    labels = deps.labels()
    extra = {"scatter": figures.accuracy(data["cases"]),
             "per_chip": figures.errors_per_chip(data["summary"]["by_hardware"], labels), "labels": labels}
    return page(request, "accuracy.html", data, extra=extra)
