"""Alembic environment: always online, on the connection handed over in
``config.attributes["connection"]`` (see :func:`suanli.market.migrations.upgrade`)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through the alembic CLI
    raise RuntimeError("suanli migrations run through suanli.market.migrations.upgrade(connection)")

context.configure(connection=connection, target_metadata=None,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
