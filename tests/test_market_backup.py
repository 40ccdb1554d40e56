"""Backup and restore on both databases: a restore gives back exactly what was backed up,
a bad file changes nothing, and a backup moves data between SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json

import pytest
from test_market_helpers import TODAY, count, db_url, new_db_url, no_user_db, quotes_csv, seeded_db, write  # noqa: F401

from suanli.errors import InvalidInput
from suanli.market.backup import backup, restore
from suanli.market.db import open_db
from suanli.market.errors import DatabaseError
from suanli.market.export import export_text
from suanli.market.migrations import HEAD
from suanli.market.ingest import import_file

KINDS = ("quotes", "events", "systems", "inventories")


def _snapshot(db) -> dict[str, str]:
    return {k: export_text(db, k, "json") for k in KINDS}


def _fill(db, tmp_path) -> None:
    import_file(db, quotes_csv(tmp_path / "q.csv", range(20)), today=TODAY)
    import_file(db, write(tmp_path / "i.csv", "owner,item,quantity,unit_cost,currency,acquisition_date\n"
                                              "me,H20,3,100000,CNY,2025-01-02\n"), today=TODAY)


@pytest.mark.parametrize("name", ["b.json", "b.json.gz"])
def test_backup_then_restore_gives_back_the_same_data(seeded_db, tmp_path, name):
    _fill(seeded_db, tmp_path)
    before = _snapshot(seeded_db)
    info = backup(seeded_db, tmp_path / name)
    assert info.rows["quotes"] == count(seeded_db, "quotes")
    import_file(seeded_db, quotes_csv(tmp_path / "more.csv", range(100, 110)), today=TODAY)
    assert _snapshot(seeded_db) != before
    restore(seeded_db, tmp_path / name)
    assert _snapshot(seeded_db) == before
    # ids continue after the restored ones (sequences reset on PostgreSQL)
    assert import_file(seeded_db, quotes_csv(tmp_path / "after.csv", range(200, 203)), today=TODAY).added == 3


def test_backup_file_is_portable_json(seeded_db, tmp_path):
    backup(seeded_db, tmp_path / "b.json.gz")
    doc = json.loads(gzip.decompress((tmp_path / "b.json.gz").read_bytes()))
    assert doc["format"] == "suanli-market-backup" and doc["schema"] == HEAD
    assert len(doc["tables"]["quotes"]["rows"]) == count(seeded_db, "quotes")


@pytest.mark.parametrize(("content", "needle"), [
    ("not json", "not a suanli backup"),
    ('{"format": "other"}', "not a suanli market backup"),
    ('{"format": "suanli-market-backup", "format_version": 1, "schema": "0001", "tables": '
     '{"quotes": {"columns": ["id"], "rows": [[1]]}}}', "do not match"),
    ('{"format": "suanli-market-backup", "format_version": 1, "schema": "0000", "tables": {}}', "schema 0000"),
])
def test_bad_backup_changes_nothing(seeded_db, tmp_path, content, needle):
    before = _snapshot(seeded_db)
    with pytest.raises(DatabaseError, match=needle):
        restore(seeded_db, write(tmp_path / "bad.json", content))
    assert _snapshot(seeded_db) == before


def test_restore_refused_by_a_constraint_changes_nothing(seeded_db, tmp_path):
    backup(seeded_db, tmp_path / "b.json")
    doc = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    doc["tables"]["quotes"]["rows"][0][doc["tables"]["quotes"]["columns"].index("price")] = -1
    before = _snapshot(seeded_db)
    with pytest.raises(DatabaseError, match="refused"):
        restore(seeded_db, write(tmp_path / "neg.json", json.dumps(doc)))
    assert _snapshot(seeded_db) == before


def test_missing_file_and_directory(seeded_db, tmp_path):
    with pytest.raises(DatabaseError, match="no backup file"):
        restore(seeded_db, tmp_path / "none.json")
    with pytest.raises(InvalidInput, match="does not exist"):  # a bad output path is the user's input
        backup(seeded_db, tmp_path / "no" / "dir" / "b.json")


def test_backup_moves_between_sqlite_and_postgresql(tmp_path):
    src_url, _ = new_db_url("sqlite", tmp_path)
    dst_url, cleanup = new_db_url("postgresql", tmp_path)
    try:
        src, dst = open_db(src_url), open_db(dst_url)
        _fill(src, tmp_path)
        backup(src, tmp_path / "x.json")
        restore(dst, tmp_path / "x.json")
        assert _snapshot(dst) == _snapshot(src)
        src.dispose()
        dst.dispose()
    finally:
        cleanup()
