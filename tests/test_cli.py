"""The ``suanli`` command line: happy paths, JSON shapes, and one-line errors for bad input.

Every error a user can cause must end as exactly one line ``error: ...`` on stderr with exit
code 2 and nothing on stdout -- never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanli.cli.main import app

DATA = Path(__file__).parent / "data"
CASES = DATA / "cases-public.csv"
BUNDLED_MODELS = Path(__file__).parents[1] / "src" / "suanli" / "data" / "models"
QWEN32 = ["--model", "Qwen/Qwen3-32B", "--hardware", "H20"]

PREDICTION_KEYS = {
    "hardware", "model", "gpus", "tp", "pp", "ep", "weight_dtype", "kv_dtype", "isl", "osl", "concurrency",
    "ttft_ms", "tpot_ms", "output_tok_s_per_gpu", "total_tok_s_per_gpu", "fits", "weights_gb_per_gpu",
    "kv_gb_per_gpu", "max_concurrency", "mode", "warnings",
}


@pytest.fixture(autouse=True)
def _no_user_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUANLI_HARDWARE_PATH", raising=False)
    monkeypatch.delenv("SUANLI_SYSTEMS_PATH", raising=False)


runner = CliRunner()


def ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def ok_json(*args: str):
    return json.loads(ok(*args, "--json"))  # exactly one JSON document, nothing else on stdout


def bad(args: list[str], *needles: str) -> str:
    """Exit 2, nothing on stdout, one line 'error: ...' on stderr containing every needle."""
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in line
    for needle in needles:
        assert needle in line, line
    return line


# --- config files for the bad-input cases ---------------------------------------------------

def qwen32_config() -> dict:
    return json.loads((BUNDLED_MODELS / "Qwen__Qwen3-32B" / "config.json").read_text())


@pytest.fixture
def no_hidden_size(tmp_path: Path) -> Path:
    cfg = qwen32_config()
    del cfg["hidden_size"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


# --- predict: happy paths -------------------------------------------------------------------

def test_predict_json_has_the_documented_keys_and_sane_values() -> None:
    d = ok_json("predict", *QWEN32, "--concurrency", "16", "--isl", "2048", "--osl", "512")
    assert PREDICTION_KEYS <= d.keys()
    assert d["hardware"] == "nvidia_h20_96gb" and d["model"] == "Qwen/Qwen3-32B"
    assert (d["gpus"], d["tp"], d["pp"], d["ep"]) == (1, 1, 1, 1)
    assert d["isl"] == 2048 and d["osl"] == 512 and d["concurrency"] == 16
    assert d["weight_dtype"] == "bf16" and d["kv_dtype"] == "bf16"
    assert d["ttft_ms"] > 0 and d["tpot_ms"] > 0
    assert d["output_tok_s_per_gpu"] > 0 and d["total_tok_s_per_gpu"] > d["output_tok_s_per_gpu"]
    assert d["fits"] is True
    # 32.8 B params in BF16 = 65.5 GB; the KV of 16 x 2560 tokens is a few GB.
    assert 60 < d["weights_gb_per_gpu"] < 70
    assert 0 < d["kv_gb_per_gpu"] < 30
    assert d["max_concurrency"] >= 16
    assert d["mode"] == "calibrated"
    assert isinstance(d["warnings"], list)


def test_predict_flags_reach_the_model() -> None:
    d = ok_json("predict", "--model", "Qwen/Qwen3-235B-A22B", "--hardware", "nvidia_h200_sxm", "--gpus", "8",
                "--tp", "8", "--ep", "8", "--weight-dtype", "fp8", "--kv-dtype", "fp8", "--engine", "sglang",
                "--request-rate", "2", "--mode", "roofline")
    assert (d["gpus"], d["tp"], d["ep"], d["weight_dtype"], d["kv_dtype"]) == (8, 8, 8, "fp8", "fp8")
    assert d["engine"] == "sglang" and d["scenario"] == "server" and d["request_rate"] == 2
    assert d["mode"] == "roofline"


def test_predict_human_output_has_metrics_ranges_breakdown_and_provenance() -> None:
    out = ok("predict", *QWEN32, "--concurrency", "8")
    for text in ("TTFT", "TPOT", "output throughput", "total throughput", "speed per user", "fits in memory",
                 "weights", "KV cache", "max concurrency", "P10-P90", "decode step ms", "prefill ms",
                 "mlp", "mode: calibrated", "provenance:"):
        assert text in out, text


def test_predict_rumoured_chip_is_flagged() -> None:
    d = ok_json("predict", "--model", "Qwen/Qwen3-8B", "--hardware", "B30A")
    assert d["unverified_hardware"] is True
    assert any("rumoured" in w for w in d["warnings"])
    out = ok("predict", "--model", "Qwen/Qwen3-8B", "--hardware", "B30A")
    assert "warnings:" in out and "rumoured chip: specs unverified" in out
    assert "assumed value" in out


def test_predict_dtype_fallback_is_a_warning() -> None:
    d = ok_json("predict", "--model", "openai/gpt-oss-120b", "--hardware", "H20")
    assert d["weight_dtype"] == "mxfp4"
    assert any("no fp4 tensor throughput" in w for w in d["warnings"])


def test_predict_with_a_user_hardware_file(tmp_path: Path) -> None:
    chip = tmp_path / "chips.csv"
    chip.write_text("id,name,memory_gb,mem_bw_gbs,bf16_tflops_dense,fp8_tflops_dense,family\n"
                    "my_npu,My NPU,128,3000,500,1000,other\n")
    d = ok_json("predict", "--model", "Qwen/Qwen3-8B", "--hardware", "my_npu", "--hardware-file", str(chip))
    assert d["hardware"] == "my_npu" and d["tpot_ms"] > 0
    assert any("user-supplied" in w for w in d["warnings"])
    listed = ok_json("hardware", "list", "--hardware-file", str(chip))
    assert "my_npu" in {a["id"] for a in listed}


def test_predict_model_from_a_config_path() -> None:
    path = BUNDLED_MODELS / "Qwen__Qwen3-8B" / "config.json"
    d = ok_json("predict", "--model", str(path), "--hardware", "H20")
    assert d["tpot_ms"] > 0


# --- predict: every bad input is one line, exit 2 -------------------------------------------

def test_tp_not_dividing_heads() -> None:
    bad(["predict", *QWEN32, "--tp", "3"], "TP 3", "64 attention heads")


def test_model_that_does_not_fit_says_by_how_much() -> None:
    bad(["predict", "--model", "deepseek-ai/DeepSeek-R1", "--hardware", "H20", "--gpus", "1"],
        "does not fit", "nvidia_h20_96gb", "GB per accelerator short")


def test_unknown_chip_lists_closest_ids() -> None:
    bad(["predict", "--model", "Qwen/Qwen3-32B", "--hardware", "H21"], "unknown accelerator 'H21'",
        "closest ids", "nvidia_h20_96gb")


def test_unknown_model_lists_closest_ids() -> None:
    bad(["predict", "--model", "Qwen/Qwen3-33B", "--hardware", "H20"], "unknown model", "Qwen/Qwen3-32B")


def test_config_missing_a_field_names_it(no_hidden_size: Path) -> None:
    bad(["predict", "--model", str(no_hidden_size), "--hardware", "H20"], "hidden_size")
    bad(["predict", "--model", str(no_hidden_size.parent), "--hardware", "H20"], "hidden_size")
    bad(["models", "show", str(no_hidden_size)], "hidden_size")


def test_malformed_config_json(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    bad(["predict", "--model", str(path), "--hardware", "H20"], str(path), "JSON")


def test_missing_config_path(tmp_path: Path) -> None:
    bad(["predict", "--model", str(tmp_path / "nope" / "config.json"), "--hardware", "H20"], "not found")


@pytest.mark.parametrize(("flags", "needles"), [
    (["--isl", "abc"], ("--isl",)),
    # declared bounds (suanli.app.params): one message, the same as the API's and the Python API's
    (["--isl", "-5"], ("--isl must be a finite number between 1 and 1048576, got -5",)),
    (["--osl", "0"], ("--osl must be a finite number between 1 and 1048576",)),
    (["--isl", "0.5"], ("--isl must be a finite number between 1 and 1048576",)),
    (["--isl", "1e12"], ("--isl must be a finite number between 1 and 1048576",)),
    (["--isl", "nan"], ("--isl",)),
    (["--gpus", "two"], ("--gpus",)),
    (["--gpus", "0"], ("--gpus",)),
    (["--gpus", "3", "--tp", "2"], ("--gpus 3",)),
    (["--pp", "100"], ("--pp 100",)),
    (["--ep", "2"], ("--ep 2", "no MoE")),
    (["--concurrency", "0"], ("--concurrency",)),
    (["--concurrency", "4", "--request-rate", "2"], ("--concurrency", "--request-rate")),
    (["--scenario", "server"], ("--request-rate",)),
    (["--scenario", "bogus"], ("--scenario must be one of", "'bogus'")),
    (["--weight-dtype", "fp3"], ("weight_dtype 'fp3'",)),
    (["--kv-dtype", "int4"], ("--kv-dtype",)),
    (["--engine", "tgi"], ("--engine must be one of", "'tgi'", "vllm")),
    (["--system", "nope"], ("unknown system 'nope'",)),
    (["--mode", "guess"], ("--mode must be one of", "'guess'")),
    (["--hardware-file", "/nonexistent/chips.csv"], ("no such file",)),
    (["--bogus-flag"], ("--bogus-flag",)),
])
def test_predict_bad_flags(flags: list[str], needles: tuple[str, ...]) -> None:
    bad(["predict", *QWEN32, *flags], *needles)


def test_missing_required_option() -> None:
    bad(["predict", "--hardware", "H20"], "--model")


def test_missing_spec_is_a_clear_error() -> None:
    bad(["predict", "--model", "Qwen/Qwen3-8B", "--hardware", "cambricon_mlu590"], "no memory_gb")


def test_bad_user_hardware_file(tmp_path: Path) -> None:
    path = tmp_path / "chips.csv"
    path.write_text("id,memory_gb\nmy_npu,lots\n")
    bad(["predict", "--model", "Qwen/Qwen3-8B", "--hardware", "my_npu", "--hardware-file", str(path)],
        "line 2", "memory_gb")
    bad(["hardware", "list", "--hardware-file", str(path)], "memory_gb")


def test_unknown_command() -> None:
    bad(["forecast"], "forecast")
    bad(["hardware", "sell"], "sell")


# --- validate --------------------------------------------------------------------------------

def test_validate_public_cases_json() -> None:
    report = ok_json("validate", "--cases", str(CASES))
    cases, summary = report["cases"], report["summary"]
    assert len(cases) == summary["cases"] > 100
    for case in cases:
        assert {"case_id", "metric", "measured", "predicted", "ape", "status", "reason"} <= case.keys()
        if case["status"] == "ok":
            assert case["predicted"] > 0 and case["ape"] >= 0
        else:
            assert case["reason"]
    predicted = sum(c["status"] == "ok" for c in cases)
    assert predicted / len(cases) >= 0.9
    assert summary["predicted"] == predicted
    assert summary["predicted_share"] >= 0.9
    for key in ("overall", "by_hardware", "by_metric", "by_family"):
        assert key in summary
    assert summary["overall"]["median_ape"] is not None


def test_validate_human_output_lists_cases_summaries_and_skipped(tmp_path: Path) -> None:
    lines = CASES.read_text(encoding="utf-8").splitlines()
    header, first = lines[0], lines[1]
    extra = ("x-unknown-chip,g,u,H21,1,Qwen/Qwen3-32B,bf16,,vllm,,,,,100,100,1,,single-request,tpot_ms,20,\n"
             "x-bad-isl,g,u,H20,1,Qwen/Qwen3-32B,bf16,,vllm,,,,,abc,100,1,,single-request,tpot_ms,20,\n")
    path = tmp_path / "cases.csv"
    path.write_text(f"{header}\n{first}\n{extra}", encoding="utf-8")
    result = runner.invoke(app, ["validate", "--cases", str(path)], terminal_width=250)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    case_id = first.split(",")[0]
    assert case_id in out
    for text in ("APE", "Skipped cases (2)", "x-unknown-chip", "unknown accelerator 'H21'", "x-bad-isl",
                 "APE by hardware", "APE by metric", "APE by metric family", "1 of 3 cases predicted"):
        assert text in out, text
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_validate_bad_files(tmp_path: Path) -> None:
    bad(["validate", "--cases", str(tmp_path / "none.csv")], "cannot read case file")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    bad(["validate", "--cases", str(wrong)], "not a validation-case file")
    bad(["validate"], "--cases")


# --- catalogs --------------------------------------------------------------------------------

def test_hardware_list() -> None:
    out = ok("hardware", "list")
    assert "nvidia_h20_96gb" in out and "BF16" in out and "rumoured" in out
    chips = ok_json("hardware", "list")
    assert len(chips) > 40
    b30a = next(c for c in chips if c["id"] == "nvidia_b30a")
    assert b30a["status"] == "rumoured" and b30a["unverified"] is True
    for key in ("name", "memory_gb", "mem_bw_gbs", "bf16_tflops", "fp8_tflops", "fp4_tflops", "scaleup_link",
                "status", "china_buyable"):
        assert key in b30a
    china = ok_json("hardware", "list", "--china-buyable")
    assert china and all(c["china_buyable"] for c in china) and len(china) < len(chips)
    assert "nvidia_h20_96gb" in {c["id"] for c in china}


def test_hardware_show() -> None:
    d = ok_json("hardware", "show", "H20")
    assert d["id"] == "nvidia_h20_96gb" and "H20" in d["aliases"]
    assert d["source_urls"] and d["notes"]
    assert isinstance(d["assumed"], dict) and d["systems"]
    d = ok_json("hardware", "show", "B30A")
    assert d["assumed"] and all(isinstance(why, str) and why for why in d["assumed"].values())
    out = ok("hardware", "show", "B30A")
    assert "rumoured chip: specs unverified" in out and "assumed values" in out and "sources:" in out
    bad(["hardware", "show", "H21"], "unknown accelerator", "closest ids")


def test_models_list_and_show() -> None:
    models = ok_json("models", "list")
    ids = {m["id"] for m in models}
    assert {"Qwen/Qwen3-32B", "deepseek-ai/DeepSeek-R1", "openai/gpt-oss-120b"} <= ids
    r1 = next(m for m in models if m["id"] == "deepseek-ai/DeepSeek-R1")
    assert 600 < r1["params_total_b"] < 700 and 30 < r1["params_active_b"] < 45
    assert "Qwen/Qwen3-32B" in ok("models", "list")

    d = ok_json("models", "show", "deepseek-ai/DeepSeek-R1")
    assert d["attention"] == "mla" and d["kv_elements_per_token_per_layer"] == 512 + 64
    assert d["kv_elements_per_token"] == 576 * 61
    d = ok_json("models", "show", str(BUNDLED_MODELS / "Qwen__Qwen3-32B"))
    assert d["kv_elements_per_token_per_layer"] == 2 * 8 * 128
    assert d["kv_bytes_per_token_bf16"] == 2 * 8 * 128 * 64 * 2
    out = ok("models", "show", "qwen3-32b")
    assert "kv_elements_per_token" in out and "params_total_b" in out
    bad(["models", "show", "Llama-9"], "unknown model")


def test_systems_list_and_show() -> None:
    systems = ok_json("systems", "list")
    s = next(x for x in systems if x["id"] == "cn_hgx_h20_8gpu_2024")
    assert s["gpu_id"] == "nvidia_h20_96gb" and s["scaleout_gbps_per_gpu"] > 0
    assert "cn_hgx_h20_8gpu_2024" in ok("systems", "list")
    assert ok_json("systems", "show", "cn_hgx_h20_8gpu_2024")["currency"] == "CNY"
    bad(["systems", "show", "nope"], "unknown system")


def test_version() -> None:
    assert ok("--version").startswith("suanli ")


# --- the installed console script -------------------------------------------------------------

def _script() -> list[str]:
    found = shutil.which("suanli")
    if found:
        return [found]
    return [sys.executable, "-c", "from suanli.cli.main import main; main()"]  # pragma: no cover


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("SUANLI_HARDWARE_PATH", "SUANLI_SYSTEMS_PATH")}


def test_console_script_predict_json() -> None:
    proc = subprocess.run([*_script(), "predict", *QWEN32, "--json"], capture_output=True, text=True,
                          env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert PREDICTION_KEYS <= d.keys() and d["tpot_ms"] > 0


def test_console_script_error_is_one_line_without_traceback() -> None:
    proc = subprocess.run([*_script(), "predict", *QWEN32, "--tp", "3"], capture_output=True, text=True,
                          env=_env(), timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_cli_module_imports_no_numpy() -> None:
    """Start-up stays fast: the modelling core (numpy) loads only inside commands."""
    code = "import sys, suanli.cli.main; print('numpy' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr
