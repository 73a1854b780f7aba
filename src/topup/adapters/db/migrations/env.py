"""Alembic environment: run by `topup db upgrade` (topup.adapters.db.migrate), never by hand-edited ini files."""

from __future__ import annotations

from alembic import context

from topup.adapters.db.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
