"""One fair value against several alternatives (:mod:`suanli.econ.fair_range`): hand
calculations, the range's limits and invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.econ.fair_range import Alternative, fair_price_point, fair_price_range
from suanli.econ.tco import TcoInputs
from suanli.errors import InvalidInput

HOURS_PER_MONTH = 730.0


def simple_tco(price: float = 0.0, *, tdp_w: float = 500.0, electricity: float = 1.0) -> TcoInputs:
    """One-year life, no financing, residual, maintenance, hosting or host power; always busy,
    PUE 1: cost per GPU-hour = price / (12 * 730 * 8) + tdp_w / 1000 * electricity."""
    return TcoInputs(server_price=price, gpus_per_server=8, gpu_tdp_w=tdp_w, life_years=1.0, residual_fraction=0.0,
                     financing_rate_annual=0.0, utilisation=1.0, electricity_price_per_kwh=electricity, pue=1.0)


def test_fair_price_by_hand_against_a_lease() -> None:
    # Y leased at 10 per GPU-hour and half as fast as X (500 vs 1000 tok/s per GPU): per token X may cost
    # 20 per GPU-hour; power is 500 W x 1.0 = 0.5, so capex may be 19.5 per GPU-hour:
    # P = 19.5 x 12 months x 730 h x 8 GPUs = 1,366,560.
    y = Alternative(name="y", tok_s_per_gpu=500.0, lease_rate=10.0, lease_unit="gpu_hour")
    dear = Alternative(name="dear", tok_s_per_gpu=500.0, lease_rate=30.0, lease_unit="gpu_hour")
    value, best, each = fair_price_point(simple_tco(), 1000.0, [dear, y], osl=1000)
    assert value == pytest.approx(19.5 * 12 * HOURS_PER_MONTH * 8)
    assert best == 1 and each[0] == pytest.approx((60.0 - 0.5) * 12 * HOURS_PER_MONTH * 8)


def test_fair_price_by_hand_against_an_owned_server() -> None:
    # Y owned at 700,800 (= 10 per GPU-hour of capex) with 500 W: 10.5 per GPU-hour, same speed as X.
    # X with 1,000 W matches at capex 10.5 - 1.0 = 9.5 per GPU-hour -> 9.5 x 70,080 = 665,760.
    y = Alternative(name="y", tok_s_per_gpu=800.0, tco=simple_tco(10 * 12 * HOURS_PER_MONTH * 8))
    value, _, _ = fair_price_point(simple_tco(tdp_w=1000.0), 800.0, [y], osl=512)
    assert value == pytest.approx(9.5 * 12 * HOURS_PER_MONTH * 8)


def test_server_month_lease_is_spread_over_the_hours_served() -> None:
    # 8 GPUs x 730 h at 50 % utilisation: 116,800 per server-month = 40 per utilised GPU-hour
    y = Alternative(name="y", tok_s_per_gpu=1000.0, lease_rate=40 * 8 * 730 * 0.5, lease_unit="server_month")
    value, _, _ = fair_price_point(simple_tco(), 1000.0, [y], osl=100, lease_utilisation=0.5)
    assert value == pytest.approx((40.0 - 0.5) * 12 * HOURS_PER_MONTH * 8)


def test_range_collapses_without_uncertainty_and_widens_with_it() -> None:
    y = Alternative(name="y", tok_s_per_gpu=500.0, lease_rate=10.0, lease_unit="gpu_hour")
    point, _, _ = fair_price_point(simple_tco(), 1000.0, [y], osl=1000)
    r = fair_price_range(simple_tco(), 1000.0, (1.0, 1.0), [y], osl=1000)
    assert r["p10"] == pytest.approx(point) and r["p90"] == pytest.approx(point)
    wide = fair_price_range(simple_tco(), 1000.0, (0.8, 1.25), [y], osl=1000)
    assert wide["p10"] < point < wide["p90"]
    # an owned alternative whose price disperses between 600k and 800k
    own = Alternative(name="own", tok_s_per_gpu=1000.0, tco=simple_tco(700_000.0), price_low=600_000.0,
                      price_high=800_000.0)
    lo = fair_price_point(simple_tco(), 1000.0, [Alternative(name="a", tok_s_per_gpu=1000.0,
                                                               tco=simple_tco(600_000.0))], osl=1)[0]
    hi = fair_price_point(simple_tco(), 1000.0, [Alternative(name="b", tok_s_per_gpu=1000.0,
                                                               tco=simple_tco(800_000.0))], osl=1)[0]
    rr = fair_price_range(simple_tco(), 1000.0, (1.0, 1.0), [own], osl=1)
    assert lo < rr["p10"] < rr["p50"] < rr["p90"] < hi
    assert rr["p50"] == pytest.approx(700_000.0, rel=0.02)


def test_range_is_seeded() -> None:
    y = Alternative(name="y", tok_s_per_gpu=500.0, band=(0.7, 1.4), lease_rate=10.0, lease_unit="gpu_hour")
    a = fair_price_range(simple_tco(), 1000.0, (0.8, 1.25), [y], osl=1000)
    b = fair_price_range(simple_tco(), 1000.0, (0.8, 1.25), [y], osl=1000)
    assert a == b


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInput):
        fair_price_point(simple_tco(), 1000.0, [], osl=10)
    with pytest.raises(InvalidInput):
        Alternative(name="x", tok_s_per_gpu=10.0)                       # neither owned nor leased
    with pytest.raises(InvalidInput):
        Alternative(name="x", tok_s_per_gpu=10.0, band=(1.2, 0.8), lease_rate=1.0, lease_unit="gpu_hour")


rates = st.floats(min_value=10, max_value=5000)


@settings(max_examples=60, deadline=None)
@given(rx=rates, ry=rates, lease=st.floats(min_value=0.5, max_value=100), tdp=st.floats(min_value=100, max_value=1500),
       extra=st.floats(min_value=0.01, max_value=10))
def test_invariants(rx: float, ry: float, lease: float, tdp: float, extra: float) -> None:
    y = Alternative(name="y", tok_s_per_gpu=ry, lease_rate=lease, lease_unit="gpu_hour")
    dearer = Alternative(name="y2", tok_s_per_gpu=ry, lease_rate=lease + extra, lease_unit="gpu_hour")
    base, _, _ = fair_price_point(simple_tco(tdp_w=tdp), rx, [y], osl=256)
    # a dearer alternative raises the fair value; adding it beside the cheaper one changes nothing
    assert fair_price_point(simple_tco(tdp_w=tdp), rx, [dearer], osl=256)[0] > base
    assert fair_price_point(simple_tco(tdp_w=tdp), rx, [dearer, y], osl=256)[0] == pytest.approx(base)
    # a faster X is worth more; a hungrier X less
    assert fair_price_point(simple_tco(tdp_w=tdp), rx * 1.1, [y], osl=256)[0] > base
    assert fair_price_point(simple_tco(tdp_w=tdp + 100), rx, [y], osl=256)[0] < base
    r = fair_price_range(simple_tco(tdp_w=tdp), rx, (0.9, 1.1), [y], osl=256, n=400)
    assert r["p10"] <= r["p50"] <= r["p90"]
