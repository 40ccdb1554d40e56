"""The per-GPU price index against a small example computed by hand, on both databases,
plus the pure computation's edge cases and the charts."""

from __future__ import annotations

from datetime import date

import pytest
from test_market_helpers import TODAY, db, db_url, no_user_db, write  # noqa: F401

from suanli.market.index import price_index
from suanli.market.ingest import import_file
from suanli.market.pricing import HostCostModel, Observation, compute_index

# Host model of the example: the default, 28,750 CNY per GPU slot, +-50 %.
# Confidence uncertainty: high 5 %, medium 10 %, low 25 %.
EXAMPLE = """date,item,kind,configuration,price,currency,unit,channel,source,confidence
2025-03-03,H20,chip,card,100000,CNY,per_chip,dealer,s1,medium
2025-03-05,H20,chip,card,120000,CNY,per_chip,dealer,s2,low
2025-03-09,H20 server,server,8x H20 server,1200000,CNY,per_server,dealer,s3,medium
2025-03-10,H20,module,8-GPU module,960000,CNY,per_module,dealer,s4,high
2025-03-12,H20,chip,card,12000,USD,per_chip,oem,s5,medium
2025-04,H20,chip,card,110000,CNY,per_chip,dealer,s6,medium
2025-03-04,H20 server,server,rack of unknown size,3000000,CNY,per_server,dealer,s7,medium
2025-03-04,H20 server,server,8x H20 (host only?),200000,CNY,per_server,dealer,s8,medium
2025-03-04,H20,chip,card,900000,HKD,per_chip,grey,s9,medium
2025-03-04,H20,lease,8x H20 server,80000,CNY,per_server_month,dealer,s10,medium
2025-03-04,H20,cloud,1x H20,10,CNY,per_gpu_hour,cloud,s11,medium
2025-03-04,H100,chip,card,200000,CNY,per_chip,dealer,s12,medium
"""

# By hand (weeks start on Monday):
# week of 2025-03-03, dealer: chip 100,000 (u .10), chip 120,000 (u .25), server
#   1,200,000 / 8 - 28,750 = 121,250 (u = .10 + .5 x 28,750 / 121,250).
#   median 120,000; low = min(90,000, 90,000, 121,250 x .9 - 14,375 = 94,750) = 90,000;
#   high = max(110,000, 150,000, 121,250 x 1.1 + 14,375 = 147,750) = 150,000.
# week of 2025-03-10, dealer: module 960,000 / 8 = 120,000 (u .05): 114,000 .. 126,000.
# week of 2025-03-10, oem: 12,000 USD x 7.0 = 84,000 (u .10): 75,600 .. 92,400.
# "2025-04" is 2025-04-01 (a Tuesday), week of 2025-03-31: 110,000: 99,000 .. 121,000.
# Left out: the rack without a GPU count, the server below its host cost, the HKD quote
# (no rate given); lease, cloud and the H100 quote are not purchase quotes of H20.
DEALER = [(date(2025, 3, 3), 3, 120_000.0, 90_000.0, 150_000.0),
          (date(2025, 3, 10), 1, 120_000.0, 114_000.0, 126_000.0),
          (date(2025, 3, 31), 1, 110_000.0, 99_000.0, 121_000.0)]
OEM = [(date(2025, 3, 10), 1, 84_000.0, 75_600.0, 92_400.0)]


def _points(series):
    return [(p.week, p.n, p.price, p.low, p.high) for p in series.points]


def _assert_example(idx):
    res = idx.result
    assert res.currency == "CNY" and set(res.series) == {"dealer", "oem"}
    assert _points(res.series["dealer"]) == [tuple(pytest.approx(v) if isinstance(v, float) else v for v in row)
                                             for row in DEALER]
    assert _points(res.series["oem"]) == [tuple(pytest.approx(v) if isinstance(v, float) else v for v in row)
                                          for row in OEM]
    reasons = sorted(r for _, r in res.excluded)
    assert reasons == ["quoted in HKD, no exchange rate to CNY given", "server price below the host-cost model",
                       "server quote without a GPU count"]


def test_index_matches_the_hand_computed_example(db, tmp_path):
    import_file(db, write(tmp_path / "ex.csv", EXAMPLE), today=TODAY)
    write(tmp_path / "ev.csv", "date,kind,description,chips,source\n2025-03-06,policy,rule,H20,e\n"
                               "2025-03-07,supply,other chip,B200,e\n")
    import_file(db, tmp_path / "ev.csv", today=TODAY)
    idx = price_index(db, "h20", currency="CNY", fx={"usd": 7.0})
    _assert_example(idx)
    assert [e.description for e in idx.events] == ["rule"]


