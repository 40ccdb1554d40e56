"""`suanli dealer plan` end to end: flags, inventory file, chart, bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()
BASE = ["dealer", "plan", "--price", "130000", "--weekly-sell-capacity", "40"]


def test_plan_json_and_chart(tmp_path):
    png = tmp_path / "d.png"
    r = runner.invoke(app, [*BASE, "--units", "200", "--unit-cost", "120000", "--financing-rate", "0.06",
                            "--lease-rate", "2000", "--lease-utilisation", "0.8", "--lease-max-units", "50",
                            "--plot", str(png), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    plan = d["plan"]
    assert len(plan["sell_per_week_mean"]) == 52
    assert sum(plan["sell_per_week_mean"]) + plan["leased_units"] <= 200 + 1e-9
    assert plan["explanation"] and d["scenarios"][0]["source"]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_inventory_file_aggregates(tmp_path):
    inv = tmp_path / "inv.csv"
    inv.write_text("owner,item,quantity,unit_cost,currency,acquisition_date,financing_rate\n"
                   "a,H20,60,110000,CNY,2025-04-01,0.05\nb,H20,40,130000,CNY,2025-05-01,0.08\n", encoding="utf-8")
    r = runner.invoke(app, [*BASE, "--inventory", str(inv), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)["inputs"]
    # quantity-weighted: cost (60*110k + 40*130k)/100 = 118k; rate (60*.05 + 40*.08)/100 = 0.062
    assert d["units"] == 100 and d["unit_cost"] == pytest.approx(118_000) and d["financing_rate_annual"] == pytest.approx(0.062)


@pytest.mark.parametrize("extra, needle", [
    ([], "inventory"),
    (["--units", "10", "--unit-cost", "1", "--financing-rate", "0.05", "--scenario", "doom"], "unknown scenario"),
    (["--units", "10", "--unit-cost", "1", "--financing-rate", "-0.05"], "financing"),
    (["--units", "10", "--unit-cost", "1", "--financing-rate", "0.05", "--currency", "EUR"], "currency"),
])
def test_bad_input(extra, needle):
    r = runner.invoke(app, [*BASE, *extra])
    assert r.exit_code == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_bad_inventory_rows_all_reported(tmp_path):
    inv = tmp_path / "inv.csv"
    inv.write_text("quantity,unit_cost,currency\nx,1,CNY\n5,1,EUR\n", encoding="utf-8")
    r = runner.invoke(app, [*BASE, "--inventory", str(inv)])
    assert r.exit_code == 2 and "line 2" in r.stderr and "line 3" in r.stderr


def test_plan_from_market_database(tmp_path):
    # inventory imported into the embedded database; price from the bundled H20 dealer index
    db = str(tmp_path / "m.sqlite3")
    inv = tmp_path / "inv.csv"
    inv.write_text("owner,item,chip,kind,gpus,quantity,unit_cost,currency,acquisition_date,financing,financing_rate\n"
                   "acme,8xH20 server,nvidia_h20_96gb,server,8,5,1100000,CNY,2025-04-01,loan,0.06\n", encoding="utf-8")
    r = runner.invoke(app, ["market", "import", str(inv), "--db", db])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["dealer", "plan", "--chip", "H20", "--db", db, "--weekly-sell-capacity", "8", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)["inputs"]
    # 5 servers x 8 GPUs; 1.1 M CNY per 8-GPU server = 137,500 per GPU; rate from the lot
    assert d["units"] == 40 and d["unit_cost"] == pytest.approx(137_500) and d["financing_rate_annual"] == 0.06
    assert "price index" in d["price_source"]


def test_readme_example_mixes_sell_hold_and_lease() -> None:
    """The README / --help example: lease demand caps leasing at 300 of 1,000 units; the rest are sold at
    capacity while today's price beats waiting, and some are held for later sales."""
    r = runner.invoke(app, [*BASE, "--units", "1000", "--unit-cost", "120000", "--financing-rate", "0.06",
                            "--lease-rate", "1500", "--lease-utilisation", "0.8", "--lease-max-units", "300", "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)["plan"]
    assert plan["leased_units"] == 300
    sells = plan["sell_per_week_mean"]
    assert sells[0] == 40                                   # sell at capacity now
    assert 0 < sum(sells) < 700                             # sells over time ...
    assert plan["stock_mean"][-1] > 0                       # ... and holds some to the horizon
    # lease income 1,500 x 0.8 per unit-week for 52 weeks, discounted, plus resale: the switch price
    lease_value = plan["extra"]["lease_value_per_unit"]
    assert lease_value > 130_000
    assert any(f"below {lease_value:,.0f}" in line and "lease switch price" in line for line in plan["explanation"])


def test_help_texts() -> None:
    r = runner.invoke(app, ["dealer", "plan", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    assert "Units (GPUs/cards) in stock" in r.stdout and "Fraction of lease weeks that pay" in r.stdout
    assert "--lease-max-units 300" in r.stdout
