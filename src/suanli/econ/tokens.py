"""Cost per million tokens from a GPU-hour cost and a deployment's token rates.

Inputs: ``cost_per_utilised_gpu_hour`` (currency per GPU-hour that serves, from
:mod:`suanli.econ.tco` or a lease), ``output_tok_s_per_gpu`` (the deployment's output
tokens/s per GPU under the latency targets) and the workload's ``isl`` / ``osl``
(input and output tokens per request).  Per utilised GPU-hour the deployment emits
``O = 3600 * output_tok_s_per_gpu`` output tokens and reads ``I = O * isl / osl`` input
tokens.  Reported, in currency per million tokens:

* ``blended_per_mtok = C / (I + O)`` -- all tokens alike; the figure to compare chips on
  a fixed workload (any input/output split gives the same ranking there).
* ``output_all_in_per_mtok = C / O`` -- the whole cost charged to output tokens (input
  free): the convention of tokens/s-per-GPU comparisons, and an upper bound.
* ``input_per_mtok = s * C / I`` and ``output_per_mtok = (1 - s) * C / O`` -- the cost split
  by ``s``, the **GPU-time share of prefill** (``prefill_share``), so that
  ``input_per_mtok * I + output_per_mtok * O = C`` exactly: a price list built from
  them recovers the cost on this workload.

Why GPU-time shares: prefill and decode compete for the same GPU-seconds, so the time
each phase holds the hardware is what each kind of token consumes.  How ``s`` is
obtained (``prefill_share_*`` below):

* disaggregated serving (xPyD): ``s = prefill GPUs / all GPUs`` -- exact, those GPUs
  do nothing else;
* aggregated serving: ``s = t_pf / (t_pf + t_dec)`` with the GPU-seconds one request
  needs in each phase run alone at the deployment: ``t_pf = isl / prefill input tokens/s
  per GPU`` (prompts batched to the engine's token budget) and ``t_dec = osl / decode
  output tokens/s per GPU`` at the deployment's batch (:func:`prefill_share_from_rates`).
  Mixed steps share some overhead, so the sum slightly exceeds the measured cycle; the
  split is an attribution, not a measurement.  Fallback when the phase rates are not
  available: ``ttft / (ttft + (osl - 1) * tpot)`` (:func:`prefill_share_aggregated`, which
  understates prefill: it ignores that the prompts of the other requests also run).

The caller may override ``s``; the blended and output-all-in figures do not depend on it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from suanli.errors import InvalidInput

SECONDS_PER_HOUR = 3600.0
MILLION = 1e6


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise InvalidInput(f"{name} must be a positive number, got {value!r}", field=name)
    return v


def prefill_share_aggregated(*, ttft_s: float, tpot_s: float, osl: float) -> float:
    """``ttft / (ttft + (osl - 1) * tpot)`` (see the module docstring)."""
    ttft, tpot = float(ttft_s), float(tpot_s)
    if ttft < 0 or tpot < 0 or osl < 1:
        raise InvalidInput("ttft, tpot must be >= 0 and osl >= 1", field="ttft")
    total = ttft + (osl - 1.0) * tpot
    return ttft / total if total > 0 else 0.0


def prefill_share_from_rates(*, isl: float, osl: float, prefill_input_tok_s_per_gpu: float,
                             decode_output_tok_s_per_gpu: float) -> float:
    """``t_pf / (t_pf + t_dec)`` from the isolated phase rates (see the module docstring)."""
    t_pf = _positive("isl", isl) / _positive("prefill rate", prefill_input_tok_s_per_gpu)
    t_dec = _positive("osl", osl) / _positive("decode rate", decode_output_tok_s_per_gpu)
    return t_pf / (t_pf + t_dec)


def prefill_share_disaggregated(*, prefill_gpus: float, total_gpus: float) -> float:
    """Prefill GPUs over all GPUs of an xPyD unit."""
    if not (0 <= prefill_gpus <= total_gpus and total_gpus > 0):
        raise InvalidInput(f"prefill GPUs {prefill_gpus!r} must be within 0..{total_gpus!r}", field="prefill_gpus")
    return float(prefill_gpus) / float(total_gpus)


@dataclass(frozen=True, kw_only=True)
class TokenCost:
    """Currency per million tokens (and the token rates behind them)."""

    currency: str
    cost_per_utilised_gpu_hour: float
    input_per_mtok: float
    output_per_mtok: float
    blended_per_mtok: float
    output_all_in_per_mtok: float
    per_request: float                  # currency per request of isl + osl tokens
    prefill_share: float
    output_tokens_per_gpu_hour: float
    input_tokens_per_gpu_hour: float
    isl: float
    osl: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cost_per_million_tokens(cost_per_utilised_gpu_hour: float, *, output_tok_s_per_gpu: float, isl: float,
                            osl: float, prefill_share: float, currency: str = "CNY") -> TokenCost:
    """Input / output / blended cost per million tokens (see the module docstring)."""
    c = float(cost_per_utilised_gpu_hour)
    if not (math.isfinite(c) and c >= 0):
        raise InvalidInput(f"cost per GPU-hour must be >= 0, got {cost_per_utilised_gpu_hour!r}", field="cost")
    rate = _positive("output_tok_s_per_gpu", output_tok_s_per_gpu)
    isl, osl = _positive("isl", isl), _positive("osl", osl)
    s = float(prefill_share)
    if not (0.0 <= s <= 1.0):
        raise InvalidInput(f"prefill share must be within 0..1, got {prefill_share!r}", field="prefill_share")
    out_h = rate * SECONDS_PER_HOUR
    in_h = out_h * isl / osl
    return TokenCost(
        currency=currency, cost_per_utilised_gpu_hour=c,
        input_per_mtok=s * c / in_h * MILLION, output_per_mtok=(1.0 - s) * c / out_h * MILLION,
        blended_per_mtok=c / (in_h + out_h) * MILLION, output_all_in_per_mtok=c / out_h * MILLION,
        per_request=c * osl / out_h, prefill_share=s, output_tokens_per_gpu_hour=out_h,
        input_tokens_per_gpu_hour=in_h, isl=isl, osl=osl)


def blended_per_mtok(cost_per_utilised_gpu_hour: Any, *, gpu_hours_per_request: float,
                     tokens_per_request: float) -> np.ndarray:
    """Vectorised blended cost per million tokens: ``C * h / tokens * 1e6`` where ``h`` is
    the GPU-hours one request (or one mix-weighted request) takes."""
    return np.asarray(cost_per_utilised_gpu_hour, dtype=float) * gpu_hours_per_request / tokens_per_request * MILLION


__all__ = ["MILLION", "SECONDS_PER_HOUR", "TokenCost", "blended_per_mtok", "cost_per_million_tokens",
           "prefill_share_aggregated", "prefill_share_disaggregated", "prefill_share_from_rates"]
