"""Per-GPU price index (pure: numbers in, series out; no database, files or clock).

**Per-GPU price of one quote** (``measure="purchase"``):

* ``chip`` quotes (``per_chip``): the price.
* ``module`` quotes (an 8-GPU baseboard, no host; ``per_module``): price / GPUs.
* ``server`` quotes (``per_server``): (price - host cost) / GPUs, with the host cost of
  :class:`HostCostModel`: a fixed amount per GPU slot for CPUs, memory, NICs, chassis and
  assembly.  A server without a stated GPU count, or priced below its host cost, is left
  out (and listed in ``excluded`` with the reason).

``measure="rent"`` uses lease and cloud quotes instead, per GPU-hour: ``per_gpu_hour`` as
is, ``per_gpu_month`` / 730 h, ``per_server_month`` / GPUs / 730 h.

**Currency.** One index has one currency.  Quotes in another currency are converted with
``fx`` (units of the index currency per unit of the quote's, given by the caller) or left
out.  There is no built-in exchange rate: a conversion is the user's assumption.

**Weekly series.** Each quote falls in the week (Monday to Sunday) that contains its date;
a quote dated to a month or a year sits at the period's first day.  For each channel and
week with observations:

* ``price``: the median of the per-GPU prices;
* ``n``: the number of observations;
* ``low`` / ``high``: the confidence band, min over observations of ``x (1 - u)`` and max of
  ``x (1 + u)``, where ``u`` is the observation's relative uncertainty:
  ``CONFIDENCE_UNCERTAINTY[confidence]`` plus, for a server, the host-cost model's own
  error: ``rel_error x host cost per GPU / x``.

So the band covers the spread of the week's quotes and widens for single, low-confidence
or host-heavy quotes.  Weeks without quotes are absent (:meth:`IndexSeries.filled` gives a
gap-free weekly grid carrying the last price forward).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Mapping, Sequence

import numpy as np

HOURS_PER_MONTH = 730.0  # 8760 h / 12
CONFIDENCE_UNCERTAINTY = {"high": 0.05, "medium": 0.10, "low": 0.25}
PURCHASE_KINDS = ("chip", "module", "server")
RENT_KINDS = ("lease", "cloud")
MEASURES = ("purchase", "rent")


@dataclass(frozen=True, kw_only=True)
class HostCostModel:
    """Cost of everything in a GPU server but the GPUs, per GPU slot, by currency.

    Defaults (both sourced in ``data/market/prices.csv``):

    * CNY 28,750 per GPU: an 8x H20 141GB server (Intel Xeon 8558, 32 DIMMs, no InfiniBand)
      at 1,280,000 CNY (Leiphone, July 2025) against the 8-GPU H20 module at 1,050,000 CNY
      (later 2025): about 230,000 CNY of host per 8-GPU server.
    * USD 3,750 per GPU: a DGX H100 at an estimated $270,000 (SemiAnalysis, May 2023)
      against H100 at up to $30,000 per GPU (Aug 2023): about $30,000 per 8-GPU server.

    ``rel_error`` (0.5: the host cost may be half or one and a half times this) widens the
    band of every server-derived price.
    """

    per_gpu: Mapping[str, float] = field(default_factory=lambda: {"CNY": 28_750.0, "USD": 3_750.0})
    rel_error: float = 0.5

    def host_per_gpu(self, currency: str, fx: Mapping[str, float], target: str) -> float | None:
        """Host cost per GPU in the index currency ``target`` for a server quoted in ``currency``."""
        if currency in self.per_gpu:
            return self.per_gpu[currency] * (fx.get(currency, 1.0) if currency != target else 1.0)
        if target in self.per_gpu:
            return self.per_gpu[target]
        return None


@dataclass(frozen=True, kw_only=True)
class Observation:
    """One quote as the index reads it."""

    id: int
    date: date
    channel: str
    kind: str
    unit: str
    price: float
    currency: str
    gpus: int | None
    confidence: str


@dataclass(frozen=True, kw_only=True)
class IndexPoint:
    week: date          # the Monday of the week
    n: int
    price: float        # median per-GPU price
    low: float
    high: float
    carried: bool = False   # True: no quote that week, price carried forward (filled())

    def to_dict(self) -> dict[str, Any]:
        return {"week": self.week.isoformat(), "n": self.n, "price": self.price, "low": self.low,
                "high": self.high, **({"carried": True} if self.carried else {})}


@dataclass(frozen=True, kw_only=True)
class IndexSeries:
    chip: str
    channel: str
    currency: str
    measure: str
    points: tuple[IndexPoint, ...]

    @property
    def latest(self) -> IndexPoint | None:
        return self.points[-1] if self.points else None

    @property
    def observations(self) -> int:
        return sum(p.n for p in self.points)

    def filled(self, until: date | None = None) -> list[IndexPoint]:
        """Every week from the first observation to ``until`` (default: the last one),
        weeks without quotes carrying the previous week's price and band (n = 0)."""
        if not self.points:
            return []
        end = week_start(until) if until is not None else self.points[-1].week
        by_week = {p.week: p for p in self.points}
        out: list[IndexPoint] = []
        week, last = self.points[0].week, self.points[0]
        while week <= end:
            p = by_week.get(week)
            if p is not None:
                last = p
                out.append(p)
            else:
                out.append(IndexPoint(week=week, n=0, price=last.price, low=last.low, high=last.high, carried=True))
            week += timedelta(days=7)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"chip": self.chip, "channel": self.channel, "currency": self.currency, "measure": self.measure,
                "observations": self.observations, "points": [p.to_dict() for p in self.points]}


