"""`vllm bench serve` (``benchmark_serving.py --save-result``) and SGLang ``bench_serving``
result files, and the vLLM nightly-benchmark table.

Both clients write one JSON object per run with the same core keys (``completed``,
``total_input_tokens``, ``output_throughput``, ``mean_ttft_ms``, ...); vLLM writes one
object per file (``--append-result``: one a line), SGLang appends one line per run.
Quirks handled: ``"request_rate": "inf"`` (a string) and the bare token ``Infinity``;
``"request_goodput:"`` (a stray colon); ``--metadata k=v`` pairs as top-level strings;
early SGLang (~0.4.0) lines with medians only (no mean TTFT is invented from them).
"""

from __future__ import annotations

import re
from typing import Any

from suanli.market.bench_formats._common import (
    FileProblem,
    ParsedRun,
    count,
    engine_word,
    finite_rate,
    isl_osl,
    json_records,
    layout_from_name,
    number,
    positive,
    rate,
    scalars,
    scenario_of,
)

SGLANG_KEYS = ("total_output_tokens_retokenized", "random_input_len", "dataset_name", "sharegpt_output_len")
# vLLM keys that are not --metadata
_VLLM_KNOWN = frozenset({
    "date", "endpoint_type", "backend", "label", "model_id", "tokenizer_id", "num_prompts", "request_rate",
    "burstiness", "max_concurrency", "duration", "completed", "failed", "total_input_tokens",
    "total_output_tokens", "request_throughput", "request_goodput", "request_goodput:", "output_throughput",
    "total_token_throughput", "max_output_tokens_per_s", "max_concurrent_requests", "rtfx",
})


def _is_sglang(rec: dict[str, Any]) -> bool:
    return any(k in rec for k in SGLANG_KEYS)


def _console(text: str) -> bool:
    return "Serving Benchmark Result" in text and "Successful requests:" in text


def sniff_sglang(text: str, name: str) -> bool:
    head = text.lstrip()[:4096]
    if _console(text):
        return "Traffic request rate:" in text
    return head.startswith("{") and '"output_throughput"' in head and any(f'"{k}"' in head for k in SGLANG_KEYS)


def sniff_vllm(text: str, name: str) -> bool:
    head = text.lstrip()[:4096]
    if _console(text):
        return "Traffic request rate:" not in text
    if head.startswith("[") and '"Test name"' in head and "Tput" in head:
        return True
    return head.startswith("{") and '"completed"' in text and (
        '"mean_ttft_ms"' in text or '"output_throughput"' in text) and not sniff_sglang(text, name)


def _client_run(index: int, line: int, rec: dict[str, Any], *, tool: str) -> ParsedRun:
    """A run of either client (shared keys)."""
    completed = count(rec.get("completed"))
    if completed is None:
        raise FileProblem(line, f"record {index + 1}: no completed requests ('completed' is "
                                f"{rec.get('completed')!r})")
    duration = positive(rec.get("duration"))
    isl, osl = isl_osl(rec, completed)
    totals: dict[str, float] = {}
    out_tps = positive(rec.get("output_throughput"))
    if out_tps is None and duration and positive(rec.get("total_output_tokens")):
        out_tps = float(rec["total_output_tokens"]) / duration
    if out_tps is not None:
        totals["output_tok_s"] = out_tps
    in_tps = positive(rec.get("input_throughput"))
    tot_given = positive(rec.get("total_token_throughput"))
    if in_tps is None and tot_given is not None and out_tps is not None and tot_given > out_tps:
        in_tps = tot_given - out_tps   # (in + out) / duration - out / duration
    if in_tps is None and duration and positive(rec.get("total_input_tokens")):
        in_tps = float(rec["total_input_tokens"]) / duration
    if in_tps is not None:
        totals["input_tok_s"] = in_tps
    tot = positive(rec.get("total_token_throughput"))
    if tot is None and in_tps is not None and out_tps is not None:
        tot = in_tps + out_tps
    if tot is not None:
        totals["total_tok_s"] = tot
    metrics = {}
    for metric, key in (("ttft_ms", "mean_ttft_ms"), ("tpot_ms", "mean_tpot_ms")):
        v = positive(rec.get(key))
        if v is not None:
            metrics[metric] = v
    req_rate = rate(rec.get("request_rate"))
    cap = count(rec.get("max_concurrency"))
    hints: dict[str, Any] = {}
    engine = engine_word(rec.get("backend"))
    if engine:
        hints["engine"] = engine
    if isinstance(rec.get("model_id"), str) and rec["model_id"].strip():
        hints["model"] = rec["model_id"].strip()
    if isinstance(rec.get("label"), str) and rec["label"].strip():
        hints["label"] = rec["label"].strip()
    extras = scalars(rec)
    extras["tool"] = tool
    if tool == "vllm":
        hints.update(_metadata_hints({k: v for k, v in rec.items() if k not in _VLLM_KNOWN}))
    return ParsedRun(record_index=index, line=line, hints=hints, scenario=scenario_of(req_rate, cap),
                     concurrency=cap, request_rate=finite_rate(req_rate), num_requests=completed,
                     isl=isl, osl=osl, totals=totals, metrics=metrics, extras=extras)


