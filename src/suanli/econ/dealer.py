"""A dealer's inventory plan: how many units to sell each week, hold, or lease
out, maximising expected NPV under price scenarios (stochastic dynamic
programming).

Model (weekly periods, t = 0..T):

* State: units in stock ``n`` and the price regime ``i`` -- at each week the
  scenario prices are cut into quantile bins, and the bin-to-bin transition
  frequencies of the paths give a Markov chain (closed-loop: the plan adapts
  to the price it sees).
* Decision each week: sell ``x <= min(K, n)`` units at the week's price less
  a transaction cost; the rest are carried (storage cost per unit-week).
* Financing: cash flows are discounted at the financing rate, so the NPV is
  net of the cost of the capital tied up in stock (holding a unit worth ``p``
  one more week costs ``p x r / 52`` in foregone interest).
* Leasing: at week 0 up to ``lease_max_units`` units may go out on a lease for
  the whole horizon (income ``lease rate x utilisation`` per unit-week, no
  storage), then are sold at the horizon price times ``lease_resale_factor``.
* At the horizon, unsold stock is valued at that week's price (mark to market).

Selling is linear in ``x`` and the continuation value is concave in the stock
(marginal units are worth less), so the optimal sale keeps exactly the units
whose marginal continuation value exceeds today's net price -- a threshold
policy computed with numpy for all stock levels at once (tests check it
against brute force on a small case).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suanli.econ.scenarios import Scenarios
from suanli.errors import InvalidInput

WEEKS_PER_YEAR = 52.0


@dataclass(frozen=True, kw_only=True)
class DealerInputs:
    units: int
    unit_cost: float                         # per unit, paid (sunk; for the P&L line)
    financing_rate_annual: float             # e.g. 0.06 = 6 %/year; also the discount rate
    weekly_sell_capacity: int
    storage_cost_per_unit_week: float = 0.0
    lease_rate_per_unit_week: float = 0.0    # at 100 % utilisation
    lease_utilisation: float = 0.0
    lease_max_units: int | None = None       # lease demand (None: all units)
    lease_resale_factor: float = 0.85        # resale value of a unit back from a year's lease
    transaction_cost_rate: float = 0.0       # share of the sale price lost per sale

    def __post_init__(self) -> None:
        checks = [
            (self.units >= 1, "units", "must be >= 1"),
            (self.unit_cost >= 0, "unit_cost", "must be >= 0"),
            (0 <= self.financing_rate_annual < 1, "financing_rate", "must be in [0, 1) per year"),
            (self.weekly_sell_capacity >= 1, "weekly_sell_capacity", "must be >= 1"),
            (self.storage_cost_per_unit_week >= 0, "storage_cost", "must be >= 0"),
            (self.lease_rate_per_unit_week >= 0, "lease_rate", "must be >= 0"),
            (0 <= self.lease_utilisation <= 1, "lease_utilisation", "must be in [0, 1]"),
            (0 <= self.lease_resale_factor <= 1.5, "lease_resale_factor", "must be in [0, 1.5]"),
            (0 <= self.transaction_cost_rate < 1, "transaction_cost", "must be in [0, 1)"),
            (self.lease_max_units is None or self.lease_max_units >= 0, "lease_max_units", "must be >= 0"),
        ]
        for ok, name, why in checks:
            if not ok:
                raise InvalidInput(f"--{name.replace('_', '-')} {why}", field=name)

    @property
    def weekly_discount(self) -> float:
        return 1.0 / (1.0 + self.financing_rate_annual / WEEKS_PER_YEAR)


@dataclass(frozen=True, kw_only=True)
class DealerPlan:
    leased_units: int
    sell_per_week_mean: np.ndarray       # (T,) expected units sold each week over the scenarios
    sell_per_week_median_path: np.ndarray  # (T,) the plan along the median-price path
    stock_mean: np.ndarray               # (T + 1,) expected units in stock at the start of each week
    npv_mean: float
    npv_p10: float
    npv_p90: float
    npv_sell_all_now: float              # reference: sell at capacity from week 0, no lease
    npv_hold_to_horizon: float           # reference: keep everything to the horizon, no lease
    profit_mean: float                   # npv_mean - units x unit_cost
    hold_threshold_price: float          # week-0 price below which the plan stops selling this week
    price_now: float
    explanation: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            out[k] = v.tolist() if isinstance(v, np.ndarray) else (list(v) if isinstance(v, tuple) else v)
        return out


def _bins(prices: np.ndarray, n_bins: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per week: bin edges (interior), bin of every path, mean price per bin."""
    edges, idx, means = [], [], []
    for t in range(prices.shape[1]):
        p = prices[:, t]
        e = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)[1:-1]))
        b = np.searchsorted(e, p, side="right")
        m = np.array([p[b == k].mean() if np.any(b == k) else np.nan for k in range(len(e) + 1)])
        # empty bins (ties) take the nearest filled neighbour's mean
        if np.isnan(m).any():
            filled = np.flatnonzero(~np.isnan(m))
            m = m[filled[np.abs(filled[None, :] - np.arange(len(m))[:, None]).argmin(axis=1)]]
        edges.append(e)
        idx.append(b)
        means.append(m)
    return edges, idx, means