@dataclass(frozen=True, kw_only=True)
class IndexResult:
    chip: str
    currency: str
    measure: str
    series: dict[str, IndexSeries]       # by channel
    excluded: tuple[tuple[int, str], ...]  # (quote id, reason)
    host_model: HostCostModel

    def to_dict(self) -> dict[str, Any]:
        return {"chip": self.chip, "currency": self.currency, "measure": self.measure,
                "unit": "per_gpu" if self.measure == "purchase" else "per_gpu_hour",
                "host_cost_per_gpu": dict(self.host_model.per_gpu), "host_cost_rel_error": self.host_model.rel_error,
                "series": {k: v.to_dict() for k, v in self.series.items()},
                "excluded": [{"id": i, "reason": r} for i, r in self.excluded]}


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


@dataclass(frozen=True)
class ObservationColumns:
    """Observations as columns (numpy arrays), the form the computation runs on.  ``date``
    is ``datetime64[D]``; ``gpus`` is 0 where not stated."""

    id: np.ndarray
    date: np.ndarray
    channel: np.ndarray
    kind: np.ndarray
    unit: np.ndarray
    price: np.ndarray
    currency: np.ndarray
    gpus: np.ndarray
    confidence: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> ObservationColumns:
        """From tuples (id, date, channel, kind, unit, price, currency, gpus, confidence);
        a date may be a ``date`` or ISO text."""
        cols: list[Any] = list(zip(*rows)) if rows else [() for _ in range(9)]
        return cls(id=np.asarray(cols[0], dtype=np.int64),
                   date=np.asarray(cols[1], dtype="datetime64[D]"),
                   channel=np.asarray(cols[2], dtype=str), kind=np.asarray(cols[3], dtype=str),
                   unit=np.asarray(cols[4], dtype=str), price=np.asarray(cols[5], dtype=float),
                   currency=np.asarray(cols[6], dtype=str),
                   gpus=np.asarray([g or 0 for g in cols[7]] if None in cols[7] else cols[7], dtype=float),
                   confidence=np.asarray(cols[8], dtype=str))

    @classmethod
    def from_observations(cls, obs: Sequence[Observation]) -> ObservationColumns:
        return cls.from_rows([(o.id, o.date, o.channel, o.kind, o.unit, o.price, o.currency, o.gpus,
                               o.confidence) for o in obs])

    def take(self, mask: np.ndarray) -> ObservationColumns:
        return ObservationColumns(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})

    def __len__(self) -> int:
        return int(self.id.size)


def choose_currency(observations: Sequence[Observation] | ObservationColumns) -> str | None:
    """The most common currency (ties: alphabetical), or None with no observations."""
    cur = observations.currency if isinstance(observations, ObservationColumns) else \
        np.asarray([o.currency for o in observations], dtype=str)
    if cur.size == 0:
        return None
    names, counts = np.unique(cur, return_counts=True)  # names sorted: ties go alphabetical
    return str(names[int(np.argmax(counts))])


