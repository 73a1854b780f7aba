"""Reconciliation: for one Baku day, what the payment providers captured against what the ledger delivered.

Every order of the day is checked against its provider's own record (its answer to `find`), not against
ours: a mismatch is exactly what our records alone could not show. Expected, order by order:
fulfilled -> captured the charge, delivered the value; failed or cancelled -> nothing captured, nothing
delivered; refunded -> everything captured was refunded. Anything else is listed with its order id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from topup.domain.calendar import BAKU
from topup.domain.orders import Order, OrderState
from topup.services.order_saga import PaymentMethodUnavailable, Saga
from topup.services.payments import PaymentRefused, PaymentResult, ProviderUnavailable
from topup.services.ports import UnitOfWork

ORDERS_PER_DAY_MAX = 100_000


@dataclass(frozen=True, slots=True)
class Mismatch:
    order_id: str
    state: str
    problem: str


@dataclass
class Reconciliation:
    day: date
    orders: int = 0
    captured_minor: Counter[str] = field(default_factory=Counter)  # by currency
    refunded_minor: Counter[str] = field(default_factory=Counter)
    delivered_qepik: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def reconcile(uow: UnitOfWork, saga: Saga, *, day: date) -> Reconciliation:
    start = datetime.combine(day, time(0), tzinfo=BAKU)
    with uow:
        found = uow.orders.list(
            scope=None,
            msisdn=None,
            state=None,
            created_from=start,
            created_to=start + timedelta(days=1),
            limit=ORDERS_PER_DAY_MAX,
        )
        delivered = {
            order.id: record.amount_qepik
            for order in found
            if order.delivered_transaction_id
            and (record := uow.transactions.get(order.delivered_transaction_id)) is not None
        }
    report = Reconciliation(day=day, orders=len(found))
    for order in found:
        try:
            mover = saga.mover(order.payment_method)
            payment = mover.find(reference=order.id, provider_reference=order.provider_reference)
        except (ProviderUnavailable, PaymentRefused, PaymentMethodUnavailable):
            unasked = f"the payment provider ({order.payment_method.value}) could not be asked"
            report.mismatches.append(Mismatch(order.id, order.state.value, unasked))
            continue
        delivered_qepik = delivered.get(order.id, 0)
        report.captured_minor[order.currency] += payment.captured_minor
        report.refunded_minor[order.currency] += payment.refunded_minor
        report.delivered_qepik += delivered_qepik
        problem = _problem(order, payment, delivered_qepik)
        if problem:
            report.mismatches.append(Mismatch(order.id, order.state.value, problem))
    return report


def _problem(order: Order, payment: PaymentResult, delivered_qepik: int) -> str | None:
    kept = payment.captured_minor - payment.refunded_minor  # what the acquirer finally took
    if order.state is OrderState.FULFILLED:
        return _fulfilled_problem(order, kept, delivered_qepik)
    if order.state in (OrderState.FAILED, OrderState.CANCELLED):
        if kept:
            return f"captured {kept} {order.currency} for an order that was not fulfilled"
        return f"delivered {delivered_qepik} qəpik for an order that was not fulfilled" if delivered_qepik else None
    if order.state is OrderState.REFUNDED:
        return f"{kept} {order.currency} captured and not refunded" if kept else None
    return f"not settled yet ({order.state.value})"


def _fulfilled_problem(order: Order, kept: int, delivered_qepik: int) -> str | None:
    if kept != order.charge_minor:
        return f"captured {kept}, expected {order.charge_minor} {order.currency}"
    if delivered_qepik != order.amount_qepik:
        return f"delivered {delivered_qepik} qəpik, expected {order.amount_qepik}"
    return None
