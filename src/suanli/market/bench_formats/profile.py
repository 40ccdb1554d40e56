"""NVIDIA GenAI-Perf (``*_genai_perf.json`` / ``.csv``) and AIPerf
(``profile_export_aiperf.json`` / ``.csv``) profile exports: one run per file.

JSON: one object per metric, ``{"unit": ..., "avg": ..., "p99": ...}``, plus the
``input_config`` the run was started with.  CSV (CRLF line ends in GenAI-Perf): a
per-request table ``Metric,avg,min,max,p99,...``, a blank line, a ``Metric,Value`` table of
run totals, then optional GPU-telemetry tables; numbers use ``{:,.2f}`` so ``1,234.56`` is
quoted.  Their "Inter Token Latency" is per request (latency - TTFT) / (tokens - 1),
averaged: the case schema's TPOT.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from suanli.market.bench_formats._common import (
    FileProblem,
    ParsedRun,
    count,
    engine_word,
    load_json,
    number,
    positive,
    scenario_of,
)

# display names (CSV) -> JSON keys
_CSV_NAMES = {
    "time to first token": "time_to_first_token", "inter token latency": "inter_token_latency",
    "request latency": "request_latency", "output sequence length": "output_sequence_length",
    "input sequence length": "input_sequence_length", "output token throughput": "output_token_throughput",
    "request throughput": "request_throughput", "request count": "request_count",
    "total token throughput": "total_token_throughput", "input token throughput": "input_token_throughput",
    "benchmark duration": "benchmark_duration", "total output tokens": "total_output_tokens",
    "total input sequence length": "total_isl", "total output sequence length": "total_osl",
    "completed requests": "completed_request_count", "time to second token": "time_to_second_token",
}


def sniff_aiperf(text: str, name: str) -> bool:
    head = text.lstrip()[:2048]
    if head.startswith("{"):
        return '"aiperf_version"' in head or ('"schema_version"' in head and '"time_to_first_token"' in text)
    return head.startswith("Metric,avg,min,max,sum,")


def sniff_genai_perf(text: str, name: str) -> bool:
    head = text.lstrip()[:2048]
    if head.startswith("{"):
        keys = ('"input_config"', '"request_throughput"', '"output_token_throughput"', '"time_to_first_token"')
        return ('"unit"' in head and any(k in head for k in keys) and '"x_request_id"' not in head
                and not sniff_aiperf(text, name))
    return head.startswith("Metric,avg,min,max,p99,")


def _stat(doc: dict[str, Any], key: str, stat: str = "avg") -> float | None:
    v = doc.get(key)
    return number(v.get(stat)) if isinstance(v, dict) else None


def _run(doc: dict[str, Any], tool: str) -> ParsedRun:
    cfg = doc.get("input_config") if isinstance(doc.get("input_config"), dict) else {}
    isl, osl = _stat(doc, "input_sequence_length"), _stat(doc, "output_sequence_length")
    n = count(_stat(doc, "completed_request_count")) or count(_stat(doc, "request_count"))
    totals: dict[str, float] = {}
    for metric, key in (("output_tok_s", "output_token_throughput"), ("total_tok_s", "total_token_throughput"),
                        ("input_tok_s", "input_token_throughput")):
        v = _stat(doc, key)
        if v is not None and v > 0:
            totals[metric] = v
    metrics: dict[str, float] = {}
    extras: dict[str, Any] = {"tool": tool}
    for metric, key in (("ttft_ms", "time_to_first_token"), ("tpot_ms", "inter_token_latency")):
        v = _stat(doc, key)
        if v is not None and v > 0:
            metrics[metric] = v
            for stat in ("p50", "p90", "p99"):
                s = _stat(doc, key, stat)
                if s is not None:
                    extras[f"{stat}_{metric}"] = s
    for key in ("request_throughput", "request_latency", "benchmark_duration", "request_count"):
        v = _stat(doc, key)
        if v is not None:
            extras[key] = v
    for key in ("aiperf_version", "schema_version", "benchmark_id"):
        if isinstance(doc.get(key), str):
            extras[key] = doc[key]
    hints: dict[str, Any] = {}
    model = _model(cfg)
    if model:
        hints["model"] = model
    endpoint = cfg.get("endpoint") if isinstance(cfg.get("endpoint"), dict) else {}
    engine = engine_word(endpoint.get("backend"))
    if engine:
        hints["engine"] = engine
    cap = _concurrency(cfg)
    req_rate = _request_rate(cfg)
    scenario = scenario_of(req_rate, cap) if (cap or req_rate) else ""
    command = ""
    run_info = doc.get("run_info")
    if isinstance(run_info, dict) and isinstance(run_info.get("cli_command"), str):
        command = run_info["cli_command"]
    return ParsedRun(record_index=0, line=1, hints=hints, scenario=scenario, concurrency=cap,
                     request_rate=req_rate, num_requests=n, isl=isl, osl=osl, totals=totals,
                     metrics=metrics, extras=extras, command=command)


def _model(cfg: dict[str, Any]) -> str | None:
    names = cfg.get("model_names")
    if isinstance(names, list) and names and isinstance(names[0], str):
        return names[0]
    models = cfg.get("models")
    items = models.get("items") if isinstance(models, dict) else None
    if isinstance(items, list) and items and isinstance(items[0], dict) and isinstance(items[0].get("name"), str):
        return str(items[0]["name"])
    return None


def _concurrency(cfg: dict[str, Any]) -> int | None:
    pa = cfg.get("perf_analyzer") if isinstance(cfg.get("perf_analyzer"), dict) else {}
    stim = pa.get("stimulus") if isinstance(pa.get("stimulus"), dict) else {}
    if count(stim.get("concurrency")):
        return count(stim.get("concurrency"))
    for phase in cfg.get("phases") or []:
        if isinstance(phase, dict) and phase.get("type") == "concurrency" and count(phase.get("concurrency")):
            return count(phase.get("concurrency"))
    return None


def _request_rate(cfg: dict[str, Any]) -> float | None:
    pa = cfg.get("perf_analyzer") if isinstance(cfg.get("perf_analyzer"), dict) else {}
    stim = pa.get("stimulus") if isinstance(pa.get("stimulus"), dict) else {}
    v = positive(stim.get("request_rate"))
    if v:
        return v
    for phase in cfg.get("phases") or []:
        if isinstance(phase, dict) and positive(phase.get("request_rate")):
            return positive(phase.get("request_rate"))
    return None


def _csv_doc(text: str) -> dict[str, Any]:
    """The CSV tables as the JSON export's ``{key: {stat: value}}``."""
    doc: dict[str, Any] = {}
    header: list[str] | None = None
    reader = csv.reader(io.StringIO(text, newline=""))
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            header = None
            continue
        if header is None:
            header = [v.strip().lower() for v in values]
            continue
        if header[0] != "metric" or "gpu" in header or "gpu_index" in header:
            continue  # GPU-telemetry and per-endpoint tables
        if len(values) != len(header):
            raise FileProblem(line, f"has {len(values)} fields, the table header has {len(header)}")
        label = values[0].strip()
        base = label.rsplit(" (", 1)[0].strip().lower() if label.endswith(")") else label.lower()
        key = _CSV_NAMES.get(base)
        if key is None:
            continue
        stats: dict[str, float] = {}
        for col, raw in zip(header[1:], values[1:]):
            if not raw.strip():
                continue
            v = number(raw)
            if v is None:
                raise FileProblem(line, f"{label}: {col} {raw!r} is not a number")
            stats["avg" if col == "value" else col] = v
        doc[key] = stats
    return doc


def parse_genai_perf(text: str, name: str) -> list[ParsedRun]:
    return [_run(_document(text), "genai-perf")]


def parse_aiperf(text: str, name: str) -> list[ParsedRun]:
    return [_run(_document(text), "aiperf")]


def _document(text: str) -> dict[str, Any]:
    if text.lstrip().startswith("{"):
        doc = load_json(text)
        if not isinstance(doc, dict):
            raise FileProblem(1, "not a JSON object")
        return doc
    doc = _csv_doc(text)
    if not doc:
        raise FileProblem(1, "no known metric in the tables")
    return doc
