"""The open connection of a unit of work, shared by its repositories."""

from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

UpsertInsert = PostgresqlInsert | SqliteInsert


class ConnectionHandle:
    def __init__(self) -> None:
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("repository used outside `with uow:`")
        return self._connection

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name

    def bind(self, connection: Connection | None) -> None:
        self._connection = connection


def dialect_insert(handle: ConnectionHandle, table: Table) -> UpsertInsert:
    """An INSERT that knows ON CONFLICT on both SQLite and PostgreSQL."""
    if handle.dialect == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)
