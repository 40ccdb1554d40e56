"""Discounted cash flows: NPV, IRR, payback, annuities, lessor economics, buy vs lease.

Conventions: cash flows are per period (months here), ``cashflows[0]`` at t = 0.
Discount rates given per year are turned into the *effective* monthly rate
``(1 + r)**(1/12) - 1`` and IRRs are reported both per month and annualised
``(1 + m)**12 - 1``.  (Loan payments in :mod:`suanli.econ.tco` use the nominal
``r / 12`` of loan contracts instead; both are documented where used.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from suanli.errors import InvalidInput


def monthly_rate(annual: float) -> float:
    """Effective monthly rate of a yearly rate: ``(1 + annual)**(1/12) - 1``."""
    if not (math.isfinite(annual) and annual > -1):
        raise InvalidInput(f"yearly rate must be > -100 %, got {annual!r}", field="rate")
    return (1.0 + annual) ** (1.0 / 12.0) - 1.0


def annualise(monthly: float) -> float:
    return (1.0 + monthly) ** 12 - 1.0


def _flows(cashflows: Sequence[float] | np.ndarray) -> np.ndarray:
    cf = np.asarray(cashflows, dtype=float)
    if cf.ndim != 1 or cf.size == 0 or not np.all(np.isfinite(cf)):
        raise InvalidInput("cash flows must be a non-empty list of finite numbers", field="cashflows")
    return cf


def npv(rate: Any, cashflows: Sequence[float] | np.ndarray) -> Any:
    """``sum(cf[t] / (1 + rate)**t)``; ``rate`` per period, scalar or array (broadcast)."""
    cf = _flows(cashflows)
    r = np.asarray(rate, dtype=float)
    if np.any(r <= -1):
        raise InvalidInput(f"discount rate must be > -100 % per period, got {rate!r}", field="rate")
    t = np.arange(cf.size)
    out = (cf * (1.0 + r[..., None]) ** -t).sum(axis=-1)
    return float(out) if out.ndim == 0 else out


def irr(cashflows: Sequence[float] | np.ndarray, *, lo: float = -0.99, hi: float = 10.0) -> float | None:
    """Internal rate of return per period by bracketed root finding, or None.

    NPV is evaluated on a grid of rates in ``[lo, hi]`` (uniform in ``log(1 + r)``); each
    sign change brackets a root, refined by bisection to 1e-13.  With several roots
    (non-conventional flows) the one closest to 0 is returned; with no sign change
    (e.g. all flows of one sign, or all zero) the IRR does not exist and None is returned.
    """
    cf = _flows(cashflows)
    if not np.any(cf):
        return None  # NPV is zero at every rate: no IRR
    if not (-1 < lo < hi):
        raise InvalidInput("IRR bracket must satisfy -1 < lo < hi", field="irr")
    grid = np.expm1(np.linspace(math.log1p(lo), math.log1p(hi), 2001))
    grid = np.union1d(grid, [0.0])
    values = npv(grid, cf)
    roots: list[float] = [float(r) for r, v in zip(grid, values) if v == 0.0]
    sign = np.sign(values)
    for k in np.flatnonzero(sign[:-1] * sign[1:] < 0):
        a, b, fa = grid[k], grid[k + 1], values[k]
        for _ in range(200):
            mid = 0.5 * (a + b)
            fm = npv(mid, cf)
            if fm == 0.0 or (b - a) < 1e-13:
                break
            if (fm > 0) == (fa > 0):
                a, fa = mid, fm
            else:
                b = mid
        roots.append(0.5 * (a + b))
    return float(min(roots, key=abs)) if roots else None


def payback_period(cashflows: Sequence[float] | np.ndarray, rate: float = 0.0) -> float | None:
    """Periods until the cumulative (discounted at ``rate`` per period) cash flow turns
    non-negative, interpolated linearly within the period; None if it never does."""
    cf = _flows(cashflows)
    disc = cf * (1.0 + rate) ** -np.arange(cf.size)
    cum = np.cumsum(disc)
    if cum[0] >= 0:
        return 0.0
    hit = np.flatnonzero(cum >= 0)
    if hit.size == 0:
        return None
    t = int(hit[0])
    return float((t - 1) + (-cum[t - 1]) / disc[t])


def annuity_factor(rate: float, periods: float) -> float:
    """Present value of 1 per period for ``periods`` periods: ``(1 - (1 + r)**-n) / r``."""
    if periods < 0:
        raise InvalidInput(f"number of periods must be >= 0, got {periods!r}", field="periods")
    if abs(rate) < 1e-12:
        return float(periods)
    return (1.0 - (1.0 + rate) ** -periods) / rate


def annuity_payment(principal: float, rate: float, periods: float, future_value: float = 0.0) -> float:
    """Level payment per period repaying ``principal`` net of ``future_value`` received at the end."""
    if periods <= 0:
        raise InvalidInput(f"number of periods must be > 0, got {periods!r}", field="periods")
    return (principal - future_value * (1.0 + rate) ** -periods) / annuity_factor(rate, periods)


# --- a lessor's investment --------------------------------------------------------------

def lessor_cashflows(*, price: float, rent_per_month: float, months: int, occupancy: float = 1.0,
                     opex_per_month: float = 0.0, residual_value: float = 0.0) -> np.ndarray:
    """Month 0: ``-price``; months 1..n: ``occupancy * rent - opex``; month n adds the residual."""
    if months < 1:
        raise InvalidInput(f"lease term must be >= 1 month, got {months!r}", field="months")
    if not 0 <= occupancy <= 1:
        raise InvalidInput(f"occupancy must be within 0..1, got {occupancy!r}", field="occupancy")
    cf = np.full(months + 1, occupancy * rent_per_month - opex_per_month, dtype=float)
    cf[0] = -price
    cf[-1] += residual_value
    return cf


@dataclass(frozen=True, kw_only=True)
class LessorResult:
    npv: float                          # at the discount rate, currency
    irr_monthly: float | None
    irr_annual: float | None
    payback_months: float | None        # undiscounted
    discounted_payback_months: float | None
    discount_rate_annual: float
    cashflows: tuple[float, ...] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"npv": self.npv, "irr_monthly": self.irr_monthly, "irr_annual": self.irr_annual,
                "payback_months": self.payback_months, "discounted_payback_months": self.discounted_payback_months,
                "discount_rate_annual": self.discount_rate_annual, "cashflows": list(self.cashflows)}


def lessor_economics(cashflows: Sequence[float] | np.ndarray, *, discount_rate_annual: float) -> LessorResult:
    cf = _flows(cashflows)
    m = monthly_rate(discount_rate_annual)
    r = irr(cf)
    return LessorResult(npv=float(npv(m, cf)), irr_monthly=r, irr_annual=None if r is None else float(annualise(r)),
                        payback_months=payback_period(cf), discounted_payback_months=payback_period(cf, m),
                        discount_rate_annual=discount_rate_annual, cashflows=tuple(float(x) for x in cf))


def lease_rate_for_irr(*, price: float, months: int, target_irr_annual: float, occupancy: float = 1.0,
                       opex_per_month: float = 0.0, residual_value: float = 0.0) -> float:
    """Monthly rent at which :func:`lessor_cashflows` has exactly ``target_irr_annual``
    (closed form: NPV is linear in the rent)::

        rent = (price - residual * v**n + opex * a_n) / (occupancy * a_n),  a_n = annuity factor
    """
    if not 0 < occupancy <= 1:
        raise InvalidInput(f"occupancy must be within (0, 1], got {occupancy!r}", field="occupancy")
    m = monthly_rate(target_irr_annual)
    a = annuity_factor(m, months)
    return (price - residual_value * (1.0 + m) ** -months + opex_per_month * a) / (occupancy * a)


# --- buy vs lease -----------------------------------------------------------------------

def breakeven_utilisation(*, fixed_per_gpu_hour_wall: float, variable_per_busy_gpu_hour: float,
                          lease_per_gpu_hour: float) -> float | None:
    """Utilisation above which owning beats renting GPU-hours on demand.

    Owning costs ``F + v * u`` per GPU wall-hour (``F``: capex, hosting, maintenance, idle
    power; ``v``: extra power of a busy hour); renting only the busy hours costs
    ``L * u``.  Equal at ``u* = F / (L - v)``.  None when ``L <= v`` or ``u* > 1`` (renting
    is cheaper even at full use).
    """
    gap = lease_per_gpu_hour - variable_per_busy_gpu_hour
    if gap <= 0:
        return None
    u = fixed_per_gpu_hour_wall / gap
    return u if u <= 1.0 else None


def breakeven_months(*, purchase_price: float, own_cost_per_month: float, lease_per_month: float,
                     discount_rate_annual: float = 0.0) -> float | None:
    """Months of renting after which buying would have cost less (no resale assumed).

    Buying: ``price`` now plus ``own_cost_per_month`` (power, hosting, maintenance);
    leasing: ``lease_per_month`` all-inclusive.  With the monthly rate ``i`` the
    cumulative discounted saving ``(L - O) * a(m)`` reaches the price at
    ``m = -ln(1 - price * i / (L - O)) / ln(1 + i)`` (``price / (L - O)`` when ``i = 0``).
    None when leasing is not dearer per month, or the price is never recovered.
    """
    saving = lease_per_month - own_cost_per_month
    if saving <= 0:
        return None
    i = monthly_rate(discount_rate_annual)
    if abs(i) < 1e-12:
        return purchase_price / saving
    x = 1.0 - purchase_price * i / saving
    if x <= 0:
        return None
    return -math.log(x) / math.log1p(i)


__all__ = ["LessorResult", "annualise", "annuity_factor", "annuity_payment", "breakeven_months",
           "breakeven_utilisation", "irr", "lease_rate_for_irr", "lessor_cashflows", "lessor_economics",
           "monthly_rate", "npv", "payback_period"]
