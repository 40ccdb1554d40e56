"""Property-based API tests with schemathesis against the app's own OpenAPI schema.

For every operation schemathesis generates requests (valid and invalid per the schema) and
checks: never a 5xx, status codes and content types the schema declares, and bodies that
conform to the declared response schema.  Write endpoints are called with the token.

Not checked: "schema-valid data must be accepted" -- a request can be schema-valid and
still name a chip that does not exist or a deployment that does not fit (422 by design).

Run twice: over a SQLite file and over PostgreSQL (``SUANLI_TEST_PG_URL``; skipped locally
without it, a failure under CI), since the two databases refuse different values.

Bounded: ``SUANLI_SCHEMA_EXAMPLES`` examples per operation (default 15), so each run takes
about a minute on the project's 2-core machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402
from test_market_helpers import new_db_url  # noqa: E402

TOKEN = "schema-test-token"
EXAMPLES = int(os.environ.get("SUANLI_SCHEMA_EXAMPLES", "15"))


def _schema(url: str) -> Any:
    from suanli.web import create_app

    app = create_app(url, api_token=TOKEN, warm=False)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module")
def _env() -> Any:
    mp = pytest.MonkeyPatch()
    for var in ("SUANLI_HARDWARE_PATH", "SUANLI_SYSTEMS_PATH", "SUANLI_CORS_ORIGINS", "SUANLI_DATABASE_URL"):
        mp.delenv(var, raising=False)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def web_schema(_env: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    db: Path = tmp_path_factory.mktemp("schema") / "market.sqlite3"
    yield _schema(f"sqlite:///{db}")


@pytest.fixture(scope="module")
def web_schema_pg(_env: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The same app over PostgreSQL (its own schema, dropped afterwards): NUL bytes and
    other values PostgreSQL refuses while SQLite stores them were 500s there."""
    url, cleanup = new_db_url("postgresql", tmp_path_factory.mktemp("schema-pg"))
    try:
        yield _schema(url)
    finally:
        cleanup()


schema = schemathesis.pytest.from_fixture("web_schema")
schema_pg = schemathesis.pytest.from_fixture("web_schema_pg")
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@schema.parametrize()
@SETTINGS
def test_api_conforms_to_its_schema(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           excluded_checks=[positive_data_acceptance])


@schema_pg.parametrize()
@SETTINGS
def test_api_conforms_to_its_schema_on_postgresql(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           excluded_checks=[positive_data_acceptance])
