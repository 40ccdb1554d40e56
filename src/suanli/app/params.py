"""One declaration per user-facing parameter: name, type, unit, default, help and bounds.

The CLI options (:mod:`suanli.cli._params`), the web API's query and body models
(:mod:`suanli.web.params`) and the app-layer keyword signatures take their defaults, help
and bounds from here, so that a new parameter or a changed default is one edit that shows in
``--help``, the OpenAPI schema and the Python API alike.  Bounds are checked by
:meth:`Param.check`, with one message everywhere (the CLI and the API rewrite their own
range errors into it); ``tests/test_params.py`` asserts that the three agree.

Groups: deployment, workload, SLA targets, economics (the cost model's sourced defaults that
a flag may replace), market filters and calibration.  The app layer imports nothing from the
interfaces; this module imports nothing but :mod:`suanli.errors` and the limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator, Mapping

from suanli.app.limits import MAX_CONCURRENCY, MAX_GPUS, MAX_MS, MAX_RATE, MAX_REQUESTS_SENT, MAX_TOKENS
from suanli.errors import InvalidInput
from suanli.specs.deployment import ENGINES, SCENARIOS
from suanli.specs.dtypes import DType

MODES = ("calibrated", "roofline")


def _num(x: float) -> str:
    """A number as a person writes it: 4096, 0.5, 1e+12, nan."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


@dataclass(frozen=True)
class Param:
    """A user-facing parameter.  ``default`` None means optional (the help says what is
    used instead); ``flags`` are the CLI spellings (the first is the canonical one, named in
    messages); ``key`` is the cost model's default name (economics)."""

    name: str
    type: type
    default: Any = None
    help: str = ""
    unit: str = ""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[str, ...] | None = None
    flags: tuple[str, ...] = ()
    metavar: str | None = None
    key: str | None = None
    canonical: tuple[str, ...] | None = None   # the values the API offers (the CLI and Python take aliases too)

    @property
    def flag(self) -> str:
        return self.flags[0] if self.flags else "--" + self.name.replace("_", "-")

    @property
    def cli_flags(self) -> tuple[str, ...]:
        return self.flags or (self.flag,)

    @property
    def optional(self) -> bool:
        return self.default is None

    @property
    def description(self) -> str:
        """The help text with the unit, as the CLI and the API show it."""
        return f"{self.help.rstrip('.')}, {self.unit}." if self.unit else self.help

    def bounds_text(self) -> str:
        """``between 1 and 4096``, ``> 0 and <= 1000000``, ``>= 1``, ..."""
        lo = (f">= {_num(self.ge)}" if self.ge is not None else f"> {_num(self.gt)}" if self.gt is not None else "")
        hi = (f"<= {_num(self.le)}" if self.le is not None else f"< {_num(self.lt)}" if self.lt is not None else "")
        if self.ge is not None and self.le is not None:
            return f"between {_num(self.ge)} and {_num(self.le)}"
        return " and ".join(x for x in (lo, hi) if x)

    def message(self, value: Any) -> str:
        """The one message for a value out of bounds (or not a finite number)."""
        if self.choices is not None:
            return f"{self.flag} must be one of {', '.join(self.choices)}, got {value!r}"
        kind = "an integer" if self.type is int else "a finite number"
        bounds = self.bounds_text()
        given = _num(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)
        return f"{self.flag} must be {kind}{' ' + bounds if bounds else ''}, got {given}"

    def violates(self, value: Any) -> bool:
        if value is None:
            return False
        if self.choices is not None:
            return str(getattr(value, "value", value)) not in self.choices
        if self.type not in (int, float):
            return False
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True
        if not math.isfinite(value):
            return True
        if self.type is int and int(value) != value:
            return True
        return ((self.ge is not None and value < self.ge) or (self.gt is not None and value <= self.gt)
                or (self.le is not None and value > self.le) or (self.lt is not None and value >= self.lt))

    def check(self, value: Any) -> Any:
        """``value`` unchanged, or :class:`~suanli.errors.InvalidInput` with :meth:`message`."""
        if self.violates(value):
            raise InvalidInput(self.message(value), field=self.name)
        return value


@dataclass(frozen=True)
class Group:
    """An ordered group of parameters."""

    name: str
    params: tuple[Param, ...]

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def get(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self)

    def check(self, values: Mapping[str, Any]) -> None:
        """Check every value of ``values`` named in this group."""
        for p in self:
            if p.name in values:
                p.check(values[p.name])


def _group(name: str, *params: Param) -> Group:
    return Group(name, params)


_PAR: dict[str, Any] = dict(ge=1, le=MAX_GPUS)

# --- deployment -------------------------------------------------------------------------------

