"""Errors of the market database a user can cause (all :class:`SuanliError`)."""

from __future__ import annotations

from dataclasses import dataclass

from suanli.errors import SuanliError


class DatabaseError(SuanliError):
    """The database cannot be reached, opened or written (bad URL, server down, locked,
    a backup file that is not one)."""

    code = "database_error"
    retryable = False  # True for a deadlock or serialization failure: run the transaction again


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
    """A file was rejected as a whole: nothing was written.  ``problems`` lists every bad
    row; the message names the first few."""

    code = "import_rejected"
    SHOWN = 5

    def __init__(self, file: str, problems: list[RowProblem]) -> None:
        self.file = file
        self.problems = list(problems)
        shown = "; ".join(str(p) for p in self.problems[: self.SHOWN])
        more = len(self.problems) - self.SHOWN
        tail = f"; ... and {more} more" if more > 0 else ""
        n = len(self.problems)
        super().__init__(f"{file}: rejected, nothing written ({n} bad row{'s' if n != 1 else ''}): {shown}{tail}",
                         field="file")
