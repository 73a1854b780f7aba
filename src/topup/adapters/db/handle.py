"""The open connection of a unit of work, shared by its repositories, and the writes it holds back.

On PostgreSQL every statement is a round trip, and on the hot paths (a top-up, a charging session) several
writes at the end of a transaction return nothing anyone reads: the line's new validity, a queued notification,
the session row, the idempotency record. Such a write is *pending* until the transaction's next statement,
which carries it (data-modifying CTEs run exactly once each, in one statement), or until the commit. Any use
of `connection` sends the pending writes first, so every read sees every earlier write, as if each had been
executed at once. On SQLite (in-process, no round trip) a pending write is executed at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, CursorResult, Executable, Table, TextClause, text
from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

UpsertInsert = PostgresqlInsert | SqliteInsert
PENDING_WRITES_MAX = 8  # a bound on a statement's size; more are sent at once
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


@dataclass(frozen=True, slots=True)
class Write:
    """One write that may be held back: `postgresql` is its SQL with `:named` parameters (no casts), `statement`
    the same write as a Core statement, executed as is on SQLite. `table` keeps two writes to one table out of
    one statement: a row changed twice by one statement keeps only one of the changes."""

    table: str
    postgresql: str
    statement: Executable


class ConnectionHandle:
    def __init__(self) -> None:
        self._connection: Connection | None = None
        self._pending: list[tuple[Write, dict[str, Any]]] = []

    @property
    def connection(self) -> Connection:
        """The connection, once the pending writes are sent: whoever uses it sees them done."""
        connection = self._bound()
        if self._pending:
            self.flush()
        return connection

    @property
    def dialect(self) -> str:
        return self._bound().dialect.name

    def bind(self, connection: Connection | None) -> None:
        self._connection = connection
        self._pending = []  # a new or ended transaction: what the last one held back went with its rollback

    def defer(self, write: Write, parameters: dict[str, Any]) -> None:
        """Execute `write` now on SQLite; hold it for the next statement on PostgreSQL."""
        connection = self._bound()
        if connection.dialect.name != "postgresql":
            connection.execute(write.statement, parameters)
            return
        if len(self._pending) >= PENDING_WRITES_MAX or any(held.table == write.table for held, _ in self._pending):
            self.flush()
        self._pending.append((write, parameters))

    def execute_carrying(self, write: Write, parameters: dict[str, Any]) -> CursorResult[Any]:
        """Execute `write` (which may return rows) now, carrying the pending writes in the same statement."""
        connection = self._bound()
        if connection.dialect.name != "postgresql":
            return connection.execute(write.statement, parameters)
        return self._send(write, parameters)

    def flush(self) -> None:
        """Send the pending writes (before a commit, and before any other statement)."""
        if self._pending:
            self._send(None, {})

    def _send(self, carrier: Write | None, parameters: dict[str, Any]) -> CursorResult[Any]:
        pending, self._pending = self._pending, []
        merged = {f"c_{name}": value for name, value in parameters.items()}
        for index, (_, values) in enumerate(pending):
            merged.update({f"w{index}_{name}": value for name, value in values.items()})
        statement = _combined(tuple(write for write, _ in pending), carrier)
        return self._bound().execute(statement, merged)

    def _bound(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("repository used outside `with uow:`")
        return self._connection


@cache
def _combined(pending: tuple[Write, ...], carrier: Write | None) -> TextClause:
    """One statement per shape (a handful in the code), so SQLAlchemy and the server reuse its compiled form."""
    main = "SELECT 1" if carrier is None else _prefixed(carrier.postgresql, "c_")
    if not pending:
        return text(main)
    parts = (f"w{index} AS ({_prefixed(write.postgresql, f'w{index}_')})" for index, write in enumerate(pending))
    return text(f"WITH {', '.join(parts)} {main}")


def _prefixed(sql: str, prefix: str) -> str:
    return _PARAMETER.sub(lambda found: f":{prefix}{found.group(1)}", sql)


def dialect_insert(handle: ConnectionHandle, table: Table) -> UpsertInsert:
    """An INSERT that knows ON CONFLICT on both SQLite and PostgreSQL."""
    if handle.dialect == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)
