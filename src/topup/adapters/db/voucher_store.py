"""Scratch-card vouchers, their batches and audit trail, and lockouts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update

from topup.adapters.db.handle import ConnectionHandle, dialect_insert
from topup.adapters.db.tables import lockouts, voucher_batches, voucher_events, vouchers
from topup.domain.vouchers import Batch, Voucher, VoucherEvent, VoucherState

_INSERT_CHUNK = 1000  # cards per INSERT while a batch is generated


class SqlVoucherRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def add_batch(self, batch: Batch) -> None:
        self._handle.connection.execute(
            insert(voucher_batches).values(
                id=batch.id,
                operator=batch.operator,
                nominal_qepik=batch.nominal_qepik,
                count=batch.count,
                expires_at=batch.expires_at,
                created_at=batch.created_at,
                created_by=batch.created_by,
            )
        )

    def add_cards(self, cards: Sequence[tuple[Voucher, str]], *, actor: str) -> None:
        """Cards with their PIN hashes, and their "generated" audit events."""
        connection = self._handle.connection
        for start in range(0, len(cards), _INSERT_CHUNK):
            chunk = cards[start : start + _INSERT_CHUNK]
            connection.execute(
                insert(vouchers),
                [
                    {
                        "serial": card.serial,
                        "batch_id": card.batch_id,
                        "operator": card.operator,
                        "nominal_qepik": card.nominal_qepik,
                        "pin_hash": pin_hash,
                        "state": card.state.value,
                        "agent_id": None,
                        "expires_at": card.expires_at,
                        "created_at": card.created_at,
                        "updated_at": card.updated_at,
                    }
                    for card, pin_hash in chunk
                ],
            )
            connection.execute(
                insert(voucher_events),
                [
                    {
                        "serial": card.serial,
                        "source": VoucherState.GENERATED.value,
                        "target": VoucherState.GENERATED.value,
                        "actor": actor,
                        "reason": "generated",
                        "at": card.created_at,
                    }
                    for card, _ in chunk
                ],
            )

    def taken(self, serials: Sequence[str], pin_hashes: Sequence[str]) -> tuple[set[str], set[str]]:
        """Which of these serials and PIN hashes already exist (a new batch must not repeat them)."""
        connection = self._handle.connection
        found_serials: set[str] = set()
        found_pins: set[str] = set()
        for start in range(0, len(serials), _INSERT_CHUNK):
            found_serials |= set(
                connection.execute(
                    select(vouchers.c.serial).where(vouchers.c.serial.in_(serials[start : start + _INSERT_CHUNK]))
                ).scalars()
            )
        for start in range(0, len(pin_hashes), _INSERT_CHUNK):
            found_pins |= set(
                connection.execute(
                    select(vouchers.c.pin_hash).where(
                        vouchers.c.pin_hash.in_(pin_hashes[start : start + _INSERT_CHUNK])
                    )
                ).scalars()
            )
        return found_serials, found_pins

    def get(self, serial: str, *, for_update: bool = False) -> Voucher | None:
        query = select(vouchers).where(vouchers.c.serial == serial)
        if for_update:
            query = query.with_for_update()
        row = self._handle.connection.execute(query).first()
        return None if row is None else _voucher(row)

    def by_pin_hash(self, pin_hash: str, *, for_update: bool = False) -> Voucher | None:
        query = select(vouchers).where(vouchers.c.pin_hash == pin_hash)
        if for_update:
            query = query.with_for_update()
        row = self._handle.connection.execute(query).first()
        return None if row is None else _voucher(row)

    def move(
        self,
        serials: Sequence[str],
        *,
        source: VoucherState,
        target: VoucherState,
        actor: str,
        reason: str,
        now: datetime,
        agent_id: str | None = None,
    ) -> list[str]:
        """Move the cards that are in `source` to `target` (one conditional UPDATE: a card moved meanwhile by
        someone else is left alone), audit each; returns the serials moved."""
        connection = self._handle.connection
        values: dict[str, Any] = {"state": target.value, "updated_at": now}
        if agent_id is not None:
            values["agent_id"] = agent_id
        moved: list[str] = []
        for start in range(0, len(serials), _INSERT_CHUNK):
            chunk = list(serials[start : start + _INSERT_CHUNK])
            moved += list(
                connection.execute(
                    update(vouchers)
                    .where(vouchers.c.serial.in_(chunk), vouchers.c.state == source.value)
                    .values(**values)
                    .returning(vouchers.c.serial)
                ).scalars()
            )
        self._audit(moved, source=source, target=target, actor=actor, reason=reason, now=now)
        return moved

    def redeem(self, serial: str, *, msisdn: str, transaction_id: str, actor: str, now: datetime) -> bool:
        """Active -> redeemed, once: True only for the one redemption whose conditional UPDATE changed the row."""
        changed = self._handle.connection.execute(
            update(vouchers)
            .where(vouchers.c.serial == serial, vouchers.c.state == VoucherState.ACTIVE.value)
            .values(
                state=VoucherState.REDEEMED.value,
                redeemed_at=now,
                redeemed_msisdn=msisdn,
                redeemed_transaction_id=transaction_id,
                updated_at=now,
            )
        ).rowcount
        if changed:
            self._audit(
                [serial],
                source=VoucherState.ACTIVE,
                target=VoucherState.REDEEMED,
                actor=actor,
                reason=f"redeemed for {msisdn}",
                now=now,
            )
        return bool(changed)

    def serials_in(self, batch_id: str, *, state: VoucherState | None, limit: int) -> list[str]:
        query = select(vouchers.c.serial).where(vouchers.c.batch_id == batch_id).order_by(vouchers.c.serial)
        if state is not None:
            query = query.where(vouchers.c.state == state.value)
        return list(self._handle.connection.execute(query.limit(limit)).scalars())

    def expired_serials(self, *, now: datetime, limit: int) -> list[str]:
        query = (
            select(vouchers.c.serial)
            .where(
                vouchers.c.expires_at <= now,
                vouchers.c.state.in_(
                    [VoucherState.GENERATED.value, VoucherState.DISTRIBUTED.value, VoucherState.ACTIVE.value]
                ),
            )
            .order_by(vouchers.c.expires_at)
            .limit(limit)
        )
        return list(self._handle.connection.execute(query).scalars())

    def events(self, serial: str) -> list[VoucherEvent]:
        rows = self._handle.connection.execute(
            select(voucher_events).where(voucher_events.c.serial == serial).order_by(voucher_events.c.id)
        )
        return [
            VoucherEvent(row.serial, VoucherState(row.source), VoucherState(row.target), row.actor, row.reason, row.at)
            for row in rows
        ]

    def counts(self, batch_id: str) -> dict[str, int]:
        rows = self._handle.connection.execute(
            select(vouchers.c.state, func.count()).where(vouchers.c.batch_id == batch_id).group_by(vouchers.c.state)
        )
        return {state: int(count) for state, count in rows}

    def batch(self, batch_id: str) -> Batch | None:
        row = self._handle.connection.execute(select(voucher_batches).where(voucher_batches.c.id == batch_id)).first()
        return None if row is None else Batch(**dict(row._mapping))

    def _audit(
        self,
        serials: Sequence[str],
        *,
        source: VoucherState,
        target: VoucherState,
        actor: str,
        reason: str,
        now: datetime,
    ) -> None:
        if serials:
            self._handle.connection.execute(
                insert(voucher_events),
                [
                    {
                        "serial": serial,
                        "source": source.value,
                        "target": target.value,
                        "actor": actor[:100],
                        "reason": reason[:200],
                        "at": now,
                    }
                    for serial in serials
                ],
            )


class SqlLockouts:
    """Failures counted per key in a window; enough of them lock the key until a time."""

    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def locked_until(self, key: str) -> datetime | None:
        return self._handle.connection.execute(
            select(lockouts.c.locked_until).where(lockouts.c.key == key)
        ).scalar_one_or_none()

    def fail(self, key: str, *, now: datetime, window_start_after: datetime) -> int:
        """Count a failure (the count restarts when the last window began before `window_start_after`); returns
        the failures in the window, this one included."""
        connection = self._handle.connection
        connection.execute(
            dialect_insert(self._handle, lockouts)
            .values(key=key, failures=0, window_start=now, locked_until=None)
            .on_conflict_do_nothing(index_elements=[lockouts.c.key])
        )
        connection.execute(
            update(lockouts)
            .where(lockouts.c.key == key, lockouts.c.window_start < window_start_after)
            .values(failures=0, window_start=now, locked_until=None)
        )
        return int(
            connection.execute(
                update(lockouts)
                .where(lockouts.c.key == key)
                .values(failures=lockouts.c.failures + 1)
                .returning(lockouts.c.failures)
            ).scalar_one()
        )

    def lock(self, key: str, *, until: datetime) -> None:
        self._handle.connection.execute(update(lockouts).where(lockouts.c.key == key).values(locked_until=until))

    def clear(self, key: str) -> None:
        self._handle.connection.execute(
            update(lockouts).where(lockouts.c.key == key).values(failures=0, locked_until=None)
        )


def _voucher(row: Row[Any]) -> Voucher:
    values = dict(row._mapping)
    del values["pin_hash"]
    values["state"] = VoucherState(values["state"])
    return Voucher(**values)
