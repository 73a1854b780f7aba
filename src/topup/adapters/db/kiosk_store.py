"""Kiosk payments (stored and forwarded by the kiosks) and encashments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update

from topup.adapters.db.handle import ConnectionHandle, dialect_insert
from topup.adapters.db.tables import kiosk_collections, kiosk_payments
from topup.domain.kiosks import Collection, KioskPayment, KioskPaymentState


class SqlKioskRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def add_payment(self, payment: KioskPayment) -> bool:
        """Record it unless the kiosk forwarded this payment id before; True when recorded now (a UNIQUE key on
        the kiosk and its id decides, also when two forwards race)."""
        statement = (
            dialect_insert(self._handle, kiosk_payments)
            .values(
                id=payment.id,
                kiosk_id=payment.kiosk_id,
                local_id=payment.local_id,
                msisdn=payment.msisdn,
                operator=payment.operator,
                inserted_qepik=payment.inserted_qepik,
                fee_qepik=payment.fee_qepik,
                credited_qepik=payment.credited_qepik,
                banknotes=",".join(str(note) for note in payment.banknotes),
                paid_at=payment.paid_at,
                received_at=payment.received_at,
                state=payment.state.value,
                failure_code=payment.failure_code,
                transaction_id=payment.transaction_id,
                collection_id=None,
            )
            .on_conflict_do_nothing(index_elements=[kiosk_payments.c.kiosk_id, kiosk_payments.c.local_id])
            .returning(kiosk_payments.c.id)
        )
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT whatever it did.
        return self._handle.connection.execute(statement).first() is not None

    def payment(self, kiosk_id: str, local_id: str) -> KioskPayment | None:
        row = self._handle.connection.execute(
            select(kiosk_payments).where(kiosk_payments.c.kiosk_id == kiosk_id, kiosk_payments.c.local_id == local_id)
        ).first()
        return None if row is None else _payment(row)

    def uncollected(self, kiosk_id: str) -> list[KioskPayment]:
        rows = self._handle.connection.execute(
            select(kiosk_payments)
            .where(kiosk_payments.c.kiosk_id == kiosk_id, kiosk_payments.c.collection_id.is_(None))
            .order_by(kiosk_payments.c.paid_at, kiosk_payments.c.id)
        )
        return [_payment(row) for row in rows]

    def payments_between(self, kiosk_id: str, start: datetime, end: datetime) -> list[KioskPayment]:
        rows = self._handle.connection.execute(
            select(kiosk_payments)
            .where(
                kiosk_payments.c.kiosk_id == kiosk_id,
                kiosk_payments.c.received_at >= start,
                kiosk_payments.c.received_at < end,
            )
            .order_by(kiosk_payments.c.received_at, kiosk_payments.c.id)
        )
        return [_payment(row) for row in rows]

    def add_collection(self, collection: Collection, payment_ids: list[str]) -> None:
        connection = self._handle.connection
        connection.execute(
            insert(kiosk_collections).values(
                id=collection.id,
                kiosk_id=collection.kiosk_id,
                collected_at=collection.collected_at,
                expected_qepik=collection.expected_qepik,
                counted_qepik=collection.counted_qepik,
                payments=collection.payments,
                collected_by=collection.collected_by,
                note=collection.note,
            )
        )
        if payment_ids:
            connection.execute(
                update(kiosk_payments)
                .where(kiosk_payments.c.id.in_(payment_ids), kiosk_payments.c.collection_id.is_(None))
                .values(collection_id=collection.id)
            )

    def collections(self, kiosk_id: str, *, limit: int) -> list[Collection]:
        rows = self._handle.connection.execute(
            select(kiosk_collections)
            .where(kiosk_collections.c.kiosk_id == kiosk_id)
            .order_by(kiosk_collections.c.collected_at.desc(), kiosk_collections.c.id)
            .limit(limit)
        )
        return [Collection(**dict(row._mapping)) for row in rows]

    def count_payments(self, kiosk_id: str) -> int:
        query = select(func.count()).where(kiosk_payments.c.kiosk_id == kiosk_id)
        return int(self._handle.connection.execute(query).scalar_one())


def _payment(row: Row[Any]) -> KioskPayment:
    values = dict(row._mapping)
    values["banknotes"] = tuple(int(note) for note in values["banknotes"].split(",") if note)
    values["state"] = KioskPaymentState(values["state"])
    return KioskPayment(**values)
