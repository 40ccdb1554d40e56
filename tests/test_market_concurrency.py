"""Several processes importing into one database at once, on SQLite and PostgreSQL: every
row is stored exactly once, no import fails, no row is lost, and the processes' "added"
counts add up to what is stored.  The database is new, so the processes also race to create,
migrate and seed it."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from test_market_helpers import TODAY, count, db_url, no_user_db, quotes_csv  # noqa: F401

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _import_worker(url: str, path: str, barrier: Any, results: Any) -> None:
    from suanli.app.market import import_file  # loaded before the barrier: start together

    barrier.wait(timeout=60)
    try:
        res = import_file(path, url, today=TODAY)
        results.put((path, "ok", res.added))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put((path, "error", f"{type(exc).__name__}: {exc}"))


def test_parallel_imports_store_every_row_once(db_url, tmp_path):
    files = [quotes_csv(tmp_path / "a.csv", range(0, 1500)),
             quotes_csv(tmp_path / "b.csv", range(1000, 2500)),
             quotes_csv(tmp_path / "c.csv", list(reversed(range(0, 2500)))),   # overlaps both, other order
             quotes_csv(tmp_path / "d.csv", range(2400, 3000))]
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(files))
    results = ctx.Queue()
    procs = [ctx.Process(target=_import_worker, args=(db_url, str(f), barrier, results)) for f in files]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    errors = [o for o in outcomes if o[1] != "ok"]
    assert not errors, errors
    from suanli.market.db import open_db

    d = open_db(db_url)
    try:
        assert count(d, "quotes") - _bundled(d) == 3000
        assert sum(o[2] for o in outcomes) == 3000   # each row counted as added exactly once
        assert count(d, "imports") == len(files)
    finally:
        d.dispose()


def _bundled(d: Any) -> int:
    from suanli.market.query import quotes

    return sum(1 for q in quotes(d) if not q.source.startswith("https://example.test/"))


def test_two_cli_processes_at_once(db_url, tmp_path):
    a = quotes_csv(tmp_path / "a.csv", range(0, 800))
    b = quotes_csv(tmp_path / "b.csv", range(400, 1200))
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "XDG_DATA_HOME": str(tmp_path / "xdg")}
    cmd = [sys.executable, "-m", "suanli", "market", "import", "--db", db_url, "--today", TODAY.isoformat(),
           "--json"]
    procs = [subprocess.Popen([*cmd, str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for f in (a, b)]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    import json

    added = [json.loads(out)["added"] for out, _ in outs]
    assert sum(added) == 1200
    from suanli.market.db import open_db

    d = open_db(db_url)
    try:
        assert count(d, "quotes") - _bundled(d) == 1200
    finally:
        d.dispose()
