"""suanli (算力): what an AI accelerator is really worth to you.

The small typed public API; everything else is implementation detail.

    >>> import suanli
    >>> p = suanli.predict("Qwen/Qwen3-32B", "H20", isl=2048, osl=512, concurrency=16)
    >>> p.tpot_ms, p.output_tok_s_per_gpu, p.mode

Result objects are frozen dataclasses with ``to_dict()``, so a list of them
becomes a DataFrame with ``pandas.DataFrame([r.to_dict() for r in results])``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "predict", "validate", "load_model", "load_hardware", "load_systems", "load_calibration",
    "Prediction", "ValidationReport", "ModelSpec", "Accelerator", "System", "DType", "errors",
]

_LAZY = {
    "predict": ("suanli.app.predict", "predict"),
    "Prediction": ("suanli.app.predict", "Prediction"),
    "validate": ("suanli.app.validate", "validate"),
    "ValidationReport": ("suanli.app.validate", "ValidationReport"),
    "load_model": ("suanli.specs.model", "load_model"),
    "ModelSpec": ("suanli.specs.model", "ModelSpec"),
    "load_hardware": ("suanli.specs.accelerator", "load_hardware"),
    "Accelerator": ("suanli.specs.accelerator", "Accelerator"),
    "load_systems": ("suanli.specs.system", "load_systems"),
    "System": ("suanli.specs.system", "System"),
    "load_calibration": ("suanli.app.calibration", "load_calibration"),
    "DType": ("suanli.specs.dtypes", "DType"),
}

if TYPE_CHECKING:  # pragma: no cover
    from suanli import errors
    from suanli.app.calibration import load_calibration
    from suanli.app.predict import Prediction, predict
    from suanli.app.validate import ValidationReport, validate
    from suanli.specs.accelerator import Accelerator, load_hardware
    from suanli.specs.dtypes import DType
    from suanli.specs.model import ModelSpec, load_model
    from suanli.specs.system import System, load_systems


def __getattr__(name: str) -> Any:
    """Import on first use so ``import suanli`` stays cheap (CLI start-up)."""
    if name == "errors":
        import suanli.errors as errors_mod
        return errors_mod
    if name in _LAZY:
        import importlib
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(mod), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'suanli' has no attribute {name!r}")
