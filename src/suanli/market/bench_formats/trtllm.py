"""``trtllm-bench throughput`` results: the console report (``PERFORMANCE OVERVIEW`` block)
and the ``--report_json`` file.  One run per file.

Written from TensorRT-LLM's ``tensorrt_llm/bench/dataclasses/reporting.py``
(``get_statistics_dict`` / ``report_statistics``, commit
2787769cae353023784dce105d648bcd4d04f4d4) and the example output in
``docs/source/performance/perf-benchmarking.md``; no real file was at hand (the test
fixtures are named ``DOCS_...``).  A throughput run submits every request at once: the
``offline`` scenario.  ``gpus`` is the world size (JSON) or TP x PP (console).
"""

from __future__ import annotations

import re
from typing import Any

from suanli.market.bench_formats._common import (
    FileProblem,
    ParsedRun,
    count,
    dtype_word,
    load_json,
    number,
    positive,
)

_LINE = re.compile(r"^(?:\[[^\]]*\]\s*)*([A-Za-z][^:]*?)\s*:\s*(\S.*?)\s*$")


def sniff_trtllm(text: str, name: str) -> bool:
    if "PERFORMANCE OVERVIEW" in text and ("trtllm" in text.lower() or "TensorRT" in text or "TP Size" in text):
        return True
    head = text.lstrip()[:4096]
    return head.startswith("{") and '"world_info"' in text and '"performance"' in text


def _hints(model: Any, version: Any, quant: Any, kv: Any, tp: Any, pp: Any, ep: Any,
           world: Any) -> dict[str, Any]:
    hints: dict[str, Any] = {"engine": "trtllm"}
    if isinstance(model, str) and model.strip() and model.strip() != "None":
        hints["model"] = model.strip()
    if version not in (None, "", "None"):
        hints["engine_version"] = str(version).strip()
    for key, value in (("weight_dtype", dtype_word(quant)), ("kv_dtype", dtype_word(kv))):
        if value:
            hints[key] = value
    for key, value in (("tp", count(tp)), ("pp", count(pp)), ("ep", count(ep))):
        if value:
            hints[key] = value
    gpus = count(world) or ((hints.get("tp") or 1) * (hints.get("pp") or 1) if "tp" in hints else None)
    if gpus:
        hints["gpus"] = gpus
    return hints


def _input_from(totals: dict[str, float]) -> None:
    """Prompt tokens/s = total - output tokens/s (both over the same wall time)."""
    if "total_tok_s" in totals and totals["total_tok_s"] > totals["output_tok_s"] > 0:
        totals["input_tok_s"] = totals["total_tok_s"] - totals["output_tok_s"]


def _from_json(doc: dict[str, Any]) -> ParsedRun:
    def part(key: str) -> dict[str, Any]:
        v = doc.get(key)
        return v if isinstance(v, dict) else {}

    engine, world, req, perf, stream = (part(k) for k in ("engine", "world_info", "request_info", "performance",
                                                           "streaming_metrics"))
    if not perf:
        raise FileProblem(1, "no 'performance' object")
    hints = _hints(engine.get("model"), engine.get("version"), engine.get("quantization"),
                   engine.get("kv_cache_dtype"), world.get("tp_size"), world.get("pp_size"), world.get("ep_size"),
                   world.get("world_size"))
    totals = {m: v for m, v in (("output_tok_s", positive(perf.get("system_output_throughput_tok_s"))),
                                ("total_tok_s", positive(perf.get("system_total_throughput_tok_s")))) if v}
    _input_from(totals)
    metrics = {m: v for m, v in (("ttft_ms", positive(stream.get("avg_ttft_ms"))),
                                 ("tpot_ms", positive(stream.get("avg_tpot_ms")))) if v}
    extras: dict[str, Any] = {"tool": "trtllm-bench"}
    for key in ("request_throughput_req_s", "total_latency_ms", "avg_request_latency_ms",
                "output_throughput_per_user_tok_s", "output_throughput_per_gpu_tok_s"):
        if number(perf.get(key)) is not None:
            extras[key] = number(perf.get(key))
    for metric, key in (("ttft_ms", "ttft_percentiles"), ("tpot_ms", "tpot_percentiles")):
        pct = stream.get(key)
        if isinstance(pct, dict):
            for stat in ("p50", "p90", "p99"):
                if number(pct.get(stat)) is not None:
                    extras[f"{stat}_{metric}"] = number(pct.get(stat))
    isl, osl = positive(req.get("avg_input_length")), positive(req.get("avg_output_length"))
    return ParsedRun(record_index=0, line=1, hints=hints, scenario="offline",
                     num_requests=count(req.get("num_requests")), isl=isl, osl=osl, totals=totals,
                     metrics=metrics, extras=extras)


_CONSOLE = {
    "model": "model", "tensorrt llm version": "version", "tensorrt-llm version": "version",
    "quantization": "quant", "kv cache dtype": "kv", "tp size": "tp", "pp size": "pp", "ep size": "ep",
    "number of requests": "num_requests", "average input length (tokens)": "isl",
    "average output length (tokens)": "osl", "total output throughput (tokens/sec)": "output",
    "token throughput (tokens/sec)": "output_old", "total token throughput (tokens/sec)": "total",
    "request throughput (req/sec)": "req_s", "total latency (ms)": "total_latency_ms",
    "average request latency (ms)": "avg_request_latency_ms",
    "per gpu output throughput (tps/gpu)": "output_per_gpu",
    "average time-to-first-token [ttft] (ms)": "ttft", "average time-per-output-token [tpot] (ms)": "tpot",
}


def _from_console(text: str) -> ParsedRun:
    found: dict[str, str] = {}
    where: dict[str, int] = {}
    for i, raw in enumerate(text.splitlines(), start=1):
        m = _LINE.match(raw.strip())
        if m:
            key = _CONSOLE.get(m.group(1).strip().lower())
            if key and key not in found:
                found[key], where[key] = m.group(2).strip(), i

    def num(key: str) -> float | None:
        if key not in found:
            return None
        v = positive(found[key])
        if v is None:
            raise FileProblem(where[key], f"{key}: {found[key]!r} is not a positive number")
        return v

    output = num("output")
    if output is None:
        output = num("output_old")   # releases up to ~0.17: "Token Throughput" counted output tokens
    if output is None:
        raise FileProblem(0, "PERFORMANCE OVERVIEW without an output throughput line")
    totals = {"output_tok_s": output}
    total = num("total")
    if total is not None:
        totals["total_tok_s"] = total
    _input_from(totals)
    metrics = {m: v for m, v in (("ttft_ms", num("ttft")), ("tpot_ms", num("tpot"))) if v is not None}
    hints = _hints(found.get("model"), found.get("version"), found.get("quant"), found.get("kv"),
                   found.get("tp"), found.get("pp"), found.get("ep"), None)
    extras: dict[str, Any] = {"tool": "trtllm-bench"}
    for key in ("req_s", "total_latency_ms", "avg_request_latency_ms", "output_per_gpu"):
        v = num(key)
        if v is not None:
            extras[key] = v
    n = num("num_requests")
    return ParsedRun(record_index=0, line=1, hints=hints, scenario="offline", num_requests=count(n),
                     isl=num("isl"), osl=num("osl"), totals=totals, metrics=metrics, extras=extras)


def parse_trtllm(text: str, name: str) -> list[ParsedRun]:
    if text.lstrip().startswith("{"):
        doc = load_json(text)
        if not isinstance(doc, dict):
            raise FileProblem(1, "not a JSON object")
        return [_from_json(doc)]
    return [_from_console(text)]
