# ruff: noqa: S608 - the SQL is built only from the constant column names below and loop counters; values are bound
"""PostgreSQL: write a whole posting — record, transfers, guarded balance increments — in one statement.

A posting is on every top-up's path, and each round trip to the server costs more than the work it carries.
Data-modifying CTEs run exactly once each, in one statement, so the posting costs one round trip instead of
two plus one per account. A guarded increment that would take a balance below zero updates no row, returns
nothing, and the caller raises (rolling back the whole transaction, record and transfers included).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, TextClause, text

_RECORD_COLUMNS = (
    "id",
    "msisdn",
    "operator",
    "kind",
    "channel",
    "amount_qepik",
    "vat_qepik",
    "balance_after_qepik",
    "valid_until",
    "bundle_code",
    "bundle_expires_at",
    "created_at",
    "verification_code",
)
_TRANSFER_COLUMNS = (
    "transaction_id",
    "debit_account_id",
    "credit_account_id",
    "amount",
    "unit",
    "msisdn",
    "created_at",
)


@cache
def _statement(transfer_count: int, update_count: int, with_record: bool = True) -> TextClause:
    """One statement per shape, so SQLAlchemy and the server reuse its compiled form. Without a record: an
    agent's movement, whose record is in the agents' own table."""
    parts = [
        f"u{i} AS (UPDATE accounts SET balance = balance + :change_{i} "
        f"WHERE id = :account_{i} AND tracks_balance AND balance + :change_{i} >= 0 RETURNING id, balance)"
        for i in range(update_count)
    ]
    if with_record:
        record_values = ", ".join(f":r_{column}" for column in _RECORD_COLUMNS)
        parts.append(f"r AS (INSERT INTO ledger_transactions ({', '.join(_RECORD_COLUMNS)}) VALUES ({record_values}))")
    transfer_values = ", ".join(
        "(" + ", ".join(f":t{j}_{column}" for column in _TRANSFER_COLUMNS) + ")" for j in range(transfer_count)
    )
    parts.append(f"t AS (INSERT INTO transfers ({', '.join(_TRANSFER_COLUMNS)}) VALUES {transfer_values})")
    selects = " UNION ALL ".join(f"SELECT id, balance FROM u{i}" for i in range(update_count))
    return text("WITH " + ", ".join(parts) + " " + (selects or "SELECT NULL AS id, NULL AS balance WHERE false"))


def post_in_one_round_trip(
    connection: Connection,
    record: dict[str, Any] | None,
    transfer_rows: list[dict[str, Any]],
    tracked_changes: list[tuple[int, int]],
) -> dict[int, int]:
    """Returns the new balance of each tracked account that could be changed (a refused one is missing)."""
    parameters: dict[str, Any] = {} if record is None else {f"r_{c}": record[c] for c in _RECORD_COLUMNS}
    for j, row in enumerate(transfer_rows):
        parameters.update({f"t{j}_{column}": row[column] for column in _TRANSFER_COLUMNS})
    for i, (account_id, change) in enumerate(tracked_changes):
        parameters[f"account_{i}"] = account_id
        parameters[f"change_{i}"] = change
    rows = connection.execute(_statement(len(transfer_rows), len(tracked_changes), record is not None), parameters)
    return {int(account_id): int(balance) for account_id, balance in rows}
