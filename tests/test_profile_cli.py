"""``suanli calibrate`` / ``suanli profile`` / ``--profile`` end to end, on SQLite and
PostgreSQL: runs imported from a real benchmark file, a profile fitted on them, every
prediction command saying it is calibrated, export/import to a colleague's database, and
bad input as one ``error:`` line with exit code 2 that stores nothing."""

from __future__ import annotations

import json
from pathlib import Path

from test_market_helpers import db_url  # noqa: F401
from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()
DATA = Path(__file__).parent / "data"
SGLANG = DATA / "bench-formats" / "sglang" / "datacrunch-h200_llama_3_3_70b_offline_output.jsonl"
CASES = DATA / "cases-public.csv"


def ok(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, (args, r.output, r.exception)
    return r.stdout


def bad(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 2, (args, r.output)
    assert "Traceback" not in r.output
    return r.output


def _h20_cases(tmp_path: Path) -> Path:
    lines = CASES.read_text(encoding="utf-8").splitlines()
    keep = [lines[0]] + [line for line in lines[1:] if ",nvidia_h20_96gb," in line and ",sglang," in line][:8]
    path = tmp_path / "h20.csv"
    path.write_text("\n".join(keep) + "\n", encoding="utf-8")
    return path


def test_runs_to_profile_to_every_command(db_url, tmp_path):  # noqa: F811
    db = ("--db", db_url)
    ok("runs", "import", str(SGLANG), "--hardware", "H200", "--model", "meta-llama/Llama-3.1-70B", "--gpus", "4",
       "--tp", "4", "--engine", "sglang", "--weight-dtype", "bf16", *db)
    fitted = json.loads(ok("calibrate", "--runs", "all", "--profile", "lab", "--json", *db))
    assert fitted["stored"] and fitted["name"] == "lab"
    assert {(s["hardware"], s["engine"]) for s in fitted["scopes"]} == {("nvidia_h200_sxm", "sglang")}
    listed = json.loads(ok("profile", "list", "--json", *db))["profiles"]
    assert [p["name"] for p in listed] == ["lab"]

    pred = json.loads(ok("predict", "-m", "meta-llama/Llama-3.1-70B", "--hardware", "H200", "--tp", "4",
                         "--engine", "sglang", "--concurrency", "16", "--profile", "lab", "--json", *db))
    assert pred["profile"].startswith("calibrated on ") and "(profile lab)" in pred["profile"]
    plain = json.loads(ok("predict", "-m", "meta-llama/Llama-3.1-70B", "--hardware", "H200", "--tp", "4",
                          "--engine", "sglang", "--concurrency", "16", "--json"))
    assert plain["profile"] == "" and pred["tpot_ms"] != plain["tpot_ms"]
    # another chip: said to be uncalibrated, numbers unchanged
    other = json.loads(ok("predict", "-m", "meta-llama/Llama-3.1-70B", "--hardware", "H20", "--tp", "4",
                          "--engine", "sglang", "--concurrency", "16", "--profile", "lab", "--json", *db))
    assert "no runs for nvidia_h20" in other["profile"]

    comp = json.loads(ok("compare", "-m", "meta-llama/Llama-3.1-70B", "--hardware", "H200", "--engine", "sglang",
                         "--max-gpus", "4", "--profile", "lab", "--json", *db))
    assert "(profile lab)" in comp["chips"][0]["profile"]
    assert "(profile lab)" in ok("pareto", "-m", "meta-llama/Llama-3.1-70B", "--hardware", "H200", "--engine",
                                 "sglang", "--max-gpus", "4", "--profile", "lab", *db)
    sim = json.loads(ok("simulate", "-m", "meta-llama/Llama-3.1-70B", "--hardware", "H200", "--tp", "4", "--engine",
                        "sglang", "--request-rate", "2", "--requests", "100", "--profile", "lab", "--json", *db))
    assert "(profile lab)" in sim["profile"]
    assert "profile: nvidia_h200_sxm: calibrated on" in ok(
        "cost", "-m", "meta-llama/Llama-3.1-70B", "--hardware", "H200", "--engine", "sglang", "--max-gpus", "4",
        "--profile", "lab", *db)

    # share with a colleague: export, import into another database under another name
    out = tmp_path / "lab.json"
    ok("profile", "export", "lab", "--out", str(out), *db)
    other_db = f"sqlite:///{tmp_path / 'colleague.sqlite3'}"
    ok("profile", "import", str(out), "--name", "from-lab", "--db", other_db)
    shown = json.loads(ok("profile", "show", "from-lab", "--json", "--db", other_db))
    assert shown["scopes"] == fitted["scopes"]
    # the file itself works as --profile too
    by_file = json.loads(ok("predict", "-m", "meta-llama/Llama-3.1-70B", "--hardware", "H200", "--tp", "4",
                            "--engine", "sglang", "--concurrency", "16", "--profile", str(out), "--json"))
    assert by_file["tpot_ms"] == pred["tpot_ms"]
    ok("profile", "delete", "lab", *db)
    assert json.loads(ok("profile", "list", "--json", *db))["profiles"] == []


def test_bad_input_is_one_line_and_stores_nothing(db_url, tmp_path):  # noqa: F811
    db = ("--db", db_url)
    assert "no profile named 'nope'" in bad("predict", "-m", "Qwen/Qwen3-8B", "--hardware", "H20",
                                             "--profile", "nope", *db)
    assert "no stored runs match" in bad("calibrate", "--runs", "all", "--profile", "x", *db)
    assert "exactly one" in bad("calibrate", "--profile", "x", *db)
    assert "profile name" in bad("calibrate", "--cases", str(_h20_cases(tmp_path)), "--profile", "\x07", *db)
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "suanli-profile", "version": 1, "name": "b", "scopes": '
                      '[{"hardware": "h", "engine": "e", "scales": {"gemm": 50}}]}', encoding="utf-8")
    assert "scales.gemm" in bad("profile", "import", str(broken), *db)
    assert "not found" in bad("predict", "-m", "Qwen/Qwen3-8B", "--hardware", "H20", "--profile",
                              str(tmp_path / "missing.json"))
    # a colleague's file must name chips by id and engines by runtime, and hold corrections
    alias = tmp_path / "alias.json"
    alias.write_text('{"format": "suanli-profile", "version": 1, "name": "a", "scopes": '
                     '[{"hardware": "H20", "engine": "vllm", "scales": {"gemm": 1.2}}]}', encoding="utf-8")
    assert "its id 'nvidia_h20_96gb'" in bad("profile", "import", str(alias), *db)
    empty = tmp_path / "empty.json"
    empty.write_text('{"format": "suanli-profile", "version": 1, "name": "e", "scopes": []}', encoding="utf-8")
    assert "no corrections" in bad("profile", "import", str(empty), *db)
    # names are safe in a URL and never look like a file
    for name in ("a/b", "../x", "lab.json"):
        assert "profile name" in bad("calibrate", "--cases", str(_h20_cases(tmp_path)), "--profile", name, *db)
    # runs that could never be predicted are refused at import, huge numbers included
    jsonl = DATA / "bench-formats" / "sglang" / "datacrunch-h200_llama_3_3_70b_online_output.jsonl"
    base = ("runs", "import", str(jsonl), "--hardware", "H200", "--model", "meta-llama/Llama-3.1-70B", *db)
    assert "not a multiple of tp" in bad(*base, "--gpus", "2", "--tp", "8")
    assert "--gpus must be" in bad(*base, "--gpus", "99999999999999999999")
    assert "not a run id" in bad("calibrate", "--runs", "99999999999999999999", "--profile", "t", *db)
    assert json.loads(ok("profile", "list", "--json", *db))["profiles"] == []
    # a fitted profile is not overwritten by an import of the same name
    ok("calibrate", "--cases", str(_h20_cases(tmp_path)), "--profile", "h20", *db)
    out = tmp_path / "h20.json"
    ok("profile", "export", "h20", "--out", str(out), *db)
    assert "exists" in bad("profile", "import", str(out), *db)
    ok("profile", "import", str(out), "--replace", *db)


def test_validate_few_shot_cli_json(tmp_path):
    cases = _h20_cases(tmp_path)
    report = json.loads(ok("validate", "--cases", str(cases), "--few-shot", "1", "--json"))
    assert report["summary"]["few_shot"]["k"] == 1
    assert all("calibrated_on" in c for c in report["cases"])
    text = ok("validate", "--cases", str(cases), "--few-shot", "1", "--summary-only")
    assert "few-shot K=1" in text
    assert "--few-shot" in bad("validate", "--cases", str(cases), "--few-shot", "-1")
