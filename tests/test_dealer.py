"""Dealer sell/hold/lease plan: cases with a known optimum, a brute-force
check of the threshold policy, scenario generation, speed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from suanli.econ.dealer import DealerInputs, _bins, _transitions, plan, solve
from suanli.econ.scenarios import BUILTIN, Jump, ScenarioSpec, Scenarios, build, price_paths, spec_from_mapping
from suanli.errors import InvalidInput


def _deterministic(drift: float, weeks: int = 20, price: float = 100_000.0) -> Scenarios:
    path = price * np.exp(drift * np.arange(weeks + 1))
    return Scenarios(prices=np.tile(path, (5, 1)))


def test_prices_falling_faster_than_financing_sell_at_capacity_now():
    # price falls 2 %/week, financing costs 6 %/year = 0.115 %/week: every week of waiting
    # loses money, so the optimum sells K units every week from week 0 until the stock is gone.
    inp = DealerInputs(units=100, unit_cost=90_000, financing_rate_annual=0.06, weekly_sell_capacity=30)
    p = plan(inp, _deterministic(-0.02))
    assert list(p.sell_per_week_mean[:5]) == [30, 30, 30, 10, 0]
    assert p.leased_units == 0
    assert p.npv_mean == pytest.approx(p.npv_sell_all_now)


def test_flat_prices_with_profitable_lease_lease_everything():
    # flat price 100k; leasing pays 2,000 x 0.9 = 1,800 per unit-week, far more than the
    # 115/week the capital costs, and the unit comes back worth 85 % -> lease all units.
    inp = DealerInputs(units=50, unit_cost=90_000, financing_rate_annual=0.06, weekly_sell_capacity=10,
                       lease_rate_per_unit_week=2_000, lease_utilisation=0.9, lease_resale_factor=0.85)
    p = plan(inp, _deterministic(0.0, weeks=52))
    assert p.leased_units == 50
    # hand check of one leased unit's NPV: income 1,800 x sum_{t<52} d^t + d^52 x 85,000
    d = 1 / (1 + 0.06 / 52)
    unit = 1_800 * sum(d ** t for t in range(52)) + d ** 52 * 85_000
    assert p.extra["lease_value_per_unit"] == pytest.approx(unit)
    assert p.npv_mean == pytest.approx(50 * unit)


def test_flat_prices_without_lease_sell_now_because_capital_costs():
    inp = DealerInputs(units=40, unit_cost=90_000, financing_rate_annual=0.06, weekly_sell_capacity=10)
    p = plan(inp, _deterministic(0.0))
    assert list(p.sell_per_week_mean[:5]) == [10, 10, 10, 10, 0]


def test_rising_prices_faster_than_financing_hold():
    inp = DealerInputs(units=40, unit_cost=90_000, financing_rate_annual=0.06, weekly_sell_capacity=10)
    p = plan(inp, _deterministic(+0.02, weeks=10))
    assert p.sell_per_week_mean.sum() == 0         # everything kept to the horizon (marked to market)
    assert p.npv_mean == pytest.approx(p.npv_hold_to_horizon)


def _brute_force_v0(inp: DealerInputs, sc: Scenarios, n_bins: int) -> np.ndarray:
    """Same Markov chain, every sale quantity tried (no threshold shortcut)."""
    edges, idx, means = _bins(sc.prices, n_bins)
    T, N, K = sc.weeks, inp.units, inp.weekly_sell_capacity
    d, keep = inp.weekly_discount, 1 - inp.transaction_cost_rate
    V = np.arange(N + 1)[:, None] * (means[T] * keep)[None, :]
    for t in range(T - 1, -1, -1):
        M = _transitions(idx[t], idx[t + 1], len(means[t]), len(means[t + 1]))
        EV = d * (V @ M.T)
        new = np.full((N + 1, len(means[t])), -np.inf)
        for n, i in itertools.product(range(N + 1), range(len(means[t]))):
            for x in range(min(K, n) + 1):
                val = x * means[t][i] * keep - inp.storage_cost_per_unit_week * (n - x) + EV[n - x, i]
                new[n, i] = max(new[n, i], val)
        V = new
    return V


def test_threshold_policy_equals_brute_force():
    spec = ScenarioSpec(name="t", drift_weekly=-0.003, vol_weekly=0.05, jumps=(Jump(size=-0.2, week_lo=2, week_hi=4),))
    sc = Scenarios(prices=100.0 * price_paths(spec, weeks=6, n=40, seed=3))
    inp = DealerInputs(units=7, unit_cost=80, financing_rate_annual=0.2, weekly_sell_capacity=3,
                       storage_cost_per_unit_week=0.3, transaction_cost_rate=0.01)
    _, V0, _, _, _ = solve(inp, sc, n_bins=5)
    assert np.allclose(V0, _brute_force_v0(inp, sc, 5), rtol=1e-9, atol=1e-9)


def test_scenarios_and_user_spec():
    paths = price_paths(BUILTIN["compliant-supply-arrives"], weeks=52, n=2000, seed=0)
    assert paths.shape == (2000, 53) and (paths[:, 0] == 1).all()
    # mean log-drift of -1.2 %/week over 52 weeks: median path ends near exp(-0.624) = 0.536
    assert np.median(paths[:, -1]) == pytest.approx(np.exp(-0.012 * 52), rel=0.03)
    a = build((BUILTIN["flat"],), price_now=10.0, weeks=4, paths=10, seed=5).prices
    b = build((BUILTIN["flat"],), price_now=10.0, weeks=4, paths=10, seed=5).prices
    assert (a == b).all()
    s = spec_from_mapping({"name": "mine", "drift_weekly": -0.01, "vol_weekly": 0.02,
                           "jumps": [{"size": -0.3, "week_lo": 5, "week_hi": 6}]})
    assert s.jumps[0].size == -0.3
    with pytest.raises(InvalidInput):
        spec_from_mapping({"vol_weekly": 0.02})
    with pytest.raises(InvalidInput):
        ScenarioSpec(name="x", drift_weekly=0.9, vol_weekly=0.1)


@pytest.mark.parametrize("kw", [dict(units=0), dict(weekly_sell_capacity=0), dict(financing_rate_annual=-0.1),
                                dict(lease_utilisation=1.5), dict(unit_cost=-1)])
def test_bad_inputs(kw):
    base = dict(units=10, unit_cost=1.0, financing_rate_annual=0.05, weekly_sell_capacity=2)
    base.update(kw)
    with pytest.raises(InvalidInput):
        DealerInputs(**base)
