"""What could be obtained in China, when: a per-chip timeline of dated, sourced events and the
state it implies at a date.

Bundled data: ``suanli/data/market/availability.csv`` -- ``chip,date,effect,event,source_url,
rumoured,assumed,note``; every row points to an event of ``events.csv`` / ``events-research.csv`` (same
date and source) or, for a launch, to the chip's catalog source.  ``effect`` is one of

* ``open`` -- sold through official channels (OEMs, authorised distributors, Huawei);
* ``restricted`` -- legal to buy but conditioned or discouraged (case-by-case licences, named
  buyers only, Chinese guidance against buying): obtainable, with the condition shown;
* ``grey`` -- not exportable to China: only grey-market supply (not obtainable by default);
* ``none`` -- not on sale;
* ``caveat`` / ``note`` -- no change of state: a levy, a guidance, a production halt, a subsidy.

The latest state row dated at or before the date decides (``reason``); caveats and notes
dated at or before it are listed with it.  A chip without rows falls back on the catalog:
``china_buyable`` (with the overlay's reason) from its launch date, else ``grey`` (or ``none``
for rumoured / announced parts).
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import asdict, dataclass
from datetime import date as _date
from importlib.resources import files
from typing import Any

from suanli.econ.money import check_date, date_key
from suanli.errors import ConfigError, SuanliError
from suanli.specs.accelerator import Accelerator

STATE_EFFECTS = {"open": "official", "restricted": "restricted", "grey": "grey", "none": "none"}
FLAG_EFFECTS = ("caveat", "note")
OBTAINABLE = ("official", "restricted")
_LAUNCH = re.compile(r"\b(\d{4}(?:-\d{2}(?:-\d{2})?)?)\b")
_DOMESTIC_VENDORS = ("huawei", "cambricon", "hygon", "kunlunxin", "alibaba", "moore", "metax", "biren", "enflame",
                     "iluvatar")


@dataclass(frozen=True)
class Entry:
    """One dated statement about a chip's availability in China."""

    chip: str
    date: str            # YYYY, YYYY-MM, YYYY-MM-DD, or "" (undated: always in force)
    effect: str          # open | restricted | grey | none | caveat | note
    event: str
    source: str
    assumed: bool = False
    note: str = ""
    rumoured: bool = False   # the source is a broker note, an unattributed or single-source report

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        when = self.date or "undated"
        return f"{when}: {self.event}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Availability:
    """The state of ``chip`` in China at ``as_of`` and the entry that decides it."""

    chip: str
    as_of: str
    state: str                     # official | restricted | grey | none
    obtainable: bool
    reason: Entry | None
    caveats: tuple[Entry, ...] = ()

    def reason_text(self) -> str:
        if self.reason is None:
            return f"no availability statement for {self.chip}"
        label = {"official": "obtainable", "restricted": "obtainable with conditions",
                 "grey": "grey market only", "none": "not on sale"}[self.state]
        if not self.reason.date:
            return f"{label} (undated: {self.reason.event}" + (f"; {self.reason.note})" if self.reason.note else ")")
        return f"{label} since {self.reason.text()}"

    def to_dict(self) -> dict[str, Any]:
        return {"chip": self.chip, "as_of": self.as_of, "state": self.state, "obtainable": self.obtainable,
                "reason": self.reason.to_dict() if self.reason else None, "reason_text": self.reason_text(),
                "caveats": [c.to_dict() for c in self.caveats]}


@functools.lru_cache(maxsize=1)
def _rows() -> dict[str, tuple[Entry, ...]]:
    text = (files("suanli") / "data" / "market" / "availability.csv").read_text(encoding="utf-8")
    out: dict[str, list[Entry]] = {}
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        r = {k: (v or "").strip() for k, v in row.items()}
        where = f"availability.csv line {reader.line_num}"
        if r["effect"] not in STATE_EFFECTS and r["effect"] not in FLAG_EFFECTS:
            raise ConfigError(f"{where}: unknown effect {r['effect']!r}", field="effect")
        if r["date"]:
            try:
                date_key(r["date"])
            except SuanliError as exc:
                raise ConfigError(f"{where}: {exc}", field="date") from None
        if not r["source_url"]:
            raise ConfigError(f"{where}: no source", field="source_url")
        out.setdefault(r["chip"], []).append(Entry(r["chip"], r["date"], r["effect"], r["event"], r["source_url"],
                                                   r["assumed"].lower() == "true", r["note"],
                                                   r.get("rumoured", "").lower() == "true"))
    return {k: tuple(sorted(v, key=_order)) for k, v in out.items()}