def compute_index(observations: Sequence[Observation] | ObservationColumns, *, chip: str,
                  measure: str = "purchase", currency: str | None = None, fx: Mapping[str, float] | None = None,
                  host_model: HostCostModel | None = None) -> IndexResult:
    """The weekly per-GPU price index of ``observations`` (see the module doc)."""
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}")
    host = host_model or HostCostModel()
    fx = dict(fx or {})
    cols = observations if isinstance(observations, ObservationColumns) else \
        ObservationColumns.from_observations(observations)
    cols = cols.take(np.isin(cols.kind, PURCHASE_KINDS if measure == "purchase" else RENT_KINDS))
    target = currency or choose_currency(cols) or "CNY"
    x, u, why = _per_gpu(cols, measure, target, fx, host)
    keep = why == ""
    excluded = tuple((int(i), str(r)) for i, r in zip(cols.id[~keep], why[~keep]))
    days = cols.date[keep].astype(np.int64)        # days since 1970-01-01, a Thursday
    week = days - (days + 3) % 7                   # the Monday on or before
    channels = cols.channel[keep]
    x, u = x[keep], u[keep]
    series: dict[str, IndexSeries] = {}
    for ch in sorted(set(channels.tolist())):
        sel = channels == ch
        series[ch] = IndexSeries(chip=chip, channel=ch, currency=target, measure=measure,
                                 points=_weekly(week[sel], x[sel], u[sel]))
    return IndexResult(chip=chip, currency=target, measure=measure, series=series, excluded=excluded,
                       host_model=host)


def _per_gpu(c: ObservationColumns, measure: str, target: str, fx: Mapping[str, float],
             host: HostCostModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per-GPU value in ``target``, relative uncertainty, '' or why the quote is left out)."""
    n = len(c)
    why = np.full(n, "", dtype=object)
    rate = np.full(n, np.nan)
    host_gpu = np.full(n, np.nan)
    for code in np.unique(c.currency).tolist():
        sel = c.currency == code
        r = 1.0 if code == target else fx.get(code)
        if r is None:
            why[sel] = f"quoted in {code}, no exchange rate to {target} given"
        else:
            rate[sel] = r
        h = host.host_per_gpu(code, fx, target)
        if h is not None:
            host_gpu[sel] = h
    price = c.price * rate
    u = np.full(n, CONFIDENCE_UNCERTAINTY["medium"])
    for level, value in CONFIDENCE_UNCERTAINTY.items():
        u[c.confidence == level] = value
    gpus = c.gpus
    no_gpus = gpus <= 0
    safe_gpus = np.where(no_gpus, 1.0, gpus)
    x = np.full(n, np.nan)

    def fill(sel: np.ndarray, values: np.ndarray) -> None:
        x[sel] = values[sel]

    with np.errstate(invalid="ignore", divide="ignore"):
        if measure == "rent":
            fill(c.unit == "per_gpu_hour", price)
            fill(c.unit == "per_gpu_month", price / HOURS_PER_MONTH)
            per_server = c.unit == "per_server_month"
            fill(per_server, price / safe_gpus / HOURS_PER_MONTH)
            _reason(why, per_server & no_gpus, "per_server_month quote without a GPU count")
        else:
            fill(c.kind == "chip", price)
            module, server = c.kind == "module", c.kind == "server"
            fill(module, price / safe_gpus)
            _reason(why, module & no_gpus, "module quote without a GPU count")
            _reason(why, server & no_gpus, "server quote without a GPU count")
            _reason(why, server & np.isnan(host_gpu), "no host-cost model for servers priced in this currency")
            value = price / safe_gpus - host_gpu
            fill(server, value)
            _reason(why, server & (value <= 0), "server price below the host-cost model")
            extra = np.where(server, host.rel_error * host_gpu / np.where(value > 0, value, 1.0), 0.0)
            u = u + np.nan_to_num(extra)
    return x, u, why.astype(str)


def _reason(why: np.ndarray, sel: np.ndarray, text: str) -> None:
    """Record ``text`` for the selected quotes that have no reason yet."""
    why[sel & (why == "")] = text


def _weekly(week: np.ndarray, x: np.ndarray, u: np.ndarray) -> tuple[IndexPoint, ...]:
    if week.size == 0:
        return ()
    order = np.lexsort((x, week))
    week, x, u = week[order], x[order], u[order]
    starts = np.flatnonzero(np.r_[True, week[1:] != week[:-1]])
    n = np.diff(np.r_[starts, week.size])
    median = (x[starts + (n - 1) // 2] + x[starts + n // 2]) / 2.0   # x is sorted within each week
    low = np.maximum(np.minimum.reduceat(x * (1.0 - u), starts), 0.0)
    high = np.maximum.reduceat(x * (1.0 + u), starts)
    epoch = date(1970, 1, 1)
    return tuple(IndexPoint(week=epoch + timedelta(days=int(w)), n=int(k), price=float(m), low=float(lo),
                            high=float(hi))
                 for w, k, m, lo, hi in zip(week[starts].tolist(), n.tolist(), median.tolist(), low.tolist(),
                                            high.tolist()))
