"""Where the market database lives and how to open it.

* Default: a SQLite file ``market.sqlite3`` in the user data directory
  (``platformdirs.user_data_dir("suanli")``), in WAL mode with a busy timeout, created,
  migrated and seeded from the bundled data on first use.
* ``SUANLI_DATABASE_URL`` or an explicit URL (the CLI's ``--db``) selects another database:
  ``sqlite:///path``, a plain file path, or PostgreSQL (``postgresql://...`` is read as
  ``postgresql+psycopg://...``, the psycopg 3 driver).

Writes go through :meth:`Database.write`, one transaction that holds the database's write
lock from its first statement (``BEGIN IMMEDIATE`` on SQLite, so two writers queue on the
busy timeout instead of failing half-way); PostgreSQL relies on row locks of the unique
constraints (``ON CONFLICT DO NOTHING`` waits for a concurrent insert of the same row).
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from suanli.market.errors import DatabaseError, ValueRefused

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

ENV_URL = "SUANLI_DATABASE_URL"
DEFAULT_FILE = "market.sqlite3"
BUSY_TIMEOUT_S = 60.0
# key of the PostgreSQL advisory lock taken while migrating / seeding
_PG_LOCK_KEY = 0x5A4E4C49  # "ZNLI"
_BUNDLE_KEY = "bundle_sha256"
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def default_sqlite_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("suanli", appauthor=False)) / DEFAULT_FILE


def resolve_url(url: str | None = None) -> str:
    """The SQLAlchemy URL to use: ``url``, else ``$SUANLI_DATABASE_URL``, else the default
    SQLite file.  A bare path means a SQLite file."""
    raw = (url or os.environ.get(ENV_URL) or "").strip()
    if not raw:
        return f"sqlite:///{default_sqlite_path()}"
    if "://" not in raw:
        return f"sqlite:///{Path(raw).expanduser().resolve()}"
    scheme, rest = raw.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if scheme.startswith(("postgresql", "sqlite")):
        return raw
    raise DatabaseError(f"unsupported database URL scheme {scheme!r}: use sqlite:///PATH or postgresql://...",
                        field="db")


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a message helper must not fail
        return url.split("@")[-1]


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    db = make_url(url).database
    return Path(db) if db and db != ":memory:" and not db.startswith("file:") else None


def make_engine(url: str) -> Engine:
    """An Engine for ``url`` with the connection set-up described in the module doc."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        if url.startswith("sqlite"):
            path = _sqlite_file(url)
            if path is not None:
                _create_private(path)
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
            _sqlite_events(engine, event)
        else:
            engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise DatabaseError(f"no driver for {redact(url)} ({exc}); PostgreSQL needs psycopg: "
                            "pip install 'suanli[market]'", field="db") from None
    except ArgumentError as exc:
        raise DatabaseError(f"bad database URL {redact(url)}: {exc}", field="db") from None
    return engine


def _create_private(path: Path) -> None:
    """The directories of a new SQLite file with mode 0700 and the file itself with 0600
    (SQLite gives its -wal/-shm files the database file's mode), whatever the umask."""
    from suanli.files import PRIVATE_FILE, private_dir

    try:
        private_dir(path.parent)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
            os.close(fd)
            os.chmod(path, PRIVATE_FILE)
    except FileExistsError:
        pass  # created concurrently by another process
    except OSError as exc:
        raise DatabaseError(f"cannot create the database file {path}: {exc.strerror}", field="db") from None