def _metadata_hints(meta: dict[str, Any]) -> dict[str, Any]:
    """Layout and chip from ``--metadata`` pairs (strings) when they are well-formed."""
    hints: dict[str, Any] = {}
    for key, names in (("tp", ("tp", "tp_size", "tensor_parallel_size")), ("pp", ("pp", "pp_size")),
                       ("ep", ("ep", "ep_size")), ("gpus", ("gpus", "num_gpus", "gpu_count"))):
        for n in names:
            v = count(meta.get(n))
            if v is not None:
                hints[key] = v
                break
    for n in ("hardware", "gpu", "gpu_type", "accelerator"):
        if isinstance(meta.get(n), str) and meta[n].strip():
            hints["hardware"] = meta[n].strip()
            break
    for n in ("engine_version", "vllm_version", "version"):
        if isinstance(meta.get(n), (str, int, float)) and str(meta[n]).strip():
            hints["engine_version"] = str(meta[n]).strip()
            break
    return hints


def parse_vllm(text: str, name: str) -> list[ParsedRun]:
    if _console(text) and not text.lstrip().startswith(("{", "[")):
        return _console_runs(text, "vllm")
    records = json_records(text)
    if records and isinstance(records[0][1], dict) and "Test name" in records[0][1]:
        return _nightly_table(records)
    runs = []
    for i, (line, rec) in enumerate(records):
        if not isinstance(rec, dict):
            raise FileProblem(line, f"record {i + 1} is not a JSON object")
        runs.append(_client_run(i, line, rec, tool="vllm"))
    return runs


def parse_sglang(text: str, name: str) -> list[ParsedRun]:
    if _console(text) and not text.lstrip().startswith("{"):
        return _console_runs(text, "sglang")
    runs = []
    for i, (line, rec) in enumerate(json_records(text)):
        if not isinstance(rec, dict):
            raise FileProblem(line, f"record {i + 1} is not a JSON object")
        runs.append(_client_run(i, line, rec, tool="sglang"))
    return runs


# the console block ("Serving Benchmark Result") users paste into issues -> result-file keys
_CONSOLE_KEYS = {
    "successful requests": "completed", "failed requests": "failed", "benchmark duration (s)": "duration",
    "total input tokens": "total_input_tokens", "total generated tokens": "total_output_tokens",
    "request throughput (req/s)": "request_throughput", "input token throughput (tok/s)": "input_throughput",
    "output token throughput (tok/s)": "output_throughput", "total token throughput (tok/s)": "total_token_throughput",
    "maximum request concurrency": "max_concurrency", "max request concurrency": "max_concurrency",
    "request rate configured (rps)": "request_rate", "traffic request rate": "request_rate",
    "backend": "backend",
}
_CONSOLE_LINE = re.compile(r"^\s*([^:]+?)\s*:\s*(\S.*?)\s*$")
_CONSOLE_STAT = re.compile(r"^(mean|median|p\d+(?:\.\d+)?) (ttft|tpot|itl|e2el|e2e latency) \(ms\)$")


