"""Fixtures and helpers shared by the market tests (imported by each test_market_*.py).

Every database test runs twice: on a SQLite file and on PostgreSQL.  PostgreSQL comes from
``SUANLI_TEST_PG_URL`` (``scripts/ci-services.sh`` starts a server and prints it); each test
gets its own schema there (``search_path`` set in the URL), dropped afterwards.  Without the
variable the PostgreSQL half is skipped locally and *fails* under CI (``CI`` set).
"""

from __future__ import annotations

import os
import uuid
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pytest

ENV_PG = "SUANLI_TEST_PG_URL"
BACKENDS = ("sqlite", "postgresql")
TODAY = date(2026, 6, 30)   # the injected "today" of the import tests

QUOTES_HEADER = "date,item,kind,configuration,price,currency,unit,channel,region,source,confidence,notes\n"


def pg_base_url() -> str:
    url = os.environ.get(ENV_PG, "").strip()
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{ENV_PG} is not set under CI: scripts/ci-services.sh must start PostgreSQL "
                        f"and export {ENV_PG}")
        pytest.skip(f"{ENV_PG} not set (export {ENV_PG}=$(bash scripts/ci-services.sh))")
    return url


def _admin_exec(url: str, sql: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def new_db_url(backend: str, tmp_path: Path) -> tuple[str, Any]:
    """(URL of a fresh, empty database, cleanup callable)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / f'market-{uuid.uuid4().hex[:8]}.sqlite3'}", lambda: None
    base = pg_base_url()
    name = f"t_{uuid.uuid4().hex[:16]}"
    _admin_exec(base, f"CREATE SCHEMA {name}")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{name}", lambda: _admin_exec(base, f"DROP SCHEMA {name} CASCADE")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty (not yet created) database on each backend."""
    url, cleanup = new_db_url(request.param, tmp_path)
    try:
        yield url
    finally:
        cleanup()


@pytest.fixture
def db(db_url: str) -> Iterator[Any]:
    """An empty, migrated database (no bundled data)."""
    from suanli.market.db import open_db

    d = open_db(db_url, seed=False)
    try:
        yield d
    finally:
        d.dispose()


@pytest.fixture
def seeded_db(db_url: str) -> Iterator[Any]:
    """A migrated database seeded with the bundled data."""
    from suanli.market.db import open_db

    d = open_db(db_url)
    try:
        yield d
    finally:
        d.dispose()


@pytest.fixture(autouse=True)
def no_user_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never touch the real user database: the default goes to a temporary directory."""
    monkeypatch.delenv("SUANLI_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def count(db: Any, table: str) -> int:
    from sqlalchemy import func, select

    from suanli.market import schema

    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(getattr(schema, table))).scalar())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def quote_line(i: int, *, item: str = "H20", price: float | None = None, day: str = "2025-03-03",
               channel: str = "dealer") -> str:
    p = price if price is not None else 100000 + i
    return f"{day},{item},chip,card #{i},{p},CNY,per_chip,{channel},CN,https://example.test/q{i},medium,\n"


def quotes_csv(path: Path, rows: range | list[int], **kw: Any) -> Path:
    return write(path, QUOTES_HEADER + "".join(quote_line(i, **kw) for i in rows))