def _order(e: Entry) -> tuple[int, int, int]:
    return date_key(e.date) if e.date else (0, 0, 0)


def is_domestic(acc: Accelerator) -> bool:
    vendor = acc.vendor.lower()
    return any(v in vendor for v in _DOMESTIC_VENDORS)


def _fallback(acc: Accelerator) -> tuple[Entry, ...]:
    """From the catalog: china_buyable from the launch date, else grey / none."""
    src = f"accelerators.csv {acc.id}" + (f": {acc.source_urls[0]}" if acc.source_urls else "")
    m = _LAUNCH.search(acc.launch or "")
    when = ""
    if m:
        try:
            date_key(m.group(1))
            when = m.group(1)
        except SuanliError:
            when = ""
    if acc.china_buyable:
        what = "domestic chip on sale" if is_domestic(acc) else "sold in China per the catalog"
        return (Entry(acc.id, when, "open", f"{acc.name}: {what} (catalog launch {acc.launch or 'not stated'})", src,
                      assumed=not when, note=acc.china_export_status[:160]),)
    if acc.unverified or (acc.status or "").lower() in ("announced", "rumoured", "rumored"):
        return (Entry(acc.id, "", "none", f"{acc.name}: {acc.status or 'not launched'}, not on sale", src),)
    return (Entry(acc.id, "", "grey", f"{acc.name}: not exportable to China per the catalog",
                  src, note=acc.china_export_status[:160]),)


def timeline(acc: Accelerator) -> tuple[Entry, ...]:
    """Every dated statement about ``acc`` (bundled rows, else the catalog fallback), oldest first."""
    return _rows().get(acc.id) or _fallback(acc)


def resolve_as_of(as_of: str | None) -> str:
    """A validated ``--as-of`` date, or today."""
    if not as_of:
        return _date.today().isoformat()
    return check_date(as_of, what="--as-of", field="as_of")


def status(acc: Accelerator, as_of: str, *, include_grey: bool = False) -> Availability:
    """The state of ``acc`` at ``as_of``; ``include_grey`` counts grey-market supply as obtainable."""
    key = date_key(as_of)
    entries = [e for e in timeline(acc) if not e.date or date_key(e.date) <= key]
    states = [e for e in entries if e.effect in STATE_EFFECTS]
    if not states:
        upcoming = [e for e in timeline(acc) if e.effect in STATE_EFFECTS]
        reason = Entry(acc.id, "", "none", f"not yet on sale in China at {as_of}" +
                       (f" (first statement: {upcoming[0].text()})" if upcoming else ""),
                       upcoming[0].source if upcoming else f"accelerators.csv {acc.id}")
        return Availability(acc.id, as_of, "none", False, reason, ())
    reason = states[-1]
    state = STATE_EFFECTS[reason.effect]
    caveats = tuple(e for e in entries if e.effect in FLAG_EFFECTS)
    ok = state in OBTAINABLE or (include_grey and state == "grey")
    return Availability(acc.id, as_of, state, ok, reason, caveats)


def obtainability(chips: list[str], as_of: str | None, *, include_grey: bool = False,
                  hardware_files: list[str] | tuple[str, ...] = ()) -> tuple[str, dict[str, Availability]]:
    """(the date, {chip: its availability}) for chips of a comparison (unknown ids are skipped)."""
    from suanli.specs.accelerator import load_hardware

    day = resolve_as_of(as_of)
    catalog = load_hardware(list(hardware_files) or None)
    out = {}
    for chip in chips:
        try:
            out[chip] = status(catalog.get(chip), day, include_grey=include_grey)
        except SuanliError:
            continue
    return day, out


__all__ = ["Availability", "obtainability", "Entry", "OBTAINABLE", "is_domestic", "resolve_as_of", "status", "timeline"]
