"""Bulk-provision benchmark lines straight into the tables, the rows `lines.provision_line` would write.

Provisioning a million lines through the service would take most of the run, so the rows are written in
bulk: one main account (qepik, tracked balance 0) and one active prepaid Azercell line per number.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime

NUMBER_PREFIX = "+99450"  # Azercell's 050 prefix: 10,000,000 numbers, all valid mobile numbers
NUMBERS_MAX = 10_000_000
PG_CHUNK_LINES = 100_000
SQLITE_CHUNK_LINES = 20_000


def number_for(index: int) -> str:
    """The index-th benchmark number, "+994500000000", "+994500000001", ..."""
    if not 0 <= index < NUMBERS_MAX:
        raise ValueError(f"line index {index} outside 0..{NUMBERS_MAX - 1}")
    return f"{NUMBER_PREFIX}{index:07d}"


_PG_INSERT_CHUNK = """
WITH new_accounts AS (
    INSERT INTO accounts (kind, unit, msisdn, balance, tracks_balance, initial, created_at)
    SELECT 'main', 'qepik', %(prefix)s || lpad(i::text, 7, '0'), 0, true, 0, now()
    FROM generate_series(%(first)s::int, %(last)s::int) AS i
    RETURNING id, msisdn, created_at
)
INSERT INTO lines (msisdn, operator, type, status, language, iccid, valid_until, main_account_id,
                   created_at, updated_at)
SELECT msisdn, 'azercell', 'prepaid', 'active', 'az', NULL, NULL, id, created_at, created_at
FROM new_accounts
"""


def provision_pg(
    conninfo: str, first: int, stop: int, *, progress: Callable[[int, float], None] | None = None
) -> float:
    """Lines number_for(first) .. number_for(stop - 1), generated server-side in chunks of 100,000 (one
    INSERT ... SELECT generate_series per chunk: no rows cross the socket), then VACUUM ANALYZE.
    Returns the seconds it took."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as connection:
        for chunk_first in range(first, stop, PG_CHUNK_LINES):
            chunk_last = min(stop, chunk_first + PG_CHUNK_LINES) - 1
            with connection.transaction():
                connection.execute(
                    _PG_INSERT_CHUNK, {"prefix": NUMBER_PREFIX, "first": chunk_first, "last": chunk_last}
                )
            if progress is not None:
                progress(chunk_last + 1 - first, time.perf_counter() - started)
        connection.execute("VACUUM ANALYZE accounts")
        connection.execute("VACUUM ANALYZE lines")
    return time.perf_counter() - started


def sqlite_timestamp(moment: datetime) -> str:
    """How SQLAlchemy stores a UtcDateTime on SQLite: naive UTC text with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def provision_sqlite(path: str, first: int, stop: int) -> float:
    """The same rows on SQLite, with explicit account ids, in one transaction per chunk."""
    started = time.perf_counter()
    now = sqlite_timestamp(datetime.now(UTC))
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        for chunk_first in range(first, stop, SQLITE_CHUNK_LINES):
            chunk_stop = min(stop, chunk_first + SQLITE_CHUNK_LINES)
            connection.execute("BEGIN IMMEDIATE")
            (next_id,) = connection.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM accounts").fetchone()
            numbered = [(next_id + offset, number_for(i)) for offset, i in enumerate(range(chunk_first, chunk_stop))]
            connection.executemany(
                "INSERT INTO accounts (id, kind, unit, msisdn, balance, tracks_balance, initial, created_at) "
                "VALUES (?, 'main', 'qepik', ?, 0, 1, 0, ?)",
                [(account_id, number, now) for account_id, number in numbered],
            )
            connection.executemany(
                "INSERT INTO lines (msisdn, operator, type, status, language, iccid, valid_until, "
                "main_account_id, created_at, updated_at) "
                "VALUES (?, 'azercell', 'prepaid', 'active', 'az', NULL, NULL, ?, ?, ?)",
                [(number, account_id, now, now) for account_id, number in numbered],
            )
            connection.execute("COMMIT")
        connection.execute("ANALYZE")
    finally:
        connection.close()
    return time.perf_counter() - started
