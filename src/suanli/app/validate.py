"""`validate`: predict every case of a validation-case file and compare.

Reads any CSV in the schema of the validation README (header fixed, one
measurement per row).  A row that cannot be parsed or predicted is reported
with its reason (status ``skipped``), never dropped.
"""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from suanli.app.calibration import Calibration, load_calibration
from suanli.app.predict import Prediction, predict
from suanli.errors import ConfigError, SuanliError
from suanli.files import row_count
from suanli.specs.accelerator import Accelerator, HardwareCatalog, load_hardware
from suanli.specs.model import load_model
from suanli.specs.system import SystemCatalog, load_systems

HEADER = ("case_id,source_group,source_url,hardware,gpus,model,weight_dtype,kv_dtype,engine,tp,pp,ep,"
          "dp_attention,isl,osl,concurrency,request_rate,scenario,metric,value,notes").split(",")

METRIC_ATTR = {
    "output_tok_s": "output_tok_s_per_gpu",
    "total_tok_s": "total_tok_s_per_gpu",
    "input_tok_s": "input_tok_s_per_gpu",
    "ttft_ms": "ttft_ms",
    "tpot_ms": "tpot_ms",
}


def metric_family(metric: str) -> str:
    return "throughput" if metric.endswith("_tok_s") else metric.split("_")[0]


@dataclass(frozen=True, kw_only=True)
class CaseResult:
    case_id: str
    source_group: str
    hardware: str
    model: str
    engine: str
    scenario: str
    metric: str
    measured: float | None
    predicted: float | None
    ape: float | None
    status: str            # "ok" | "skipped"
    reason: str
    line: int
    calibrated_on: tuple[str, ...] | None = None   # few-shot: the case ids of the profile's runs

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.calibrated_on is None:
            del d["calibrated_on"]
        else:
            d["calibrated_on"] = list(self.calibrated_on)
        return d


@dataclass(frozen=True, kw_only=True)
class ValidationReport:
    cases: tuple[CaseResult, ...]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"cases": [c.to_dict() for c in self.cases], "summary": self.summary}


