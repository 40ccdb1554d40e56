"""Which price of a chip was known at a date (:mod:`suanli.app.price_book`), and the
provenance of suanli's researched price rows."""

from __future__ import annotations

import csv
from importlib.resources import files

import pytest

from suanli.app import price_book as pb
from suanli.app.econ_data import load_fx
from suanli.econ.money import Money, date_key
from suanli.errors import InvalidInput, UnknownHardware
from suanli.specs.accelerator import load_hardware
from suanli.specs.system import load_systems

CAT = load_hardware()
SYS = load_systems(hardware=CAT)
FX = load_fx()
HOST = pb.Host(Money(250_000, "CNY", "2026-01"), 100_000, 400_000, "test host")


def price(chip: str, as_of: str | None, **kw: object) -> pb.ServerPrice | None:
    return pb.server_price(CAT.resolve_id(chip), catalog=CAT, systems=SYS, as_of=as_of, host=HOST, fx=FX, **kw)


def test_complete_server_beats_module_and_cards() -> None:
    # H20 141GB at the seed article's moment: the Leiphone dealer quote (1.28M CNY, 2025-07)
    p = price("H20-141G", "2025-07-15")
    assert p is not None and p.basis == "server" and p.money.amount == 1_280_000 and p.money.date == "2025-07"
    # the 0.88-1.05M module plus a 0.1-0.4M host spans the dispersion
    assert p.low == pytest.approx(880_000 + 100_000) and p.high == pytest.approx(1_050_000 + 400_000)


def test_only_prices_known_at_the_date() -> None:
    assert price("H200", "2025-07-15") is None                     # no China price before December 2025
    late = price("H200", "2026-02-01")
    assert late is not None and late.money.amount == 1_500_000 and late.row == "systems.csv cn_h200_8gpu_machine_2026"
    assert price("H20-141G", "2024-12-31") is None                 # the 141GB SKU appears in 2025


def test_cards_plus_host_where_no_server_is_priced() -> None:
    # 910B: 90,000 CNY per card (broker note, 2025-05): 8 x 90,000 + 250,000 host
    p = price("910B", "2026-01-01")
    assert p is not None and p.basis == "card x 8 + host" and p.money.amount == 8 * 90_000 + 250_000
    assert p.assumed and p.rumoured and p.money.date == "2025-05"
    # before the broker note: Reuters' 120,000 CNY of February 2024
    early = price("910B", "2024-06-01")
    assert early is not None and early.money.amount == 8 * 120_000 + 250_000
    # L20: 75,000 CNY per card (expert call, 2024-03-25; prices-research.csv)
    l20 = price("L20", "2025-01-01")
    assert l20 is not None and l20.money.amount == 8 * 75_000 + 250_000 and "prices-research.csv" in l20.row


def test_supernode_priced_per_card_as_an_8_card_equivalent() -> None:
    p = price("910C", "2026-01-01")
    assert p is not None and p.basis == "supernode" and p.gpus == 8
    assert p.money.currency == "USD" and p.money.amount == pytest.approx(8_200_000 * 8 / 384)
    assert p.power_w_per_gpu == pytest.approx(559_000 / 384)        # supernodes.csv, all-in


def test_given_prices_win() -> None:
    given = (pb.parse_given("MLU370-X8=400000 CNY 2026-03", CAT),)
    p = price("MLU370-X8", "2026-06-01", given=given)
    assert p is not None and p.basis == "given" and p.money.amount == 400_000
    card = (pb.parse_given("K100-AI='60000 CNY 2026-03 card'", CAT),)
    q = price("K100-AI", "2026-06-01", given=card)
    assert q is not None and q.money.amount == 8 * 60_000 + 250_000 and q.assumed
    lease = pb.parse_given("910B=2.5 CNY 2026-02 gpu-hour", CAT)
    lp = pb.lease_price("huawei_ascend_910b", catalog=CAT, as_of="2026-06-01", given=(lease,))
    assert lp is not None and lp.unit == "gpu_hour" and lp.money.amount == 2.5


@pytest.mark.parametrize("text", ["910B", "910B=", "=1 CNY 2026", "910B=1 CNY", "910B=-5 CNY 2026-01",
                                  "910B=abc CNY 2026-01", "910B=1 EUR 2026-01"])
def test_bad_given_price(text: str) -> None:
    with pytest.raises(InvalidInput):
        pb.parse_given(text, CAT)


def test_unknown_chip_in_given_price() -> None:
    with pytest.raises(UnknownHardware):
        pb.parse_given("nochip=1 CNY 2026-01", CAT)


def test_lease_china_first_then_latest() -> None:
    h100 = pb.lease_price("nvidia_h100_sxm", catalog=CAT, as_of="2026-12-01")
    assert h100 is not None and h100.region == "CN" and h100.money.amount == 75_000 and h100.unit == "server_month"
    assert h100.low == 68_000 and h100.high == 75_000               # China rents of the year before
    h200 = pb.lease_price("nvidia_h200_sxm", catalog=CAT, as_of="2026-12-01")
    assert h200 is not None and h200.region == "CN" and h200.rumoured and h200.assumed
    assert pb.lease_price("nvidia_h200_sxm", catalog=CAT, as_of="2024-01-01") is None


def test_no_price_reason_says_how_to_supply() -> None:
    text = pb.no_price_reason("cambricon_mlu370_x8", "MLU370-X8", catalog=CAT, systems=SYS, as_of="2026-01-01")
    assert text.startswith("no public price") and "--price MLU370-X8=" in text
    early = pb.no_price_reason("nvidia_h200_sxm", "H200", catalog=CAT, systems=SYS, as_of="2023-01-01")
    assert "no public price known at 2023-01-01" in early


def test_research_rows_carry_source_date_channel_and_flags() -> None:
    text = (files("suanli") / "data" / "market" / "prices-research.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert rows
    for r in rows:
        assert r["source_url"].startswith("http"), r
        date_key(r["date"])
        assert r["channel"] in ("oem", "dealer", "grey_market", "cloud", "marketplace"), r
        assert r["rumoured"] in ("true", "false") and r["assumed"] in ("true", "false"), r
        CAT.resolve_id(r["item"])
