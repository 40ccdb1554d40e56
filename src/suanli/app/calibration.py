"""Engine runtime calibration: the few fitted runtime costs per engine, the
engine scheduler defaults, and the out-of-sample uncertainty, read from data
files with their provenance.

``data/calibration/runtime.json`` is written by ``tools/calibrate.py`` from a
validation-case file; nothing in it is tuned by hand.  Each value is a
physical runtime cost within the range stated in :mod:`suanli.perf.runtime`;
kernel times never pass through here (they come from measured tables).
Before a fit exists, or for an engine without cases, the stated priors of
``PRIORS`` are used and the output says so.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from suanli.errors import ConfigError, InvalidInput
from suanli.files import parse_json
from suanli.perf.correction import Correction
from suanli.perf.runtime import RANGES, EngineLimits, Runtime, speed_of_light

# Priors (SI units) of the runtime costs, before any fit; ranges in perf.runtime.RANGES.
# Sources: vLLM V1 / SGLang host overhead of ~0.5-2 ms per step with an overlapped
# scheduler (vLLM V1 design doc "Engine core"; SGLang "zero-overhead batch scheduler",
# SGLang v0.4 release notes), per-kernel launch+gap of 2-5 us with ~5-10 small kernels
# per layer (CUDA graph replays; NVIDIA CUDA Graphs blog, 2019), 10-50 ms front-end
# per request (vLLM bench serve TTFT at batch 1 minus the prefill kernels).
PRIORS: dict[str, dict[str, float]] = {
    "vllm": {"step_s": 1.0e-3, "seq_s": 15e-6, "layer_s": 20e-6, "request_s": 30e-3},
    "sglang": {"step_s": 0.5e-3, "seq_s": 10e-6, "layer_s": 20e-6, "request_s": 20e-3},
    "trtllm": {"step_s": 0.5e-3, "seq_s": 5e-6, "layer_s": 15e-6, "request_s": 20e-3},
    "mindie": {"step_s": 2.0e-3, "seq_s": 20e-6, "layer_s": 40e-6, "request_s": 30e-3},
    # vLLM-Ascend / SGLang on Ascend: the same engines' Python front end over CANN graph
    # launches (torchair / ACL graph), assumed ~2x the CUDA costs per step and per layer
    # (assumption, stated; vLLM-Ascend docs are reserved and not read).
    "vllm-ascend": {"step_s": 2.0e-3, "seq_s": 20e-6, "layer_s": 40e-6, "request_s": 30e-3},
    "sglang-ascend": {"step_s": 1.0e-3, "seq_s": 20e-6, "layer_s": 40e-6, "request_s": 20e-3},
    "other": {"step_s": 1.0e-3, "seq_s": 15e-6, "layer_s": 20e-6, "request_s": 30e-3},
}
PRIOR_GLOBALS = {"comm_eff": 0.7}
# Engines whose runtime differs by platform: the same engine name on a Huawei Ascend NPU
# runs another backend (vLLM-Ascend, SGLang's NPU backend) and gets its own runtime costs.
PLATFORM_RUNTIMES = {("huawei", "vllm"): "vllm-ascend", ("huawei", "sglang"): "sglang-ascend"}


def runtime_key(engine: str, vendor: str) -> str:
    """The runtime whose costs apply to ``engine`` on a chip of ``vendor``
    (``vllm`` on Ascend is ``vllm-ascend``; everything else is the engine itself)."""
    return PLATFORM_RUNTIMES.get((vendor.strip().lower(), engine), engine)


PRIOR_SIGMA = 0.35          # log-sd before any out-of-sample estimate exists
ENGINE_PARAMS = ("step_s", "seq_s", "layer_s", "request_s")


@dataclass(frozen=True, kw_only=True)
class Calibration:
    engines: Mapping[str, Mapping[str, float]]
    globals: Mapping[str, float]
    sigma: Mapping[str, float]
    meta: Mapping[str, Any]
    engine_limits: Mapping[str, Mapping[str, Any]]
    origin: str = "bundled"
    # a user's calibration profile (suanli.app.profile.Profile): per chip x engine corrections
    profile: Any = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def with_profile(self, profile: Any) -> "Calibration":
        """This calibration with a user's profile applied on top (a fresh cache)."""
        return replace(self, profile=profile, _cache={})

    def correction_for(self, acc_id: str, engine_key: str, family: str | None,
                       model: str | None = None) -> Correction | None:
        """The profile's correction for this chip x runtime (and model), if any."""
        if self.profile is None:
            return None
        return self.profile.correction_for(acc_id, engine_key, family, model)

    def limits_for(self, engine: str, memory_gb: float, acc_id: str = "") -> EngineLimits:
        raw = (self.engine_limits.get(engine) or self.engine_limits.get(engine.split("-")[0])
               or self.engine_limits["other"])
        seqs, tokens = raw["max_seqs"], raw["max_batched_tokens"]
        large = raw.get("large_gpu")
        if large and memory_gb >= large["min_memory_gb"] and "a100" not in acc_id:
            seqs, tokens = large["max_seqs"], large["max_batched_tokens"]
        return EngineLimits(max_seqs=int(seqs), max_batched_tokens=int(tokens),
                            mem_fraction=float(raw["mem_fraction"]), workspace_bytes=float(raw["workspace_gb"]) * 1e9,
                            graph_max_batch=int(raw.get("graph_max_batch", 512)))

    def runtime_for(self, engine: str, *, memory_gb: float = 0.0, acc_id: str = "",
                    mode: str = "calibrated") -> Runtime:
        key = (engine, memory_gb, acc_id, mode)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        limits = self.limits_for(engine, memory_gb, acc_id)
        if mode == "roofline":
            rt = speed_of_light(limits, engine)
        elif mode != "calibrated":
            raise InvalidInput(f"unknown mode {mode!r}; expected 'calibrated' or 'roofline'", field="mode")
        else:
            fitted = self.engines.get(engine)
            prior = PRIORS.get(engine, PRIORS["other"])
            values = {k: float(fitted[k]) if fitted and k in fitted else prior[k] for k in ENGINE_PARAMS}
            if fitted:
                n = int(fitted.get("n_cases", 0))
                how = (f"engine runtime {engine}: fitted on {n} cases by {self.meta.get('script', '?')} "
                       f"({self.meta.get('cases_file', '?')}, {self.meta.get('fitted_on', '?')})")
            else:
                how = f"engine runtime {engine}: stated priors (no fitted cases for this engine)"
            sigma = float(self.sigma.get(engine, self.sigma.get("overall", PRIOR_SIGMA)))
            rt = Runtime(engine=engine, limits=limits, comm_eff=float(self.globals.get("comm_eff", 0.7)),
                         mode="calibrated", provenance=how, sigma=sigma, **values)
        self._cache[key] = rt
        return rt


