"""Validation of market records (pure: no database, no files, no clock).

Each record kind (quotes, leases, events, inventories) is a list of :class:`Field` s; one
raw row (``{column: text}``) becomes the dict of database values or the list of reasons it
is bad.  Text is stored verbatim (stripped of surrounding blanks): a value that looks like
SQL is data, the database layer only ever binds parameters.

Dates are ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` (stored as the first day of the period
with its precision) and may not lie after ``today`` (a period may not *start* after it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from suanli.market import schema as s

# accepted spellings of vocabulary values (lower-cased keys)
KIND_ALIASES: dict[str, tuple[str, str]] = {
    "cloud_on_demand": ("cloud", "on_demand"), "cloud_reserved": ("cloud", "reserved"),
    "cloud_spot": ("cloud", "spot"), "token-api": ("token_api", ""), "token api": ("token_api", ""),
    "tokenapi": ("token_api", ""), "gpu": ("chip", ""), "card": ("chip", ""),
}
CHANNEL_ALIASES = {"grey_market": "grey", "gray": "grey", "gray_market": "grey", "black_market": "grey",
                   "distributor": "dealer", "reseller": "dealer"}
LOW_CONFIDENCE_WORDS = ("rumour", "rumor", "unverified", "low reliability", "single-source",
                        "estimate", "expected", "approximate")


CACHE_MAX = 50_000   # parsed values of repetitive fields kept per import


@dataclass(frozen=True)
class Context:
    """What validation compares against: the date nothing may lie after (None: no check)
    and the currency codes the database knows."""

    today: date | None
    currencies: frozenset[str] = frozenset(s.CURRENCIES)
    # parse results of repetitive fields (dates, vocabularies), kept for one import
    cache: dict[tuple[str, str], tuple[bool, Any]] = field(default_factory=dict, compare=False, repr=False)


class Bad(ValueError):
    """One field's problem (message without the line number)."""


# --- field parsers --------------------------------------------------------------------------

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_date(text: str) -> tuple[date, str]:
    """``2025-07-14`` / ``2025-07`` / ``2025`` -> (first day of the period, precision)."""
    m = _DATE_RE.match(text.strip())
    if not m:
        raise Bad(f"date {text!r} is not YYYY-MM-DD, YYYY-MM or YYYY")
    y, mo, d = m.groups()
    try:
        if d is not None:
            return date(int(y), int(mo), int(d)), "day"
        if mo is not None:
            return date(int(y), int(mo), 1), "month"
        return date(int(y), 1, 1), "year"
    except ValueError:
        raise Bad(f"date {text!r} does not exist") from None


def format_date(d: date, precision: str = "day") -> str:
    if precision == "year":
        return f"{d.year:04d}"
    if precision == "month":
        return f"{d.year:04d}-{d.month:02d}"
    return d.isoformat()


def _date_value(name: str, text: str, ctx: Context) -> tuple[date, str]:
    d, precision = parse_date(text)
    if d.year < 1990:
        raise Bad(f"{name} {text!r} is before 1990")
    if ctx.today is not None and d > ctx.today:
        raise Bad(f"{name} {text!r} is in the future (today is {ctx.today.isoformat()})")
    return d, precision


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Bad(f"{name} {text!r} is not a number (digits and '.' only, no thousands separators)") from None
    if not math.isfinite(value):
        raise Bad(f"{name} {text!r} is not a finite number")
    return value


def _positive(name: str, text: str) -> float:
    value = _number(name, text)
    if value <= 0:
        raise Bad(f"{name} must be > 0, got {text!r}")
    return value


