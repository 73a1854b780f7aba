"""The kiosk's durable local store: one SQLite file (WAL, synchronous=FULL, so a paid visit survives a power cut
the moment the customer sees "paid"), holding visits, the payment queue and the last rates the server gave."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path

from topup.domain.kiosk_terminal import ForwardState, QueuedPayment, Visit, VisitState
from topup.services.kiosk_terminal import Rates

_SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS visits_open ON visits (state, created_at);
CREATE TABLE IF NOT EXISTS payments (
    local_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    paid_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_queued ON payments (state, paid_at);
CREATE TABLE IF NOT EXISTS rates (
    operator TEXT PRIMARY KEY,
    fee_basis_points INTEGER NOT NULL,
    minimum_qepik INTEGER NOT NULL,
    maximum_qepik INTEGER NOT NULL
);
"""
BUSY_TIMEOUT_SECONDS = 5.0


class SqliteTerminalStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)

    def add_visit(self, visit: Visit) -> None:
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO visits (id, body, state, created_at) VALUES (?, ?, ?, ?)",
                (visit.id, _visit_body(visit), visit.state.value, visit.created_at.isoformat()),
            )

    def visit(self, visit_id: str) -> Visit | None:
        with self._transaction() as connection:
            row = connection.execute("SELECT body FROM visits WHERE id = ?", (visit_id,)).fetchone()
        return None if row is None else _visit(row[0])

    def save_visit(self, visit: Visit) -> None:
        with self._transaction() as connection:
            connection.execute(
                "UPDATE visits SET body = ?, state = ? WHERE id = ?", (_visit_body(visit), visit.state.value, visit.id)
            )

    def pay(self, visit: Visit, payment: QueuedPayment) -> None:
        with self._transaction() as connection:
            changed = connection.execute(
                "UPDATE visits SET body = ?, state = ? WHERE id = ? AND state = 'open'",
                (_visit_body(visit), visit.state.value, visit.id),
            ).rowcount
            if changed != 1:
                raise RuntimeError("the visit was paid already")  # two taps on "Pay": the first one counts
            connection.execute(
                "INSERT INTO payments (local_id, body, state, paid_at) VALUES (?, ?, ?, ?)",
                (payment.local_id, _payment_body(payment), payment.state.value, payment.paid_at.isoformat()),
            )

    def queued(self, *, limit: int) -> list[QueuedPayment]:
        with self._transaction() as connection:
            rows = connection.execute(
                "SELECT body FROM payments WHERE state = 'queued' ORDER BY paid_at, local_id LIMIT ?", (limit,)
            ).fetchall()
        return [_payment(row[0]) for row in rows]

    def payment(self, local_id: str) -> QueuedPayment | None:
        with self._transaction() as connection:
            row = connection.execute("SELECT body FROM payments WHERE local_id = ?", (local_id,)).fetchone()
        return None if row is None else _payment(row[0])

    def save_payment(self, payment: QueuedPayment) -> None:
        with self._transaction() as connection:
            connection.execute(
                "UPDATE payments SET body = ?, state = ? WHERE local_id = ?",
                (_payment_body(payment), payment.state.value, payment.local_id),
            )

    def abandoned(self, *, before: datetime) -> list[Visit]:
        with self._transaction() as connection:
            rows = connection.execute(
                "SELECT body FROM visits WHERE state = 'open' AND created_at < ? ORDER BY created_at",
                (before.isoformat(),),
            ).fetchall()
        return [_visit(row[0]) for row in rows]

    def remember_rates(self, operator: str, rates: Rates) -> None:
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO rates (operator, fee_basis_points, minimum_qepik, maximum_qepik) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (operator) DO UPDATE SET fee_basis_points = excluded.fee_basis_points,"
                " minimum_qepik = excluded.minimum_qepik, maximum_qepik = excluded.maximum_qepik",
                (operator, rates.fee_basis_points, rates.minimum_qepik, rates.maximum_qepik),
            )

    def rates(self, operator: str) -> Rates | None:
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT fee_basis_points, minimum_qepik, maximum_qepik FROM rates WHERE operator = ?", (operator,)
            ).fetchone()
        return None if row is None else Rates(*row)

    def counts(self) -> dict[str, int]:
        with self._transaction() as connection:
            rows = connection.execute("SELECT state, COUNT(*) FROM payments GROUP BY state").fetchall()
        return dict(rows)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_SECONDS)) as connection:
            connection.execute("PRAGMA synchronous=FULL")  # a paid visit must outlive a power cut
            with connection:
                yield connection


def _visit_body(visit: Visit) -> str:
    return json.dumps(
        {
            "id": visit.id,
            "msisdn": visit.msisdn,
            "national": visit.national,
            "operator": visit.operator,
            "language": visit.language,
            "fee_basis_points": visit.fee_basis_points,
            "minimum_qepik": visit.minimum_qepik,
            "maximum_qepik": visit.maximum_qepik,
            "created_at": visit.created_at.isoformat(),
            "offline": visit.offline,
            "banknotes": visit.banknotes,
            "state": visit.state.value,
            "paid_at": visit.paid_at.isoformat() if visit.paid_at else None,
        }
    )


def _visit(body: str) -> Visit:
    values = json.loads(body)
    values["created_at"] = datetime.fromisoformat(values["created_at"])
    values["paid_at"] = datetime.fromisoformat(values["paid_at"]) if values["paid_at"] else None
    values["state"] = VisitState(values["state"])
    return Visit(**values)


def _payment_body(payment: QueuedPayment) -> str:
    return json.dumps(
        {
            "local_id": payment.local_id,
            "msisdn": payment.msisdn,
            "banknotes": payment.banknotes,
            "paid_at": payment.paid_at.isoformat(),
            "state": payment.state.value,
            "attempts": payment.attempts,
            "forwarded_at": payment.forwarded_at.isoformat() if payment.forwarded_at else None,
            "credited_qepik": payment.credited_qepik,
            "verification_code": payment.verification_code,
            "failure_code": payment.failure_code,
        }
    )


def _payment(body: str) -> QueuedPayment:
    values = json.loads(body)
    values["paid_at"] = datetime.fromisoformat(values["paid_at"])
    values["forwarded_at"] = datetime.fromisoformat(values["forwarded_at"]) if values["forwarded_at"] else None
    values["state"] = ForwardState(values["state"])
    return QueuedPayment(**values)
