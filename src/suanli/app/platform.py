"""Platforms: an accelerator in its server, its kernel model and the engine
runtime -- everything fixed about *where* a model runs, resolved from the
catalogs, the kernel tables and the calibration file."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from suanli.app.calibration import Calibration, load_calibration
from suanli.perf import _kernel_stub as kern
from suanli.perf.hardware import HwParams, hw_params
from suanli.perf.opcost import Platform
from suanli.specs.accelerator import Accelerator
from suanli.specs.dtypes import DType
from suanli.specs.system import System

# accelerator family -> architecture name of the kernel model (nearest measured tables)
_ARCH = {"nvidia-hopper": "hopper", "nvidia-hopper-china": "hopper", "nvidia-blackwell": "blackwell",
         "nvidia-blackwell-pcie": "blackwell", "nvidia-ampere": "ampere", "nvidia-ada": "ada",
         "amd-cdna3": "cdna3", "amd-cdna4": "cdna4", "huawei-ascend": "ascend"}


def chip_physics(acc: Accelerator) -> Any:
    peaks = {d.value: acc.peak_flops(d) for d in (DType.BF16, DType.FP8, DType.INT8, DType.FP4)}
    try:
        link = acc.scaleup_bw_unidir
    except Exception:  # noqa: BLE001 - missing spec: the kernel model falls back to PCIe
        link = 32e9
    return kern.ChipPhysics(id=acc.id, arch=_ARCH.get(acc.family, acc.family or "unknown"),
                            peak_flops={k: float(v) for k, v in peaks.items() if v}, mem_bw=acc.mem_bw, link_bw=link)


@lru_cache(maxsize=512)
def kernel_model_for(acc: Accelerator, engine: str) -> Any:
    """The kernel model of ``acc`` for ``engine``'s kernels (cached; immutable)."""
    return kern.kernel_model(None, chip_physics(acc), engine)


def platform_for(acc: Accelerator, engine: str, system: System, *, mode: str = "calibrated",
                 calibration: Calibration | None = None) -> tuple[Platform, list[str]]:
    """The :class:`Platform` of ``acc`` in ``system`` served by ``engine``, and warnings."""
    cal = calibration or load_calibration()
    node = system.gpus if system.gpus and system.gpus >= 1 else None
    hw, warnings = _hw(acc, system.scaleout_bw, node)
    runtime = cal.runtime_for(engine, memory_gb=acc.memory_gb or 0.0, acc_id=acc.id, mode=mode)
    return Platform(hw=hw, kernels=kernel_model_for(acc, engine), runtime=runtime), list(warnings)


@lru_cache(maxsize=512)
def _hw(acc: Accelerator, scaleout_bw: float, node: int | None) -> tuple[HwParams, tuple[str, ...]]:
    hw, warnings = hw_params(acc, scaleout_bw=scaleout_bw, node_size=node)
    return hw, tuple(warnings)


__all__ = ["chip_physics", "kernel_model_for", "platform_for"]
