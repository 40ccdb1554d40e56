"""Calibration profiles: the performance model corrected by a user's own runs.

A profile holds one :class:`~suanli.perf.correction.Correction` per chip x
engine runtime (optionally x model family) that its runs cover, fitted by
:func:`fit_profile` on *observations* -- measured metrics of benchmark runs in
the validation-case schema (rows of :mod:`suanli.app.validate`; stored runs
give them with ``Run.to_case_rows()``).

How a correction is fitted (see :mod:`suanli.perf.correction` for the model):

1. every observation is predicted by the uncalibrated model exactly as
   ``suanli validate`` predicts a case (server loads through the simulator);
2. the sensitivity of each prediction to each physical part (GEMM, attention,
   communication, host runtime, front end) is taken by finite differences of
   the analytical model (a 10 % change of one part at a time);
3. the log scales are the maximum a posteriori estimate under the stated
   prior (Gauss-Newton, two steps when the runs are few enough to re-predict);
4. the band of a corrected prediction keeps the part of the prior variance
   the runs did not remove, floored at the runs' own scatter around the
   corrected model.

Observations whose prediction fails (a saturated server load has no finite
TTFT) are skipped and listed.  Nothing here reads files or databases: the
CLI / web layers load runs and store profiles (:mod:`suanli.market.profiles`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import statistics
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from suanli.app.calibration import Calibration, load_calibration, runtime_key
from suanli.app.predict import predict
from suanli.app.validate import METRIC_ATTR, case_inputs, metric_family, predict_case
from suanli.errors import ConfigError, InvalidInput, SuanliError
from suanli.perf.correction import (COMMON_SD, GROUPS, METRIC_GROUPS, OBS_SD_BY, WITHIN_SD, OTHER_FAMILY_SD,
                                    OTHER_MODEL_SD, PRIOR_SD, MAX_LOG_SCALE, Correction, fit_log_scales, obs_sd, variance_left)
from suanli.specs.accelerator import HardwareCatalog, load_hardware
from suanli.specs.system import SystemCatalog, load_systems

FORMAT = "suanli-profile"
FORMAT_VERSION = 1
FD_STEP = math.log(1.1)          # finite-difference step of the sensitivities (a 10 % change)
MAX_PROFILE_BYTES = 2_000_000    # an exported profile is a small file; refuse anything larger

# columns that identify one measurement (a configuration): rows that differ only in
# metric / value / case_id / notes / source_url are metrics of the same measurement
CONFIG_COLUMNS = ("source_group", "hardware", "gpus", "model", "weight_dtype", "kv_dtype", "engine", "tp", "pp",
                  "ep", "dp_attention", "isl", "osl", "concurrency", "request_rate", "scenario", "num_requests")


def measurement_key(row: Mapping[str, str]) -> tuple[str, ...]:
    return tuple((row.get(c) or "").strip() for c in CONFIG_COLUMNS)


def _prediction_key(row: Mapping[str, str]) -> tuple[Any, ...]:
    """What decides a row's prediction: its measurement, and whether its notes say that
    ``gpus`` counts NPU dies (validate then predicts per die)."""
    return measurement_key(row) + ("gpus counts NPU dies" in (row.get("notes") or ""),)


@dataclass(frozen=True, kw_only=True)
class ScopeFit:
    """The correction of one chip x engine runtime (x model family) and how it was fitted."""

    hardware: str
    engine: str                 # runtime key (vllm, vllm-ascend, sglang, ...)
    family: str | None          # None: any model
    model: str | None = None    # a model id: this model's own correction
    n_runs: int
    n_obs: int
    scales: dict[str, float]
    sd: dict[str, float]        # posterior log-sd per part
    variance_left: float
    sigma_floor: float
    clipped: tuple[str, ...] = ()
    median_ape_before: float | None = None
    median_ape_after: float | None = None

    def key(self) -> tuple[str, str, str | None, str | None]:
        return (self.hardware, self.engine, self.family, self.model)

    def describe(self) -> str:
        what = f"model {self.model}" if self.model else f"{self.family} models" if self.family else "any model"
        return f"{self.hardware} x {self.engine}, {what}"

    def correction(self, profile_name: str) -> Correction:
        return Correction(scales=tuple(sorted(self.scales.items())), variance_left=self.variance_left,
                          sigma_floor=self.sigma_floor, n_runs=self.n_runs,
                          label=f"calibrated on {self.n_runs} of your runs (profile {profile_name})")

    def to_dict(self) -> dict[str, Any]:
        return {"hardware": self.hardware, "engine": self.engine, "family": self.family, "model": self.model,
                "n_runs": self.n_runs,
                "n_obs": self.n_obs, "scales": self.scales, "sd": self.sd, "variance_left": self.variance_left,
                "sigma_floor": self.sigma_floor, "clipped": list(self.clipped),
                "median_ape_before": self.median_ape_before, "median_ape_after": self.median_ape_after}


@dataclass(frozen=True, kw_only=True)
class Profile:
    """A named set of corrections with the runs they came from (JSON round trip:
    :meth:`to_json` / :func:`profile_from_json`)."""

    name: str
    scopes: tuple[ScopeFit, ...]
    runs: tuple[str, ...] = ()                 # run ids / case ids the fit used
    points: tuple[dict[str, Any], ...] = ()    # per observation: measured, before, after
    skipped: tuple[dict[str, Any], ...] = ()
    created: str = ""
    source: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def _lookup(self) -> dict[tuple[str, str, str | None, str | None], ScopeFit]:
        if not self._index:
            self._index.update({s.key(): s for s in self.scopes})
        return self._index

    def scope_for(self, hardware: str, engine: str, family: str | None, model: str | None = None) -> ScopeFit | None:
        """The most specific correction for a model on this chip x runtime: its own, its
        family's, or the one for any model."""
        index = self._lookup()
        return (index.get((hardware, engine, family, model)) or index.get((hardware, engine, family, None))
                or index.get((hardware, engine, None, None)))

    def correction_for(self, hardware: str, engine: str, family: str | None,
                       model: str | None = None) -> Correction | None:
        scope = self.scope_for(hardware, engine, family, model)
        return None if scope is None else scope.correction(self.name)

    def note_for(self, hardware: str, engine: str, family: str | None, model: str | None = None) -> str:
        scope = self.scope_for(hardware, engine, family, model)
        if scope is None:
            covered = ", ".join(sorted({f"{s.hardware} x {s.engine}" for s in self.scopes})) or "nothing"
            return (f"profile {self.name} has no runs for {hardware} x {engine}: uncalibrated "
                    f"(the profile covers {covered})")
        return f"{scope.correction(self.name).label}; correction for {scope.describe()}"

    @property
    def n_runs(self) -> int:
        return len(self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "name": self.name, "created": self.created,
                "source": self.source, "settings": self.settings, "runs": list(self.runs),
                "scopes": [s.to_dict() for s in self.scopes], "points": list(self.points),
                "skipped": list(self.skipped)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False)


