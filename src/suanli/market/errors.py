"""Errors of the market database a user can cause (all :class:`SuanliError`)."""

from __future__ import annotations

from dataclasses import dataclass

from suanli.errors import SuanliError


class DatabaseError(SuanliError):
    """The database cannot be reached, opened or written (bad URL, server down, locked,
    a backup file that is not one)."""

    code = "database_error"
    retryable = False  # True for a deadlock or serialization failure: run the transaction again


class ValueRefused(SuanliError):
    """The database refused a value it was given (NUL in text, a number out of range, a
    broken constraint): the request's fault, not the server's."""

    code = "invalid_input"
    orig: Exception | None = None  # the database driver's error


@dataclass(frozen=True)
class RowProblem:
    """One bad row of an import file: where (``line`` of a CSV file, 1-based, counting the
    header; or the 1-based record number of a JSON file) and why."""

    line: int
    reason: str
    section: str = ""   # JSON files with several kinds: "quotes", "events", ...

    def where(self) -> str:
        label = "record" if self.section else "line"
        prefix = f"{self.section} " if self.section else ""
        return f"{prefix}{label} {self.line}"

    def __str__(self) -> str:
        return f"{self.where()}: {self.reason}" if self.line > 0 else self.reason


class ImportRejected(SuanliError):
    """A file was rejected as a whole: nothing was written.  ``problems`` lists the bad rows
    (the first 100 of a large file), ``total`` counts them all; the message names the first
    few."""

    code = "import_rejected"
    SHOWN = 5

    def __init__(self, file: str, problems: list[RowProblem], *, total: int | None = None) -> None:
        self.file = file
        self.problems = list(problems)
        n = self.total = max(total if total is not None else 0, len(self.problems))
        shown = "; ".join(str(p) for p in self.problems[: self.SHOWN])
        more = n - min(len(self.problems), self.SHOWN)
        tail = f"; ... and {more} more" if more > 0 else ""
        super().__init__(f"{file}: rejected, nothing written ({n} bad row{'s' if n != 1 else ''}): {shown}{tail}",
                         field="file")
