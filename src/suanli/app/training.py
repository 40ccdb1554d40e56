"""`train`: time, memory and cost of training or fine-tuning a model on D tokens with N GPUs.

Resolves the catalogs (model config or a bare parameter count, accelerator, system) and the
training efficiencies of ``data/calibration/training.json``, then runs the pure
:func:`suanli.perf.training.train_step`.  Cost is GPU-hours x a rate the *user* gives
(``cost_per_gpu_hour``); suanli's own economics are not used here.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from suanli.errors import ConfigError, InsufficientMemory, InvalidInput, UnsupportedDType
from suanli.app.platform import kernel_model_for
from suanli.files import parse_json
from suanli.perf.hardware import hw_params
from suanli.perf.opcost import Platform
from suanli.perf.runtime import Runtime
from suanli.perf.training import LORA_TARGETS, TrainConstants, TrainSetup, TrainStep, lora_params, train_step
from suanli.specs.accelerator import GIB, Accelerator, HardwareCatalog, load_hardware
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec, load_model
from suanli.specs.system import System, SystemCatalog, default_system_for, load_systems

# Default tokens per optimizer step when --global-batch is not given: 4 Mi tokens for
# pre-training (Llama 2 used 4 M), 128 Ki for fine-tuning (16-64 sequences of 2k-8k tokens).
DEFAULT_BATCH_TOKENS = {"full": 4 * 2**20, "lora": 2**17, "qlora": 2**17}
TRAIN_DTYPES = (DType.BF16, DType.FP16, DType.FP8)
_SUFFIX = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
_NUMBER = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmbgt]?)\s*$", re.IGNORECASE)


def parse_count(text: str | float | int, *, name: str) -> float:
    """``"7e9"``, ``"7B"``, ``"350M"``, ``"2T"`` or a number -> float (must be > 0)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        match = _NUMBER.match(str(text))
        if not match:
            raise InvalidInput(f"--{name} must be a number like 7e9, 7B or 350M, got {text!r}", field=name)
        value = float(match.group(1)) * _SUFFIX[match.group(2).lower()]
    if not math.isfinite(value) or value <= 0:
        raise InvalidInput(f"--{name} must be positive, got {text!r}", field=name)
    return value


def synthetic_dense_model(params: float) -> ModelSpec:
    """A dense Llama-like decoder with about ``params`` parameters (within a few %).

    Shape rules (Llama 2 / Llama 3 conventions): head_dim 128; hidden size ``h`` the
    multiple of 1024 (256 below 2 B parameters) nearest to ``(N x 128 / 12.5)^(1/3)`` --
    a depth:width ratio ``h / L`` of about 128 as in Llama 2 7B/13B and Llama 3 8B;
    SwiGLU width ``3.5 h`` rounded up to a multiple of 256 (Llama 3: 14336 = 3.5 x 4096);
    8 KV heads (GQA) when the head count allows, else multi-head; vocabulary 128,256
    untied (Llama 3) from 2 B parameters, else 32,000 tied; ``L`` = remaining parameters /
    parameters per layer, at least 1.  ``7e9`` -> h 4096, L 27; ``8e9`` -> Llama 3 8B.
    """
    if not 5e7 <= params <= 1e13:
        raise InvalidInput(f"--params must be between 5e7 and 1e13, got {params:g}", field="params")
    small = params < 2e9
    step = 256 if small else 1024
    h = max(step, step * round((params * 128 / 12.5) ** (1 / 3) / step))
    heads = h // 128
    kv = 8 if heads % 8 == 0 else heads
    ffn = 256 * math.ceil(3.5 * h / 256)
    vocab, tied = (32000, True) if small else (128256, False)
    per_layer = 2 * h * h + 2 * h * kv * 128 + 3 * h * ffn + 2 * h
    embeddings = vocab * h * (1 if tied else 2) + h
    layers = max(1, round((params - embeddings) / per_layer))
    return ModelSpec(id=f"synthetic-dense-{params / 1e9:g}B", model_type="llama", origin="synthetic",
                     hidden_size=h, num_layers=layers, vocab_size=vocab, tie_word_embeddings=tied,
                     num_heads=heads, num_kv_heads=kv, head_dim=128, intermediate_size=ffn,
                     notes=("synthetic Llama-like shape from a parameter count (see synthetic_dense_model)",))


