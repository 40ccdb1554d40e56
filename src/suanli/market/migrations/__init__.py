"""Schema migrations (Alembic), run from the installed package.

:func:`upgrade` brings a database to :data:`HEAD` inside the caller's transaction (the
caller, :func:`suanli.market.db.ensure_schema`, holds the write lock: ``BEGIN IMMEDIATE``
on SQLite, an advisory lock on PostgreSQL, so two processes never migrate at once).
Alembic's version table ``alembic_version`` records what was applied.

A new migration is a file in ``versions/`` with ``down_revision`` set to the previous
one; bump :data:`HEAD` with it (a test checks that it matches Alembic's head).
"""

from __future__ import annotations

from typing import Any

HEAD = "0002"
VERSION_TABLE = "alembic_version"


def _config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "suanli.market:migrations")
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Any, revision: str = "head") -> None:
    """Run the migrations on ``connection`` (a SQLAlchemy Connection, in a transaction)."""
    from alembic import command

    command.upgrade(_config(connection), revision)


def script_head() -> str | None:
    """The head revision as Alembic sees the ``versions/`` files."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(None)).get_current_head()
