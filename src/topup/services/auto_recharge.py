"""Auto-recharge (see `topup.domain.auto_recharge`): setting a line's rules, and the worker's job that runs the
due ones through the order saga, paid with the saved card.

A run is recorded in one transaction with the rule's change (the rule names its order as in flight, the order
names its rule), under the line's lock and then the rule's: however many workers take the rule, and however
often a killed worker's job is repeated, a due rule makes one order. The order then goes the usual way; the
saga concludes the run when the order ends (`auto_recharge_outcomes`), and its recovery re-sends the
authorisation of a run whose worker died (the acquirer knows the order id as its idempotency key).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from topup.domain.auto_recharge import (
    AutoRecharge,
    AutoRechargeNotFound,
    RuleKind,
    RuleState,
    after_failure,
    check_day_of_month,
    check_threshold_rule,
    month_start,
    next_month_start,
    next_scheduled,
)
from topup.domain.calendar import baku_date
from topup.domain.errors import DomainError, LineNotPrepaid
from topup.domain.lines import Line, LineType
from topup.domain.numbers import parse_msisdn
from topup.domain.payment_methods import SavedCard
from topup.domain.quotes import ProductType
from topup.services import auto_recharge_outcomes, notifications
from topup.services.lines import require_line
from topup.services.order_saga import Saga, pay_with_saved_card
from topup.services.orders import OrderRequest, record_saved_card_order
from topup.services.payment_methods import owned_card
from topup.services.ports import UnitOfWork

BATCH = 50


@dataclass(frozen=True, slots=True)
class RuleView:
    """A rule with what the subscriber wants to see next to it."""

    rule: AutoRecharge
    card: SavedCard | None
    runs_this_month: int


def set_threshold(
    uow: UnitOfWork,
    saga: Saga,
    *,
    scope: str,
    card_scope: str | None,
    number: str,
    threshold_qepik: int,
    amount_qepik: int,
    monthly_max: int,
    payment_method_id: str,
) -> AutoRecharge:
    """When the balance falls below `threshold_qepik`, top up `amount_qepik` (at most `monthly_max` times a
    month). A balance already below the threshold is topped up at once."""
    check_threshold_rule(threshold_qepik=threshold_qepik, amount_qepik=amount_qepik, monthly_max=monthly_max)
    msisdn = parse_msisdn(number)
    now = saga.clock.now()
    with uow:
        line = _rechargeable_line(uow, msisdn.e164, amount_qepik, now=now)
        owned_card(uow, number=msisdn.e164, method_id=payment_method_id, scope=card_scope).ensure_usable(baku_date(now))
        balance = uow.ledger.states([line.main_account_id])[line.main_account_id].balance
        rule = _replace(
            uow,
            line,
            RuleKind.THRESHOLD,
            scope=scope,
            amount_qepik=amount_qepik,
            payment_method_id=payment_method_id,
            now=now,
            threshold_qepik=threshold_qepik,
            monthly_max=monthly_max,
            due_at=now if balance < threshold_qepik else None,
        )
        uow.lines.set_auto_recharge_below(msisdn, threshold_qepik, now=now)
        uow.commit()
    return rule


def set_schedule(
    uow: UnitOfWork,
    saga: Saga,
    *,
    scope: str,
    card_scope: str | None,
    number: str,
    day_of_month: int,
    amount_qepik: int,
    payment_method_id: str,
) -> AutoRecharge:
    """Top up `amount_qepik` on `day_of_month` of every month, at 10:00 Baku time (the month's last day when it
    is shorter)."""
    check_day_of_month(day_of_month)
    msisdn = parse_msisdn(number)
    now = saga.clock.now()
    with uow:
        line = _rechargeable_line(uow, msisdn.e164, amount_qepik, now=now)
        owned_card(uow, number=msisdn.e164, method_id=payment_method_id, scope=card_scope).ensure_usable(baku_date(now))
        rule = _replace(
            uow,
            line,
            RuleKind.SCHEDULE,
            scope=scope,
            amount_qepik=amount_qepik,
            payment_method_id=payment_method_id,
            now=now,
            day_of_month=day_of_month,
            due_at=next_scheduled(day_of_month, after=now),
        )
        uow.commit()
    return rule


def rules_of(uow: UnitOfWork, saga: Saga, *, number: str, scope: str | None) -> list[RuleView]:
    """The line's rules (`scope` None: all; otherwise those the caller set)."""
    msisdn = parse_msisdn(number)
    since = month_start(saga.clock.now())
    with uow:
        require_line(uow, msisdn)
        return [
            RuleView(
                rule,
                uow.payment_methods.get(rule.payment_method_id),
                uow.orders.auto_recharge_runs(rule.id, since=since),
            )
            for rule in uow.auto_recharges.of_line(msisdn.e164)
            if scope in (None, rule.scope)
        ]


