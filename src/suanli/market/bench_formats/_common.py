"""What every benchmark-file parser produces, and the helpers they share.

A parser turns one file's text into :class:`ParsedRun` objects: one benchmark
configuration each, with what the file says about it.  Throughputs the file gives for the
whole deployment go into ``totals`` (the caller divides them by ``gpus``, which may come
from a flag); values already in the case schema's units go into ``metrics``.  Anything the
file does not state stays ``None``.  A file that is recognised but broken raises
:class:`FileProblem` with the 1-based line of the problem.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

# the case schema's metrics (validation README): per-accelerator throughputs, mean latencies
METRICS = ("output_tok_s", "total_tok_s", "input_tok_s", "ttft_ms", "tpot_ms")
THROUGHPUTS = ("output_tok_s", "total_tok_s", "input_tok_s")
SCENARIOS = ("offline", "server", "fixed-concurrency", "single-request", "prefill-only", "decode-only")
ENGINES = ("vllm", "sglang", "trtllm", "mindie", "other")
WEIGHT_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4", "fp4", "mxfp4")
KV_DTYPES = ("bf16", "fp16", "fp8")
# what a file may say about the deployment (flags say the same things)
HINTS = ("hardware", "model", "engine", "engine_version", "gpus", "tp", "pp", "ep", "dp_attention",
         "weight_dtype", "kv_dtype", "label")


class FileProblem(Exception):
    """A recognised file that cannot be read: ``line`` (1-based; 0: the whole file) and why."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


@dataclass(kw_only=True)
class ParsedRun:
    """One benchmark configuration as a file states it (nothing resolved yet)."""

    record_index: int                  # 0-based position of the run in the file
    line: int = 0                      # 1-based line where the run starts (0: not line-based)
    hints: dict[str, Any] = field(default_factory=dict)   # HINTS keys the file states
    scenario: str = ""
    concurrency: int | None = None
    request_rate: float | None = None
    num_requests: int | None = None
    isl: float | None = None
    osl: float | None = None
    totals: dict[str, float] = field(default_factory=dict)   # whole-deployment tokens/s
    metrics: dict[str, float] = field(default_factory=dict)  # already in case-schema units
    extras: dict[str, Any] = field(default_factory=dict)
    command: str = ""


def number(value: Any) -> float | None:
    """A finite float from a JSON value or text (``"1,234.56"`` included); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            v = float(value)
        except OverflowError:      # an integer beyond any float: not a measurement
            return None
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text:
            return None
        try:
            v = float(text)
        except ValueError:
            return None
    else:
        return None
    return v if math.isfinite(v) else None


def positive(value: Any) -> float | None:
    v = number(value)
    return v if v is not None and v > 0 else None


def count(value: Any) -> int | None:
    """A positive integer (``8``, ``8.0``, ``"8"``); None otherwise."""
    v = number(value)
    return int(v) if v is not None and 1 <= v <= 1e15 and v == int(v) else None


def rate(value: Any) -> float | None:
    """A request rate: a positive number, ``math.inf`` for ``inf`` / ``Infinity`` / negative
    sentinels meaning unlimited is left to the caller; None when absent."""
    if isinstance(value, str) and value.strip().lower() in ("inf", "infinity", "+inf"):
        return math.inf
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return math.inf
    return positive(value)


def scenario_of(request_rate: float | None, max_concurrency: int | None) -> str:
    """The case schema's scenario of a client run: ``single-request`` for one request at a
    time, ``fixed-concurrency`` for a concurrency cap at an unlimited rate, ``offline`` for
    an unlimited rate without a cap, ``server`` for a finite (Poisson) rate (a cap, if any,
    stays in ``concurrency`` and the extras)."""
    unlimited = request_rate is None or math.isinf(request_rate)
    if max_concurrency == 1:
        return "single-request"
    if max_concurrency:
        return "fixed-concurrency" if unlimited else "server"
    return "offline" if unlimited else "server"


def finite_rate(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else value


def scalars(record: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The record's scalar fields (numbers, text, booleans; not lists or objects), keys with
    a stray trailing colon (``"request_goodput:"``) cleaned, non-finite numbers as text."""
    out: dict[str, Any] = {}
    for k, v in record.items():
        if k in skip or isinstance(v, (list, dict)):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            v = str(v)
        out[str(k).rstrip(":").strip()] = v
    return out


