"""Platforms: an accelerator in its server, its kernel model and the engine
runtime -- everything fixed about *where* a model runs, resolved from the
catalogs, the kernel tables and the calibration file."""

from __future__ import annotations

from functools import lru_cache
from suanli.app.calibration import Calibration, load_calibration, runtime_key
from suanli.perf.kernels import ChipPhysics, KernelModel, kernel_model
from suanli.perf.hardware import HwParams, hw_params
from suanli.perf.opcost import Platform
from suanli.specs.accelerator import Accelerator
from suanli.specs.kernels import load_kernel_tables, physics_fields
from suanli.specs.system import System

def chip_physics(acc: Accelerator) -> ChipPhysics:
    """What the kernel model needs to know about ``acc`` (peaks, bandwidth, SMs, clock, link)."""
    return ChipPhysics(**physics_fields(acc))


@lru_cache(maxsize=512)
def kernel_model_for(acc: Accelerator, engine: str) -> KernelModel:
    """The kernel model of ``acc`` for ``engine``'s kernels (cached; immutable)."""
    return kernel_model(load_kernel_tables(), chip_physics(acc), engine)


def platform_for(acc: Accelerator, engine: str, system: System, *, mode: str = "calibrated",
                 calibration: Calibration | None = None, family: str | None = None,
                 model: str | None = None) -> tuple[Platform, list[str]]:
    """The :class:`Platform` of ``acc`` in ``system`` served by ``engine``, and warnings.
    With a user's profile in ``calibration``, its correction for this chip x engine (x model
    ``family``) scales the op kinds and runtime costs (:mod:`suanli.perf.correction`)."""
    cal = calibration or load_calibration()
    node = system.gpus if system.gpus and system.gpus >= 1 else None
    hw, warnings = _hw(acc, system.scaleout_bw, node)
    key = runtime_key(engine, acc.vendor)
    runtime = cal.runtime_for(key, memory_gb=acc.memory_gb or 0.0, acc_id=acc.id, mode=mode)
    corr = cal.correction_for(acc.id, key, family, model) if mode == "calibrated" else None
    if corr is None:
        return Platform(hw=hw, kernels=kernel_model_for(acc, engine), runtime=runtime), list(warnings)
    return (Platform(hw=hw, kernels=kernel_model_for(acc, engine), runtime=corr.apply_runtime(runtime),
                     op_scale=corr.op_scales()), list(warnings))


@lru_cache(maxsize=512)
def _hw(acc: Accelerator, scaleout_bw: float, node: int | None) -> tuple[HwParams, tuple[str, ...]]:
    hw, warnings = hw_params(acc, scaleout_bw=scaleout_bw, node_size=node)
    return hw, tuple(warnings)


__all__ = ["chip_physics", "kernel_model_for", "platform_for"]
