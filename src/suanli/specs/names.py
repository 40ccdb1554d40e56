"""Human names of chips in English and Chinese (``suanli/data/hardware/names_zh.csv``).

``kind=id`` rows name one accelerator; ``kind=vendor`` rows give the vendor's Chinese brand,
used as a prefix for chips without their own row.  Every row names its source.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from importlib.resources import files
from typing import Any

from suanli.specs.accelerator import Accelerator, HardwareCatalog


@functools.lru_cache(maxsize=1)
def zh_names() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(by accelerator id, by vendor) -> {name_zh, source, note}."""
    text = (files("suanli") / "data" / "hardware" / "names_zh.csv").read_text(encoding="utf-8")
    by_id: dict[str, dict[str, str]] = {}
    by_vendor: dict[str, dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        entry = {"name_zh": row["name_zh"], "source": row["source"], "note": row.get("note", "")}
        (by_id if row["kind"] == "id" else by_vendor)[row["match"]] = entry
    return by_id, by_vendor


def chip_label(acc: Accelerator) -> dict[str, Any]:
    """English and (where known) Chinese names of a chip, with the source of the Chinese one."""
    by_id, by_vendor = zh_names()
    zh = by_id.get(acc.id)
    vendor = by_vendor.get(acc.vendor)
    name_zh, source = None, None
    if zh:
        name_zh, source = zh["name_zh"], zh["source"]
    elif vendor:
        short = acc.name.split(" (")[0]
        name_zh, source = f"{vendor['name_zh']} {short}", vendor["source"]
    return {"id": acc.id, "name": acc.name, "vendor": acc.vendor, "name_zh": name_zh, "name_zh_source": source,
            "unverified": acc.unverified, "status": acc.status}


_MEMORY = re.compile(r"\b(\d+\s?GB)\b")


def short_name(acc: Accelerator) -> str:
    """The English name without its parenthetical, keeping a memory size from it (``H20 141GB``)."""
    base, _, rest = acc.name.partition(" (")
    m = _MEMORY.search(rest)
    return f"{base} {m.group(1)}" if m and m.group(1) not in base else base


def display_name(acc: Accelerator) -> str:
    """``'H20 141GB · 英伟达 H20 141GB'``: the short English name and the Chinese one where known."""
    zh = chip_label(acc)["name_zh"]
    en = short_name(acc)
    return en + (f" · {zh}" if zh and zh != en else "")


def labels(catalog: HardwareCatalog) -> dict[str, dict[str, Any]]:
    return {acc.id: chip_label(acc) for acc in catalog}


__all__ = ["chip_label", "display_name", "labels", "short_name", "zh_names"]
