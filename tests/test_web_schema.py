"""Property-based API tests with schemathesis against the app's own OpenAPI schema.

For every operation schemathesis generates requests (valid and invalid per the schema) and
checks: never a 5xx, status codes and content types the schema declares, and bodies that
conform to the declared response schema.  Write endpoints are called with the token.

Not checked: "schema-valid data must be accepted" -- a request can be schema-valid and
still name a chip that does not exist or a deployment that does not fit (422 by design).

Bounded: ``SUANLI_SCHEMA_EXAMPLES`` examples per operation (default 15), so the whole run
takes about a minute on the project's 2-core machine.
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

TOKEN = "schema-test-token"
EXAMPLES = int(os.environ.get("SUANLI_SCHEMA_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def web_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db: Path = tmp_path_factory.mktemp("schema") / "market.sqlite3"
    mp = pytest.MonkeyPatch()
    mp.setenv("SUANLI_DATABASE_URL", f"sqlite:///{db}")
    for var in ("SUANLI_HARDWARE_PATH", "SUANLI_SYSTEMS_PATH", "SUANLI_CORS_ORIGINS"):
        mp.delenv(var, raising=False)
    from suanli.web import create_app

    app = create_app(api_token=TOKEN, warm=False)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    mp.undo()


schema = schemathesis.pytest.from_fixture("web_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           excluded_checks=[positive_data_acceptance])
