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
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from suanli.market import records, schema
from suanli.market.errors import DatabaseError, ImportRejected, RowProblem

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from suanli.market.db import Database

MAX_FILE_BYTES = 512 * 1024 * 1024
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


@dataclass
class _Parsed:
    sections: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    problems: list[RowProblem] = field(default_factory=list)
    json_file: bool = False


# --- reading files ----------------------------------------------------------------------------

def _read_csv(text: str, kind: str | None) -> _Parsed:
    out = _Parsed()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        out.problems.append(RowProblem(1, f"malformed CSV header: {exc}"))
        return out
    if not header or not any(h.strip() for h in header):
        out.problems.append(RowProblem(1, "no header row (empty file?)"))
        return out
    kind = kind or records.guess_kind(header)
    mapping, header_problems = records.column_map(kind, header)
    if header_problems:
        out.problems += [RowProblem(1, p) for p in header_problems]
        return out
    names = [mapping[h] for h in header]
    rows: list[tuple[int, dict[str, Any]]] = []
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.problems.append(RowProblem(line, f"malformed CSV: {exc}"))
            break
        if cells and any(c.strip() for c in cells):
            if len(cells) != len(names):
                out.problems.append(RowProblem(line, f"{len(cells)} fields, the header has {len(names)}"))
            else:
                rows.append((line, dict(zip(names, cells))))
        line = reader.line_num + 1
    if not rows and not out.problems:
        out.problems.append(RowProblem(1, "no data rows"))
    out.sections[kind] = rows
    return out


def _read_json(text: str, kind: str | None) -> _Parsed:
    out = _Parsed(json_file=True)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        out.problems.append(RowProblem(exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})"))
        return out
    if isinstance(doc, list):
        sample = next((r for r in doc if isinstance(r, dict)), {})
        groups = {kind or records.guess_kind(list(sample)): doc}
    elif isinstance(doc, dict) and all(k in records.IMPORT_KINDS for k in doc) and doc:
        if kind is not None and set(doc) != {kind}:
            out.problems.append(RowProblem(1, f"--kind {kind} but the file holds {', '.join(doc)}"))
            return out
        groups = dict(doc)
    else:
        out.problems.append(RowProblem(1, "JSON must be a list of records or an object with keys "
                                          f"{', '.join(records.IMPORT_KINDS)}"))
        return out
    for k, recs in groups.items():
        section = k if isinstance(doc, dict) else ""
        if not isinstance(recs, list):
            out.problems.append(RowProblem(1, f"{k}: expected a list of records"))
            continue
        fields = records.FIELDS[k]
        aliases = {a: f.name for f in fields.values() for a in (f.name, *f.aliases)}
        rows: list[tuple[int, dict[str, Any]]] = []
        for n, rec in enumerate(recs, start=1):
            if not isinstance(rec, dict):
                out.problems.append(RowProblem(n, "not an object", section or k))
                continue
            unknown = [key for key in rec if str(key).strip().lower() not in aliases]
            if unknown:
                out.problems.append(RowProblem(n, f"unknown field(s) {', '.join(map(repr, unknown))} for {k}",
                                               section or k))
                continue
            rows.append((n, {aliases[str(key).strip().lower()]: v for key, v in rec.items()}))
        out.sections[k] = rows
    if not any(out.sections.values()) and not out.problems:
        out.problems.append(RowProblem(1, "no records"))
    return out


def read_file(path: Path, kind: str | None = None) -> tuple[_Parsed, bytes]:
    """Parse ``path`` (``.csv`` or ``.json``) into raw rows per record kind."""
    if kind is not None and kind not in records.IMPORT_KINDS:
        raise ImportRejected(path.name, [RowProblem(0, f"unknown kind {kind!r} "
                                                       f"(one of: {', '.join(records.IMPORT_KINDS)})")])
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ImportRejected(path.name, [RowProblem(0, "file must end in .csv or .json")])
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImportRejected(path.name, [RowProblem(0, f"file larger than {MAX_FILE_BYTES >> 20} MiB")])
        data = path.read_bytes()
    except OSError as exc:
        raise ImportRejected(path.name, [RowProblem(0, f"cannot read: {exc.strerror}")]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected(path.name, [RowProblem(line, f"not UTF-8 text (byte {exc.start})")]) from None
    parsed = _read_json(text, kind) if suffix == ".json" else _read_csv(text, kind)
    return parsed, data


# --- validation and insertion -----------------------------------------------------------------

def validate_sections(parsed: _Parsed, ctx: records.Context) -> dict[str, list[dict[str, Any]]]:
    """Validate every row; problems are appended to ``parsed.problems``."""
    good: dict[str, list[dict[str, Any]]] = {}
    for kind, rows in parsed.sections.items():
        section = kind if parsed.json_file else ""
        out: list[dict[str, Any]] = []
        # CSV rows all have the header's keys: look only at those fields
        plan = records.field_plan(kind, rows[0][1]) if rows and not parsed.json_file else None
        for line, raw in rows:
            try:
                values, reasons = records.validate(kind, raw, ctx, plan)
            except records.Bad as exc:
                values, reasons = None, [str(exc)]
            if values is None:
                parsed.problems.append(RowProblem(line, "; ".join(reasons), section))
            else:
                out.append(values)
        good[kind] = out
    return good


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
    parsed, data = read_file(p, kind)
    with db.read() as conn:
        ctx = records.Context(today=today or date.today(), currencies=known_currencies(conn))
    good = validate_sections(parsed, ctx)
    if parsed.problems:
        raise ImportRejected(p.name, sorted(parsed.problems, key=lambda q: (q.section, q.line)))
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            counts = _write(db, p, data, good, dry_run)
            break
        except DatabaseError as exc:
            if not exc.retryable or attempt == WRITE_ATTEMPTS:
                raise
    return ImportResult(file=p.name, kinds=counts, dry_run=dry_run)


def _write(db: Database, p: Path, data: bytes, good: dict[str, list[dict[str, Any]]],
           dry_run: bool) -> dict[str, tuple[int, int]]:
    """One transaction inserting ``good``; rolled back for a dry run."""
    from sqlalchemy.exc import DataError, IntegrityError, StatementError

    counts: dict[str, tuple[int, int]] = {}
    try:
        with db.write() as conn:
            for k, rows in good.items():
                counts[k] = (len(rows), insert_records(conn, k, rows))
            if not dry_run:
                for k, (n, added) in counts.items():
                    conn.execute(schema.imports.insert().values(
                        kind=k, file_name=p.name[: schema.SOURCE_LEN], sha256=hashlib.sha256(data).hexdigest(),
                        rows_read=n, rows_added=added, imported_at=datetime.now(timezone.utc).replace(tzinfo=None)))
            else:
                raise _DryRun
    except _DryRun:
        pass
    except (IntegrityError, DataError) as exc:
        reason = " ".join(str(exc.orig).split())[:300]
        raise ImportRejected(p.name, [RowProblem(0, f"the database refused the rows: {reason}")]) from None
    except StatementError as exc:  # a value the driver cannot bind
        raise DatabaseError(f"{p.name}: {' '.join(str(exc.orig).split())[:300]}") from None
    return counts
