"""`predict`: resolve names and defaults, then run the performance model.

This is where catalogs (specs), kernel tables, the runtime calibration and the
pure performance functions meet; the CLI and the web API call only this.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from suanli.app import params as P
from suanli.app.calibration import Calibration, load_calibration, runtime_key
from suanli.perf.correction import Correction
from suanli.app.platform import platform_for
from suanli.errors import InsufficientMemory, InvalidInput
from suanli.perf.hardware import precision_for
from suanli.perf.layout import Layout, layout_of
from suanli.perf.memory import plan_memory
from suanli.perf.opcost import Platform
from suanli.perf.ops import op_kind
from suanli.perf.serving import Instance, ServingResult, predict_serving
from suanli.specs.accelerator import Accelerator, HardwareCatalog, load_hardware
from suanli.specs.deployment import ENGINES, Deployment, Workload, validate_deployment
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec, load_model
from suanli.specs.system import System, SystemCatalog, default_system_for, load_systems

Z90 = 1.2816   # standard-normal quantile of P90: band = exp(+-Z90 sigma)


@dataclass(frozen=True, kw_only=True)
class Prediction:
    """A serving prediction with everything needed to judge it.

    Latencies in ms, throughputs in tokens/s per accelerator.  ``band`` gives
    the P10..P90 range (a ratio applied to every metric) from the out-of-sample
    residuals of the runtime calibration widened by the kernel basis of the
    ops (measured, transferred or prior); ``mode`` and ``basis`` say how the
    numbers were made.  ``saturated`` server loads have no finite TTFT
    (``ttft_ms`` is None) and run at ``capacity_req_s``.
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
    ttft_ms: float | None
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
    num_requests: int | None = None
    saturated: bool = False
    capacity_req_s: float = 0.0
    basis: str = ""
    kernel_basis: dict[str, str] = field(default_factory=dict)
    layout_reason: str = ""
    warnings: tuple[str, ...] = ()
    decode_breakdown_ms: dict[str, float] = field(default_factory=dict)
    prefill_breakdown_ms: dict[str, float] = field(default_factory=dict)
    model_source: str = ""   # where the model config came from ("bundled", a file, the HF cache)
    profile: str = ""        # "calibrated on N of your runs (profile NAME); ..." when a profile was asked for

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["band"] = list(self.band)
        d["warnings"] = list(self.warnings)
        return d

    def range(self, metric: str) -> tuple[float, float]:
        """P10..P90 interval of a metric (times scale with the band, rates inversely)."""
        raw = getattr(self, metric)
        if raw is None:
            return (math.inf, math.inf)
        value = float(raw)
        lo, hi = self.band
        if metric.endswith("_ms"):
            return value * lo, value * hi
        return value / hi, value / lo


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


def default_kv_dtype(engine: str, weight: DType) -> DType:
    """The KV-cache format an engine runs when none is given.  TensorRT-LLM serves
    ModelOpt-quantized checkpoints (FP8/NVFP4 weights) with the FP8 KV cache they carry
    (``kv_cache_quant_algo: FP8`` in NVIDIA's published FP8/FP4 checkpoints' hf_quant_config,
    ModelOpt ``--kv_cache_qformat fp8`` default); vLLM and SGLang default to ``auto`` = the
    model's activation dtype (their engine-args docs)."""
    if engine == "trtllm" and weight in (DType.FP8, DType.FP4, DType.MXFP4):
        return DType.FP8
    return DType.BF16


@dataclass(frozen=True, kw_only=True)
class Resolved:
    """A deployment with every name and default resolved: what both the
    analytical predictor and the simulator run on."""

    spec: ModelSpec
    acc: Accelerator
    dep: Deployment
    wl: Workload
    lay: Layout
    pf: Platform
    compute_dtype: DType
    system: System
    warnings: tuple[str, ...]
    layout_reason: str = ""
    correction: Correction | None = None    # the user's profile for this chip x engine, if any
    profile_note: str = ""

    def instance(self) -> Instance:
        """The vectorised step-time model of one instance of this deployment."""
        return Instance(model=self.spec, lay=self.lay, pf=self.pf, isl=float(self.wl.isl), osl=float(self.wl.osl))