_DTYPE_WORDS = {
    "bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "half": "fp16",
    "fp8": "fp8", "float8": "fp8", "fp8_e4m3": "fp8", "fp8_block_scales": "fp8", "w8a8_fp8": "fp8",
    "int8": "int8", "w8a8": "int8", "int8_sq": "int8", "int4": "int4", "w4a16": "int4", "w4a16_awq": "int4",
    "w4a16_gptq": "int4", "awq": "int4", "gptq": "int4", "fp4": "fp4", "nvfp4": "fp4", "mxfp4": "mxfp4",
    "w4a8_mxfp4_fp8": "mxfp4",
}


def dtype_word(value: Any) -> str | None:
    """A dtype name of the case schema from a tool's spelling (``FP8``, ``NVFP4``,
    ``bfloat16``); None for ``None``/``auto``/unknown words."""
    if not isinstance(value, str):
        return None
    return _DTYPE_WORDS.get(value.strip().lower().replace("-", "_"))


def engine_word(value: Any) -> str | None:
    """The engine of a client's backend name (``sglang-oai`` -> sglang); None when the
    backend is a generic protocol (``openai``) that says nothing about the server."""
    if not isinstance(value, str):
        return None
    v = value.strip().lower()
    for prefix, engine in (("sglang", "sglang"), ("vllm", "vllm"), ("trt", "trtllm"), ("tensorrt", "trtllm"),
                           ("mindie", "mindie")):
        if v.startswith(prefix):
            return engine
    return None


def load_json(text: str) -> Any:
    """``json.loads`` accepting ``Infinity``/``NaN`` (Python's json does); a syntax error is a
    :class:`FileProblem` at its line."""
    try:
        return json.loads(text)
    except RecursionError:
        raise FileProblem(0, "JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise FileProblem(exc.lineno, f"malformed JSON ({exc.msg}, column {exc.colno})") from None


def json_lines(text: str) -> list[tuple[int, Any]]:
    """(line, value) of each non-blank line of a JSON Lines file."""
    out = []
    for i, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            out.append((i, json.loads(raw)))
        except RecursionError:
            raise FileProblem(i, "JSON nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise FileProblem(i, f"malformed JSON line ({exc.msg}, column {exc.colno})") from None
    return out


def json_records(text: str) -> list[tuple[int, Any]]:
    """A JSON document (one record, or a list of records) or JSON Lines (one record a line):
    (line, record) pairs."""
    stripped = text.strip()
    if not stripped:
        raise FileProblem(0, "empty file")
    lines = [ln for ln in stripped.splitlines() if ln.strip()]
    first = lines[0].strip()
    if len(lines) > 1 and len(first) > 2 and first.startswith("{") and first.endswith("}"):
        return json_lines(text)
    doc = load_json(text)
    if isinstance(doc, list):
        return [(0, r) for r in doc]
    return [(1, doc)]


def isl_osl(rec: dict[str, Any], completed: int | None) -> tuple[float | None, float | None]:
    """Mean input / output tokens per request from a client's token totals."""
    if not completed:
        return None, None
    tin, tout = positive(rec.get("total_input_tokens")), positive(rec.get("total_output_tokens"))
    return (tin / completed if tin else None), (tout / completed if tout else None)


_TP = re.compile(r"(?:^|[_\-/])tp(\d+)", re.I)
_PP = re.compile(r"(?:^|[_\-/])pp(\d+)", re.I)


def layout_from_name(name: str) -> dict[str, int]:
    """``tp8_pp1_...`` -> {"tp": 8, "pp": 1} (the vLLM nightly harness' test names)."""
    out: dict[str, int] = {}
    for key, pat in (("tp", _TP), ("pp", _PP)):
        m = pat.search(name)
        if m and int(m.group(1)) >= 1:
            out[key] = int(m.group(1))
    return out
