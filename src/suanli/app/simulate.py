"""`simulate`: request-level simulation of a deployment under a request stream.

Builds one instance's step-time table from the calibrated performance model,
generates (or reads) the requests, splits them over the replicas (Poisson
splitting for generated arrivals, round robin for a trace), simulates each
replica as an independent task on a backend (local processes, Ray) and merges
the results.  Deterministic for a given seed on every backend.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from suanli.app import params as P
from suanli.app.backends import run_tasks
from suanli.app.limits import BURST_CV
from suanli.app.predict import resolve
from suanli.errors import ConfigError, InvalidInput
from suanli.files import parse_json
from suanli.perf import workload as wk
from suanli.perf.simulate import SimConfig, SimResult, StepTable, sim_config, simulate as run_sim, step_table
from suanli.app.calibration import Calibration
from suanli.specs.accelerator import Accelerator, HardwareCatalog
from suanli.specs.dtypes import DType
from suanli.specs.model import ModelSpec
from suanli.specs.system import System, SystemCatalog

DEFAULT_REQUESTS = 2000
MAX_REQUESTS = 5_000_000


def parse_lengths(spec: str, mean: float, n: int, rng: np.random.Generator, *, name: str) -> np.ndarray:
    """Token lengths from a distribution spec: ``fixed`` | ``uniform:LO:HI`` |
    ``lognormal[:SIGMA]`` (mean = the --isl/--osl value, sigma default 0.5) |
    ``file:PATH`` (numbers, one per line or the first CSV column, sampled)."""
    kind, _, rest = spec.partition(":")
    try:
        if kind == "fixed":
            return wk.fixed(n, int(round(mean)))
        if kind == "uniform":
            lo, hi = (int(x) for x in rest.split(":"))
            return wk.uniform(n, lo, hi, rng)
        if kind == "lognormal":
            return wk.lognormal(n, mean, float(rest) if rest else 0.5, rng)
        if kind == "file":
            return wk.sampled(n, _read_numbers(Path(rest), name), rng)
    except ValueError as exc:
        raise InvalidInput(f"--{name}-dist {spec!r}: {exc}", field=f"{name}_dist") from None
    raise InvalidInput(f"--{name}-dist {spec!r}: expected fixed, uniform:LO:HI, lognormal[:SIGMA] or file:PATH",
                       field=f"{name}_dist")


def _read_numbers(path: Path, name: str) -> list[int]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not data
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {name} length file {path}: {exc}") from None
    values = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not row[0].strip() or row[0].strip().startswith("#"):
            continue
        cell = row[0].strip()
        try:
            v = float(cell)
        except ValueError:
            if line_no == 1:
                continue  # a header
            raise ConfigError(f"{path}:{line_no}: not a number: {cell!r}") from None
        if not (v >= 1 and v == int(v)):
            raise ConfigError(f"{path}:{line_no}: token count must be a whole number >= 1, got {cell!r}")
        values.append(int(v))
    if not values:
        raise ConfigError(f"{path}: no token counts found")
    return values


def read_trace(path: str | Path) -> wk.Requests:
    """A request trace: CSV with columns ``timestamp,isl,osl`` (header
    required) or JSON Lines with those keys; rows in time order."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")  # a byte-order mark is not data (validate accepts it too)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read trace {p}: {exc}") from None
    rows: list[dict[str, Any]] = []
    if p.suffix.lower() in (".jsonl", ".json"):
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(parse_json(line))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{p}:{line_no}: not JSON ({exc.msg})") from None
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = {"timestamp", "isl", "osl"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{p}: trace header lacks {', '.join(sorted(missing))}")
        rows = list(reader)
    if not rows:
        raise ConfigError(f"{p}: empty trace")
    try:
        return wk.requests_from_records(rows)
    except InvalidInput as exc:
        raise ConfigError(f"{p}: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class SimulationReport:
    hardware: str
    model: str
    gpus: int
    tp: int
    pp: int
    ep: int
    replicas: int
    weight_dtype: str
    kv_dtype: str
    engine: str
    arrival: str
    request_rate: float | None
    requests: int
    seed: int
    summary: dict[str, Any]
    output_tok_s_per_gpu: float
    total_tok_s_per_gpu: float
    mode: str
    provenance: str
    warnings: tuple[str, ...] = ()
    unverified_hardware: bool = False
    profile: str = ""     # "calibrated on N of your runs (profile NAME) ..." when a profile was given
    result: SimResult | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "result"}
        d["warnings"] = list(self.warnings)
        return d


def _task(args: tuple[wk.Requests, StepTable, SimConfig]) -> SimResult:
    return run_sim(*args)


def _merge(parts: Sequence[SimResult]) -> SimResult:
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    return SimResult(
        arrival_s=cat("arrival_s"), first_token_s=cat("first_token_s"), finish_s=cat("finish_s"),
        ttft_s=cat("ttft_s"), tpot_s=cat("tpot_s"), e2e_s=cat("e2e_s"), itl_s=cat("itl_s"),
        itl_count=cat("itl_count"), input_tokens=sum(p.input_tokens for p in parts),
        prefill_tokens=sum(p.prefill_tokens for p in parts), cached_tokens=sum(p.cached_tokens for p in parts),
        output_tokens=sum(p.output_tokens for p in parts), preemptions=sum(p.preemptions for p in parts),
        steps=sum(p.steps for p in parts), duration_s=max(p.duration_s for p in parts))


def _generated(rate: float, n: int, *, arrival: str, burst_cv: float, isl: float, osl: float, isl_dist: str,
               osl_dist: str, rng: np.random.Generator) -> wk.Requests:
    if arrival == "poisson":
        t = wk.poisson_arrivals(rate, n, rng)
    elif arrival == "bursty":
        t = wk.bursty_arrivals(rate, n, burst_cv, rng)
    else:
        raise InvalidInput(f"--arrival must be poisson or bursty, got {arrival!r}", field="arrival")
    return wk.Requests(arrival_s=t, isl=parse_lengths(isl_dist, isl, n, rng, name="isl"),
                       osl=parse_lengths(osl_dist, osl, n, rng, name="osl"))


def _check_lengths(spec: str, name: str) -> None:
    parse_lengths(spec, 8.0, 1, np.random.default_rng(0), name=name)


def simulate(model: str | ModelSpec, hardware: str | Accelerator, *, request_rate: float | None = None, duration_s: float | None = None,
             n_requests: int | None = None, trace: str | Path | None = None, isl: float = P.ISL.default, osl: float = P.OSL.default,
             isl_dist: str = "fixed", osl_dist: str = "fixed", arrival: str = "poisson", burst_cv: float = 2.0,
             prefix_hit_rate: float = 0.0, seed: int = 0, sla_ttft_ms: float | None = None,
             sla_tpot_ms: float | None = None, backend: str = "serial", address: str | None = None,
             replicas_to_simulate: int | None = None, progress: Callable[[int, int], None] | None = None,
             gpus: int | None = P.GPUS.default, tp: int | None = P.TP.default, pp: int | None = P.PP.default,
             ep: int | None = P.EP.default, dp_attention: int | None = P.DP_ATTENTION.default,
             weight_dtype: str | DType | None = P.WEIGHT_DTYPE.default,
             kv_dtype: str | DType | None = P.KV_DTYPE.default, engine: str = P.ENGINE.default,
             system: str | System | None = P.SYSTEM.default, mode: str = P.MODE.default,
             catalog: HardwareCatalog | None = None, systems: SystemCatalog | None = None,
             calibration: Calibration | None = None) -> SimulationReport:
    """Simulate a deployment (the deployment parameters as :func:`suanli.app.predict.resolve`).

    Generated arrivals: each replica receives an independent stream at
    ``request_rate / replicas`` (a random split of a Poisson stream is Poisson),
    seeded by ``(seed, replica)``; ``n_requests`` (or rate x duration) is the
    total over the deployment.  A trace is dealt round robin.  With
    ``replicas_to_simulate`` only that many statistically identical replicas
    are simulated and rates are per GPU of those replicas."""
    if trace is None and request_rate is None:
        raise InvalidInput("give --request-rate (with --duration or --requests) or --trace", field="request_rate")
    if trace is not None and request_rate is not None:
        raise InvalidInput("give --request-rate or --trace, not both", field="trace")
    if not 0.0 <= prefix_hit_rate < 1.0:
        raise InvalidInput(f"--prefix-hit-rate must be in [0, 1), got {prefix_hit_rate}", field="prefix_hit_rate")
    lo, hi = BURST_CV
    if arrival == "bursty" and not lo <= burst_cv <= hi:
        raise InvalidInput(f"--burst-cv must be between {lo:g} and {hi:g} (coefficient of variation of the "
                           f"inter-arrival times), got {burst_cv!r}", field="burst_cv")
    trace_reqs = None
    rate: float | None
    gen_rate = 0.0   # requests/s of generated arrivals (no trace)
    if trace is not None:
        trace_reqs = read_trace(trace)
        rate = len(trace_reqs) / trace_reqs.span_s if trace_reqs.span_s > 0 else None
        isl, osl = float(trace_reqs.isl.mean()), float(trace_reqs.osl.mean())
        n = len(trace_reqs)
    else:
        if request_rate is None or not (0 < request_rate < math.inf):
            raise InvalidInput(f"--request-rate must be a finite number > 0, got {request_rate!r}",
                               field="request_rate")
        rate = gen_rate = float(request_rate)
        if duration_s is not None and n_requests is not None:
            raise InvalidInput("give --duration or --requests, not both", field="duration")
        if duration_s is not None:
            if not (0 < duration_s < math.inf):
                raise InvalidInput(f"--duration must be > 0 seconds, got {duration_s!r}", field="duration")
            n = max(1, int(round(rate * duration_s)))
        else:
            n = DEFAULT_REQUESTS if n_requests is None else int(n_requests)
        if not 1 <= n <= MAX_REQUESTS:
            raise InvalidInput(f"number of requests must be in 1..{MAX_REQUESTS:,}, got {n}", field="requests")
        _check_lengths(isl_dist, "isl")
        _check_lengths(osl_dist, "osl")

    r = resolve(model, hardware, isl=isl, osl=osl, request_rate=rate, scenario="server", gpus=gpus, tp=tp, pp=pp,
                ep=ep, dp_attention=dp_attention, weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=engine,
                system=system, mode=mode, catalog=catalog, systems=systems, calibration=calibration)
    inst = r.instance()
    cfg = sim_config(inst, prefix_hit_rate=prefix_hit_rate)
    table = step_table(inst, cfg.max_seqs, cfg.max_batched_tokens)
    replicas = r.dep.replicas
    sim_reps = replicas if replicas_to_simulate is None else max(1, min(replicas, int(replicas_to_simulate)))
    tasks = []
    for k in range(sim_reps):
        if trace_reqs is not None:
            sel = slice(k, None, replicas)
            sub = wk.Requests(arrival_s=trace_reqs.arrival_s[sel], isl=trace_reqs.isl[sel], osl=trace_reqs.osl[sel])
        else:
            n_k = n // replicas + (1 if k < n % replicas else 0)
            if n_k == 0:
                continue
            sub = _generated(gen_rate / replicas, n_k, arrival=arrival, burst_cv=burst_cv, isl=isl, osl=osl,
                             isl_dist=isl_dist, osl_dist=osl_dist, rng=np.random.default_rng([seed, k]))
        if len(sub):
            tasks.append((sub, table, cfg))
    merged = _merge(run_tasks(_task, tasks, backend=backend, address=address, progress=progress))
    summ = merged.summary(sla_ttft_s=sla_ttft_ms / 1e3 if sla_ttft_ms else None,
                          sla_tpot_s=sla_tpot_ms / 1e3 if sla_tpot_ms else None)
    warnings = list(r.warnings)
    if r.correction is not None:
        # the profile's factors on what the step model leaves unexplained in TTFT / TPOT
        # (perf.correction) scale the simulated latency statistics; SLA attainment is the
        # simulator's own
        for key, metric in (("ttft_s", "ttft_ms"), ("tpot_s", "tpot_ms")):
            factor = r.correction.metric_scale(metric)
            if factor != 1.0 and isinstance(summ.get(key), dict):
                summ[key] = {k: v * factor if isinstance(v, float) else v for k, v in summ[key].items()}
    if merged.preemptions:
        warnings.append(f"{merged.preemptions} preemptions: the KV cache filled up (recomputation)")
    sim_gpus = r.dep.instance_gpus * len(tasks)
    out_rate, total_rate = steady_rates(merged)
    return SimulationReport(
        hardware=r.acc.id, model=r.spec.id, gpus=r.dep.gpus, tp=r.dep.tp, pp=r.dep.pp, ep=r.dep.ep,
        replicas=replicas, weight_dtype=r.dep.weight_dtype.value, kv_dtype=r.dep.kv_dtype.value,
        engine=r.dep.engine, arrival="trace" if trace is not None else arrival, request_rate=rate,
        requests=int(merged.ttft_s.size), seed=seed, summary=summ,
        output_tok_s_per_gpu=out_rate / sim_gpus, total_tok_s_per_gpu=total_rate / sim_gpus,
        mode=f"simulated ({r.pf.runtime.mode} step times)", provenance=r.pf.runtime.provenance, warnings=tuple(warnings),
        unverified_hardware=r.acc.unverified, profile=r.profile_note, result=merged)


def steady_rates(res: SimResult) -> tuple[float, float]:
    """Output and total tokens/s of the run without the drain at its end.

    A stable system serves what arrives, so tokens are counted over the
    arrival window (requests arriving in it, their tokens); an overloaded one
    (mean TTFT of the last tenth of arrivals over 1.3 x that of the middle
    tenth: the queue grows; a stable queue keeps the ratio near 1, a queue
    growing linearly from the start gives ~1.9) is credited with what it
    completed over the whole run."""
    n = res.ttft_s.size
    if n == 0 or res.duration_s <= 0:
        return 0.0, 0.0
    order = np.argsort(res.arrival_s)
    ttft = res.ttft_s[order]
    tenth = max(1, n // 10)
    mid = ttft[n // 2 - tenth // 2: n // 2 + tenth // 2 + 1].mean()
    last = ttft[-tenth:].mean()
    out_tokens = res.output_tokens
    total_tokens = res.output_tokens + res.input_tokens
    if last > 1.3 * mid + 1e-3:
        return out_tokens / res.duration_s, total_tokens / res.duration_s
    span = float(res.arrival_s.max() - res.arrival_s.min()) * n / max(n - 1, 1)
    return out_tokens / span, total_tokens / span
