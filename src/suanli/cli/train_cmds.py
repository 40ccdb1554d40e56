"""``suanli train``: time, memory, MFU and cost of training or fine-tuning a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.table import Table

from suanli.cli.main import HardwareFileOpt, JsonOpt, _catalog, app, note_hardware

if TYPE_CHECKING:
    from rich.console import Console

    from suanli.app.training import TrainEstimate

_BREAKDOWN = {
    "gemm": "projection GEMMs", "attention": "attention kernels", "non_gemm": "memory-bound ops",
    "recompute": "activation recomputation", "pipeline_bubble": "pipeline bubble", "tp_comm": "TP collectives",
    "pp_comm": "PP send/recv", "dp_comm_exposed": "DP gradient sync (exposed)", "optimizer": "optimizer update",
    "dequant": "4-bit dequantisation",
}


@app.command()
def train(
    hardware: Annotated[str, typer.Option("--hardware", metavar="CHIP",
                                          help="Accelerator id or alias (H100, H20, 910B).")],
    tokens: Annotated[str, typer.Option("--tokens", metavar="D",
                                        help="Tokens to train on (all epochs): 2e12, 300B, 50M.")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", metavar="MODEL",
                                                 help="Bundled model id or config.json path.")] = None,
    params: Annotated[Optional[str], typer.Option(
        "--params", metavar="N", help="Parameter count instead of a model (7e9, 7B): a synthetic dense "
                                      "Llama-like shape.")] = None,
    gpus: Annotated[int, typer.Option("--gpus", help="Accelerators in total.")] = 8,
    seq_len: Annotated[int, typer.Option("--seq-len", help="Tokens per training sequence.")] = 4096,
    global_batch: Annotated[Optional[int], typer.Option(
        "--global-batch", help="Sequences per optimizer step (default: ~4M tokens full, ~128k LoRA).")] = None,
    micro_batch: Annotated[int, typer.Option("--micro-batch", help="Sequences per forward/backward pass.")] = 1,
    tp: Annotated[int, typer.Option("--tp", help="Tensor parallel size.")] = 1,
    pp: Annotated[int, typer.Option("--pp", help="Pipeline parallel size.")] = 1,
    vpp: Annotated[int, typer.Option("--vpp", help="Virtual pipeline stages per rank (interleaving).")] = 1,
    zero: Annotated[Optional[int], typer.Option("--zero", metavar="0|1|2|3",
                                                help="ZeRO / FSDP stage over data parallel (default 1).")] = None,
    recompute: Annotated[Optional[bool], typer.Option(
        "--recompute/--no-recompute", help="Full activation checkpointing (default: only if needed to fit).")] = None,
    method: Annotated[str, typer.Option("--method", help="full | lora | qlora.")] = "full",
    lora_rank: Annotated[int, typer.Option("--lora-rank", help="LoRA rank (adapters on all linear layers).")] = 16,
    dtype: Annotated[str, typer.Option("--dtype", help="bf16 | fp16 | fp8 (GEMM precision).")] = "bf16",
    system: Annotated[Optional[str], typer.Option(
        "--system", metavar="ID",
        help="Server system id (scale-out network; default: one built from the chip).")] = None,
    cost_per_gpu_hour: Annotated[Optional[float], typer.Option(
        "--cost-per-gpu-hour", metavar="AMOUNT", help="Your price per GPU-hour; cost = GPU-hours x this.")] = None,
    currency: Annotated[str, typer.Option("--currency", help="Currency of --cost-per-gpu-hour (CNY, USD).")] = "USD",
    hardware_file: HardwareFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Time, GPU-hours, memory fit, MFU and cost of training or fine-tuning on D tokens."""
    from suanli.app.training import train_estimate
    from suanli.specs.system import load_systems

    catalog = _catalog(hardware_file)
    note_hardware(catalog, hardware)
    systems = load_systems(hardware=catalog) if hardware_file else None
    est = train_estimate(
        model, hardware, params=params, gpus=gpus, tokens=tokens, seq_len=seq_len, global_batch=global_batch,
        micro_batch=micro_batch, tp=tp, pp=pp, virtual_stages=vpp, zero=zero, recompute=recompute, method=method,
        lora_rank=lora_rank, dtype=dtype, system=system, cost_per_gpu_hour=cost_per_gpu_hour, currency=currency,
        catalog=catalog, systems=systems)
    from suanli.cli import _render
    if as_json:
        _render.print_json(est.to_dict())
    else:
        _show(_render.stdout_console(), est)


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:,.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:,.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds:,.2f} s"


