"""Regression tests of issue 11 for the command line: each failure found by the attack
(data loss, tracebacks, "exit 0 with nonsense") reproduced here on the database backends
where it matters.  Every bad input must be exit code 2 with exactly one line
``error: ...`` on stderr (an import may list its bad rows before it), never a traceback,
and must leave the database and every existing file as they were."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from test_market_helpers import QUOTES_HEADER, TODAY, db_url, no_user_db, quote_line, write  # noqa: F401
from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()
QWEN8 = ["-m", "Qwen/Qwen3-8B", "--hardware", "H20"]
SERVER = "cn_h20_141gb_server_leiphone"


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


def ok(*args: str) -> tuple[str, str]:
    code, out, err = run(*args)
    assert code == 0, (out, err)
    return out, err


def bad(*args: str, needles: tuple[str, ...] = ()) -> str:
    """Exit 2, one line ``error: ...`` (containing every needle), no traceback."""
    code, out, err = run(*args)
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.splitlines()
    assert lines and lines[-1].startswith("error: "), err
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    return lines[-1]


def _sqlite_file(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite") else None


# --- data loss --------------------------------------------------------------------------------

@pytest.fixture
def live_db(db_url: str) -> str:  # noqa: F811
    ok("db", "init", "--db", db_url)
    return db_url


def _quotes_json(db: str) -> list:
    return json.loads(ok("market", "quotes", "--db", db, "--json")[0])


def test_backup_refuses_to_overwrite_the_database(live_db: str, tmp_path: Path, monkeypatch) -> None:
    before = _quotes_json(live_db)
    path = _sqlite_file(live_db)
    if path is None:
        pytest.skip("a server database has no file to overwrite")
    monkeypatch.chdir(path.parent)
    link = tmp_path / "link.json"
    link.symlink_to(path)
    alias = tmp_path / "alias.json"
    os.link(path, alias)                      # the same file under a name with the right extension
    for target in (path, Path(path.name), link, alias, Path(f"{path}-wal")):
        bad("db", "backup", str(target), "--db", live_db)
    bad("db", "backup", str(link), "--db", live_db, needles=("market database",))
    assert _quotes_json(live_db) == before     # still a working database with the same rows
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"


def test_export_refuses_to_overwrite_the_database(live_db: str, tmp_path: Path) -> None:
    before = _quotes_json(live_db)
    path = _sqlite_file(live_db)
    if path is None:
        pytest.skip("a server database has no file to overwrite")
    link = tmp_path / "q.csv"
    link.symlink_to(path)
    bad("market", "export", "--kind", "quotes", "--out", str(path), "--db", live_db)
    bad("market", "export", "--kind", "quotes", "--out", str(link), "--db", live_db, needles=("market database",))
    bad("market", "export", "--kind", "all", "--format", "json", "--out", str(tmp_path / "x.csv"), "--db", live_db,
        needles=("must end in .json",))
    assert _quotes_json(live_db) == before


@pytest.mark.parametrize("name", ["out.txt", "out.sqlite3", "out.csv", "out.json.zip"])
def test_backup_needs_a_json_name(live_db: str, tmp_path: Path, name: str) -> None:
    bad("db", "backup", str(tmp_path / name), "--db", live_db, needles=(".json",))
    assert not (tmp_path / name).exists()
    for good in ("b.json", "b.json.gz", "B.JSON"):
        ok("db", "backup", str(tmp_path / good), "--db", live_db)


@pytest.mark.skipif(os.name != "posix", reason="POSIX resource limits")
@pytest.mark.parametrize("command", [["market", "export", "--kind", "all", "--out", "old.json"], ["db", "backup", "old.json"]])
def test_a_failed_write_leaves_the_existing_file_whole(tmp_path: Path, command: list[str]) -> None:
    """The export was written in place: a full disk left a truncated file."""
    import resource  # noqa: F401  (POSIX)

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env.pop("SUANLI_DATABASE_URL", None)
    init = subprocess.run([sys.executable, "-m", "suanli", "db", "init"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    old = tmp_path / command[-1]
    old.write_text("precious\n")
    # a 40 kB file size limit (the SQLite -shm file needs 32 kB): like a full disk, the ~80 kB write fails part-way
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000)); from suanli.cli.main import main; "
            "sys.argv = ['suanli', *sys.argv[1:]]; main()")
    done = subprocess.run([sys.executable, "-c", code, *command], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: cannot write")
    assert old.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["xdg", old.name])   # no temporary file left


def test_a_file_that_is_not_a_database_is_one_line_and_left_untouched(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SUANLI_DATABASE_URL", raising=False)  # `serve --db` sets it for its workers
    notes = tmp_path / "notes.db"
    notes.write_text("my notes, not a database\n")
    for args in (["market", "quotes"], ["db", "init"], ["market", "index", "--chip", "H20"]):
        bad(*args, "--db", str(notes), needles=("not a database",))
    assert notes.read_text() == "my notes, not a database\n"
    code, out, err = run("serve", "--db", str(notes))
    assert code == 2 and "not a SQLite database" in err and notes.read_text() == "my notes, not a database\n"
    assert "SUANLI_DATABASE_URL" not in os.environ    # a refused serve leaves the environment alone


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_files_are_private_or_readable_whatever_the_umask(tmp_path: Path) -> None:
    """Under umask 000 the data directory was 0777 and exports 0666."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    env.pop("SUANLI_DATABASE_URL", None)
    code = ("import os, sys; os.umask(0); from suanli.cli.main import main; sys.argv = ['suanli', *sys.argv[1:]]; "
            "main()")
    for args in (["db", "init"], ["market", "export", "--out", "q.csv"], ["db", "backup", "b.json"],
                 ["market", "export", "--kind", "all", "--out", "all.json"]):
        done = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)
    data = tmp_path / "xdg" / "suanli"
    assert mode(tmp_path / "xdg") == 0o700 and mode(data) == 0o700
    assert mode(data / "market.sqlite3") == 0o600
    assert mode(tmp_path / "q.csv") == 0o644 and mode(tmp_path / "all.json") == 0o644
    assert mode(tmp_path / "b.json") == 0o600          # a backup holds the whole database


