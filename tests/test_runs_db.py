"""Benchmark runs in the database (SQLite and PostgreSQL): import with flags, duplicates,
all-or-nothing, unknown chips/models, list/show/delete, selectors, case rows."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from test_market_helpers import count, db, db_url, no_user_db  # noqa: F401

from suanli.app.runs import (
    RunFlags,
    delete_runs,
    get_run,
    import_run_bytes,
    import_runs,
    list_runs,
    select_runs,
)
from suanli.errors import InvalidInput
from suanli.market.bench_formats import UnknownFormat
from suanli.market.errors import ImportRejected
from suanli.market.runs import CASE_HEADER, UnknownRun

DATA = Path(__file__).parent / "data" / "bench-formats"
VLLM = DATA / "vllm" / "llm-k8s_tp8_pp1_sharegpt_qps_04.summary_only.json"
SGLANG = DATA / "sglang" / "datacrunch-h200_llama_3_3_70b_online_output.jsonl"
MOCK = DATA / "vllm" / "GENERATED_vllm-0.33_openai-4.0qps-concurrency4-mock-model-20261129-044756.json"
# the llm-k8s runs: Llama-3.3-70B-Instruct (mapped to the catalog's Llama-3.1-70B, same
# architecture) on 8 A100s; the chip variant is a test choice (the catalog has the 80 GB one)
A100 = RunFlags(hardware="nvidia_a100_sxm_80gb", model="meta-llama/Llama-3.1-70B", gpus=8, tp=8)
H200_TP4 = RunFlags(hardware="H200", model="meta-llama/Llama-3.1-70B", gpus=4, tp=4, label="datacrunch")


def test_vllm_file_with_flags_is_stored_per_accelerator(db):
    res = import_runs([VLLM], db, flags=A100)
    assert (res.runs, res.added, res.duplicates) == (1, 1, 0)
    run = get_run(res.run_ids[0], db)
    assert run.format == "vllm" and run.hardware == "nvidia_a100_sxm_80gb" and run.gpus == 8 and run.tp == 8
    assert math.isclose(run.metrics["output_tok_s"], 673.9184869835061 / 8)
    assert math.isclose(run.metrics["total_tok_s"], 1351.170924879084 / 8)
    assert math.isclose(run.metrics["ttft_ms"], 50.32546663501307)
    assert (run.scenario, run.request_rate, run.num_requests, run.engine) == ("server", 4.0, 200, "vllm")
    assert math.isclose(run.isl, 42659 / 200)
    # the file's model is not in the catalog: the flag replaced it, the file's name is kept
    assert run.model == "meta-llama/Llama-3.1-70B"
    assert run.extras["file_model"] == "meta-llama/Llama-3.3-70B-Instruct"
    assert len(run.file_sha256) == 64 and run.record_index == 0 and run.imported_at is not None


def test_command_line_from_the_commands_file_beside_it(db, tmp_path):
    res = import_runs([VLLM], db, flags=A100)
    assert get_run(res.run_ids[0], db).command.startswith("python3 benchmark_serving.py --save-result --base-url")
    alone = tmp_path / VLLM.name
    shutil.copy(VLLM, alone)
    other = import_runs([alone], db, flags=A100)   # same bytes: a duplicate, nothing new
    assert other.added == 0 and other.duplicates == 1


def test_no_command_unless_recorded(db):
    res = import_runs([SGLANG], db, flags=H200_TP4)
    assert all(get_run(i, db).command == "" for i in res.run_ids)


def test_reimport_reports_duplicates_and_stores_nothing_new(db):
    first = import_runs([SGLANG], db, flags=H200_TP4)
    assert (first.runs, first.added) == (7, 7)
    again = import_runs([SGLANG], db, flags=H200_TP4)
    assert (again.runs, again.added, again.duplicates) == (7, 0, 7)
    assert count(db, "runs") == 7


def test_same_file_twice_in_one_import(db):
    res = import_runs([SGLANG, SGLANG], db, flags=H200_TP4)
    assert (res.runs, res.added, res.duplicates) == (14, 7, 7)


def test_dry_run_stores_nothing(db):
    res = import_runs([SGLANG], db, flags=H200_TP4, dry_run=True)
    assert res.added == 7 and count(db, "runs") == 0


def test_hardware_alias_resolves(db):
    res = import_runs([SGLANG], db, flags=H200_TP4)
    assert {get_run(i, db).hardware for i in res.run_ids} == {"nvidia_h200_sxm"}


def test_missing_flags_are_named(db):
    with pytest.raises(ImportRejected) as err:
        import_runs([SGLANG], db, flags=RunFlags(model="meta-llama/Llama-3.1-70B"))
    assert "--hardware, --gpus" in str(err.value) and "line 1" in str(err.value)
    assert count(db, "runs") == 0


def test_unknown_chip_in_the_file_says_so(db):
    flags = RunFlags(model="Qwen/Qwen3-32B", gpus=1)
    with pytest.raises(ImportRejected, match=r"unknown chip 'mock' in the file .*give --hardware"):
        import_runs([MOCK], db, flags=flags)
    res = import_runs([MOCK], db, flags=RunFlags(hardware="H20", model="Qwen/Qwen3-32B", gpus=1))
    run = get_run(res.run_ids[0], db)
    assert run.hardware == "nvidia_h20_96gb" and run.extras["file_hardware"] == "mock" and run.tp == 1


@pytest.mark.parametrize(("flags", "needle"), [
    (RunFlags(hardware="H99", model="Qwen/Qwen3-32B", gpus=1), "unknown chip 'H99' given by --hardware"),
    (RunFlags(hardware="H20", model="nobody/none", gpus=1), "unknown model 'nobody/none' given by --model"),
])
def test_unknown_chip_or_model_flag(db, flags, needle):
    with pytest.raises(ImportRejected, match=needle):
        import_runs([SGLANG], db, flags=flags)
    assert count(db, "runs") == 0


def test_flag_contradicting_the_file_is_a_conflict(db):
    nightly = DATA / "vllm" / "llm-k8s_tp8_pp1_nightly_benchmark_results.json"
    flags = RunFlags(hardware="nvidia_a100_sxm_80gb", model="meta-llama/Llama-3.1-70B", gpus=8, tp=4)
    with pytest.raises(ImportRejected, match="--tp 4 contradicts the file's tp 8"):
        import_runs([nightly], db, flags=flags)
    trt = DATA / "trtllm" / "DOCS_trtllm-bench_report.json"
    with pytest.raises(ImportRejected, match="--model .* contradicts the file's model Qwen/Qwen3-32B"):
        import_runs([trt], db, flags=RunFlags(hardware="H100", model="Qwen/Qwen3-14B"))
    res = import_runs([trt], db, flags=RunFlags(hardware="H100"))   # the file says model and gpus
    run = get_run(res.run_ids[0], db)
    assert (run.model, run.gpus, run.weight_dtype, run.engine) == ("Qwen/Qwen3-32B", 2, "fp8", "trtllm")
    assert run.metrics["output_tok_s"] == 5120.0 / 2


def test_all_or_nothing_across_files(db, tmp_path):
    bad = tmp_path / "bad.jsonl"
    lines = SGLANG.read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join(lines[:2] + [lines[2][:40]] + lines[3:]) + "\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as err:
        import_runs([VLLM, bad], db, flags=H200_TP4.__class__(hardware="H200", model="meta-llama/Llama-3.1-70B",
                                                              gpus=4))
    assert err.value.problems[0].line == 3 and "bad.jsonl" in str(err.value)
    assert count(db, "runs") == 0


def test_bad_case_csv_row_stores_nothing(db, tmp_path):
    cases = Path(__file__).parent / "data" / "cases-public.csv"
    lines = cases.read_text(encoding="utf-8").splitlines(keepends=True)
    bad = tmp_path / "cases.csv"
    row = ("bad-row,g,https://x.test,nvidia_h20_96gb,8,Qwen/Qwen3-32B,bf16,,vllm,8,,,,1000,500,16,,"
           "fixed-concurrency,output_tok_s,-5,n\n")
    bad.write_text("".join(lines[:5] + [row] + lines[5:]), encoding="utf-8")
    with pytest.raises(ImportRejected, match="line 6: value must be a positive number, got '-5'"):
        import_runs([bad], db)
    assert count(db, "runs") == 0


def test_unknown_format_names_the_formats(db, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("just some notes\n", encoding="utf-8")
    with pytest.raises(UnknownFormat, match="tried: sglang, vllm, aiperf, genai-perf, guidellm, mlperf, trtllm, cases"):
        import_runs([f], db, flags=A100)
    with pytest.raises(UnknownFormat, match="unknown format 'csv'"):
        import_runs([VLLM], db, flags=A100, fmt="csv")


def test_bad_flag_values(db):
    with pytest.raises(InvalidInput, match="--engine 'tgi'"):
        import_runs([VLLM], db, flags=RunFlags(engine="tgi"))
    with pytest.raises(InvalidInput, match="no such file"):
        import_runs([DATA / "nope.json"], db, flags=A100)


def test_upload_bytes_with_a_command(db):
    res = import_run_bytes(VLLM.read_bytes(), "upload.json", db, flags=A100, command="vllm bench serve ...")
    run = get_run(res.run_ids[0], db)
    assert run.file_name == "upload.json" and run.command == "vllm bench serve ..."


def test_case_csv_import_and_mlperf_with_isl_flag(db):
    cases = Path(__file__).parent / "data" / "cases-public.csv"
    res = import_runs([cases], db)
    assert res.added > 0 and all(r.format == "cases" for r in list_runs(db))
    mlperf = DATA / "mlperf" / "llama2-70b-99_Server_mlperf_log_summary.txt"
    res = import_runs([mlperf], db, flags=RunFlags(hardware="MI300X", model="meta-llama/Llama-2-70b-hf", gpus=8,
                                                   engine="vllm", isl=684.0))
    run = get_run(res.run_ids[0], db)
    assert math.isclose(run.metrics["output_tok_s"], 24593.77 / 8) and run.isl == 684.0
    assert run.request_rate == 83.5 and run.scenario == "server"


def test_to_case_rows_feed_the_case_machinery(db):
    from suanli.app.calibration import load_calibration
    from suanli.app.validate import case_inputs
    from suanli.specs.accelerator import load_hardware
    from suanli.specs.system import load_systems

    res = import_runs([VLLM], db, flags=A100)
    run = get_run(res.run_ids[0], db)
    rows = run.to_case_rows()
    assert [r["metric"] for r in rows] == ["output_tok_s", "total_tok_s", "input_tok_s", "ttft_ms", "tpot_ms"]
    rid = run.id
    first = rows[0]
    assert list(first) == CASE_HEADER and all(isinstance(v, str) for v in first.values())
    assert first["case_id"] == f"run-{rid}-output_tok_s" and first["source_group"] == "runs"
    assert first["source_url"] == f"run:{rid}" and first["value"] == repr(673.9184869835061 / 8)
    assert (first["scenario"], first["request_rate"], first["concurrency"], first["num_requests"]) == \
        ("server", "4", "", "200")
    assert VLLM.name in first["notes"] and first["notes"].startswith("vllm")
    _, acc, kwargs = case_inputs(first, catalog=load_hardware(), systems=load_systems(),
                                 calibration=load_calibration())
    assert acc.id == "nvidia_a100_sxm_80gb" and kwargs["gpus"] == 8 and kwargs["tp"] == 8
    assert kwargs["request_rate"] == 4.0 and kwargs["num_requests"] == 200


def test_list_show_delete(db):
    import_runs([SGLANG], db, flags=H200_TP4)
    import_runs([VLLM], db, flags=A100)
    assert len(list_runs(db)) == 8
    assert len(list_runs(db, hardware="H200")) == 7
    assert len(list_runs(db, label="datacrunch")) == 7
    assert len(list_runs(db, engine="vllm")) == 1
    ids = [r.id for r in list_runs(db)]
    assert delete_runs(ids[:2], db) == 2 and len(list_runs(db)) == 6
    with pytest.raises(UnknownRun):
        get_run(ids[0], db)
    with pytest.raises(UnknownRun, match="nothing deleted"):
        delete_runs([ids[2], 999999], db)
    assert len(list_runs(db)) == 6


def test_select_runs(db):
    sg = import_runs([SGLANG], db, flags=H200_TP4).run_ids
    vl = import_runs([VLLM], db, flags=A100).run_ids
    everything = [r.id for r in select_runs(db, "all")]
    assert everything == list(sg) + list(vl)
    assert [r.id for r in select_runs(db, f"{sg[0]},{sg[2]}-{sg[4]}")] == [sg[0], sg[2], sg[3], sg[4]]
    assert [r.id for r in select_runs(db, "label:datacrunch")] == list(sg)
    assert [r.id for r in select_runs(db, "hardware:H200+engine:sglang")] == list(sg)
    assert [r.id for r in select_runs(db, "engine:vllm")] == list(vl)
    assert [r.id for r in select_runs(db, "model:meta-llama/Llama-3.1-70B+label:datacrunch")] == list(sg)
    assert [r.id for r in select_runs(db, f"{sg[0]}-{vl[0]}+engine:vllm")] == list(vl)
    assert select_runs(db, "label:nobody") == []
    for bad in ("", "3-1", "colour:red", "label:", "x"):
        with pytest.raises(InvalidInput):
            select_runs(db, bad)


def test_runs_survive_backup_and_restore(db, db_url, tmp_path):
    from suanli.market.backup import backup, restore

    import_runs([SGLANG], db, flags=H200_TP4)
    before = [r.to_dict() for r in list_runs(db)]
    path = tmp_path / "b.json.gz"
    info = backup(db, path)
    assert info.rows["runs"] == 7
    delete_runs([r["id"] for r in before], db)
    restore(db, path)
    assert [r.to_dict() for r in list_runs(db)] == before
    again = import_runs([SGLANG], db, flags=H200_TP4)   # the restored runs still count as stored
    assert again.added == 0 and again.duplicates == 7


def test_a_0001_database_is_upgraded_in_place(db_url):
    from sqlalchemy import inspect

    from suanli.market.db import Database, make_engine, open_db, resolve_url, schema_version
    from suanli.market.migrations import HEAD, upgrade

    old = Database(url=resolve_url(db_url), engine=make_engine(resolve_url(db_url)))
    with old.write() as conn:
        upgrade(conn, "0001")
    with old.read() as conn:
        assert schema_version(conn) == "0001" and not inspect(conn).has_table("runs")
    old.dispose()
    d = open_db(db_url, seed=False)
    try:
        with d.read() as conn:
            assert schema_version(conn) == HEAD == "0002" and inspect(conn).has_table("runs")
        assert import_runs([SGLANG], d, flags=H200_TP4).added == 7
    finally:
        d.dispose()
