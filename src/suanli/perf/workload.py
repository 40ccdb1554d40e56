"""Synthetic and replayed request streams for the request-level simulator.

Pure generators: every random draw comes from a ``numpy.random.Generator``
passed in by the caller (seed it for reproducible runs); nothing here reads
files, the environment or the clock.  A trace or length file is parsed by the
app layer into rows and handed to :func:`requests_from_records` or
:func:`trace_arrivals` / :func:`sampled`.

Units: arrival times in seconds from the start of the run, rates in
requests per second, lengths (``isl`` input / prompt, ``osl`` output) in
tokens (integers >= 1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from suanli.errors import InvalidInput


def _count(n: int) -> int:
    if int(n) != n or n < 0:
        raise InvalidInput(f"number of requests must be a non-negative integer, got {n!r}", field="n")
    return int(n)


def _positive(value: float, name: str) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise InvalidInput(f"{name} must be a positive number, got {value!r}", field=name)
    return v


# --------------------------------------------------------------------------- arrivals

def poisson_arrivals(rate: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` arrival times (s) of a Poisson process of ``rate`` requests/s:
    exponential inter-arrival times, the first one after t = 0."""
    rate = _positive(rate, "rate")
    return np.cumsum(rng.exponential(1.0 / rate, _count(n)))


def bursty_arrivals(rate: float, n: int, cv: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` arrival times (s) with gamma inter-arrival times of mean
    ``1/rate`` s and coefficient of variation ``cv`` (std/mean).

    ``cv > 1`` gives bursts (clusters of arrivals separated by long gaps),
    ``cv = 1`` is Poisson, ``cv < 1`` smoother than Poisson.  The gamma shape
    is ``1/cv**2`` (the burstiness knob of vLLM's ``benchmark_serving``)."""
    rate = _positive(rate, "rate")
    cv = _positive(cv, "cv")
    shape = 1.0 / (cv * cv)
    return np.cumsum(rng.gamma(shape, 1.0 / (rate * shape), _count(n)))


def trace_arrivals(times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Arrival times (s) of a replayed trace, validated: 1-D, finite,
    non-negative and sorted (non-decreasing)."""
    t = np.asarray(times, dtype=float)
    if t.ndim != 1:
        raise InvalidInput(f"arrival times must be a 1-D sequence, got shape {t.shape}", field="arrival_s")
    if not np.all(np.isfinite(t)):
        raise InvalidInput("arrival times must be finite numbers", field="arrival_s")
    if t.size > 1 and np.any(np.diff(t) < 0.0):
        i = int(np.argmax(np.diff(t) < 0.0)) + 1
        raise InvalidInput(f"arrival times must be sorted: row {i} ({t[i]:g} s) comes before row {i - 1} "
                           f"({t[i - 1]:g} s)", field="arrival_s")
    if t.size and t.min() < 0.0:
        raise InvalidInput(f"arrival times must be >= 0 s, got {t.min():g}", field="arrival_s")
    return t


# --------------------------------------------------------------------------- lengths (tokens)

def _lengths(values: Any, name: str) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.ndim != 1:
        raise InvalidInput(f"{name} must be a 1-D sequence of token counts, got shape {a.shape}", field=name)
    if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
        raise InvalidInput(f"{name} must be whole numbers of tokens", field=name)
    if a.size and a.min() < 1:
        raise InvalidInput(f"{name} must be >= 1 token, got {a.min():g}", field=name)
    return a.astype(np.int64)


def fixed(n: int, value: int) -> np.ndarray:
    """``n`` copies of ``value`` tokens."""
    return _lengths(np.full(_count(n), value, dtype=float), "length")


def uniform(n: int, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` lengths drawn uniformly from the integers ``lo..hi`` (inclusive)."""
    if int(lo) != lo or int(hi) != hi or lo < 1 or hi < lo:
        raise InvalidInput(f"uniform lengths need integers 1 <= lo <= hi, got lo={lo!r}, hi={hi!r}", field="length")
    return rng.integers(int(lo), int(hi) + 1, _count(n), dtype=np.int64)


def lognormal(n: int, mean: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` log-normal lengths with arithmetic mean ``mean`` tokens and log-space
    standard deviation ``sigma`` (so ``mu = ln(mean) - sigma**2/2``), rounded to
    integers and clipped to >= 1 (which raises the mean slightly when
    ``mean`` is small).  The coefficient of variation is ``sqrt(exp(sigma**2) - 1)``."""
    mean = _positive(mean, "mean")
    if not math.isfinite(float(sigma)) or sigma < 0.0:
        raise InvalidInput(f"sigma must be >= 0, got {sigma!r}", field="sigma")
    mu = math.log(mean) - 0.5 * float(sigma) ** 2
    x = rng.lognormal(mu, float(sigma), _count(n))
    return np.maximum(1, np.rint(x)).astype(np.int64)


def sampled(n: int, values: Sequence[int] | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` lengths drawn with replacement from ``values`` (e.g. the lengths
    of a dataset, parsed from a file by the caller)."""
    pool = _lengths(values, "values")
    if pool.size == 0:
        raise InvalidInput("cannot sample lengths from an empty set of values", field="values")
    return rng.choice(pool, _count(n), replace=True)


# --------------------------------------------------------------------------- requests

@dataclass(frozen=True, eq=False)
class Requests:
    """A request stream: arrival times (s, sorted, >= 0) and prompt / output
    lengths (tokens, integers >= 1), as numpy arrays of one length."""

    arrival_s: np.ndarray
    isl: np.ndarray
    osl: np.ndarray

    def __post_init__(self) -> None:
        arrival = trace_arrivals(self.arrival_s).copy()   # never freeze the caller's array
        isl = _lengths(self.isl, "isl")
        osl = _lengths(self.osl, "osl")
        if not arrival.size == isl.size == osl.size:
            raise InvalidInput(f"arrival_s, isl and osl must have the same length, got {arrival.size}, "
                               f"{isl.size} and {osl.size}", field="requests")
        for name, value in (("arrival_s", arrival), ("isl", isl), ("osl", osl)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.isl.size)

    @property
    def span_s(self) -> float:
        """Time from the first to the last arrival (s)."""
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) else 0.0


def requests_from_records(records: Iterable[Sequence[Any] | Mapping[str, Any]], *, rebase: bool = True,
                          ) -> Requests:
    """Build :class:`Requests` from parsed trace rows.

    Each row is ``(timestamp_s, isl, osl)`` or a mapping with the keys
    ``timestamp``, ``isl`` and ``osl``.  Rows must already be in time order
    (a shuffled trace is an error, not silently re-sorted).  With ``rebase``
    the first timestamp becomes t = 0 (traces often carry epoch seconds)."""
    ts: list[float] = []
    isl: list[float] = []
    osl: list[float] = []
    for i, row in enumerate(records):
        try:
            if isinstance(row, Mapping):
                t, a, b = row["timestamp"], row["isl"], row["osl"]
            else:
                t, a, b = row
            ts.append(float(t))
            isl.append(float(a))
            osl.append(float(b))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"trace row {i}: expected (timestamp, isl, osl), got {row!r}",
                               field="trace") from exc
    t_arr = np.asarray(ts, dtype=float)
    if rebase and t_arr.size:
        t_arr = t_arr - t_arr[0]
    return Requests(arrival_s=t_arr, isl=np.asarray(isl), osl=np.asarray(osl))


__all__ = ["Requests", "bursty_arrivals", "fixed", "lognormal", "poisson_arrivals", "requests_from_records",
           "sampled", "trace_arrivals", "uniform"]
