"""Calibration profiles on the web: ``?profile=NAME`` on every prediction endpoint and page,
the profile pages and their twins, export / import / delete / calibrate (token-protected),
and the result caches keyed by the profile's version.

Fixture profiles are fitted with :func:`suanli.app.profiles.calibrate_rows` on a few public
cases (Qwen3 on H20 under SGLang) into a temporary SQLite database: nothing here needs the
stored-runs layer.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from suanli.web import create_app, schemas  # noqa: E402

CASES = Path(__file__).parent / "data" / "cases-public.csv"
TOKEN = "profile-test-token-0123"
AUTH = {"authorization": f"Bearer {TOKEN}"}
HTML = {"accept": "text/html"}
# a chip and engine the fixture profile covers (Qwen3 on H20 under SGLang)
COVERED = {"model": "Qwen/Qwen3-8B", "hardware": "H20", "engine": "sglang"}


def h20_rows(scale: float = 1.0) -> list[dict[str, str]]:
    """The first Qwen3 H20 rows of the public cases (``scale``: their measured values times it)."""
    with CASES.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["hardware"] == "nvidia_h20_96gb"
                and r["model"].startswith("Qwen/Qwen3-")][:6]
    return [{**r, "value": repr(float(r["value"]) * scale)} for r in rows]


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from suanli.app.profiles import calibrate_rows

    url = f"sqlite:///{tmp_path_factory.mktemp('profiles') / 'market.sqlite3'}"
    calibrate_rows(h20_rows(), name="lab", db=url)
    return url


@pytest.fixture(scope="module")
def client(db_url: str) -> Iterator[TestClient]:
    mp = pytest.MonkeyPatch()
    for var in ("SUANLI_API_TOKEN", "SUANLI_CORS_ORIGINS", "SUANLI_HARDWARE_PATH", "SUANLI_SYSTEMS_PATH"):
        mp.delenv(var, raising=False)
    yield TestClient(create_app(db_url, api_token=TOKEN, warm=False), raise_server_exceptions=False)
    mp.undo()


def envelope(r: Any, status: int, code: str | None = None, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert "Traceback" not in body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    if field:
        assert body["error"]["details"].get("field") == field
    return body["error"]


# --- ?profile= on every prediction endpoint ---------------------------------------------------

ENDPOINTS = {  # path -> (parameters, how to find the per-chip notes in the answer)
    "/api/predict": ({**COVERED, "concurrency": 8}, lambda b: [b["profile"]]),
    "/api/simulate": ({**COVERED, "request_rate": 1, "requests": 50}, lambda b: [b["profile"]]),
    "/api/compare": (COVERED, lambda b: [c["profile"] for c in b["chips"]]),
    "/api/pareto": (COVERED, lambda b: [f["profile"] for f in b["frontiers"]]),
    "/api/cost": (COVERED, lambda b: [c["profile"] for c in b["chips"]]),
    "/api/fairprice": ({"model": "Qwen/Qwen3-8B", "option": "910B", "vs": "H20", "engine": "sglang"}, None),
    "/api/report": ({"model": "Qwen/Qwen3-8B", "hardware": "H20"}, lambda b: [c["profile"] for c in b["chips"]]),
}


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_profile_on_every_prediction_endpoint(client: TestClient, path: str) -> None:
    params, notes = ENDPOINTS[path]
    r = client.get(path, params={**params, "profile": "lab"})
    assert r.status_code == 200, r.text
    body = r.json()
    used = schemas.ProfileUsed.model_validate(body["calibration_profile"])
    assert used.name == "lab" and used.covers == ["nvidia_h20_96gb x sglang"] and used.runs == 6
    if notes is not None:
        found = notes(body)
        assert found and all("profile lab" in n for n in found), found
    if path in ("/api/predict", "/api/simulate", "/api/compare", "/api/pareto", "/api/cost"):
        assert any(n.startswith("calibrated on ") for n in notes(body))  # type: ignore[misc]
    plain = client.get(path, params=params).json()
    assert plain["calibration_profile"] is None


@pytest.mark.parametrize("path", list(ENDPOINTS) + ["/compare", "/report", "/fairprice"])
def test_unknown_profile_is_a_422_naming_it(client: TestClient, path: str) -> None:
    params = ENDPOINTS.get(path, ({}, None))[0]
    err = envelope(client.get(path, params={**params, "profile": "nope", "format": "json"}), 422, "invalid_input",
                   "profile")
    assert "nope" in err["message"] and "lab" in err["message"]  # lists the stored ones
    envelope(client.get(path, params={**params, "profile": "x" * 101, "format": "json"}), 422, field="profile")


def test_profile_narrows_the_band_and_says_so(client: TestClient) -> None:
    base = {**COVERED, "isl": 1024, "osl": 256, "concurrency": 1}
    plain = client.get("/api/predict", params=base).json()
    cal = client.get("/api/predict", params={**base, "profile": "lab"}).json()
    schemas.PredictionOut.model_validate(cal)
    assert plain["profile"] == "" and cal["profile"].startswith("calibrated on ")
    assert cal["band"][1] / cal["band"][0] < plain["band"][1] / plain["band"][0]
    other = client.get("/api/predict", params={**base, "engine": "vllm", "profile": "lab"}).json()
    assert "has no runs for nvidia_h20_96gb x vllm" in other["profile"]


def test_pages_show_the_note_and_the_selector(client: TestClient) -> None:
    page = client.get("/compare", params={**COVERED, "profile": "lab"}, headers=HTML)
    assert page.status_code == 200
    assert 'id="profile-note"' in page.text and "calibrated on " in page.text
    assert '<option value="lab" selected>' in page.text
    default = client.get("/compare", params=COVERED, headers=HTML).text
    assert 'id="profile-select"' in default and '<option value="" selected>' in default
    assert 'id="profile-note"' not in default
    bad = client.get("/compare", params={"profile": "nope"}, headers=HTML)
    assert bad.status_code == 422 and 'id="error"' in bad.text and "nope" in bad.text
    twin = client.get("/compare", params={**COVERED, "profile": "lab", "format": "json"}).json()
    assert twin == client.get("/api/compare", params={**COVERED, "profile": "lab"}).json()
    assert twin["query"]["profile"] == "lab"
    report = client.get("/report", params={"model": "Qwen/Qwen3-8B", "hardware": "H20", "profile": "lab"},
                        headers=HTML)
    assert report.status_code == 200 and 'id="profile-note"' in report.text and "profile lab" in report.text


def test_a_refitted_profile_is_not_served_stale(client: TestClient, db_url: str) -> None:
    """Results are cached per request; the profile's version is part of the key."""
    from suanli.app.profiles import calibrate_rows

    calibrate_rows(h20_rows(), name="refit", db=db_url)
    q = {**COVERED, "profile": "refit"}
    first = client.get("/api/compare", params=q).json()
    first_report = client.get("/api/report", params={"model": "Qwen/Qwen3-8B", "hardware": "H20",
                                                     "profile": "refit"}).json()
    assert client.get("/api/compare", params=q).json() == first  # served from the cache
    calibrate_rows(h20_rows(scale=0.5), name="refit", db=db_url)  # the runs were half as fast
    again = client.get("/api/compare", params=q).json()
    assert again["calibration_profile"]["digest"] != first["calibration_profile"]["digest"]
    h20 = lambda b: next(c for c in b["chips"] if c["hardware"] == "nvidia_h20_96gb")  # noqa: E731
    assert h20(again)["output_tok_s_per_gpu"] < 0.9 * h20(first)["output_tok_s_per_gpu"]
    report = client.get("/api/report", params={"model": "Qwen/Qwen3-8B", "hardware": "H20", "profile": "refit"}).json()
    assert report["calibration_profile"]["digest"] == again["calibration_profile"]["digest"]
    assert report["calibration_profile"]["digest"] != first_report["calibration_profile"]["digest"]
    from suanli.app.profiles import delete_profile
    delete_profile("refit", db=db_url)
    envelope(client.get("/api/compare", params=q), 422, field="profile")  # deleted: not served from the cache