def remove(uow: UnitOfWork, saga: Saga, *, number: str, kind: RuleKind, scope: str | None) -> None:
    """Turn a rule off. A run already under way finishes (its order is the customer's like any other)."""
    msisdn = parse_msisdn(number)
    with uow:
        require_line(uow, msisdn, for_update=True)
        rule = _rule_of_kind(uow, msisdn.e164, kind)
        if rule is None or scope not in (None, rule.scope):
            raise AutoRechargeNotFound(f"This line has no {kind.value} auto-recharge.", kind=kind.value)
        uow.auto_recharges.remove(rule.id)
        if kind is RuleKind.THRESHOLD:
            uow.lines.set_auto_recharge_below(msisdn, None, now=saga.clock.now())
        uow.commit()


def run_due(uow: UnitOfWork, saga: Saga, *, limit: int = BATCH) -> int:
    """The worker's job: start the run of every rule due now (up to `limit`), each as an order paid with the
    rule's saved card. Returns how many rules it looked at."""
    with uow:
        due = uow.auto_recharges.due(now=saga.clock.now(), limit=limit)
    for rule_id in due:
        order_id = _start_run(uow, saga, rule_id)
        if order_id is not None:
            pay_with_saved_card(uow, saga, order_id=order_id)
    return len(due)


def _start_run(uow: UnitOfWork, saga: Saga, rule_id: str) -> str | None:
    """Record the run's order and mark it in flight, in one transaction; None when there is nothing to run
    (another worker ran it, the balance recovered, the month's maximum is reached, or the run failed before
    any payment: then the rule records the failure)."""
    now = saga.clock.now()
    with uow:
        found = uow.auto_recharges.get(rule_id)
        if found is None:
            return None
        line = require_line(uow, parse_msisdn(found.msisdn), for_update=True)  # the line's lock first, always
        rule = uow.auto_recharges.get(rule_id, for_update=True)
        if rule is None or not _is_due(rule, now):
            return None
        if rule.kind is RuleKind.THRESHOLD and not _still_wanted(uow, rule, line, now=now):
            uow.auto_recharges.save(rule)
            uow.commit()
            return None
        order_id = uuid.uuid4().hex
        try:
            card = owned_card(uow, number=rule.msisdn, method_id=rule.payment_method_id, scope=None)
            record_saved_card_order(
                uow,
                saga,
                OrderRequest(
                    scope=rule.scope,
                    number=rule.msisdn,
                    product_type=ProductType.TOPUP,
                    amount_qepik=rule.amount_qepik,
                    order_id=order_id,
                ),
                card=card,
                auto_recharge_id=rule.id,
            )
        except DomainError as refused:  # nothing was recorded of the order: the run failed before paying
            _failed_before_paying(uow, rule, line, refused.code, now=now)
            uow.commit()
            return None
        rule.in_flight_order_id, rule.due_at, rule.last_run_at, rule.updated_at = order_id, None, now, now
        uow.auto_recharges.save(rule)
        uow.commit()
    return order_id


def _is_due(rule: AutoRecharge, now: datetime) -> bool:
    return (
        rule.state is RuleState.ACTIVE
        and rule.due_at is not None
        and rule.due_at <= now
        and rule.in_flight_order_id is None
    )


