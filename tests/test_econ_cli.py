"""`suanli cost | lease | fairprice` end to end: JSON, --explain with sources, override
files, currency conversion, and every bad input as one line with exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()
MODEL = ["-m", "Qwen/Qwen3-32B"]


def run_json(*args: str) -> dict:
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_cost_json_owned_and_leased() -> None:
    d = run_json("cost", *MODEL, "--hardware", "h20,h100", "--workload", "chat")
    assert d["currency"] == "CNY" and d["workload"]["isl"] == 1024
    chips = {c["hardware"]: c for c in d["chips"]}
    h20 = chips["nvidia_h20_96gb"]
    assert h20["feasible"] and h20["server_price"] == 1.2e6        # systems.csv cn_hgx_h20_8gpu_2024
    o = h20["owned"]
    # blended = TCO per utilised GPU-hour / (input + output tokens per GPU-hour)
    tokens = 3600 * h20["output_tok_s_per_gpu"] * 2
    assert o["blended_per_mtok"] == pytest.approx(h20["tco"]["per_gpu_hour_utilised"] / tokens * 1e6)
    assert h20["leased"]["cost_per_utilised_gpu_hour"] == pytest.approx(7.5)   # prices.csv H20 7.5 CNY/GPU-h
    assert 0 < h20["prefill_share"] < 1 and h20["breakeven_utilisation"] is not None
    names = {e["name"] for e in d["explain"]}
    assert {"electricity_cny_per_kwh", "pue", "life_years", "residual_fraction", "financing_rate", "utilisation",
            "hosting_cny_per_kw_month", "maintenance_fraction_per_year"} <= names
    assert all(e["source"] for e in d["explain"])


def test_cost_explain_lists_sources_and_flag_overrides() -> None:
    r = runner.invoke(app, ["cost", *MODEL, "--hardware", "h20", "--pue", "1.5", "--electricity-cny-kwh", "0.4",
                            "--explain"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "Inputs and sourced defaults used" in out
    assert "china-briefing.com" not in out            # overridden by the flag
    assert "flag --electricity-cny-kwh" in out and "flag --pue" in out
    assert "fupanwang.com" in out and "cmegroup.com" in out and "soramidjourney.com" in out


def test_cost_given_price_and_lease_and_usd() -> None:
    d = run_json("cost", *MODEL, "--hardware", "h20", "--server-price", "150000 USD 2024-07-24",
                 "--lease-cny-server-month", "50000", "--currency", "USD", "--as-of", "2024-07-24",
                 "--financing-rate", "0")
    c = d["chips"][0]
    assert c["server_price"] == pytest.approx(150_000)
    assert c["lease_rate"] == pytest.approx(50_000 / 7.1358)       # fx.csv 2024-07-24
    assert any(e["name"].startswith("fx CNY->USD") for e in d["explain"])


def test_defaults_and_fx_override_files(tmp_path) -> None:
    dfile = tmp_path / "d.csv"
    dfile.write_text("name,value,source\nutilisation,0.5,my survey\n", encoding="utf-8")
    jfile = tmp_path / "d.json"
    jfile.write_text(json.dumps({"pue": {"value": 1.2, "source": "our site"}, "life_years": 4}), encoding="utf-8")
    fx = tmp_path / "fx.csv"
    fx.write_text("date,base,quote,rate,source\n2026-06-19,USD,CNY,7.0,my bank\n", encoding="utf-8")
    d = run_json("cost", *MODEL, "--hardware", "h20", "--defaults", str(dfile), "--currency", "USD", "--fx", str(fx))
    ex = {e["name"]: e for e in d["explain"]}
    assert ex["utilisation"]["value"] == 0.5 and "my survey" in ex["utilisation"]["source"]
    d2 = run_json("cost", *MODEL, "--hardware", "h20", "--defaults", str(jfile))
    ex2 = {e["name"]: e for e in d2["explain"]}
    assert ex2["pue"]["value"] == 1.2 and "our site" in ex2["pue"]["source"] and ex2["life_years"]["value"] == 4
    d3 = run_json("cost", *MODEL, "--hardware", "h20", "--currency", "USD", "--fx", str(fx),
                  "--lease-cny-gpu-hour", "7")
    assert d3["chips"][0]["lease_rate"] == pytest.approx(1.0)


def test_lease_json_by_hand_consistency() -> None:
    d = run_json("lease", "--server", "cn_h20_141gb_server_leiphone", "--lease-cny-server-month", "60000",
                 "--term-months", "36", "--target-irr", "0.15")
    assert d["server_price"] == 1.28e6 and d["rent_per_server_month"] == 60000 and d["term_months"] == 36
    le = d["lessor"]
    cf = le["cashflows"]
    assert cf[0] == -1.28e6 and len(cf) == 37
    assert cf[1] == pytest.approx(60000 - d["opex_per_server_month"])
    assert le["irr_annual"] > 0.15 and le["npv"] > 0 and 0 < le["payback_months"] < 36
    assert d["rent_for_target_irr"] < 60000
    # the rent for the target IRR gives that IRR
    again = run_json("lease", "--server", "cn_h20_141gb_server_leiphone", "--lease-cny-server-month",
                     str(d["rent_for_target_irr"]), "--term-months", "36")
    assert again["lessor"]["irr_annual"] == pytest.approx(0.15, abs=1e-6)


def test_lease_tables_and_explain() -> None:
    r = runner.invoke(app, ["lease", "--server", "h20", "--explain"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output          # H20 96GB: 7.5 CNY/GPU-h from prices.csv
    assert "Lessor economics" in r.stdout and "IRR" in r.stdout and "brian8808" in r.stdout


def test_fairprice_round_trip_and_verdict() -> None:
    d = run_json("fairprice", "-m", "deepseek-ai/DeepSeek-R1", "--option", "cn_h20_141gb_server_leiphone",
                 "--vs", "cn_h200_8gpu_machine_2026", "--workload", "chat")
    res = d["result"]
    assert d["vs_price"] == 1.5e6
    assert res["x_blended_per_mtok_at_fair"] == pytest.approx(res["y_blended_per_mtok"], rel=1e-9)
    assert res["x_asked_price"] == 1.28e6 and res["verdict"]
    grid = res["grid"]
    assert len(grid["utilisation"]) * len(grid["electricity_per_kwh"]) == 20


def test_fairprice_hypothetical_chip_and_mix() -> None:
    d = run_json("fairprice", *MODEL, "--option", "h20", "--option-speed", "0.8", "--option-price-ratio", "0.6",
                 "--vs", "h20", "--mix", "chat:0.7,reasoning:0.3")
    res = d["result"]
    assert [m["weight"] for m in d["mix"]] == pytest.approx([0.7, 0.3])
    assert d["option_tok_s_per_gpu"][0] == pytest.approx(0.8 * d["vs_tok_s_per_gpu"][0])
    assert res["x_asked_price"] == pytest.approx(0.6 * d["vs_price"])
    # power and hosting do not scale with the price: a 20 % slower chip is worth < 80 %
    assert res["fair_price"] < 0.8 * d["vs_price"]
    r = runner.invoke(app, ["fairprice", *MODEL, "--option", "h20", "--option-speed", "0.8", "--vs", "h20",
                            "--grid-utilisation", "0.5,0.9", "--grid-electricity", "0.4,0.8"])
    assert r.exit_code == 0, r.output and "Fair price of X" in r.stdout


BAD = [
    (["cost", *MODEL, "--hardware", "h20", "--currency", "EUR"], "unknown currency"),
    (["cost", *MODEL, "--hardware", "h20", "--server-price", "1 EUR 2025-01"], "unknown currency"),
    (["cost", *MODEL, "--hardware", "h20", "--server-price", "1280000 CNY"], "no date"),
    (["fairprice", *MODEL, "--option", "h20", "--vs", "h200", "--vs-price", "1500000 CNY"], "no date"),
    # declared bounds (suanli.app.params): the declaration's one message, as the API's
    (["cost", *MODEL, "--hardware", "h20", "--utilisation", "-0.2"], "--utilisation must be a finite number > 0 and <= 1"),
    (["fairprice", *MODEL, "--option", "h20", "--vs", "h200", "--utilisation", "-0.5"], "--utilisation must be"),
    (["cost", *MODEL, "--hardware", "h20", "--life-years", "0"], "--life-years must be a finite number > 0 and <= 50"),
    (["lease", "--server", "h20", "--life-years", "0"], "--life-years must be"),
    (["lease", "--server", "h20-141g"], "no lease price"),
    (["lease", "--server", "h20", "--lease-cny-gpu-hour", "7", "--lease-cny-server-month", "1"], "not both"),
    (["cost", *MODEL, "--hardware", "h20", "--fx", "/nonexistent/fx.csv"], "cannot read"),
    (["cost", *MODEL, "--hardware", "h20", "--as-of", "2019-01", "--currency", "USD",
      "--lease-cny-gpu-hour", "7"], "no CNY->USD FX rate"),
    (["fairprice", *MODEL, "--option", "h20", "--vs", "h200", "--mix", "chat:x"], "not a number"),
    (["fairprice", *MODEL, "--option", "h20", "--vs", "h200", "--workload", "poetry"], "unknown workload"),
    (["fairprice", *MODEL, "--option", "nochip", "--vs", "h200"], "nochip"),
]


@pytest.mark.parametrize("args, needle", BAD, ids=[b[1] for b in BAD])
def test_bad_input_one_line_exit_2(args, needle) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], r.stderr


def test_bad_defaults_file(tmp_path) -> None:
    f = tmp_path / "d.csv"
    f.write_text("name,value\nwarp_factor,9\n", encoding="utf-8")
    r = runner.invoke(app, ["cost", *MODEL, "--hardware", "h20", "--defaults", str(f)])
    assert r.exit_code == 2 and "unknown default 'warp_factor'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    f.write_text("name,value\npue,high\n", encoding="utf-8")
    r = runner.invoke(app, ["cost", *MODEL, "--hardware", "h20", "--defaults", str(f)])
    assert r.exit_code == 2 and "not a number" in r.stderr


def test_cost_missing_price_is_a_note_not_an_error() -> None:
    d = run_json("cost", *MODEL, "--hardware", "910b,mlu370", "--as-of", "2026-06-01")
    by = {c["hardware"]: c for c in d["chips"]}
    mlu = by["cambricon_mlu370_x8"]
    assert mlu["feasible"] and mlu["owned"] is None and mlu["leased"] is None
    assert any("no public server price" in n and "--price MLU370-X8=" in n for n in mlu["notes"]), mlu["notes"]
    # the 910B has a card price (prices.csv, 90,000 CNY, 2025-05) but no server price: 8 cards + the host
    b = by["huawei_ascend_910b"]
    q = b["server_quote"]
    assert q["basis"] == "card x 8 + host" and q["assumed"] and q["rumoured"]
    assert b["server_price"] == pytest.approx(8 * 90_000 + 250_000)


def test_cost_as_of_uses_prices_known_then() -> None:
    # H200: no China server price before the 8-GPU module quote of 2025-12-24 (prices.csv)
    early = run_json("cost", *MODEL, "--hardware", "h200", "--as-of", "2025-07-15")["chips"][0]
    late = run_json("cost", *MODEL, "--hardware", "h200", "--as-of", "2026-02-01")["chips"][0]
    assert early["server_price"] is None and any("no public server price" in n for n in early["notes"])
    assert late["server_price"] == pytest.approx(1.5e6)             # systems.csv cn_h200_8gpu_machine_2026
    given = run_json("cost", *MODEL, "--hardware", "mlu370", "--price", "MLU370-X8=400000 CNY 2026-03")["chips"][0]
    assert given["server_price"] == pytest.approx(400_000) and given["server_quote"]["basis"] == "given"
