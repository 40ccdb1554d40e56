"""`predict`: resolve names and defaults, then run the performance model.

This is where catalogs (specs), calibration files and the pure performance
functions meet; the CLI and the web API call only this.
"""

from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import asdict, dataclass, field
from typing import Any

from suanli.app.calibration import Calibration, load_calibration
from suanli.errors import InsufficientMemory, InvalidInput
from suanli.perf.efficiency import Efficiency, EngineLimits
from suanli.perf.hardware import HwParams, hw_params
from suanli.perf.layout import layout_of
from suanli.perf.memory import plan_memory
from suanli.perf.serving import Engine, ServingResult, predict_serving
from suanli.specs.accelerator import Accelerator, HardwareCatalog, load_hardware
from suanli.specs.deployment import ENGINES, Deployment, Workload, validate_deployment
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec, load_model
from suanli.specs.system import System, SystemCatalog, default_system_for, load_systems


@dataclass(frozen=True, kw_only=True)
class Prediction:
    """A serving prediction with everything needed to judge it.

    Latencies in ms, throughputs in tokens/s per accelerator.  ``band`` gives
    the P10..P90 range implied by the calibration residuals (same for every
    metric, applied as a ratio), ``mode`` how the numbers were made.
    """

    hardware: str
    model: str
    engine: str
    gpus: int
    tp: int
    pp: int
    ep: int
    dp_attention: int
    replicas: int
    weight_dtype: str
    kv_dtype: str
    compute_dtype: str
    isl: float
    osl: float
    scenario: str
    concurrency: float | None
    request_rate: float | None
    ttft_ms: float
    tpot_ms: float
    output_tok_s_per_gpu: float
    total_tok_s_per_gpu: float
    input_tok_s_per_gpu: float
    tok_s_per_user: float
    batch_per_instance: float
    fits: bool
    weights_gb_per_gpu: float
    kv_gb_per_gpu: float
    max_concurrency: float
    mode: str
    provenance: str
    band: tuple[float, float]
    bound: str
    system: str
    unverified_hardware: bool
    warnings: tuple[str, ...] = ()
    decode_breakdown_ms: dict[str, float] = field(default_factory=dict)
    prefill_breakdown_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["band"] = list(self.band)
        d["warnings"] = list(self.warnings)
        return d

    def range(self, metric: str) -> tuple[float, float]:
        """P10..P90 interval of a metric (times scale with the band, rates inversely)."""
        value = float(getattr(self, metric))
        lo, hi = self.band
        if metric.endswith("_ms"):
            return value * lo, value * hi
        return value / hi, value / lo


@lru_cache(maxsize=4096)
def _pick_tp(model: ModelSpec, acc: Accelerator, gpus: int | None, wdt: DType, kdt: DType, engine: str,
             limits: EngineLimits, isl: float, osl: float) -> int:
    """Smallest power-of-two TP (dividing the heads and the GPU count) whose
    instance holds the weights and at least one full sequence; what engines'
    users do by default.  Cached: every argument is an immutable value."""
    upper = gpus or 64
    tp = 1
    while tp <= upper:
        if model.num_heads % tp == 0 and (gpus is None or gpus % tp == 0):
            dep = Deployment(gpus=gpus or tp, tp=tp, weight_dtype=wdt, kv_dtype=kdt, engine=engine)
            plan = plan_memory(model, dep, memory=acc.memory_bytes, mem_fraction=limits.mem_fraction,
                               workspace=limits.workspace_bytes, context=isl + osl)
            if plan.fits:
                return tp
        tp *= 2
    return gpus or 1


def infer_scenario(concurrency: float | None, request_rate: float | None, scenario: str | None) -> str:
    if scenario:
        return scenario
    if request_rate is not None:
        return "server"
    if concurrency is not None:
        return "single-request" if concurrency == 1 else "fixed-concurrency"
    return "offline"


def default_weight_dtype(model: ModelSpec, acc: Accelerator) -> DType:
    """The checkpoint's own precision (what a user serving it would load)."""
    return DType.parse(model.native_weight_dtype)


