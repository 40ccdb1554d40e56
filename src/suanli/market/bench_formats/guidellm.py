"""guidellm ``benchmarks.json`` reports: one run per entry of ``benchmarks``.

Two schemas: 0.2/0.3 (``args.strategy``, ``worker.backend_model``, ``request_totals`` at the
benchmark's top level) and 0.4+ (``config.strategy``, ``config.backend.model``,
``metrics.request_totals``).  Metrics are distributions ``{successful: {mean, median, ...}}``
over requests.  Throughputs are taken as completed requests x mean tokens per request /
duration (tokens per second of wall time, the case schema's definition); guidellm's own
time-averaged rates are kept in the extras.  guidellm's ``inter_token_latency_ms`` is
(last - first token) / (tokens - 1) per request, the case schema's TPOT; its
``time_per_output_token_ms`` (latency / tokens) goes to the extras.
"""

from __future__ import annotations

from typing import Any

from suanli.market.bench_formats._common import (
    FileProblem,
    ParsedRun,
    count,
    load_json,
    number,
    positive,
)


def sniff_guidellm(text: str, name: str) -> bool:
    head = text.lstrip()[:4096]
    return head.startswith("{") and '"benchmarks"' in text and (
        '"generative_benchmark"' in text or '"guidellm_version"' in head)


def _mean(metrics: dict[str, Any], key: str, which: str = "mean") -> float | None:
    m = metrics.get(key)
    s = m.get("successful") if isinstance(m, dict) else None
    return number(s.get(which)) if isinstance(s, dict) else None


_SCENARIOS = {"synchronous": "single-request", "concurrent": "fixed-concurrency", "throughput": "offline",
              "constant": "server", "poisson": "server", "async": "server"}


def _benchmark(i: int, b: dict[str, Any]) -> ParsedRun:
    config = b.get("config") if isinstance(b.get("config"), dict) else None
    args = b.get("args") if isinstance(b.get("args"), dict) else {}
    strategy = (config or args).get("strategy")
    strategy = strategy if isinstance(strategy, dict) else {}
    metrics = b.get("metrics") if isinstance(b.get("metrics"), dict) else {}
    totals_src = metrics.get("request_totals") if config is not None else b.get("request_totals")
    n = count(totals_src.get("successful")) if isinstance(totals_src, dict) else None
    if n is None:
        raise FileProblem(0, f"benchmark {i + 1}: no successful requests")
    duration = positive(b.get("duration"))
    isl, osl = _mean(metrics, "prompt_token_count"), _mean(metrics, "output_token_count")
    totals: dict[str, float] = {}
    if duration:
        if osl:
            totals["output_tok_s"] = n * osl / duration
        if isl:
            totals["input_tok_s"] = n * isl / duration
        if isl and osl:
            totals["total_tok_s"] = n * (isl + osl) / duration
    out: dict[str, float] = {}
    extras: dict[str, Any] = {"tool": "guidellm", "duration_s": duration, "strategy": strategy.get("type_")}
    for metric, key in (("ttft_ms", "time_to_first_token_ms"), ("tpot_ms", "inter_token_latency_ms")):
        v = _mean(metrics, key)
        if v is not None and v > 0:
            out[metric] = v
            extras[f"median_{metric}"] = _mean(metrics, key, "median")
    for key in ("time_per_output_token_ms", "output_tokens_per_second", "tokens_per_second",
                "requests_per_second", "request_latency"):
        v = _mean(metrics, key)
        if v is not None:
            extras[f"guidellm_mean_{key}"] = v
    kind = str(strategy.get("type_") or "")
    scenario = _SCENARIOS.get(kind, "")
    concurrency = 1 if kind == "synchronous" else count(strategy.get("streams")) if kind == "concurrent" else None
    req_rate = positive(strategy.get("rate")) if scenario == "server" else None
    if kind == "constant":
        extras["arrivals"] = "constant (not Poisson)"
    hints: dict[str, Any] = {}
    backend = (config or {}).get("backend") if config is not None else b.get("worker")
    model = None
    if isinstance(backend, dict):
        model = backend.get("model") or backend.get("backend_model")
    if isinstance(model, str) and model.strip():
        hints["model"] = model.strip()
    return ParsedRun(record_index=i, hints=hints, scenario=scenario, concurrency=concurrency,
                     request_rate=req_rate, num_requests=n, isl=isl, osl=osl, totals=totals, metrics=out,
                     extras={k: v for k, v in extras.items() if v is not None})


def parse_guidellm(text: str, name: str) -> list[ParsedRun]:
    doc = load_json(text)
    benchmarks = doc.get("benchmarks") if isinstance(doc, dict) else None
    if not isinstance(benchmarks, list) or not benchmarks:
        raise FileProblem(1, "no 'benchmarks' list")
    runs = []
    for i, b in enumerate(benchmarks):
        if not isinstance(b, dict):
            raise FileProblem(0, f"benchmark {i + 1} is not a JSON object")
        runs.append(_benchmark(i, b))
    version = doc.get("metadata", {}).get("guidellm_version") if isinstance(doc.get("metadata"), dict) else None
    if isinstance(version, str):
        for r in runs:
            r.extras["guidellm_version"] = version
    return runs