# --- profile pages ----------------------------------------------------------------------------

def test_profiles_list_page_and_twin(client: TestClient) -> None:
    api = client.get("/api/profiles")
    assert api.status_code == 200
    lab = next(p for p in api.json()["profiles"] if p["name"] == "lab")
    assert lab["runs"] == 6 and lab["covers"] == ["nvidia_h20_96gb x sglang"] and lab["date"]
    assert client.get("/profiles", params={"format": "json"}).json() == api.json()
    page = client.get("/profiles", headers=HTML)
    assert page.status_code == 200 and 'id="profiles"' in page.text and 'href="/profiles/lab"' in page.text


def test_profile_detail_page_and_twin(client: TestClient) -> None:
    api = client.get("/api/profiles/lab")
    assert api.status_code == 200, api.text
    body = api.json()
    assert body == client.get("/profiles/lab", params={"format": "json"}).json()
    assert body["parts"] == ["gemm", "attention", "comm", "host", "frontend", "ttft_rest", "tpot_rest"]
    any_model = next(s for s in body["scopes"] if s["family"] is None)
    assert any_model["n_runs"] == 6 and any_model["median_ape_before"] is not None
    assert {f["part"] for f in any_model["factors"]} == set(body["parts"])
    assert all(f["scale"] > 0 and f["sd"] >= 0 for f in any_model["factors"])
    assert len(body["points"]) == 6
    assert all(p["measured"] > 0 and p["before"] > 0 and p["after"] > 0 for p in body["points"])
    page = client.get("/profiles/lab", headers=HTML)
    assert page.status_code == 200
    for marker in ('id="scopes"', 'id="points"', 'data-chart="profile-scatter"', 'href="/api/profiles/lab/export"'):
        assert marker in page.text, marker
    fig = json.loads(page.text.split('data-chart="profile-scatter">', 1)[1].split("</script>", 1)[0])
    names = [t["name"] for t in fig["data"]]
    assert names == ["before calibration", "after calibration", "predicted = measured"]
    assert fig["layout"]["xaxis"]["type"] == fig["layout"]["yaxis"]["type"] == "log"
    envelope(client.get("/api/profiles/nope"), 404, "unknown_profile")
    assert client.get("/profiles/nope", headers=HTML).status_code == 404