def _show(console: Console, est: TrainEstimate) -> None:
    from suanli.cli._render import _escape, _warnings, num

    lora = f", LoRA rank {est.lora_rank}" if est.lora_rank else ""
    console.print(f"[bold]{_escape(est.model)}[/bold] ({est.params_total / 1e9:.2f} B parameters, "
                  f"{est.trainable_params / 1e9:.3g} B trainable) - {est.method} training{lora} on "
                  f"{est.gpus} x {est.hardware} ({est.dtype}), system {est.system}")
    console.print(f"layout: tp={est.tp} pp={est.pp} (vpp {est.virtual_stages}) dp={est.dp}, ZeRO-{est.zero}, "
                  f"recompute={est.recompute}; {est.global_batch} x {est.seq_len} tokens per step "
                  f"({est.micro_batches} micro-batches of {est.micro_batch})")
    table = Table(title="estimate (P10-P90 from the calibration band)", title_justify="left")
    for col in ("metric", "value", "P10-P90"):
        table.add_column(col, justify="left" if col == "metric" else "right")

    def row(label: str, metric: str, text: str, fmt: str = "{:,.0f}") -> None:
        a, b = est.range(metric)
        table.add_row(label, text, f"{fmt.format(a)} - {fmt.format(b)}")

    row("step time", "step_s", f"{est.step_s:,.2f} s", "{:,.2f}")
    row("throughput, tokens/s", "tokens_per_s", f"{est.tokens_per_s:,.0f}")
    row("tokens/s per GPU", "tokens_per_s_per_gpu", f"{est.tokens_per_s_per_gpu:,.0f}")
    row("total time", "total_time_days", _duration(est.total_time_s), "{:,.2f} d")
    row("GPU-hours", "gpu_hours", f"{est.gpu_hours:,.0f}")
    a, b = est.range("mfu")
    table.add_row("MFU (model FLOPs / peak)", f"{est.mfu:.1%}", f"{a:.1%} - {b:.1%}")
    table.add_row("HFU (incl. recompute)", f"{est.hfu:.1%}", "")
    table.add_row("steps", f"{est.steps:,}", "")
    table.add_row("model FLOPs", f"{est.total_model_flops:.3g}", "")
    if est.cost is not None:
        a, b = est.range("cost")
        table.add_row(f"cost, {est.currency}", f"{est.cost:,.0f}", f"{a:,.0f} - {b:,.0f}")
    console.print(table)
    if est.cost is not None:
        console.print(f"[dim]{_escape(est.cost_note)}[/dim]")

    mem = Table(title=f"memory per GPU, GiB ({'fits' if est.fits else 'DOES NOT FIT'})", title_justify="left")
    for col in ("weights", "gradients", "optimizer", "activations", "reserve", "total", "capacity"):
        mem.add_column(col, justify="right")
    mem.add_row(*(num(est.memory_gib[k]) for k in ("weights", "gradients", "optimizer", "activations", "reserve",
                                                   "total", "capacity")))
    console.print(mem)

    parts = Table(title="time per step", title_justify="left")
    parts.add_column("part")
    parts.add_column("s", justify="right")
    parts.add_column("share", justify="right")
    for key, seconds in est.breakdown_s.items():
        if seconds > 0:
            parts.add_row(_BREAKDOWN.get(key, key), f"{seconds:,.3f}", f"{seconds / est.step_s:.1%}")
    console.print(parts)
    console.print(f"mode: {est.mode} kernel times; provenance: {_escape(est.provenance)}", soft_wrap=True)
    _warnings(console, [_escape(w) for w in est.warnings])