def _finite(value: Any, what: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
            not lo <= value <= hi:
        raise ConfigError(f"profile: {what} must be a finite number in [{lo:g}, {hi:g}], got {value!r}")
    return float(value)


def _optional(value: Any, what: str) -> float | None:
    return None if value is None else _finite(value, what, 0.0, 1e6)


def profile_from_dict(data: Any, *, origin: str = "profile") -> Profile:
    """A :class:`Profile` from its JSON object, every field checked (a file from a colleague
    is user input: factors must be physical, the structure exact)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{origin}: not a suanli profile (expected a JSON object with \"format\": \"{FORMAT}\")")
    if data.get("version") != FORMAT_VERSION:
        raise ConfigError(f"{origin}: profile format version {data.get('version')!r} is not supported "
                          f"(this suanli reads version {FORMAT_VERSION})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or \
            any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        raise ConfigError(f"{origin}: profile name must be 1-100 printable characters")
    scopes = []
    raw_scopes = data.get("scopes")
    if not isinstance(raw_scopes, list):
        raise ConfigError(f"{origin}: 'scopes' must be a list")
    lo, hi = math.exp(-math.log(4.0)) - 1e-9, 4.0 + 1e-9
    for i, s in enumerate(raw_scopes):
        where = f"scopes[{i}]"
        if not isinstance(s, dict):
            raise ConfigError(f"{origin}: {where} must be an object")
        for key in ("hardware", "engine"):
            if not isinstance(s.get(key), str) or not s[key]:
                raise ConfigError(f"{origin}: {where}.{key} must be a non-empty string")
        family, model = s.get("family"), s.get("model")
        for key, value in (("family", family), ("model", model)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"{origin}: {where}.{key} must be a non-empty string or null")
        scales = s.get("scales")
        if not isinstance(scales, dict) or set(scales) - set(GROUPS):
            raise ConfigError(f"{origin}: {where}.scales must map {', '.join(GROUPS)} to factors")
        sd = _sd if isinstance(_sd := s.get("sd"), dict) else {}
        scopes.append(ScopeFit(
            hardware=s["hardware"], engine=s["engine"], family=family, model=model,
            n_runs=int(_finite(s.get("n_runs", 0), f"{where}.n_runs", 0, 1e9)),
            n_obs=int(_finite(s.get("n_obs", 0), f"{where}.n_obs", 0, 1e9)),
            scales={g: _finite(v, f"{where}.scales.{g}", lo, hi) for g, v in scales.items()},
            sd={g: _finite(v, f"{where}.sd.{g}", 0, 10) for g, v in sd.items() if g in GROUPS},
            variance_left=_finite(s.get("variance_left", 1.0), f"{where}.variance_left", 0, 1),
            sigma_floor=_finite(s.get("sigma_floor", WITHIN_SD), f"{where}.sigma_floor", 0, 5),
            clipped=tuple(str(c) for c in s.get("clipped", []) if c in GROUPS),
            median_ape_before=_optional(s.get("median_ape_before"), f"{where}.median_ape_before"),
            median_ape_after=_optional(s.get("median_ape_after"), f"{where}.median_ape_after")))
    if not scopes:
        raise ConfigError(f"{origin}: the profile has no corrections ('scopes' is empty)")
    keys = [sc.key() for sc in scopes]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{origin}: two corrections for the same chip x engine x family x model")
    if any(not sc.scales for sc in scopes):
        raise ConfigError(f"{origin}: a correction without factors ('scales' is empty)")
    created = data.get("created", "")
    if created:
        try:
            dt.date.fromisoformat(str(created))
        except ValueError:
            raise ConfigError(f"{origin}: 'created' must be a date YYYY-MM-DD, got {created!r}") from None

    def _list(key: str) -> tuple[Any, ...]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise ConfigError(f"{origin}: '{key}' must be a list")
        return tuple(value)
    return Profile(name=name.strip(), scopes=tuple(scopes), runs=tuple(str(r) for r in _list("runs")),
                   points=tuple(p for p in _list("points") if isinstance(p, dict)),
                   skipped=tuple(p for p in _list("skipped") if isinstance(p, dict)),
                   created=str(data.get("created", "")), source=str(data.get("source", "")),
                   settings=_settings if isinstance(_settings := data.get("settings"), dict) else {})


def check_against_catalog(prof: Profile, catalog: HardwareCatalog | None = None, *,
                          origin: str = "profile") -> None:
    """A profile someone else wrote names chips by this catalog's ids and engines by runtime
    name, else its corrections would never apply: ConfigError naming what is unknown."""
    from suanli.app.calibration import PRIORS

    catalog = catalog or load_hardware()
    for sc in prof.scopes:
        try:
            acc = catalog.get(sc.hardware)
        except SuanliError:
            raise ConfigError(f"{origin}: unknown chip {sc.hardware!r} (suanli hardware list shows the ids)") from None
        if acc.id != sc.hardware:
            raise ConfigError(f"{origin}: chip {sc.hardware!r} must be written as its id {acc.id!r}")
        if sc.engine not in PRIORS:
            raise ConfigError(f"{origin}: unknown engine runtime {sc.engine!r} (one of {', '.join(PRIORS)})")


def profile_from_json(text: str | bytes, *, origin: str = "profile") -> Profile:
    if len(text) > MAX_PROFILE_BYTES:
        raise ConfigError(f"{origin}: {len(text)} bytes is too large for a profile (at most {MAX_PROFILE_BYTES})")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"{origin}: not valid JSON ({exc})") from None
    return profile_from_dict(data, origin=origin)


# --- fitting ------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Observation:
    """One measured metric of one run, in the validation-case schema."""

    row: Mapping[str, str]
    metric: str
    value: float
    ref: str                 # run / case id

    @property
    def config(self) -> tuple[str, ...]:
        return measurement_key(self.row)


def observations_from_rows(rows: Iterable[Mapping[str, str]],
                           skipped: list[dict[str, Any]] | None = None) -> list[Observation]:
    """Observations of measured rows.  A row without a usable metric or value raises
    InvalidInput, or with ``skipped`` given is listed there (ref, metric, reason) instead."""
    out = []
    for row in rows:
        metric = (row.get("metric") or "").strip()
        ref = (row.get("case_id") or "").strip()
        try:
            value = float(row.get("value") or "nan")
        except (ValueError, OverflowError):
            value = math.nan
        problem = (f"unknown metric {metric!r}" if metric not in METRIC_ATTR else
                   f"measured {metric} must be a positive number" if not math.isfinite(value) or value <= 0 else "")
        if problem:
            if skipped is None:
                raise InvalidInput(f"run {ref or '?'}: {problem}", field="value")
            skipped.append({"ref": ref, "metric": metric, "reason": problem})
            continue
        out.append(Observation(row=row, metric=metric, value=value, ref=ref))
    return out


class _Everywhere:
    """A profile-like object applying one correction to every chip and engine (for the
    finite differences)."""

    def __init__(self, corr: Correction) -> None:
        self.corr = corr

    def correction_for(self, hardware: str, engine: str, family: str | None, model: str | None = None) -> Correction:
        return self.corr

    def note_for(self, hardware: str, engine: str, family: str | None, model: str | None = None) -> str:
        return ""


@dataclass
class _Evaluated:
    """Uncalibrated prediction and sensitivities of one observation (cached per case set)."""

    obs: Observation
    scope: tuple[str, str, str | None]      # (chip, runtime, model family)
    base: float | None = None
    jac: np.ndarray | None = None
    error: str = ""

    def obs_level(self, level: str) -> str:
        return (self.scope[2] or "") if level == "family" else (self.obs.row.get("model") or "").strip()

    def sigma(self, level: str, within: str | None, within_family: str | None = None) -> float:
        """Log-sd of this observation for a correction of ``level`` (any / family / model)
        for ``within`` (of family ``within_family``): the scatter of a run of the same
        model, widened for a run of another model of the family and more for another
        family (:data:`~suanli.perf.correction.OTHER_MODEL_SD`)."""
        family = metric_family(self.obs.metric)
        base = obs_sd(family, (self.obs.row.get("scenario") or "").strip())
        same = math.sqrt(max(0.05 ** 2, base ** 2 - OTHER_MODEL_SD[family] ** 2))
        sibling = math.sqrt(same ** 2 + OTHER_FAMILY_SD[family] ** 2)
        if level == "model":
            if self.obs_level("model") == within:
                return same
            return sibling if self.scope[2] == within_family else base
        if level == "family":
            return sibling if self.scope[2] == within else base
        return base


@dataclass
class Fitter:
    """Predicts observations and fits corrections; caches the uncalibrated predictions and
    sensitivities of each observation so that many fits over one case set (the few-shot
    validation) predict each case once."""

    catalog: HardwareCatalog = field(default_factory=load_hardware)
    systems: SystemCatalog = field(default_factory=load_systems)
    calibration: Calibration = field(default_factory=load_calibration)
    _cache: dict[int, _Evaluated] = field(default_factory=dict)
    _fd_cals: dict[str, Calibration] = field(default_factory=dict)
    _pred_cache: dict[tuple[tuple[Any, ...], str | None], Any] = field(default_factory=dict)

    def _fd_calibration(self, group: str) -> Calibration:
        cal = self._fd_cals.get(group)
        if cal is None:
            corr = Correction(scales=((group, math.exp(FD_STEP)),), label="")
            cal = self._fd_cals[group] = self.calibration.with_profile(_Everywhere(corr))
        return cal

    def scope_of(self, row: Mapping[str, str]) -> tuple[str, str, str | None]:
        acc = self.catalog.get((row.get("hardware") or "").strip())
        engine = runtime_key((row.get("engine") or "").strip(), acc.vendor)
        from suanli.specs.model import load_model
        return (acc.id, engine, load_model((row.get("model") or "").strip()).family)

    def evaluate(self, obs: Observation) -> _Evaluated:
        hit = self._cache.get(id(obs))
        if hit is not None:
            return hit
        row = dict(obs.row)
        try:
            ev = _Evaluated(obs=obs, scope=self.scope_of(row))
        except (SuanliError, ValueError, KeyError) as exc:
            ev = _Evaluated(obs=obs, scope=("", "", None), error=_reason(exc))
            self._cache[id(obs)] = ev
            return ev
        try:
            if (row.get("scenario") or "").strip() == "server":    # through the simulator, as validate does
                _, base = predict_case(row, catalog=self.catalog, systems=self.systems, calibration=self.calibration)
            else:
                base = _metric_value(self._analytic(row, None), obs.metric)
            ev.base = base
            ev.jac = self._sensitivities(row, obs.metric)
        except (SuanliError, ValueError, KeyError) as exc:
            ev.error = _reason(exc)
        self._cache[id(obs)] = ev
        return ev

    def _analytic(self, row: Mapping[str, str], group: str | None) -> Any:
        """The analytical prediction of a run's configuration, uncalibrated (``group`` None)
        or with one part scaled by the finite-difference step (cached per configuration: a
        run's metrics share it)."""
        key = (_prediction_key(row), group)
        hit = self._pred_cache.get(key)
        if hit is None:
            cal = self.calibration if group is None else self._fd_calibration(group)
            model, acc, kwargs = case_inputs(dict(row), catalog=self.catalog, systems=self.systems, calibration=cal)
            hit = self._pred_cache[key] = predict(model, acc, strict_fit=False, **kwargs)
        return hit

    def _sensitivities(self, row: Mapping[str, str], metric: str) -> np.ndarray:
        attr = METRIC_ATTR[metric]
        base_pred = self._analytic(row, None)
        base = getattr(base_pred, attr)
        jac = np.zeros(len(GROUPS))
        no_comm = base_pred.tp == 1 and base_pred.ep == 1 and base_pred.pp == 1 and base_pred.dp_attention == 1
        for k, group in enumerate(GROUPS):
            if group in METRIC_GROUPS:
                jac[k] = 1.0 if METRIC_GROUPS[group] == metric else 0.0
                continue
            if group == "frontend" and metric != "ttft_ms" and (row.get("scenario") or "").strip() not in (
                    "fixed-concurrency", "single-request"):
                continue    # the front end is outside the engine's step loop: only TTFT and closed loops see it
            if group == "comm" and no_comm:
                continue    # one GPU per instance: no collectives
            value = getattr(self._analytic(row, group), attr)
            if base and value:
                jac[k] = math.log(value / base) / FD_STEP
        return jac

    def predict(self, obs: Observation, profile: Any, cache: dict[Any, Any] | None = None) -> float:
        """``obs`` predicted with ``profile`` (as validate predicts a case); ``cache`` shares
        one prediction among the metrics of a run."""
        row = dict(obs.row)
        cal = self.calibration.with_profile(profile)
        if (row.get("scenario") or "").strip() == "server" or cache is None:
            _, value = predict_case(row, catalog=self.catalog, systems=self.systems, calibration=cal)
            return value
        key = _prediction_key(row)
        pred = cache.get(key)
        if pred is None:
            model, acc, kwargs = case_inputs(row, catalog=self.catalog, systems=self.systems, calibration=cal)
            pred = cache[key] = predict(model, acc, strict_fit=False, **kwargs)
        return _metric_value(pred, obs.metric)

    def fit(self, observations: Sequence[Observation], *, name: str, source: str = "", created: str = "",
            progress: Callable[[int, int], None] | None = None, diagnostics: bool = True) -> Profile:
        """Fit a :class:`Profile` named ``name`` on ``observations``.

        Per chip x engine runtime the runs give one correction for any model (every run
        with the scatter of a run of another model) and one per model family and per
        model they contain (runs of that family / model with their own, smaller
        scatter; the others still count, with the larger one).  A prediction uses the
        most specific correction that exists.  ``diagnostics``: re-predict every
        observation with the profile (the before/after points of the profile page and
        the runs' scatter that floors the band)."""
        if not observations:
            raise InvalidInput("no runs to calibrate on", field="runs")
        # the throughputs of one run (output, total, input tokens/s) are one measurement seen
        # three ways: keep one of them (output first) so that a run counts once
        rank = {"output_tok_s": 0, "total_tok_s": 1, "input_tok_s": 2}
        best: dict[tuple[str, ...], Observation] = {}
        for obs in observations:
            if obs.metric in rank:
                kept = best.get(obs.config)
                if kept is None or rank[obs.metric] < rank[kept.metric]:
                    best[obs.config] = obs
        observations = [o for o in observations if o.metric not in rank or best[o.config] is o]
        evaluated = []
        for i, obs in enumerate(observations):
            evaluated.append(self.evaluate(obs))
            if progress:
                progress(i + 1, len(observations))
        usable = [e for e in evaluated if e.base is not None and e.base > 0 and e.jac is not None]
        far = [e for e in usable if abs(math.log(e.obs.value / float(e.base or 1.0))) > MAX_LOG_SCALE]
        for e in far:
            ratio = e.obs.value / float(e.base or 1.0)
            e.error = (f"measured {ratio:.3g}x the model's {e.obs.metric}: more than a correction within "
                       f"[1/4, 4] can explain; check the run's hardware, model, layout and precision")
        far_ids = {id(e) for e in far}
        usable = [e for e in usable if id(e) not in far_ids]
        usable_ids = {id(e) for e in usable}
        skipped = [{"ref": e.obs.ref, "metric": e.obs.metric, "reason": e.error or "no prediction"}
                   for e in evaluated if id(e) not in usable_ids]
        if not usable:
            reasons = "; ".join(sorted({s["reason"] for s in skipped}))[:500]
            raise InvalidInput(f"none of the {len(observations)} measured values could be predicted ({reasons})",
                               field="runs")
        by_runtime: dict[tuple[str, str], list[_Evaluated]] = {}
        for e in usable:
            by_runtime.setdefault(e.scope[:2], []).append(e)
        scopes: list[ScopeFit] = []
        for (hw, engine), items in sorted(by_runtime.items()):
            scopes.append(self._fit_scope(hw, engine, items, level="any", within=None))
            for level in ("family", "model"):
                for value in sorted({e.obs_level(level) for e in items}):
                    scopes.append(self._fit_scope(hw, engine, items, level=level, within=value))
        refs = tuple(dict.fromkeys(e.obs.ref.rsplit("-", 1)[0] if e.obs.ref.startswith("run-") else e.obs.ref
                                   for e in usable))
        prof = Profile(name=name, scopes=tuple(scopes), runs=refs, skipped=tuple(skipped), created=created,
                       source=source, settings={"prior_sd": dict(PRIOR_SD), "common_sd": COMMON_SD,
                                                "obs_sd": {f"{k[0]}/{k[1]}": v for k, v in OBS_SD_BY.items()},
                                                "other_model_sd": dict(OTHER_MODEL_SD),
                                                "other_family_sd": dict(OTHER_FAMILY_SD), "parts": list(GROUPS)})
        if not diagnostics:
            return prof
        points = []
        after_by_scope: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        shared: dict[Any, Any] = {}
        for e in usable:
            try:
                after = self.predict(e.obs, prof, shared)
            except (SuanliError, ValueError, KeyError):
                after = float(e.base or 0.0)
            points.append({"ref": e.obs.ref, "hardware": e.scope[0], "engine": e.scope[1],
                           "model": (e.obs.row.get("model") or "").strip(),
                           "scenario": (e.obs.row.get("scenario") or "").strip(), "metric": e.obs.metric,
                           "measured": e.obs.value, "before": float(e.base or 0.0), "after": after})
            after_by_scope.setdefault(e.scope[:2], []).append((e.obs.value, float(e.base or 0.0), after))
        fixed = []
        for scope in scopes:
            trio = after_by_scope.get((scope.hardware, scope.engine), [])
            resid = [math.log(m / a) for m, _, a in trio if a > 0]
            # the runs' own scatter around the corrected model (n - 1: one scale per scope is fitted)
            floor = (max(0.02, math.sqrt(sum(r * r for r in resid) / (len(resid) - 1))) if len(resid) >= 5
                     else WITHIN_SD)
            fixed.append(replace(
                scope, sigma_floor=floor,
                median_ape_before=statistics.median(abs(b / m - 1.0) for m, b, _ in trio) if trio else None,
                median_ape_after=statistics.median(abs(a / m - 1.0) for m, _, a in trio) if trio else None))
        return replace(prof, scopes=tuple(fixed), points=tuple(points), _index={})

    def _fit_scope(self, hw: str, engine: str, items: list[_Evaluated], *, level: str,
                   within: str | None) -> ScopeFit:
        y = np.log([e.obs.value for e in items]) - np.log([float(e.base or 1.0) for e in items])
        J = np.array([e.jac for e in items])
        fam = None
        if level == "model":
            fam = next(e.scope[2] for e in items if e.obs_level("model") == within)
        sigma = np.array([e.sigma(level, within, fam) for e in items])
        # the metrics of one run share that run's deviation from the model (its load, its build):
        # together they count as one measurement, not as independent ones
        per_run: dict[tuple[str, ...], int] = {}
        for e in items:
            per_run[e.obs.config] = per_run.get(e.obs.config, 0) + 1
        sigma = sigma * np.sqrt([per_run[e.obs.config] for e in items])
        fit = fit_log_scales(y, J, obs_sd=sigma)
        mine = [e for e in items if within is None or e.obs_level(level) == within]
        return ScopeFit(hardware=hw, engine=engine, family=within if level == "family" else fam,
                        model=within if level == "model" else None,
                        n_runs=len({e.obs.config for e in mine}), n_obs=len(mine),
                        scales=fit.scales(), sd=fit.sd(), variance_left=variance_left(fit, np.abs(J).mean(axis=0)),
                        sigma_floor=WITHIN_SD, clipped=fit.clipped)


def _metric_value(pred: Any, metric: str) -> float:
    value = getattr(pred, METRIC_ATTR[metric])
    if value is None:
        raise ValueError(f"no {metric} predicted for this scenario")
    return float(value)


def _reason(exc: BaseException) -> str:
    return " ".join((str(exc) if not isinstance(exc, KeyError) else f"missing column {exc}").split())


def fit_profile(rows: Iterable[Mapping[str, str]], *, name: str, source: str = "", created: str = "",
                calibration: Calibration | None = None, catalog: HardwareCatalog | None = None,
                progress: Callable[[int, int], None] | None = None) -> Profile:
    """Fit a profile on measured case-schema rows (one row per measured metric)."""
    fitter = Fitter(catalog=catalog or load_hardware(), calibration=calibration or load_calibration())
    bad: list[dict[str, Any]] = []
    observations = observations_from_rows(rows, bad)
    if not observations:
        reasons = "; ".join(sorted({b["reason"] for b in bad}))[:500]
        raise InvalidInput(f"no usable measured value in the runs ({reasons})", field="runs")
    prof = fitter.fit(observations, name=name, source=source, created=created, progress=progress)
    return replace(prof, skipped=tuple(bad) + prof.skipped, _index={}) if bad else prof


# --- few-shot validation ------------------------------------------------------------------------

FEW_SHOT_SEED = 20261206


def few_shot_choice(rows: Sequence[tuple[int, Mapping[str, str]]], index: int, k: int,
                    seed: int = FEW_SHOT_SEED, usable: Callable[[int], bool] | None = None) -> list[int] | None:
    """Indexes of ``k`` rows of the same (source_group, hardware, engine) group as row
    ``index`` -- never the row itself nor another metric of the same measurement --
    chosen with a fixed seed; None when the group has fewer than ``k`` such rows."""
    _, row = rows[index]
    group = tuple((row.get(c) or "").strip() for c in ("source_group", "hardware", "engine"))
    own = measurement_key(row)
    pool = [i for i, (_, r) in enumerate(rows)
            if i != index and tuple((r.get(c) or "").strip() for c in ("source_group", "hardware", "engine")) == group
            and measurement_key(r) != own and "__error__" not in r and (usable is None or usable(i))]
    if len(pool) < k:
        return None
    rng = random.Random(f"{seed}:{(row.get('case_id') or '').strip()}:{index}")
    return sorted(rng.sample(pool, k))


class FewShot:
    """The few-shot validation protocol over one case file: for case ``i``,
    :meth:`calibration_for` fits a profile on K other cases of its group and returns the
    calibration to predict it with, and the case ids used (empty: group too small or
    none of the K predictable; the case is then predicted uncalibrated)."""

    def __init__(self, rows: Sequence[tuple[int, Mapping[str, str]]], k: int, *, catalog: HardwareCatalog,
                 systems: SystemCatalog, calibration: Calibration, seed: int = FEW_SHOT_SEED) -> None:
        self.rows, self.k, self.seed, self.calibration = rows, k, seed, calibration
        self.fitter = Fitter(catalog=catalog, systems=systems, calibration=calibration)
        self.obs: list[Observation | None] = []
        for _, row in rows:
            try:
                self.obs.append(None if "__error__" in row else observations_from_rows([row])[0])
            except SuanliError:
                self.obs.append(None)

    def calibration_for(self, index: int) -> tuple[Calibration, tuple[str, ...]]:
        chosen = few_shot_choice(self.rows, index, self.k, self.seed, usable=lambda i: self.obs[i] is not None)
        if chosen is None:
            return self.calibration, ()
        train = [o for o in (self.obs[i] for i in chosen) if o is not None]
        used = tuple(o.ref for o in train)
        try:
            prof = self.fitter.fit(train, name="few-shot", diagnostics=False)
        except SuanliError:
            # the chosen runs could not be used (not predictable, or further from the model
            # than a correction can explain): the case is predicted uncalibrated but counts
            # as calibrated on them -- that is what the user would have got
            return self.calibration, used
        return self.calibration.with_profile(prof), used


__all__ = ["CONFIG_COLUMNS", "FewShot", "check_against_catalog", "FEW_SHOT_SEED", "Fitter", "Observation", "Profile", "ScopeFit", "few_shot_choice",
           "fit_profile", "measurement_key", "observations_from_rows", "profile_from_dict", "profile_from_json"]
