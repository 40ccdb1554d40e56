"""One fair value against the cheapest of several alternatives, with a P10-P90 range.

The fair price of server X is the price at which its cost per token equals that of the
cheapest alternative (:mod:`suanli.econ.fairvalue` gives the closed form for one
alternative).  With several, the target is the lowest cost per request among them::

    P_fair = (min_j C_j * h_j / h_X - b_X) / a_X

where ``C_j`` is alternative j's cost per utilised GPU-hour (owned: ``a_j * P_j + b_j``;
leased: the lease rate per utilised GPU-hour), ``h`` the GPU-hours per request
(``osl / (3600 * tokens/s per GPU)``), and ``a_X, b_X`` X's TCO coefficients.

**Range.**  Throughputs are uncertain (each prediction's P10-P90 band) and prices disperse
(the quotes of the year before).  :func:`fair_price_range` draws ``n`` joint samples --
throughput log-normal with the band as its P10 / P90, independently per option; an owned
alternative's price uniform over its low-high range -- takes the per-sample minimum over
the alternatives, and returns the P10 / P50 / P90 of the fair price.  Seeded: the same inputs
give the same range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from suanli.econ.tco import TcoInputs, leased_per_utilised_gpu_hour, price_coefficients
from suanli.econ.tokens import SECONDS_PER_HOUR
from suanli.errors import InvalidInput

Z90 = 1.2815515655446004   # standard normal quantile at 0.90


@dataclass(frozen=True, kw_only=True)
class Alternative:
    """One option a buyer could take instead of X: owned (``tco`` with a price range) or leased."""

    name: str
    tok_s_per_gpu: float                       # output tokens/s per GPU at its best deployment
    band: tuple[float, float] = (1.0, 1.0)     # throughput P10 = rate / band[1], P90 = rate / band[0]
    tco: TcoInputs | None = None
    price_low: float | None = None
    price_high: float | None = None
    lease_rate: float | None = None
    lease_unit: str | None = None
    gpus_per_server: int = 8

    def __post_init__(self) -> None:
        if (self.tco is None) == (self.lease_rate is None):
            raise InvalidInput(f"alternative {self.name}: give either an owned TCO or a lease rate", field="option")
        if not self.tok_s_per_gpu > 0:
            raise InvalidInput(f"alternative {self.name}: throughput must be > 0", field="option")
        _check_band(self.band, self.name)


def _check_band(band: tuple[float, float], name: str) -> None:
    lo, hi = band
    if not (0 < lo <= hi):
        raise InvalidInput(f"{name}: band must satisfy 0 < low <= high, got {band!r}", field="band")


def gpu_hours_per_request(osl: float, tok_s_per_gpu: np.ndarray | float) -> np.ndarray:
    return np.asarray(osl, dtype=float) / (SECONDS_PER_HOUR * np.asarray(tok_s_per_gpu, dtype=float))


def fair_price_point(x: TcoInputs, x_tok_s: float, alts: Sequence[Alternative], *, osl: float,
                     lease_utilisation: float = 1.0) -> tuple[float, int, list[float]]:
    """Base case: (fair price against the cheapest alternative, its index, fair price against each)."""
    if not alts:
        raise InvalidInput("no obtainable alternative with a price to compare against", field="alternatives")
    a, b = (float(v) for v in price_coefficients(x))
    hx = float(gpu_hours_per_request(osl, x_tok_s))
    each = []
    for alt in alts:
        c = float(_cost(alt, None, lease_utilisation)) * float(gpu_hours_per_request(osl, alt.tok_s_per_gpu))
        each.append((c / hx - b) / a)
    best = int(np.argmin(each))
    return each[best], best, each


def _cost(alt: Alternative, price: np.ndarray | None, lease_utilisation: float) -> np.ndarray:
    """Cost per utilised GPU-hour: owned at ``price`` (default the TCO's own) or leased (a
    server-month rent is spread over the hours served: ``lease_utilisation``)."""
    if alt.tco is not None:
        a, b = price_coefficients(alt.tco)
        return a * np.asarray(alt.tco.server_price if price is None else price, dtype=float) + b
    u = lease_utilisation if alt.lease_unit == "server_month" else 1.0
    return leased_per_utilised_gpu_hour(alt.lease_rate, alt.lease_unit or "gpu_hour",
                                        gpus_per_server=alt.gpus_per_server, utilisation=u)


def _throughput_samples(rate: float, band: tuple[float, float], rng: np.random.Generator, n: int) -> np.ndarray:
    lo, hi = band
    p10, p90 = rate / hi, rate / lo
    if p90 <= p10:
        return np.full(n, rate)
    mu = 0.5 * (np.log(p10) + np.log(p90))
    sigma = (np.log(p90) - np.log(p10)) / (2 * Z90)
    return np.exp(rng.normal(mu, sigma, n))


def fair_price_range(x: TcoInputs, x_tok_s: float, x_band: tuple[float, float], alts: Sequence[Alternative], *,
                     osl: float, lease_utilisation: float = 1.0, n: int = 4000, seed: int = 20250715
                     ) -> dict[str, object]:
    """P10 / P50 / P90 of X's fair price against the per-sample cheapest alternative, each
    alternative's own P10 / P90, and how often each alternative was the cheapest."""
    if not alts:
        raise InvalidInput("no obtainable alternative with a price to compare against", field="alternatives")
    _check_band(x_band, "option")
    rng = np.random.default_rng(seed)
    a, b = (float(v) for v in price_coefficients(x))
    hx = gpu_hours_per_request(osl, _throughput_samples(x_tok_s, x_band, rng, n))
    per_alt = []
    for alt in alts:
        h = gpu_hours_per_request(osl, _throughput_samples(alt.tok_s_per_gpu, alt.band, rng, n))
        price = None
        if alt.tco is not None:
            lo = alt.price_low if alt.price_low is not None else alt.tco.server_price
            hi = alt.price_high if alt.price_high is not None else alt.tco.server_price
            price = rng.uniform(min(lo, hi), max(lo, hi), n) if hi != lo else np.full(n, lo)
        per_alt.append(_cost(alt, price, lease_utilisation) * h)
    costs = np.vstack(per_alt)                      # [alternative, sample] cost per request
    fair_each = (costs / hx - b) / a
    fair = fair_each.min(axis=0)
    winner = fair_each.argmin(axis=0)
    q = np.percentile(fair, [10, 50, 90])
    return {"p10": float(q[0]), "p50": float(q[1]), "p90": float(q[2]),
            "each_p10": [float(v) for v in np.percentile(fair_each, 10, axis=1)],
            "each_p90": [float(v) for v in np.percentile(fair_each, 90, axis=1)],
            "cheapest_share": [float(np.mean(winner == i)) for i in range(len(alts))], "samples": n}


__all__ = ["Alternative", "fair_price_point", "fair_price_range", "gpu_hours_per_request"]
