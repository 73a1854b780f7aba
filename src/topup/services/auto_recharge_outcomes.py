"""What an auto-recharge run's end does to its rule, and what the subscriber is told: called by the saga, in the
transaction that moves the run's order to a final state (so the rule and the order never disagree, and the
notification is queued exactly once, with the change that causes it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from topup.domain.auto_recharge import AutoRecharge, RuleKind, RuleState, after_failure, after_success
from topup.domain.cards import CardSummary
from topup.domain.notifications import NotificationKind
from topup.domain.numbers import parse_msisdn
from topup.domain.orders import Order, OrderState, Transition
from topup.services import notifications
from topup.services.lines import require_line
from topup.services.ports import UnitOfWork

_ENDS = (OrderState.FULFILLED, OrderState.FAILED, OrderState.CANCELLED)


def order_moved(uow: UnitOfWork, order: Order, transitions: Sequence[Transition], *, now: datetime) -> None:
    ended = [t.target for t in transitions if t.target in _ENDS]
    if order.auto_recharge_id is None or not ended:
        return
    rule = uow.auto_recharges.get(order.auto_recharge_id, for_update=True)
    if rule is not None and rule.in_flight_order_id == order.id:
        _conclude_run(uow, rule, order, fulfilled=ended[-1] is OrderState.FULFILLED, now=now)
    _tell(uow, rule, order, fulfilled=ended[-1] is OrderState.FULFILLED, now=now)


def _conclude_run(uow: UnitOfWork, rule: AutoRecharge, order: Order, *, fulfilled: bool, now: datetime) -> None:
    code = "fulfilled" if fulfilled else (order.failure_code or "payment_failed")
    outcome = after_success(rule, now=now) if fulfilled else after_failure(rule, code, now=now)
    rule.state, rule.due_at = outcome.state, outcome.due_at
    rule.consecutive_failures, rule.suspended_reason = outcome.consecutive_failures, outcome.suspended_reason
    rule.in_flight_order_id, rule.last_order_id, rule.last_outcome = None, order.id, code
    rule.updated_at = now
    uow.auto_recharges.save(rule)
    if rule.kind is RuleKind.THRESHOLD and rule.state is RuleState.SUSPENDED:
        uow.lines.set_auto_recharge_below(parse_msisdn(rule.msisdn), None, now=now)


def _tell(uow: UnitOfWork, rule: AutoRecharge | None, order: Order, *, fulfilled: bool, now: datetime) -> None:
    line = require_line(uow, parse_msisdn(order.msisdn))
    params = {"amount_qepik": str(order.amount_qepik), "card": _card_display(order.card_brand, order.card_last_four)}
    if fulfilled:
        kind = NotificationKind.AUTO_RECHARGE_DONE
        delivered = uow.transactions.get(order.delivered_transaction_id or "")
        if delivered is not None:
            params["balance_qepik"] = str(delivered.balance_after_qepik)
    else:
        suspended = rule is not None and rule.state is RuleState.SUSPENDED and rule.last_order_id == order.id
        kind = failure_kind(suspended=suspended)
    notifications.queue(uow, line=line, kind=kind, key=order.id, params=params, now=now)


def failure_kind(*, suspended: bool) -> NotificationKind:
    return NotificationKind.AUTO_RECHARGE_SUSPENDED if suspended else NotificationKind.AUTO_RECHARGE_FAILED


def failure_params(uow: UnitOfWork, rule: AutoRecharge) -> dict[str, str]:
    """What a failure notification names: the amount and the card (as far as it is still known)."""
    card = uow.payment_methods.get(rule.payment_method_id)
    return {
        "amount_qepik": str(rule.amount_qepik),
        "card": _card_display(card.brand if card else None, card.last_four if card else None),
    }


def _card_display(brand: str | None, last_four: str | None) -> str:
    return CardSummary(brand or "card", last_four or "····", 1, 2000).display