def _int(name: str, text: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            f = math.nan
        if not f.is_integer():
            raise Bad(f"{name} {text!r} is not a whole number") from None
        value = int(f)
    if value < minimum:
        raise Bad(f"{name} must be >= {minimum}, got {text!r}")
    return value


def _text(name: str, text: str, limit: int) -> str:
    if len(text) > limit:
        raise Bad(f"{name} is {len(text)} characters long (at most {limit})")
    if "\x00" in text:
        raise Bad(f"{name} contains a NUL character")
    return text


def _choice(name: str, text: str, allowed: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> str:
    key = text.strip().lower().replace("-", "_").replace(" ", "_")
    if aliases and key in aliases:
        key = aliases[key]
    if key not in allowed:
        raise Bad(f"unknown {name} {text!r} (one of: {', '.join(a for a in allowed if a)})")
    return key


def _currency(text: str, ctx: Context) -> str:
    code = text.strip().upper()
    if code not in ctx.currencies:
        raise Bad(f"unknown currency {text!r} (known: {', '.join(sorted(ctx.currencies))})")
    return code


# --- derived values -------------------------------------------------------------------------

_SUFFIX_RE = re.compile(r"\s+(server|servers|module|modules|card|cards|node|nodes|system|api)$", re.I)
_PAREN_RE = re.compile(r"\s*\([^)]*\)")
_GPUS_RE = re.compile(r"(?<![\w.])(\d{1,4})\s*(?:x\b|×|-?\s*(?:gpu|card|chip)s?\b|卡)", re.I)


@lru_cache(maxsize=4096)
def chip_of(item: str) -> str:
    """The chip an item is about: ``H20 server`` -> ``H20``, ``RTX Pro 6000D (B40)`` ->
    ``RTX Pro 6000D``."""
    name = _PAREN_RE.sub("", item).strip()
    name = _SUFFIX_RE.sub("", name).strip()
    return name or item.strip()


@lru_cache(maxsize=4096)
def gpus_in(text: str) -> int | None:
    """GPUs per unit stated in a configuration text (``8x H100``, ``8-GPU module``,
    ``8-card``, ``384x 910C``), or None."""
    m = _GPUS_RE.search(text)
    return int(m.group(1)) if m else None


def confidence_from_notes(notes: str) -> str:
    lowered = notes.lower()
    return "low" if any(w in lowered for w in LOW_CONFIDENCE_WORDS) else "medium"


# --- record kinds ---------------------------------------------------------------------------

Parser = Callable[[str, Context], Any]


@dataclass(frozen=True)
class Field:
    name: str
    parse: Parser
    required: bool = False
    aliases: tuple[str, ...] = ()
    cached: bool = False  # the parse of a text is the same for every row: memoise it


def _t(limit: int) -> Callable[[str], Parser]:
    return lambda name: (lambda text, ctx: _text(name, text, limit))


def _fields(*specs: Field) -> dict[str, Field]:
    return {f.name: f for f in specs}


_src = Field("source", _t(s.SOURCE_LEN)("source"), required=True, aliases=("source_url", "url"))
_conf = Field("confidence", lambda t, c: _choice("confidence", t, s.CONFIDENCE), cached=True)
_notes = Field("notes", _t(4000)("notes"))
_region = Field("region", _t(s.REGION_LEN)("region"))
_item = Field("item", _t(s.ITEM_LEN)("item"), required=True)
_chip = Field("chip", _t(s.ITEM_LEN)("chip"))
_config = Field("configuration", _t(s.CONFIG_LEN)("configuration"), aliases=("config",))
_price = Field("price", lambda t, c: _positive("price", t), required=True)
_currency_f = Field("currency", _currency, required=True, cached=True)
_channel = Field("channel", lambda t, c: _choice("channel", t, s.CHANNELS, CHANNEL_ALIASES), required=True,
                 cached=True)
_gpus = Field("gpus", lambda t, c: _int("gpus", t, minimum=1), aliases=("gpus_per_unit",))
_date_f = Field("date", lambda t, c: _date_value("date", t, c), required=True, cached=True)

QUOTE_FIELDS = _fields(
    _date_f, _item, _chip,
    Field("kind", lambda t, c: t.strip(), required=True, aliases=("item_kind",), cached=True),
    Field("term", lambda t, c: _choice("term", t, s.TERMS), cached=True),
    _config, _gpus, _price, _currency_f,
    Field("unit", lambda t, c: _choice("unit", t, s.UNITS), required=True, cached=True),
    _channel, _region, _src, _conf, _notes,
)
LEASE_FIELDS = _fields(
    _date_f, _item, _chip, _config, _gpus,
    Field("units", lambda t, c: _int("units", t, minimum=1)),
    Field("term_months", lambda t, c: _int("term_months", t, minimum=0)),
    Field("start_date", lambda t, c: parse_date(t)),
    _price, _currency_f,
    Field("unit", lambda t, c: _choice("unit", t, s.LEASE_UNITS), required=True),
    _channel, _region,
    Field("lessor", _t(s.NAME_LEN)("lessor")), Field("lessee", _t(s.NAME_LEN)("lessee")),
    _src, _conf, _notes,
)
EVENT_FIELDS = _fields(
    _date_f,
    Field("kind", lambda t, c: _choice("kind", t, s.EVENT_KINDS), required=True),
    Field("description", _t(s.DESCRIPTION_LEN)("description"), required=True, aliases=("event",)),
    Field("chips", lambda t, c: _chips(t)),
    Field("impact", _t(4000)("impact")), _region, _src, _conf,
)
INVENTORY_FIELDS = _fields(
    Field("owner", _t(s.NAME_LEN)("owner"), required=True), _item, _chip,
    Field("kind", lambda t, c: _choice("kind", t, s.INVENTORY_KINDS), aliases=("item_kind",)),
    _config, _gpus,
    Field("quantity", lambda t, c: _int("quantity", t, minimum=1), required=True),
    Field("unit_cost", lambda t, c: _nonnegative("unit_cost", t), required=True),
    _currency_f,
    Field("acquisition_date", lambda t, c: _date_value("acquisition_date", t, c)[0], required=True),
    Field("financing", lambda t, c: _choice("financing", t, s.FINANCING)),
    Field("financing_rate", lambda t, c: _rate(t)),
    Field("location", _t(s.NAME_LEN)("location")),
    Field("source", _t(s.SOURCE_LEN)("source")), _notes,
)
FIELDS: dict[str, dict[str, Field]] = {
    "quotes": QUOTE_FIELDS, "leases": LEASE_FIELDS, "events": EVENT_FIELDS, "inventories": INVENTORY_FIELDS,
}
IMPORT_KINDS = tuple(FIELDS)


def _nonnegative(name: str, text: str) -> float:
    value = _number(name, text)
    if value < 0:
        raise Bad(f"{name} must be >= 0, got {text!r}")
    return value


def _rate(text: str) -> float:
    value = _number("financing_rate", text.rstrip("%"))
    if text.strip().endswith("%") or value >= 1:
        value /= 100.0
    if not 0 <= value < 1:
        raise Bad(f"financing_rate {text!r} out of range (annual, e.g. 0.06 or 6%)")
    return value


def _chips(text: str) -> tuple[str, ...]:
    chips = tuple(dict.fromkeys(c.strip() for c in re.split(r"[;,]", text) if c.strip()))
    for c in chips:
        _text("chip", c, s.ITEM_LEN)
    return chips


def column_map(kind: str, header: list[str]) -> tuple[dict[str, str], list[str]]:
    """``{column in file: field name}`` and the problems of a header (unknown, duplicated or
    missing required columns)."""
    fields = FIELDS[kind]
    by_alias = {a: f.name for f in fields.values() for a in (f.name, *f.aliases)}
    mapping: dict[str, str] = {}
    problems: list[str] = []
    for col in header:
        key = col.strip().lower()
        target = by_alias.get(key)
        if target is None:
            problems.append(f"unknown column {col!r} for {kind} (expected: {', '.join(fields)})")
        elif target in mapping.values():
            problems.append(f"column {col!r} given twice (as {target})")
        else:
            mapping[col] = target
    missing = [f.name for f in fields.values() if f.required and f.name not in mapping.values()]
    if missing:
        problems.append(f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} for {kind}")
    return mapping, problems


def guess_kind(columns: list[str]) -> str:
    """The record kind a file's columns suggest (``--kind`` overrides it)."""
    cols = {c.strip().lower() for c in columns}
    if "owner" in cols or "unit_cost" in cols:
        return "inventories"
    if cols & {"description", "event", "impact"}:
        return "events"
    if cols & {"term_months", "lessor", "lessee", "units"}:
        return "leases"
    return "quotes"


def field_plan(kind: str, present: Iterable[str]) -> tuple[tuple[str, Field], ...]:
    """The fields :func:`validate` must look at for rows with the keys ``present`` (a CSV
    file's columns): those present and the required ones."""
    keys = set(present)
    return tuple((n, f) for n, f in FIELDS[kind].items() if n in keys or f.required)


def validate(kind: str, raw: Mapping[str, Any], ctx: Context,
             plan: tuple[tuple[str, Field], ...] | None = None) -> tuple[dict[str, Any] | None, list[str]]:
    """One row (field name -> text or value) -> (database values, []) or (None, reasons).
    ``plan`` (:func:`field_plan`) skips the fields no row of the file has."""
    values: dict[str, Any] = {}
    reasons: list[str] = []
    cache = ctx.cache
    for name, f in plan if plan is not None else FIELDS[kind].items():
        v = raw.get(name)
        text = "" if v is None else (v if type(v) is str else _jsonish(v)).strip()
        if not text:
            if f.required:
                reasons.append(f"{name} is missing")
            continue
        if f.cached:
            hit = cache.get((name, text))
            if hit is None:
                try:
                    hit = (True, f.parse(text, ctx))
                except Bad as exc:
                    hit = (False, str(exc))
                if len(cache) < CACHE_MAX:  # a file of ever-new values must not grow it without bound
                    cache[(name, text)] = hit
            if hit[0]:
                values[name] = hit[1]
            else:
                reasons.append(hit[1])
            continue
        try:
            values[name] = f.parse(text, ctx)
        except Bad as exc:
            reasons.append(str(exc))
    if reasons:
        return None, reasons
    try:
        return _FINISH[kind](values), []
    except Bad as exc:
        return None, [str(exc)]


def _jsonish(v: Any) -> str:
    if isinstance(v, bool):
        raise Bad(f"unexpected true/false value {v!r}")
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return ";".join(str(x) for x in v)
    raise Bad(f"unexpected value {v!r}")


def _dated(values: dict[str, Any]) -> dict[str, Any]:
    d, precision = values.pop("date")
    values["date"], values["date_precision"] = d, precision
    return values


@lru_cache(maxsize=256)
def _quote_kind(raw_kind: str) -> tuple[str, str]:
    key = raw_kind.lower().replace("-", "_").replace(" ", "_")
    kind, term = KIND_ALIASES.get(raw_kind.lower(), KIND_ALIASES.get(key, (key, "")))
    if kind not in s.QUOTE_KINDS:
        raise Bad(f"unknown kind {raw_kind!r} (one of: {', '.join(s.QUOTE_KINDS)})")
    return kind, term


def _finish_quote(v: dict[str, Any]) -> dict[str, Any]:
    kind, term = _quote_kind(v.pop("kind"))
    v["kind"], v["term"] = kind, v.get("term") or term
    if v["unit"] not in s.KIND_UNITS[kind]:
        raise Bad(f"unit {v['unit']!r} does not fit kind {kind!r} (use {' or '.join(s.KIND_UNITS[kind])})")
    if kind == "token_api":
        v.setdefault("chip", None)
    else:
        v.setdefault("chip", chip_of(v["item"]))
    if "gpus" not in v and kind in ("server", "module", "lease", "cloud"):
        v["gpus"] = gpus_in(v.get("configuration", ""))
    v.setdefault("confidence", "medium")
    return _defaults(_dated(v), ("configuration", "region", "notes", "term"), gpus=None)


def _finish_lease(v: dict[str, Any]) -> dict[str, Any]:
    v.setdefault("chip", chip_of(v["item"]))
    if "gpus" not in v:
        v["gpus"] = gpus_in(v.get("configuration", ""))
    if "start_date" in v:
        v["start_date"] = v["start_date"][0]
    v.setdefault("confidence", "medium")
    v.setdefault("units", 1)
    v.setdefault("term_months", 0)
    return _defaults(_dated(v), ("configuration", "region", "lessor", "lessee", "notes"), gpus=None,
                     start_date=None)


def _finish_event(v: dict[str, Any]) -> dict[str, Any]:
    v.setdefault("chips", ())
    v.setdefault("confidence", "medium")
    return _defaults(_dated(v), ("impact", "region"))


def _finish_inventory(v: dict[str, Any]) -> dict[str, Any]:
    v.setdefault("chip", chip_of(v["item"]))
    kind = v.setdefault("kind", "chip")
    if "gpus" not in v:
        v["gpus"] = (gpus_in(v.get("configuration", "")) or 8) if kind in ("server", "module") else 1
    v.setdefault("financing", "cash")  # financing_rate may go with cash: the owner's cost of capital
    return _defaults(v, ("configuration", "location", "source", "notes"), financing_rate=None)


@lru_cache(maxsize=64)
def _default_map(texts: tuple[str, ...], others: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return {**dict.fromkeys(texts, ""), **dict(others)}


def _defaults(v: dict[str, Any], texts: tuple[str, ...], **others: Any) -> dict[str, Any]:
    """``v`` with ``""`` for absent ``texts`` and the given values for absent ``others``."""
    return {**_default_map(texts, tuple(others.items())), **v}


_FINISH: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "quotes": _finish_quote, "leases": _finish_lease, "events": _finish_event,
    "inventories": _finish_inventory,
}