def _console_runs(text: str, tool: str) -> list[ParsedRun]:
    """One run per "Serving Benchmark Result" block of a console printout (values are
    rounded to two decimals there, and there is no model name: give --model)."""
    runs: list[ParsedRun] = []
    rec: dict[str, Any] | None = None
    start = 0
    blocks: list[tuple[int, dict[str, Any]]] = []
    pending: dict[str, Any] = {}
    for i, raw in enumerate(text.splitlines(), start=1):
        if "Serving Benchmark Result" in raw:
            rec, start = dict(pending), i
            pending = {}
            blocks.append((start, rec))
            continue
        m = _CONSOLE_LINE.match(raw)
        if not m:
            continue
        label, value = m.group(1).strip().lower(), m.group(2).strip()
        target = rec if rec is not None else pending   # SGLang prints backend and rate above the block
        key = _CONSOLE_KEYS.get(label)
        stat = _CONSOLE_STAT.match(label)
        if stat:
            metric = {"e2e latency": "e2el"}.get(stat.group(2), stat.group(2))
            key = f"{stat.group(1)}_{metric}_ms"
        if key is None:
            continue
        if value.lower() in ("not set", "none", "n/a", "trace", "-"):
            continue
        if key == "backend":
            target[key] = value
        elif key == "failed":
            target[key] = int(number(value) or 0)
        elif key == "request_rate" and value.lower() in ("inf", "infinity"):
            target[key] = "inf"
        else:
            v = positive(value)
            if v is None and value not in ("0", "0.0", "0.00"):
                raise FileProblem(i, f"{m.group(1).strip()}: {value!r} is not a number")
            target[key] = v
    for index, (line, block) in enumerate(blocks):
        run = _client_run(index, line, block, tool=tool)
        run.extras["from"] = "console printout (values rounded)"
        runs.append(run)
    return runs


_QPS = re.compile(r"qps_(inf|\d+(?:\.\d+)?)", re.I)


def _nightly_table(records: list[tuple[int, Any]]) -> list[ParsedRun]:
    """The nightly harness' ``benchmark_results.json``: display-name keys, no token totals
    (so no isl/osl), the layout and rate in the test name (``tp8_pp1_qps_04``)."""
    runs = []
    for i, (_, row) in enumerate(records):
        if not isinstance(row, dict):
            raise FileProblem(0, f"row {i + 1} is not a JSON object")
        test = str(row.get("Test name") or "")
        hints: dict[str, Any] = dict(layout_from_name(test))
        m = _QPS.search(test)
        req_rate = None if m is None else (float("inf") if m.group(1).lower() == "inf" else positive(m.group(1)))
        totals = {}
        out_tps, tot = positive(row.get("Output Tput (tok/s)")), positive(row.get("Total Tput (tok/s)"))
        if out_tps is not None:
            totals["output_tok_s"] = out_tps
        if tot is not None:
            totals["total_tok_s"] = tot
            if out_tps is not None and tot > out_tps:
                totals["input_tok_s"] = tot - out_tps
        req_s = positive(row.get("Tput (req/s)"))
        # tokens/s over requests/s = tokens per request (the table has no token totals)
        osl = out_tps / req_s if out_tps and req_s else None
        isl = (tot - out_tps) / req_s if tot and out_tps and req_s and tot > out_tps else None
        metrics = {k: v for k, v in (("ttft_ms", positive(row.get("Mean TTFT (ms)"))),
                                     ("tpot_ms", positive(row.get("Mean TPOT (ms)")))) if v is not None}
        if not totals and not metrics:
            raise FileProblem(0, f"row {i + 1} ({test or 'no test name'}): no throughput or latency")
        extras = scalars(row)
        extras["tool"] = "vllm-nightly"
        runs.append(ParsedRun(record_index=i, hints=hints, scenario=scenario_of(req_rate, None) if m else "",
                              request_rate=finite_rate(req_rate), num_requests=count(row.get("# of req.")),
                              isl=isl, osl=osl, totals=totals, metrics=metrics, extras=extras))
    return runs


__all__ = ["parse_sglang", "parse_vllm", "sniff_sglang", "sniff_vllm"]
