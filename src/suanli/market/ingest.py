"""Import of quotes, leases, events and inventories from CSV or JSON files.

* **Validated row by row** (:mod:`suanli.market.records`): every bad row is reported with
  its line number (CSV, counting the header as line 1) or record number (JSON) and reason.
* **All or nothing**: one bad row rejects the file (:class:`ImportRejected`) before any
  write; the rows of a good file go in in one transaction.
* **Idempotent**: rows are inserted with ``ON CONFLICT DO NOTHING`` against the unique
  constraint on each observation's identity, so importing a file twice adds nothing the
  second time, and two processes importing overlapping files at once store each row once.
* **Dry run**: the same transaction, rolled back; the counts say what would be added.

Only bound parameters reach the database: text that looks like SQL is stored verbatim.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import operator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, Sequence

from suanli.errors import InvalidInput
from suanli.files import parse_json
from suanli.market import records, schema
from suanli.market.errors import DatabaseError, ImportRejected, RowProblem, ValueRefused

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from suanli.market.db import Database

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_PROBLEMS = 100   # bad rows reported by name; all are counted
WRITE_ATTEMPTS = 3


@dataclass(frozen=True, kw_only=True)
class ImportResult:
    file: str
    kinds: dict[str, tuple[int, int]]   # kind -> (rows read, rows added)
    dry_run: bool = False

    @property
    def rows(self) -> int:
        return sum(r for r, _ in self.kinds.values())

    @property
    def added(self) -> int:
        return sum(a for _, a in self.kinds.values())

    @property
    def duplicates(self) -> int:
        return self.rows - self.added

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "dry_run": self.dry_run, "rows": self.rows, "added": self.added,
                "duplicates": self.duplicates,
                "kinds": {k: {"rows": r, "added": a} for k, (r, a) in self.kinds.items()}}


class _Problems:
    """Bad rows of one file: every one counted, the first :data:`MAX_PROBLEMS` kept."""

    def __init__(self) -> None:
        self.first: list[RowProblem] = []
        self.count = 0

    def add(self, problem: RowProblem) -> None:
        self.count += 1
        if len(self.first) < MAX_PROBLEMS:
            self.first.append(problem)

    def rejected(self, name: str) -> ImportRejected:
        return ImportRejected(name, sorted(self.first, key=lambda q: (q.section, q.line)), total=self.count)


@dataclass
class _Scan:
    """A file read and validated: the rows to insert per kind (emptied once a row is bad:
    the file will be rejected, so its good rows need not be kept) and the problems."""

    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: _Problems = field(default_factory=_Problems)
    sha256: str = ""
    json_file: bool = False

    def keep(self, kind: str, line: int, raw: dict[str, Any], ctx: records.Context,
             plan: tuple[tuple[str, records.Field], ...] | None, section: str = "") -> None:
        """Validate one raw row; keep its values or note its problem."""
        try:
            values, reasons = records.validate(kind, raw, ctx, plan)
        except records.Bad as exc:
            values, reasons = None, [str(exc)]
        except RecursionError:
            values, reasons = None, ["a value is nested too deeply"]
        if values is None:
            self.problems.add(RowProblem(line, "; ".join(reasons), section))
        elif not self.problems.count:
            self.sections.setdefault(kind, []).append(values)
        if self.problems.count:
            self.sections.clear()


class _HashingReader(io.RawIOBase):
    """A binary file read through SHA-256 (the import log stores the file's digest)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.digest = raw, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self.digest.update(memoryview(buffer)[:n])
        return n or 0


# --- reading files ----------------------------------------------------------------------------

def _scan_csv(text: IO[str], kind: str | None, ctx: records.Context, scan: _Scan) -> None:
    """Read and validate a CSV file row by row (it is never held in memory as a whole)."""
    problems = scan.problems
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        problems.add(RowProblem(1, f"malformed CSV header: {exc}"))
        return
    if not header or not any(h.strip() for h in header):
        problems.add(RowProblem(1, "no header row (empty file?)"))
        return
    kind = kind or records.guess_kind(header)
    mapping, header_problems = records.column_map(kind, header)
    if header_problems:
        for p in header_problems:
            problems.add(RowProblem(1, p))
        return
    names = [mapping[h] for h in header]
    plan = records.field_plan(kind, names)  # rows all have the header's keys: look only at those fields
    scan.sections[kind] = []
    rows = 0
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.add(RowProblem(line, f"malformed CSV: {exc}"))
            break
        if cells and any(c.strip() for c in cells):
            rows += 1
            if len(cells) != len(names):
                problems.add(RowProblem(line, f"{len(cells)} fields, the header has {len(names)}"))
                scan.sections.clear()
            else:
                scan.keep(kind, line, dict(zip(names, cells)), ctx, plan)
        line = reader.line_num + 1
    if not rows and not problems.count:
        problems.add(RowProblem(1, "no data rows"))


def _scan_json(text: str, kind: str | None, ctx: records.Context, scan: _Scan) -> None:
    problems = scan.problems
    scan.json_file = True
    try:
        doc = parse_json(text)
    except json.JSONDecodeError as exc:
        problems.add(RowProblem(exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})"))
        return
    if isinstance(doc, list):
        sample = next((r for r in doc if isinstance(r, dict)), {})
        groups = {kind or records.guess_kind([str(k) for k in sample]): doc}
    elif isinstance(doc, dict) and all(k in records.IMPORT_KINDS for k in doc) and doc:
        if kind is not None and set(doc) != {kind}:
            problems.add(RowProblem(1, f"--kind {kind} but the file holds {', '.join(doc)}"))
            return
        groups = dict(doc)
    else:
        problems.add(RowProblem(1, "JSON must be a list of records or an object with keys "
                                   f"{', '.join(records.IMPORT_KINDS)}"))
        return
    records_seen = 0
    for k, recs in groups.items():
        section = k if isinstance(doc, dict) else ""
        if not isinstance(recs, list):
            problems.add(RowProblem(1, f"{k}: expected a list of records"))
            continue
        fields = records.FIELDS[k]
        aliases = {a: f.name for f in fields.values() for a in (f.name, *f.aliases)}
        for n, rec in enumerate(recs, start=1):
            records_seen += 1
            if not isinstance(rec, dict):
                problems.add(RowProblem(n, "not an object", section or k))
                continue
            unknown = [key for key in rec if str(key).strip().lower() not in aliases]
            if unknown:
                shown = ", ".join(repr(u)[:60] for u in unknown[:5])
                problems.add(RowProblem(n, f"unknown field(s) {shown} for {k}", section or k))
                continue
            scan.keep(k, n, {aliases[str(key).strip().lower()]: v for key, v in rec.items()}, ctx, None,
                      section or k)
        if not problems.count:
            scan.sections.setdefault(k, [])
    if not records_seen and not problems.count:
        problems.add(RowProblem(1, "no records"))
    if problems.count:
        scan.sections.clear()


def scan_file(path: Path, ctx: records.Context, kind: str | None = None) -> _Scan:
    """Read and validate ``path`` (``.csv`` or ``.json``).  A file that cannot be imported at
    all (unknown kind, wrong extension, missing, unreadable, too large) is an
    :class:`InvalidInput`; bad rows are in the result's ``problems``."""
    if kind is not None and kind not in records.IMPORT_KINDS:
        raise InvalidInput(f"unknown kind {kind!r} (one of: {', '.join(records.IMPORT_KINDS)})", field="kind")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InvalidInput(f"{path.name}: file must end in .csv or .json", field="file")
    scan = _Scan()
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InvalidInput(f"{path}: not a file", field="file")
        if size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path.name}: file larger than {MAX_FILE_BYTES >> 20} MiB", field="file")
        with open(path, "rb", buffering=0) as raw:
            hashing = _HashingReader(raw)
            with io.TextIOWrapper(io.BufferedReader(hashing, 1 << 20), encoding="utf-8-sig", newline="") as text:
                try:
                    if suffix == ".json":
                        _scan_json(text.read(), kind, ctx, scan)
                    else:
                        _scan_csv(text, kind, ctx, scan)
                except UnicodeDecodeError:
                    scan.sections.clear()
                    line, offset = _first_bad_utf8(path)
                    scan.problems.add(RowProblem(line, f"not UTF-8 text (byte {offset})"))
            scan.sha256 = hashing.digest.hexdigest()  # of the whole file when it is imported: read to its end
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}", field="file") from None
    return scan


