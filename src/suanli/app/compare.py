"""`compare`, `pareto` and `sweep`: the best deployment of a model on each chip
under latency targets, the throughput-vs-interactivity frontier, and every
evaluated configuration.

Each chip is one task (catalog look-ups, calibration, a vectorised search);
tasks run through a backend (local processes or Ray, see ``app.backends``)
and give identical results whichever runs them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from suanli.app import params as P
from suanli.app.backends import run_tasks
from suanli.app.calibration import load_calibration, runtime_key
from suanli.errors import InvalidInput, MissingSpec, SuanliError
from suanli.app.platform import platform_for
from suanli.app.predict import Z90
from suanli.perf.hardware import precision_for
from suanli.perf.search import (BATCHES, Evaluated, enumerate_space, evaluate_aggregated, evaluate_disaggregated,
                                pareto_front)
from suanli.specs.accelerator import Accelerator, HardwareCatalog, load_hardware
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec, load_model
from suanli.specs.system import default_system_for, load_systems

# Reference chips shown next to what China can buy today (issue 3).
REFERENCE = ("nvidia_h100_sxm", "nvidia_h200_sxm")
DEFAULT_MAX_GPUS = 8
# Cards below 32 GB (RTX 4090D, L2) serve only small models; they are left out of the
# default comparison (name them with --hardware to include them).
MIN_SERVING_MEMORY_GB = 32


def default_chips(catalog: HardwareCatalog) -> list[str]:
    """What can be bought in China today per the catalog (shipping or still
    sold, with the specs a prediction needs), plus H100/H200 for reference."""
    out, seen = [], set()
    for acc in sorted(catalog, key=lambda a: a.id):
        if not (acc.china_buyable or acc.id in REFERENCE) or acc.unverified:
            continue
        if acc.memory_gb is None or acc.mem_bw_gbs is None or acc.bf16_tflops is None:
            continue
        if acc.memory_gb < MIN_SERVING_MEMORY_GB:
            continue
        # bins of one part (Ascend 910B1/B2/B3 next to the generic 910B) share the memory
        # system and fabric; show the first id of each (family, memory, bandwidth, link) once
        key = (acc.family, acc.memory_gb, acc.mem_bw_gbs, acc.scaleup_link)
        if key in seen:
            continue
        seen.add(key)
        out.append(acc.id)
    return out


@dataclass(frozen=True, kw_only=True)
class SearchSpec:
    """Everything one chip's search needs (picklable: it crosses processes)."""

    model: str
    hardware: str
    isl: float
    osl: float
    max_gpus: int
    exact_gpus: int | None
    engine: str
    weight_dtypes: tuple[str, ...] | None
    kv_dtypes: tuple[str, ...] | None
    disagg: bool
    hardware_files: tuple[str, ...] = ()
    profile: Any = None     # a user's calibration profile (suanli.app.profile.Profile), picklable


def _candidate_dtypes(model: ModelSpec, acc: Accelerator, weights: tuple[str, ...] | None,
                      kvs: tuple[str, ...] | None) -> tuple[list[DType], list[DType]]:
    if weights:
        w = [DType.parse(x, field="weight_dtype") for x in weights]
    else:
        native = DType.parse(model.native_weight_dtype)
        w = [native]
        if native in (DType.BF16, DType.FP16) and acc.supports_compute(DType.FP8):
            w.append(DType.FP8)
    if kvs:
        k = [DType.parse(x, field="kv_dtype") for x in kvs]
    else:
        k = [DType.BF16] + ([DType.FP8] if acc.supports_compute(DType.FP8) else [])
    return w, k


