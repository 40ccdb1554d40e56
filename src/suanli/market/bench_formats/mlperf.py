"""MLCommons LoadGen ``mlperf_log_summary.txt`` (LLM benchmarks): one run per file.

``key : value`` lines.  Offline: ``Tokens per second``; Server: ``Completed tokens per
second`` and the token latencies in ns.  The Poisson rate of a Server run is the
``target_qps`` test parameter.  Mean output tokens per sample (``osl``) is tokens/s over
samples/s; the input length is not in the summary (give ``--isl``).  The Interactive
scenario is logged as ``Scenario : Server`` with tighter TTFT/TPOT limits; a file name
containing ``Interactive`` is recorded as such in the extras.
"""

from __future__ import annotations

import re
from typing import Any

from suanli.market.bench_formats._common import FileProblem, ParsedRun, positive

_LINE = re.compile(r"^\s*([^:]+?)\s*:\s*(.+?)\s*$")


def sniff_mlperf(text: str, name: str) -> bool:
    return "MLPerf Results Summary" in text[:2048]


def parse_mlperf(text: str, name: str) -> list[ParsedRun]:
    fields: dict[str, str] = {}
    lines: dict[str, int] = {}
    for i, raw in enumerate(text.splitlines(), start=1):
        m = _LINE.match(raw)
        if m and not raw.lstrip().startswith("*"):
            key = m.group(1).strip().lower()
            fields.setdefault(key, m.group(2))
            lines.setdefault(key, i)
    scenario_word = fields.get("scenario", "")
    if scenario_word not in ("Offline", "Server"):
        raise FileProblem(lines.get("scenario", 0), f"scenario {scenario_word or '(none)'!r}: only Offline and "
                                                     f"Server runs are serving benchmarks")

    def num(key: str) -> float | None:
        if key not in fields:
            return None
        v = positive(fields[key])
        if v is None:
            raise FileProblem(lines[key], f"{key}: {fields[key]!r} is not a positive number")
        return v

    if scenario_word == "Offline":
        tokens, samples = num("tokens per second"), num("samples per second")
    else:
        tokens, samples = num("completed tokens per second"), num("completed samples per second")
    if tokens is None:
        raise FileProblem(0, "no tokens-per-second line (not an LLM benchmark summary?)")
    totals = {"output_tok_s": tokens}
    metrics: dict[str, float] = {}
    extras: dict[str, Any] = {"tool": "mlperf", "mlperf_scenario": scenario_word,
                              "samples_per_second": samples, "result": fields.get("result is"),
                              "mode": fields.get("mode"), "sut_name": fields.get("sut name")}
    if "interactive" in name.lower():
        extras["mlperf_scenario_label"] = "Interactive"
    for metric, key in (("ttft_ms", "mean first token latency (ns)"), ("tpot_ms", "mean time to output token (ns)")):
        v = num(key)
        if v is not None:
            metrics[metric] = v / 1e6
    for key, label in (("50.00 percentile first token latency (ns)", "median_ttft_ms"),
                       ("99.00 percentile first token latency (ns)", "p99_ttft_ms"),
                       ("50.00 percentile time to output token (ns)", "median_tpot_ms"),
                       ("99.00 percentile time to output token (ns)", "p99_tpot_ms"),
                       ("mean latency (ns)", "mean_latency_ms")):
        v = num(key)
        if v is not None:
            extras[label] = v / 1e6
    for key in ("ttft_latency (ns)", "tpot_latency (ns)"):
        v = num(key)
        if v is not None:
            extras[key.replace(" (ns)", "_ms")] = v / 1e6
    req_rate = num("target_qps") if scenario_word == "Server" else None
    scheduled = num("scheduled samples per second")
    if scheduled is not None:
        extras["scheduled_samples_per_second"] = scheduled
    osl = tokens / samples if samples else None
    return [ParsedRun(record_index=0, line=1, scenario="offline" if scenario_word == "Offline" else "server",
                      request_rate=req_rate, osl=osl, totals=totals, metrics=metrics,
                      extras={k: v for k, v in extras.items() if v is not None})]
