"""Orders and their transitions. Saving an order writes its new transitions too (the history is append-only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update

from topup.adapters.db.handle import ConnectionHandle
from topup.adapters.db.tables import order_transitions, orders
from topup.domain.limits import Usage
from topup.domain.orders import Order, OrderState, OrderStatus, PaymentMethod, Transition

_BATCH = 500  # order ids per query when reading histories (well under SQLite's limit on bound parameters)
_MUTABLE = (
    "state",
    "card_brand",
    "card_last_four",
    "provider_reference",
    "redirect_url",
    "delivered_transaction_id",
    "reversal_transaction_id",
    "failure_code",
    "failure_message",
    "check_attempts",
    "next_check_at",
    "updated_at",
)


# Statements of the order saga's hot path, built once (SQLAlchemy then reuses their compiled form).
_INSERT = insert(orders)
_TRANSITION_COLUMNS = (
    order_transitions.c.source.label("t_source"),
    order_transitions.c.target.label("t_target"),
    order_transitions.c.reason.label("t_reason"),
    order_transitions.c.at.label("t_at"),
)
# One order with its history in one round trip: a row per transition (an order has a handful).
_ONE = (
    select(orders, *_TRANSITION_COLUMNS)
    .outerjoin(order_transitions, order_transitions.c.order_id == orders.c.id)
    .where(orders.c.id == bindparam("order_id"))
    .order_by(order_transitions.c.id)
)
_ONE_FOR_UPDATE = _ONE.with_for_update(of=orders)
_SAVE = (
    update(orders)
    .where(orders.c.id == bindparam("saved_id"))
    .values({column: bindparam(column) for column in _MUTABLE})
)
_NOT_REFUSED = orders.c.state.not_in([OrderState.FAILED.value, OrderState.CANCELLED.value])
_USAGE = select(func.count(), func.coalesce(func.sum(orders.c.amount_qepik), 0), func.max(orders.c.created_at))
_USAGE_OF_NUMBER = _USAGE.where(
    orders.c.msisdn == bindparam("msisdn"), orders.c.created_at >= bindparam("since"), _NOT_REFUSED
)
_RUNS_OF_RULE = select(func.count()).where(
    orders.c.auto_recharge_id == bindparam("rule_id"), orders.c.created_at >= bindparam("since"), _NOT_REFUSED
)
_USAGE_OF_CARD = _USAGE.where(
    orders.c.card_fingerprint == bindparam("fingerprint"), orders.c.created_at >= bindparam("since"), _NOT_REFUSED
)


class SqlOrderRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle
        self._saved_transitions: dict[str, int] = {}

    def add(self, order: Order) -> None:
        self._handle.connection.execute(_INSERT, _row(order))
        self._saved_transitions[order.id] = 0
        self._write_new_transitions(order)

    def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        rows = self._handle.connection.execute(_ONE_FOR_UPDATE if for_update else _ONE, {"order_id": order_id}).all()
        if not rows:
            return None
        history = [
            Transition(OrderState(row.t_source), OrderState(row.t_target), row.t_reason, row.t_at)
            for row in rows
            if row.t_source is not None
        ]
        values = {key: value for key, value in rows[0]._mapping.items() if not key.startswith("t_")}
        return self._order(values, history)

    def by_delivered_transaction(self, transaction_id: str) -> Order | None:
        rows = self._handle.connection.execute(
            select(orders).where(orders.c.delivered_transaction_id == transaction_id)
        ).all()
        found = self._load(rows)
        return found[0] if found else None

    def by_provider_reference(self, payment_method: PaymentMethod, provider_reference: str) -> Order | None:
        rows = self._handle.connection.execute(
            select(orders)
            .where(orders.c.payment_method == payment_method.value, orders.c.provider_reference == provider_reference)
            .order_by(orders.c.created_at.desc())
            .limit(1)
        ).all()
        found = self._load(rows)
        return found[0] if found else None

    def _load(self, rows: Sequence[Row[Any]]) -> list[Order]:
        """Orders from their rows, with every order's history read in batches (not one query per order)."""
        histories: dict[str, list[Transition]] = {row.id: [] for row in rows}
        ids = list(histories)
        for start in range(0, len(ids), _BATCH):
            for t in self._handle.connection.execute(
                select(order_transitions)
                .where(order_transitions.c.order_id.in_(ids[start : start + _BATCH]))
                .order_by(order_transitions.c.id)
            ):
                histories[t.order_id].append(Transition(OrderState(t.source), OrderState(t.target), t.reason, t.at))
        return [self._order(dict(row._mapping), histories[row.id]) for row in rows]

    def _order(self, values: dict[str, Any], history: list[Transition]) -> Order:
        self._saved_transitions[values["id"]] = len(history)
        state = OrderState(values.pop("state"))
        values["payment_method"] = PaymentMethod(values["payment_method"])
        return Order(**values, status=OrderStatus(state=state, history=history))

    def save(self, order: Order) -> Sequence[Transition]:
        row = _row(order)
        self._handle.connection.execute(_SAVE, {"saved_id": order.id, **{key: row[key] for key in _MUTABLE}})
        return self._write_new_transitions(order)

    def due_for_check(self, *, now: datetime, limit: int) -> list[str]:
        """Ids of orders whose next check is due, oldest first: unsettled ones, and settled ones where money may
        still have to be given back. On PostgreSQL, rows another worker is settling right now are skipped
        rather than waited for."""
        query = select(orders.c.id).where(orders.c.next_check_at <= now).order_by(orders.c.next_check_at).limit(limit)
        if self._handle.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [row.id for row in self._handle.connection.execute(query)]

    def list(
        self,
        *,
        scope: str | None,
        msisdn: str | None,
        state: str | None,
        created_from: datetime | None,
        created_to: datetime | None,
        limit: int,
    ) -> list[Order]:
        query = select(orders)
        for column, value in ((orders.c.scope, scope), (orders.c.msisdn, msisdn), (orders.c.state, state)):
            if value is not None:
                query = query.where(column == value)
        if created_from is not None:
            query = query.where(orders.c.created_at >= created_from)
        if created_to is not None:
            query = query.where(orders.c.created_at < created_to)
        query = query.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit)
        return self._load(self._handle.connection.execute(query).all())

    def usage(self, *, msisdn: str | None, card_fingerprint: str | None, since: datetime) -> Usage:
        """Orders since `since` for a number or a card that were not refused: count, AZN value, latest."""
        if msisdn is not None and card_fingerprint is None:
            query, parameters = _USAGE_OF_NUMBER, {"msisdn": msisdn, "since": since}
        elif card_fingerprint is not None and msisdn is None:
            query, parameters = _USAGE_OF_CARD, {"fingerprint": card_fingerprint, "since": since}
        else:
            raise ValueError("usage is counted for a number or for a card")
        count, amount, latest = self._handle.connection.execute(query, parameters).one()
        if latest is not None and latest.tzinfo is None:
            latest = latest.replace(tzinfo=UTC)
        return Usage(int(count), int(amount), latest)

    def auto_recharge_runs(self, rule_id: str, *, since: datetime) -> int:
        """Orders an auto-recharge rule placed since `since` that were not refused (its monthly maximum)."""
        return int(self._handle.connection.execute(_RUNS_OF_RULE, {"rule_id": rule_id, "since": since}).scalar_one())

    def _write_new_transitions(self, order: Order) -> Sequence[Transition]:
        saved = self._saved_transitions.get(order.id, 0)
        new = order.status.history[saved:]
        if new:
            self._handle.connection.execute(
                insert(order_transitions),
                [
                    {
                        "order_id": order.id,
                        "source": t.source.value,
                        "target": t.target.value,
                        "reason": t.reason,
                        "at": t.at,
                    }
                    for t in new
                ],
            )
        self._saved_transitions[order.id] = len(order.status.history)
        return tuple(new)


def _row(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "scope": order.scope,
        "msisdn": order.msisdn,
        "operator": order.operator,
        "product_type": order.product_type,
        "amount_qepik": order.amount_qepik,
        "bundle_code": order.bundle_code,
        "vat_qepik": order.vat_qepik,
        "fee_qepik": order.fee_qepik,
        "currency": order.currency,
        "rate_micros": order.rate_micros,
        "charge_minor": order.charge_minor,
        "payment_method": order.payment_method.value,
        "state": order.state.value,
        "quote_id": order.quote_id,
        "card_brand": order.card_brand,
        "card_last_four": order.card_last_four,
        "card_fingerprint": order.card_fingerprint,
        "provider_reference": order.provider_reference,
        "redirect_url": order.redirect_url,
        "delivered_transaction_id": order.delivered_transaction_id,
        "reversal_transaction_id": order.reversal_transaction_id,
        "failure_code": order.failure_code,
        "failure_message": order.failure_message,
        "check_attempts": order.check_attempts,
        "next_check_at": order.next_check_at,
        "created_at": order.created_at,
        "updated_at": order.updated_at or order.created_at,
        "payment_method_id": order.payment_method_id,
        "auto_recharge_id": order.auto_recharge_id,
    }