def resolve(model: str | ModelSpec, hardware: str | Accelerator, *, gpus: int | None = P.GPUS.default,
            tp: int | None = P.TP.default, pp: int | None = P.PP.default, ep: int | None = P.EP.default,
            dp_attention: int | None = P.DP_ATTENTION.default,
            weight_dtype: str | DType | None = P.WEIGHT_DTYPE.default, kv_dtype: str | DType | None = P.KV_DTYPE.default,
            isl: float = P.ISL.default, osl: float = P.OSL.default, concurrency: float | None = P.CONCURRENCY.default,
            request_rate: float | None = P.REQUEST_RATE.default, scenario: str | None = P.SCENARIO.default,
            num_requests: int | None = P.NUM_REQUESTS.default, engine: str = P.ENGINE.default,
            system: str | System | None = P.SYSTEM.default, mode: str = P.MODE.default,
            catalog: HardwareCatalog | None = None, systems: SystemCatalog | None = None,
            calibration: Calibration | None = None) -> Resolved:
    """Resolve names, defaults and calibration into a :class:`Resolved` deployment.

    An explicit layout is always honoured.  With ``tp`` unset, the layout an
    operator would run for the scenario is chosen among those that fit
    (:mod:`suanli.app.layout_choice`) and ``layout_reason`` says which and
    why; precisions default to the checkpoint's (weights) and the engine's default KV
    format (:func:`default_kv_dtype`).  Bounds of the declared parameters
    (:mod:`suanli.app.params`) are checked first, with their one message."""
    P.check(dict(gpus=gpus, tp=tp, pp=pp, ep=ep, dp_attention=dp_attention, isl=isl, osl=osl,
                 concurrency=concurrency, request_rate=request_rate, scenario=scenario, num_requests=num_requests,
                 engine=engine, mode=mode))
    catalog = catalog or load_hardware()
    cal = calibration or load_calibration()
    acc = hardware if isinstance(hardware, Accelerator) else catalog.get(hardware)
    spec = model if isinstance(model, ModelSpec) else load_model(model)
    if engine not in ENGINES:
        raise InvalidInput(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}", field="engine")
    wdt = DType.parse(weight_dtype, field="weight_dtype") if weight_dtype else default_weight_dtype(spec, acc)
    kdt = DType.parse(kv_dtype, field="kv_dtype") if kv_dtype else default_kv_dtype(engine, wdt)
    if kdt not in (DType.BF16, DType.FP16, DType.FP8, DType.FP32):
        raise InvalidInput(f"--kv-dtype must be bf16, fp16 or fp8, got {kdt.value}", field="kv_dtype")
    wl = Workload(isl=isl, osl=osl, scenario=infer_scenario(concurrency, request_rate, scenario),
                  concurrency=concurrency, request_rate=request_rate, num_requests=num_requests)
    systems = systems or load_systems()
    sysobj = system if isinstance(system, System) else (systems.get(system) if system else
                                                        default_system_for(acc, systems))
    pf, warnings = platform_for(acc, engine, sysobj, mode=mode, calibration=cal, family=spec.family,
                                model=spec.id)
    prec, compute, prec_warn = precision_for(spec, acc, wdt, kdt)
    warnings = list(acc.flags()) + warnings + prec_warn
    reason = ""
    # blank TP: the whole layout is chosen; TP given but EP and attention-DP blank for a large
    # MoE model on SGLang / TensorRT-LLM (whose guides run them with EP + attention-DP): those two
    moe_blank = (tp is not None and ep is None and dp_attention is None and spec.is_moe
                 and engine in ("sglang", "trtllm"))
    if tp is None or moe_blank:
        from suanli.app.layout_choice import choose_layout
        choice = choose_layout(spec, pf, prec, wl, engine=engine, gpus=gpus, tp=tp, pp=pp, ep=ep,
                               dp_attention=dp_attention)
        tp, pp, ep, dp_attention, gpus, reason = (choice.tp, choice.pp, choice.ep, choice.dp_attention, choice.gpus,
                                                  choice.reason)
    pp = pp or 1
    ep = ep or 1
    dp_attention = dp_attention or 1
    if gpus is None:
        gpus = max(tp, ep) * pp
    dep = Deployment(gpus=gpus, tp=tp, pp=pp, ep=ep, dp_attention=dp_attention, weight_dtype=wdt,
                     kv_dtype=kdt, engine=engine)
    validate_deployment(dep, spec)
    if dep.instance_gpus > pf.hw.node_size:
        warnings.append(f"one instance spans {math.ceil(dep.instance_gpus / pf.hw.node_size)} nodes of "
                        f"{pf.hw.node_size}: cross-node traffic uses {sysobj.id}'s scale-out network "
                        f"({sysobj.scaleout_gbps_per_gpu:g} Gb/s per GPU)")
    corr, note = None, ""
    if cal.profile is not None and mode == "calibrated":
        key = runtime_key(engine, acc.vendor)
        corr = cal.correction_for(acc.id, key, spec.family, spec.id)
        note = cal.profile.note_for(acc.id, key, spec.family, spec.id)
    elif cal.profile is not None:
        note = f"profile {getattr(cal.profile, 'name', '')} not applied: {mode} mode has no runtime to correct"
    return Resolved(spec=spec, acc=acc, dep=dep, wl=wl, lay=layout_of(dep, prec), pf=pf, compute_dtype=compute,
                    system=sysobj, warnings=tuple(warnings), layout_reason=reason, correction=corr,
                    profile_note=note)


