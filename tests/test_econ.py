"""Economics core against hand calculations: money and FX, TCO (with and without
financing), tokens, NPV / IRR / payback, lessor pricing, buy vs lease, fair value.

Expected values are written out as arithmetic from the formulas' definitions (or
textbook tables: the 6 %/5-year loan factor 19.3328 per 1000), never by calling the
code under test."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.econ.fairvalue import OptionCost, blended_per_mtok, fair_price, fair_value, mix_gpu_hours_per_request
from suanli.econ.finance import (annuity_payment, breakeven_months, breakeven_utilisation, irr, lease_rate_for_irr,
                                 lessor_cashflows, lessor_economics, monthly_rate, npv, payback_period)
from suanli.econ.money import CurrencyMismatch, FxRate, FxTable, FxUnavailable, Money
from suanli.econ.tco import TcoInputs, capex_factor_per_month, leased_per_utilised_gpu_hour, tco_per_gpu_hour
from suanli.econ.tokens import cost_per_million_tokens, prefill_share_aggregated, prefill_share_from_rates
from suanli.errors import InvalidInput, SuanliError

# --- money and FX ---------------------------------------------------------------------------


def test_money_arithmetic_same_currency_and_dates() -> None:
    a, b = Money(100, "cny", "2025-01"), Money(50, "RMB", "2025-07-01")
    assert (a + b) == Money(150, "CNY", "2025-07-01")  # the later date
    assert (a - b).amount == 50 and (a * 2).amount == 200 and (2 * a).amount == 200
    assert a / b == 2.0 and (a / 4).amount == 25


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a / b, lambda a, b: a < b])
def test_money_never_mixes_currencies(op) -> None:
    with pytest.raises(CurrencyMismatch):
        op(Money(1, "CNY", "2025"), Money(1, "USD", "2025"))


@pytest.mark.parametrize("args, needle", [
    ((1, "EUR", "2025-01"), "unknown currency"),
    ((1, "CNY", ""), "no date"),
    ((1, "CNY", None), "no date"),
    ((1, "CNY", "2025-13"), "calendar"),
    ((1, "CNY", "July 2025"), "not a date"),
    ((float("nan"), "CNY", "2025"), "finite"),
])
def test_money_rejects_bad_input(args, needle) -> None:
    with pytest.raises(InvalidInput, match=needle):
        Money(*args)


@pytest.mark.parametrize("text, expected", [
    ("1500000 CNY 2026-01-10", Money(1.5e6, "CNY", "2026-01-10")),
    ("1.5M rmb 2026-01", Money(1.5e6, "CNY", "2026-01")),
    ("150万,CNY,2025", Money(1.5e6, "CNY", "2025")),
    ("270k USD 2023-05", Money(2.7e5, "USD", "2023-05")),
])
def test_money_parse(text, expected) -> None:
    assert Money.parse(text) == expected


def test_money_parse_without_date() -> None:
    with pytest.raises(InvalidInput, match="has no date"):
        Money.parse("1500000 CNY")


FX = FxTable([FxRate("2024-01", "USD", "CNY", 7.1, "a"), FxRate("2024-07-15", "USD", "CNY", 7.2, "b"),
              FxRate("2025", "USD", "CNY", 7.3, "c")])


def test_fx_latest_rate_at_or_before() -> None:
    assert FX.quote("USD", "CNY", "2024-07-14").rate == 7.1
    assert FX.quote("USD", "CNY", "2024-07-15").rate == 7.2
    assert FX.quote("USD", "CNY", "2024-12-31").rate == 7.2
    assert FX.quote("USD", "CNY", "2030").rate == 7.3
    q = FX.quote("CNY", "USD", "2024-08")
    assert q.inverted and q.rate == pytest.approx(1 / 7.2) and q.row.source == "b"
    assert FX.convert(Money(100, "USD", "2024-08-01"), "CNY") == Money(720, "CNY", "2024-08-01")
    assert FX.convert(Money(720, "CNY", "2024-08-01"), "USD").amount == pytest.approx(100)
    assert FX.convert(Money(5, "CNY", "2024-08"), "CNY") == Money(5, "CNY", "2024-08")


def test_fx_errors_before_first_row_and_on_bad_rows() -> None:
    with pytest.raises(FxUnavailable, match="at or before 2023-12"):
        FX.quote("USD", "CNY", "2023-12")
    with pytest.raises(InvalidInput):
        FxRate("2024", "USD", "CNY", -1)
    with pytest.raises(InvalidInput, match="unknown currency"):
        FxRate("2024", "EUR", "CNY", 8)


def test_fx_later_row_same_date_overrides() -> None:
    t = FxTable([FxRate("2024-01", "USD", "CNY", 7.1, "bundled"), FxRate("2024-01", "USD", "CNY", 7.0, "user")])
    assert t.quote("USD", "CNY", "2024-02").row.source == "user"


# --- TCO --------------------------------------------------------------------------------------

BASE = dict(server_price=1_200_000.0, gpus_per_server=8, gpu_tdp_w=400.0, life_years=5, residual_fraction=0.10,
            financing_rate_annual=0.0, utilisation=0.7, electricity_price_per_kwh=0.63, pue=1.3,
            host_overhead_w_per_server=4600.0, busy_power_fraction=0.735, idle_power_fraction=0.25,
            hosting_price_per_kw_month=600.0, maintenance_fraction_per_year=0.04)


def test_tco_by_hand_without_financing() -> None:
    r = tco_per_gpu_hour(TcoInputs(**BASE))
    capex = (1_200_000 - 120_000) / 60 / 730 / 8          # 18,000 per month
    maint = 0.04 * 1_200_000 / 8760 / 8
    load = 0.7 * 0.735 + 0.3 * 0.25                           # 0.5895 of 7.8 kW nameplate
    power = 7.8 * load * 1.3 * 0.63 / 8
    hosting = 7.8 * 600 / 730 / 8
    assert r.capex_payment_per_server_month == pytest.approx(18_000)
    assert r.breakdown_wall == pytest.approx({"capex": capex, "power": power, "hosting": hosting,
                                              "maintenance": maint})
    assert r.per_gpu_hour_wall == pytest.approx(capex + maint + power + hosting)
    assert r.per_gpu_hour_utilised == pytest.approx((capex + maint + power + hosting) / 0.7)
    assert r.average_power_w_per_server == pytest.approx(7800 * load)
    # fixed + variable split: owning costs F + v*u per wall-hour
    assert r.fixed_per_gpu_hour_wall + r.variable_per_busy_gpu_hour * 0.7 == pytest.approx(r.per_gpu_hour_wall)


def test_tco_by_hand_with_financing() -> None:
    # 6 %/yr nominal, monthly: 19.3328 per 1000 over 60 months (loan table); the residual
    # is a balloon repaid by the sinking-fund factor 0.0143328 per unit
    r = tco_per_gpu_hour(TcoInputs(**{**BASE, "financing_rate_annual": 0.06}))
    assert r.capex_payment_per_server_month == pytest.approx(1_200_000 * 0.0193328 - 120_000 * 0.0143328, rel=2e-6)
    assert capex_factor_per_month(life_years=5, residual_fraction=0, financing_rate_annual=0.06) == \
        pytest.approx(0.0193328, rel=1e-5)
    cash = tco_per_gpu_hour(TcoInputs(**BASE))
    assert r.breakdown_wall["capex"] > cash.breakdown_wall["capex"]
    assert r.breakdown_wall["power"] == cash.breakdown_wall["power"]


def test_tco_rack_hosting_and_simple_power() -> None:
    r = tco_per_gpu_hour(TcoInputs(**{**BASE, "hosting_price_per_kw_month": 0.0, "hosting_price_per_rack_month": 20_000,
                                      "servers_per_rack": 4, "busy_power_fraction": 1.0, "idle_power_fraction": 0.0,
                                      "host_overhead_w_per_server": 0.0}))
    assert r.breakdown_wall["hosting"] == pytest.approx(5000 / 730 / 8)
    # "chip TDP x utilisation": 8 x 400 W x 0.7 x PUE x price
    assert r.breakdown_wall["power"] == pytest.approx(3.2 * 0.7 * 1.3 * 0.63 / 8)


@pytest.mark.parametrize("field, value, needle", [
    ("life_years", 0, "depreciation life"), ("utilisation", -0.1, "negative"), ("utilisation", 0, "utilisation"),
    ("utilisation", 1.5, "utilisation"), ("pue", 0.9, "pue"), ("residual_fraction", 1.2, "residual"),
    ("electricity_price_per_kwh", -1, "electricity"), ("gpus_per_server", 0, "gpus"),
])
def test_tco_rejects_bad_input(field, value, needle) -> None:
    with pytest.raises(InvalidInput, match=needle):
        TcoInputs(**{**BASE, field: value})


def test_leased_per_utilised_gpu_hour() -> None:
    assert float(leased_per_utilised_gpu_hour(73_000, "server_month", gpus_per_server=8, utilisation=0.5)) == \
        pytest.approx(25.0)
    assert float(leased_per_utilised_gpu_hour(7.5, "gpu_hour", gpus_per_server=8, utilisation=0.3)) == 7.5
    with pytest.raises(InvalidInput):
        leased_per_utilised_gpu_hour(1, "year", gpus_per_server=8, utilisation=0.5)


# --- tokens -------------------------------------------------------------------------------------

def test_cost_per_million_tokens_by_hand() -> None:
    t = cost_per_million_tokens(10.0, output_tok_s_per_gpu=1000, isl=1000, osl=1000, prefill_share=0.4)
    # 3.6 M output and 3.6 M input tokens per GPU-hour
    assert t.blended_per_mtok == pytest.approx(10 / 7.2)
    assert t.output_all_in_per_mtok == pytest.approx(10 / 3.6)
    assert t.input_per_mtok == pytest.approx(4 / 3.6) and t.output_per_mtok == pytest.approx(6 / 3.6)
    # the split recovers the cost exactly
    assert (t.input_per_mtok * t.input_tokens_per_gpu_hour + t.output_per_mtok * t.output_tokens_per_gpu_hour) / 1e6 \
        == pytest.approx(10.0)
    assert t.per_request == pytest.approx(10 * 1000 / 3.6e6)


def test_prefill_shares() -> None:
    assert prefill_share_aggregated(ttft_s=1.0, tpot_s=0.01, osl=101) == pytest.approx(0.5)
    assert prefill_share_from_rates(isl=1000, osl=500, prefill_input_tok_s_per_gpu=1000,
                                    decode_output_tok_s_per_gpu=250) == pytest.approx(1 / 3)


# --- NPV / IRR / payback / annuity ---------------------------------------------------------------

def test_npv_by_hand() -> None:
    assert npv(0.10, [-1000, 300, 400, 500]) == pytest.approx(-1000 + 300 / 1.1 + 400 / 1.21 + 500 / 1.331)
    assert npv(0.0, [-1, 2]) == 1.0
    assert np.allclose(npv(np.array([0.0, 1.0]), [-1, 2]), [1.0, 0.0])


@pytest.mark.parametrize("flows, expected", [
    ([-100, 110], 0.10), ([-100, 0, 121], 0.10), ([-100, 100], 0.0), ([-1000, 500, 500, 500], 0.2337519),
    ([-100, 230, -132], 0.10),   # two roots (10 % and 20 %): the one closest to zero
])
def test_irr_by_hand(flows, expected) -> None:
    r = irr(flows)
    assert r == pytest.approx(expected, abs=1e-6)
    assert abs(npv(r, flows)) < 1e-6


@pytest.mark.parametrize("flows", [[100, 50], [-100, -50], [0, 0, 0], [-100, 10]])
def test_irr_none_without_sign_change_or_bracket(flows) -> None:
    # [-100, 10] loses 90 %: IRR -90 % is inside the bracket, so it is found
    r = irr(flows)
    if flows == [-100, 10]:
        assert r == pytest.approx(-0.9)
    else:
        assert r is None


def test_payback_by_hand() -> None:
    assert payback_period([-1000, 300, 400, 500]) == pytest.approx(2 + 300 / 500)
    assert payback_period([-1000, 100, 100]) is None
    d = payback_period([-100, 60, 60], rate=0.1)   # discounted: 54.545 then 49.587
    assert d == pytest.approx(1 + (100 - 60 / 1.1) / (60 / 1.21))


def test_annuity_payment_by_hand() -> None:
    assert annuity_payment(100_000, 0.01, 12) == pytest.approx(8884.8788678, rel=1e-9)
    assert annuity_payment(1200, 0.0, 12) == pytest.approx(100)


def test_lessor_economics_by_hand() -> None:
    # price 1,000, rent 100 x 12 months, opex 10, residual 200, occupancy 0.9
    cf = lessor_cashflows(price=1000, rent_per_month=100, months=12, occupancy=0.9, opex_per_month=10,
                          residual_value=200)
    assert cf[0] == -1000 and cf[1] == pytest.approx(80) and cf[-1] == pytest.approx(280)
    res = lessor_economics(cf, discount_rate_annual=0.0)
    assert res.npv == pytest.approx(-1000 + 12 * 80 + 200)
    # cumulative -1000 + 11 x 80 = -120 after month 11; month 12 brings 280
    assert res.payback_months == pytest.approx(11 + 120 / 280)
    assert res.irr_annual == pytest.approx((1 + res.irr_monthly) ** 12 - 1)


def test_lease_rate_for_target_irr_round_trip_and_hand_case() -> None:
    # 0 % target, no opex, no residual: the rent just repays the price
    assert lease_rate_for_irr(price=1200, months=12, target_irr_annual=0.0) == pytest.approx(100)
    rent = lease_rate_for_irr(price=1_280_000, months=36, target_irr_annual=0.15, occupancy=0.9,
                              opex_per_month=12_000, residual_value=400_000)
    cf = lessor_cashflows(price=1_280_000, rent_per_month=rent, months=36, occupancy=0.9, opex_per_month=12_000,
                          residual_value=400_000)
    assert lessor_economics(cf, discount_rate_annual=0.15).npv == pytest.approx(0, abs=1e-4)
    assert (1 + irr(cf)) ** 12 - 1 == pytest.approx(0.15, abs=1e-9)


def test_breakeven_utilisation_by_hand() -> None:
    assert breakeven_utilisation(fixed_per_gpu_hour_wall=2, variable_per_busy_gpu_hour=0.5,
                                 lease_per_gpu_hour=4.5) == pytest.approx(0.5)
    assert breakeven_utilisation(fixed_per_gpu_hour_wall=2, variable_per_busy_gpu_hour=0.5,
                                 lease_per_gpu_hour=0.5) is None
    assert breakeven_utilisation(fixed_per_gpu_hour_wall=2, variable_per_busy_gpu_hour=0.5,
                                 lease_per_gpu_hour=2.0) is None  # u* = 1.33 > 1: renting always cheaper
    # consistent with the TCO: at u*, owning per wall-hour equals renting u* hours
    r = tco_per_gpu_hour(TcoInputs(**BASE))
    u = breakeven_utilisation(fixed_per_gpu_hour_wall=r.fixed_per_gpu_hour_wall,
                              variable_per_busy_gpu_hour=r.variable_per_busy_gpu_hour, lease_per_gpu_hour=9.0)
    at_u = tco_per_gpu_hour(TcoInputs(**{**BASE, "utilisation": u}))
    assert at_u.per_gpu_hour_utilised == pytest.approx(9.0)


def test_breakeven_months_by_hand() -> None:
    assert breakeven_months(purchase_price=1.2e6, own_cost_per_month=10_000, lease_per_month=60_000) == \
        pytest.approx(24.0)
    annual = 1.01 ** 12 - 1   # 1 % a month
    m = breakeven_months(purchase_price=1.2e6, own_cost_per_month=10_000, lease_per_month=60_000,
                         discount_rate_annual=annual)
    assert m == pytest.approx(-math.log(1 - 1.2e6 * 0.01 / 50_000) / math.log(1.01))
    assert breakeven_months(purchase_price=1, own_cost_per_month=5, lease_per_month=5) is None
    assert breakeven_months(purchase_price=1e9, own_cost_per_month=0, lease_per_month=1,
                            discount_rate_annual=0.1) is None
    assert monthly_rate(annual) == pytest.approx(0.01)


# --- fair value ----------------------------------------------------------------------------------

def _opt(name: str, price: float, tdp: float, tok_s: float, **kw) -> OptionCost:
    return OptionCost(name=name, gpu_hours_per_request=1024 / (3600 * tok_s), tokens_per_request=2048,
                      tco=TcoInputs(**{**BASE, "server_price": price, "gpu_tdp_w": tdp, **kw}))


def test_fair_price_round_trip_and_hand_check() -> None:
    x, y = _opt("x", 0.0, 400, 95), _opt("y", 1.5e6, 700, 337)
    res = fair_value(x, y, grid_utilisation=[0.3, 0.5, 0.7, 0.9], grid_electricity=[0.3, 0.45, 0.63, 0.8, 0.95],
                     x_asked_price=1.28e6)
    assert res.x_blended_per_mtok_at_fair == pytest.approx(res.y_blended_per_mtok, rel=1e-12)
    # hand: cost per request equal -> (aP + b) h_x = C_y h_y, a = capex+maint per unit price per utilised hour
    k = (1 - 0.1) / 60
    a = (k / 730 + 0.04 / 8760) / 8 / 0.7
    b = tco_per_gpu_hour(x.tco).per_gpu_hour_utilised   # price 0: only power + hosting
    c_y = tco_per_gpu_hour(y.tco).per_gpu_hour_utilised
    assert res.fair_price == pytest.approx((c_y * y.gpu_hours_per_request / x.gpu_hours_per_request - b) / a)
    assert len(res.grid_fair_price) == 4 and len(res.grid_fair_price[0]) == 5
    assert res.verdict.startswith("Y is the better buy")
    # every grid cell equals the scalar solve at that (u, e)
    for i, u in enumerate(res.grid_utilisation):
        for j, e in enumerate(res.grid_electricity):
            assert res.grid_fair_price[i][j] == pytest.approx(float(fair_price(x, y, u, e)))


def test_fair_price_infeasible_when_x_cannot_match_for_free() -> None:
    x, y = _opt("x", 0.0, 1000, 1.0), _opt("y", 1e5, 400, 5000)
    res = fair_value(x, y, grid_utilisation=[0.5], grid_electricity=[0.6])
    assert not res.feasible and res.fair_price < 0 and res.notes


def test_fair_price_against_a_lease() -> None:
    x = _opt("x", 0.0, 400, 600)
    y = OptionCost(name="cloud", gpu_hours_per_request=1024 / (3600 * 600), tokens_per_request=2048, lease_rate=7.5,
                   lease_unit="gpu_hour")
    p = float(fair_price(x, y))
    owned = OptionCost(name="x", gpu_hours_per_request=x.gpu_hours_per_request, tokens_per_request=2048,
                       tco=x.tco.with_price(p))
    assert float(blended_per_mtok(owned)) == pytest.approx(float(blended_per_mtok(y)))


def test_mix_gpu_hours() -> None:
    h = mix_gpu_hours_per_request(weights=[0.75, 0.25], osl=[1000, 8000], output_tok_s_per_gpu=[500, 400])
    assert h == pytest.approx(0.75 * 1000 / (3600 * 500) + 0.25 * 8000 / (3600 * 400))
    with pytest.raises(InvalidInput, match="sum to 1"):
        mix_gpu_hours_per_request(weights=[0.5, 0.4], osl=[1, 1], output_tok_s_per_gpu=[1, 1])


@settings(max_examples=200, deadline=None)
@given(price_y=st.floats(1e4, 1e7), tok_x=st.floats(10, 5000), tok_y=st.floats(10, 5000),
       tdp_x=st.floats(100, 1500), tdp_y=st.floats(100, 1500), u=st.floats(0.05, 1.0), e=st.floats(0.0, 2.0),
       fin=st.floats(0.0, 0.2), life=st.floats(1, 10), res=st.floats(0, 0.5), isl=st.floats(1, 1e4),
       osl=st.floats(1, 1e4))
def test_fair_price_round_trip_property(price_y, tok_x, tok_y, tdp_x, tdp_y, u, e, fin, life, res, isl, osl) -> None:
    common = dict(utilisation=u, electricity_price_per_kwh=e, financing_rate_annual=fin, life_years=life,
                  residual_fraction=res)
    x = OptionCost(name="x", gpu_hours_per_request=osl / (3600 * tok_x), tokens_per_request=isl + osl,
                   tco=TcoInputs(**{**BASE, **common, "server_price": 0.0, "gpu_tdp_w": tdp_x}))
    y = OptionCost(name="y", gpu_hours_per_request=osl / (3600 * tok_y), tokens_per_request=isl + osl,
                   tco=TcoInputs(**{**BASE, **common, "server_price": price_y, "gpu_tdp_w": tdp_y}))
    p = float(fair_price(x, y))
    back = OptionCost(name="x", gpu_hours_per_request=x.gpu_hours_per_request, tokens_per_request=isl + osl,
                      tco=x.tco.with_price(p)) if p >= 0 else None
    if back is not None:
        assert float(blended_per_mtok(back)) == pytest.approx(float(blended_per_mtok(y)), rel=1e-9, abs=1e-12)
    # monotone: a faster X (same everything else) is worth more
    faster = OptionCost(name="x", gpu_hours_per_request=x.gpu_hours_per_request / 2, tokens_per_request=isl + osl,
                        tco=x.tco)
    assert float(fair_price(faster, y)) >= p - 1e-6 * max(1.0, abs(p))


# --- data files -------------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parents[1] / "src" / "suanli" / "data"


def test_every_default_and_fx_row_is_sourced() -> None:
    from suanli.app.econ_data import load_defaults, load_fx
    d = load_defaults()
    for name in d.names():
        row = d[name]
        assert row.source and row.unit, name
        assert row.source.startswith(("http", "suanli")), f"{name}: source must be a URL or a flagged assumption"
    fx = load_fx()
    assert len(fx) >= 10
    years = {r.date[:4] for r in fx.rows()}
    assert {"2023", "2024", "2025", "2026"} <= years
    assert all(r.source.startswith("http") for r in fx.rows())


def test_prices_copy_is_verbatim() -> None:
    shared = Path("/work/shared/data/prices.csv")
    ours = DATA / "market" / "prices.csv"
    if not shared.exists():
        pytest.skip("shared data not present")
    assert ours.read_bytes() == shared.read_bytes()
    with ours.open(encoding="utf-8") as f:
        assert "source_url" in next(csv.reader(f))


def test_price_picking_says_which_row() -> None:
    from suanli.app.econ_data import lease_price_for, server_price_for
    from suanli.specs.accelerator import load_hardware
    from suanli.specs.system import load_systems
    cat = load_hardware()
    systems = load_systems(hardware=cat)
    q = server_price_for("nvidia_h200_sxm", systems)
    assert q is not None and q.money == Money(1.5e6, "CNY", "2026-01-10") and "cn_h200_8gpu_machine_2026" in q.row
    q = server_price_for("nvidia_h20_141gb", systems)   # complete server preferred over the module quote
    assert q is not None and q.money.amount == 1.28e6 and "leiphone" in q.row
    lz = lease_price_for("nvidia_h100_sxm", cat)
    assert lz is not None and lz.unit == "server_month" and lz.money.currency == "CNY" and "line" in lz.row
    with pytest.raises(SuanliError):
        Money.parse("12 XYZ 2025")
