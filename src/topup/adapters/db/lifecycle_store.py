"""The lifecycle jobs' queues: expired buckets not dealt with yet, and bundle renewals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from topup.adapters.db.handle import ConnectionHandle
from topup.adapters.db.tables import accounts, bundle_renewals, lines
from topup.domain.ledger import AccountKind, Unit
from topup.domain.lifecycle import ExpiredBucket, Renewal, RenewalState
from topup.domain.lines import LineType

_UNSETTLED_BUCKET = and_(accounts.c.kind == AccountKind.BUCKET.value, accounts.c.settled_at.is_(None))


class SqlLifecycleRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def lines_with_expired_buckets(self, *, now: datetime, limit: int) -> list[str]:
        """Numbers with buckets expired by `now` and not settled yet (through the partial index: the work grows
        with the expired bundles, not with the lines), earliest expiry first."""
        rows = self._handle.connection.execute(
            select(accounts.c.msisdn, accounts.c.expires_at)
            .where(_UNSETTLED_BUCKET, accounts.c.expires_at <= now)
            .order_by(accounts.c.expires_at)
            .limit(limit)
        )
        return list(dict.fromkeys(row.msisdn for row in rows))

    def expired_buckets(self, msisdn: str, *, now: datetime) -> list[ExpiredBucket]:
        """The line's expired, unsettled buckets, locked (call with the line locked first, as postings do)."""
        query = (
            select(accounts)
            .where(_UNSETTLED_BUCKET, accounts.c.msisdn == msisdn, accounts.c.expires_at <= now)
            .order_by(accounts.c.id)
            .with_for_update()
        )
        return [
            ExpiredBucket(
                account_id=row.id,
                msisdn=row.msisdn,
                unit=Unit(row.unit),
                balance=row.balance,
                bundle_code=row.bundle_code,
                purchase_id=row.transaction_id,
                expires_at=row.expires_at,
            )
            for row in self._handle.connection.execute(query)
        ]

    def mark_settled(self, account_ids: Sequence[int], *, now: datetime) -> None:
        if account_ids:
            self._handle.connection.execute(
                update(accounts).where(accounts.c.id.in_(list(account_ids))).values(settled_at=now)
            )

    def lines_past_grace(self, operator: str, *, valid_before: date, limit: int) -> list[str]:
        """Prepaid lines of `operator` whose usage period ended before `valid_before` and that still hold money."""
        rows = self._handle.connection.execute(
            select(lines.c.msisdn)
            .join(accounts, accounts.c.id == lines.c.main_account_id)
            .where(
                lines.c.operator == operator,
                lines.c.valid_until < valid_before,
                lines.c.type == LineType.PREPAID.value,
                accounts.c.balance > 0,
            )
            .order_by(lines.c.valid_until)
            .limit(limit)
        )
        return [row.msisdn for row in rows]

    def buckets_expiring(self, *, after: datetime, until: datetime, limit: int) -> list[ExpiredBucket]:
        """Buckets that expire in (after, until], soonest first (through the unsettled-bucket index)."""
        rows = self._handle.connection.execute(
            select(accounts)
            .where(_UNSETTLED_BUCKET, accounts.c.expires_at > after, accounts.c.expires_at <= until)
            .order_by(accounts.c.expires_at)
            .limit(limit)
        )
        return [
            ExpiredBucket(
                row.id, row.msisdn, Unit(row.unit), row.balance, row.bundle_code, row.transaction_id, row.expires_at
            )
            for row in rows
        ]

    def lines_valid_until(self, operator: str, day: date, *, limit: int) -> list[str]:
        rows = self._handle.connection.execute(
            select(lines.c.msisdn)
            .where(lines.c.operator == operator, lines.c.valid_until == day, lines.c.type == LineType.PREPAID.value)
            .limit(limit)
        )
        return [row.msisdn for row in rows]

    def add_renewal(self, renewal: Renewal) -> None:
        """Queue it, unless this purchase's renewal is queued already (the trigger fires once)."""
        insert = postgresql.insert if self._handle.dialect == "postgresql" else sqlite.insert
        self._handle.connection.execute(
            insert(bundle_renewals)
            .values(**_row(renewal))
            .on_conflict_do_nothing(index_elements=["source_transaction_id"])
        )

    def due_renewals(self, *, now: datetime, limit: int) -> list[str]:
        query = (
            select(bundle_renewals.c.source_transaction_id)
            .where(bundle_renewals.c.state == RenewalState.PENDING.value, bundle_renewals.c.next_attempt_at <= now)
            .order_by(bundle_renewals.c.next_attempt_at)
            .limit(limit)
        )
        if self._handle.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [row.source_transaction_id for row in self._handle.connection.execute(query)]

    def renewal(self, source_transaction_id: str, *, for_update: bool = False) -> Renewal | None:
        query = select(bundle_renewals).where(bundle_renewals.c.source_transaction_id == source_transaction_id)
        if for_update:
            query = query.with_for_update()
        row = self._handle.connection.execute(query).first()
        return None if row is None else _renewal(row)

    def renewals_of(self, msisdn: str) -> list[Renewal]:
        rows = self._handle.connection.execute(
            select(bundle_renewals).where(bundle_renewals.c.msisdn == msisdn).order_by(bundle_renewals.c.created_at)
        )
        return [_renewal(row) for row in rows]

    def save_renewal(self, renewal: Renewal) -> None:
        row = _row(renewal)
        del row["source_transaction_id"]
        self._handle.connection.execute(
            update(bundle_renewals)
            .where(bundle_renewals.c.source_transaction_id == renewal.source_transaction_id)
            .values(**row)
        )


def _row(renewal: Renewal) -> dict[str, Any]:
    return {
        "source_transaction_id": renewal.source_transaction_id,
        "msisdn": renewal.msisdn,
        "bundle_code": renewal.bundle_code,
        "state": renewal.state.value,
        "attempts": renewal.attempts,
        "next_attempt_at": renewal.next_attempt_at,
        "give_up_at": renewal.give_up_at,
        "renewed_transaction_id": renewal.renewed_transaction_id,
        "last_failure": renewal.last_failure,
        "created_at": renewal.created_at,
        "updated_at": renewal.updated_at or renewal.created_at,
    }


def _renewal(row: Row[Any]) -> Renewal:
    return Renewal(
        source_transaction_id=row.source_transaction_id,
        msisdn=row.msisdn,
        bundle_code=row.bundle_code,
        give_up_at=row.give_up_at,
        created_at=row.created_at,
        state=RenewalState(row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        renewed_transaction_id=row.renewed_transaction_id,
        last_failure=row.last_failure,
        updated_at=row.updated_at,
    )
