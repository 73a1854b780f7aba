"""The sandbox acquirer's own memory: SQLite tables, so its payments and saved cards outlive the process serving
it.

Of a card only the brand and last four digits are kept: never the number, never the security code. A saved
card (card on file) keeps, instead of its number, what the magic card it was would do (`behaviour`), so that a
later payment with it behaves as that card would.
Every change is one conditional UPDATE (no read-then-write), and idempotency rests on a UNIQUE key.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from topup.adapters.payments.sandbox_cards import Decline
from topup.adapters.payments.sandbox_common import create_database, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    request_hash TEXT NOT NULL,
    reference TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    captured_amount INTEGER NOT NULL CHECK (captured_amount BETWEEN 0 AND amount),
    refunded_amount INTEGER NOT NULL CHECK (refunded_amount BETWEEN 0 AND captured_amount),
    brand TEXT NOT NULL,
    last_four TEXT NOT NULL CHECK (length(last_four) = 4),
    decline_code TEXT,
    response_code TEXT,
    decline_message TEXT,
    return_url TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_by_reference ON payments (reference);
CREATE TABLE IF NOT EXISTS saved_cards (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    last_four TEXT NOT NULL CHECK (length(last_four) = 4),
    expiry_month INTEGER NOT NULL CHECK (expiry_month BETWEEN 1 AND 12),
    expiry_year INTEGER NOT NULL,
    behaviour TEXT NOT NULL,
    created_at TEXT NOT NULL,
    removed_at TEXT
);
"""
_SELECT = (
    "SELECT id, reference, amount, currency, status, captured_amount, refunded_amount, brand, last_four,"
    " decline_code, response_code, decline_message, return_url, request_hash FROM payments"
)
_INSERT = (
    "INSERT INTO payments (id, idempotency_key, request_hash, reference, amount, currency, status,"
    " captured_amount, refunded_amount, brand, last_four, decline_code, response_code, decline_message,"
    " return_url, created_at) VALUES (:id, :idempotency_key, :request_hash, :reference, :amount, :currency,"
    " :status, 0, 0, :brand, :last_four, :decline_code, :response_code, :decline_message, :return_url,"
    " :created_at) ON CONFLICT (idempotency_key) DO NOTHING"
)


class State(StrEnum):
    REQUIRES_ACTION = "requires_action"
    AUTHORISED = "authorised"
    DECLINED = "declined"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class StoredPayment:
    id: str
    reference: str
    amount: int
    currency: str
    status: State
    captured_amount: int
    refunded_amount: int
    brand: str
    last_four: str
    decline: Decline | None
    return_url: str


@dataclass(frozen=True, slots=True)
class StoredCard:
    id: str
    brand: str
    last_four: str
    expiry_month: int
    expiry_year: int
    behaviour: str  # a magic card's outcome or decline code (sandbox_cards.behaviour_name)
    removed: bool


class IdempotencyConflict(Exception):
    """The idempotency key was used before, for a different request."""


