"""Benchmark-file parsers on the sample files of tests/data/bench-formats (see its README).

Every expected number was read by eye from the sample file; where the case schema asks
for a conversion, the arithmetic is written out (e.g. the file's output throughput / 8
GPUs, total input tokens / completed requests)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from suanli.market.bench_formats import FORMATS, FileProblem, UnknownFormat, detect, parse

DATA = Path(__file__).parent / "data" / "bench-formats"


def read(rel: str) -> tuple[str, str]:
    path = DATA / rel
    return path.read_bytes().decode("utf-8"), path.name


def parsed(rel: str, fmt: str = "auto"):
    text, name = read(rel)
    return parse(text, name, fmt)


def close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-9)


# --- vLLM --------------------------------------------------------------------------------------

def test_vllm_console_block():
    fmt, [r] = parsed("vllm/GENERATED_vllm-0.33_console_result_block.txt")
    assert fmt == "vllm"
    assert r.metrics == {"ttft_ms": 22.96, "tpot_ms": 4.28}                 # Mean TTFT, Mean TPOT
    assert r.totals["output_tok_s"] == 118.93 and r.totals["total_tok_s"] == 594.67
    assert close(r.totals["input_tok_s"], 594.67 - 118.93)
    assert (r.scenario, r.concurrency, r.request_rate, r.num_requests) == ("server", 4, 4.0, 8)
    assert (r.isl, r.osl) == (1024 / 8, 256 / 8)
    assert r.extras["p99_e2el_ms"] == 159.52 and r.extras["failed"] == 0


def test_sglang_console_block():
    # written here in the layout SGLang's bench_serving prints (its print statements), not a real file
    text = ("#Input tokens: 2048\n#Output tokens: 512\n\n"
            "============ Serving Benchmark Result ============\n"
            "Backend:                                 sglang\n"
            "Traffic request rate:                    inf\n"
            "Max request concurrency:                 16\n"
            "Successful requests:                     4\n"
            "Benchmark duration (s):                  2.00\n"
            "Total input tokens:                      2048\n"
            "Total generated tokens:                  512\n"
            "Request throughput (req/s):              2.00\n"
            "Input token throughput (tok/s):          1024.00\n"
            "Output token throughput (tok/s):         256.00\n"
            "Total token throughput (tok/s):          1280.00\n"
            "----------------Time to First Token-----------------\n"
            "Mean TTFT (ms):                          120.50\n"
            "Median TTFT (ms):                        118.00\n"
            "-----Time per Output Token (excl. 1st token)------\n"
            "Mean TPOT (ms):                          12.25\n"
            "==================================================\n")
    fmt, [r] = parse(text, "paste.txt")
    assert fmt == "sglang" and r.hints == {"engine": "sglang"}
    assert (r.scenario, r.concurrency, r.request_rate) == ("fixed-concurrency", 16, None)
    assert r.totals == {"output_tok_s": 256.0, "input_tok_s": 1024.0, "total_tok_s": 1280.0}
    assert r.metrics == {"ttft_ms": 120.5, "tpot_ms": 12.25} and (r.isl, r.osl) == (512.0, 128.0)
    _, [uncapped] = parse(text.replace("16\n", "not set\n", 1), "paste.txt")
    assert (uncapped.scenario, uncapped.concurrency) == ("offline", None)
    with pytest.raises(FileProblem) as err:
        parse(text.replace("120.50", "12O.50"), "paste.txt")
    assert err.value.line == 17

def test_vllm_save_result_summary():
    fmt, runs = parsed("vllm/llm-k8s_tp8_pp1_sharegpt_qps_04.summary_only.json")
    assert fmt == "vllm" and len(runs) == 1
    r = runs[0]
    assert close(r.metrics["ttft_ms"], 50.32546663501307)          # "mean_ttft_ms"
    assert close(r.metrics["tpot_ms"], 27.083319078977674)         # "mean_tpot_ms"
    assert close(r.totals["output_tok_s"], 673.9184869835061)      # "output_throughput" (8 GPUs together)
    assert close(r.totals["total_tok_s"], 1351.170924879084)
    assert close(r.totals["input_tok_s"], 42659 / 62.98832992400003)  # total_input_tokens / duration
    assert close(r.isl, 42659 / 200) and close(r.osl, 42449 / 200)   # totals / completed
    assert (r.scenario, r.request_rate, r.concurrency, r.num_requests) == ("server", 4.0, None, 200)
    assert r.hints == {"engine": "vllm", "model": "meta-llama/Llama-3.3-70B-Instruct"}
    assert close(r.extras["p99_ttft_ms"], 67.56385031015722)
    assert r.extras["request_goodput"] is None                      # the "request_goodput:" key, colon dropped


def test_vllm_current_format_metadata_strings_and_concurrency_cap():
    _, [r] = parsed("vllm/GENERATED_vllm-0.33_openai-4.0qps-concurrency4-mock-model-20261129-044756.json")
    # --request-rate 4 with --max-concurrency 4: a rate-limited (server) run with a cap
    assert (r.scenario, r.request_rate, r.concurrency, r.num_requests) == ("server", 4.0, 4, 8)
    assert r.hints == {"model": "mock-model", "tp": 1, "hardware": "mock"}   # --metadata tp=1 gpu=mock
    assert close(r.metrics["ttft_ms"], 22.959764999967547)
    assert close(r.extras["p90_ttft_ms"], 23.731503399903886)
    assert close(r.isl, 1024 / 8) and close(r.osl, 256 / 8)


def test_vllm_request_rate_inf_string_is_fixed_concurrency():
    _, [r] = parsed("vllm/GENERATED_vllm-0.33_openai-chat_save-detailed.json")
    assert (r.scenario, r.request_rate, r.concurrency) == ("fixed-concurrency", None, 2)
    assert close(r.totals["output_tok_s"], 420.5958271548657)
    assert "ttfts" not in r.extras   # per-request lists are not kept


def test_vllm_nightly_table():
    _, runs = parsed("vllm/llm-k8s_tp8_pp1_nightly_benchmark_results.json")
    assert [r.scenario for r in runs] == ["server", "server", "server", "offline"]
    assert [r.request_rate for r in runs] == [1.0, 4.0, 16.0, None]    # tp8_pp1_qps_01/04/16/inf
    assert all(r.hints == {"tp": 8, "pp": 1} for r in runs)
    qps4 = runs[1]
    assert close(qps4.metrics["ttft_ms"], 50.32546663501307)
    assert close(qps4.totals["output_tok_s"], 673.9184869835061)
    # no token totals in the table: tokens per request = tokens/s / requests/s
    assert close(qps4.osl, 673.9184869835061 / 3.1751913448302957)
    assert close(runs[3].totals["output_tok_s"], 1780.3566341089636)


# --- SGLang ------------------------------------------------------------------------------------

def test_sglang_jsonl_current():
    fmt, [r] = parsed("sglang/GENERATED_sglang-0.5.3_bench_serving_random-ids.jsonl")
    assert fmt == "sglang" and r.hints == {"engine": "sglang"}
    assert close(r.totals["input_tok_s"], 1044.3022785079202)      # "input_throughput"
    assert close(r.totals["output_tok_s"], 261.07556962698004)
    assert close(r.metrics["tpot_ms"], 4.2985391008067335)
    assert (r.scenario, r.concurrency, r.request_rate) == ("server", 4, 4.0)


def test_sglang_early_release_offline_infinity_and_medians_only():
    _, runs = parsed("sglang/datacrunch-h200_llama_3_3_70b_offline_output.jsonl")
    assert len(runs) == 7 and [r.line for r in runs] == list(range(1, 8))
    r = runs[0]
    assert (r.scenario, r.request_rate, r.num_requests) == ("offline", None, 3000)   # bare Infinity
    assert close(r.totals["output_tok_s"], 4520.698730654741)
    assert close(r.isl, 1525074 / 3000) and close(r.osl, 1544818 / 3000)
    # only medians in this release: no mean TTFT is invented
    assert "ttft_ms" not in r.metrics and close(r.extras["median_ttft_ms"], 91282.20983641222)


def test_sglang_online_rates():
    _, runs = parsed("sglang/datacrunch-h200_llama_3_3_70b_online_output.jsonl")
    assert runs[0].scenario == "server" and runs[0].request_rate == 1.0 and runs[0].num_requests == 300
    assert close(runs[0].totals["output_tok_s"], 537.4142851849319)


def test_sglang_one_token_prompts():
    _, [r] = parsed("sglang/datacrunch-h200_deepseek_dp_mla_output.jsonl")
    assert close(r.isl, 10000 / 10000) and close(r.osl, 5120000 / 10000)
    assert close(r.totals["output_tok_s"], 12412.394674113431)


# --- GenAI-Perf / AIPerf -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["TESTFIXTURE_profile_export_genai_perf.csv",
                                  "TESTFIXTURE_profile_export_genai_perf_with_gpu_telemetry.csv"])
def test_genai_perf_csv(name):
    text, _ = read(f"genai-perf/{name}")
    if "telemetry" not in name:
        assert "\r\n" in text   # the exporter's CRLF line ends
    fmt, [r] = parse(text, name)
    assert fmt == "genai-perf"
    assert r.metrics == {"ttft_ms": 8.0, "tpot_ms": 11.0}   # Time To First Token avg, Inter Token Latency avg
    assert r.totals == {"output_tok_s": 456.0}
    assert (r.isl, r.osl, r.num_requests, r.scenario) == (6.0, 2.0, 3, "")


def test_genai_perf_json():
    fmt, [r] = parsed("genai-perf/TESTFIXTURE_profile_export_genai_perf.json")
    assert fmt == "genai-perf"
    assert r.totals == {"output_tok_s": 200.0} and (r.isl, r.osl) == (550.0, 16.0)
    assert r.hints == {"model": "small_model", "engine": "vllm"}
    assert (r.scenario, r.concurrency) == ("single-request", 1)


def test_aiperf_json():
    fmt, [r] = parsed("aiperf/GENERATED_aiperf-0.13.0_profile_export_aiperf.json")
    assert fmt == "aiperf"
    assert close(r.metrics["ttft_ms"], 24.10365583333333) and close(r.metrics["tpot_ms"], 4.357966633333333)
    assert close(r.totals["output_tok_s"], 338.3663995905428)
    assert close(r.totals["input_tok_s"], 1353.4655983621712)
    assert (r.isl, r.osl, r.num_requests) == (64.0, 16.0, 6)
    assert (r.scenario, r.concurrency) == ("fixed-concurrency", 2)
    assert r.command.startswith("aiperf profile --model 'mock-model'")


def test_aiperf_csv():
    fmt, [r] = parsed("aiperf/GENERATED_aiperf-0.13.0_profile_export_aiperf.csv")
    assert fmt == "aiperf"
    assert r.metrics == {"ttft_ms": 24.10, "tpot_ms": 4.36}
    assert r.totals == {"output_tok_s": 338.37, "total_tok_s": 1691.83, "input_tok_s": 1353.47}
    assert (r.isl, r.osl, r.num_requests) == (64.0, 16.0, 6)


# --- guidellm ----------------------------------------------------------------------------------

def test_guidellm_02_schema():
    fmt, [r] = parsed("guidellm/guidellm-v0.2-0.3_benchmarks_stripped.json")
    assert fmt == "guidellm"
    assert (r.scenario, r.concurrency, r.num_requests) == ("single-request", 1, 46)   # synchronous
    assert close(r.metrics["ttft_ms"], 16.792535781860348)
    assert close(r.metrics["tpot_ms"], 4.941609043733832)     # inter_token_latency_ms
    assert close(r.isl, 257.1086956521739)
    assert close(r.totals["output_tok_s"], 46 * 127.99999999999999 / 29.997201442718506)
    assert r.hints == {"model": "example_model"}


def test_guidellm_04_schema():
    _, [r] = parsed("guidellm/GENERATED_guidellm-0.5.4_benchmarks.json")
    assert (r.scenario, r.concurrency, r.num_requests) == ("fixed-concurrency", 2, 6)
    assert close(r.metrics["ttft_ms"], 22.866368293762207)
    assert close(r.metrics["tpot_ms"], 4.256449805365668)
    assert close(r.totals["output_tok_s"], 6 * 16.0 / 0.26311612129211426)
    assert r.extras["guidellm_version"] == "0.5.4" and r.hints == {"model": "mock-model"}


# --- MLPerf ------------------------------------------------------------------------------------

def test_mlperf_server():
    fmt, [r] = parsed("mlperf/llama2-70b-99_Server_mlperf_log_summary.txt")
    assert fmt == "mlperf"
    assert (r.scenario, r.request_rate) == ("server", 83.5)             # target_qps
    assert close(r.metrics["ttft_ms"], 918456323 / 1e6)                 # Mean First Token latency (ns)
    assert close(r.metrics["tpot_ms"], 144594078 / 1e6)                 # Mean Time to Output Token (ns)
    assert r.totals == {"output_tok_s": 24593.77}
    assert close(r.osl, 24593.77 / 81.68) and r.isl is None


def test_mlperf_offline_and_interactive():
    _, [off] = parsed("mlperf/llama2-70b-99_Offline_mlperf_log_summary.txt")
    assert (off.scenario, off.request_rate, off.metrics) == ("offline", None, {})
    assert off.totals == {"output_tok_s": 27803.9} and close(off.osl, 27803.9 / 92.1544)
    _, [inter] = parsed("mlperf/llama2-70b-99_Interactive_mlperf_log_summary.txt")
    assert (inter.scenario, inter.request_rate) == ("server", 29.5)
    assert inter.extras["mlperf_scenario_label"] == "Interactive"
    assert close(inter.metrics["ttft_ms"], 201.330486)


# --- trtllm-bench (fixtures written from TensorRT-LLM's source, see the data README) ------------

def test_trtllm_console():
    fmt, [r] = parsed("trtllm/DOCS_trtllm-bench_throughput_console.txt")
    assert fmt == "trtllm" and r.scenario == "offline"
    assert r.totals == {"output_tok_s": 28390.4265, "total_tok_s": 56780.8530,
                        "input_tok_s": pytest.approx(56780.8530 - 28390.4265)}
    assert (r.isl, r.osl, r.num_requests) == (128.0, 128.0, 3000)
    assert r.hints == {"engine": "trtllm", "model": "meta-llama/Llama-3.1-8B", "engine_version": "0.17.0",
                       "weight_dtype": "fp8", "kv_dtype": "fp8", "tp": 1, "pp": 1, "ep": 1, "gpus": 1}


def test_trtllm_report_json():
    _, [r] = parsed("trtllm/DOCS_trtllm-bench_report.json")
    assert r.hints["gpus"] == 2 and r.hints["model"] == "Qwen/Qwen3-32B"   # world_size
    assert r.metrics == {"ttft_ms": 2500.0, "tpot_ms": 89.0}
    assert r.totals["output_tok_s"] == 5120.0 and r.totals["input_tok_s"] == 15360.0 - 5120.0


# --- case CSV ----------------------------------------------------------------------------------

CASES = Path(__file__).parent / "data" / "cases-public.csv"


def test_cases_csv_groups_metrics_of_one_configuration():
    text = CASES.read_text(encoding="utf-8")
    fmt, runs = parse(text, CASES.name)
    assert fmt == "cases"
    assert sum(len(r.metrics) for r in runs) == text.count("\n") - 1   # every row is one metric of one run
    assert len(runs) < text.count("\n") - 1                            # and several metrics share a run


def test_cases_csv_values_kept_per_accelerator():
    header = "case_id,source_group,source_url,hardware,gpus,model,weight_dtype,kv_dtype,engine,tp,pp,ep," \
             "dp_attention,isl,osl,concurrency,request_rate,scenario,metric,value,notes\n"
    body = ("a,g,https://x.test,nvidia_h20_96gb,8,Qwen/Qwen3-32B,bf16,,vllm,8,,,,1000,500,16,,fixed-concurrency,"
            "output_tok_s,123.5,n\n"
            "b,g,https://x.test,nvidia_h20_96gb,8,Qwen/Qwen3-32B,bf16,,vllm,8,,,,1000,500,16,,fixed-concurrency,"
            "tpot_ms,20.5,n\n")
    _, [r] = parse(header + body, "c.csv")
    assert r.metrics == {"output_tok_s": 123.5, "tpot_ms": 20.5} and r.totals == {}
    assert (r.hints["gpus"], r.hints["tp"], r.concurrency, r.isl) == (8, 8, 16, 1000.0)


# --- bad input ---------------------------------------------------------------------------------

def test_unknown_file_names_every_format_tried():
    with pytest.raises(UnknownFormat) as err:
        detect("hello, world\n1,2,3\n", "notes.csv")
    for fmt in FORMATS:
        assert fmt in str(err.value)


@pytest.mark.parametrize(("rel", "needle"), [
    ("genai-perf/TESTFIXTURE_profile_export.json", "perf_analyzer per-request export"),
    ("aiperf/GENERATED_aiperf-0.13.0_profile_export.jsonl", "AIPerf per-request export"),
])
def test_files_without_a_summary_say_what_to_import(rel, needle):
    text, name = read(rel)
    with pytest.raises(UnknownFormat, match=needle):
        detect(text, name)


def test_truncated_json_reports_its_line():
    text, name = read("genai-perf/TESTFIXTURE_profile_export_genai_perf.json")
    cut = text[:400]                       # ends inside the document, on its line 22 ("avg": 22.5)
    assert cut.count("\n") + 1 == 22
    with pytest.raises(FileProblem) as err:
        parse(cut, name)
    assert err.value.line == 22 and "malformed JSON" in err.value.reason


def test_bad_jsonl_line_reports_its_line():
    text, name = read("sglang/datacrunch-h200_llama_3_3_70b_online_output.jsonl")
    lines = text.splitlines()
    lines[3] = lines[3][:50]
    with pytest.raises(FileProblem) as err:
        parse("\n".join(lines) + "\n", name, "sglang")
    assert err.value.line == 4


def test_bad_csv_row_reports_its_line():
    text, name = read("genai-perf/TESTFIXTURE_profile_export_genai_perf.csv")
    lines = text.split("\r\n")
    lines[2] = lines[2].replace("3.00", "three", 1)    # Request Latency row
    with pytest.raises(FileProblem) as err:
        parse("\r\n".join(lines), name)
    assert err.value.line == 3 and "not a number" in err.value.reason


def test_bad_case_rows_all_reported():
    text = CASES.read_text(encoding="utf-8").splitlines(keepends=True)
    bad = text[:3] + [text[3].replace(",ttft_ms,", ",latency,").replace(",tpot_ms,", ",latency,")
                      .replace(",output_tok_s,", ",latency,").replace(",total_tok_s,", ",latency,")
                      .replace(",input_tok_s,", ",latency,")] + text[4:6] + ["x,y\n"]
    with pytest.raises(FileProblem) as err:
        parse("".join(bad), "cases.csv")
    lines = [line for line, _ in err.value.all]
    assert lines == [4, 7]
