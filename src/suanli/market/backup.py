"""Backup and restore of the whole market database as one portable file.

The backup is a logical dump, the same on SQLite and PostgreSQL (so it also moves data
between the two): JSON, gzip-compressed when the path ends in ``.gz``::

    {"format": "suanli-market-backup", "format_version": 1, "schema": "0002",
     "created": "2026-11-29T07:00:00Z", "dialect": "sqlite",
     "tables": {"quotes": {"columns": [...], "rows": [[...], ...]}, ...}}

It is read in one snapshot transaction (WAL reader on SQLite, REPEATABLE READ on
PostgreSQL) and written to a temporary file renamed into place.  A restore replaces every
table's rows in one transaction: a bad or foreign file changes nothing.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from suanli.files import parse_json
from suanli.market import schema
from suanli.market.errors import DatabaseError, ValueRefused

if TYPE_CHECKING:
    from suanli.market.db import Database

FORMAT = "suanli-market-backup"
FORMAT_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class BackupInfo:
    path: str
    schema: str
    rows: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "schema": self.schema, "rows": self.rows, "total": sum(self.rows.values())}


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def _cell(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (date, datetime)) else v


SUFFIXES = (".json", ".json.gz")


def check_backup_path(path: str | Path, db_url: str | None) -> Path:
    """``path`` when a backup may be written there: ``.json`` or ``.json.gz``, in an existing
    directory, and never the database file itself (nor its -wal/-shm/-journal files)."""
    from suanli.files import check_output
    from suanli.market.db import database_files

    return check_output(path, suffixes=SUFFIXES, field="path", what="backup file",
                        protected=database_files(db_url))


def backup(db: Database, path: str | Path) -> BackupInfo:
    """Write every table of ``db`` to ``path`` (see the module doc); the file gets mode 0600
    (it holds the whole database) and replaces ``path`` only once complete."""
    from sqlalchemy import select

    from suanli.files import PRIVATE_FILE, atomic_output
    from suanli.market.db import schema_version

    target = check_backup_path(path, db.url)
    counts: dict[str, int] = {}
    with atomic_output(target, mode=PRIVATE_FILE) as tmp:
        with db.read() as conn, _open(tmp, "w") as out:
            if db.dialect == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            version = schema_version(conn)
            head = {"format": FORMAT, "format_version": FORMAT_VERSION, "schema": version,
                    "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "dialect": db.dialect}
            out.write(json.dumps(head)[:-1] + ', "tables": {')
            for i, table in enumerate(schema.ALL_TABLES):
                cols = [c.name for c in table.columns]
                part = f"\n{json.dumps(table.name)}: {{\"columns\": {json.dumps(cols)}, \"rows\": ["
                out.write(("," if i else "") + part)
                n = 0
                pk = list(table.primary_key.columns)
                for row in conn.execute(select(table).order_by(*pk)):
                    out.write(("," if n else "") + "\n" + json.dumps([_cell(v) for v in row], ensure_ascii=False))
                    n += 1
                out.write("]}")
                counts[table.name] = n
            out.write("\n}}\n")
    return BackupInfo(path=str(target), schema=str(version), rows=counts)


def _load(path: Path) -> dict[str, Any]:
    try:
        with _open(path, "r") as f:
            doc = parse_json(f.read())
    except FileNotFoundError:
        raise DatabaseError(f"no backup file {path}", field="path") from None
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatabaseError(f"{path.name} is not a suanli backup ({exc})", field="path") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("tables"), dict):
        raise DatabaseError(f"{path.name} is not a suanli market backup", field="path")
    if doc.get("format_version") != FORMAT_VERSION:
        raise DatabaseError(f"{path.name}: backup format {doc.get('format_version')} is not supported", field="path")
    return doc


def _converters(table: Any) -> list[Any]:
    from sqlalchemy import Date, DateTime

    out: list[Any] = []
    for c in table.columns:
        if isinstance(c.type, DateTime):
            out.append(lambda v: None if v is None else datetime.fromisoformat(v))
        elif isinstance(c.type, Date):
            out.append(lambda v: None if v is None else date.fromisoformat(v))
        else:
            out.append(None)
    return out


def restore(db: Database, path: str | Path) -> BackupInfo:
    """Replace the contents of ``db`` with the backup at ``path`` (all or nothing)."""
    from sqlalchemy import Integer, delete, func, select, text

    from suanli.market.db import schema_version

    p = Path(path).expanduser()
    doc = _load(p)
    tables = doc["tables"]
    rows_by_table: dict[str, list[dict[str, Any]]] = {}
    for table in schema.ALL_TABLES:
        part = tables.get(table.name, {"columns": [], "rows": []})
        cols = [c.name for c in table.columns]
        if part.get("columns") != cols and part.get("rows"):
            raise DatabaseError(f"{p.name}: columns of {table.name} do not match this schema", field="path")
        conv = _converters(table)
        try:
            rows_by_table[table.name] = [
                {c: (f(v) if f else v) for c, f, v in zip(cols, conv, r, strict=True)} for r in part.get("rows", [])]
        except (TypeError, ValueError) as exc:
            raise DatabaseError(f"{p.name}: bad row in {table.name} ({exc})", field="path") from None
    try:
        with db.write() as conn:
            version = schema_version(conn)
            if doc.get("schema") != version:
                raise DatabaseError(f"{p.name} is a backup of schema {doc.get('schema')}, the database is at "
                                    f"{version}", field="path")
            for table in reversed(schema.ALL_TABLES):
                conn.execute(delete(table))
            for table in schema.ALL_TABLES:
                rows = rows_by_table[table.name]
                if rows:
                    conn.execute(table.insert(), rows)
            if db.dialect == "postgresql":
                for table in schema.ALL_TABLES:
                    if "id" in table.c and isinstance(table.c.id.type, Integer):
                        top = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar()
                        conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :v, :called)"),
                                     {"t": table.name, "v": max(int(top or 0), 1), "called": bool(top)})
    except ValueRefused as exc:
        raise DatabaseError(f"{p.name}: the backup does not fit this database ({exc}); nothing changed",
                            field="path") from None
    return BackupInfo(path=str(p), schema=str(doc.get("schema")),
                      rows={k: len(v) for k, v in rows_by_table.items()})