def _first_bad_utf8(path: Path) -> tuple[int, int]:
    """(line, byte offset) of the first byte of ``path`` that is not UTF-8."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = max(exc.start - len(decoder.getstate()[0]), 0)
                return lines + chunk[:bad].count(b"\n"), offset + bad
            lines += chunk.count(b"\n")
            offset += len(chunk)
    return lines, offset


def known_currencies(conn: Connection) -> frozenset[str]:
    from sqlalchemy import select

    return frozenset(conn.execute(select(schema.currencies.c.code)).scalars())


def _dialect_insert(conn: Connection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def insert_ignore(conn: Connection, table: Any, rows: Sequence[dict[str, Any]],
                  returning: Sequence[Any] = ()) -> list[Any]:
    """``INSERT ... ON CONFLICT DO NOTHING`` of ``rows``; the inserted rows' ``returning``
    columns (their ids by default)."""
    if not rows:
        return []
    stmt = _dialect_insert(conn, table).on_conflict_do_nothing()
    stmt = stmt.returning(*(returning or (table.c.id,)))
    return list(conn.execute(stmt, list(rows)))


def identity_columns(table: Any) -> tuple[str, ...]:
    """The columns of ``table``'s unique constraint on an observation's identity."""
    from sqlalchemy import UniqueConstraint

    for c in table.constraints:
        if isinstance(c, UniqueConstraint):
            return tuple(col.name for col in c.columns)
    return tuple(col.name for col in table.primary_key.columns)


def _in_lock_order(table: Any, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows sorted by their identity: concurrent imports then take the unique index's row
    locks in one global order, so two overlapping files cannot deadlock on PostgreSQL."""
    cols = identity_columns(table)
    return sorted(rows, key=lambda r: tuple(r.get(c) for c in cols))