def search_chip(spec: SearchSpec) -> dict[str, Any]:
    """Evaluate every configuration of one chip; returns plain columns + notes."""
    catalog = load_hardware(list(spec.hardware_files) or None)
    acc = catalog.get(spec.hardware)
    model = load_model(spec.model)
    system = default_system_for(acc, load_systems(hardware=catalog))
    weights, kvs = _candidate_dtypes(model, acc, spec.weight_dtypes, spec.kv_dtypes)
    notes: list[str] = list(acc.flags())
    cal = load_calibration().with_profile(spec.profile) if spec.profile is not None else None
    pf, warns = platform_for(acc, spec.engine, system, calibration=cal, family=model.family, model=model.id)
    notes += warns
    corr, profile_note = None, ""
    if spec.profile is not None:
        key = runtime_key(spec.engine, acc.vendor)
        corr = spec.profile.correction_for(acc.id, key, model.family, model.id)
        profile_note = spec.profile.note_for(acc.id, key, model.family, model.id)
    precisions = {}
    for w in list(weights):
        try:
            for k in kvs:
                prec, _, pw = precision_for(model, acc, w, k)
                precisions[(w, k)] = prec
                notes += pw
        except MissingSpec as exc:
            notes.append(str(exc))
            weights.remove(w)
    if not weights:
        raise MissingSpec(f"{acc.id}: no usable throughput for any candidate weight precision")
    spaces = enumerate_space(model, max_gpus=spec.max_gpus, weights=weights, kvs=kvs, precisions=precisions,
                             exact_gpus=spec.exact_gpus)
    parts = [evaluate_aggregated(model, sp, pf, isl=spec.isl, osl=spec.osl, batches=BATCHES) for sp in spaces]
    if spec.disagg and spec.max_gpus >= 2 and spec.exact_gpus is None:
        parts += [evaluate_disaggregated(model, sp, pf, isl=spec.isl, osl=spec.osl, max_gpus=spec.max_gpus)
                  for sp in spaces]
    table = Evaluated.concat(parts)
    if corr is not None and table.columns:
        cols = dict(table.columns)
        cols["ttft_s"] = cols["ttft_s"] * corr.metric_scale("ttft_ms")
        cols["tpot_s"] = cols["tpot_s"] * corr.metric_scale("tpot_ms")
        cols["tok_s_per_user"] = 1.0 / cols["tpot_s"]
        table = Evaluated(columns=cols, evaluated=table.evaluated)
    rt = pf.runtime
    band = (math.exp(-Z90 * rt.sigma), math.exp(Z90 * rt.sigma))
    return {"hardware": acc.id, "name": acc.name, "unverified": acc.unverified, "status": acc.status,
            "columns": table.columns, "evaluated": table.evaluated, "notes": list(dict.fromkeys(notes)),
            "profile": profile_note,
            "mode": rt.mode, "provenance": rt.provenance, "band": band, "gpus_per_server": system.gpus or 8,
            "system": system.id, "min_weights_gb": _min_weights_gb(model, weights)}


def _min_weights_gb(model: ModelSpec, weights: Sequence[DType]) -> float:
    return min(model.params_total * w.bytes for w in weights) / 1e9


def _safe_search(spec: SearchSpec) -> dict[str, Any]:
    """A chip whose search fails (missing specs, nothing fits) becomes a row with
    the reason instead of aborting the comparison."""
    try:
        return search_chip(spec)
    except SuanliError as exc:
        return {"hardware": spec.hardware, "error": str(exc)}


@dataclass(frozen=True, kw_only=True)
class ChipResult:
    hardware: str
    name: str
    feasible: bool
    reason: str
    unverified: bool
    config: dict[str, Any] = field(default_factory=dict)
    output_tok_s_per_gpu: float | None = None
    tok_s_per_user: float | None = None
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    gpus_needed: int | None = None
    servers_needed: int | None = None
    closest: dict[str, Any] | None = None
    mode: str = ""
    band: tuple[float, float] = (1.0, 1.0)
    notes: tuple[str, ...] = ()
    profile: str = ""          # "calibrated on N of your runs (profile NAME) ..." when a profile was given

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["band"] = list(self.band)
        d["notes"] = list(self.notes)
        return d