def _transitions(b_now: np.ndarray, b_next: np.ndarray, n_now: int, n_next: int) -> np.ndarray:
    m = np.zeros((n_now, n_next))
    np.add.at(m, (b_now, b_next), 1.0)
    rows = m.sum(axis=1, keepdims=True)
    empty = rows[:, 0] == 0
    m[empty] = 1.0 / n_next            # unreachable bins: uninformative
    rows[empty] = 1.0
    return m / rows


def solve(inp: DealerInputs, sc: Scenarios, *, n_bins: int = 24
          ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list, list]:
    """Backward induction.  Returns the sell policy per week ``x[t][n, i]``, the
    week-0 value ``V0[n, i]``, the week-0 marginal value of carrying the m-th
    unit ``dW0[m-1, i]``, and the bin structure."""
    prices = sc.prices
    T = sc.weeks
    N, K = inp.units, inp.weekly_sell_capacity
    d = inp.weekly_discount
    keep = 1.0 - inp.transaction_cost_rate
    edges, idx, means = _bins(prices, max(1, min(n_bins, prices.shape[0])))
    stock = np.arange(N + 1, dtype=float)[:, None]
    V = stock * (means[T] * keep)[None, :]                        # mark to market at the horizon
    policy: list[np.ndarray] = [np.empty(0)] * T
    dW = np.zeros((N, len(means[0])))
    for t in range(T - 1, -1, -1):
        M = _transitions(idx[t], idx[t + 1], len(means[t]), len(means[t + 1]))
        W = d * (V @ M.T) - inp.storage_cost_per_unit_week * stock  # value of carrying m units into t+1
        dW = np.diff(W, axis=0)                                     # marginal value of the m-th unit, m = 1..N
        dW = np.minimum.accumulate(dW, axis=0)                      # enforce concavity against sampling noise
        p_net = means[t] * keep
        m_keep = (dW > p_net[None, :]).sum(axis=0)                  # units worth more kept than sold
        n = np.arange(N + 1)[:, None]
        x = np.clip(n - m_keep[None, :], 0, np.minimum(K, n))
        rem = (n - x).astype(int)
        V = x * p_net[None, :] + np.take_along_axis(W, rem, axis=0)
        policy[t] = x.astype(int)
    return policy, V, dW, edges, idx