def _opt_float(row: dict[str, str], key: str) -> float | None:
    text = (row.get(key) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{key} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{key} must be a positive number, got {text!r}")
    return value


def _req_float(row: dict[str, str], key: str) -> float:
    value = _opt_float(row, key)
    if value is None:
        raise ValueError(f"required field {key} is empty")
    return value


def per_die(acc: Accelerator, dies: int = 2) -> Accelerator:
    """One die of a multi-die package (Ascend 910C: two dies of 64 GB); the
    schema's phrase 'gpus counts NPU dies' asks for per-die resources."""
    def half(v: float | None) -> float | None:
        return None if v is None else v / dies
    return replace(acc, memory_gb=half(acc.memory_gb), mem_bw_gbs=half(acc.mem_bw_gbs),
                   bf16_tflops=half(acc.bf16_tflops), fp8_tflops=half(acc.fp8_tflops),
                   int8_tops=half(acc.int8_tops), fp4_tflops=half(acc.fp4_tflops),
                   fp32_tflops=half(acc.fp32_tflops), tf32_tflops=half(acc.tf32_tflops),
                   scaleup_bw_gbs_bidir=half(acc.scaleup_bw_gbs_bidir))


def case_inputs(row: dict[str, str], *, catalog: HardwareCatalog, systems: SystemCatalog,
                calibration: Calibration) -> tuple[Any, Accelerator, dict[str, Any]]:
    """(model, accelerator, keyword arguments of :func:`suanli.app.predict.predict`) of a case row.
    Raises ValueError / SuanliError for a row that cannot be predicted."""
    metric = row["metric"].strip()
    if metric not in METRIC_ATTR:
        raise ValueError(f"unknown metric {metric!r}")
    scenario = row["scenario"].strip()
    num_requests = row_count(row, "num_requests")
    if scenario == "offline" and metric == "ttft_ms" and not num_requests:
        raise ValueError("offline TTFT depends on the burst size; the row gives no num_requests")
    acc = catalog.get(row["hardware"].strip())
    if "gpus counts NPU dies" in (row.get("notes") or ""):
        acc = per_die(acc)
    gpus = row_count(row, "gpus")
    if gpus is None:
        raise ValueError("required field gpus is empty")
    tp, pp, ep, dp = (row_count(row, k) for k in ("tp", "pp", "ep", "dp_attention"))
    if tp is not None and gpus % (max(tp, ep or 1) * (pp or 1)):
        raise ValueError(f"gpus {gpus} is not a multiple of tp x pp = {max(tp, ep or 1) * (pp or 1)}; the layout "
                         f"(prefill/decode roles?) is not stated precisely enough")
    model = load_model(row["model"].strip())
    kwargs = dict(gpus=gpus, tp=tp, pp=pp, ep=ep, dp_attention=dp, weight_dtype=row["weight_dtype"].strip(),
                  kv_dtype=(row.get("kv_dtype") or "").strip() or None, engine=row["engine"].strip(),
                  isl=_req_float(row, "isl"), osl=_req_float(row, "osl"),
                  concurrency=_opt_float(row, "concurrency"), request_rate=_opt_float(row, "request_rate"),
                  scenario=scenario, num_requests=num_requests,
                  catalog=catalog, systems=systems, calibration=calibration)
    return model, acc, kwargs


def predict_case(row: dict[str, str], *, catalog: HardwareCatalog, systems: SystemCatalog,
                 calibration: Calibration, simulate_server: bool = True) -> tuple[Prediction, float]:
    """Predict one case row; returns the prediction and the predicted metric value.
    ``server`` cases run through the request-level simulator unless
    ``simulate_server`` is False (the analytical queueing approximation); a
    server load the deployment cannot sustain is reported as saturated, and
    its TTFT is not predicted (no finite mean exists)."""
    model, acc, kwargs = case_inputs(row, catalog=catalog, systems=systems, calibration=calibration)
    metric, scenario = row["metric"].strip(), kwargs["scenario"]
    pred = predict(model, acc, strict_fit=False, **kwargs)
    if scenario == "server" and pred.saturated and metric == "ttft_ms":
        raise ValueError(f"predicted saturated: {pred.request_rate:g} req/s exceeds the predicted capacity "
                         f"{pred.capacity_req_s:.3g} req/s (no finite TTFT)")
    if scenario == "server" and simulate_server and not pred.saturated:
        deployment = {k: v for k, v in kwargs.items() if k in _DEPLOYMENT}
        layout = dict(deployment, tp=pred.tp, pp=pred.pp, ep=pred.ep, dp_attention=pred.dp_attention)
        sim = _server_simulation(model, acc, pred, layout, calibration, kwargs["num_requests"])
        isl, osl = kwargs["isl"], kwargs["osl"]
        # (a profile's TTFT / TPOT factors are already in the simulation's statistics)
        value = {"output_tok_s": sim.output_tok_s_per_gpu, "total_tok_s": sim.total_tok_s_per_gpu,
                 "input_tok_s": sim.output_tok_s_per_gpu * isl / osl,
                 "ttft_ms": sim.summary["ttft_s"]["mean"] * 1e3, "tpot_ms": sim.summary["tpot_s"]["mean"] * 1e3}
        return pred, float(value[metric])
    value = getattr(pred, METRIC_ATTR[metric])
    if value is None:
        raise ValueError(f"no {metric} predicted for this scenario")
    return pred, float(value)


_DEPLOYMENT = ("gpus", "tp", "pp", "ep", "dp_attention", "weight_dtype", "kv_dtype", "engine", "catalog", "systems",
               "calibration")


# Server cases run through the request-level simulator.  One replica is simulated (the
# others are statistically identical under a random split of Poisson arrivals): the
# case's own number of requests when it gives one, else a run long enough that warm-up
# and drain do not matter (at least 60 s of arrivals and 10 analytical end-to-end
# latencies, 2,000..10,000 requests).
SIM_MIN_REQUESTS, SIM_MAX_REQUESTS, SIM_MIN_SPAN_S = 2_000, 10_000, 60.0


def _server_simulation(model: Any, acc: Accelerator, pred: Prediction, deployment: dict[str, Any],
                       calibration: Calibration, num_requests: int | None = None) -> Any:
    from suanli.app.simulate import simulate

    key = ("server-sim", model.id, acc, pred.isl, pred.osl, pred.request_rate, num_requests,
           tuple(sorted((k, v) for k, v in deployment.items() if k not in ("catalog", "systems", "calibration"))))
    cache = calibration._cache
    if key in cache:
        return cache[key]
    rate = float(pred.request_rate or 0.0)
    e2e = ((pred.ttft_ms or 0.0) + (pred.osl - 1.0) * pred.tpot_ms) / 1e3
    replicas = max(1, pred.replicas)
    per_replica = rate / replicas
    if num_requests:
        n = max(1, min(SIM_MAX_REQUESTS, int(round(num_requests / replicas))))
    else:
        n = int(min(SIM_MAX_REQUESTS, max(SIM_MIN_REQUESTS, per_replica * max(SIM_MIN_SPAN_S, 10.0 * e2e))))
    sim = simulate(model, acc, request_rate=rate, n_requests=n * replicas, isl=pred.isl, osl=pred.osl,
                   replicas_to_simulate=1, seed=0, **deployment)
    cache[key] = sim
    return sim


def read_cases(source: str | os.PathLike[str] | io.TextIOBase) -> list[tuple[int, dict[str, str]]]:
    """Rows with their 1-based file line numbers.  Raises ConfigError for a
    file that is not in the schema at all (wrong header)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read case file {path}: {exc}") from None
        label = str(path)
    else:
        text, label = source.read(), "<stream>"
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ConfigError(f"{label}: empty case file") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = [h for h in HEADER if h not in header]
    if missing:
        raise ConfigError(f"{label}: not a validation-case file; header lacks {', '.join(missing)}")
    rows = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        row = dict(zip(header, values))
        if len(values) != len(header):
            row["__error__"] = f"has {len(values)} fields, header has {len(header)}"
        rows.append((line, row))
    return rows


def _summarise(results: Iterable[CaseResult]) -> dict[str, Any]:
    results = list(results)
    ok = [r for r in results if r.status == "ok"]

    def stats(items: list[CaseResult]) -> dict[str, Any]:
        apes = [r.ape for r in items if r.ape is not None]
        return {"count": len(items), "median_ape": statistics.median(apes) if apes else None,
                "mean_ape": statistics.fmean(apes) if apes else None}

    by: dict[str, dict[str, Any]] = {"hardware": {}, "metric": {}, "family": {}, "engine": {}, "scenario": {}}
    for key, fn in (("hardware", lambda r: r.hardware), ("metric", lambda r: r.metric),
                    ("family", lambda r: metric_family(r.metric)), ("engine", lambda r: r.engine),
                    ("scenario", lambda r: r.scenario)):
        groups: dict[str, list[CaseResult]] = {}
        for r in ok:
            groups.setdefault(fn(r), []).append(r)
        by[key] = {k: stats(v) for k, v in sorted(groups.items())}
    total = len(results)
    return {"cases": total, "predicted": len(ok), "skipped": total - len(ok),
            "predicted_share": len(ok) / total if total else 0.0, "overall": stats(ok), **{f"by_{k}": v for k, v in by.items()}}


def _model_path_from(row: dict[str, str], base_dir: Path | None) -> dict[str, str]:
    """A case's ``model`` may be a path to a config.json or model directory; a relative
    path is taken from the case file's directory (when it exists there)."""
    model = (row.get("model") or "").strip()
    if base_dir is None or not model or Path(model).is_absolute():
        return row
    candidate = base_dir / model
    if candidate.is_file() or (candidate.is_dir() and (candidate / "config.json").is_file()):
        return {**row, "model": str(candidate)}
    return row


def validate(source: str | os.PathLike[str] | io.TextIOBase, *, catalog: HardwareCatalog | None = None,
             systems: SystemCatalog | None = None, calibration: Calibration | None = None,
             progress: Callable[[int, int], None] | None = None, few_shot: int = 0) -> ValidationReport:
    """Predict every case of ``source`` and compare with the measured values.

    ``few_shot`` = K > 0: each case is predicted with a calibration profile fitted on K
    other cases of its (source_group, hardware, engine) group -- never itself nor another
    metric of the same measurement, chosen with a fixed seed -- as if they were the user's
    own runs (:mod:`suanli.app.profile`).  Cases whose group has fewer than K such cases
    are predicted uncalibrated and counted separately (``calibrated_on`` empty)."""
    catalog = catalog or load_hardware()
    systems = systems or load_systems()
    calibration = calibration or load_calibration()
    rows = read_cases(source)
    base_dir = Path(source).parent if isinstance(source, (str, os.PathLike)) else None
    rows = [(line, _model_path_from(row, base_dir)) for line, row in rows]
    if few_shot < 0:
        raise ConfigError(f"--few-shot must be >= 0, got {few_shot}")
    shots = None
    if few_shot:
        from suanli.app.profile import FewShot
        shots = FewShot(rows, few_shot, catalog=catalog, systems=systems, calibration=calibration)
    results: list[CaseResult] = []
    seen: set[str] = set()
    for i, (line, row) in enumerate(rows):
        cid = (row.get("case_id") or "").strip() or f"line-{line}"
        base: dict[str, Any] = dict(case_id=cid, source_group=(row.get("source_group") or "").strip(), hardware=(row.get("hardware") or "").strip(), model=(row.get("model") or "").strip(),
                    engine=(row.get("engine") or "").strip(), scenario=(row.get("scenario") or "").strip(),
                    metric=(row.get("metric") or "").strip(), line=line)
        measured: float | None = None
        try:
            if "__error__" in row:
                raise ValueError(row["__error__"])
            if cid in seen:
                raise ValueError(f"duplicate case_id {cid!r}")
            seen.add(cid)
            measured = _req_float(row, "value")
            used: tuple[str, ...] | None = None
            cal = calibration
            if shots is not None:
                cal, used = shots.calibration_for(i)
            _, predicted = predict_case(row, catalog=catalog, systems=systems, calibration=cal)
            if not math.isfinite(predicted) or predicted <= 0:
                raise ValueError(f"model produced no usable value ({predicted})")
            results.append(CaseResult(**base, measured=measured, predicted=predicted,
                                      ape=abs(predicted - measured) / measured, status="ok", reason="",
                                      calibrated_on=used))
        except (SuanliError, ValueError, KeyError) as exc:
            reason = str(exc) if not isinstance(exc, KeyError) else f"missing column {exc}"
            results.append(CaseResult(**base, measured=measured, predicted=None, ape=None, status="skipped",
                                      reason=" ".join(reason.split()),
                                      calibrated_on=None if shots is None else ()))
        if progress:
            progress(i + 1, len(rows))
    summary = _summarise(results)
    if shots is not None:
        summary["few_shot"] = {"k": few_shot, "seed": shots.seed,
                               "calibrated": _summarise([r for r in results if r.calibrated_on])["by_family"],
                               "calibrated_cases": sum(1 for r in results if r.status == "ok" and r.calibrated_on),
                               "uncalibrated": _summarise([r for r in results if r.calibrated_on == ()])["by_family"],
                               "uncalibrated_cases": sum(1 for r in results if r.status == "ok"
                                                         and r.calibrated_on == ())}
    return ValidationReport(cases=tuple(results), summary=summary)