def _row(cols: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in cols.items():
        x = v[i]
        out[k] = x.item() if hasattr(x, "item") else x
    for k in ("gpus", "tp", "pp", "ep", "dp_attention", "x_prefill", "y_decode", "prefill_gpus", "decode_gpus"):
        out[k] = int(out[k])
    return out


def _describe(cfg: dict[str, Any]) -> str:
    par = f"TP{cfg['tp']}" + (f" PP{cfg['pp']}" if cfg["pp"] > 1 else "") + \
        (f" EP{cfg['ep']}" if cfg["ep"] > 1 else "") + (f" DP-attn{cfg['dp_attention']}" if cfg["dp_attention"] > 1 else "")
    dt = f"{cfg['weight_dtype']}/{cfg['kv_dtype']} KV"
    if cfg["arch"] == "disagg":
        return (f"{cfg['x_prefill']}P({cfg['prefill_gpus']} GPU) + {cfg['y_decode']}D({par}), "
                f"{dt}, decode batch {cfg['batch']:g}")
    return f"{par}, {dt}, batch {cfg['batch']:g}"


def best_under_targets(res: dict[str, Any], *, ttft_ms: float | None, tpot_ms: float | None,
                       request_rate: float | None) -> ChipResult:
    """Highest tokens/s per GPU meeting both targets, or why none does."""
    base = dict(hardware=res["hardware"], name=res.get("name", res["hardware"]),
                unverified=bool(res.get("unverified")), mode=res.get("mode", ""),
                band=tuple(res.get("band", (1.0, 1.0))), notes=tuple(res.get("notes", ())),
                profile=str(res.get("profile", "")))
    if "error" in res:
        return ChipResult(feasible=False, reason=res["error"], **base)
    cols = res["columns"]
    if not cols or len(cols["ttft_s"]) == 0:
        return ChipResult(feasible=False, reason=f"{res['model_name'] if 'model_name' in res else 'the model'} does "
                          f"not fit on this chip within the GPU budget (weights alone "
                          f"≥ {res['min_weights_gb']:.0f} GB)", **base)
    ttft, tpot, out = cols["ttft_s"] * 1e3, cols["tpot_s"] * 1e3, cols["output_tok_s_per_gpu"]
    ok = np.ones(len(out), dtype=bool)
    if ttft_ms is not None:
        ok &= ttft <= ttft_ms
    if tpot_ms is not None:
        ok &= tpot <= tpot_ms
    if ok.any():
        i = int(np.flatnonzero(ok)[np.argmax(out[ok])])
        cfg = _row(cols, i)
        gpus_needed = servers = None
        if request_rate is not None:
            units = math.ceil(request_rate / cfg["req_s_per_unit"])
            gpus_needed = units * cfg["gpus"]
            servers = math.ceil(gpus_needed / res["gpus_per_server"])
        cfg["description"] = _describe(cfg)
        return ChipResult(feasible=True, reason="", config=cfg, output_tok_s_per_gpu=float(out[i]),
                          tok_s_per_user=float(cols["tok_s_per_user"][i]), ttft_ms=float(ttft[i]),
                          tpot_ms=float(tpot[i]), gpus_needed=gpus_needed, servers_needed=servers, **base)
    # why not: the floors, then the closest configuration
    reasons = []
    if tpot_ms is not None and tpot.min() > tpot_ms:
        j = int(np.argmin(tpot))
        reasons.append(f"TPOT floor {tpot[j]:.0f} ms at batch {cols['batch'][j]:g} > {tpot_ms:g} ms target")
    if ttft_ms is not None and ttft.min() > ttft_ms:
        j = int(np.argmin(ttft))
        reasons.append(f"TTFT floor {ttft[j]:.0f} ms > {ttft_ms:g} ms target")
    if not reasons:
        reasons.append("no configuration meets TTFT and TPOT targets together")
    with np.errstate(over="ignore", invalid="ignore"):     # saturated layouts have infinite TTFT
        worst = np.nan_to_num(np.maximum(ttft / (ttft_ms or np.inf), tpot / (tpot_ms or np.inf)), nan=np.inf)
    j = int(np.argmin(worst))
    closest = _row(cols, j)
    closest.update(description=_describe(closest), ttft_ms=float(ttft[j]), tpot_ms=float(tpot[j]))
    return ChipResult(feasible=False, reason="; ".join(reasons), closest=closest, **base)


@dataclass(frozen=True, kw_only=True)
class CompareResult:
    model: str
    isl: float
    osl: float
    ttft_ms: float | None
    tpot_ms: float | None
    request_rate: float | None
    engine: str
    chips: tuple[ChipResult, ...]
    frontiers: tuple["Frontier", ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k not in ("chips", "frontiers")}
        d["chips"] = [c.to_dict() for c in self.chips]
        return d


def _specs(model: str, hardware: Sequence[str] | None, *, isl: float, osl: float, gpus: int | None,
           max_gpus: int | None, engine: str, weight_dtypes: Sequence[str] | None,
           kv_dtypes: Sequence[str] | None, disagg: bool, hardware_files: Sequence[str] = (),
           profile: Any = None) -> list[SearchSpec]:
    if gpus is not None and max_gpus is not None:
        raise InvalidInput("give --gpus or --max-gpus, not both", field="gpus")
    budget = gpus if gpus is not None else (max_gpus if max_gpus is not None else DEFAULT_MAX_GPUS)
    if budget < 1 or budget > 4096:
        raise InvalidInput(f"GPU budget {budget} is impossible (1..4096)", field="max_gpus")
    if isl <= 0 or osl <= 0 or not math.isfinite(isl) or not math.isfinite(osl):
        raise InvalidInput("--isl and --osl must be positive token counts", field="isl")
    for field_name, names in (("weight_dtype", weight_dtypes), ("kv_dtype", kv_dtypes)):
        for name in names or ():  # an unknown precision is the request's error, not a row of every chip
            DType.parse(name, field=field_name)
    if hardware is not None and not any(str(h).strip() for h in hardware):
        raise InvalidInput("--hardware is empty: give one or more chips, or leave it out for the default list",
                           field="hardware")
    catalog = load_hardware(list(hardware_files) or None)
    spec = load_model(model)  # fail fast on an unknown model
    chips = [catalog.resolve_id(h) for h in hardware] if hardware else default_chips(catalog)
    return [SearchSpec(model=spec.origin if spec.origin != "bundled" else spec.id, hardware=h, isl=isl, osl=osl,
                       max_gpus=budget, exact_gpus=gpus, engine=engine,
                       weight_dtypes=tuple(weight_dtypes) if weight_dtypes else None,
                       kv_dtypes=tuple(kv_dtypes) if kv_dtypes else None, disagg=disagg,
                       hardware_files=tuple(hardware_files), profile=profile)
            for h in dict.fromkeys(chips)]


def compare(model: str, hardware: Sequence[str] | None = None, *, isl: float, osl: float,
            ttft_ms: float | None = P.TTFT_MS.default, tpot_ms: float | None = P.TPOT_MS.default,
            gpus: int | None = None, max_gpus: int | None = None,
            request_rate: float | None = P.REQUEST_RATE.default, engine: str = P.ENGINE.default,
            weight_dtypes: Sequence[str] | None = None, kv_dtypes: Sequence[str] | None = None,
            disagg: bool = True, backend: str = "local", address: str | None = None,
            hardware_files: Sequence[str] = (), progress: Callable[[int, int], None] | None = None,
            profile: Any = None) -> CompareResult:
    """Rank chips by tokens/s per GPU at their best deployment meeting the targets."""
    for name, v in (("ttft_ms", ttft_ms), ("tpot_ms", tpot_ms), ("request_rate", request_rate)):
        if v is not None and not (0 < v < math.inf):
            raise InvalidInput(f"--{name.replace('_', '-')} must be a positive number, got {v!r}", field=name)
    specs = _specs(model, hardware, isl=isl, osl=osl, gpus=gpus, max_gpus=max_gpus, engine=engine,
                   weight_dtypes=weight_dtypes, kv_dtypes=kv_dtypes, disagg=disagg, hardware_files=hardware_files,
                   profile=profile)
    results = run_tasks(_safe_search, specs, backend=backend, address=address, progress=progress)
    chips = [best_under_targets(r, ttft_ms=ttft_ms, tpot_ms=tpot_ms, request_rate=request_rate) for r in results]
    chips.sort(key=lambda c: (not c.feasible, -(c.output_tok_s_per_gpu or 0.0), c.hardware))
    return CompareResult(model=load_model(model).id, isl=isl, osl=osl, ttft_ms=ttft_ms, tpot_ms=tpot_ms,
                         request_rate=request_rate, engine=engine, chips=tuple(chips),
                         frontiers=tuple(_frontier(r) for r in results))


@dataclass(frozen=True, kw_only=True)
class Frontier:
    hardware: str
    unverified: bool
    points: tuple[dict[str, Any], ...]   # sorted by tok/s/user
    error: str = ""
    profile: str = ""


def pareto(model: str, hardware: Sequence[str] | None = None, *, isl: float, osl: float, gpus: int | None = None,
           max_gpus: int | None = None, engine: str = P.ENGINE.default, weight_dtypes: Sequence[str] | None = None,
           kv_dtypes: Sequence[str] | None = None, disagg: bool = True, backend: str = "local",
           address: str | None = None, hardware_files: Sequence[str] = (),
           progress: Callable[[int, int], None] | None = None, profile: Any = None) -> list[Frontier]:
    """Throughput per GPU vs tokens/s per user frontier per chip (throughput-interactivity chart)."""
    specs = _specs(model, hardware, isl=isl, osl=osl, gpus=gpus, max_gpus=max_gpus, engine=engine,
                   weight_dtypes=weight_dtypes, kv_dtypes=kv_dtypes, disagg=disagg, hardware_files=hardware_files,
                   profile=profile)
    return [_frontier(res) for res in run_tasks(_safe_search, specs, backend=backend, address=address,
                                                 progress=progress)]


def _frontier(res: dict[str, Any]) -> Frontier:
    if "error" in res:
        return Frontier(hardware=res["hardware"], unverified=False, points=(), error=res["error"])
    cols = res["columns"]
    if not cols:
        return Frontier(hardware=res["hardware"], unverified=res["unverified"], points=(),
                        error="does not fit within the GPU budget")
    pts = []
    for i in pareto_front(cols["tok_s_per_user"], cols["output_tok_s_per_gpu"]):
        r = _row(cols, int(i))
        r["description"] = _describe(r)
        pts.append(r)
    return Frontier(hardware=res["hardware"], unverified=res["unverified"], points=tuple(pts),
                    profile=str(res.get("profile", "")))


def sweep(model: str, hardware: Sequence[str] | None = None, *, isl: float, osl: float, gpus: int | None = None,
          max_gpus: int | None = None, engine: str = P.ENGINE.default, weight_dtypes: Sequence[str] | None = None,
          kv_dtypes: Sequence[str] | None = None, disagg: bool = True, backend: str = "local",
          address: str | None = None, hardware_files: Sequence[str] = (),
          progress: Callable[[int, int], None] | None = None, profile: Any = None) -> dict[str, np.ndarray]:
    """Every evaluated configuration of every chip, as columns (with ``hardware``)."""
    specs = _specs(model, hardware, isl=isl, osl=osl, gpus=gpus, max_gpus=max_gpus, engine=engine,
                   weight_dtypes=weight_dtypes, kv_dtypes=kv_dtypes, disagg=disagg, hardware_files=hardware_files,
                   profile=profile)
    tables = []
    for res in run_tasks(_safe_search, specs, backend=backend, address=address, progress=progress):
        if "error" in res or not res["columns"]:
            continue
        cols = dict(res["columns"])
        n = len(cols["ttft_s"])
        cols["hardware"] = np.full(n, res["hardware"], dtype=object)
        cols["mode"] = np.full(n, res["mode"], dtype=object)
        if res.get("profile"):
            cols["profile"] = np.full(n, res["profile"], dtype=object)
        tables.append(Evaluated(columns=cols))
    return Evaluated.concat(tables).columns
