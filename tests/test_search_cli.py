"""CLI of the deployment search: compare, pareto, sweep (outputs, charts, bad input)."""

from __future__ import annotations

import csv
import json
import re

import pytest
from typer.testing import CliRunner

from suanli.cli.main import app

runner = CliRunner()
BASE = ["--model", "Qwen/Qwen3-8B", "--isl", "512", "--osl", "128", "--max-gpus", "2", "--backend", "serial"]


def run(*args: str):
    return runner.invoke(app, list(args))


def test_compare_json_lists_ranked_chips():
    r = run("compare", *BASE, "--hardware", "H100,L20", "--ttft-ms", "2000", "--tpot-ms", "50",
            "--request-rate", "10", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [c["hardware"] for c in d["chips"]][0] == "nvidia_h100_sxm"
    best = d["chips"][0]
    for k in ("config", "output_tok_s_per_gpu", "tok_s_per_user", "ttft_ms", "tpot_ms", "gpus_needed",
              "servers_needed", "mode", "band"):
        assert k in best
    assert best["ttft_ms"] <= 2000 and best["tpot_ms"] <= 50


def test_compare_table_and_png_chart(tmp_path):
    png = tmp_path / "c.png"
    r = run("compare", *BASE, "--hardware", "H100,H20", "--plot", str(png))
    assert r.exit_code == 0, r.output
    assert "Best deployment per chip" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pareto_html_is_self_contained(tmp_path):
    html = tmp_path / "p.html"
    r = run("pareto", *BASE, "--hardware", "H100", "--plot", str(html))
    assert r.exit_code == 0, r.output
    text = html.read_text(encoding="utf-8")
    # the Plotly bundle is inlined (megabytes), no <script src=...> pulls anything from the network
    assert "plotly" in text.lower() and len(text) > 1_000_000
    assert re.search(r"<script[^>]*\bsrc=", text) is None


def test_pareto_json():
    r = run("pareto", *BASE, "--hardware", "H100", "--json")
    d = json.loads(r.stdout)
    (front,) = d["frontiers"]
    assert front["hardware"] == "nvidia_h100_sxm" and len(front["points"]) >= 3


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_sweep_writes_every_configuration(tmp_path, suffix):
    out = tmp_path / f"s{suffix}"
    r = run("sweep", *BASE, "--hardware", "H100", "--out", str(out), "--no-disagg")
    assert r.exit_code == 0, r.output
    n = int(r.stdout.split()[1].replace(",", ""))
    if suffix == ".csv":
        with out.open() as fh:
            rows = list(csv.DictReader(fh))
    else:
        import pyarrow.parquet as pq
        rows = pq.read_table(out).to_pylist()
    assert len(rows) == n > 10
    assert {"hardware", "tp", "batch", "ttft_s", "tpot_s", "output_tok_s_per_gpu"} <= set(rows[0])


@pytest.mark.parametrize("args, needle", [
    (["compare", *BASE, "--hardware", "H21"], "closest"),
    (["compare", "--model", "Qwen/Qwen3-8B", "--max-gpus", "0"], "GPU budget"),
    (["compare", *BASE, "--plot", "chart.txt"], ".png or .html"),
    (["compare", *BASE, "--tpot-ms", "-3"], "tpot-ms"),
    (["compare", "--model", "nope/Nope", "--hardware", "H100"], "unknown model"),
    (["sweep", *BASE, "--out", "x.xlsx"], ".parquet or .csv"),
    (["compare", *BASE, "--backend", "mars"], "backend"),
])
def test_bad_input_is_one_line_exit_2(args, needle):
    r = run(*args)
    assert r.exit_code == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0], r.stderr
