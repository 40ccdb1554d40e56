"""Fair value: the price of option X at which its cost per token equals option Y's.

An option is a server (or a lease) plus the rate at which it serves the workload.  On
a **workload mix** -- components ``k`` with request shares ``w_k`` (summing to 1),
``isl_k`` / ``osl_k`` tokens and output tokens/s per GPU ``r_k`` at the option's best
deployment -- one mix-weighted request takes::

    h = sum_k w_k * osl_k / (3600 * r_k)      GPU-hours (utilised)
    T = sum_k w_k * (isl_k + osl_k)           tokens

and costs ``C * h`` where ``C`` is the cost per utilised GPU-hour.  Owned TCO is linear
in the server price ``P`` (:func:`suanli.econ.tco.price_coefficients`):
``C = a * P + b``.  Equal cost per token (or per request: ``T`` is the same for both
options) gives the closed form::

    P_fair = (C_Y * h_Y / h_X - b_X) / a_X

No iteration, so a sensitivity grid over utilisation x electricity price is one
broadcast numpy expression.  ``P_fair <= 0`` means X cannot match Y even for free
(its power and hosting alone cost more per token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from suanli.econ.tco import TcoInputs, leased_per_utilised_gpu_hour, price_coefficients
from suanli.econ.tokens import MILLION, SECONDS_PER_HOUR
from suanli.errors import InvalidInput


def mix_gpu_hours_per_request(*, weights: Sequence[float], osl: Sequence[float],
                              output_tok_s_per_gpu: Sequence[float]) -> float:
    """``sum_k w_k * osl_k / (3600 * r_k)``: utilised GPU-hours per mix-weighted request."""
    w, o, r = (np.asarray(x, dtype=float) for x in (weights, osl, output_tok_s_per_gpu))
    if not (w.shape == o.shape == r.shape) or w.size == 0:
        raise InvalidInput("workload mix: weights, lengths and rates must have the same length", field="mix")
    if np.any(w < 0) or not np.isclose(w.sum(), 1.0):
        raise InvalidInput(f"workload mix weights must be >= 0 and sum to 1, got {w.tolist()}", field="mix")
    if np.any(r <= 0) or np.any(o <= 0):
        raise InvalidInput("workload mix: output lengths and token rates must be positive", field="mix")
    return float(np.sum(w * o / (SECONDS_PER_HOUR * r)))


@dataclass(frozen=True, kw_only=True)
class OptionCost:
    """An option on a workload: owned (``tco``) or leased (``lease_rate`` + ``lease_unit``)."""

    name: str
    gpu_hours_per_request: float
    tokens_per_request: float
    tco: TcoInputs | None = None
    lease_rate: float | None = None
    lease_unit: str | None = None
    gpus_per_server: int = 8

    def __post_init__(self) -> None:
        if (self.tco is None) == (self.lease_rate is None):
            raise InvalidInput(f"option {self.name}: give either an owned TCO or a lease rate", field="option")
        if not (self.gpu_hours_per_request > 0 and self.tokens_per_request > 0):
            raise InvalidInput(f"option {self.name}: GPU-hours and tokens per request must be > 0", field="option")


def cost_per_utilised_gpu_hour(opt: OptionCost, utilisation: Any = None, electricity: Any = None) -> np.ndarray:
    """Broadcast over ``utilisation`` x ``electricity`` (None: the option's own values)."""
    if opt.tco is not None:
        a, b = price_coefficients(opt.tco, utilisation, electricity)
        return a * opt.tco.server_price + b
    u = 1.0 if utilisation is None else utilisation
    base = leased_per_utilised_gpu_hour(opt.lease_rate, opt.lease_unit or "gpu_hour",
                                        gpus_per_server=opt.gpus_per_server, utilisation=u)
    if electricity is None:
        return base
    return base + 0.0 * np.asarray(electricity, dtype=float)  # a lease is all-inclusive: no power term


def blended_per_mtok(opt: OptionCost, utilisation: Any = None, electricity: Any = None) -> np.ndarray:
    """Currency per million tokens of the mix."""
    c = cost_per_utilised_gpu_hour(opt, utilisation, electricity)
    return c * opt.gpu_hours_per_request / opt.tokens_per_request * MILLION


def fair_price(x: OptionCost, y: OptionCost, utilisation: Any = None, electricity: Any = None) -> np.ndarray:
    """Server price of X (X's currency) at which X's cost per token equals Y's."""
    if x.tco is None:
        raise InvalidInput(f"option {x.name}: a fair price needs an owned server (not a lease)", field="option")
    if abs(x.tokens_per_request - y.tokens_per_request) > 1e-9 * max(x.tokens_per_request, 1.0):
        raise InvalidInput("options must be compared on the same workload", field="mix")
    target = cost_per_utilised_gpu_hour(y, utilisation, electricity) * y.gpu_hours_per_request
    a, b = price_coefficients(x.tco, utilisation, electricity)
    return (target / x.gpu_hours_per_request - b) / a


@dataclass(frozen=True, kw_only=True)
class FairValueResult:
    """Fair price of X against Y, at the base case and over the sensitivity grid."""

    currency: str
    fair_price: float                       # X server price matching Y per token (base case)
    feasible: bool                          # fair_price > 0
    y_blended_per_mtok: float
    x_blended_per_mtok_at_fair: float       # equals y_blended_per_mtok (round trip)
    x_asked_price: float | None
    x_blended_per_mtok_at_asked: float | None
    grid_utilisation: tuple[float, ...]
    grid_electricity: tuple[float, ...]
    grid_fair_price: tuple[tuple[float, ...], ...]       # [utilisation][electricity]
    grid_y_blended_per_mtok: tuple[tuple[float, ...], ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> str:
        if self.x_asked_price is None:
            return ""
        if not self.feasible:
            return "X costs more per token than Y even at a price of zero"
        ratio = self.x_asked_price / self.fair_price
        better = "X is the better buy" if ratio < 1 else ("equal" if ratio == 1 else "Y is the better buy")
        return f"{better}: asked price is {100 * ratio:.0f} % of the fair price"

    def to_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "fair_price": self.fair_price, "feasible": self.feasible,
                "y_blended_per_mtok": self.y_blended_per_mtok,
                "x_blended_per_mtok_at_fair": self.x_blended_per_mtok_at_fair,
                "x_asked_price": self.x_asked_price, "x_blended_per_mtok_at_asked": self.x_blended_per_mtok_at_asked,
                "verdict": self.verdict,
                "grid": {"utilisation": list(self.grid_utilisation), "electricity_per_kwh": list(self.grid_electricity),
                         "fair_price": [list(r) for r in self.grid_fair_price],
                         "y_blended_per_mtok": [list(r) for r in self.grid_y_blended_per_mtok]},
                "notes": list(self.notes)}


def fair_value(x: OptionCost, y: OptionCost, *, grid_utilisation: Sequence[float],
               grid_electricity: Sequence[float], x_asked_price: float | None = None) -> FairValueResult:
    """Base-case fair price (each option's own utilisation and electricity), the round trip
    check, and the grid ``[utilisation][electricity]`` applied to both options."""
    if x.tco is None:
        raise InvalidInput(f"option {x.name}: a fair price needs an owned server (not a lease)", field="option")
    p = float(fair_price(x, y))
    at_fair = OptionCost(name=x.name, gpu_hours_per_request=x.gpu_hours_per_request,
                         tokens_per_request=x.tokens_per_request, tco=x.tco.with_price(max(p, 0.0)))
    x_fair = float(blended_per_mtok(at_fair)) if p > 0 else float("nan")
    x_asked = None
    if x_asked_price is not None:
        asked = OptionCost(name=x.name, gpu_hours_per_request=x.gpu_hours_per_request,
                           tokens_per_request=x.tokens_per_request, tco=x.tco.with_price(x_asked_price))
        x_asked = float(blended_per_mtok(asked))
    u = np.asarray(grid_utilisation, dtype=float)[:, None]
    e = np.asarray(grid_electricity, dtype=float)[None, :]
    if u.size == 0 or e.size == 0:
        raise InvalidInput("the sensitivity grid needs at least one utilisation and one electricity price",
                           field="grid")
    grid_p = np.broadcast_to(fair_price(x, y, u, e), (u.shape[0], e.shape[1]))
    grid_y = np.broadcast_to(blended_per_mtok(y, u, e), grid_p.shape)
    notes = () if p > 0 else (f"{x.name} cannot match {y.name} per token even at a price of zero",)
    return FairValueResult(
        currency=x.tco.currency, fair_price=p, feasible=p > 0, y_blended_per_mtok=float(blended_per_mtok(y)),
        x_blended_per_mtok_at_fair=x_fair, x_asked_price=x_asked_price, x_blended_per_mtok_at_asked=x_asked,
        grid_utilisation=tuple(float(v) for v in u[:, 0]), grid_electricity=tuple(float(v) for v in e[0]),
        grid_fair_price=tuple(tuple(float(v) for v in row) for row in grid_p),
        grid_y_blended_per_mtok=tuple(tuple(float(v) for v in row) for row in grid_y), notes=notes)


__all__ = ["FairValueResult", "OptionCost", "blended_per_mtok", "cost_per_utilised_gpu_hour", "fair_price",
           "fair_value", "mix_gpu_hours_per_request"]