def _still_wanted(uow: UnitOfWork, rule: AutoRecharge, line: Line, *, now: datetime) -> bool:
    """A threshold rule runs only while the balance is below it, and not past its monthly maximum (it then
    waits for the next month); otherwise it is made not due, and False."""
    balance = uow.ledger.states([line.main_account_id])[line.main_account_id].balance
    if balance >= (rule.threshold_qepik or 0):
        rule.due_at, rule.updated_at = None, now  # topped up meanwhile: it waits for the next fall
        return False
    if uow.orders.auto_recharge_runs(rule.id, since=month_start(now)) >= (rule.monthly_max or 0):
        rule.due_at, rule.updated_at = next_month_start(now), now
        return False
    return True


def _failed_before_paying(uow: UnitOfWork, rule: AutoRecharge, line: Line, code: str, *, now: datetime) -> None:
    outcome = after_failure(rule, code, now=now)
    rule.state, rule.due_at = outcome.state, outcome.due_at
    rule.consecutive_failures, rule.suspended_reason = outcome.consecutive_failures, outcome.suspended_reason
    rule.last_outcome, rule.last_run_at, rule.updated_at = code, now, now
    uow.auto_recharges.save(rule)
    if rule.kind is RuleKind.THRESHOLD and rule.state is RuleState.SUSPENDED:
        uow.lines.set_auto_recharge_below(line.msisdn, None, now=now)
    suspended = rule.state is RuleState.SUSPENDED
    kind = "suspended" if suspended else "failed"
    notifications.queue(
        uow,
        line=line,
        kind=auto_recharge_outcomes.failure_kind(suspended=suspended),
        key=f"{rule.id}:{kind}:{now.isoformat()}",
        params=auto_recharge_outcomes.failure_params(uow, rule),
        now=now,
    )


def _rechargeable_line(uow: UnitOfWork, msisdn: str, amount_qepik: int, *, now: datetime) -> Line:
    line = require_line(uow, parse_msisdn(msisdn), for_update=True)
    if line.type is not LineType.PREPAID:
        raise LineNotPrepaid("A postpaid line is billed by its operator: it has no balance to recharge.")
    line.plan_top_up(uow.catalogue.current().operator(line.operator), amount_qepik, today=baku_date(now), vat_bp=0)
    return line


def _rule_of_kind(uow: UnitOfWork, msisdn: str, kind: RuleKind) -> AutoRecharge | None:
    return next((rule for rule in uow.auto_recharges.of_line(msisdn) if rule.kind is kind), None)


def _replace(
    uow: UnitOfWork,
    line: Line,
    kind: RuleKind,
    *,
    scope: str,
    amount_qepik: int,
    payment_method_id: str,
    now: datetime,
    due_at: datetime | None,
    threshold_qepik: int | None = None,
    monthly_max: int | None = None,
    day_of_month: int | None = None,
) -> AutoRecharge:
    """The line's rule of `kind`, new or replacing the one it had (active again, failures forgotten). A run of
    the old rule still under way stays the new rule's: it is not run twice."""
    before = _rule_of_kind(uow, line.msisdn.e164, kind)
    in_flight = before.in_flight_order_id if before is not None else None
    rule = AutoRecharge(
        id=before.id if before is not None else uuid.uuid4().hex,
        scope=scope,
        msisdn=line.msisdn.e164,
        kind=kind,
        amount_qepik=amount_qepik,
        payment_method_id=payment_method_id,
        created_at=before.created_at if before is not None else now,
        updated_at=now,
        threshold_qepik=threshold_qepik,
        monthly_max=monthly_max,
        day_of_month=day_of_month,
        due_at=None if in_flight else due_at,
        in_flight_order_id=in_flight,
        last_order_id=before.last_order_id if before is not None else None,
        last_outcome=before.last_outcome if before is not None else None,
        last_run_at=before.last_run_at if before is not None else None,
    )
    uow.auto_recharges.put(rule)
    return rule