@dataclass(frozen=True, kw_only=True)
class Resolved:
    """A deployment with every name and default resolved: what both the
    analytical predictor and the simulator run on."""

    spec: ModelSpec
    acc: Accelerator
    dep: Deployment
    wl: Workload
    hw: HwParams
    eff: Efficiency
    system: System
    warnings: tuple[str, ...]

    def engine(self) -> Engine:
        """The vectorised step-time engine of one instance of this deployment."""
        return Engine(model=self.spec, lay=layout_of(self.spec, self.dep, self.hw.peak_gemm, self.hw.peak_attn),
                      hw=self.hw, eff=self.eff, isl=float(self.wl.isl), osl=float(self.wl.osl))


def resolve(model: str | ModelSpec, hardware: str | Accelerator, *, gpus: int | None = None,
            tp: int | None = None, pp: int = 1, ep: int | None = None, dp_attention: int = 1,
            weight_dtype: str | DType | None = None, kv_dtype: str | DType | None = None,
            isl: float = 1024, osl: float = 256, concurrency: float | None = None,
            request_rate: float | None = None, scenario: str | None = None, engine: str = "vllm",
            system: str | System | None = None, mode: str = "calibrated",
            catalog: HardwareCatalog | None = None, systems: SystemCatalog | None = None,
            calibration: Calibration | None = None) -> Resolved:
    """Resolve names, defaults and calibration into a :class:`Resolved` deployment.

    Unset layout values follow engine defaults: ``tp`` is the smallest that
    fits (replicas fill the remaining GPUs), ``ep`` 1 (experts sharded by
    TP), precisions those of the checkpoint (weights) and BF16 (KV)."""
    catalog = catalog or load_hardware()
    cal = calibration or load_calibration()
    acc = hardware if isinstance(hardware, Accelerator) else catalog.get(hardware)
    spec = model if isinstance(model, ModelSpec) else load_model(model)
    if engine not in ENGINES:
        raise InvalidInput(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}", field="engine")
    wdt = DType.parse(weight_dtype, field="weight_dtype") if weight_dtype else default_weight_dtype(spec, acc)
    kdt = DType.parse(kv_dtype, field="kv_dtype") if kv_dtype else DType.BF16
    if kdt not in (DType.BF16, DType.FP16, DType.FP8, DType.FP32):
        raise InvalidInput(f"--kv-dtype must be bf16, fp16 or fp8, got {kdt.value}", field="kv_dtype")
    wl = Workload(isl=isl, osl=osl, scenario=infer_scenario(concurrency, request_rate, scenario),
                  concurrency=concurrency, request_rate=request_rate)
    if tp is None:
        if ep and ep > 1:
            tp = ep if gpus is None else min(ep, gpus)
        else:
            tp = _pick_tp(spec, acc, gpus, wdt, kdt, engine, cal.limits_for(engine, acc.memory_gb or 0.0, acc.id),
                          float(isl), float(osl))
    ep = ep or 1
    if gpus is None:
        gpus = max(tp, ep) * pp
    dep = Deployment(gpus=gpus, tp=tp, pp=pp, ep=ep, dp_attention=dp_attention, weight_dtype=wdt,
                     kv_dtype=kdt, engine=engine)
    validate_deployment(dep, spec)

    systems = systems or load_systems()
    sysobj = system if isinstance(system, System) else (systems.get(system) if system else
                                                        default_system_for(acc, systems))
    node = sysobj.gpus if sysobj.gpus and sysobj.gpus >= 1 else None
    hw, warnings = hw_params(acc, wdt, scaleout_bw=sysobj.scaleout_bw, node_size=node)
    eff = cal.efficiency_for(acc, engine, mode=mode)
    warnings = list(acc.flags()) + warnings
    if eff.mode == "family-default":
        warnings.append(f"{acc.id}: {eff.provenance.split(';')[0]}")
    elif "none on this chip" in eff.provenance:
        warnings.append(f"{acc.id} has no calibration cases of its own: family {acc.family} efficiencies used")
    if dep.instance_gpus > hw.node_size:
        warnings.append(f"one instance spans {math.ceil(dep.instance_gpus / hw.node_size)} nodes of "
                        f"{hw.node_size}: cross-node traffic uses {sysobj.id}'s scale-out network "
                        f"({sysobj.scaleout_gbps_per_gpu:g} Gb/s per GPU)")
    return Resolved(spec=spec, acc=acc, dep=dep, wl=wl, hw=hw, eff=eff, system=sysobj, warnings=tuple(warnings))


