"""Market database: migrations, the schema's rules enforced by the database itself (not
only by Python), URL handling, SQLite settings, seeding from the bundled data."""

from __future__ import annotations

import csv
import warnings
from contextlib import contextmanager
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from test_market_helpers import count, db, db_url, no_user_db, seeded_db  # noqa: F401

from suanli.market import schema
from suanli.market.db import open_db, resolve_url, schema_version
from suanli.market.errors import DatabaseError, ValueRefused
from suanli.market.migrations import HEAD, script_head

BUNDLE = Path(str(files("suanli") / "data" / "market"))

GOOD_QUOTE = dict(date="2025-01-06", date_precision="day", item="H20", chip="H20", kind="chip", term="",
                  configuration="", price=100000.0, currency="CNY", unit="per_chip", channel="dealer", region="CN",
                  source="s", confidence="medium", notes="")


def _raw_insert(db, table: str, row: dict) -> None:
    """Bypass Python validation: a literal INSERT with bound parameters."""
    cols = ", ".join(row)
    params = ", ".join(f":{k}" for k in row)
    with db.write() as conn:
        conn.execute(text(f"INSERT INTO {table} ({cols}) VALUES ({params})"), row)


# --- migrations -----------------------------------------------------------------------------

def test_head_constant_matches_alembic_scripts():
    assert script_head() == HEAD


def test_migrations_ship_inside_the_package():
    root = files("suanli.market") / "migrations"
    assert (root / "env.py").is_file()
    assert any(p.name.startswith(f"{HEAD}_") for p in (root / "versions").iterdir())


def test_migrated_schema_matches_the_code(db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLite cannot reflect expression indexes
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), schema.metadata)
    assert diff == []


def test_check_constraints_match_the_code(db):
    insp = inspect(db.engine)
    for table in schema.metadata.sorted_tables:
        expected = {c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"}
        found = {c["name"] for c in insp.get_check_constraints(table.name)}
        assert expected <= found, (table.name, expected - found)


def test_version_recorded_and_reopen_is_a_no_op(db_url):
    d1 = open_db(db_url)
    with d1.read() as conn:
        assert schema_version(conn) == HEAD
    n = count(d1, "quotes")
    d1.dispose()
    d2 = open_db(db_url)
    assert count(d2, "quotes") == n
    d2.dispose()


def test_newer_schema_is_refused(db):
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(DatabaseError, match="newer than this suanli"):
        open_db(db.url, seed=False)


# --- seeding ----------------------------------------------------------------------------------

def _csv_rows(name: str) -> int:
    with open(BUNDLE / name, encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


def test_first_use_seeds_the_bundled_data(seeded_db):
    assert count(seeded_db, "quotes") == _csv_rows("prices.csv") + _csv_rows("prices-research.csv")
    assert count(seeded_db, "events") == _csv_rows("events.csv") + _csv_rows("events-research.csv")
    assert count(seeded_db, "systems") == _csv_rows("systems.csv")
    assert count(seeded_db, "currencies") == len(schema.CURRENCIES)


def test_bundle_is_a_copy_of_the_shared_data():
    provenance = (BUNDLE / "PROVENANCE.md").read_text(encoding="utf-8")
    import hashlib
    for name in ("prices.csv", "events.csv", "systems.csv"):
        digest = hashlib.sha256((BUNDLE / name).read_bytes()).hexdigest()
        assert digest in provenance, f"{name} changed: update PROVENANCE.md"


def test_seeded_module_and_server_rows(seeded_db):
    from suanli.market.query import quotes

    rows = quotes(seeded_db, item="H20", kind="module")
    assert {q.price for q in rows} == {880000.0, 1050000.0}
    assert all(q.gpus == 8 and q.unit == "per_module" for q in rows)
    leiphone = quotes(seeded_db, item="H20 server")
    assert len(leiphone) == 1 and leiphone[0].chip == "H20" and leiphone[0].gpus == 8


# --- rules in the database --------------------------------------------------------------------

@contextmanager
def constraint_fails() -> Iterator[None]:
    """The database refuses the write with a constraint error (reported as ValueRefused)."""
    with pytest.raises(ValueRefused) as info:
        yield
    assert isinstance(info.value.orig, IntegrityError), info.value

@pytest.mark.parametrize("missing", ["currency", "unit", "date", "price"])
def test_no_price_without_currency_unit_date(db, missing):
    row = {k: v for k, v in GOOD_QUOTE.items() if k != missing}
    with constraint_fails():
        _raw_insert(db, "quotes", row)
    assert count(db, "quotes") == 0


@pytest.mark.parametrize(("column", "value"), [
    ("currency", "XYZ"),        # foreign key to currencies
    ("price", 0.0), ("price", -5.0),
    ("kind", "spaceship"), ("channel", "smuggler"), ("unit", "per_ton"), ("confidence", "sure"),
    ("date_precision", "week"), ("source", ""), ("item", ""),
])
def test_check_and_foreign_key_constraints(db, column, value):
    with constraint_fails():
        _raw_insert(db, "quotes", {**GOOD_QUOTE, column: value})


def test_same_observation_is_stored_once(db):
    _raw_insert(db, "quotes", GOOD_QUOTE)
    with constraint_fails():
        _raw_insert(db, "quotes", {**GOOD_QUOTE, "notes": "same observation, other notes", "confidence": "low"})
    _raw_insert(db, "quotes", {**GOOD_QUOTE, "price": 100001.0})  # another observation
    assert count(db, "quotes") == 2


def test_inventory_and_system_rules(db):
    lot = dict(owner="a", item="H20", kind="chip", configuration="", gpus=1, quantity=10, unit_cost=1.0,
               currency="CNY", acquisition_date=date(2025, 1, 1), financing="cash", location="", source="",
               notes="")
    with constraint_fails():
        _raw_insert(db, "inventories", {**lot, "quantity": 0})
    with constraint_fails():
        _raw_insert(db, "inventories", {**lot, "financing_rate": 1.5})
    system = dict(id="x", name="x", gpus=8, gpu_id="", cpu="", nics="", price_low=100.0, source="s", notes="",
                  date_precision="day")
    with constraint_fails():  # a price needs a currency and a date
        _raw_insert(db, "systems", system)


# --- URLs and SQLite settings ---------------------------------------------------------------

def test_default_is_sqlite_in_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = resolve_url(None)
    assert url == f"sqlite:///{tmp_path / 'data' / 'suanli' / 'market.sqlite3'}"


def test_env_and_flag_override(tmp_path, monkeypatch):
    monkeypatch.setenv("SUANLI_DATABASE_URL", "postgres://u@h/db")
    assert resolve_url(None) == "postgresql+psycopg://u@h/db"
    assert resolve_url("postgresql://u@h/x") == "postgresql+psycopg://u@h/x"
    assert resolve_url(str(tmp_path / "m.db")) == f"sqlite:///{tmp_path / 'm.db'}"
    with pytest.raises(DatabaseError, match="unsupported"):
        resolve_url("mysql://u@h/x")


def test_sqlite_runs_in_wal_with_busy_timeout_and_foreign_keys(tmp_path):
    d = open_db(str(tmp_path / "w.db"), seed=False)
    with d.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    d.dispose()


def test_unreachable_server_is_one_clear_error():
    with pytest.raises(DatabaseError, match="database"):
        open_db("postgresql://nobody@127.0.0.1:1/none")
