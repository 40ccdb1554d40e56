"""Weekly price scenarios for inventory decisions (pure; randomness from a seed).

A scenario family is a geometric random walk of the per-unit price with a
weekly drift and volatility, plus jumps (a step change of ``size`` at a week
drawn from ``[week_lo, week_hi]`` with probability ``prob`` per path).  Paths
are relative to today's price (1.0 at week 0).

Built-in families are suanli's reading of the 2025-26 market events (see
``BUILTIN_NOTES`` for the event rows each one encodes); they are assumptions
to be replaced by the user's own view (a JSON file with the same fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from suanli.errors import InvalidInput


@dataclass(frozen=True, kw_only=True)
class Jump:
    size: float          # relative step, e.g. -0.2 = price falls 20 %
    week_lo: int
    week_hi: int
    prob: float = 1.0


@dataclass(frozen=True, kw_only=True)
class ScenarioSpec:
    name: str
    drift_weekly: float              # mean log-change per week, e.g. -0.01 = -1 %/week
    vol_weekly: float                # standard deviation of the weekly log-change
    jumps: tuple[Jump, ...] = ()
    note: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not -0.5 < self.drift_weekly < 0.5:
            raise InvalidInput(f"scenario {self.name}: drift_weekly {self.drift_weekly} out of range (-0.5, 0.5)",
                               field="drift_weekly")
        if not 0.0 <= self.vol_weekly < 1.0:
            raise InvalidInput(f"scenario {self.name}: vol_weekly must be in [0, 1)", field="vol_weekly")
        for j in self.jumps:
            if not (-1.0 < j.size < 10.0 and 0 <= j.week_lo <= j.week_hi and 0.0 <= j.prob <= 1.0):
                raise InvalidInput(f"scenario {self.name}: bad jump {j}", field="jumps")


BUILTIN: dict[str, ScenarioSpec] = {
    "compliant-supply-arrives": ScenarioSpec(
        name="compliant-supply-arrives", drift_weekly=-0.012, vol_weekly=0.03,
        note="licensed H20 supply resumes: dealer premia built during the ban erode over ~half a year",
        source="events.csv 2025-07-14 (licences to be granted), 2025-08 (licences issued); market-notes.md §2 "
               "(H20 modules had risen 880k -> 1.05M CNY during the ban; H200 module at 1.4M CNY caps H20 value)"),
    "supply-halted": ScenarioSpec(
        name="supply-halted", drift_weekly=0.004, vol_weekly=0.03,
        jumps=(Jump(size=0.10, week_lo=0, week_hi=4, prob=0.8),),
        note="new supply stops (ban or production halt): stock gains scarcity value",
        source="events.csv 2025-04-09/15 (licence requirement), 2025-08-22 (NVIDIA tells suppliers to halt H20 "
               "production); market-notes.md §2"),
    "substitute-launches": ScenarioSpec(
        name="substitute-launches", drift_weekly=-0.002, vol_weekly=0.025,
        jumps=(Jump(size=-0.20, week_lo=8, week_hi=30, prob=0.7),),
        note="a cheaper substitute (B30/B40, RTX Pro 6000D, domestic chips in volume) arrives at an uncertain date",
        source="events.csv (RTX Pro 6000D from 2025-09; B30A reports; domestic 910C volume in 2026); "
               "market-notes.md §1-2"),
    "flat": ScenarioSpec(name="flat", drift_weekly=0.0, vol_weekly=0.02,
                         note="no trend: the reference case", source="suanli assumption"),
}


def spec_from_mapping(data: Mapping[str, Any], *, default_name: str = "user") -> ScenarioSpec:
    """A user scenario from parsed JSON: drift_weekly, vol_weekly, optional jumps
    [{size, week_lo, week_hi, prob}], name, note."""
    try:
        jumps = tuple(Jump(size=float(j["size"]), week_lo=int(j["week_lo"]), week_hi=int(j["week_hi"]),
                           prob=float(j.get("prob", 1.0))) for j in data.get("jumps", []))
        return ScenarioSpec(name=str(data.get("name", default_name)), drift_weekly=float(data["drift_weekly"]),
                            vol_weekly=float(data["vol_weekly"]), jumps=jumps, note=str(data.get("note", "")),
                            source=str(data.get("source", "user file")))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"scenario: missing or malformed field ({exc}); expected drift_weekly, vol_weekly, "
                           f"optional jumps [{{size, week_lo, week_hi, prob}}]", field="scenario") from None


def price_paths(spec: ScenarioSpec, *, weeks: int, n: int, seed: int) -> np.ndarray:
    """``n`` paths of relative price, shape (n, weeks + 1), column 0 = 1.0."""
    if weeks < 1 or n < 1:
        raise InvalidInput("need at least one week and one scenario path", field="horizon")
    rng = np.random.default_rng(seed)
    steps = spec.drift_weekly + spec.vol_weekly * rng.standard_normal((n, weeks))
    for j in spec.jumps:
        happens = rng.random(n) < j.prob
        week = rng.integers(j.week_lo, j.week_hi + 1, size=n)
        hit = happens & (week < weeks)
        steps[np.flatnonzero(hit), week[hit]] += np.log1p(j.size)
    return np.concatenate([np.ones((n, 1)), np.exp(np.cumsum(steps, axis=1))], axis=1)


@dataclass(frozen=True, kw_only=True)
class Scenarios:
    """Price paths (currency per unit) and the specs they came from."""

    prices: np.ndarray                       # (S, T + 1)
    specs: tuple[ScenarioSpec, ...] = field(default_factory=tuple)

    @property
    def weeks(self) -> int:
        return self.prices.shape[1] - 1


def build(specs: tuple[ScenarioSpec, ...], *, price_now: float, weeks: int, paths: int, seed: int) -> Scenarios:
    """Mix families equally: ``paths`` in total, split over ``specs``."""
    if price_now <= 0:
        raise InvalidInput("current price must be > 0", field="price")
    k = len(specs)
    parts = [price_paths(s, weeks=weeks, n=paths // k + (1 if i < paths % k else 0), seed=seed + 7919 * i)
             for i, s in enumerate(specs)]
    return Scenarios(prices=price_now * np.concatenate([p for p in parts if len(p)]), specs=specs)