# --- efficiencies --------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _read_constants(path: str | None) -> Mapping[str, Any]:
    source: Any = (Path(path) if path else
                   resources.files("suanli").joinpath("data").joinpath("calibration").joinpath("training.json"))
    try:
        data = parse_json(source.read_text(encoding="utf-8"))
        float(data["global"]["non_gemm_bytes"]), tuple(data["bands"]["measured-kernels"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"training calibration {source}: missing or malformed ({exc})") from None
    return data


# the kernel tables whose GEMMs are PyTorch's own (cuBLAS via torch; aiconfigurator's
# TensorRT-LLM GEMM collector times torch matmuls) -- the closest to a training framework
TRAINING_BACKEND = "trtllm"


def training_constants(acc: Accelerator, dtype: DType, *, path: str | None = None) -> TrainConstants:
    """Training-framework constants and the uncertainty band of ``acc``'s kernel basis."""
    data = _read_constants(path)
    g = data["global"]
    basis = kernel_model_for(acc, TRAINING_BACKEND).basis.get(f"gemm:{'fp8' if dtype == DType.FP8 else 'bf16'}",
                                                             "roofline-prior")
    kind = basis.split(":")[0]
    band = tuple(float(x) for x in data["bands"].get(kind, data["bands"]["roofline-prior"]))
    how = (f"GEMM and attention times: {basis} (kernel tables, {TRAINING_BACKEND} GEMMs); framework "
           f"constants fitted by {data['meta'].get('script', '?')} on {data['meta'].get('fit_cases', '?')}")
    return TrainConstants(
        non_gemm_bytes=float(g["non_gemm_bytes"]), comm_scaleup=float(g["comm_scaleup"]),
        comm_scaleout=float(g["comm_scaleout"]), hbm=float(g["hbm"]),
        dequant_bytes_per_param=float(g["dequant_bytes_per_param"]), reserve_fraction=float(g["reserve_fraction"]),
        reserve_bytes=float(g["reserve_gb"]) * 1e9, mode=kind, provenance=how, band=(band[0], band[1]))


# --- result --------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class TrainEstimate:
    """Training time and cost.  Memory in GiB per GPU (busiest one); times in seconds and
    hours; ``band`` is the P10..P90 ratio on times (rates scale inversely)."""

    model: str
    model_origin: str
    params_total: float
    params_active: float
    trainable_params: float
    hardware: str
    system: str
    dtype: str
    method: str
    lora_rank: int | None
    gpus: int
    tp: int
    pp: int
    dp: int
    virtual_stages: int
    zero: int
    recompute: str
    seq_len: int
    micro_batch: int
    global_batch: int
    micro_batches: int
    tokens: float
    tokens_per_step: int
    steps: int
    fits: bool
    memory_gib: dict[str, float]
    shortfall_gib: float
    step_s: float
    tokens_per_s: float
    tokens_per_s_per_gpu: float
    total_time_s: float
    total_time_days: float
    gpu_hours: float
    model_flops_per_token: float
    total_model_flops: float
    mfu: float
    hfu: float
    mode: str
    provenance: str
    band: tuple[float, float]
    breakdown_s: dict[str, float] = field(default_factory=dict)
    cost: float | None = None
    currency: str | None = None
    cost_per_gpu_hour: float | None = None
    cost_note: str = ""
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["band"] = list(self.band)
        d["warnings"] = list(self.warnings)
        return d

    def range(self, metric: str) -> tuple[float, float]:
        """P10..P90 interval of a metric (times, GPU-hours and cost scale with the band, rates
        inversely), never faster than 100 % MFU."""
        value = float(getattr(self, metric))
        lo, hi = self.band
        lo = max(lo, min(1.0, self.mfu))
        if metric in ("step_s", "total_time_s", "total_time_days", "gpu_hours", "cost"):
            return value * lo, value * hi
        return value / hi, value / lo


# --- use case ------------------------------------------------------------------------------

def _model(model: str | ModelSpec | None, params: str | float | None) -> ModelSpec:
    if (model is None) == (params is None):
        raise InvalidInput("give exactly one of --model and --params", field="model")
    if isinstance(model, ModelSpec):
        return model
    if model is not None:
        return load_model(model)
    return synthetic_dense_model(parse_count(params, name="params"))  # type: ignore[arg-type]


def training_platform(acc: Accelerator, dtype: DType, system: System) -> tuple[Platform, list[str]]:
    """``acc`` in ``system`` with its kernel model, for the training step model, and warnings."""
    if acc.peak_flops(dtype) is None:
        raise UnsupportedDType(f"{acc.id} publishes no {dtype.value} tensor throughput; train in "
                               f"{'bf16' if dtype == DType.FP8 else 'another --dtype'}", field="dtype")
    node = system.gpus if system.gpus and system.gpus >= 1 else None
    hw, warnings = hw_params(acc, scaleout_bw=system.scaleout_bw, node_size=node)
    consts = _read_constants(None)["global"]
    runtime = Runtime(engine="training", step_s=0.0, seq_s=0.0, layer_s=0.0, request_s=0.0,
                      comm_eff=float(consts["comm_scaleout"]), provenance="training: no serving runtime")
    return Platform(hw=hw, kernels=kernel_model_for(acc, TRAINING_BACKEND), runtime=runtime), warnings


def _global_batch(method: str, seq_len: int, unit: int) -> int:
    return unit * max(1, round(DEFAULT_BATCH_TOKENS[method] / (seq_len * unit)))


def _int(value: Any, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInput(f"--{name.replace('_', '-')} must be an integer >= {low}, got {value!r}", field=name)
    return value


def train_estimate(model: str | ModelSpec | None = None, hardware: str | Accelerator = "", *,
                   params: str | float | None = None, gpus: int = 8, tokens: str | float = 1e9,
                   seq_len: int = 4096, global_batch: int | None = None, micro_batch: int = 1, tp: int = 1,
                   pp: int = 1, virtual_stages: int = 1, zero: int | None = None, recompute: bool | str | None = None,
                   method: str = "full", lora_rank: int = 16, lora_targets: tuple[str, ...] = LORA_TARGETS,
                   dtype: str | DType = "bf16", system: str | System | None = None,
                   cost_per_gpu_hour: float | None = None, currency: str = "USD",
                   catalog: HardwareCatalog | None = None, systems: SystemCatalog | None = None,
                   efficiency_file: str | None = None, strict_fit: bool = True) -> TrainEstimate:
    """Estimate training or fine-tuning ``model`` (a bundled id / config path, or a bare
    parameter count via ``params``) on ``gpus`` x ``hardware`` for ``tokens`` tokens.

    Defaults: ZeRO-1 (optimizer sharded, no extra traffic); ``recompute=None`` stores all
    activations when they fit and otherwise turns full activation checkpointing on;
    ``global_batch`` about 4 Mi tokens (full) or 128 Ki tokens (LoRA/QLoRA).
    With ``strict_fit`` a layout that does not fit raises
    :class:`~suanli.errors.InsufficientMemory` saying by how much.
    """
    catalog = catalog or load_hardware()
    acc = hardware if isinstance(hardware, Accelerator) else catalog.get(hardware)
    spec = _model(model, params)
    if method not in DEFAULT_BATCH_TOKENS:
        raise InvalidInput(f"--method must be one of full, lora, qlora, got {method!r}", field="method")
    dt = DType.parse(dtype, field="dtype")
    if dt not in TRAIN_DTYPES:
        raise UnsupportedDType(f"--dtype must be bf16, fp16 or fp8 for training, got {dt.value}", field="dtype")
    if method == "qlora" and dt == DType.FP8:
        raise UnsupportedDType("QLoRA computes in 16-bit on a 4-bit base; use --dtype bf16", field="dtype")
    n_tokens = parse_count(tokens, name="tokens")
    for name, value in (("gpus", gpus), ("seq_len", seq_len), ("micro_batch", micro_batch), ("tp", tp), ("pp", pp),
                        ("virtual_stages", virtual_stages), ("lora_rank", lora_rank)):
        _int(value, name)
    if cost_per_gpu_hour is not None and not (math.isfinite(cost_per_gpu_hour) and cost_per_gpu_hour >= 0):
        raise InvalidInput(f"--cost-per-gpu-hour must be >= 0, got {cost_per_gpu_hour!r}", field="cost_per_gpu_hour")
    cur = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", cur):
        raise InvalidInput(f"--currency must be a 3-letter code such as CNY or USD, got {currency!r}", field="currency")
    if gpus % (tp * pp):
        raise InvalidInput(f"--gpus {gpus} is not a multiple of tp x pp = {tp * pp}", field="gpus")
    dp = gpus // (tp * pp)
    if global_batch is None:
        global_batch = _global_batch(method, seq_len, dp * micro_batch)
    _int(global_batch, "global_batch")
    systems = systems or load_systems(hardware=catalog)
    sysobj = system if isinstance(system, System) else (systems.get(system) if system else
                                                        default_system_for(acc, systems))
    pf, warnings = training_platform(acc, dt, sysobj)
    hw = pf.hw
    eff = training_constants(acc, dt, path=efficiency_file)
    warnings = list(acc.flags()) + warnings
    if eff.mode != "measured-kernels":
        warnings.append(f"{acc.id}: {eff.mode} kernel times (no measured tables for this chip)")
    if tp > hw.node_size:
        warnings.append(f"--tp {tp} spans {math.ceil(tp / hw.node_size)} nodes of {hw.node_size}: every layer's "
                        f"all-reduces cross {sysobj.id}'s {sysobj.scaleout_gbps_per_gpu:g} Gb/s scale-out network")
    if isinstance(recompute, bool):
        modes = ["full" if recompute else "none"]
    else:
        modes = [recompute] if recompute else ["none", "full"]
    zero_stage = 1 if zero is None else zero
    result: TrainStep | None = None
    for mode in modes:
        st = TrainSetup(gpus=gpus, seq_len=seq_len, global_batch=global_batch, micro_batch=micro_batch, tp=tp, pp=pp,
                        virtual_stages=virtual_stages, zero=zero_stage, recompute=mode, method=method,
                        lora_rank=lora_rank, lora_targets=lora_targets, dtype="fp8" if dt == DType.FP8 else "bf16")
        result = train_step(spec, st, pf, eff)
        if result.memory.fits:
            break
    assert result is not None
    if len(modes) > 1 and st.recompute == "full" and result.memory.fits:
        warnings.append("activations do not fit without recomputation: full activation checkpointing assumed "
                        "(+1 forward pass); pass --no-recompute to see the shortfall")
    mem = result.memory
    if not mem.fits and strict_fit:
        parts = ", ".join(f"{k} {getattr(mem, k) / GIB:.1f}" for k in
                          ("weights", "gradients", "optimizer", "activations", "reserve"))
        raise InsufficientMemory(
            f"{spec.id} ({method}) does not fit on {gpus} x {acc.id} with tp={tp} pp={pp} zero={zero_stage} "
            f"recompute={st.recompute}: needs {mem.total / GIB:.1f} GiB per GPU ({parts}) of "
            f"{mem.capacity / GIB:.1f} GiB: {mem.shortfall / GIB:.1f} GiB short; try --zero 3, --recompute, "
            f"more GPUs, a larger --tp/--pp or --method lora/qlora")
    steps = math.ceil(n_tokens / result.tokens_per_step)
    total_s = steps * result.step_s
    gpu_hours = gpus * total_s / 3600.0
    if n_tokens < result.tokens_per_step:
        warnings.append(f"--tokens {n_tokens:g} is less than one step of {result.tokens_per_step:,} tokens: "
                        "one step counted")
    warnings += list(result.notes)
    cost = None if cost_per_gpu_hour is None else gpu_hours * cost_per_gpu_hour
    note = (f"cost = GPU-hours x the user-given rate of {cost_per_gpu_hour:g} {cur} per GPU-hour "
            "(not a suanli price; excludes storage, data, failures and restarts)"
            if cost_per_gpu_hour is not None else "no --cost-per-gpu-hour given")
    trainable = spec.params_total if method == "full" else lora_params(spec, lora_rank, lora_targets)
    return TrainEstimate(
        model=spec.id, model_origin=spec.origin, params_total=float(spec.params_total),
        params_active=float(spec.params_active), trainable_params=float(trainable), hardware=acc.id,
        system=sysobj.id, dtype=dt.value, method=method, lora_rank=None if method == "full" else lora_rank,
        gpus=gpus, tp=tp, pp=pp, dp=st.dp, virtual_stages=virtual_stages, zero=zero_stage, recompute=st.recompute,
        seq_len=seq_len, micro_batch=micro_batch, global_batch=global_batch, micro_batches=st.micro_batches,
        tokens=n_tokens, tokens_per_step=result.tokens_per_step, steps=steps, fits=mem.fits,
        memory_gib={k: getattr(mem, k) / GIB for k in ("weights", "gradients", "optimizer", "activations",
                                                         "reserve", "total", "capacity")},
        shortfall_gib=mem.shortfall / GIB, step_s=result.step_s, tokens_per_s=result.tokens_per_s,
        tokens_per_s_per_gpu=result.tokens_per_s / gpus, total_time_s=total_s, total_time_days=total_s / 86400,
        gpu_hours=gpu_hours, model_flops_per_token=result.model_flops_per_token,
        total_model_flops=result.model_flops_per_token * steps * result.tokens_per_step, mfu=result.mfu,
        hfu=result.hfu, mode=eff.mode, provenance=eff.provenance, band=eff.band,
        breakdown_s=dict(result.breakdown), cost=cost, currency=cur if cost is not None else None,
        cost_per_gpu_hour=cost_per_gpu_hour, cost_note=note, warnings=tuple(dict.fromkeys(warnings)))