# --- tracebacks -------------------------------------------------------------------------------

def test_bursty_simulation_with_a_tiny_cv() -> None:
    bad("simulate", *QWEN8, "--request-rate", "0.2", "--requests", "100", "--arrival", "bursty",
        "--burst-cv", "1e-300", needles=("--burst-cv",))


def test_lease_term_is_bounded() -> None:
    bad("lease", "--server", SERVER, "--lease-cny-server-month", "70000", "--term-months", "100000000",
        needles=("--term-months",))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
def test_dealer_price_must_be_finite(value: str) -> None:
    bad("dealer", "plan", "--units", "10", "--unit-cost", "120000", "--financing-rate", "0.06", "--price", value,
        "--weekly-sell-capacity", "4", needles=("--price", "finite"))


@pytest.mark.parametrize("args", [
    ["predict", *QWEN8, "--isl", "nan"],
    ["compare", "-m", "Qwen/Qwen3-8B", "--ttft-ms", "inf", "--hardware", "H20"],
    ["dealer", "plan", "--units", "10", "--unit-cost", "1e5", "--financing-rate", "0.06", "--price", "1000",
     "--weekly-sell-capacity", "4", "--storage-cost", "inf", "--paths", "3"],
])
def test_no_command_takes_a_number_that_is_not_finite(args: list[str]) -> None:
    bad(*args, needles=("finite",))


def test_json_nested_too_deeply_is_malformed_json(tmp_path: Path) -> None:
    deep = "[" * 5000 + "]" * 5000
    f = write(tmp_path / "deep.json", deep)
    (tmp_path / "m").mkdir()
    write(tmp_path / "m" / "config.json", deep)
    db = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    for args in (["db", "restore", f, "--db", db], ["market", "import", f, "--db", db],
                 ["predict", "-m", tmp_path / "m", "--hardware", "H20"],
                 ["predict", *QWEN8, "--hardware-file", f], ["cost", *QWEN8, "--defaults", f],
                 ["dealer", "plan", "--weekly-sell-capacity", "4", "--price", "100", "--inventory", f]):
        bad(*args, needles=("nested too deeply",))


# --- accepted nonsense ------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--lease-cny-server-month", "-100"],
    ["--lease-cny-server-month", "0"],
    ["--lease-cny-gpu-hour", "-1"],
])
def test_lease_rent_must_be_positive(args: list[str]) -> None:
    bad("lease", "--server", SERVER, *args, needles=("> 0",))


def test_compare_rejects_an_unknown_precision_instead_of_a_table_row() -> None:
    bad("compare", "-m", "Qwen/Qwen3-8B", "--weight-dtype", "foo", "--hardware", "H20", needles=("'foo'",))
    bad("compare", "-m", "Qwen/Qwen3-8B", "--kv-dtype", "int3", "--hardware", "H20", needles=("'int3'",))


@pytest.mark.parametrize("value", ["", " , "])
def test_an_empty_hardware_list_is_not_the_default_list(value: str) -> None:
    bad("compare", "-m", "Qwen/Qwen3-8B", "--hardware", value, needles=("--hardware", "empty"))
    bad("cost", "-m", "Qwen/Qwen3-8B", "--hardware", value, needles=("--hardware", "empty"))


def test_market_index_of_an_unknown_chip_or_currency(live_db: str) -> None:
    bad("market", "index", "--chip", "NOPE", "--db", live_db, needles=("'NOPE'",))
    bad("market", "index", "--chip", "H20", "--currency", "ZZZ", "--db", live_db, needles=("currency 'ZZZ'",))
    out, _ = ok("market", "index", "--chip", "B200", "--db", live_db)    # a catalog chip: an index, maybe empty
    assert "B200" in out


