"""The web API and pages through FastAPI's TestClient: shapes, twins, errors, security.

Every page has a JSON twin built from the same data; every error is one envelope
``{"error": {"code", "message", "details"}}`` with a 4xx for bad input (never a 5xx);
write endpoints need the operator's token; uploads are size-limited.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from suanli.web import create_app  # noqa: E402
from suanli.web import schemas  # noqa: E402

DATA = Path(__file__).parent / "data"
CASES = DATA / "cases-public.csv"
TOKEN = "test-token-0123456789"
QWEN = {"model": "Qwen/Qwen3-32B", "hardware": "H20"}
HTML = {"accept": "text/html"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("SUANLI_API_TOKEN", "SUANLI_CORS_ORIGINS", "SUANLI_MAX_UPLOAD_BYTES", "SUANLI_HARDWARE_PATH",
                "SUANLI_SYSTEMS_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SUANLI_DATABASE_URL", f"sqlite:///{tmp_path / 'market.sqlite3'}")


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(api_token=TOKEN), raise_server_exceptions=False)


def assert_envelope(r: Any, status: int, code: str | None = None, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert "\n" not in body["error"]["message"] and "Traceback" not in body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    if field:
        assert body["error"]["details"].get("field") == field
    return body["error"]


# --- predict --------------------------------------------------------------------------------

def test_health_lists_features(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and set(body["features"]) == {"economics", "training", "market"}


def test_predict_matches_the_use_case(client: TestClient) -> None:
    from suanli.app.predict import predict

    r = client.get("/api/predict", params={**QWEN, "isl": 2048, "osl": 512, "concurrency": 32})
    assert r.status_code == 200, r.text
    body = r.json()
    direct = predict("Qwen/Qwen3-32B", "H20", isl=2048, osl=512, concurrency=32).to_dict()
    for key in ("hardware", "tp", "ttft_ms", "tpot_ms", "output_tok_s_per_gpu", "mode"):
        assert body[key] == pytest.approx(direct[key]) if isinstance(direct[key], float) else body[key] == direct[key]
    assert body["label"]["id"] == "nvidia_h20_96gb"
    schemas.PredictionOut.model_validate(body)


def test_every_result_field_is_declared_in_the_schemas() -> None:
    """The response models document every key the app layer produces (no silent drift)."""
    from suanli.app.compare import ChipResult
    from suanli.app.predict import Prediction
    from suanli.app.simulate import SimulationReport
    from suanli.app.validate import CaseResult

    pairs = [(Prediction, schemas.PredictionOut), (ChipResult, schemas.ChipRow),
             (SimulationReport, schemas.SimulationOut), (CaseResult, schemas.CaseOut)]
    for result, model in pairs:
        names = {f.name for f in dataclasses.fields(result)} - {"result"}
        missing = names - set(model.model_fields)
        assert not missing, f"{model.__name__} lacks {sorted(missing)}"


@pytest.mark.parametrize("params,status,code,field", [
    ({**QWEN, "hardware": "H2000"}, 422, "unknown_hardware", "hardware"),
    ({**QWEN, "model": "no-such-model"}, 422, "unknown_model", "model"),
    ({**QWEN, "isl": "abc"}, 422, "invalid_input", "isl"),
    ({**QWEN, "isl": -5}, 422, "invalid_input", "isl"),
    ({**QWEN, "isl": "nan"}, 422, "invalid_input", "isl"),
    ({**QWEN, "engine": "tgi"}, 422, "invalid_input", "engine"),
    ({**QWEN, "concurrency": 8, "request_rate": 2}, 422, "invalid_input", "concurrency"),
    ({**QWEN, "tp": 3}, 422, "invalid_input", None),
    ({"model": "deepseek-ai/DeepSeek-V3", "hardware": "H20", "gpus": 1}, 422, "insufficient_memory", None),
    ({"hardware": "H20"}, 422, "invalid_input", "model"),
])
def test_predict_bad_input_is_a_4xx_envelope(client: TestClient, params: dict[str, Any], status: int, code: str,
                                            field: str | None) -> None:
    assert_envelope(client.get("/api/predict", params=params), status, code, field)


def test_models_are_bundled_ids_never_paths(client: TestClient, tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text('{"model_type": "llama"}')
    for name in (str(cfg), str(tmp_path), "../../etc/passwd", "/etc/passwd"):
        assert_envelope(client.get("/api/predict", params={**QWEN, "model": name}), 422, "unknown_model", "model")
    assert_envelope(client.get("/api/models/..%2F..%2Fetc%2Fpasswd"), 404, "unknown_model")
    assert client.get("/api/predict", params={**QWEN, "model": "qwen3-32b"}).json()["model"] == "Qwen/Qwen3-32B"


def test_simulate_is_bounded_and_reads_no_files(client: TestClient) -> None:
    ok = client.get("/api/simulate", params={**QWEN, "request_rate": 1, "requests": 100})
    assert ok.status_code == 200, ok.text
    schemas.SimulationOut.model_validate(ok.json())
    assert ok.json()["requests"] == 100
    assert_envelope(client.get("/api/simulate", params={**QWEN, "request_rate": 1, "requests": 10**6}), 422,
                    field="requests")
    assert_envelope(client.get("/api/simulate", params={**QWEN, "request_rate": 100, "duration": 3600}), 422,
                    field="duration")
    assert_envelope(client.get("/api/simulate", params={**QWEN, "request_rate": 1, "isl_dist": "file:/etc/passwd"}),
                    422, field="isl_dist")


# --- compare, pareto ------------------------------------------------------------------------

def test_compare_page_and_twins_share_the_data(client: TestClient) -> None:
    params = {"model": "Qwen/Qwen3-8B", "isl": 1024, "osl": 256, "tpot_ms": 50, "hardware": ["H20", "910B", "L20"]}
    api = client.get("/api/compare", params=params)
    twin = client.get("/compare", params={**params, "format": "json"})
    assert api.status_code == twin.status_code == 200, api.text
    assert api.json() == twin.json()
    body = schemas.CompareOut.model_validate(api.json())
    assert [c.hardware for c in body.chips][:1] == ["nvidia_h20_96gb"]
    assert {c.rank for c in body.chips if c.feasible} == set(range(1, 1 + sum(c.feasible for c in body.chips)))
    html = client.get("/compare", params=params, headers=HTML)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert 'id="ranking"' in html.text and 'data-chart="frontier-chart"' in html.text
    assert "昇腾910B" in html.text  # Chinese label where the data has one
    for c in api.json()["chips"]:
        assert f'data-hardware="{c["hardware"]}"' in html.text


def test_compare_default_workload_and_empty_form_fields(client: TestClient) -> None:
    body = client.get("/api/compare").json()
    assert (body["model"], body["isl"], body["osl"], body["ttft_ms"], body["tpot_ms"]) == \
        ("Qwen/Qwen3-32B", 2048, 512, 2000, 50)
    assert body["metric"] in ("output_tok_s_per_gpu", "cny_per_mtok")
    # an HTML form sends blank fields: blank targets mean none, other blanks the default
    blank = client.get("/compare?model=Qwen%2FQwen3-8B&isl=&osl=256&ttft_ms=&tpot_ms=&request_rate=&hardware=H20"
                       "&format=json").json()
    assert blank["ttft_ms"] is None and blank["tpot_ms"] is None and blank["isl"] == 2048


def test_compare_errors(client: TestClient) -> None:
    assert_envelope(client.get("/api/compare", params={"hardware": "nope"}), 422, "unknown_hardware", "hardware")
    assert_envelope(client.get("/api/compare", params={"max_gpus": 65}), 422, field="max_gpus")
    assert_envelope(client.get("/api/compare", params={"gpus": 4, "max_gpus": 8}), 422, field="gpus")
    page = client.get("/compare", params={"hardware": "nope"}, headers=HTML)
    assert page.status_code == 422 and 'id="error"' in page.text and "nope" in page.text


def test_pareto(client: TestClient) -> None:
    r = client.get("/api/pareto", params={"model": "Qwen/Qwen3-8B", "hardware": "H20,H200"})
    assert r.status_code == 200, r.text
    body = schemas.ParetoOut.model_validate(r.json())
    assert {f.hardware for f in body.frontiers} == {"nvidia_h20_96gb", "nvidia_h200_sxm"}
    for f in body.frontiers:
        xs = [p.tok_s_per_user for p in f.points]
        assert f.points and xs == sorted(xs)


# --- catalogs and chip pages ----------------------------------------------------------------

def test_hardware_catalog_and_chip_page(client: TestClient) -> None:
    chips = client.get("/api/hardware").json()
    assert len(chips) > 40 and all(isinstance(c["source_urls"], list) for c in chips)
    assert sum(bool(c["source_urls"]) for c in chips) > 40  # specs come with their sources
    rumoured = [c for c in chips if c["unverified"]]
    assert rumoured and all("unverified" in " ".join(c["flags"]) for c in rumoured)
    buyable = client.get("/api/hardware", params={"china_buyable": True}).json()
    assert buyable and all(c["china_buyable"] for c in buyable)
    one = client.get("/api/hardware/910B").json()
    assert one["chip"]["id"] == "huawei_ascend_910b" and one["chip"]["name_zh"] == "昇腾910B"
    assert one == client.get("/chips/910B?format=json").json()
    h20 = client.get("/api/hardware/H20").json()
    assert any(e["kind"] == "export_status" and e["date"].startswith("2025") for e in h20["timeline"])
    page = client.get("/chips/H20", headers=HTML)
    assert page.status_code == 200 and 'id="timeline"' in page.text and 'id="specs"' in page.text
    assert_envelope(client.get("/api/hardware/nope"), 404, "unknown_hardware", "hardware")
    assert client.get("/chips/nope", headers=HTML).status_code == 404


def test_models_and_systems(client: TestClient) -> None:
    models = client.get("/api/models").json()
    assert "Qwen/Qwen3-32B" in {m["id"] for m in models}
    one = client.get("/api/models/Qwen/Qwen3-32B").json()
    assert one["details"]["kv_bytes_per_token_bf16"] > 0
    assert_envelope(client.get("/api/models/nope/nope"), 404, "unknown_model", "model")
    assert client.get("/api/systems").status_code == 200


# --- accuracy and validate upload -----------------------------------------------------------

def test_accuracy_twin_and_page(client: TestClient) -> None:
    api = client.get("/api/accuracy").json()
    assert api == client.get("/accuracy?format=json").json()
    assert api["summary"]["cases"] == len(api["cases"]) > 100
    page = client.get("/accuracy", headers=HTML)
    assert page.status_code == 200 and 'data-chart="scatter-chart"' in page.text and 'id="per-chip"' in page.text


def test_validate_upload(client: TestClient) -> None:
    lines = CASES.read_text(encoding="utf-8").splitlines()
    small = "\n".join(lines[:6]) + "\n"
    r = client.post("/api/validate", files={"file": ("mine.csv", small.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    body = schemas.ValidationOut.model_validate(r.json())
    assert body.source == "mine.csv" and len(body.cases) == 5
    assert_envelope(client.post("/api/validate", files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")}), 400,
                    "config_error")
    assert_envelope(client.post("/api/validate", files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")}), 400,
                    field="file")
    assert_envelope(client.post("/api/validate"), 422, field="file")


def test_upload_limit_is_enforced_before_reading() -> None:
    app = create_app(max_upload_bytes=1000)
    c = TestClient(app, raise_server_exceptions=False)
    big = b"x" * 5000
    err = assert_envelope(c.post("/api/validate", files={"file": ("big.csv", big, "text/csv")}), 413,
                          "payload_too_large")
    assert "1,000 bytes" in err["message"]

    def chunks() -> Any:  # no Content-Length: counted while streaming
        for _ in range(10):
            yield b"y" * 500

    r = c.post("/api/validate", content=chunks(), headers={"content-type": "multipart/form-data; boundary=zzz"})
    assert_envelope(r, 413, "payload_too_large")


# --- dealer, market -------------------------------------------------------------------------

def test_dealer_plan_twin_and_bounds(client: TestClient) -> None:
    params = {"price": 131250, "units": 40, "unit_cost": 110000, "financing_rate": 0.06, "weekly_sell_capacity": 8,
              "weeks": 26, "paths": 50}
    api = client.get("/api/dealer/plan", params=params)
    assert api.status_code == 200, api.text
    schemas.DealerOut.model_validate(api.json())
    assert api.json() == client.get("/dealer", params={**params, "format": "json"}).json()
    page = client.get("/dealer", params=params, headers=HTML)
    assert page.status_code == 200 and 'data-chart="dealer-chart"' in page.text and 'id="plan"' in page.text
    assert_envelope(client.get("/api/dealer/plan", params={**params, "units": 10**7}), 422, field="units")
    assert_envelope(client.get("/api/dealer/plan", params={**params, "scenario": "nope"}), 422, field="scenario")
    assert_envelope(client.get("/api/dealer/plan", params={"price": 1}), 422)


def _features(client: TestClient) -> dict[str, bool]:
    return client.get("/api/health").json()["features"]


def test_market_page_chip_prices_and_api(client: TestClient) -> None:
    if not _features(client)["market"]:
        page = client.get("/market", headers=HTML)
        assert page.status_code == 200 and 'id="market-unavailable"' in page.text
        assert "/api/market/quotes" not in client.get("/openapi.json").json()["paths"]
        return
    twin = client.get("/market", params={"chip": "910B", "format": "json"}).json()
    assert twin["available"] and twin["chip"] == "Ascend 910B"  # catalog alias -> the market's name
    page = client.get("/market", params={"chip": "H20"}, headers=HTML)
    assert page.status_code == 200 and 'data-chart="index-chart"' in page.text and 'id="quotes"' in page.text
    quotes = client.get("/api/market/quotes", params={"chip": "H20", "limit": 5}).json()
    assert 0 < len(quotes) <= 5 and all(q["source"] for q in quotes)
    assert client.get("/api/market/events", params={"chip": "H20"}).json()
    index = client.get("/api/market/index/H20").json()
    assert index["unit"] == "per_gpu" and index["series"]
    assert_envelope(client.get("/api/market/quotes", params={"channel": "black"}), 422, field="channel")
    chip = client.get("/api/hardware/H20").json()
    assert chip["market_available"] and chip["prices"] and chip["price_index"]["series"]
    assert any(e["kind"] not in ("launch", "export_status") for e in chip["timeline"])  # market events merged
    assert 'data-chart="price-chart"' in client.get("/chips/H20", headers=HTML).text


EVENTS_CSV = (b"date,event,kind,chips,region,impact,source_url\n"
              b"2025-09-01,Web API test event,policy,H20,CN,none,https://example.com/web-test\n")


def test_market_import_needs_the_token_and_is_all_or_nothing(client: TestClient) -> None:
    if not _features(client)["market"]:
        pytest.skip("suanli.market is not installed")
    auth = {"authorization": f"Bearer {TOKEN}"}
    files = {"file": ("events.csv", EVENTS_CSV, "text/csv")}
    assert_envelope(client.post("/api/market/imports", files=files), 401, "unauthorized")
    assert_envelope(client.post("/api/market/imports", files=files, headers={"authorization": "Bearer nope"}), 403)
    dry = client.post("/api/market/imports", files=files, data={"kind": "events", "dry_run": "true"}, headers=auth)
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] and dry.json()["added"] == 1 and dry.json()["file"] == "events.csv"
    assert not any("Web API test" in e["description"] for e in client.get("/api/market/events").json())
    done = client.post("/api/market/imports", files=files, data={"kind": "events"}, headers=auth).json()
    assert done["added"] == 1
    again = client.post("/api/market/imports", files=files, data={"kind": "events"}, headers=auth).json()
    assert again["added"] == 0 and again["duplicates"] == 1  # idempotent
    assert any("Web API test" in e["description"] for e in client.get("/api/market/events").json())
    bad = b"date,event,kind,chips,region,impact,source_url\nnot-a-date,x,policy,H20,CN,,https://e.com\n"
    err = assert_envelope(client.post("/api/market/imports", files={"file": ("bad.csv", bad, "text/csv")},
                                      data={"kind": "events"}, headers=auth), 422, "import_rejected", "file")
    assert err["details"]["problems"] and "bad.csv" in err["message"]
    assert_envelope(client.post("/api/market/imports", files={"file": ("x.txt", b"a", "text/plain")}, headers=auth),
                    422, field="file")
    assert_envelope(client.post("/api/market/imports", content=b"plain", headers={**auth, "content-type": "text/plain"}),
                    422, field="file")


def test_calibration_profiles_upload(client: TestClient) -> None:
    if not _features(client)["market"]:
        pytest.skip("suanli.market is not installed")
    profile = {"name": "web-test", "params": {"compute": 0.5, "memory": 0.75}, "date": "2025-01-01",
               "source": "test fit"}
    assert_envelope(client.post("/api/calibration", json=profile), 401)
    r = client.post("/api/calibration", json=profile, headers={"x-api-token": TOKEN})
    assert r.status_code == 200 and r.json()["stored"] is True
    assert client.post("/api/calibration", json=profile, headers={"x-api-token": TOKEN}).json()["stored"] is False
    assert [p["name"] for p in client.get("/api/calibration", params={"name": "web-test"}).json()] == ["web-test"]
    assert_envelope(client.post("/api/calibration", json={**profile, "date": "soon"}, headers={"x-api-token": TOKEN}),
                    422, field="date")


def test_economics_endpoints(client: TestClient) -> None:
    if not _features(client)["economics"]:
        assert "/api/cost" not in client.get("/openapi.json").json()["paths"]
        return
    cost = client.get("/api/cost", params={"model": "Qwen/Qwen3-32B", "hardware": "H20"})
    assert cost.status_code == 200, cost.text
    chip = cost.json()["chips"][0]
    assert chip["hardware"] == "nvidia_h20_96gb" and cost.json()["explain"]
    assert client.get("/api/lease", params={"server": "H20"}).status_code == 200
    fair = client.get("/api/fairprice", params={"model": "Qwen/Qwen3-32B", "option": "910B", "vs": "H20"})
    assert fair.status_code == 200, fair.text
    assert_envelope(client.get("/api/cost", params={"model": "Qwen/Qwen3-32B", "hardware": "H20", "pue": 0.5}), 422,
                    field="pue")
    assert_envelope(client.get("/api/cost", params={"model": "Qwen/Qwen3-32B", "hardware": "H20",
                                                    "server_price": "cheap"}), 422, field="server_price")
    assert_envelope(client.get("/api/lease", params={"server": "nope"}), 422, "unknown_hardware")


def test_compare_shows_money_per_token_when_economics_exists(client: TestClient) -> None:
    if not _features(client)["economics"]:
        pytest.skip("economics is not installed")
    body = client.get("/api/compare", params={"model": "Qwen/Qwen3-8B", "hardware": "H20,H200,910B"}).json()
    assert body["economics_available"] and body["metric"] == "cny_per_mtok"
    priced = [c["economics"]["cny_per_mtok"] for c in body["chips"] if c["economics"] and
              c["economics"]["cny_per_mtok"] is not None]
    assert priced == sorted(priced)  # ranked cheapest first
    html = client.get("/compare", params={"model": "Qwen/Qwen3-8B", "hardware": "H20,H200,910B"}, headers=HTML)
    assert "¥ / M tokens" in html.text


def test_training_endpoint(client: TestClient) -> None:
    if not _features(client)["training"]:
        assert "/api/train" not in client.get("/openapi.json").json()["paths"]
        return
    r = client.get("/api/train", params={"hardware": "H100", "tokens": "1B", "model": "Qwen/Qwen3-8B"})
    assert r.status_code == 200, r.text
    assert_envelope(client.get("/api/train", params={"hardware": "H100", "tokens": "1B", "params": "70B"}), 422,
                    "insufficient_memory")
    assert_envelope(client.get("/api/train", params={"hardware": "H100", "tokens": "lots"}), 422, field="tokens")


# --- pages, static assets, errors -----------------------------------------------------------

PAGES = ["/", "/report", "/fairprice", "/compare", "/chips", "/chips/H20", "/market", "/dealer", "/accuracy", "/profiles", "/runs",
         "/docs"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_offline(client: TestClient, path: str) -> None:
    r = client.get(path, headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<meta name="viewport"' in r.text and 'href="/static/style.css"' in r.text
    for src in re.findall(r'<script[^>]+src="([^"]+)"', r.text) + re.findall(r'<link[^>]+href="([^"]+)"', r.text):
        assert src.startswith("/"), f"{path} loads {src} from outside the app"
        assert client.get(src).status_code == 200, src


def test_pages_have_json_twins(client: TestClient) -> None:
    for path in PAGES[:-1]:
        r = client.get(path, params={"format": "json"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), path


def test_plotly_is_served_by_the_app(client: TestClient) -> None:
    r = client.get("/static/plotly.min.js", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers.get("content-encoding") == "gzip" and len(r.content) > 1_000_000  # decoded by httpx
    again = client.get("/static/plotly.min.js", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    for p in ("/api/predict", "/api/compare", "/api/pareto", "/api/simulate", "/api/validate", "/api/hardware",
              "/api/hardware/{chip}", "/api/models", "/api/accuracy", "/api/dealer/plan"):
        assert p in paths, p
    assert not any(p in paths for p in ("/compare", "/chips", "/"))  # pages are twins, not API
    assert "error" in spec["info"]["description"].lower()


def test_unknown_routes_and_methods_use_the_envelope(client: TestClient) -> None:
    assert_envelope(client.get("/api/nope"), 404, "not_found")
    assert_envelope(client.post("/api/predict"), 405, "method_not_allowed")
    page = client.get("/nope", headers=HTML)
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]


# --- security -------------------------------------------------------------------------------

def _write_paths(client: TestClient) -> list[str]:
    spec = client.get("/openapi.json").json()
    return [p for p, ops in spec["paths"].items() if "post" in ops and p != "/api/validate"]


def test_write_endpoints_need_the_token() -> None:
    from suanli.web.security import require_token
    from fastapi import Depends

    app = create_app(api_token=TOKEN)

    @app.post("/api/_probe", dependencies=[Depends(require_token)])
    def probe() -> dict[str, bool]:
        return {"ok": True}

    c = TestClient(app, raise_server_exceptions=False)
    err = assert_envelope(c.post("/api/_probe"), 401, "unauthorized")
    assert "token" in err["message"].lower()
    assert assert_envelope(c.post("/api/_probe", headers={"authorization": "Bearer wrong"}), 403, "forbidden")
    assert c.post("/api/_probe", headers={"authorization": f"Bearer {TOKEN}"}).json() == {"ok": True}
    assert c.post("/api/_probe", headers={"x-api-token": TOKEN}).json() == {"ok": True}
    closed = create_app()  # no token configured: writes are disabled, not open
    closed.post("/api/_probe", dependencies=[Depends(require_token)])(probe)
    assert_envelope(TestClient(closed).post("/api/_probe", headers={"authorization": "Bearer x"}), 403,
                    "writes_disabled")


def test_every_write_endpoint_is_guarded(client: TestClient) -> None:
    paths = _write_paths(client)
    if _features(client)["market"]:
        assert {"/api/market/imports", "/api/market/inventories", "/api/calibration"} <= set(paths)
    for path in paths:
        r = client.post(path)
        assert r.status_code == 401, (path, r.status_code, r.text)


def test_token_comparison_is_constant_time() -> None:
    import inspect

    from suanli.web import security

    assert "hmac.compare_digest" in inspect.getsource(security.require_token)


def test_cors_is_off_unless_configured() -> None:
    origin = {"origin": "https://evil.example"}
    off = TestClient(create_app()).get("/api/health", headers=origin)
    assert "access-control-allow-origin" not in off.headers
    on = TestClient(create_app(cors_origins="https://ok.example")).get(
        "/api/health", headers={"origin": "https://ok.example"})
    assert on.headers["access-control-allow-origin"] == "https://ok.example"


def test_bad_settings_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from suanli.errors import ConfigError
    from suanli.web.settings import load_settings

    monkeypatch.setenv("SUANLI_MAX_UPLOAD_BYTES", "lots")
    with pytest.raises(ConfigError, match="SUANLI_MAX_UPLOAD_BYTES"):
        load_settings()


def test_serve_is_a_cli_command() -> None:
    from typer.testing import CliRunner

    from suanli.cli.main import app

    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "--port" in r.output and "127.0.0.1" in r.output


INVENTORY_CSV = (b"owner,item,chip,kind,configuration,gpus,quantity,unit_cost,currency,acquisition_date,financing,"
                 b"financing_rate,location,source,notes\n"
                 b"web-test,H20 module,H20,module,8x H20 141GB,8,5,880000,CNY,2025-06-01,loan,0.06,Shenzhen,test,\n")


def test_inventory_upload_feeds_the_dealer_plan(client: TestClient) -> None:
    if not _features(client)["market"]:
        pytest.skip("suanli.market is not installed")
    files = {"file": ("inventory.csv", INVENTORY_CSV, "text/csv")}
    assert_envelope(client.post("/api/market/inventories", files=files), 401)
    r = client.post("/api/market/inventories", files=files, headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.json()["kinds"]["inventories"]["added"] == 1, r.text
    lots = client.get("/api/market/inventories", params={"owner": "web-test"}).json()
    assert [lot["quantity"] for lot in lots] == [5]
    plan = client.get("/api/dealer/plan/market", params={"chip": "H20", "owner": "web-test",
                                                         "weekly_sell_capacity": 8, "paths": 40})
    assert plan.status_code == 200, plan.text
    body = schemas.DealerOut.model_validate(plan.json())
    assert body.inputs["units"] == 40 and body.inputs["unit_cost"] == pytest.approx(110_000)  # per GPU
    assert_envelope(client.get("/api/dealer/plan/market", params={"chip": "H20", "owner": "nobody",
                                                                  "weekly_sell_capacity": 8}), 422)


def test_report_api_and_pages(client: TestClient) -> None:
    d = client.get("/api/report", params={"as_of": "2025-07-15"}).json()
    assert d["as_of"] == "2025-07-15" and {"value", "p10", "p90", "against", "asking", "ratio"} <= set(d["fair_value"])
    h200 = next(c for c in d["chips"] if c["hardware"] == "nvidia_h200_sxm")
    assert not h200["obtainable"] and h200["obtainable_reason"]["source"].startswith("http")
    twin = client.get("/report", params={"as_of": "2025-07-15", "format": "json"}).json()
    assert twin["chips"] == d["chips"] and twin["fair_value"] == d["fair_value"]
    fair = client.get("/fairprice", params={"as_of": "2025-07-15", "format": "json"}).json()
    assert fair["fair_value"] == d["fair_value"] and fair["considered"]
    given = client.get("/api/report", params={"price": "MLU370-X8=400000 CNY 2026-03", "hardware": ["mlu370", "h20"],
                                              "option": "cn_hgx_h20_8gpu_2024"}).json()
    mlu = next(c for c in given["chips"] if c["hardware"] == "cambricon_mlu370_x8")
    assert mlu["owned"] is not None and mlu["server_quote"]["basis"] == "given"
    assert_envelope(client.get("/api/report", params={"price": "MLU370-X8"}), 422, field="price")
    assert_envelope(client.get("/api/report", params={"as_of": "2025-13-01"}), 422, field="as_of")
    assert_envelope(client.get("/api/report", params={"as_of": "yesterday"}), 422, field="as_of")
    assert_envelope(client.get("/api/report", params={"option": "no_such_server"}), 422)
    page = client.get("/report", params={"option": "no_such_server"}, headers=HTML)
    assert page.status_code == 422 and 'id="error"' in page.text and 'id="report-form"' in page.text
    r = client.get("/report", params={"as_of": "2025-07-15"}, headers=HTML)
    assert r.status_code == 200 and "grey only" in r.text and "x fair value" in r.text and "昇腾910B" in r.text


def test_compare_page_flags_chips_not_obtainable_at_as_of(client: TestClient) -> None:
    d = client.get("/compare", params={"as_of": "2025-07-15", "format": "json"}).json()
    assert d["as_of"] == "2025-07-15" and not d["availability"]["nvidia_h200_sxm"]["obtainable"]
    r = client.get("/compare", params={"as_of": "2025-07-15"}, headers=HTML)
    assert r.status_code == 200 and "grey only" in r.text