def _sqlite_dates() -> None:
    """Bind ``date`` values as ISO text on SQLite, as SQLAlchemy's Date type stores them.
    This is the sqlite3 module's own pre-3.12 default adapter, registered explicitly
    (Python 3.12 deprecated the implicit one)."""
    import sqlite3

    sqlite3.register_adapter(date, date.isoformat)


def insert_records(conn: Connection, kind: str, rows: Sequence[dict[str, Any]]) -> int:
    """Insert validated rows of one kind, skipping those already stored; rows added."""
    if kind == "events":
        if conn.dialect.name == "postgresql":
            rows = _in_lock_order(schema.events, rows)
        return _insert_events(conn, rows)
    return staged_insert_ignore(conn, schema.TABLES[kind], rows)


_STAGE_SEQ = iter(range(1, 1 << 62))


def staged_insert_ignore(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> int:
    """Insert many rows, skipping those already stored; the number inserted.

    The rows first go into a temporary table without constraints (the driver's
    ``executemany`` on SQLite, ``COPY`` on PostgreSQL), then one
    ``INSERT INTO table SELECT ... FROM stage ON CONFLICT DO NOTHING`` moves them: the
    database checks every constraint, and per-row statement overhead is paid only on the
    constraint-free stage.  On PostgreSQL the SELECT is ordered by the observation's
    identity, so concurrent imports take the unique index's row locks in one global order
    and cannot deadlock.  All statements are built by SQLAlchemy from the schema; values
    are bound or copied, never spliced into SQL."""
    if not rows:
        return 0
    from sqlalchemy import Column, MetaData, Table, select, true

    cols = [c for c in table.columns if c.name != "id"]
    names = [c.name for c in cols]
    stage = Table(f"suanli_stage_{table.name}_{next(_STAGE_SEQ)}", MetaData(),
                  *[Column(c.name, c.type) for c in cols], prefixes=["TEMPORARY"])
    need = set(names)
    complete = [r if r.keys() >= need else {c: r.get(c) for c in names} for r in rows]
    params = list(map(operator.itemgetter(*names), complete))
    stage.create(conn)
    try:
        _load_stage(conn, stage, names, params)
        source = select(*[stage.c[n] for n in names]).where(true())  # WHERE: SQLite's upsert grammar
        if conn.dialect.name == "postgresql":
            source = source.order_by(*[stage.c[n] for n in identity_columns(table)])
        stmt = _dialect_insert(conn, table).from_select(names, source).on_conflict_do_nothing()
        return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)
    finally:
        stage.drop(conn)