GPUS = Param("gpus", int, None, "Accelerators in total (default: one instance).", **_PAR)
TP = Param("tp", int, None, "Tensor parallel size (default: the layout an operator would run for the scenario; "
           "the output says which and why).", flags=("--tp", "--tensor-parallel-size"), **_PAR)
PP = Param("pp", int, None, "Pipeline parallel size (default 1, deeper when nothing fits and TP is blank).",
           flags=("--pp", "--pipeline-parallel-size"), **_PAR)
EP = Param("ep", int, None, "Expert parallel size (MoE; default 1 = experts split by TP).",
           flags=("--ep", "--expert-parallel-size"), **_PAR)
DP_ATTENTION = Param("dp_attention", int, None, "Data-parallel attention ranks per TP group (SGLang; default 1).",
                     **_PAR)
WEIGHT_DTYPE = Param("weight_dtype", str, None, "Weight format: bf16|fp8|int8|int4|fp4|mxfp4 (default: the "
                     "checkpoint's own).", metavar="DTYPE", canonical=tuple(d.value for d in DType))
KV_DTYPE = Param("kv_dtype", str, None, "KV-cache format: bf16|fp16|fp8 (default: the engine's, bf16 except "
                 "TensorRT-LLM with FP8/FP4 weights).", flags=("--kv-dtype", "--kv-cache-dtype"), metavar="DTYPE",
                 canonical=("bf16", "fp16", "fp8"))
ENGINE = Param("engine", str, "vllm", "Serving engine (its runtime calibration and kernel backend).",
               choices=ENGINES)
SYSTEM = Param("system", str, None, "Server system id (scale-out network; default: one built from the chip).",
               metavar="ID")
MODE = Param("mode", str, "calibrated", "calibrated (fitted engine runtime) or roofline (speed of light).",
             choices=MODES)

DEPLOYMENT = _group("deployment", GPUS, TP, PP, EP, DP_ATTENTION, WEIGHT_DTYPE, KV_DTYPE, ENGINE, SYSTEM, MODE)

# --- workload ---------------------------------------------------------------------------------

ISL = Param("isl", float, 1024, "Input sequence length (prompt tokens per request).", unit="tokens",
            ge=1, le=MAX_TOKENS)
OSL = Param("osl", float, 256, "Output sequence length (generated tokens per request).", unit="tokens",
            ge=1, le=MAX_TOKENS)
CONCURRENCY = Param("concurrency", float, None, "Concurrent requests over the whole deployment (exclusive with "
                    "--request-rate).", unit="requests", ge=1, le=MAX_CONCURRENCY)
REQUEST_RATE = Param("request_rate", float, None, "Poisson arrival rate over the whole deployment.",
                     unit="requests/s", gt=0, le=MAX_RATE)
SCENARIO = Param("scenario", str, None, "offline, server, fixed-concurrency, single-request, prefill-only or "
                 "decode-only (default: from --concurrency / --request-rate).", choices=SCENARIOS)
NUM_REQUESTS = Param("num_requests", int, None, "Requests the benchmark sends in total (its mean TTFT includes "
                     "the initial burst); default: a long steady-state run.",
                     flags=("--num-requests", "--num-prompts"), ge=1, le=MAX_REQUESTS_SENT)

# economics take a named workload preset (chat, reasoning, ...) that these replace
PRESET_ISL = replace(ISL, default=None, help="Input sequence length (overrides the workload preset).")
PRESET_OSL = replace(OSL, default=None, help="Output sequence length (overrides the workload preset).")

WORKLOAD = _group("workload", ISL, OSL, CONCURRENCY, REQUEST_RATE, SCENARIO, NUM_REQUESTS)

# --- SLA targets ------------------------------------------------------------------------------

TTFT_MS = Param("ttft_ms", float, None, "TTFT target (time to first token).", unit="ms", gt=0, le=MAX_MS)
TPOT_MS = Param("tpot_ms", float, None, "TPOT target (time per output token).", unit="ms", gt=0, le=MAX_MS)

PRESET_TTFT_MS = replace(TTFT_MS, help="TTFT target (overrides the workload preset).")
PRESET_TPOT_MS = replace(TPOT_MS, help="TPOT target (overrides the workload preset).")

SLA = _group("sla", TTFT_MS, TPOT_MS)

# --- economics: the cost model's sourced defaults a flag may replace --------------------------
# ``key``: the default's name in suanli/data/econ/defaults.csv (and --defaults files)

_FRACTION: dict[str, Any] = dict(ge=0, le=1)
_AMOUNT: dict[str, Any] = dict(ge=0, le=1e9)

