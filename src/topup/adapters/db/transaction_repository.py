"""Posted business transactions: the history of a line and the facts behind every receipt."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from topup.adapters.db.handle import ConnectionHandle
from topup.adapters.db.tables import ledger_transactions as table
from topup.domain.history import TransactionRecord
from topup.domain.ledger import TransactionKind
from topup.domain.numbers import Msisdn


class SqlTransactionRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def by_verification_code(self, code: str) -> TransactionRecord | None:
        row = self._handle.connection.execute(select(table).where(table.c.verification_code == code)).first()
        return None if row is None else _record(row._mapping)

    def get(self, transaction_id: str) -> TransactionRecord | None:
        row = self._handle.connection.execute(select(table).where(table.c.id == transaction_id)).first()
        return None if row is None else _record(row._mapping)

    def page(
        self,
        msisdn: Msisdn,
        *,
        kinds: Sequence[str],
        created_from: datetime | None,
        created_to: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[TransactionRecord]:
        query = select(table).where(table.c.msisdn == msisdn.e164)
        if kinds:
            query = query.where(table.c.kind.in_(list(kinds)))
        else:  # holds come and go with every charging session: a line's history shows what was charged
            query = query.where(table.c.kind != TransactionKind.RESERVATION.value)
        if created_from is not None:
            query = query.where(table.c.created_at >= created_from)
        if created_to is not None:
            query = query.where(table.c.created_at < created_to)
        if after is not None:
            created_at, transaction_id = after
            query = query.where(
                or_(
                    table.c.created_at < created_at,
                    and_(table.c.created_at == created_at, table.c.id < transaction_id),
                )
            )
        query = query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)
        return [_record(row._mapping) for row in self._handle.connection.execute(query)]


def _record(row: Any) -> TransactionRecord:
    return TransactionRecord(
        id=row["id"],
        msisdn=row["msisdn"],
        operator=row["operator"],
        kind=TransactionKind(row["kind"]),
        channel=row["channel"],
        amount_qepik=row["amount_qepik"],
        vat_qepik=row["vat_qepik"],
        balance_after_qepik=row["balance_after_qepik"],
        valid_until=row["valid_until"],
        created_at=row["created_at"],
        verification_code=row["verification_code"],
        bundle_code=row["bundle_code"],
        bundle_expires_at=row["bundle_expires_at"],
    )


def record_row(record: TransactionRecord) -> dict[str, Any]:
    """The `ledger_transactions` row of a record (written by the ledger, together with its transfers)."""
    return {
        "id": record.id,
        "msisdn": record.msisdn,
        "operator": record.operator,
        "kind": record.kind.value,
        "channel": record.channel,
        "amount_qepik": record.amount_qepik,
        "vat_qepik": record.vat_qepik,
        "balance_after_qepik": record.balance_after_qepik,
        "valid_until": record.valid_until,
        "bundle_code": record.bundle_code,
        "bundle_expires_at": record.bundle_expires_at,
        "created_at": record.created_at,
        "verification_code": record.verification_code,
    }
