"""The migrations build exactly the schema that tables.py describes, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from topup.adapters.db.migrate import head_revision
from topup.adapters.db.tables import metadata
from topup.bootstrap import Application


def test_migrations_match_the_tables(application: Application) -> None:
    with application.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == head_revision()
        assert compare_metadata(context, metadata) == []