def _read_json(path: Path | Any, what: str) -> dict[str, Any]:
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{what} {path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a JSON object")
    return data


def _check_range(name: str, value: float, origin: str) -> float:
    lo, hi = RANGES[name]
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ConfigError(f"calibration {origin}: {name} = {value!r} outside its physical range [{lo:g}, {hi:g}]")
    return value


def _from_dicts(fit: Mapping[str, Any], engines: Mapping[str, Any], origin: str) -> Calibration:
    try:
        eng: dict[str, dict[str, float]] = {}
        for name, params in dict(fit.get("engines", {})).items():
            eng[name] = {k: _check_range(k, float(v), origin) for k, v in params.items() if k in ENGINE_PARAMS}
            eng[name]["n_cases"] = float(params.get("n_cases", 0))
        glob = {k: _check_range(k, float(v), origin) for k, v in dict(fit.get("globals", {})).items() if k in RANGES}
        sigma = {k: float(v) for k, v in dict(fit.get("sigma", {})).items()}
        return Calibration(engines=eng, globals=glob, sigma=sigma, meta=dict(fit.get("meta", {})),
                           engine_limits=dict(engines["engines"]), origin=origin)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"calibration {origin}: missing or malformed field ({exc})") from None


def _root() -> Any:
    return resources.files("suanli").joinpath("data").joinpath("calibration")


@lru_cache(maxsize=1)
def _engine_defaults() -> dict[str, Any]:
    return _read_json(_root().joinpath("engines.json"), "engine defaults")


@lru_cache(maxsize=1)
def _bundled() -> Calibration:
    return _from_dicts(_read_json(_root().joinpath("runtime.json"), "calibration"), _engine_defaults(), "bundled")


def load_calibration(path: str | os.PathLike[str] | None = None) -> Calibration:
    """The bundled calibration, or a user file with the layout of
    ``data/calibration/runtime.json`` (env ``SUANLI_CALIBRATION``)."""
    path = path or os.environ.get("SUANLI_CALIBRATION") or None
    if path is None:
        return _bundled()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"calibration file not found: {p}")
    return _from_dicts(_read_json(p, "calibration"), _engine_defaults(), str(p))


def calibration_from_params(fit: Mapping[str, Any]) -> Calibration:
    """Build a calibration from an in-memory fit (used by the fitting script)."""
    return _from_dicts(fit, _engine_defaults(), "in-memory")


def prior_calibration() -> Calibration:
    """Priors only (what the fit starts from)."""
    return calibration_from_params({"engines": {}, "globals": dict(PRIOR_GLOBALS), "sigma": {"overall": PRIOR_SIGMA},
                                    "meta": {"script": "priors"}})


__all__ = ["Calibration", "ENGINE_PARAMS", "PLATFORM_RUNTIMES", "PRIORS", "calibration_from_params",
           "load_calibration", "prior_calibration", "runtime_key"]