def _load_stage(conn: Connection, stage: Any, names: list[str], params: list[tuple[Any, ...]]) -> None:
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    if conn.dialect.name == "postgresql":
        from psycopg import sql

        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(stage.name), sql.SQL(", ").join(sql.Identifier(n) for n in names))
        with dbapi.cursor() as cur, cur.copy(copy_sql) as copy:  # type: ignore[attr-defined]
            for row in params:
                copy.write_row(row)
        return
    _sqlite_dates()
    compiled = stage.insert().compile(dialect=conn.dialect)
    order = list(compiled.positiontup or [])
    if order != names:
        params = [tuple(dict(zip(names, p))[n] for n in order) for p in params]
    cur = dbapi.cursor()
    try:
        cur.executemany(str(compiled), params)
    finally:
        cur.close()


def _insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    t = schema.events
    key_cols = (t.c.date, t.c.date_precision, t.c.kind, t.c.description, t.c.source)
    keys = [c.name for c in key_cols]
    chips_by_key = {tuple(r[k] for k in keys): r.get("chips", ()) for r in rows}
    clean = [{k: v for k, v in r.items() if k != "chips"} for r in rows]
    added = insert_ignore(conn, t, clean, returning=(t.c.id, *key_cols))
    links = [{"event_id": row[0], "chip": chip}
             for row in added for chip in chips_by_key.get(_event_key(row[1:]), ())]
    if links:
        insert_ignore(conn, schema.event_chips, links, returning=(schema.event_chips.c.event_id,))
    return len(added)


def _event_key(values: Iterable[Any]) -> tuple[Any, ...]:
    out = []
    for v in values:
        out.append(date.fromisoformat(v) if isinstance(v, str) and len(v) == 10 and v[4] == "-" else v)
    return tuple(out)


class _DryRun(Exception):
    pass


def import_file(db: Database, path: str | Path, *, kind: str | None = None, dry_run: bool = False,
                today: date | None = None) -> ImportResult:
    """Validate and import one file (see the module doc).  ``today``: the date no row may
    lie after (default: the clock's)."""
    p = Path(path)
    with db.read() as conn:
        ctx = records.Context(today=today or date.today(), currencies=known_currencies(conn))
    scan = scan_file(p, ctx, kind)
    if scan.problems.count:
        raise scan.problems.rejected(p.name)
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            counts = _write(db, p, scan.sha256, scan.sections, dry_run)
            break
        except DatabaseError as exc:
            if not exc.retryable or attempt == WRITE_ATTEMPTS:
                raise
    return ImportResult(file=p.name, kinds=counts, dry_run=dry_run)


def _write(db: Database, p: Path, sha256: str, good: dict[str, list[dict[str, Any]]],
           dry_run: bool) -> dict[str, tuple[int, int]]:
    """One transaction inserting ``good``; rolled back for a dry run."""
    counts: dict[str, tuple[int, int]] = {}
    try:
        with db.write() as conn:
            for k, rows in good.items():
                counts[k] = (len(rows), insert_records(conn, k, rows))
            if not dry_run:
                for k, (n, added) in counts.items():
                    conn.execute(schema.imports.insert().values(
                        kind=k, file_name=p.name[: schema.SOURCE_LEN], sha256=sha256,
                        rows_read=n, rows_added=added, imported_at=datetime.now(timezone.utc).replace(tzinfo=None)))
            else:
                raise _DryRun
    except _DryRun:
        pass
    except ValueRefused as exc:  # a constraint, a value out of the column's range, a value the driver cannot bind
        raise ImportRejected(p.name, [RowProblem(0, str(exc).replace("the database refused a value",
                                                                      "the database refused the rows", 1))]) from None
    return counts
