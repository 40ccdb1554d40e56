"""Your own benchmark runs (:mod:`suanli.app.runs`): ``/runs`` lists the stored runs (twin
``/api/runs``) with an upload form; ``POST /api/runs/import`` (token) reads one result file
of vLLM, SGLang, GenAI-Perf, AIPerf, guidellm, MLPerf, trtllm-bench or a case CSV, with the
flags a file may lack (chip, model, accelerators, parallelism, ...), all or nothing;
``GET``/``DELETE /api/runs/{id}``.  Fit a calibration profile on them with ``POST
/api/calibrate`` (:mod:`.profiles`).

Mounted only where the runs layer is installed.  The upload is parsed after the token
check and within the body limit; the server reads no file a request names.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Path as PathParam, Query, Request

from suanli.web import deps
from suanli.web.uploads import read_upload
from suanli.web.errors import ApiError, not_found
from suanli.web.jsonutil import JSONResponse
from suanli.web.render import page
from suanli.web.schemas import ERRORS, WRITE_ERRORS
from suanli.web.security import TokenFirstRoute, control_character, require_token

Name = Optional[Annotated[str, Query(max_length=200)]]
RunId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="Run id (GET /api/runs lists them)")]

# upload fields a file may lack: name -> (type, minimum, maximum or max length, help)
FLAG_FIELDS: dict[str, tuple[type, float, float, str]] = {
    "hardware": (str, 1, 100, "Chip id or alias, e.g. H20"),
    "model": (str, 1, 200, "Model id, e.g. Qwen/Qwen3-32B"),
    "engine": (str, 1, 20, "vllm | sglang | trtllm | mindie | other"),
    "engine_version": (str, 1, 100, "Engine version"),
    "gpus": (int, 1, deps.MAX_GPUS, "Accelerators of the measured deployment"),
    "tp": (int, 1, deps.MAX_GPUS, "Tensor-parallel size"),
    "pp": (int, 1, deps.MAX_GPUS, "Pipeline-parallel size"),
    "ep": (int, 1, deps.MAX_GPUS, "Expert-parallel size"),
    "dp_attention": (int, 1, deps.MAX_GPUS, "Attention data-parallel size"),
    "weight_dtype": (str, 1, 10, "bf16 | fp16 | fp8 | int8 | int4 | fp4 | mxfp4"),
    "kv_dtype": (str, 1, 10, "bf16 | fp16 | fp8"),
    "label": (str, 1, 200, "Your tag for these runs (replaces a file's label)"),
    "scenario": (str, 1, 40, "offline | server | fixed-concurrency | single-request | prefill-only | decode-only"),
    "isl": (float, 1, deps.MAX_TOKENS, "Mean input tokens per request"),
    "osl": (float, 1, deps.MAX_TOKENS, "Mean output tokens per request"),
    "concurrency": (int, 1, deps.MAX_CONCURRENCY, "Requests in flight (client cap)"),
    "request_rate": (float, 1e-6, deps.MAX_RATE, "Requests/s (server scenario)"),
    "num_requests": (int, 1, 10**9, "Requests in the run"),
}
SUMMARY_KEYS = ("id", "imported_at", "label", "format", "file_name", "record_index", "hardware", "model", "engine",
                "engine_version", "gpus", "tp", "pp", "ep", "dp_attention", "weight_dtype", "kv_dtype", "scenario",
                "isl", "osl", "concurrency", "request_rate", "num_requests", "metrics")


def _db(request: Request) -> Any:
    from suanli.web.routes.market_api import market_db
    return market_db(request)


Db = Annotated[Any, Depends(_db)]


def _upload_body() -> dict[str, Any]:
    from suanli.app.runs import FORMAT_CHOICES

    props: dict[str, Any] = {"file": {"type": "string", "format": "binary", "description": "benchmark result file"},
                             "format": {"type": "string", "enum": list(FORMAT_CHOICES), "default": "auto"},
                             "dry_run": {"type": "boolean", "default": False}}
    for name, (kind, lo, hi, text) in FLAG_FIELDS.items():
        if kind is str:
            props[name] = {"type": "string", "minLength": int(lo), "maxLength": int(hi), "description": text}
        else:
            props[name] = {"type": "integer" if kind is int else "number", "minimum": lo, "maximum": hi,
                           "description": text}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"], "properties": props}}}}}


def _flag(name: str, raw: str) -> Any:
    """One form field as its flag value (None when blank); 422 naming it when invalid."""
    kind, lo, hi, _ = FLAG_FIELDS[name]
    text = raw.strip()
    if not text:
        return None
    if bad := control_character(text):
        raise ApiError(422, "invalid_input", f"{name} contains a control character ({bad})", field=name)
    if kind is str:
        if len(text) > hi:
            raise ApiError(422, "invalid_input", f"{name}: at most {int(hi)} characters", field=name)
        return text
    try:
        value = int(text) if kind is int else float(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ApiError(422, "invalid_input", f"{name}: expected {what}, got {text[:40]!r}", field=name) from None
    if isinstance(value, float) and not math.isfinite(value) or not lo <= value <= hi:
        raise ApiError(422, "invalid_input", f"{name} must be between {lo:g} and {hi:g}, got {text[:40]}",
                       field=name)
    return value


def run_dict(run: Any) -> dict[str, Any]:
    d = run.to_dict()
    return {k: d.get(k) for k in SUMMARY_KEYS}


def listing(db: Any, hardware: str | None = None, model: str | None = None, engine: str | None = None,
            label: str | None = None) -> dict[str, Any]:
    from suanli.app.runs import list_runs

    runs = list_runs(db, hardware=hardware or None, model=model or None, engine=engine or None, label=label or None)
    return {"filters": {"hardware": hardware, "model": model, "engine": engine, "label": label},
            "count": len(runs), "runs": [run_dict(r) for r in runs]}


async def _import(request: Request, db: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    from suanli.app.runs import FORMAT_CHOICES, RunFlags, import_run_bytes

    form, upload = await read_upload(request, max_fields=len(FLAG_FIELDS) + 4, what="the benchmark result file")
    name = Path(upload.filename or "upload").name or "upload"
    if control_character(name):
        raise ApiError(422, "invalid_input", "the file name contains a control character", field="file")
    flags: dict[str, Any] = {}
    for key in FLAG_FIELDS:
        value = form.get(key)
        if isinstance(value, str):
            flags[key] = _flag(key, value)
    fmt = str(form.get("format") or "auto").strip() or "auto"
    if fmt not in FORMAT_CHOICES:
        raise ApiError(422, "invalid_input", f"format must be one of {', '.join(FORMAT_CHOICES)}", field="format")
    dry_run = str(form.get("dry_run", "false")).lower() in ("1", "true", "yes", "on")
    data = await upload.read()
    result = await run_in_threadpool(import_run_bytes, data, name, db, flags=RunFlags(**flags), fmt=fmt,
                                     dry_run=dry_run)
    return JSONResponse({**result.to_dict(), "file": name})


def build_router() -> APIRouter | None:
    if deps.optional("suanli.app.runs") is None:
        return None
    from suanli.app.runs import UnknownRun

    router = APIRouter(tags=["calibration"], route_class=TokenFirstRoute)

    @router.get("/api/runs", responses=ERRORS, summary="Your stored benchmark runs")
    def api_runs(db: Db, hardware: Name = None, model: Name = None, engine: Name = None, label: Name = None) -> Any:
        """Oldest first; ``hardware`` may be an alias (H20).  Metrics are per accelerator, in the
        validation-case units (``*_tok_s``, ``*_ms``)."""
        return JSONResponse(listing(db, hardware, model, engine, label))

    @router.get("/runs", include_in_schema=False)
    def runs_page(request: Request, db: Db, hardware: Name = None, model: Name = None, engine: Name = None,
                  label: Name = None) -> Any:
        from suanli.app.runs import FORMAT_CHOICES
        from suanli.web.routes.compare import stored_profiles

        data = listing(db, hardware, model, engine, label)
        from suanli.market.bench_formats import ENGINES, KV_DTYPES, SCENARIOS, WEIGHT_DTYPES

        choices = {"engine": ENGINES, "weight_dtype": WEIGHT_DTYPES, "kv_dtype": KV_DTYPES, "scenario": SCENARIOS}
        form = {"flags": FLAG_FIELDS, "choices": choices, "formats": FORMAT_CHOICES,
                "profiles": stored_profiles(request)}
        return page(request, "runs.html", data, extra={"form": form})

    @router.get("/api/runs/{run_id:id}", responses=ERRORS, summary="One stored run, with everything its file said")
    def api_run(db: Db, run_id: RunId) -> Any:
        from suanli.app.runs import get_run

        try:
            run = get_run(run_id, db)
        except UnknownRun as exc:
            raise not_found(exc) from None
        return JSONResponse({**run.to_dict(), "case_rows": run.to_case_rows()})

    @router.post("/api/runs/import", responses=WRITE_ERRORS, openapi_extra=_upload_body(),
                 dependencies=[Depends(require_token)],
                 summary="Import one benchmark result file (vLLM, SGLang, GenAI-Perf, AIPerf, guidellm, MLPerf, ...)")
    async def api_import(request: Request, db: Db) -> Any:
        """Needs the API token.  All or nothing; a run already stored (same file bytes, same record)
        counts as a duplicate.  What the file does not say comes from the fields (``hardware``,
        ``model``, ``gpus``, ``tp``, ...); where both say something they must agree."""
        return await _import(request, db)

    @router.delete("/api/runs/{run_id:id}", responses=WRITE_ERRORS, dependencies=[Depends(require_token)],
                   summary="Delete a stored run")
    def api_delete(db: Db, run_id: RunId) -> Any:
        """Needs the API token.  Profiles fitted on the run keep their fit."""
        from suanli.app.runs import delete_runs

        try:
            deleted = delete_runs([run_id], db)
        except UnknownRun as exc:
            raise not_found(exc) from None
        return JSONResponse({"id": run_id, "deleted": deleted})

    return router
