"""`suanli market ...` and `suanli db ...` end to end on both databases: JSON shapes, files
written, and bad input as `error: ...` on stderr with exit code 2 (an import's bad rows are
listed one per line before it)."""

from __future__ import annotations

import json

import pytest
from test_market_helpers import QUOTES_HEADER, TODAY, db_url, no_user_db, quote_line, quotes_csv, write  # noqa: F401
from typer.testing import CliRunner

from suanli.cli.main import app
from suanli.market.migrations import HEAD

runner = CliRunner()


def ok(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, (r.stdout, r.stderr, r.exception)
    return r.stdout


def bad(*args: str) -> tuple[str, list[str]]:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 2, (r.stdout, r.stderr, r.exception)
    lines = r.stderr.splitlines()
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in r.stderr
    return r.stdout, lines


def test_import_query_index_export(db_url, tmp_path):
    db = ["--db", db_url]
    f = quotes_csv(tmp_path / "q.csv", range(5), day="2025-03-04", item="ZX1")
    res = json.loads(ok("market", "import", str(f), "--today", TODAY.isoformat(), "--json", *db))
    assert res["ok"] and res["added"] == 5
    assert json.loads(ok("market", "import", str(f), "--today", TODAY.isoformat(), "--json", *db))["added"] == 0
    assert "already stored" in ok("market", "import", str(f), "--today", TODAY.isoformat(), *db)

    rows = json.loads(ok("market", "quotes", "--item", "zx1", "--since", "2025-03", "--channel", "dealer",
                         "--json", *db))
    assert [r["configuration"] for r in rows] == [f"card #{i}" for i in range(5)]
    assert "quotes" in ok("market", "quotes", "--item", "H20", *db)

    evs = json.loads(ok("market", "events", "--chip", "H20", "--json", *db))
    assert evs and all("H20" in e["chips"] for e in evs)  # bundled events

    png = tmp_path / "i.png"
    idx = json.loads(ok("market", "index", "--chip", "ZX1", "--channel", "dealer", "--since", "2025-03",
                        "--until", "2025-03", "--plot", str(png), "--json", *db))
    point = idx["series"]["dealer"]["points"][0]
    assert point["week"] == "2025-03-03" and point["n"] == 5 and point["price"] == 100002
    assert png.read_bytes()[:4] == b"\x89PNG" and idx["events"] is not None
    assert "per GPU" in ok("market", "index", "--chip", "H20", "--fx", "USD=7.1", *db)

    out = tmp_path / "e.csv"
    ok("market", "export", "--kind", "quotes", "--out", str(out), *db)
    assert out.read_text(encoding="utf-8").startswith("date,item,chip,kind")
    assert ok("market", "export", "--kind", "events", *db).startswith("date,kind,description")
    assert json.loads(ok("market", "export", "--kind", "all", "--format", "json", *db)).keys() == {
        "quotes", "leases", "events", "inventories"}


def test_rejected_import_lists_every_bad_row(db_url, tmp_path):
    f = write(tmp_path / "bad.csv", QUOTES_HEADER + quote_line(1, item="ZX1")
              + "2025-03-03,H20,chip,x,abc,CNY,per_chip,dealer,CN,s,medium,\n"
              + "2025-03-03,H20,chip,x,5,XYZ,per_chip,dealer,CN,s,medium,\n")
    stdout, lines = bad("market", "import", str(f), "--today", TODAY.isoformat(), "--db", db_url)
    assert stdout == ""
    assert any("line 3:" in ln and "not a number" in ln for ln in lines)
    assert any("line 4:" in ln and "unknown currency" in ln for ln in lines)
    assert lines[-1] == "error: bad.csv: rejected, nothing written (2 bad rows)"
    r = runner.invoke(app, ["market", "import", str(f), "--json", "--today", TODAY.isoformat(), "--db", db_url])
    assert r.exit_code == 2 and [p["line"] for p in json.loads(r.stdout)["problems"]] == [3, 4]
    assert json.loads(ok("market", "quotes", "--item", "ZX1", "--json", "--db", db_url)) == []


def test_dry_run(db_url, tmp_path):
    f = quotes_csv(tmp_path / "q.csv", range(3))
    assert "would add 3" in ok("market", "import", str(f), "--dry-run", "--today", TODAY.isoformat(), "--db", db_url)
    res = json.loads(ok("market", "import", str(f), "--today", TODAY.isoformat(), "--json", "--db", db_url))
    assert res["added"] == 3


def test_db_commands(db_url, tmp_path):
    info = json.loads(ok("db", "init", "--json", "--db", db_url))
    assert info["schema"] == HEAD and info["rows"]["quotes"] > 100
    path = tmp_path / "b.json.gz"
    assert json.loads(ok("db", "backup", str(path), "--json", "--db", db_url))["rows"]["quotes"] > 100
    assert "restored" in ok("db", "restore", str(path), "--db", db_url)


def test_default_database_lives_in_the_user_data_dir(tmp_path):
    where = ok("db", "path").strip()
    assert where.endswith("suanli/market.sqlite3") and str(tmp_path) in where
    ok("market", "quotes", "--item", "H20", "--json")  # creates and seeds it on first use
    assert (tmp_path / "xdg-data" / "suanli" / "market.sqlite3").is_file()


@pytest.mark.parametrize("args", [
    ["market", "quotes", "--channel", "smuggler"],
    ["market", "quotes", "--since", "last year"],
    ["market", "events", "--kind", "rumour"],
    ["market", "index", "--chip", "H20", "--measure", "resale"],
    ["market", "index", "--chip", "H20", "--fx", "USD"],
    ["market", "index", "--chip", "H20", "--plot", "x.svg"],
    ["market", "export", "--kind", "gossip"],
    ["market", "export", "--kind", "all", "--format", "csv"],
    ["market", "import", "missing.csv"],
    ["market", "import", "x.csv", "--today", "tomorrow"],
    ["db", "restore", "missing.json"],
    ["market", "quotes", "--db", "mysql://u@h/x"],
    ["market", "quotes", "--db", "postgresql://nobody@127.0.0.1:1/none"],
])
def test_bad_input_is_one_error_line(args):
    stdout, lines = bad(*args)
    assert stdout == "" and len(lines) == 1, lines
