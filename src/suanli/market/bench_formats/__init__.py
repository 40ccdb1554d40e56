"""Readers of the files LLM-serving benchmarks write, each to :class:`ParsedRun` objects.

=============  ===========================================================================
format         files
=============  ===========================================================================
``vllm``       ``vllm bench serve --save-result`` / ``benchmark_serving.py`` JSON (also
               ``--append-result`` JSON Lines), the nightly ``benchmark_results.json`` and
               the pasted console block "Serving Benchmark Result"
``sglang``     ``sglang.bench_serving --output-file`` JSON Lines (one run a line) and its
               console block
``genai-perf`` ``*_genai_perf.json`` / ``*_genai_perf.csv``
``aiperf``     ``profile_export_aiperf.json`` / ``.csv``
``guidellm``   ``benchmarks.json`` (schemas 0.2/0.3 and 0.4+)
``mlperf``     ``mlperf_log_summary.txt`` (Offline, Server, Interactive)
``trtllm``     ``trtllm-bench throughput`` console report or ``--report_json``
``cases``      the validation-case CSV
=============  ===========================================================================

:func:`detect` picks the format from the content (never from the name alone);
:func:`parse` reads a file in a given or detected format.  Nothing here reads files: the
caller passes the text.
"""

from __future__ import annotations

from typing import Callable

from suanli.errors import SuanliError
from suanli.market.bench_formats._common import (
    ENGINES,
    HINTS,
    KV_DTYPES,
    METRICS,
    SCENARIOS,
    THROUGHPUTS,
    WEIGHT_DTYPES,
    FileProblem,
    ParsedRun,
)
from suanli.market.bench_formats.cases import parse_cases, sniff_cases
from suanli.market.bench_formats.guidellm import parse_guidellm, sniff_guidellm
from suanli.market.bench_formats.mlperf import parse_mlperf, sniff_mlperf
from suanli.market.bench_formats.profile import parse_aiperf, parse_genai_perf, sniff_aiperf, sniff_genai_perf
from suanli.market.bench_formats.serving import parse_sglang, parse_vllm, sniff_sglang, sniff_vllm
from suanli.market.bench_formats.trtllm import parse_trtllm, sniff_trtllm

Parser = Callable[[str, str], list[ParsedRun]]
Sniffer = Callable[[str, str], bool]

# in the order they are tried: the more specific sniffers first
FORMATS: dict[str, tuple[Sniffer, Parser]] = {
    "sglang": (sniff_sglang, parse_sglang),
    "vllm": (sniff_vllm, parse_vllm),
    "aiperf": (sniff_aiperf, parse_aiperf),
    "genai-perf": (sniff_genai_perf, parse_genai_perf),
    "guidellm": (sniff_guidellm, parse_guidellm),
    "mlperf": (sniff_mlperf, parse_mlperf),
    "trtllm": (sniff_trtllm, parse_trtllm),
    "cases": (sniff_cases, parse_cases),
}

# files the tools also write that hold no run summary: say what to import instead
_NOT_SUMMARIES = (
    ('"experiments"', '"response_timestamps"',
     "a perf_analyzer per-request export; import the *_genai_perf.json or .csv summary next to it"),
    ('"metadata"', '"x_request_id"', "an AIPerf per-request export; import profile_export_aiperf.json or .csv"),
)


class UnknownFormat(SuanliError):
    """A file in none of the known formats (the message names every format tried)."""

    code = "unknown_format"


def detect(text: str, name: str) -> str:
    """The format of ``text`` (the file's content); :class:`UnknownFormat` naming all tried."""
    for fmt, (sniff, _) in FORMATS.items():
        if sniff(text, name):
            return fmt
    hint = ""
    head = text[:20000]
    for a, b, what in _NOT_SUMMARIES:
        if a in head and b in head:
            hint = f" It looks like {what}."
            break
    raise UnknownFormat(f"{name}: not a benchmark result in any known format (tried: {', '.join(FORMATS)}).{hint}",
                        field="format")


def parse(text: str, name: str, fmt: str = "auto") -> tuple[str, list[ParsedRun]]:
    """(format, runs) of one file's text.  Raises :class:`UnknownFormat` or
    :class:`FileProblem` (line, reason)."""
    if fmt in ("", "auto"):
        fmt = detect(text, name)
    elif fmt not in FORMATS:
        raise UnknownFormat(f"unknown format {fmt!r}: use auto or one of {', '.join(FORMATS)}", field="format")
    runs = FORMATS[fmt][1](text, name)
    if not runs:
        raise FileProblem(0, "no runs in the file")
    return fmt, runs


__all__ = ["ENGINES", "FORMATS", "HINTS", "KV_DTYPES", "METRICS", "SCENARIOS", "THROUGHPUTS", "WEIGHT_DTYPES",
           "FileProblem", "ParsedRun", "UnknownFormat", "detect", "parse"]
