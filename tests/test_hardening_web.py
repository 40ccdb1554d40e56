"""Regression tests of issue 11 for the web app, on SQLite and on PostgreSQL: no input is a
5xx; a control character in any text parameter is a 422 naming the field; the token comes
before the body; the status endpoint does not tell strangers where the database is.

The control-character probe walks every route the app serves (JSON API and pages), so a
route added later is probed too."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import pytest

pytest.importorskip("fastapi")

from fastapi.routing import APIRoute  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from test_market_helpers import BACKENDS, new_db_url  # noqa: E402

from suanli.web import create_app  # noqa: E402

TOKEN = "hardening-test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
CONTROL = ["a\x00b", "\x00", "x\x01", "tab\there", "line\nbreak", "del\x7f", "c1\x85"]


@pytest.fixture(scope="module", params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    mp = pytest.MonkeyPatch()
    for var in ("SUANLI_API_TOKEN", "SUANLI_CORS_ORIGINS", "SUANLI_HARDWARE_PATH", "SUANLI_SYSTEMS_PATH",
                "SUANLI_DATABASE_URL"):
        mp.delenv(var, raising=False)
    url, cleanup = new_db_url(request.param, tmp_path_factory.mktemp("web"))
    try:
        app = create_app(url, api_token=TOKEN, warm=False)
        with TestClient(app, raise_server_exceptions=False) as c:
            yield c
        db = getattr(app.state, "market_db", None)
        if db is not None:
            db.dispose()  # before the schema is dropped
    finally:
        mp.undo()
        cleanup()


def envelope(r: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert "Traceback" not in r.text
    if field is not None:
        assert body["error"]["details"].get("field") == field, body
    return body["error"]


# --- control characters, every parameter of every route -------------------------------------

def _names(params: Any) -> list[str]:
    out = []
    for p in params:
        model = getattr(getattr(p, "field_info", None), "annotation", None)
        if isinstance(model, type) and issubclass(model, BaseModel):  # a query model: its fields
            out += [f.alias or name for name, f in model.model_fields.items()]
        else:
            out.append(p.alias)
    return out


def _params(dependant: Any) -> tuple[list[str], list[str]]:
    query, path = _names(dependant.query_params), _names(dependant.path_params)
    for sub in dependant.dependencies:
        q, p = _params(sub)
        query, path = query + q, path + p
    return query, path


def _api_routes(router: Any) -> Iterator[APIRoute]:
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps included routers whole
            yield from _api_routes(route.original_router)


def _routes(client: TestClient) -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path template, path parameters, query parameters) of every route."""
    out = []
    for route in _api_routes(client.app.router):
        query, path = _params(route.dependant)
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, route.path, path, list(dict.fromkeys(query))))
    return out


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "H20"), template)


def test_the_probe_sees_the_routes_that_failed(client: TestClient) -> None:
    seen = {(m, p): q for m, p, _, q in _routes(client)}
    assert {"item", "region"} <= set(seen[("GET", "/api/market/quotes")])
    assert {"model", "hardware"} <= set(seen[("GET", "/api/predict")])
    assert "chip" in seen[("GET", "/market")] and "name" in seen[("GET", "/api/calibration")]
    assert ("GET", "/api/market/index/{chip}") in seen and len(seen) > 25


def test_control_characters_in_any_parameter_are_a_422_naming_it(client: TestClient) -> None:
    """A NUL in a text parameter was a 500 on PostgreSQL (and stored or searched for on SQLite)."""
    checked = 0
    for method, template, path_params, query in _routes(client):
        headers = {**AUTH, "accept": "application/json"}
        for name in query:
            for value in CONTROL[:3]:
                r = client.request(method, _fill(template, {}), params={name: value}, headers=headers)
                envelope(r, 422, name)
                checked += 1
        for name in path_params:
            url = _fill(template, {name: quote("a\x00b", safe="")})
            envelope(client.request(method, url, headers=headers), 422, name)
            checked += 1
    assert checked > 300


@pytest.mark.parametrize("value", CONTROL)
def test_market_text_filters_with_control_characters(client: TestClient, value: str) -> None:
    for path, name in (("/api/market/quotes", "item"), ("/api/market/quotes", "region"), ("/api/market/events", "chip"),
                       ("/api/market/inventories", "owner"), ("/api/calibration", "name")):
        envelope(client.get(path, params={name: value}), 422, name)
    envelope(client.get("/market", params={"chip": value, "format": "json"}), 422, "chip")
    envelope(client.get(f"/api/market/index/{quote(value, safe='')}"), 422, "chip")


