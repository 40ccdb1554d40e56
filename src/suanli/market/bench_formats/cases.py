"""The validation-case CSV (``../validation/README.md``): one row = one configuration + one
metric; the rows of one configuration (every column but ``case_id``, ``metric``, ``value``
and ``notes``) are one run with several metrics.  Values are already per accelerator.
Every bad row is reported with its line (the header is line 1)."""

from __future__ import annotations

import csv
import io
from typing import Any

from suanli.files import row_count
from suanli.market.bench_formats._common import (
    ENGINES,
    KV_DTYPES,
    METRICS,
    SCENARIOS,
    WEIGHT_DTYPES,
    FileProblem,
    ParsedRun,
    number,
)

HEADER = ("case_id,source_group,source_url,hardware,gpus,model,weight_dtype,kv_dtype,engine,tp,pp,ep,"
          "dp_attention,isl,osl,concurrency,request_rate,scenario,metric,value,notes").split(",")
CONFIG = ("source_group", "source_url", "hardware", "gpus", "model", "weight_dtype", "kv_dtype", "engine", "tp",
          "pp", "ep", "dp_attention", "isl", "osl", "concurrency", "request_rate", "scenario", "num_requests")


def sniff_cases(text: str, name: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    cols = [c.strip() for c in first.split(",")]
    return cols[:3] == HEADER[:3] and "metric" in cols and "value" in cols


def _pos(row: dict[str, str], key: str, required: bool = False) -> float | None:
    text = (row.get(key) or "").strip()
    if not text:
        if required:
            raise ValueError(f"required field {key} is empty")
        return None
    v = number(text) if "," not in text else None
    if v is None or v <= 0:
        raise ValueError(f"{key} must be a positive number, got {text!r}")
    return v


def _word(row: dict[str, str], key: str, allowed: tuple[str, ...], required: bool = False) -> str:
    text = (row.get(key) or "").strip()
    if not text and not required:
        return ""
    if text not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(allowed)}, got {text!r}")
    return text


def _row(row: dict[str, str]) -> tuple[dict[str, Any], str, float]:
    """(run fields, metric, value) of one case row; ValueError for a bad row."""
    for key in ("hardware", "model"):
        if not (row.get(key) or "").strip():
            raise ValueError(f"required field {key} is empty")
    gpus = row_count(row, "gpus")
    if gpus is None:
        raise ValueError("required field gpus is empty")
    metric = _word(row, "metric", METRICS, required=True)
    value = _pos(row, "value", required=True)
    fields = {
        "hints": {"hardware": row["hardware"].strip(), "model": row["model"].strip(), "gpus": gpus,
                  "weight_dtype": _word(row, "weight_dtype", WEIGHT_DTYPES) or None,
                  "kv_dtype": _word(row, "kv_dtype", KV_DTYPES) or None,
                  "engine": _word(row, "engine", ENGINES) or None,
                  **{k: row_count(row, k) for k in ("tp", "pp", "ep", "dp_attention")}},
        "isl": _pos(row, "isl"), "osl": _pos(row, "osl"), "concurrency": row_count(row, "concurrency"),
        "request_rate": _pos(row, "request_rate"), "scenario": _word(row, "scenario", SCENARIOS, required=True),
        "num_requests": row_count(row, "num_requests"),
    }
    assert value is not None
    return fields, metric, value


def parse_cases(text: str, name: str) -> list[ParsedRun]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [h.strip() for h in next(reader, [])]
    missing = [h for h in HEADER if h not in header]
    if missing:
        raise FileProblem(1, f"not a validation-case file; header lacks {', '.join(missing)}")
    runs: dict[tuple[str, ...], ParsedRun] = {}
    problems: list[tuple[int, str]] = []
    seen_metric: set[tuple[tuple[str, ...], str]] = set()
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append((line, f"has {len(values)} fields, the header has {len(header)}"))
            continue
        row = dict(zip(header, values))
        try:
            fields, metric, value = _row(row)
        except ValueError as exc:
            problems.append((line, str(exc)))
            continue
        key = tuple((row.get(k) or "").strip() for k in CONFIG)
        if (key, metric) in seen_metric:
            problems.append((line, f"a second {metric} row for the same configuration"))
            continue
        seen_metric.add((key, metric))
        run = runs.get(key)
        if run is None:
            hints = {k: v for k, v in fields.pop("hints").items() if v is not None}
            run = runs[key] = ParsedRun(record_index=len(runs), line=line, hints=hints, **fields,
                                        extras={"tool": "cases", "case_ids": [], "source_group": key[0],
                                                "source_url": key[1], "notes": []})
        run.metrics[metric] = value
        run.extras["case_ids"].append(row["case_id"].strip())
        note = (row.get("notes") or "").strip()
        if note and note not in run.extras["notes"]:
            run.extras["notes"].append(note)
    if problems:
        err = FileProblem(*problems[0])
        err.all = problems  # type: ignore[attr-defined]
        raise err
    if not runs:
        raise FileProblem(0, "no case rows")
    return list(runs.values())