def kernel_basis(r: Resolved, breakdown: dict[str, float]) -> tuple[str, dict[str, str], float]:
    """(dominant basis, basis per op kind, excess kernel log-sd) of a step breakdown:
    the basis of the op kind that takes the most time, and the time-weighted
    extra uncertainty of ops whose kernels were transferred or assumed."""
    if r.pf.speed_of_light:
        return "roofline", {}, 0.0
    kinds = r.pf.kernels.basis
    total = sum(breakdown.values()) or 1.0
    by_kind: dict[str, float] = {}
    for name, t in breakdown.items():
        kind = op_kind(r.spec, name)
        if kind in kinds and t > 0:
            by_kind[kind] = by_kind.get(kind, 0.0) + t
    if not by_kind:
        return "", {}, 0.0
    top = max(by_kind, key=lambda k: by_kind[k])
    excess = sum(t / total * max(0.0, r.pf.kernels.rel_sigma(k) - MEASURED_SIGMA) for k, t in by_kind.items())
    return kinds.get(top, ""), {k: kinds[k] for k in sorted(by_kind, key=lambda k: -by_kind[k])}, excess


# typical error of a measured kernel table inside its grid (docs/kernel-transfer.md)
MEASURED_SIGMA = 0.08


def predict(model: str | ModelSpec, hardware: str | Accelerator, *, gpus: int | None = P.GPUS.default,
            tp: int | None = P.TP.default, pp: int | None = P.PP.default, ep: int | None = P.EP.default,
            dp_attention: int | None = P.DP_ATTENTION.default,
            weight_dtype: str | DType | None = P.WEIGHT_DTYPE.default, kv_dtype: str | DType | None = P.KV_DTYPE.default,
            isl: float = P.ISL.default, osl: float = P.OSL.default, concurrency: float | None = P.CONCURRENCY.default,
            request_rate: float | None = P.REQUEST_RATE.default, scenario: str | None = P.SCENARIO.default,
            num_requests: int | None = P.NUM_REQUESTS.default, engine: str = P.ENGINE.default,
            system: str | System | None = P.SYSTEM.default, mode: str = P.MODE.default,
            catalog: HardwareCatalog | None = None, systems: SystemCatalog | None = None,
            calibration: Calibration | None = None, strict_fit: bool = True) -> Prediction:
    """Predict serving performance of ``model`` on ``hardware`` (the deployment and
    workload parameters as :func:`resolve`, declared in :mod:`suanli.app.params`).

    Raises a :class:`~suanli.errors.SuanliError` for bad input; with
    ``strict_fit`` a deployment that does not fit raises
    :class:`~suanli.errors.InsufficientMemory` saying by how much.
    """
    r = resolve(model, hardware, gpus=gpus, tp=tp, pp=pp, ep=ep, dp_attention=dp_attention,
                weight_dtype=weight_dtype, kv_dtype=kv_dtype, isl=isl, osl=osl, concurrency=concurrency,
                request_rate=request_rate, scenario=scenario, num_requests=num_requests, engine=engine,
                system=system, mode=mode, catalog=catalog, systems=systems, calibration=calibration)
    spec, acc, dep, wl, pf = r.spec, r.acc, r.dep, r.wl, r.pf
    warnings = list(r.warnings)
    res: ServingResult = predict_serving(spec, r.lay, pf, wl)
    fits = res.memory.fits and not any(w.startswith("does not fit") for w in res.warnings)
    lim = pf.runtime.limits
    if strict_fit and not fits:
        short = float(plan_memory(spec, r.lay, memory=pf.hw.memory, mem_fraction=lim.mem_fraction,
                                  workspace=lim.workspace_bytes, context=wl.isl + wl.osl).shortfall_bytes)
        raise InsufficientMemory(
            f"{spec.id} ({dep.weight_dtype.value}) does not fit on {acc.id} with tp={dep.tp} pp={dep.pp}: "
            f"{short / 1e9:.1f} GB per accelerator short (weights {res.memory.weights_bytes / 1e9:.1f} GB of "
            f"{res.memory.capacity_bytes / 1e9:.1f} GB usable); use more GPUs, a larger --tp/--pp or a smaller --weight-dtype")
    kv_used = res.memory.kv_bytes_per_seq * res.batch / max(1, dep.attn_dp)
    tpot = res.tpot_s
    basis, per_kind, excess = kernel_basis(r, res.decode_breakdown_s)
    sigma = math.hypot(pf.runtime.sigma, excess)
    band = (math.exp(-Z90 * sigma), math.exp(Z90 * sigma))
    if r.layout_reason:
        warnings.append(r.layout_reason)
    prior_ops = [n for n in ("linear_attn", "indexer") if any(op_kind(spec, k) == n and v > 0
                                                             for k, v in res.decode_breakdown_s.items())]
    if prior_ops and not pf.speed_of_light:
        warnings.append(f"{' and '.join(prior_ops)} ops have no measured kernel table: costed with the roofline "
                        f"prior (see perf.opcost)")
    corr = r.correction
    ttft_scale, tpot_scale = (corr.metric_scale("ttft_ms"), corr.metric_scale("tpot_ms")) if corr else (1.0, 1.0)
    tpot = tpot * tpot_scale
    return Prediction(
        hardware=acc.id, model=spec.id, engine=dep.engine, gpus=dep.gpus, tp=dep.tp, pp=dep.pp, ep=dep.ep,
        dp_attention=dep.dp_attention, replicas=dep.replicas, weight_dtype=dep.weight_dtype.value,
        kv_dtype=dep.kv_dtype.value, compute_dtype=r.compute_dtype.value, isl=float(wl.isl), osl=float(wl.osl),
        scenario=wl.scenario, concurrency=wl.concurrency, request_rate=wl.request_rate, num_requests=wl.num_requests,
        ttft_ms=None if res.ttft_s is None else res.ttft_s * 1e3 * ttft_scale, tpot_ms=tpot * 1e3,
        output_tok_s_per_gpu=res.output_tok_s_per_gpu, total_tok_s_per_gpu=res.total_tok_s_per_gpu,
        input_tok_s_per_gpu=res.input_tok_s_per_gpu, tok_s_per_user=1.0 / tpot if tpot > 0 else 0.0,
        batch_per_instance=res.batch, fits=fits, weights_gb_per_gpu=float(res.memory.weights_bytes) / 1e9,
        kv_gb_per_gpu=float(kv_used) / 1e9, max_concurrency=res.max_concurrency, mode=pf.runtime.mode,
        provenance=pf.runtime.provenance, band=band, bound=res.bound, system=r.system.id,
        unverified_hardware=acc.unverified, saturated=res.saturated, capacity_req_s=res.capacity_req_s,
        basis=basis, kernel_basis=per_kind, layout_reason=r.layout_reason,
        warnings=tuple(dict.fromkeys(warnings + list(res.warnings))),
        decode_breakdown_ms={k: v * 1e3 for k, v in res.decode_breakdown_s.items()},
        prefill_breakdown_ms={k: v * 1e3 for k, v in res.prefill_breakdown_s.items()},
        model_source=spec.origin, profile=r.profile_note,
    )
