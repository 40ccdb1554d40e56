"""Rendering for the CLI: rich tables for people, one JSON object for programs.

Nothing here computes a model quantity; it only formats result objects and
catalog entries that :mod:`suanli.app` and :mod:`suanli.specs` return.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # imported lazily by the commands
    from suanli.app.predict import Prediction
    from suanli.app.validate import ValidationReport
    from suanli.specs.accelerator import Accelerator
    from suanli.specs.model import ModelSpec
    from suanli.specs.system import System

DASH = "-"


# Width of tables written to a pipe or file (rich would use 80 columns there).
PIPE_WIDTH = 200


def stdout_console() -> Console:
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(highlight=False, width=width)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


# --- JSON ---------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    """Plain JSON: mappings -> dicts, tuples -> lists, NaN/inf -> null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def print_json(obj: Any) -> None:
    """Exactly one JSON document on stdout (no rich markup, no wrapping)."""
    sys.stdout.write(json.dumps(_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    sys.stdout.flush()


# --- number formatting ---------------------------------------------------------------------

def num(value: float | None, digits: int = 1) -> str:
    """Thousands-separated with ``digits`` decimals; '-' for missing; 3 significant for small."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if value != 0 and abs(value) < 10 ** -digits * 10:
        return f"{value:.3g}"
    return f"{value:,.{digits}f}"


def plain(value: float) -> str:
    """A catalog number as written: no trailing zeros, thousands separated, >= 4 significant digits."""
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) < 1e-3:
        return f"{value:.4g}"
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}".rstrip("0").rstrip(".")


def pct(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}%"


def _warnings(console: Console, warnings: Iterable[str], title: str = "warnings") -> None:
    items = list(warnings)
    if not items:
        return
    console.print(f"[bold yellow]{title}:[/]")
    for text in items:
        console.print(f"[yellow]  ! {text}[/]", markup=True, highlight=False, soft_wrap=True)


def _escape(text: str) -> str:
    from rich.markup import escape
    return escape(text)


# --- predict -------------------------------------------------------------------------------

_HEADLINE = (  # (attribute, label, unit, decimals, has a P10-P90 range)
    ("ttft_ms", "TTFT", "ms", 1, True),
    ("tpot_ms", "TPOT", "ms", 2, True),
    ("output_tok_s_per_gpu", "output throughput", "tok/s per GPU", 1, True),
    ("total_tok_s_per_gpu", "total throughput", "tok/s per GPU", 1, True),
    ("tok_s_per_user", "speed per user", "tok/s", 1, True),
    ("weights_gb_per_gpu", "weights", "GB per GPU", 1, False),
    ("kv_gb_per_gpu", "KV cache in use", "GB per GPU", 2, False),
    ("max_concurrency", "max concurrency", "sequences", 0, False),
)


def prediction(console: Console, pred: Prediction) -> None:
    load = (f"concurrency {num(pred.concurrency, 0)}" if pred.concurrency is not None else
            f"request rate {num(pred.request_rate, 2)}/s" if pred.request_rate is not None else "unbounded load")
    layout = f"tp {pred.tp} pp {pred.pp} ep {pred.ep}"
    if pred.dp_attention > 1:
        layout += f" dp-attention {pred.dp_attention}"
    console.print(f"[bold]{_escape(pred.model)}[/] on [bold]{pred.gpus} x {_escape(pred.hardware)}[/] "
                  f"({layout}, {pred.replicas} replica(s)) with {pred.engine}")
    console.print(f"weights {pred.weight_dtype}, KV {pred.kv_dtype}, compute {pred.compute_dtype}; "
                  f"isl {num(pred.isl, 0)}, osl {num(pred.osl, 0)}; scenario {pred.scenario}, {load}; "
                  f"system {_escape(pred.system)}", soft_wrap=True)
    if pred.unverified_hardware:
        console.print("[bold yellow]! hardware specs are unverified (rumoured/announced chip)[/]")

    lo, hi = pred.band
    table = Table(title="Prediction", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column(f"P10-P90 (x{lo:g}..x{hi:g})", justify="right")
    table.add_column("unit")
    for attr, label, unit, digits, ranged in _HEADLINE:
        raw = getattr(pred, attr)
        if raw is None:   # saturated load: no finite mean TTFT
            table.add_row(label, "[bold red]saturated[/]", DASH, f"queue grows (capacity {num(pred.capacity_req_s, 2)} req/s)")
            continue
        value = float(raw)
        band = DASH
        if ranged:
            low, high = pred.range(attr)
            band = f"{num(low, digits)} - {num(high, digits)}"
        table.add_row(label, num(value, digits), band, unit)
    fits = "[green]yes[/]" if pred.fits else "[bold red]no[/]"
    table.add_row("fits in memory", fits, DASH, "")
    table.add_row("batch per instance", num(pred.batch_per_instance, 1), DASH, "sequences")
    console.print(table)

    console.print(breakdown_table(pred.decode_breakdown_ms, pred.prefill_breakdown_ms))
    console.print(f"bound by: {pred.bound}")
    basis = ", ".join(f"{k} {v}" for k, v in pred.kernel_basis.items())
    console.print(f"mode: [bold]{pred.mode}[/]; kernel basis: {_escape(basis or pred.basis or DASH)}",
                  highlight=False, soft_wrap=True)
    console.print(f"provenance: {_escape(pred.provenance)}", soft_wrap=True)
    if pred.profile:
        console.print(f"profile: [bold]{_escape(pred.profile)}[/] (band P10-P90 "
                      f"{pred.band[0]:.2f}-{pred.band[1]:.2f}x)", soft_wrap=True, highlight=False)
    if pred.model_source:
        console.print(f"model config: {_escape(_model_source(pred.model_source))}", soft_wrap=True, highlight=False)
    _warnings(console, pred.warnings)


def breakdown_table(decode: Mapping[str, float], prefill: Mapping[str, float]) -> Table:
    """Per-op time of one decode step and of the prefill, ms and share; all-zero ops omitted."""
    table = Table(title="Per-op time (ops at zero omitted)", title_justify="left")
    for name, justify in (("op", "left"), ("decode step ms", "right"), ("decode %", "right"),
                          ("prefill ms", "right"), ("prefill %", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    dsum, psum = sum(decode.values()), sum(prefill.values())
    for op in dict.fromkeys([*decode, *prefill]):
        d, p = decode.get(op, 0.0), prefill.get(op, 0.0)
        if d == 0 and p == 0:
            continue
        table.add_row(op, num(d, 3), pct(d / dsum) if dsum else DASH, num(p, 2), pct(p / psum) if psum else DASH)
    table.add_section()
    table.add_row("total", num(dsum, 3), "100%" if dsum else DASH, num(psum, 2), "100%" if psum else DASH)
    return table


# --- validate ------------------------------------------------------------------------------

def validation(console: Console, report: ValidationReport, *, summary_only: bool = False) -> None:
    ok = [c for c in report.cases if c.status == "ok"]
    skipped = [c for c in report.cases if c.status != "ok"]
    if not summary_only:
        _validation_cases(console, ok)
    if skipped:  # never hidden, even in the summary view
        stable = Table(title=f"Skipped cases ({len(skipped)})", title_justify="left", style="yellow")
        for name in ("line", "case_id", "reason"):
            stable.add_column(name, overflow="fold")
        for c in skipped:
            stable.add_row(str(c.line), _escape(c.case_id), _escape(c.reason))
        console.print(stable)
    _validation_summary(console, report)


def _validation_cases(console: Console, ok: list[Any]) -> None:
    table = Table(title=f"Predicted cases ({len(ok)})", title_justify="left")
    for name, justify in (("case_id", "left"), ("hardware", "left"), ("metric", "left"),
                          ("measured", "right"), ("predicted", "right"), ("pred/meas", "right"), ("APE", "right")):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for c in ok:
        ape = pct(c.ape)
        if c.ape is not None and c.ape > 0.5:
            ape = f"[red]{ape}[/]"
        ratio = f"{c.predicted / c.measured:.2f}" if c.predicted is not None and c.measured else DASH
        table.add_row(_escape(c.case_id), _escape(c.hardware), c.metric, num(c.measured, 1),
                      num(c.predicted, 1), ratio, ape)
    console.print(table)


def _validation_summary(console: Console, report: ValidationReport) -> None:
    s = report.summary
    few = s.get("few_shot")
    if few:
        console.print(f"[bold]few-shot K={few['k']}[/] (seed {few['seed']}): {few['calibrated_cases']} cases "
                      f"calibrated on K other cases of their group, {few['uncalibrated_cases']} uncalibrated "
                      f"(group too small)", highlight=False)
        if few["calibrated"]:
            console.print(summary_table("few-shot calibrated, by metric family", few["calibrated"]))
        if few["uncalibrated"]:
            console.print(summary_table("uncalibrated (group too small), by metric family", few["uncalibrated"]))
    console.print(f"[bold]{s['predicted']} of {s['cases']} cases predicted "
                  f"({pct(s['predicted_share'])}), {s['skipped']} skipped[/]")
    overall = s.get("overall") or {}
    console.print(f"overall: median APE {pct(overall.get('median_ape'))}, "
                  f"mean APE {pct(overall.get('mean_ape'))} over {overall.get('count', 0)} cases")
    for key, title in (("by_hardware", "hardware"), ("by_metric", "metric"),
                       ("by_family", "metric family"), ("by_engine", "engine"),
                       ("by_scenario", "scenario")):
        groups = s.get(key)
        if groups:
            console.print(summary_table(title, groups))


def summary_table(title: str, groups: Mapping[str, Mapping[str, Any]]) -> Table:
    table = Table(title=f"APE by {title}", title_justify="left")
    table.add_column(title)
    table.add_column("count", justify="right")
    table.add_column("median APE", justify="right")
    table.add_column("mean APE", justify="right")
    for name, st in groups.items():
        table.add_row(_escape(name), str(st.get("count", 0)), pct(st.get("median_ape")), pct(st.get("mean_ape")))
    return table


# --- hardware ------------------------------------------------------------------------------

def accelerator_dict(acc: Accelerator) -> dict[str, Any]:
    d: dict[str, Any] = {f.name: getattr(acc, f.name) for f in fields(acc)}
    d["assumed"] = dict(acc.assumed)
    d["unverified"] = acc.unverified
    return dict(_jsonable(d))


def _status(acc: Accelerator) -> str:
    if acc.unverified:
        return f"[bold yellow]{acc.status}![/]"
    return acc.status or DASH


def _assumed(acc: Accelerator, attr: str, text: str) -> str:
    return f"{text}*" if attr in acc.assumed else text


def hardware_table(console: Console, accs: Iterable[Accelerator]) -> None:
    wide = console.width >= 150  # the name column only where it does not squeeze the numbers
    table = Table(title="Accelerators (dense TFLOPS; * = value assumed by suanli, ! = specs unverified; "
                        "see 'suanli hardware show ID')", title_justify="left")
    columns = [("id", "left"), ("name", "left"), ("memory GB", "right"), ("BW GB/s", "right"),
               ("BF16", "right"), ("FP8", "right"), ("FP4", "right"), ("link", "left"),
               ("status", "left"), ("china buyable", "left")]
    if not wide:
        columns.pop(1)
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold", no_wrap=name == "id")  # type: ignore[arg-type]
    count = 0
    for acc in accs:
        count += 1
        link = acc.scaleup_link or DASH
        if acc.scaleup_bw_gbs_bidir is not None:
            link += f" ({_assumed(acc, 'scaleup_bw_gbs_bidir', num(acc.scaleup_bw_gbs_bidir, 0))} GB/s)"
        cells = [
            acc.id, _escape(acc.name), _assumed(acc, "memory_gb", num(acc.memory_gb, 0)),
            _assumed(acc, "mem_bw_gbs", num(acc.mem_bw_gbs, 0)),
            _assumed(acc, "bf16_tflops", num(acc.bf16_tflops, 0)),
            _assumed(acc, "fp8_tflops", num(acc.fp8_tflops, 0)),
            _assumed(acc, "fp4_tflops", num(acc.fp4_tflops, 0)),
            _escape(link), _status(acc), "yes" if acc.china_buyable else "no"]
        if not wide:
            cells.pop(1)
        table.add_row(*cells)
    console.print(table)
    console.print(f"{count} accelerator(s)")


def hardware_detail(console: Console, acc: Accelerator, systems: Iterable[System]) -> None:
    if acc.unverified:
        console.print(f"[bold yellow]! {acc.status} chip: specs unverified[/]")
    table = Table(title=f"{acc.id}", title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for f in fields(acc):
        if f.name in ("assumed", "source_urls", "notes", "aliases"):
            continue
        value = getattr(acc, f.name)
        text = DASH if value is None or value == "" else (plain(value) if isinstance(value, float) else str(value))
        if f.name in acc.assumed:
            text = f"[yellow]{_escape(text)} (assumed)[/]"
        else:
            text = _escape(text)
        table.add_row(f.name, text)
    table.add_row("aliases", _escape(", ".join(acc.aliases)) or DASH)
    table.add_row("systems", _escape(", ".join(s.id for s in systems)) or DASH)
    console.print(table)
    console.print("[bold]sources:[/]")
    for url in acc.source_urls or ("(none listed)",):
        console.print(f"  {_escape(url)}", soft_wrap=True)
    if acc.notes:
        console.print(f"[bold]notes:[/] {_escape(acc.notes)}")
    if acc.assumed:
        console.print("[bold yellow]assumed values (not published; suanli's reasons):[/]")
        for name, why in acc.assumed.items():
            value = getattr(acc, name, None)
            shown = plain(value) if isinstance(value, float) else str(value)
            console.print(f"[yellow]  {name} = {_escape(shown)}: {_escape(why)}[/]")


_EFFECT = {"open": "[green]on sale[/]", "restricted": "[yellow]restricted[/]", "grey": "[red]grey only[/]",
           "none": "[red]not on sale[/]", "caveat": "[yellow]caveat[/]", "note": "[dim]note[/]"}


def availability(console: Console, events: Iterable[Any], now: Any) -> None:
    """The availability timeline in China and the state at the chosen date."""
    table = Table(title="Availability in China (what decides whether a buyer can obtain it)", title_justify="left")
    for name in ("date", "effect", "event", "source"):
        table.add_column(name, overflow="fold", no_wrap=name == "date")
    for e in events:
        event = _escape(e.event) + (f" [dim]({_escape(e.note)})[/]" if e.note else "") + \
            (" [yellow](date assumed)[/]" if e.assumed else "") + (" [yellow](rumoured/low-reliability source)[/]"
                                                                    if e.rumoured else "")
        table.add_row(e.date or "undated", _EFFECT.get(e.effect, e.effect), event, _escape(e.source))
    console.print(table)
    colour = "green" if now.obtainable else "red"
    console.print(f"[bold]as of {now.as_of}:[/] [{colour}]{_escape(now.reason_text())}[/]", soft_wrap=True)


# --- models -------------------------------------------------------------------------------

def models_table(console: Console, rows: Iterable[Mapping[str, Any]]) -> None:
    table = Table(title="Models", title_justify="left")
    for name, justify in (("id", "left"), ("family", "left"), ("attention", "left"), ("layers", "right"),
                          ("experts", "right"), ("total params B", "right"), ("active params B", "right"),
                          ("KV B/token bf16", "right"), ("KV B/token fp8", "right"), ("weights", "left"),
                          ("source", "left")):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    errors = []
    for r in rows:
        if "error" in r:
            errors.append(f"{r['id']} ({r['config_source']}): {r['error']}")
            continue
        experts = f"{r['experts_per_token']}/{r['experts']}" if r["experts"] else DASH
        source = "bundled" if r["config_source"] == "bundled" else r["config_source"]
        table.add_row(_escape(r["id"]), _escape(r["family"]), r["attention_type"], str(r["layers"]), experts,
                      num(r["params_total_b"], 2), num(r["params_active_b"], 2),
                      f"{r['kv_bytes_per_token_bf16']:,.0f}", f"{r['kv_bytes_per_token_fp8']:,.0f}",
                      r["native_weight_dtype"], _escape(source))
    console.print(table)
    console.print("KV B/token: bytes one token adds to the KV cache of the whole model on one accelerator at a short context "
                  "(sliding/chunked layers stop growing at their window; linear-attention state excluded: see `suanli models show`)", highlight=False)
    if errors:
        _warnings(console, errors, title="configs found but not usable")


def _model_source(origin: str) -> str:
    return "bundled with suanli (provenance in suanli/data/models/SOURCES.md)" if origin == "bundled" else origin


def _detail_table(title: str, info: Mapping[str, Any], skip: Iterable[str] = ()) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    skipped = set(skip)
    for key, value in info.items():
        if key in skipped:
            continue
        if value is None or value == "":
            text = DASH
        elif isinstance(value, float):
            text = plain(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            text = f"{value:,}"
        else:
            text = str(value)
        table.add_row(key, _escape(text))
    return table


def model_detail(console: Console, info: Mapping[str, Any]) -> None:
    shown = {**info, "config_source": _model_source(str(info.get("config_source", "")))}
    console.print(_detail_table(str(info["id"]), shown, skip=("notes", "layer_plan", "origin")))
    plan = Table(title="Layer plan", title_justify="left", show_header=False)
    plan.add_column("layers")
    for line in info.get("layer_plan") or []:
        plan.add_row(_escape(line))
    console.print(plan)
    _warnings(console, info.get("notes") or [], title="notes")


# --- systems ------------------------------------------------------------------------------

def system_dict(system: System) -> dict[str, Any]:
    d: dict[str, Any] = {f.name: getattr(system, f.name) for f in fields(system)}
    d["assumed"] = dict(system.assumed)
    return dict(_jsonable(d))


def system_detail(console: Console, system: System) -> None:
    info = system_dict(system)
    console.print(_detail_table(system.id, info, skip=("assumed",)))
    for name, why in system.assumed.items():
        console.print(f"[yellow]assumed {name}: {_escape(why)}[/]", soft_wrap=True)


def systems_table(console: Console, systems: Iterable[System]) -> None:
    table = Table(title="Systems (* = scale-out assumed, see --json for the reason)", title_justify="left")
    for name, justify in (("id", "left"), ("name", "left"), ("GPUs", "right"), ("accelerator", "left"),
                          ("scale-out Gb/s per GPU", "right"), ("kind", "left"), ("price", "right")):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for s in systems:
        out = num(s.scaleout_gbps_per_gpu, 2) + ("*" if "scaleout_gbps_per_gpu" in s.assumed else "")
        if s.price_low is None:
            price = DASH
        elif s.price_low == s.price_high:
            price = f"{num(s.price_low, 0)} {s.currency}"
        else:
            price = f"{num(s.price_low, 0)}-{num(s.price_high, 0)} {s.currency}"
        table.add_row(_escape(s.id), _escape(s.name), DASH if s.gpus is None else str(s.gpus), s.gpu_id, out,
                      s.scaleout_kind, price)
    console.print(table)


def model_info(spec: ModelSpec, extra: Mapping[str, Any]) -> dict[str, Any]:
    """``ModelSpec.summary()`` plus structural details the summary leaves out."""
    info = dict(spec.summary())
    info.update(extra)
    return info
