"""Saved cards and auto-recharge rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from topup.adapters.db.handle import ConnectionHandle
from topup.adapters.db.tables import auto_recharges, payment_methods
from topup.domain.auto_recharge import AutoRecharge, RuleKind, RuleState
from topup.domain.payment_methods import SavedCard


class SqlPaymentMethodRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def add(self, card: SavedCard) -> None:
        self._handle.connection.execute(
            insert(payment_methods).values(
                id=card.id,
                scope=card.scope,
                msisdn=card.msisdn,
                token=card.token,
                brand=card.brand,
                last_four=card.last_four,
                expiry_month=card.expiry_month,
                expiry_year=card.expiry_year,
                fingerprint=card.fingerprint,
                created_at=card.created_at,
                removed_at=None,
            )
        )

    def get(self, method_id: str) -> SavedCard | None:
        row = self._handle.connection.execute(select(payment_methods).where(payment_methods.c.id == method_id)).first()
        return None if row is None else _card(row)

    def of_line(self, msisdn: str, *, scope: str | None) -> list[SavedCard]:
        """The line's cards that were not removed, oldest first (`scope` None: whoever saved them)."""
        query = select(payment_methods).where(
            payment_methods.c.msisdn == msisdn, payment_methods.c.removed_at.is_(None)
        )
        if scope is not None:
            query = query.where(payment_methods.c.scope == scope)
        rows = self._handle.connection.execute(query.order_by(payment_methods.c.created_at, payment_methods.c.id))
        return [_card(row) for row in rows]

    def remove(self, method_id: str, *, now: datetime) -> None:
        self._handle.connection.execute(
            update(payment_methods)
            .where(payment_methods.c.id == method_id, payment_methods.c.removed_at.is_(None))
            .values(removed_at=now)
        )


class SqlAutoRechargeRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def put(self, rule: AutoRecharge) -> None:
        """Add the rule, replacing the line's rule of the same kind (the caller holds the line's lock)."""
        connection = self._handle.connection
        connection.execute(
            delete(auto_recharges).where(auto_recharges.c.msisdn == rule.msisdn, auto_recharges.c.kind == rule.kind)
        )
        connection.execute(insert(auto_recharges).values(**_values(rule)))

    def save(self, rule: AutoRecharge) -> None:
        values = _values(rule)
        del values["id"]
        self._handle.connection.execute(update(auto_recharges).where(auto_recharges.c.id == rule.id).values(**values))

    def get(self, rule_id: str, *, for_update: bool = False) -> AutoRecharge | None:
        query = select(auto_recharges).where(auto_recharges.c.id == rule_id)
        if for_update:
            query = query.with_for_update()
        row = self._handle.connection.execute(query).first()
        return None if row is None else _rule(row)

    def of_line(self, msisdn: str) -> list[AutoRecharge]:
        rows = self._handle.connection.execute(
            select(auto_recharges).where(auto_recharges.c.msisdn == msisdn).order_by(auto_recharges.c.kind)
        )
        return [_rule(row) for row in rows]

    def remove(self, rule_id: str) -> None:
        self._handle.connection.execute(delete(auto_recharges).where(auto_recharges.c.id == rule_id))

    def using(self, payment_method_id: str) -> list[AutoRecharge]:
        rows = self._handle.connection.execute(
            select(auto_recharges).where(auto_recharges.c.payment_method_id == payment_method_id)
        )
        return [_rule(row) for row in rows]

    def due(self, *, now: datetime, limit: int) -> list[str]:
        """Rules due by `now`, the longest-waiting first. On PostgreSQL rows another worker holds are skipped."""
        query = (
            select(auto_recharges.c.id)
            .where(auto_recharges.c.due_at.is_not(None), auto_recharges.c.due_at <= now)
            .order_by(auto_recharges.c.due_at)
            .limit(limit)
        )
        if self._handle.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [row.id for row in self._handle.connection.execute(query)]

    def mark_fall(self, msisdn: str, *, now: datetime) -> None:
        """The line's balance fell below its threshold rule's threshold: that rule is due now, unless it is
        already due, running, or suspended (a fall while a run is under way is that run's business)."""
        self._handle.connection.execute(
            update(auto_recharges)
            .where(
                auto_recharges.c.msisdn == msisdn,
                auto_recharges.c.kind == RuleKind.THRESHOLD.value,
                auto_recharges.c.state == RuleState.ACTIVE.value,
                auto_recharges.c.due_at.is_(None),
                auto_recharges.c.in_flight_order_id.is_(None),
            )
            .values(due_at=now, updated_at=now)
        )


def _values(rule: AutoRecharge) -> dict[str, Any]:
    return {
        "id": rule.id,
        "scope": rule.scope,
        "msisdn": rule.msisdn,
        "kind": rule.kind.value,
        "amount_qepik": rule.amount_qepik,
        "payment_method_id": rule.payment_method_id,
        "threshold_qepik": rule.threshold_qepik,
        "monthly_max": rule.monthly_max,
        "day_of_month": rule.day_of_month,
        "state": rule.state.value,
        "due_at": rule.due_at,
        "in_flight_order_id": rule.in_flight_order_id,
        "consecutive_failures": rule.consecutive_failures,
        "last_order_id": rule.last_order_id,
        "last_outcome": rule.last_outcome,
        "last_run_at": rule.last_run_at,
        "suspended_reason": rule.suspended_reason,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def _rule(row: Row[Any]) -> AutoRecharge:
    values = dict(row._mapping)
    values["kind"] = RuleKind(values["kind"])
    values["state"] = RuleState(values["state"])
    return AutoRecharge(**values)


def _card(row: Row[Any]) -> SavedCard:
    return SavedCard(**dict(row._mapping))
