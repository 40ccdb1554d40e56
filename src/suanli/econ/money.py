"""Money with currency and date, and a dated, sourced FX table.

A :class:`Money` is an amount in ``CNY`` or ``USD`` observed at a date
(``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; a year or month stands for its first day
when dates are ordered).  Arithmetic between two currencies raises
:class:`CurrencyMismatch` -- conversions are always explicit, through an
:class:`FxTable` whose rows carry a date and a source, so every converted number can
be traced to the rate used.

``FxTable.quote(base, quote, on)`` picks the latest row for the pair (or its inverse)
dated at or before ``on``; there is no extrapolation backwards: a date before the
first row is an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date as _date
from typing import Any, Iterable

from suanli.errors import InvalidInput

CURRENCIES = ("CNY", "USD")
_ALIASES = {"RMB": "CNY", "CNY": "CNY", "USD": "USD", "US$": "USD", "$": "USD", "¥": "CNY", "YUAN": "CNY"}
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_SUFFIX = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "万": 1e4, "亿": 1e8}


class CurrencyMismatch(InvalidInput):
    """Arithmetic or comparison between amounts in different currencies."""

    code = "currency_mismatch"


class FxUnavailable(InvalidInput):
    """No FX rate for the pair at or before the requested date."""

    code = "fx_unavailable"


def check_currency(text: str, *, field: str = "currency") -> str:
    """``'cny'``, ``'RMB'``, ``'¥'`` -> ``'CNY'``; ``'usd'`` -> ``'USD'``; else InvalidInput."""
    key = str(text).strip().upper()
    if key not in _ALIASES:
        raise InvalidInput(f"unknown currency {text!r}: use one of {', '.join(CURRENCIES)}", field=field)
    return _ALIASES[key]


def date_key(text: str, *, field: str = "date") -> tuple[int, int, int]:
    """``'2025'`` -> (2025, 1, 1); ``'2025-07'`` -> (2025, 7, 1); validates the calendar."""
    m = _DATE.match(str(text).strip())
    if not m:
        raise InvalidInput(f"{field} {text!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)", field=field)
    y, mo, d = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        _date(y, mo, d)
    except ValueError:
        raise InvalidInput(f"{field} {text!r} is not a calendar date", field=field) from None
    return y, mo, d


def check_date(text: str | None, *, what: str = "price", field: str = "date") -> str:
    """A normalised date string; a missing one is an error naming ``what``."""
    if text is None or not str(text).strip():
        raise InvalidInput(f"{what} has no date: give YYYY-MM or YYYY-MM-DD", field=field)
    date_key(text, field=field)
    return str(text).strip()


def later(a: str, b: str) -> str:
    return a if date_key(a) >= date_key(b) else b


@dataclass(frozen=True)
class Money:
    """``amount`` in ``currency`` (CNY or USD) as observed at ``date``."""

    amount: float
    currency: str
    date: str

    def __post_init__(self) -> None:
        amount = float(self.amount)
        if not math.isfinite(amount):
            raise InvalidInput(f"amount {self.amount!r} is not a finite number", field="amount")
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "currency", check_currency(self.currency))
        object.__setattr__(self, "date", check_date(self.date, what=f"amount {amount:g} {self.currency}"))

    # --- arithmetic (same currency only) ---------------------------------------------

    def _same(self, other: Money, op: str) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot {op} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot {op} {self} and {other}: convert one of them with an FX rate first",
                                   field="currency")

    def __add__(self, other: Money) -> Money:
        self._same(other, "add")
        return Money(self.amount + other.amount, self.currency, later(self.date, other.date))

    def __sub__(self, other: Money) -> Money:
        self._same(other, "subtract")
        return Money(self.amount - other.amount, self.currency, later(self.date, other.date))

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency, self.date)

    def __mul__(self, factor: float) -> Money:
        if isinstance(factor, Money):
            raise TypeError("cannot multiply two amounts of money")
        return Money(self.amount * float(factor), self.currency, self.date)

    __rmul__ = __mul__

    def __truediv__(self, other: float | Money) -> Any:
        if isinstance(other, Money):
            self._same(other, "divide")
            return self.amount / other.amount
        return Money(self.amount / float(other), self.currency, self.date)

    def __lt__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other, "compare")
        return self.amount <= other.amount

    # --- text ------------------------------------------------------------------------

    def __str__(self) -> str:
        return f"{self.amount:,.6g} {self.currency} ({self.date})" if abs(self.amount) < 1e4 else \
            f"{self.amount:,.0f} {self.currency} ({self.date})"

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency, "date": self.date}

    @classmethod
    def parse(cls, text: str, *, field: str = "price") -> Money:
        """``'1500000 CNY 2026-01-10'``, ``'1.5M CNY 2026-01'``, ``'150万,CNY,2025'``."""
        parts = [p for p in re.split(r"[\s,;@]+", str(text).strip()) if p]
        if len(parts) < 2:
            raise InvalidInput(f"{field} {text!r}: give AMOUNT CURRENCY DATE, e.g. '1500000 CNY 2026-01-10'",
                               field=field)
        amount = parse_amount(parts[0], field=field)
        currency = check_currency(parts[1], field=field)
        if len(parts) < 3:
            raise InvalidInput(f"{field} {text!r} has no date: give AMOUNT CURRENCY YYYY-MM[-DD]", field=field)
        if len(parts) > 3:
            raise InvalidInput(f"{field} {text!r}: expected AMOUNT CURRENCY DATE, got {len(parts)} parts",
                               field=field)
        return cls(amount, currency, check_date(parts[2], what=f"{field} {text!r}", field=field))


def parse_amount(text: str, *, field: str = "amount") -> float:
    """``'1,500,000'``, ``'1.5M'``, ``'150万'``, ``'880k'`` -> float."""
    raw = str(text).strip().replace(",", "").replace("_", "")
    scale = 1.0
    if raw and raw[-1] in _SUFFIX:
        scale, raw = _SUFFIX[raw[-1]], raw[:-1]
    try:
        value = float(raw) * scale
    except ValueError:
        raise InvalidInput(f"{field}: {text!r} is not a number", field=field) from None
    if not math.isfinite(value):
        raise InvalidInput(f"{field}: {text!r} is not a finite number", field=field)
    return value


# --- FX ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FxRate:
    """One row: 1 ``base`` = ``rate`` ``quote`` on ``date`` (e.g. 1 USD = 7.1884 CNY)."""

    date: str
    base: str
    quote: str
    rate: float
    source: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", check_currency(self.base, field="base"))
        object.__setattr__(self, "quote", check_currency(self.quote, field="quote"))
        object.__setattr__(self, "date", check_date(self.date, what="FX rate", field="date"))
        rate = float(self.rate)
        if not (math.isfinite(rate) and rate > 0):
            raise InvalidInput(f"FX rate {self.rate!r} must be a positive number", field="rate")
        object.__setattr__(self, "rate", rate)
        if self.base == self.quote:
            raise InvalidInput(f"FX row {self.base}->{self.quote} converts a currency to itself", field="quote")


@dataclass(frozen=True)
class FxQuote:
    """The rate applied (``1 base = rate quote``) and the row it came from."""

    base: str
    quote: str
    rate: float
    row: FxRate
    inverted: bool

    def describe(self) -> str:
        how = f"inverse of {self.row.base}->{self.row.quote} {self.row.rate:g}" if self.inverted else ""
        return (f"1 {self.base} = {self.rate:.6g} {self.quote} ({self.row.date}{'; ' + how if how else ''}; "
                f"{self.row.source})")


class FxTable:
    """Dated FX rows; a later row for the same (date, pair) replaces an earlier one
    (so user rows appended after the bundled ones override them)."""

    def __init__(self, rates: Iterable[FxRate]) -> None:
        by_key: dict[tuple[tuple[int, int, int], str, str], FxRate] = {}
        for r in rates:
            by_key[(date_key(r.date), r.base, r.quote)] = r
        self._rows = sorted(by_key.values(), key=lambda r: date_key(r.date))

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> list[FxRate]:
        return list(self._rows)

    def latest_date(self) -> str | None:
        return self._rows[-1].date if self._rows else None

    def quote(self, base: str, quote: str, on: str) -> FxQuote:
        """Latest rate for ``base -> quote`` (direct or inverted row) dated at or before ``on``."""
        base, quote = check_currency(base), check_currency(quote)
        if base == quote:
            raise InvalidInput("no FX rate needed between a currency and itself", field="currency")
        key = date_key(on)
        best: FxRate | None = None
        for r in self._rows:
            if date_key(r.date) > key:
                break
            if {r.base, r.quote} == {base, quote}:
                best = r
        if best is None:
            first = next((r.date for r in self._rows if {r.base, r.quote} == {base, quote}), None)
            hint = f"; the table starts at {first}" if first else "; the table has no row for this pair"
            raise FxUnavailable(f"no {base}->{quote} FX rate at or before {on}{hint} (add rows with --fx FILE)",
                                field="fx")
        inverted = best.base != base
        return FxQuote(base=base, quote=quote, rate=1.0 / best.rate if inverted else best.rate, row=best,
                       inverted=inverted)

    def convert(self, money: Money, to: str, on: str | None = None) -> Money:
        """``money`` in currency ``to`` at the rate of date ``on`` (default: the money's date)."""
        return self.convert_explained(money, to, on)[0]

    def convert_explained(self, money: Money, to: str, on: str | None = None) -> tuple[Money, FxQuote | None]:
        to = check_currency(to)
        if money.currency == to:
            return money, None
        q = self.quote(money.currency, to, on or money.date)
        return Money(money.amount * q.rate, to, money.date), q


__all__ = ["CURRENCIES", "CurrencyMismatch", "FxQuote", "FxRate", "FxTable", "FxUnavailable", "Money",
           "check_currency", "check_date", "date_key", "later", "parse_amount"]