def predict(model: str | ModelSpec, hardware: str | Accelerator, *, strict_fit: bool = True,
            **kwargs: Any) -> Prediction:
    """Predict serving performance of ``model`` on ``hardware`` (keyword
    arguments as :func:`resolve`: gpus, tp, pp, ep, dp_attention, weight_dtype,
    kv_dtype, isl, osl, concurrency, request_rate, scenario, engine, system,
    mode, catalog, systems, calibration).

    Raises a :class:`~suanli.errors.SuanliError` for bad input; with
    ``strict_fit`` a deployment that does not fit raises
    :class:`~suanli.errors.InsufficientMemory` saying by how much.
    """
    r = resolve(model, hardware, **kwargs)
    spec, acc, dep, wl, hw, eff, sysobj = r.spec, r.acc, r.dep, r.wl, r.hw, r.eff, r.system
    warnings = list(r.warnings)
    gpus, tp, pp, ep, dp_attention, engine = dep.gpus, dep.tp, dep.pp, dep.ep, dep.dp_attention, dep.engine
    wdt, kdt = dep.weight_dtype, dep.kv_dtype
    isl, osl, concurrency, request_rate = wl.isl, wl.osl, wl.concurrency, wl.request_rate
    res: ServingResult = predict_serving(spec, dep, hw, eff, wl)
    fits = res.memory.fits and not any(w.startswith("does not fit") for w in res.warnings)
    if strict_fit and not fits:
        short = plan_memory(spec, dep, memory=hw.memory, mem_fraction=eff.limits.mem_fraction,
                            workspace=eff.limits.workspace_bytes, context=wl.isl + wl.osl).shortfall
        raise InsufficientMemory(
            f"{spec.id} ({wdt.value}) does not fit on {acc.id} with tp={tp} pp={pp}: "
            f"{short / 1e9:.1f} GB per accelerator short (weights {res.memory.weights / 1e9:.1f} GB of "
            f"{res.memory.capacity / 1e9:.1f} GB usable); use more GPUs, a larger --tp/--pp or a smaller --weight-dtype")
    kv_used = res.memory.kv_per_seq * res.batch / max(1, dep.attn_dp)
    tpot = res.tpot_s
    return Prediction(
        hardware=acc.id, model=spec.id, engine=engine, gpus=gpus, tp=tp, pp=pp, ep=ep,
        dp_attention=dp_attention, replicas=dep.replicas, weight_dtype=wdt.value, kv_dtype=kdt.value,
        compute_dtype=hw.compute_dtype.value, isl=float(isl), osl=float(osl), scenario=wl.scenario,
        concurrency=concurrency, request_rate=request_rate,
        ttft_ms=res.ttft_s * 1e3, tpot_ms=tpot * 1e3,
        output_tok_s_per_gpu=res.output_tok_s_per_gpu, total_tok_s_per_gpu=res.total_tok_s_per_gpu,
        input_tok_s_per_gpu=res.input_tok_s_per_gpu, tok_s_per_user=1.0 / tpot if tpot > 0 else 0.0,
        batch_per_instance=res.batch, fits=fits, weights_gb_per_gpu=res.memory.weights / 1e9,
        kv_gb_per_gpu=kv_used / 1e9, max_concurrency=res.max_concurrency, mode=eff.mode,
        provenance=eff.provenance, band=eff.band, bound=res.bound, system=sysobj.id,
        unverified_hardware=acc.unverified, warnings=tuple(dict.fromkeys(warnings + list(res.warnings))),
        decode_breakdown_ms={k: v * 1e3 for k, v in res.decode_breakdown.items()},
        prefill_breakdown_ms={k: v * 1e3 for k, v in res.prefill_breakdown.items()},
    )