def test_export_import_delete_round_trip(client: TestClient) -> None:
    exported = client.get("/api/profiles/lab/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    doc = exported.json()
    assert doc["name"] == "lab" and doc["format"] == "suanli-profile"
    # writes need the token
    envelope(client.post("/api/profiles/import", json=doc), 401, "unauthorized")
    envelope(client.post("/api/profiles/import", json=doc, headers={"authorization": "Bearer wrong"}), 403)
    envelope(client.delete("/api/profiles/lab"), 401)
    envelope(client.delete("/api/profiles/lab", headers={"x-api-token": "wrong"}), 403)
    # a JSON body, under another name; the same name again needs replace
    r = client.post("/api/profiles/import", params={"name": "copy"}, json=doc, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "copy" and r.json()["runs"] == 6
    envelope(client.post("/api/profiles/import", params={"name": "copy"}, json=doc, headers=AUTH), 422, field="name")
    assert client.post("/api/profiles/import", params={"name": "copy", "replace": True}, json=doc,
                       headers=AUTH).status_code == 200
    # a file upload
    up = client.post("/api/profiles/import", params={"name": "uploaded"}, headers=AUTH,
                     files={"file": ("lab.json", exported.content, "application/json")})
    assert up.status_code == 200, up.text
    form = client.post("/api/profiles/import", headers=AUTH, data={"name": "uploaded", "replace": "true"},
                       files={"file": ("lab.json", exported.content, "application/json")})  # the page's form
    assert form.status_code == 200 and form.json()["name"] == "uploaded", form.text
    names = {p["name"] for p in client.get("/api/profiles").json()["profiles"]}
    assert {"lab", "copy", "uploaded"} <= names
    assert "(profile copy)" in client.get("/api/predict", params={**COVERED, "profile": "copy"}).json()["profile"]
    # bad files are 4xx envelopes
    envelope(client.post("/api/profiles/import", content=b"{not json", headers={**AUTH, "content-type":
                                                                                 "application/json"}), 400)
    envelope(client.post("/api/profiles/import", json={"format": "something else"}, headers=AUTH), 400)
    envelope(client.post("/api/profiles/import", content=b"", headers=AUTH), 422, field="body")
    envelope(client.post("/api/profiles/import", params={"name": "bad\u0001"}, json=doc, headers=AUTH), 422)
    # delete
    gone = client.delete("/api/profiles/uploaded", headers=AUTH)
    assert gone.status_code == 200 and gone.json() == {"name": "uploaded", "deleted": True}
    envelope(client.delete("/api/profiles/uploaded", headers=AUTH), 404, "unknown_profile")
    assert client.delete("/api/profiles/copy", headers=AUTH).status_code == 200
    envelope(client.get("/api/predict", params={**COVERED, "profile": "copy"}), 422, field="profile")


def test_calibrate_needs_the_token_and_valid_input(client: TestClient) -> None:
    if "/api/calibrate" not in client.get("/openapi.json").json()["paths"]:
        pytest.skip("the stored-runs layer (suanli.app.runs) is not installed")
    envelope(client.post("/api/calibrate", json={"runs": "all", "profile": "x"}), 401)
    envelope(client.post("/api/calibrate", json={"runs": "all", "profile": "x"},
                         headers={"authorization": "Bearer wrong"}), 403)
    envelope(client.post("/api/calibrate", json={"runs": "all"}, headers=AUTH), 422, field="profile")
    envelope(client.post("/api/calibrate", json={"runs": " ", "profile": "x"}, headers=AUTH), 422, field="runs")
    envelope(client.post("/api/calibrate", json={"runs": "label:none-such", "profile": "x"}, headers=AUTH), 422,
             field="runs")  # no stored run matches
    envelope(client.post("/api/calibrate", json={"runs": "colour:red", "profile": "x"}, headers=AUTH), 422,
             field="runs")  # not a selector


def test_openapi_documents_the_profile_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/api/profiles", "/api/profiles/{name}", "/api/profiles/{name}/export", "/api/profiles/import"):
        assert p in paths, p
    assert "delete" in paths["/api/profiles/{name}"]
    for p in ("/api/predict", "/api/compare", "/api/pareto", "/api/simulate", "/api/cost", "/api/fairprice",
              "/api/report"):
        assert any(q["name"] == "profile" for q in paths[p]["get"]["parameters"]), p


# --- your runs: upload, list, fit a profile on them ----------------------------------------------

RUN_FILE = Path(__file__).parent / "data" / "bench-formats" / "vllm" / "llm-k8s_tp8_pp1_sharegpt_qps_04.summary_only.json"
# the file's Llama-3.3-70B-Instruct is the catalog's Llama-3.1-70B architecture; 8 A100s, TP 8
RUN_FLAGS = {"hardware": "nvidia_a100_sxm_80gb", "model": "meta-llama/Llama-3.1-70B", "gpus": "8", "tp": "8",
             "label": "web"}


def test_runs_upload_list_and_calibrate(client: TestClient) -> None:
    if "/api/runs/import" not in client.get("/openapi.json").json()["paths"]:
        pytest.skip("the stored-runs layer (suanli.app.runs) is not installed")
    upload = {"file": (RUN_FILE.name, RUN_FILE.read_bytes(), "application/json")}
    envelope(client.post("/api/runs/import", files=upload, data=RUN_FLAGS), 401, "unauthorized")
    envelope(client.post("/api/runs/import", files=upload, data=RUN_FLAGS, headers={"x-api-token": "no"}), 403)
    # what the file lacks is a 4xx naming the flag to give; nothing is stored
    missing = envelope(client.post("/api/runs/import", files=upload, headers=AUTH), 422, "import_rejected", "file")
    assert "--model" in missing["message"] and missing["details"]["problems"]
    envelope(client.post("/api/runs/import", files=upload, data={**RUN_FLAGS, "gpus": "eight"}, headers=AUTH), 422,
             field="gpus")
    envelope(client.post("/api/runs/import", files=upload, data={**RUN_FLAGS, "tp": "0"}, headers=AUTH), 422,
             field="tp")
    envelope(client.post("/api/runs/import", files=upload, data={**RUN_FLAGS, "format": "excel"}, headers=AUTH), 422,
             field="format")
    envelope(client.post("/api/runs/import", files={"file": ("x.txt", b"hello", "text/plain")}, data=RUN_FLAGS,
                         headers=AUTH), 422)
    envelope(client.post("/api/runs/import", data=RUN_FLAGS, headers=AUTH), 422, field="file")
    assert client.get("/api/runs").json()["count"] == 0
    # a dry run stores nothing; the real import does, once
    dry = client.post("/api/runs/import", files=upload, data={**RUN_FLAGS, "dry_run": "true"}, headers=AUTH)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True and client.get("/api/runs").json()["count"] == 0
    r = client.post("/api/runs/import", files=upload, data=RUN_FLAGS, headers=AUTH)
    assert r.status_code == 200, r.text
    assert (r.json()["added"], r.json()["files"][0]["format"]) == (1, "vllm")
    assert client.post("/api/runs/import", files=upload, data=RUN_FLAGS, headers=AUTH).json()["duplicates"] == 1
    runs = client.get("/api/runs").json()
    assert runs == client.get("/runs", params={"format": "json"}).json()
    (run,) = runs["runs"]
    assert (run["hardware"], run["model"], run["gpus"], run["tp"], run["label"]) == \
        ("nvidia_a100_sxm_80gb", "meta-llama/Llama-3.1-70B", 8, 8, "web")
    assert run["metrics"]["output_tok_s"] > 0
    assert client.get("/api/runs", params={"hardware": "H20"}).json()["count"] == 0
    one = client.get(f"/api/runs/{run['id']}").json()
    assert one["id"] == run["id"] and one["case_rows"]
    envelope(client.get("/api/runs/999999"), 404, "not_found")
    page = client.get("/runs", headers=HTML)
    assert page.status_code == 200 and f'data-run="{run["id"]}"' in page.text
    assert 'id="upload-form"' in page.text and 'id="calibrate-form"' in page.text and "/static/writes.js" in page.text
    # fit a profile on the stored runs: predictions use it at once
    fit = client.post("/api/calibrate", json={"runs": "label:web", "profile": "mine"}, headers=AUTH)
    assert fit.status_code == 200, fit.text
    assert fit.json()["name"] == "mine" and fit.json()["covers"] == ["nvidia_a100_sxm_80gb x vllm"]
    pred = client.get("/api/predict", params={"model": "meta-llama/Llama-3.1-70B", "hardware": "nvidia_a100_sxm_80gb",
                                              "gpus": 8, "tp": 8, "request_rate": 4, "profile": "mine"}).json()
    assert "(profile mine)" in pred["profile"]
    # delete
    envelope(client.delete(f"/api/runs/{run['id']}"), 401)
    assert client.delete(f"/api/runs/{run['id']}", headers=AUTH).json() == {"id": run["id"], "deleted": 1}
    envelope(client.delete(f"/api/runs/{run['id']}", headers=AUTH), 404)
    assert client.delete("/api/profiles/mine", headers=AUTH).status_code == 200