def database_files(url: str | None = None) -> list[Path]:
    """The files a SQLite database lives in (the database and its -wal, -shm and -journal
    files), resolved; empty for a server database.  Outputs must never be written there."""
    resolved = resolve_url(url)
    path = _sqlite_file(resolved) if resolved.startswith("sqlite") else None
    if path is None:
        return []
    path = path.expanduser().resolve(strict=False)
    return [path] + [path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")]


def _sqlite_events(engine: Engine, event: Any) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("suanli_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@dataclass
class Database:
    """An open market database: the engine, its URL and dialect name."""

    url: str
    engine: Engine = field(repr=False)

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    @property
    def display_url(self) -> str:
        return redact(self.url)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction."""
        with _wrap_errors(self), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed if the block ends normally, rolled back on any
        exception.  Holds the write lock from its start on SQLite."""
        with _wrap_errors(self), self.engine.connect() as conn:
            conn.execution_options(suanli_write=True)
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '60s'")
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _wrap_errors(db: Database) -> Iterator[None]:
    """Every error of the database or its driver as a :class:`SuanliError`: a value the
    database refuses (NUL in text, out of range, a constraint) is :class:`ValueRefused`;
    anything else (unreachable, locked, not a database at all) is :class:`DatabaseError`."""
    from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

    try:
        yield
    except DBAPIError as exc:
        if isinstance(exc, (DataError, IntegrityError)):
            refused = ValueRefused(f"the database refused a value: {_reason(exc)}")
            refused.orig = exc
            raise refused from None
        err = DatabaseError(f"database {db.display_url}: {_reason(exc)}", field="db")
        # deadlock / serialization failure: the transaction may simply be run again
        err.retryable = getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES
        raise err from None
    except StatementError as exc:  # a value the driver cannot bind (no DBAPI error behind it)
        refused = ValueRefused(f"the database refused a value: {_reason(exc)}")
        refused.orig = exc
        raise refused from None
    except Exception as exc:  # the driver's own error, from a raw cursor (COPY, the index's fast read)
        kind = _driver_error(exc)
        if kind is None:
            raise
        if kind in ("DataError", "IntegrityError"):
            refused = ValueRefused(f"the database refused a value: {_reason(exc)}")
            refused.orig = exc
            raise refused from None
        err = DatabaseError(f"database {db.display_url}: {_reason(exc)}", field="db")
        err.retryable = getattr(exc, "sqlstate", None) in RETRYABLE_SQLSTATES
        raise err from None


def _driver_error(exc: BaseException) -> str | None:
    """The PEP 249 class name (DataError, OperationalError, ...) of a sqlite3 or psycopg
    error; None for anything else."""
    names = [c.__name__ for c in type(exc).__mro__
             if c.__module__.split(".")[0] in ("sqlite3", "_sqlite3", "psycopg")]
    for name in ("DataError", "IntegrityError", "DatabaseError", "InterfaceError"):
        if name in names:
            return name
    return None


def _reason(exc: Any) -> str:
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())[:300]


def open_db(url: str | None = None, *, migrate: bool = True, seed: bool = True) -> Database:
    """Open (and by default create, migrate and seed) the market database."""
    resolved = resolve_url(url)
    db = Database(url=resolved, engine=make_engine(resolved))
    if migrate:
        ensure_schema(db, seed=seed)
    return db


def schema_version(conn: Connection) -> str | None:
    """The applied migration, or None for an empty database."""
    from sqlalchemy import inspect, text

    from suanli.market.migrations import VERSION_TABLE

    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    row = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return None if row is None else str(row[0])


def _meta(conn: Connection, key: str) -> str | None:
    from sqlalchemy import select

    from suanli.market.schema import market_meta

    return conn.execute(select(market_meta.c.value).where(market_meta.c.key == key)).scalar()


def bundle_digest() -> str:
    """SHA-256 over the bundled seed files (a changed bundle is seeded again)."""
    from suanli.market.seed import bundled_files

    h = hashlib.sha256()
    for name, data in bundled_files():
        h.update(name.encode() + b"\0" + data)
    return h.hexdigest()


def ensure_schema(db: Database, *, seed: bool = True) -> str:
    """Migrate ``db`` to the head revision and (``seed``) load the bundled data when the
    database is new or the bundle changed.  Safe to call from several processes at once:
    the work happens under the write lock and is re-checked there.  Returns the version."""
    from suanli.market.migrations import HEAD

    digest = bundle_digest() if seed else None
    with db.read() as conn:
        version = schema_version(conn)
        if version == HEAD and (not seed or _meta(conn, _BUNDLE_KEY) == digest):
            return version
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        version = schema_version(conn)
        if version is not None and version != HEAD and not _known_revision(version):
            raise DatabaseError(f"database {db.display_url} is at schema {version}, newer than this "
                                f"suanli ({HEAD}); upgrade suanli")
        if version != HEAD:
            from suanli.market.migrations import upgrade

            upgrade(conn)
        if seed and _meta(conn, _BUNDLE_KEY) != digest:
            from suanli.market.seed import seed_bundled

            seed_bundled(conn)
            _set_meta(conn, _BUNDLE_KEY, digest or "")
    return HEAD


def _known_revision(version: str) -> bool:
    from pathlib import Path as _P

    versions = _P(__file__).parent / "migrations" / "versions"
    return any(p.name.startswith(f"{version}_") for p in versions.glob("*.py"))


def _set_meta(conn: Connection, key: str, value: str) -> None:
    from sqlalchemy import delete, insert

    from suanli.market.schema import market_meta

    conn.execute(delete(market_meta).where(market_meta.c.key == key))
    conn.execute(insert(market_meta).values(key=key, value=value))


def location(url: str | None = None) -> str:
    """Human-readable place of the database: the file path for SQLite, else the URL
    without password."""
    resolved = resolve_url(url)
    path = _sqlite_file(resolved) if resolved.startswith("sqlite") else None
    return str(path) if path is not None else redact(resolved)