def test_predict_sizes_are_bounded_like_the_web() -> None:
    bad("predict", *QWEN8, "--gpus", "99999999", needles=("--gpus", "4096"))
    bad("predict", *QWEN8, "--concurrency", "1e9", needles=("--concurrency",))
    bad("predict", *QWEN8, "--request-rate", "1e9", needles=("--request-rate",))
    bad("simulate", *QWEN8, "--request-rate", "1", "--gpus", "99999999", needles=("--gpus",))


def test_import_of_a_missing_file_is_not_a_bad_row(tmp_path: Path) -> None:
    line = bad("market", "import", str(tmp_path / "missing.csv"), "--db", f"sqlite:///{tmp_path / 'x.sqlite3'}",
               needles=("missing.csv",))
    assert "bad row" not in line and "No such file" in line


def test_lease_typo_suggests_servers() -> None:
    line = bad("lease", "--server", SERVER[:-1], "--lease-cny-server-month", "70000")
    assert SERVER in line and line.index(SERVER) < line.index("nvidia_")


def test_loosely_written_chip_names_say_which_chip(tmp_path: Path) -> None:
    _, err = ok("predict", "-m", "Qwen/Qwen3-8B", "--hardware", "h-20", "--json")
    assert "'h-20' read as nvidia_h20_96gb" in err
    _, err = ok("predict", "-m", "Qwen/Qwen3-8B", "--hardware", "H20", "--json")
    assert "read as" not in err                     # an exact alias needs no note
    _, err = ok("hardware", "show", "h_20", "--json")
    assert "read as nvidia_h20_96gb" in err


def test_trace_with_a_byte_order_mark(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_bytes(b"\xef\xbb\xbftimestamp,isl,osl\n0,128,16\n0.5,128,16\n1.0,256,16\n")
    out, _ = ok("simulate", *QWEN8, "--trace", str(trace), "--json")
    assert json.loads(out)["requests"] == 3


def test_large_bad_import_is_streamed_and_reports_the_first_hundred(tmp_path: Path) -> None:
    """563,751 bad rows took 35 s and 1.07 GB and printed every row; 20,000 here."""
    rows = 20_000
    f = tmp_path / "bad.csv"
    with f.open("w") as out:
        out.write(QUOTES_HEADER)
        for i in range(rows):
            out.write(quote_line(i).replace(f",{100000 + i},", f",abc{i},"))
    db = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    ok("db", "init", "--db", db)
    tracemalloc.start()
    code, out, err = run("market", "import", str(f), "--db", db, "--today", TODAY.isoformat())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert code == 2 and "Traceback" not in err
    lines = err.splitlines()
    assert lines[-1] == f"error: bad.csv: rejected, nothing written ({rows:,} bad rows)"
    assert len(lines) == 102 and "19,900 more" in lines[-2]          # 100 rows, the rest counted, the error
    assert peak < 30 * 2**20, peak / 2**20                           # ~0.2 MB per 1,000 rows before
    code, out, _ = run("market", "import", str(f), "--db", db, "--today", TODAY.isoformat(), "--json")
    doc = json.loads(out)
    assert code == 2 and doc["bad_rows"] == rows and len(doc["problems"]) == 100
    assert doc["problems"][0]["line"] == 2 and doc["problems"][-1]["line"] == 101


# --- operations -------------------------------------------------------------------------------

@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    calls: list[dict] = []
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append(k))
    monkeypatch.delenv("SUANLI_API_TOKEN", raising=False)
    monkeypatch.delenv("SUANLI_DATABASE_URL", raising=False)  # restored after `serve --db` set it
    return calls


def test_serve_on_a_public_address_says_writes_are_off(no_uvicorn, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SUANLI_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    _, err = ok("serve", "--host", "0.0.0.0")
    assert "SUANLI_API_TOKEN is not set" in err and no_uvicorn
    _, err = ok("serve")
    assert "SUANLI_API_TOKEN" not in err       # loopback: nothing to say


def test_serve_warns_about_a_short_token(no_uvicorn, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SUANLI_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setenv("SUANLI_API_TOKEN", "x")
    _, err = ok("serve")
    assert "only 1 character" in err
    monkeypatch.setenv("SUANLI_API_TOKEN", "a-long-enough-random-token-0123456789")
    _, err = ok("serve", "--host", "0.0.0.0")
    assert "SUANLI_API_TOKEN" not in err


def test_a_sqlite_url_that_does_not_exist_yet_is_fine_to_serve(no_uvicorn, tmp_path: Path) -> None:
    ok("serve", "--db", str(tmp_path / "new.sqlite3"))
    assert not (tmp_path / "new.sqlite3").exists()   # nothing created before the app opens it
    sqlite3.connect(tmp_path / "real.sqlite3").execute("CREATE TABLE t (x)").connection.commit()
    ok("serve", "--db", str(tmp_path / "real.sqlite3"))