def _simulate(inp: DealerInputs, sc: Scenarios, policy: list[np.ndarray], edges: list, start_stock: int,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply the policy along every path: NPV per path, sells (S, T), stock (S, T+1)."""
    prices = sc.prices
    S, T = prices.shape[0], sc.weeks
    d = inp.weekly_discount
    keep = 1.0 - inp.transaction_cost_rate
    n = np.full(S, start_stock, dtype=int)
    npv = np.zeros(S)
    sells = np.zeros((S, T), dtype=int)
    stock = np.zeros((S, T + 1), dtype=int)
    for t in range(T):
        stock[:, t] = n
        i = np.searchsorted(edges[t], prices[:, t], side="right")
        x = policy[t][n, i]
        npv += d ** t * (x * prices[:, t] * keep - inp.storage_cost_per_unit_week * (n - x))
        n = n - x
        sells[:, t] = x
    stock[:, T] = n
    npv += d ** T * n * prices[:, T] * keep
    return npv, sells, stock


def _lease_value(inp: DealerInputs, sc: Scenarios) -> np.ndarray:
    """NPV per path of one unit leased for the horizon, then resold."""
    d = inp.weekly_discount
    T = sc.weeks
    income = inp.lease_rate_per_unit_week * inp.lease_utilisation * sum(d ** t for t in range(T))
    return income + d ** T * sc.prices[:, T] * inp.lease_resale_factor * (1.0 - inp.transaction_cost_rate)


def plan(inp: DealerInputs, sc: Scenarios, *, n_bins: int = 24) -> DealerPlan:
    """The NPV-maximising sell/hold/lease plan (see module docstring)."""
    policy, V0, dW0, edges, _ = solve(inp, sc, n_bins=n_bins)
    i0 = int(np.searchsorted(edges[0], sc.prices[0, 0], side="right"))
    N = inp.units
    lease_cap = N if inp.lease_max_units is None else min(N, inp.lease_max_units)
    lease_unit = _lease_value(inp, sc)
    ys = np.arange(lease_cap + 1)
    totals = V0[N - ys, i0] + ys * lease_unit.mean()
    y = int(ys[np.argmax(totals)])

    npv, sells, stock = _simulate(inp, sc, policy, edges, N - y)
    npv = npv + y * lease_unit
    # references: the same paths under two naive plans
    ref_now = _naive(inp, sc, sell_from=0)
    ref_hold = _naive(inp, sc, sell_from=sc.weeks)
    med = int(np.argsort(sc.prices[:, -1])[len(sc.prices) // 2])

    x0 = policy[0][N - y, i0]
    keep = 1.0 - inp.transaction_cost_rate
    # the week-0 price at which the least valuable unit in stock switches between sell and hold
    thr = float(dW0[N - y - 1, i0] / keep) if N - y >= 1 and sc.weeks >= 1 else float("nan")
    expl = _explain(inp, sc, y=y, x0=int(x0), lease_unit=float(lease_unit.mean()), thr=thr)
    return DealerPlan(
        leased_units=y, sell_per_week_mean=sells.mean(axis=0), sell_per_week_median_path=sells[med].astype(float),
        stock_mean=stock.mean(axis=0), npv_mean=float(npv.mean()), npv_p10=float(np.quantile(npv, 0.1)),
        npv_p90=float(np.quantile(npv, 0.9)), npv_sell_all_now=float(ref_now.mean()),
        npv_hold_to_horizon=float(ref_hold.mean()), profit_mean=float(npv.mean() - N * inp.unit_cost),
        hold_threshold_price=thr, price_now=float(sc.prices[0, 0]), explanation=tuple(expl),
        extra={"lease_value_per_unit": float(lease_unit.mean()), "week0_sell": int(x0)})


def _naive(inp: DealerInputs, sc: Scenarios, *, sell_from: int) -> np.ndarray:
    """NPV per path of selling at capacity from week ``sell_from`` (horizon = hold all)."""
    T = sc.weeks
    d = inp.weekly_discount
    keep = 1.0 - inp.transaction_cost_rate
    n = np.full(sc.prices.shape[0], inp.units, dtype=float)
    npv = np.zeros(sc.prices.shape[0])
    for t in range(T):
        x = np.minimum(n, inp.weekly_sell_capacity) if t >= sell_from else 0.0 * n
        npv += d ** t * (x * sc.prices[:, t] * keep - inp.storage_cost_per_unit_week * (n - x))
        n -= x
    return npv + d ** T * n * sc.prices[:, T] * keep


def _explain(inp: DealerInputs, sc: Scenarios, *, y: int, x0: int, lease_unit: float, thr: float) -> list[str]:
    p0 = float(sc.prices[0, 0])
    weekly_fin = inp.financing_rate_annual / WEEKS_PER_YEAR
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.log(sc.prices[:, 1:] / sc.prices[:, :-1])
    drift = float(np.mean(steps[np.isfinite(steps)])) if np.isfinite(steps).any() else 0.0
    hold_cost = weekly_fin + inp.storage_cost_per_unit_week / p0
    lines = [f"price now {p0:,.0f} per unit; scenarios drift {100 * drift:+.2f} %/week on average against a "
             f"holding cost of {100 * hold_cost:.2f} %/week (financing {100 * weekly_fin:.3f} %/week + storage)"]
    if x0 > 0:
        lines.append(f"sell {x0} units this week: today's price beats the expected discounted value of waiting "
                     f"(holding only pays if prices rise faster than {100 * hold_cost:.2f} %/week)")
    else:
        lines.append("sell nothing this week: expected later prices, net of financing and storage, exceed today's")
    keep = 1.0 - inp.transaction_cost_rate
    if y:
        lines.append(f"lease out {y} units for the horizon: lease income plus resale ({lease_unit:,.0f} per unit, "
                     f"discounted) beats selling at today's price")
        cap = inp.units if inp.lease_max_units is None else min(inp.units, inp.lease_max_units)
        if y >= cap and cap < inp.units:
            lines.append(f"leasing is capped by lease demand ({cap} units): the other {inp.units - y} are sold or held")
    if inp.lease_rate_per_unit_week > 0 and inp.lease_utilisation > 0:
        lines.append(f"lease switch price: leasing a unit beats selling it while today's net price is below "
                     f"{lease_unit / keep:,.0f} ({100 * (lease_unit / keep / p0 - 1):+.1f} % vs today); above it, sell")
    elif inp.lease_rate_per_unit_week > 0:
        lines.append(f"no leasing: a leased unit is worth {lease_unit:,.0f} (income + resale, discounted) against "
                     f"{p0 * (1 - inp.transaction_cost_rate):,.0f} for selling now")
    if np.isfinite(thr):
        change = 100 * (thr / p0 - 1)
        lines.append(f"what would change it: a price below {thr:,.0f} ({change:+.1f} % vs today) makes holding a unit "
                     f"for a later sale worth more than selling it now")
    return lines