ECONOMICS = _group(
    "economics",
    Param("electricity_cny_kwh", float, None, "Electricity price (default 0.63).", unit="CNY/kWh",
          key="electricity_cny_per_kwh", **_AMOUNT),
    Param("pue", float, None, "Power usage effectiveness (default 1.3).", ge=1, le=5, key="pue"),
    Param("life_years", float, None, "Depreciation life (default 5).", unit="years", gt=0, le=50, key="life_years"),
    Param("residual", float, None, "Residual value, fraction of price (default 0.10).",
          key="residual_fraction", **_FRACTION),
    Param("financing_rate", float, None, "Financing rate per year (default 0.035; 0 = cash).",
          key="financing_rate", **_FRACTION),
    Param("utilisation", float, None, "Fraction of hours serving (default 0.70).", gt=0, le=1, key="utilisation"),
    Param("hosting_cny_kw_month", float, None, "Hosting per kW-month (default 600).", unit="CNY/kW-month",
          key="hosting_cny_per_kw_month", **_AMOUNT),
    Param("hosting_cny_rack_month", float, None, "Hosting per rack-month (default 0).", unit="CNY/rack-month",
          key="hosting_cny_per_rack_month", **_AMOUNT),
    Param("servers_per_rack", float, None, "Servers per rack (default 4).", ge=1, le=1000, key="servers_per_rack"),
    Param("maintenance", float, None, "Maintenance, fraction of price per year (default 0.04).",
          key="maintenance_fraction_per_year", **_FRACTION),
    Param("host_overhead_w", float, None, "Non-GPU power per server (default 4600).", unit="W",
          key="host_overhead_w_per_server", **_AMOUNT),
    Param("busy_power", float, None, "Draw while serving, fraction of nameplate (default 0.735).",
          key="busy_power_fraction", **_FRACTION),
    Param("idle_power", float, None, "Draw while idle, fraction of nameplate (default 0.25).",
          key="idle_power_fraction", **_FRACTION),
    Param("discount_rate", float, None, "Discount rate per year for NPV (default 0.08).",
          key="discount_rate", **_FRACTION),
)


def econ_overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    """The cost-model defaults replaced by the economics parameters given (not None), by
    default name, bounds checked."""
    ECONOMICS.check(values)
    return {p.key or p.name: values[p.name] for p in ECONOMICS if values.get(p.name) is not None}


def econ_sources(how: str = "flag {flag}") -> dict[str, str]:
    """Where each replaced default came from, by default name (``how`` names the parameter)."""
    return {p.key or p.name: how.format(flag=p.flag, name=p.name) for p in ECONOMICS}


# --- market filters ---------------------------------------------------------------------------

# the channels of the market schema (suanli.market.schema.CHANNELS, which imports SQLAlchemy: not at CLI
# start-up); tests/test_params.py checks that the two agree
CHANNEL = Param("channel", str, None, "Sales channel: oem|dealer|grey|cloud|marketplace.",
                canonical=("oem", "dealer", "grey", "cloud", "marketplace"))
SINCE = Param("since", str, None, "From this date on.", metavar="YYYY[-MM[-DD]]")
UNTIL = Param("until", str, None, "Up to the end of this period.", metavar="YYYY[-MM[-DD]]")

MARKET = _group("market", CHANNEL, SINCE, UNTIL)

# --- calibration ------------------------------------------------------------------------------

PROFILE = Param("profile", str, None, "Calibration profile fitted on your own runs (suanli calibrate --profile NAME) "
                "or an exported profile file; predictions on the chips and engines it covers are corrected and "
                "say so.", metavar="NAME|FILE.json")

CALIBRATION = _group("calibration", PROFILE)

ALL: tuple[Param, ...] = (*DEPLOYMENT, *WORKLOAD, *SLA, *ECONOMICS, *MARKET, *CALIBRATION)


def param(name: str) -> Param:
    """The declaration of ``name`` (KeyError for an undeclared name)."""
    for p in ALL:
        if p.name == name:
            return p
    raise KeyError(name)


def check(values: Mapping[str, Any], groups: Iterable[Group] = (DEPLOYMENT, WORKLOAD, SLA)) -> None:
    """Bounds of every declared parameter named in ``values`` (the app layer's boundary check)."""
    for group in groups:
        group.check(values)


__all__ = ["ALL", "CALIBRATION", "CHANNEL", "CONCURRENCY", "DEPLOYMENT", "DP_ATTENTION", "ECONOMICS", "ENGINE", "ENGINES", "EP", "GPUS",
           "Group", "ISL", "KV_DTYPE", "MARKET", "MODE", "MODES", "NUM_REQUESTS", "OSL", "PP", "PROFILE", "Param", "REQUEST_RATE",
           "SCENARIO", "SCENARIOS", "SINCE", "SLA", "SYSTEM", "TP", "TPOT_MS", "TTFT_MS", "UNTIL", "WEIGHT_DTYPE", "WORKLOAD", "check",
           "econ_overrides", "econ_sources", "param"]
