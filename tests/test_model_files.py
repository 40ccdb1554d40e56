"""Models found where users keep them (issue 14): the local Hugging Face cache, the
directories of SUANLI_MODELS_PATH, and paths to a config.json or model directory -- in
the Python API, the CLI, the web API (ids only) and case files.  Every test builds a fake
cache tree under a temporary HF_HOME; nothing is downloaded (sockets are disabled)."""

from __future__ import annotations

import json
import os
import shutil
import socket
from importlib.resources import files
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanli.cli.main import app
from suanli.errors import UnknownModel
from suanli.specs.model import load_model
from suanli.specs.model_files import find_local_config, hf_cache_dirs, model_id_from_path

runner = CliRunner()


def tiny(hidden: int = 1024) -> dict:
    """A Llama-style config: 4 layers, 8 heads of 128, MLP 4096, vocab 32000, untied."""
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
            "num_hidden_layers": 4, "num_attention_heads": 8, "num_key_value_heads": 8, "head_dim": 128,
            "intermediate_size": 4096, "vocab_size": 32000, "tie_word_embeddings": False,
            "torch_dtype": "bfloat16"}


def snapshot(hub: Path, repo: str, rev: str, cfg: dict, mtime: float | None = None) -> Path:
    """Write ``hub/models--org--name/snapshots/rev/config.json`` the way huggingface_hub
    does: the snapshot file is a symlink into ``blobs/``."""
    org, name = repo.split("/")
    root = hub / f"models--{org}--{name}"
    (root / "blobs").mkdir(parents=True, exist_ok=True)
    blob = root / "blobs" / f"blob-{rev}"
    blob.write_text(json.dumps(cfg), encoding="utf-8")
    snap = root / "snapshots" / rev
    snap.mkdir(parents=True, exist_ok=True)
    (snap / "config.json").symlink_to(os.path.relpath(blob, snap))
    if mtime is not None:
        os.utime(blob, (mtime, mtime))
    return snap / "config.json"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fresh HOME and HF_HOME; no HF_HUB_CACHE / SUANLI_MODELS_PATH from the caller; no network."""
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "XDG_CACHE_HOME", "SUANLI_MODELS_PATH",
                "SUANLI_HARDWARE_PATH", "SUANLI_SYSTEMS_PATH"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("suanli tried to open a network connection")
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    return tmp_path


def test_cache_dirs_in_order(tmp_path: Path) -> None:
    env = {"HF_HUB_CACHE": "/a", "HF_HOME": "/b", "XDG_CACHE_HOME": "/c"}
    assert hf_cache_dirs(env, home=tmp_path) == [Path("/a"), Path("/b/hub"), Path("/c/huggingface/hub")]
    assert hf_cache_dirs({}, home=tmp_path) == [tmp_path / ".cache" / "huggingface" / "hub"]


def test_newest_snapshot_of_the_hf_home_cache(isolated: Path) -> None:
    hub = isolated / "hf" / "hub"
    # the newer snapshot sorts first by name, so only the modification time can pick it
    snapshot(hub, "acme/Tiny-7B", "zzz", tiny(1024), mtime=1_000_000)
    newest = snapshot(hub, "acme/Tiny-7B", "aaa", tiny(2048), mtime=2_000_000)
    m = load_model("acme/Tiny-7B")
    assert m.id == "acme/Tiny-7B" and m.hidden_size == 2048
    assert m.origin == f"Hugging Face cache: {newest}"
    # ids match case-insensitively, and without the org when unambiguous
    assert load_model("ACME/tiny-7b").hidden_size == 2048
    assert load_model("Tiny-7B").id == "acme/Tiny-7B"


def test_refs_main_wins_over_mtime(isolated: Path) -> None:
    hub = isolated / "hf" / "hub"
    snapshot(hub, "acme/Tiny-7B", "aaa", tiny(1024), mtime=1_000_000)
    snapshot(hub, "acme/Tiny-7B", "bbb", tiny(2048), mtime=2_000_000)
    (hub / "models--acme--Tiny-7B" / "refs").mkdir()
    (hub / "models--acme--Tiny-7B" / "refs" / "main").write_text("aaa", encoding="utf-8")
    assert load_model("acme/Tiny-7B").hidden_size == 1024


def test_hf_hub_cache_before_hf_home_and_default_home_cache(isolated: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot(isolated / "hf" / "hub", "acme/Tiny-7B", "a", tiny(1024))
    snapshot(isolated / "hubcache", "acme/Tiny-7B", "b", tiny(3072))
    monkeypatch.setenv("HF_HUB_CACHE", str(isolated / "hubcache"))
    assert load_model("acme/Tiny-7B").hidden_size == 3072
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.delenv("HF_HOME")
    snapshot(isolated / "home" / ".cache" / "huggingface" / "hub", "acme/Other-1B", "c", tiny(512))
    assert load_model("acme/Other-1B").hidden_size == 512


def test_bundled_id_wins_over_a_cached_copy(isolated: Path) -> None:
    snapshot(isolated / "hf" / "hub", "Qwen/Qwen3-8B", "x", tiny(1024))
    m = load_model("Qwen/Qwen3-8B")
    assert m.origin == "bundled" and m.hidden_size == 4096


def test_suanli_models_path_layouts(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = isolated / "a", isolated / "b"
    for folder, hidden in ((a / "acme__Flat-1B", 512), (a / "acme" / "Nested-2B", 1024), (b / "Bare-3B", 2048)):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(tiny(hidden)), encoding="utf-8")
    monkeypatch.setenv("SUANLI_MODELS_PATH", os.pathsep.join([str(a), "", str(b)]))
    assert load_model("acme/Flat-1B").hidden_size == 512
    assert load_model("acme/Nested-2B").hidden_size == 1024
    bare = load_model("Bare-3B")
    assert bare.hidden_size == 2048
    assert bare.origin == f"SUANLI_MODELS_PATH: {b / 'Bare-3B' / 'config.json'}"
    # SUANLI_MODELS_PATH is searched before the HF cache
    snapshot(isolated / "hf" / "hub", "acme/Flat-1B", "z", tiny(4096))
    assert load_model("acme/Flat-1B").hidden_size == 512


def test_paths_to_files_and_model_directories(isolated: Path) -> None:
    cfg = snapshot(isolated / "hf" / "hub", "acme/Tiny-7B", "abc", tiny(1024))
    snap_dir, repo_dir = cfg.parent, cfg.parent.parent.parent
    for given in (cfg, snap_dir, repo_dir):
        m = load_model(given)
        assert m.id == "acme/Tiny-7B" and m.hidden_size == 1024
    assert model_id_from_path(isolated / "x" / "org__name" / "config.json") == "org/name"


def test_unknown_model_says_where_it_looked(isolated: Path) -> None:
    with pytest.raises(UnknownModel) as err:
        load_model("nobody/Nothing-1B")
    text = str(err.value)
    assert str(isolated / "hf" / "hub") in text and "SUANLI_MODELS_PATH" in text and "config.json" in text
    assert find_local_config("nobody/Nothing-1B") is None


def test_cli_predict_and_models_from_the_cache(isolated: Path) -> None:
    cfg = snapshot(isolated / "hf" / "hub", "acme/Tiny-7B", "abc", tiny(1024))
    broken = isolated / "hf" / "hub" / "models--acme--Broken" / "snapshots" / "s"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text(json.dumps({**tiny(), "hybrid_override_pattern": "M*M*"}), encoding="utf-8")
    r = runner.invoke(app, ["predict", "-m", "acme/Tiny-7B", "--hardware", "H20", "--isl", "500", "--osl", "100",
                            "--concurrency", "4"])
    assert r.exit_code == 0, r.output
    assert "model config: Hugging Face cache:" in r.output and "Tiny-7B" in r.output
    r = runner.invoke(app, ["predict", "-m", "acme/Tiny-7B", "--hardware", "H20", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["model_source"] == f"Hugging Face cache: {cfg}"
    r = runner.invoke(app, ["models", "list", "--json"])
    rows = {row["id"]: row for row in json.loads(r.output)}
    assert rows["acme/Tiny-7B"]["config_source"] == f"Hugging Face cache: {cfg}"
    assert rows["Qwen/Qwen3-8B"]["config_source"] == "bundled"
    assert "hybrid_override_pattern" in rows["acme/Broken"]["error"]
    # attention K and V, 8 heads of 128, bf16, 4 layers: 2*8*128*2*4 = 16,384 bytes per token
    assert rows["acme/Tiny-7B"]["kv_bytes_per_token_bf16"] == 16_384
    r = runner.invoke(app, ["models", "show", "acme/Tiny-7B"])
    assert r.exit_code == 0 and "Layer plan" in r.output and "layers 0-3: full attention + dense MLP" in r.output
    r = runner.invoke(app, ["predict", "-m", "acme/Broken", "--hardware", "H20"])
    assert r.exit_code == 2 and "hybrid_override_pattern" in r.output and "Traceback" not in r.output


def test_case_file_with_a_relative_model_path(isolated: Path) -> None:
    from suanli.app.validate import validate

    model_dir = isolated / "cases" / "my-llama"
    model_dir.mkdir(parents=True)
    bundled = files("suanli").joinpath("data", "models", "meta-llama__Llama-3.1-8B", "config.json")
    shutil.copyfile(str(bundled), model_dir / "config.json")
    header = ("case_id,source_group,source_url,hardware,gpus,model,weight_dtype,kv_dtype,engine,tp,pp,ep,"
              "dp_attention,isl,osl,concurrency,request_rate,scenario,metric,value,notes")
    rows = [f"{cid},t,,nvidia_h100_sxm,1,{model},bf16,,vllm,1,,,,1000,200,8,,offline,output_tok_s,1000,"
            for cid, model in (("by-path", "my-llama"), ("by-id", "meta-llama/Llama-3.1-8B"))]
    path = isolated / "cases" / "cases.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    report = validate(path)
    got = {c.case_id: c for c in report.cases}
    assert got["by-path"].status == "ok", got["by-path"].reason
    assert got["by-path"].predicted == got["by-id"].predicted


def test_web_api_accepts_cached_ids_but_not_paths(isolated: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from suanli.web.app import create_app

    cfg = snapshot(isolated / "hf" / "hub", "acme/Tiny-7B", "abc", tiny(1024))
    client = TestClient(create_app(db_url=f"sqlite:///{isolated / 'db.sqlite'}"))
    params = {"hardware": "H20", "isl": 500, "osl": 100, "concurrency": 4}
    r = client.get("/api/predict", params={**params, "model": "acme/Tiny-7B"})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "acme/Tiny-7B"
    assert r.json()["model_source"] == "Hugging Face cache"   # the kind of place, not the server's path
    r = client.get("/api/predict", params={**params, "model": str(cfg.parent)})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_model"