def test_channel_filter_and_filled_weeks(db, tmp_path):
    import_file(db, write(tmp_path / "ex.csv", EXAMPLE), today=TODAY)
    idx = price_index(db, "H20", channel="dealer", currency="CNY")
    assert list(idx.series) == ["dealer"]
    filled = idx.series["dealer"].filled()
    assert [(p.week.isoformat(), p.n, p.price, p.carried) for p in filled] == [
        ("2025-03-03", 3, 120_000.0, False), ("2025-03-10", 1, 120_000.0, False),
        ("2025-03-17", 0, 120_000.0, True), ("2025-03-24", 0, 120_000.0, True),
        ("2025-03-31", 1, 110_000.0, False)]
    assert filled[-1] == idx.series["dealer"].latest


def test_rent_index_per_gpu_hour(db, tmp_path):
    import_file(db, write(tmp_path / "ex.csv", EXAMPLE), today=TODAY)
    res = price_index(db, "H20", measure="rent").result
    assert res.series["dealer"].points[0].price == pytest.approx(80_000 / 8 / 730)
    assert res.series["cloud"].points[0].price == pytest.approx(10.0)


def test_since_until_bound_the_series(db, tmp_path):
    import_file(db, write(tmp_path / "ex.csv", EXAMPLE), today=TODAY)
    res = price_index(db, "H20", currency="CNY", since="2025-03-10", until="2025-03").result
    assert [p.week for p in res.series["dealer"].points] == [date(2025, 3, 10)]


# --- the pure computation --------------------------------------------------------------------

def _obs(i, d, price, *, kind="chip", unit="per_chip", gpus=None, channel="dealer", currency="CNY",
         confidence="medium"):
    return Observation(id=i, date=d, channel=channel, kind=kind, unit=unit, price=price, currency=currency,
                       gpus=gpus, confidence=confidence)


def test_pure_computation_agrees_with_the_database_path():
    obs = [_obs(1, date(2025, 3, 3), 100_000), _obs(2, date(2025, 3, 5), 120_000, confidence="low"),
           _obs(3, date(2025, 3, 9), 1_200_000, kind="server", unit="per_server", gpus=8)]
    res = compute_index(obs, chip="H20")
    p = res.series["dealer"].points[0]
    assert (p.week, p.n, p.price, p.low, p.high) == (date(2025, 3, 3), 3, 120_000, 90_000, pytest.approx(150_000))


def test_custom_host_model_and_currency_choice():
    obs = [_obs(1, date(2025, 1, 6), 80_000, kind="server", unit="per_server", gpus=8, currency="USD"),
           _obs(2, date(2025, 1, 6), 9_000, currency="USD"), _obs(3, date(2025, 1, 6), 60_000)]
    res = compute_index(obs, chip="X", host_model=HostCostModel(per_gpu={"USD": 1_000.0}, rel_error=0.0))
    assert res.currency == "USD"  # the most quoted currency
    p = res.series["dealer"].points[0]
    assert p.n == 2 and p.price == pytest.approx((9_000 + 9_000) / 2)
    assert [r for _, r in res.excluded] == ["quoted in CNY, no exchange rate to USD given"]


def test_even_count_median_and_empty_input():
    obs = [_obs(i, date(2025, 1, 7), v) for i, v in enumerate([4.0, 1.0, 3.0, 2.0])]
    assert compute_index(obs, chip="X").series["dealer"].points[0].price == 2.5
    empty = compute_index([], chip="X")
    assert empty.series == {} and empty.excluded == ()


def test_bad_arguments_are_user_errors(db):
    from suanli.errors import InvalidInput

    with pytest.raises(InvalidInput):
        price_index(db, "H20", measure="resale")
    with pytest.raises(InvalidInput):
        price_index(db, "H20", channel="smuggler")
    with pytest.raises(InvalidInput):
        price_index(db, " ")
    with pytest.raises(InvalidInput):
        price_index(db, "H20", since="March")


# --- charts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".html"])
def test_chart_files(db, tmp_path, suffix):
    from suanli.viz.market_charts import price_index_chart

    import_file(db, write(tmp_path / "ex.csv", EXAMPLE), today=TODAY)
    import_file(db, write(tmp_path / "ev.csv", "date,kind,description,chips,source\n"
                                               "2025-03-06,policy,\"Costs $12,000-15,000\",H20,e\n"), today=TODAY)
    out = price_index_chart(price_index(db, "H20", fx={"USD": 7.0}), tmp_path / f"idx{suffix}")
    data = out.read_bytes()
    if suffix == ".png":
        assert data[:4] == b"\x89PNG"
    else:
        html = data.decode()
        assert "Costs $12,000-15,000" in html and "plotly" in html.lower()
        assert '<script src="http' not in html  # JavaScript embedded, works offline
