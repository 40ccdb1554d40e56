"""Benchmark runs in the market database: the stored record and its storage.

A :class:`Run` is one benchmark configuration and its measured metrics, in the semantics
of the validation-case schema (``../validation/README.md``): throughputs per accelerator,
TTFT/TPOT as means over requests, ``isl``/``osl`` as mean tokens per request, a scenario of
the schema's vocabulary.  :meth:`Run.to_case_rows` writes it as case rows, so runs can go
through the same prediction and comparison as published cases.

Storage: :func:`insert_runs` (one transaction, ``ON CONFLICT DO NOTHING`` against the
unique (file SHA-256, position in the file), so a re-imported file adds nothing),
:func:`query_runs`, :func:`delete_runs`.  Resolving names against the catalogs and merging
flags is the app layer's job (:mod:`suanli.app.runs`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from suanli.errors import SuanliError
from suanli.market import schema
from suanli.market.bench_formats import METRICS

if TYPE_CHECKING:
    from suanli.market.db import Database

CASE_HEADER = ("case_id,source_group,source_url,hardware,gpus,model,weight_dtype,kv_dtype,engine,tp,pp,ep,"
               "dp_attention,isl,osl,concurrency,request_rate,scenario,metric,value,notes,num_requests").split(",")


class UnknownRun(SuanliError):
    """No run with that id."""

    code = "not_found"


def _num(value: float | int | None) -> str:
    """A case-schema number: integers without a decimal point, other numbers as plain
    decimals (never scientific notation); empty for None."""
    if value is None:
        return ""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = f"{value:.12f}".rstrip("0").rstrip(".")
    return text


@dataclass(frozen=True, kw_only=True)
class Run:
    """One stored benchmark run (see the module doc).  ``metrics``: metric -> value with
    metrics of :data:`METRICS` in case-schema units; ``extras``: what else the file said
    (medians, percentiles, the tool's own numbers, file values a flag replaced)."""

    id: int | None
    format: str
    file_name: str
    file_sha256: str
    record_index: int
    command: str = ""
    hardware: str
    model: str
    engine: str = ""
    engine_version: str = ""
    gpus: int
    tp: int | None = None
    pp: int | None = None
    ep: int | None = None
    dp_attention: int | None = None
    weight_dtype: str = ""
    kv_dtype: str = ""
    scenario: str = ""
    isl: float | None = None
    osl: float | None = None
    concurrency: int | None = None
    request_rate: float | None = None
    num_requests: int | None = None
    label: str = ""
    imported_at: datetime | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["imported_at"] = self.imported_at.isoformat(timespec="seconds") if self.imported_at else None
        return out

    def to_case_rows(self) -> list[dict[str, str]]:
        """One validation-case row per measured metric (every column as text, the optional
        ``num_requests`` included), for :func:`suanli.app.validate.case_inputs` /
        ``predict_case``.  ``concurrency`` is written for the scenarios that use it
        (fixed-concurrency, single-request, prefill-/decode-only) and ``request_rate`` for
        ``server`` only, as the schema asks; an unknown engine is ``other``."""
        rid = "new" if self.id is None else str(self.id)
        notes = f"{self.format} file {self.file_name} record {self.record_index + 1}"
        if self.label:
            notes += f"; label {self.label}"
        if self.scenario == "server" and self.concurrency:
            notes += f"; client concurrency cap {self.concurrency}"
        concurrency = self.concurrency if self.scenario not in ("server", "offline") else None
        request_rate = self.request_rate if self.scenario == "server" else None
        base = {
            "source_group": "runs", "source_url": f"run:{rid}", "hardware": self.hardware, "gpus": str(self.gpus),
            "model": self.model, "weight_dtype": self.weight_dtype, "kv_dtype": self.kv_dtype,
            "engine": self.engine or "other", "tp": _num(self.tp), "pp": _num(self.pp), "ep": _num(self.ep),
            "dp_attention": _num(self.dp_attention), "isl": _num(self.isl), "osl": _num(self.osl),
            "concurrency": _num(concurrency), "request_rate": _num(request_rate), "scenario": self.scenario,
            "notes": notes, "num_requests": _num(self.num_requests),
        }
        rows = []
        for metric in METRICS:
            value = self.metrics.get(metric)
            if value is None or not math.isfinite(value) or value <= 0:
                continue
            rows.append({"case_id": f"run-{rid}-{metric}", **base, "metric": metric,
                         "value": _num(value)})
        return [{k: row[k] for k in CASE_HEADER} for row in rows]


_COLUMNS = ("format", "file_name", "file_sha256", "record_index", "command", "hardware", "model", "engine",
            "engine_version", "gpus", "tp", "pp", "ep", "dp_attention", "weight_dtype", "kv_dtype", "scenario",
            "isl", "osl", "concurrency", "request_rate", "num_requests", "label")


def _row(run: Run, now: datetime) -> dict[str, Any]:
    row = {c: getattr(run, c) for c in _COLUMNS}
    row["file_name"] = row["file_name"][: schema.SOURCE_LEN]
    row["metrics"] = json.dumps(run.metrics, sort_keys=True)
    row["extras"] = json.dumps(run.extras, sort_keys=True, default=str)
    row["imported_at"] = run.imported_at or now
    return row


def insert_runs(conn: Any, runs: Sequence[Run], now: datetime) -> list[int | None]:
    """Insert ``runs`` on ``conn`` (in the caller's transaction); the new id of each run, or
    None for a run already stored (same file SHA-256 and position)."""
    from suanli.market.ingest import insert_ignore

    if not runs:
        return []
    t = schema.runs
    added = insert_ignore(conn, t, [_row(r, now) for r in runs], returning=(t.c.id, t.c.file_sha256, t.c.record_index))
    ids = {(sha, idx): rid for rid, sha, idx in added}
    return [ids.get((r.file_sha256, r.record_index)) for r in runs]


def _from_row(row: Any) -> Run:
    m = row._mapping
    data = {c: m[c] for c in _COLUMNS}
    return Run(id=int(m["id"]), imported_at=m["imported_at"], metrics=json.loads(m["metrics"]),
               extras=json.loads(m["extras"]), **data)


def query_runs(db: Database, *, ids: Iterable[int] | None = None, hardware: str | None = None,
               model: str | None = None, engine: str | None = None, label: str | None = None,
               format: str | None = None) -> list[Run]:
    """Stored runs, oldest first, filtered by exact values (hardware and model ids as
    stored; ``ids`` as given, unknown ids simply match nothing)."""
    from sqlalchemy import select

    t = schema.runs
    stmt = select(t).order_by(t.c.id)
    for col, value in ((t.c.hardware, hardware), (t.c.model, model), (t.c.engine, engine), (t.c.label, label),
                       (t.c.format, format)):
        if value is not None:
            stmt = stmt.where(col == value)
    id_list = None if ids is None else sorted({int(i) for i in ids})
    if id_list is not None:
        if not id_list:
            return []
        if len(id_list) <= 500:
            stmt = stmt.where(t.c.id.in_(id_list))
    with db.read() as conn:
        found = [_from_row(r) for r in conn.execute(stmt)]
    if id_list is not None and len(id_list) > 500:
        wanted = set(id_list)
        found = [r for r in found if r.id in wanted]
    return found


def get_run(db: Database, run_id: int) -> Run:
    found = query_runs(db, ids=[run_id])
    if not found:
        raise UnknownRun(f"no run with id {run_id} (list them with `suanli runs list`)", field="id")
    return found[0]


def delete_runs(db: Database, ids: Iterable[int]) -> int:
    """Delete the runs with these ids (one transaction); how many there were."""
    from sqlalchemy import delete

    id_list = sorted({int(i) for i in ids})
    if not id_list:
        return 0
    with db.write() as conn:
        n = 0
        for start in range(0, len(id_list), 500):
            n += conn.execute(delete(schema.runs).where(schema.runs.c.id.in_(id_list[start:start + 500]))).rowcount
    return int(n)
