"""What every router shares: catalogs, bundled-only name resolution, chip labels in English
and Chinese, optional modules, and the bounds of API parameters.

The web never lets a request name a file: models are bundled ids only (``load_model``
would also read a path), length distributions exclude ``file:``, user hardware files and
traces are not exposed.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

from starlette.convertors import StringConvertor, register_url_convertor

from suanli.app.limits import MAX_CONCURRENCY, MAX_GPUS, MAX_MS, MAX_RATE, MAX_TOKENS  # noqa: F401  (shared with the CLI)
from suanli.errors import InvalidInput, UnknownModel
from suanli.specs import names
from suanli.specs.accelerator import Accelerator, HardwareCatalog, load_hardware
from suanli.specs.model import bundled_model_ids

# Interface limits (documented in the OpenAPI schema): well beyond any real workload, small
# enough that no request can make the server allocate without bound.
MAX_SIM_REQUESTS = 20_000     # a simulation the server runs inline (~1 s)
MAX_SIM_DURATION_S = 3600.0
MAX_CHIPS = 64

# The compare page's default workload (also what the browser test times).
DEFAULT_WORKLOAD: dict[str, Any] = {"model": "Qwen/Qwen3-32B", "isl": 2048.0, "osl": 512.0, "ttft_ms": 2000.0,
                                    "tpot_ms": 50.0}

_DIST = re.compile(r"^(fixed|uniform:\d{1,7}:\d{1,7}|lognormal(:\d{1,3}(\.\d{1,6})?)?)$")


def catalog() -> HardwareCatalog:
    return load_hardware()


def resolve_model(name: str) -> str:
    """A bundled model id (``Qwen/Qwen3-32B``, ``qwen3-32b``) -> its canonical id, else the id
    of a model in the server's ``SUANLI_MODELS_PATH`` or local Hugging Face cache; never a
    path (a request must not make the server read files it names)."""
    ids = bundled_model_ids()
    key = _norm(name)
    if name in ids:
        return name
    for mid in ids:
        if _norm(mid) == key:
            return mid
    short = [mid for mid in ids if _norm(mid.split("/", 1)[1]) == key]
    if len(short) == 1:
        return short[0]
    if not any(sep in name for sep in ("\\", "..")) and not name.startswith(("/", "~", ".")):
        from suanli.specs.model_files import find_local_config

        found = find_local_config(name)
        if found is not None:
            return found.model_id
    raise UnknownModel(f"unknown model {name!r}; bundled models: {', '.join(ids)} (or a model id in the server's "
                       f"SUANLI_MODELS_PATH or Hugging Face cache)", field="model")


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def check_dist(spec: str, field: str) -> str:
    if not _DIST.match(spec):
        raise InvalidInput(f"{field} {spec!r}: expected fixed, uniform:LO:HI or lognormal[:SIGMA] "
                           "(file: distributions are CLI-only)", field=field)
    return spec


def split_list(values: list[str] | None) -> list[str] | None:
    """``?hardware=a&hardware=b`` and ``?hardware=a,b`` alike; None when empty."""
    out = [v.strip() for item in values or [] for v in item.split(",") if v.strip()]
    if len(out) > MAX_CHIPS:
        raise InvalidInput(f"at most {MAX_CHIPS} chips per request, got {len(out)}", field="hardware")
    return list(dict.fromkeys(out)) or None


# --- Chinese names ---------------------------------------------------------------------------

def zh_names() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(by accelerator id, by vendor) -> {name_zh, source, note} (:mod:`suanli.specs.names`)."""
    return names.zh_names()


def chip_label(acc: Accelerator) -> dict[str, Any]:
    """English and (where known) Chinese names of a chip, with the source of the Chinese one."""
    return names.chip_label(acc)


def labels(cat: HardwareCatalog | None = None) -> dict[str, dict[str, Any]]:
    cat = cat or catalog()
    return {acc.id: chip_label(acc) for acc in cat}


def accelerator_dict(acc: Accelerator) -> dict[str, Any]:
    """Every catalog field of a chip (units in the names) plus its labels and flags."""
    fields = ("id", "vendor", "name", "family", "status", "memory_gb", "memory_type", "mem_bw_gbs", "fp32_tflops",
              "tf32_tflops", "bf16_tflops", "fp8_tflops", "int8_tops", "fp4_tflops", "scaleup_link",
              "scaleup_bw_gbs_bidir", "scaleup_domain", "pcie_gen", "tdp_w", "form_factor", "launch",
              "china_export_status", "china_buyable", "notes", "origin")
    d: dict[str, Any] = {f: getattr(acc, f) for f in fields}
    d["aliases"] = list(acc.aliases)
    d["source_urls"] = list(acc.source_urls)
    d["assumed"] = dict(acc.assumed)
    d["unverified"] = acc.unverified
    d["flags"] = acc.flags()
    label = chip_label(acc)
    d["name_zh"], d["name_zh_source"] = label["name_zh"], label["name_zh_source"]
    return d


# --- ids in paths -----------------------------------------------------------------------------

class _Id(StringConvertor):
    """``{name:id}``: a path segment naming a stored thing, any segment but ``import``, so that
    ``/api/runs/import`` and ``/api/profiles/import`` (POST endpoints beside ``GET``/``DELETE
    .../{id}``) answer other methods with 405 instead of "no run/profile named import"."""

    regex = r"(?!import(?:/|$))[^/]+"


register_url_convertor("id", _Id())


# --- optional modules (built concurrently by other parts of the project) ----------------------

def optional(module: str) -> ModuleType | None:
    """The module if it is installed and imports cleanly, else None."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
