"""Rich rendering of compare / pareto results."""

from __future__ import annotations

from rich.markup import escape

from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

from rich.table import Table

from suanli.cli._render import DASH, num, print_json, stdout_console

__all__ = ["comparison", "frontiers", "frontier_dict", "print_json"]


def _flag(hw: str, unverified: bool) -> str:
    return f"{hw} [yellow](unverified specs)[/]" if unverified else hw


_STATE = {"official": "[green]yes[/]", "restricted": "[yellow]restricted[/]", "grey": "[red]grey only[/]",
          "none": "[red]not on sale[/]"}


def comparison(res: Any, plot: Path | None, *, avail: dict[str, Any] | None = None, as_of: str = "") -> None:
    con = stdout_console()
    sla = []
    if res.ttft_ms is not None:
        sla.append(f"TTFT ≤ {res.ttft_ms:g} ms")
    if res.tpot_ms is not None:
        sla.append(f"TPOT ≤ {res.tpot_ms:g} ms")
    con.print(f"[bold]{res.model}[/], {res.isl:g} in / {res.osl:g} out, engine profile {res.engine}"
              + (f", targets {', '.join(sla)}" if sla else ", no latency targets")
              + (f", {res.request_rate:g} req/s" if res.request_rate else ""))
    t = Table(title="Best deployment per chip (ranked by output tokens/s per GPU)", title_justify="left")
    cols = ["#", "chip", "deployment", "tok/s/GPU", "tok/s/user", "TTFT ms", "TPOT ms"]
    if res.request_rate:
        cols += ["GPUs", "servers"]
    if avail:
        cols.append(f"China {as_of}")
    for c in cols:
        t.add_column(c, justify="left" if c in ("chip", "deployment") else "right", overflow="fold")
    rank = 0
    for c in res.chips:
        if c.feasible:
            rank += 1
            row = [str(rank), _flag(c.hardware, c.unverified), c.config.get("description", ""),
                   num(c.output_tok_s_per_gpu, 0), num(c.tok_s_per_user, 1), num(c.ttft_ms, 0), num(c.tpot_ms, 1)]
            if res.request_rate:
                row += [str(c.gpus_needed), str(c.servers_needed)]
        else:
            why = f"[red]{c.reason}[/]"
            if c.closest:
                why += (f" — closest: {c.closest['description']}, TTFT {c.closest['ttft_ms']:.0f} ms, "
                        f"TPOT {c.closest['tpot_ms']:.1f} ms")
            row = ["–", _flag(c.hardware, c.unverified), why, DASH, DASH, DASH, DASH]
            if res.request_rate:
                row += [DASH, DASH]
        if avail:
            a = avail.get(c.hardware)
            row.append(_STATE.get(a.state, a.state) if a else DASH)
        t.add_row(*row)
    con.print(t)
    if avail:
        for c in res.chips:
            a = avail.get(c.hardware)
            if a is not None and not a.obtainable:
                con.print(f"[red]{c.hardware}[/] not obtainable in China at {as_of}: {a.reason_text()} "
                          f"[dim]({a.reason.source if a.reason else ''})[/]", soft_wrap=True)
    for c in res.chips:
        if getattr(c, "profile", ""):
            con.print(f"profile: [bold]{c.hardware}[/]: {escape(c.profile)} (band P10-P90 "
                      f"{c.band[0]:.2f}-{c.band[1]:.2f}x)", soft_wrap=True, highlight=False)
    modes = sorted({f"{c.hardware}: {c.mode}" for c in res.chips if c.mode and c.mode != "calibrated"})
    con.print("[dim]Predictions: calibrated roofline per op (see `suanli validate`); "
              "P10–P90 band per chip in --json.[/]")
    for m in modes:
        con.print(f"[yellow]{m}[/]")
    if plot:
        con.print(f"chart: {plot}")


def frontier_dict(f: Any) -> dict[str, Any]:
    d = asdict(f)
    d["points"] = list(d["points"])
    return d


def frontiers(fronts: Sequence[Any], plot: Path | None) -> None:
    con = stdout_console()
    for f in fronts:
        if f.error or not f.points:
            con.print(f"[red]{f.hardware}: {f.error or 'no feasible configuration'}[/]")
            continue
        t = Table(title=f"{_flag(f.hardware, f.unverified)} — frontier", title_justify="left")
        for c in ("tok/s/user", "tok/s/GPU", "TTFT ms", "TPOT ms", "deployment"):
            t.add_column(c, justify="left" if c == "deployment" else "right", overflow="fold")
        for p in f.points:
            t.add_row(num(p["tok_s_per_user"], 1), num(p["output_tok_s_per_gpu"], 0), num(p["ttft_s"] * 1e3, 0),
                      num(p["tpot_s"] * 1e3, 1), p["description"])
        con.print(t)
        if getattr(f, "profile", ""):
            con.print(f"profile: {escape(f.profile)}", soft_wrap=True, highlight=False)
    if plot:
        con.print(f"chart: {plot}")


def simulation(rep: Any) -> None:
    con = stdout_console()
    s = rep.summary
    rate = f"{rep.request_rate:g} req/s" if rep.request_rate else "trace"
    con.print(f"[bold]{rep.model}[/] on {_flag(rep.hardware, rep.unverified_hardware)} x{rep.gpus} "
              f"(TP{rep.tp} PP{rep.pp} EP{rep.ep}, {rep.replicas} replicas, {rep.weight_dtype}/{rep.kv_dtype} KV, "
              f"{rep.engine}); {rep.requests:,} requests, {rep.arrival} arrivals at {rate}, seed {rep.seed}")
    t = Table(title="Latency distributions (ms)", title_justify="left")
    for c in ("metric", "mean", "P50", "P90", "P99"):
        t.add_column(c, justify="left" if c == "metric" else "right")
    for key, label in (("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("itl_s", "ITL"), ("e2e_s", "end-to-end")):
        d = s[key]
        t.add_row(label, *(num(d[q] * 1e3, 1) for q in ("mean", "p50", "p90", "p99")))
    con.print(t)
    con.print(f"throughput: {num(rep.output_tok_s_per_gpu, 0)} output tok/s per GPU, "
              f"{num(rep.total_tok_s_per_gpu, 0)} total tok/s per GPU, {num(s['requests_s'], 2)} req/s completed")
    con.print(f"goodput: {num(s['goodput_req_s'], 2)} req/s ({num(100 * s['goodput_fraction'], 1)} % of requests "
              f"meet the SLA); preemptions: {s['preemptions']}")
    con.print(f"[dim]{rep.mode}; {escape(rep.provenance)}[/]")
    if getattr(rep, "profile", ""):
        con.print(f"profile: {escape(rep.profile)}", soft_wrap=True, highlight=False)
    for w in rep.warnings:
        con.print(f"[yellow]{w}[/]")
