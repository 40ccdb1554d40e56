"""`suanli report` (the buyer report) end to end: the JSON targets of issue 12, the seed article's
moment against today, the fair value's defining equality, the charts, and bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from suanli.app.compare import default_chips
from suanli.app.econ_context import context
from suanli.app.report import buyer_report, short_money
from suanli.cli.main import app
from suanli.econ.tco import tco_per_gpu_hour
from suanli.econ.tokens import cost_per_million_tokens
from suanli.specs.accelerator import load_hardware

runner = CliRunner()
TODAY, SEED = "2026-12-06", "2025-07-15"


def report_json(*args: str) -> dict:
    r = runner.invoke(app, ["report", *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def today() -> dict:
    return report_json("--as-of", TODAY)


@pytest.fixture(scope="module")
def seed() -> dict:
    return report_json("--as-of", SEED)


def test_every_default_chip_has_a_cost_or_says_no_public_price(today: dict) -> None:
    chips = {c["hardware"]: c for c in today["chips"]}
    assert set(default_chips(load_hardware())) <= set(chips)
    for c in chips.values():
        assert c["feasible"], c["reason"]
        has_cost = c["owned"] is not None or c["leased"] is not None
        assert has_cost or c["no_price_reason"].startswith("no public price"), c["hardware"]
        if not has_cost:
            assert "--price" in c["no_price_reason"]
        assert isinstance(c["obtainable"], bool)
        reason = c["obtainable_reason"]
        assert reason["event"] and reason["source"] and reason["text"], c["hardware"]
    # the chips of the issue that used to show "no dated server price" or a 384-chip price
    for chip in ("nvidia_l20", "huawei_ascend_910b", "huawei_ascend_910c"):
        assert chips[chip]["owned"] is not None, chip
    assert chips["huawei_ascend_910c"]["server_quote"]["basis"] == "supernode"
    assert chips["huawei_ascend_910c"]["gpus_per_server"] == 8


def test_one_fair_value(today: dict) -> None:
    f = today["fair_value"]
    assert {"value", "p10", "p90", "against", "asking", "ratio"} <= set(f)
    assert f["asking"] == pytest.approx(1_280_000)                 # the seed article's 8x H20 141GB server
    assert f["p10"] <= f["value"] <= f["p90"] or f["p10"] <= f["p90"]
    assert f["ratio"] == pytest.approx(f["asking"] / f["value"])
    chips = {c["hardware"]: c for c in today["chips"]}
    assert chips[f["against"]]["obtainable"]
    assert f["alternatives"] and min(a["fair_price"] for a in f["alternatives"]) == pytest.approx(f["value"])
    assert all(chips[a["hardware"]]["obtainable"] for a in f["alternatives"])
    assert not any(a["hardware"] == "nvidia_h20_141gb" and a["basis"] == "owned" for a in f["alternatives"])


def test_as_of_changes_what_is_obtainable_and_cites_events(today: dict, seed: dict) -> None:
    now = {c["hardware"]: c for c in today["chips"]}
    then = {c["hardware"]: c for c in seed["chips"]}
    differ = [hw for hw in now if now[hw]["obtainable"] != then[hw]["obtainable"]]
    assert "nvidia_h200_sxm" in differ
    for hw in differ:
        for side in (now[hw], then[hw]):
            r = side["obtainable_reason"]
            assert r["date"] and r["source"].startswith("http") and r["event"], (hw, r)
    assert now["nvidia_h200_sxm"]["obtainable_reason"]["date"] == "2026-01-28"
    # prices known then only: no H200 server price before December 2025
    assert then["nvidia_h200_sxm"]["server_price"] is None and now["nvidia_h200_sxm"]["server_price"] == 1.5e6
    # the H200 is not an alternative at the seed moment
    assert all(a["hardware"] != "nvidia_h200_sxm" for a in seed["fair_value"]["alternatives"])
    assert seed["as_of"] == SEED and today["as_of"] == TODAY


def test_fair_value_equalises_cost_per_million_tokens() -> None:
    """At the fair value the option's blended cost per million tokens equals the alternative's
    (computed again here from the TCO and token functions, not read from the fair value code)."""
    rep = buyer_report(as_of=TODAY)
    f = rep.fair_value
    assert f is not None and f.value is not None and f.value > 0
    x = next(c for c in rep.chips if c.hardware == "nvidia_h20_141gb").cost
    alt = next(a for a in f.alternatives if a.hardware == f.against and a.fair_price == f.value)
    assert x.tco is not None and x.prefill_share is not None
    at_fair = tco_per_gpu_hour(x.tco.inputs.with_price(f.value))
    mine = cost_per_million_tokens(at_fair.per_gpu_hour_utilised, output_tok_s_per_gpu=x.output_tok_s_per_gpu,
                                   isl=1024, osl=1024, prefill_share=x.prefill_share, currency="CNY")
    assert mine.blended_per_mtok == pytest.approx(alt.blended_per_mtok, rel=1e-9)


def test_given_price_fills_a_gap() -> None:
    d = report_json("--as-of", TODAY, "--price", "MLU370-X8=400000 CNY 2026-03", "--hardware", "mlu370,h20-141g,h20")
    mlu = next(c for c in d["chips"] if c["hardware"] == "cambricon_mlu370_x8")
    assert mlu["owned"] is not None and mlu["server_quote"]["basis"] == "given" and mlu["no_price_reason"] is None


def test_text_report_and_charts(tmp_path) -> None:
    png, html = tmp_path / "r.png", tmp_path / "r.html"
    r = runner.invoke(app, ["report", "--as-of", SEED, "--plot", str(png)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "Fair value of" in r.stdout and "x fair value" in r.stdout and "What was obtainable at 2025-07-15" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = runner.invoke(app, ["report", "--as-of", TODAY, "--plot", str(html)])
    assert r.exit_code == 0, r.output
    page = html.read_text(encoding="utf-8")
    assert "英伟达 H20 141GB" in page or json.dumps("英伟达 H20 141GB")[1:-1] in page
    assert "no leased price" in page and "Not shown" in page and "Fair value of" in page


def test_chart_figures_use_human_names(today: dict) -> None:
    from suanli.viz.report_figures import cost_figure, fair_figure

    cost = cost_figure(today)
    names = [y for t in cost["data"] for y in t["y"]]
    assert names and not any("_" in n for n in names)              # no internal ids
    assert any("英伟达 H20 141GB" in n for n in names) and any("昇腾910B" in n for n in names)
    assert any("not obtainable" in n for n in names)                # the H100 (grey market only)
    assert cost["layout"]["xaxis"]["title"]["text"].startswith("CNY per million tokens")
    leased = next(t for t in cost["data"] if t["name"] == "leased")
    h20 = names.index(next(n for n in names if "H20 141GB" in n))
    assert leased["text"][h20] == "no leased price"                 # said, not silently missing
    assert "Not shown" in cost["layout"]["annotations"][0]["text"]
    fair = fair_figure(today)
    assert fair is not None and "Fair value of" in fair["layout"]["title"]["text"]
    assert fair["layout"]["shapes"]                                  # the asking price line


@pytest.mark.parametrize("args, needle", [
    (["--as-of", "2025-13-01"], "2025-13-01"),
    (["--price", "MLU370-X8"], "expected CHIP="),
    (["--price", "nochip=1 CNY 2026-01"], "nochip"),
    (["--price", "910B=100 CNY"], "no date"),
    (["--option", "no_such_server"], "no_such_server"),
    (["--hardware", "h20,nochip"], "nochip"),
])
def test_bad_input_one_line_exit_2(args: list[str], needle: str) -> None:
    r = runner.invoke(app, ["report", *args])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], r.stderr


def test_short_money() -> None:
    assert short_money(1_280_000, "CNY") == "1.28 M¥"
    assert short_money(171_009, "CNY") == "171 k¥"
    assert short_money(1_200_000, "USD") == "$1.2 M"
    assert short_money(None, "CNY") == "–"


def test_context_default_as_of_is_today() -> None:
    import datetime
    assert context().as_of == datetime.date.today().isoformat()


def test_hardware_show_prints_the_availability_timeline() -> None:
    r = runner.invoke(app, ["hardware", "show", "H200", "--as-of", SEED, "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)["availability"]
    assert not d["status"]["obtainable"] and d["status"]["as_of"] == SEED
    assert any(e["date"] == "2026-01-28" and e["effect"] == "restricted" for e in d["timeline"])
    r = runner.invoke(app, ["hardware", "show", "H20"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "Availability in China" in r.stdout and "2025-04-09" in r.stdout


def test_compare_and_fairprice_flag_chips_not_obtainable_at_the_date() -> None:
    r = runner.invoke(app, ["compare", "-m", "Qwen/Qwen3-8B", "--hardware", "h20,h200", "--as-of", SEED,
                            "--backend", "serial", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["as_of"] == SEED and not d["availability"]["nvidia_h200_sxm"]["obtainable"]
    assert d["availability"]["nvidia_h20_96gb"]["obtainable"]
    r = runner.invoke(app, ["compare", "-m", "Qwen/Qwen3-8B", "--hardware", "h20,h200", "--as-of", SEED,
                            "--backend", "serial", "--obtainable-only", "--json"])
    assert [c["hardware"] for c in json.loads(r.stdout)["chips"]] == ["nvidia_h20_96gb"]
    r = runner.invoke(app, ["fairprice", "-m", "Qwen/Qwen3-8B", "--option", "h20", "--vs", "h100", "--as-of", TODAY,
                            "--json"])
    assert r.exit_code == 0, r.output
    assert any("Y (nvidia_h100_sxm) was not obtainable" in n for n in json.loads(r.stdout)["notes"])