def test_a_control_character_in_a_posted_name_is_refused(client: TestClient) -> None:
    profile = {"name": "ok", "params": {"compute": 0.5}, "date": "2025-01-01", "source": "test"}
    for field in ("name", "source", "engine", "hardware", "model"):
        err = envelope(client.post("/api/calibration", json={**profile, field: "a\u0000b"}, headers=AUTH), 422)
        assert err["details"]["field"] == field
    envelope(client.post("/api/calibration", json={**profile, "params": {"a\u0000": 1.0}}, headers=AUTH), 422,
             "params")
    assert client.get("/api/calibration").json() == []


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_calibration_parameters_must_be_finite(client: TestClient, raw: str) -> None:
    body = '{"name": "p", "params": {"x": %s}, "date": "2025-01-01", "source": "s"}' % raw
    err = envelope(client.post("/api/calibration", content=body, headers={**AUTH, "content-type": "application/json"}),
                   422, "params")
    assert "finite" in err["message"]
    assert client.get("/api/calibration", params={"name": "p"}).json() == []


def test_upload_with_nul_in_cells_is_rejected_not_a_500(client: TestClient) -> None:
    csv = ("date,item,kind,configuration,price,currency,unit,channel,region,source,confidence,notes\n"
           "2025-03-03,H\x0020,chip,x,100,CNY,per_chip,dealer,CN,s\x00,medium,n\x00\n").encode()
    err = envelope(client.post("/api/market/imports", files={"file": ("q.csv", csv, "text/csv")}, headers=AUTH), 422)
    assert err["code"] == "import_rejected"


# --- other 5xx --------------------------------------------------------------------------------

def test_deeply_nested_json_upload(client: TestClient) -> None:
    deep = ("[" * 3000 + "]" * 3000).encode()
    err = envelope(client.post("/api/market/imports", files={"file": ("x.json", deep)}, headers=AUTH), 422, "file")
    assert "nested too deeply" in err["message"]
    r = client.post("/api/calibration", content=deep, headers={**AUTH, "content-type": "application/json"})
    assert 400 <= r.status_code < 500


def test_bursty_simulation_with_a_tiny_cv(client: TestClient) -> None:
    r = client.get("/api/simulate", params={"model": "Qwen/Qwen3-8B", "hardware": "H20", "request_rate": 0.2,
                                            "arrival": "bursty", "burst_cv": 1e-300, "requests": 100})
    envelope(r, 422, "burst_cv")


def test_unknown_chip_index_is_404(client: TestClient) -> None:
    envelope(client.get("/api/market/index/NOPE"), 404, "chip")
    assert client.get("/api/market/index/H20").status_code == 200


# --- security and operations ------------------------------------------------------------------

def test_the_token_is_checked_before_the_body(client: TestClient) -> None:
    for body in ('{"name": ', "[]", "not json"):
        r = client.post("/api/calibration", content=body, headers={"content-type": "application/json"})
        envelope(r, 401)
        r = client.post("/api/calibration", content=body,
                        headers={"content-type": "application/json", "authorization": "Bearer wrong"})
        envelope(r, 403)
    envelope(client.post("/api/market/imports", content=b"--x\r\nbroken", headers={
        "content-type": "multipart/form-data; boundary=x"}), 401)
    envelope(client.post("/api/calibration", content='{"name": ', headers={**AUTH, "content-type": "application/json"}),
             422)


def test_status_shows_the_location_only_to_token_holders(client: TestClient) -> None:
    public = client.get("/api/market/status").json()
    assert "location" not in public and "url" not in public and public["rows"]["quotes"] > 0
    assert "127.0.0.1" not in json.dumps(public) and "sqlite" not in json.dumps(public).replace('"sqlite"', "")
    assert "location" not in client.get("/api/market/status", headers={"authorization": "Bearer wrong"}).json()
    private = client.get("/api/market/status", headers=AUTH).json()
    assert private["location"] and private["url"]


def test_a_database_that_is_not_one_is_an_envelope_not_a_500(tmp_path: Path, monkeypatch) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("not a database\n")
    monkeypatch.delenv("SUANLI_DATABASE_URL", raising=False)
    c = TestClient(create_app(str(notes), warm=False), raise_server_exceptions=False)
    for path in ("/api/market/quotes", "/api/market/status", "/market?format=json"):
        err = envelope(c.get(path), 503)
        assert str(tmp_path) not in err["message"]          # the path is for the operator's log only
    assert notes.read_text() == "not a database\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_driver_errors_from_raw_cursors_are_typed(backend: str, tmp_path: Path) -> None:
    """The price index reads through the driver's cursor: a value PostgreSQL refuses was the
    driver's own exception there (a 500 in the web, a traceback in the CLI)."""
    from suanli.market.db import open_db
    from suanli.market.errors import ValueRefused
    from suanli.market.index import price_index

    url, cleanup = new_db_url(backend, tmp_path)
    db = open_db(url, seed=False)
    try:
        if backend == "postgresql":
            with pytest.raises(ValueRefused, match="refused a value"):
                price_index(db, "a\x00b")
        else:
            assert price_index(db, "a\x00b").series == {}
    finally:
        db.dispose()
        cleanup()
