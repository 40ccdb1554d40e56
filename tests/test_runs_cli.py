"""`suanli runs import|list|show|delete`: output, --json, and user errors as one line
`error: ...` on stderr with exit code 2 (no traceback); SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_market_helpers import db_url, no_user_db  # noqa: F401
from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "bench-formats"
SGLANG = str(DATA / "sglang" / "datacrunch-h200_llama_3_3_70b_online_output.jsonl")
VLLM = str(DATA / "vllm" / "llm-k8s_tp8_pp1_sharegpt_qps_04.summary_only.json")
FLAGS = ["--hardware", "H200", "--model", "meta-llama/Llama-3.1-70B", "--gpus", "4", "--tp", "4"]


def ok(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, (r.stdout, r.stderr, r.exception)
    return r.stdout


def bad(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 2, (r.stdout, r.stderr, r.exception)
    lines = r.stderr.splitlines()
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in r.stderr
    return lines[-1]


def test_import_list_show_delete(db_url):
    out = ok("runs", "import", SGLANG, *FLAGS, "--label", "dc", "--db", db_url)
    assert "sglang, 7 runs, added 7 (ids 1-7), 0 duplicates" in out
    again = json.loads(ok("runs", "import", SGLANG, *FLAGS, "--label", "dc", "--db", db_url, "--json"))
    assert again["ok"] and (again["added"], again["duplicates"]) == (0, 7)
    listed = json.loads(ok("runs", "list", "--hardware", "H200", "--db", db_url, "--json"))["runs"]
    assert [r["id"] for r in listed] == list(range(1, 8)) and listed[0]["label"] == "dc"
    assert "nvidia_h200_sxm" in ok("runs", "list", "--db", db_url)
    shown = json.loads(ok("runs", "show", "3", "--db", db_url, "--json"))
    assert shown["request_rate"] == 4.0 and shown["record_index"] == 2 and shown["hardware"] == "nvidia_h200_sxm" and shown["format"] == "sglang"
    assert "output_tok_s" in ok("runs", "show", "3", "--db", db_url)
    assert "use --yes" in bad("runs", "delete", "1", "--db", db_url)   # no terminal to confirm on
    assert json.loads(ok("runs", "delete", "1", "2", "--yes", "--db", db_url, "--json")) == {"deleted": 2}
    assert len(json.loads(ok("runs", "list", "--db", db_url, "--json"))["runs"]) == 5
    assert "no run with id 1" in bad("runs", "show", "1", "--db", db_url)
    assert "nothing deleted" in bad("runs", "delete", "1", "--yes", "--db", db_url)


def test_user_errors_are_one_line(db_url, tmp_path):
    assert "unknown chip 'H99' given by --hardware" in bad(
        "runs", "import", VLLM, "--hardware", "H99", "--model", "Qwen/Qwen3-32B", "--gpus", "8", "--db", db_url)
    line = bad("runs", "import", VLLM, "--hardware", "H20", "--gpus", "8", "--db", db_url)
    assert "unknown model 'meta-llama/Llama-3.3-70B-Instruct' in the file" in line and "--model" in line
    line = bad("runs", "import", SGLANG, "--db", db_url)
    assert "7 bad records, all: the file does not say hardware or model or gpus" in line
    notes = tmp_path / "notes.txt"
    notes.write_text("nothing here\n", encoding="utf-8")
    assert "tried: sglang, vllm" in bad("runs", "import", str(notes), *FLAGS, "--db", db_url)
    assert "--engine 'tgi'" in bad("runs", "import", SGLANG, *FLAGS, "--engine", "tgi", "--db", db_url)
    assert json.loads(ok("runs", "list", "--db", db_url, "--json")) == {"runs": []}


def test_bad_row_json_report(db_url, tmp_path):
    broken = tmp_path / "broken.jsonl"
    lines = Path(SGLANG).read_text(encoding="utf-8").splitlines()
    broken.write_text("\n".join(lines[:4] + [lines[4][:30]] + lines[5:]) + "\n", encoding="utf-8")
    r = runner.invoke(app, ["runs", "import", str(broken), *FLAGS, "--db", db_url, "--json"])
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["problems"][0]["line"] == 5
    assert "nothing written" in r.stderr.splitlines()[-1]


def test_command_line_entry_point(tmp_path):
    db = tmp_path / "m.sqlite3"
    done = subprocess.run([sys.executable, "-m", "suanli", "runs", "import", VLLM, "--hardware", "H100",
                           "--gpus", "8", "--db", str(db)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")