class SandboxStore:
    def __init__(self, database_path: Path) -> None:
        self._path = database_path
        create_database(database_path, _SCHEMA)

    def insert(
        self, payment: StoredPayment, *, idempotency_key: str, request_hash: str, created_at: str
    ) -> tuple[StoredPayment, bool]:
        """Records `payment`, or returns the one recorded before under the same key (and False)."""
        decline = payment.decline
        values = {
            "id": payment.id,
            "idempotency_key": idempotency_key,
            "request_hash": request_hash,
            "reference": payment.reference,
            "amount": payment.amount,
            "currency": payment.currency,
            "status": payment.status.value,
            "brand": payment.brand,
            "last_four": payment.last_four,
            "decline_code": decline.code if decline else None,
            "response_code": decline.response_code if decline else None,
            "decline_message": decline.message if decline else None,
            "return_url": payment.return_url,
            "created_at": created_at,
        }
        with transaction(self._path) as connection:
            inserted = connection.execute(_INSERT, values).rowcount
            row = connection.execute(f"{_SELECT} WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
        if row["request_hash"] != request_hash:
            raise IdempotencyConflict(idempotency_key)
        return _payment(row), inserted == 1

    def replay(self, idempotency_key: str, *, request_hash: str) -> StoredPayment | None:
        """The payment recorded before under `idempotency_key`, if any: a repeat is answered from here without
        looking at the request again (a Google Pay token repeated after it expired must still get its payment).
        Only a shortcut: `insert` alone decides, by the UNIQUE key, when two requests race."""
        row = self._row(f"{_SELECT} WHERE idempotency_key = ?", idempotency_key)
        if row is None:
            return None
        if row["request_hash"] != request_hash:
            raise IdempotencyConflict(idempotency_key)
        return _payment(row)

    def get(self, payment_id: str) -> StoredPayment | None:
        return self._one(f"{_SELECT} WHERE id = ?", payment_id)

    def latest_for(self, reference: str) -> StoredPayment | None:
        return self._one(f"{_SELECT} WHERE reference = ? ORDER BY rowid DESC LIMIT 1", reference)

    def capture(self, payment_id: str, amount: int) -> tuple[StoredPayment, bool] | None:
        return self._update(
            "UPDATE payments SET status = 'captured', captured_amount = :amount"
            " WHERE id = :id AND status = 'authorised' AND :amount <= amount",
            id=payment_id,
            amount=amount,
        )

    def void(self, payment_id: str) -> tuple[StoredPayment, bool] | None:
        return self._update(
            "UPDATE payments SET status = 'voided' WHERE id = :id AND status = 'authorised'", id=payment_id
        )

    def refund(self, payment_id: str, amount: int) -> tuple[StoredPayment, bool] | None:
        # SET expressions read the row as it was: the CASE compares the old refunded amount plus this one.
        return self._update(
            "UPDATE payments SET refunded_amount = refunded_amount + :amount,"
            " status = CASE WHEN refunded_amount + :amount = captured_amount THEN 'refunded' ELSE status END"
            " WHERE id = :id AND status = 'captured' AND refunded_amount + :amount <= captured_amount",
            id=payment_id,
            amount=amount,
        )

    def settle_challenge(self, payment_id: str, decline: Decline | None) -> tuple[StoredPayment, bool] | None:
        """Authorised when `decline` is None; only a payment still waiting for its challenge changes."""
        return self._update(
            "UPDATE payments SET status = :status, decline_code = :code, response_code = :response_code,"
            " decline_message = :message WHERE id = :id AND status = 'requires_action'",
            id=payment_id,
            status=State.DECLINED.value if decline else State.AUTHORISED.value,
            code=decline.code if decline else None,
            response_code=decline.response_code if decline else None,
            message=decline.message if decline else None,
        )

    def save_card(self, card: StoredCard, *, created_at: str) -> StoredCard:
        with transaction(self._path) as connection:
            connection.execute(
                "INSERT INTO saved_cards (id, brand, last_four, expiry_month, expiry_year, behaviour, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (card.id, card.brand, card.last_four, card.expiry_month, card.expiry_year, card.behaviour, created_at),
            )
        return card

    def card(self, card_id: str) -> StoredCard | None:
        row = self._row("SELECT * FROM saved_cards WHERE id = ?", card_id)
        if row is None:
            return None
        return StoredCard(
            id=row["id"],
            brand=row["brand"],
            last_four=row["last_four"],
            expiry_month=row["expiry_month"],
            expiry_year=row["expiry_year"],
            behaviour=row["behaviour"],
            removed=row["removed_at"] is not None,
        )

    def remove_card(self, card_id: str, *, removed_at: str) -> bool:
        """False when there is no such card; removing a removed card changes nothing and is no error."""
        with transaction(self._path) as connection:
            connection.execute(
                "UPDATE saved_cards SET removed_at = ? WHERE id = ? AND removed_at IS NULL", (removed_at, card_id)
            )
            return connection.execute("SELECT 1 FROM saved_cards WHERE id = ?", (card_id,)).fetchone() is not None

    def _update(self, statement: str, **parameters: Any) -> tuple[StoredPayment, bool] | None:
        """Runs a conditional UPDATE; returns the payment as it now is and whether the statement changed it."""
        with transaction(self._path) as connection:
            changed = connection.execute(statement, parameters).rowcount
            row = connection.execute(f"{_SELECT} WHERE id = ?", (parameters["id"],)).fetchone()
        return None if row is None else (_payment(row), changed == 1)

    def _one(self, query: str, parameter: str) -> StoredPayment | None:
        row = self._row(query, parameter)
        return None if row is None else _payment(row)

    def _row(self, query: str, parameter: str) -> sqlite3.Row | None:
        with transaction(self._path) as connection:
            row: sqlite3.Row | None = connection.execute(query, (parameter,)).fetchone()
        return row


def _payment(row: sqlite3.Row) -> StoredPayment:
    decline = None
    if row["decline_code"] is not None:
        decline = Decline(row["decline_code"], row["response_code"], row["decline_message"])
    return StoredPayment(
        id=row["id"],
        reference=row["reference"],
        amount=row["amount"],
        currency=row["currency"],
        status=State(row["status"]),
        captured_amount=row["captured_amount"],
        refunded_amount=row["refunded_amount"],
        brand=row["brand"],
        last_four=row["last_four"],
        decline=decline,
        return_url=row["return_url"],
    )
