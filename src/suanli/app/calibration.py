"""Calibration profiles: fitted efficiencies per accelerator family and engine,
and engine scheduler defaults, read from data files with their provenance.

The fitted file is produced by ``tools/calibrate.py`` from a validation-case
file; nothing here is tuned by hand.  Lookup order for an accelerator:
its family's fitted values, else the fitted cross-family defaults (reported
as mode ``family-default`` with a wider uncertainty band).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from suanli.errors import ConfigError, InvalidInput
from suanli.files import parse_json
from suanli.perf.efficiency import Efficiency, EngineLimits, roofline
from suanli.specs.accelerator import Accelerator

# Uncertainty band widening for chips whose family has no calibration cases:
# the spread of family-to-family efficiency differences seen in the fit is
# about x1.5 (see tools/calibrate.py output), so bands are widened by that.
_UNCALIBRATED_WIDEN = 1.5
_MAX_EFF = 0.95


@dataclass(frozen=True, kw_only=True)
class Calibration:
    defaults: Mapping[str, float]
    families: Mapping[str, Mapping[str, Any]]
    engines: Mapping[str, Mapping[str, Any]]
    bands: Mapping[str, tuple[float, float]]
    meta: Mapping[str, Any]
    engine_limits: Mapping[str, Mapping[str, Any]]
    origin: str = "bundled"
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def limits_for(self, engine: str, memory_gb: float, acc_id: str = "") -> EngineLimits:
        raw = self.engine_limits.get(engine) or self.engine_limits["other"]
        seqs, tokens = raw["max_seqs"], raw["max_batched_tokens"]
        large = raw.get("large_gpu")
        if large and memory_gb >= large["min_memory_gb"] and "a100" not in acc_id:
            seqs, tokens = large["max_seqs"], large["max_batched_tokens"]
        return EngineLimits(max_seqs=int(seqs), max_batched_tokens=int(tokens),
                            mem_fraction=float(raw["mem_fraction"]), workspace_bytes=float(raw["workspace_gb"]) * 1e9)

    def efficiency_for(self, acc: Accelerator, engine: str, *, mode: str = "calibrated",
                       memory_gb: float | None = None) -> Efficiency:
        mem_gb = memory_gb if memory_gb is not None else (acc.memory_gb or 0.0)
        key = (acc.id, acc.family, engine, mode, mem_gb)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        limits = self.limits_for(engine, mem_gb, acc.id)
        if mode == "roofline":
            eff = roofline(limits)
        elif mode != "calibrated":
            raise InvalidInput(f"unknown mode {mode!r}; expected 'calibrated' or 'roofline'", field="mode")
        else:
            fam = self.families.get(acc.family)
            eng = self.engines.get(engine) or self.engines.get("other") or {}
            base = fam if fam else self.defaults
            cf = float(eng.get("compute_factor", 1.0))
            mf = float(eng.get("memory_factor", 1.0))
            band = self.bands.get("overall", (0.75, 1.33))
            if fam:
                own = self.meta.get("cases_by_hardware", {}).get(acc.id)
                how = f"calibrated: family {acc.family} ({fam.get('n_cases', 0)} cases" + (
                    f", {own} on this chip)" if own else "; none on this chip: family values used)")
                eff_mode = "calibrated"
            else:
                how = f"family-default: no calibration cases for family {acc.family!r}; cross-family fit used"
                eff_mode = "family-default"
                band = (band[0] / _UNCALIBRATED_WIDEN, band[1] * _UNCALIBRATED_WIDEN)
            how += f", engine {engine} (compute x{cf:.2f}, memory x{mf:.2f}); fitted by {self.meta.get('script', '?')} " \
                   f"on {self.meta.get('cases_file', '?')}"
            eff = Efficiency(
                compute=min(_MAX_EFF, float(base["compute"]) * cf),
                memory=min(_MAX_EFF, float(base["memory"]) * mf),
                comm=float(self.defaults.get("comm", 0.7)),
                layer_overhead_s=float(eng.get("layer_overhead_us", self.defaults["layer_overhead_us"])) * 1e-6,
                step_overhead_s=float(eng.get("step_overhead_ms", self.defaults["step_overhead_ms"])) * 1e-3,
                request_overhead_s=float(eng.get("request_overhead_ms", self.defaults["request_overhead_ms"])) * 1e-3,
                expert_overhead_s=float(eng.get("expert_overhead_us", self.defaults["expert_overhead_us"])) * 1e-6,
                seq_overhead_s=float(eng.get("seq_overhead_us", self.defaults.get("seq_overhead_us", 0.0))) * 1e-6,
                limits=limits, mode=eff_mode, provenance=how, band=(float(band[0]), float(band[1])),
            )
        self._cache[key] = eff
        return eff


def _read_json(path: Path | Any, what: str) -> dict[str, Any]:
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{what} {path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a JSON object")
    return data


def _from_dicts(fit: Mapping[str, Any], engines: Mapping[str, Any], origin: str) -> Calibration:
    try:
        defaults = dict(fit["defaults"])
        for k in ("compute", "memory", "layer_overhead_us", "step_overhead_ms", "request_overhead_ms"):
            float(defaults[k])
        bands = {k: (float(v[0]), float(v[1])) for k, v in fit.get("bands", {}).items()}
        return Calibration(defaults=defaults, families=dict(fit.get("families", {})),
                           engines=dict(fit.get("engines", {})), bands=bands, meta=dict(fit.get("meta", {})),
                           engine_limits=dict(engines["engines"]), origin=origin)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ConfigError(f"calibration {origin}: missing or malformed field ({exc})") from None


@lru_cache(maxsize=1)
def _bundled() -> Calibration:
    root = resources.files("suanli").joinpath("data").joinpath("calibration")
    fit = _read_json(root.joinpath("efficiency.json"), "calibration")
    engines = _read_json(root.joinpath("engines.json"), "engine defaults")
    return _from_dicts(fit, engines, "bundled")


def load_calibration(path: str | os.PathLike[str] | None = None) -> Calibration:
    """The bundled calibration, or a user file with the same layout as
    ``data/calibration/efficiency.json`` (env ``SUANLI_CALIBRATION``)."""
    path = path or os.environ.get("SUANLI_CALIBRATION") or None
    if path is None:
        return _bundled()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"calibration file not found: {p}")
    root = resources.files("suanli").joinpath("data").joinpath("calibration")
    engines = _read_json(root.joinpath("engines.json"), "engine defaults")
    return _from_dicts(_read_json(p, "calibration"), engines, str(p))


def calibration_from_params(fit: Mapping[str, Any]) -> Calibration:
    """Build a calibration from an in-memory fit (used by the fitting script)."""
    root = resources.files("suanli").joinpath("data").joinpath("calibration")
    engines = _read_json(root.joinpath("engines.json"), "engine defaults")
    return _from_dicts(fit, engines, "in-memory")
