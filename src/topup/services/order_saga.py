"""The order saga: authorise -> deliver through the ledger -> capture, its recovery, and refunds.

Rules that make it safe (DESIGN.md, DOMAIN.md):
- No provider call inside a database transaction: record the intent, commit, call, record the outcome.
- The order row is the saga's memory: its state and `delivered_transaction_id` say exactly what is left to do,
  so a crash at any point is finished by `settle()` (called by the worker, and by the customer's return from
  3-D Secure, a wallet or a gateway).
- An unanswered call leaves the order `unknown`; only the provider's own answer (`find`) moves it on.
- The provider sees our order id as its idempotency key, so asking twice never pays twice; delivery happens
  under the order's row lock and at most once (`delivered_transaction_id` is unique).
- Money that arrives for an order we gave up on (a wallet approved after the time-out) is given back: the
  order keeps a `next_check_at` until the provider confirms it released the money.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from topup.domain.errors import DomainError, ErrorKind, InsufficientBalance
from topup.domain.history import TransactionRecord
from topup.domain.ledger import TransactionKind, check_posting, reversed_transfers
from topup.domain.numbers import parse_msisdn
from topup.domain.orders import Order, OrderState, PaymentMethod
from topup.domain.quotes import ProductType
from topup.services import auto_recharge_outcomes, bundles, topups, webhooks
from topup.services.lines import require_line
from topup.services.payments import (
    CardAcquirer,
    PaymentMover,
    PaymentRefused,
    PaymentResult,
    PaymentStatus,
    ProviderUnavailable,
    RedirectProvider,
)
from topup.services.ports import Clock, Fingerprints, ReceiptCodes, UnitOfWork

# When to ask a provider again about an unsettled order: 5 minutes, an hour, then daily (Kill Bill's janitor).
CHECK_DELAYS = (timedelta(minutes=5), timedelta(hours=1), timedelta(days=1))
# A freshly created order is left alone this long: its own request may still be talking to the provider.
CREATED_GRACE = timedelta(minutes=2)
# A customer who has not finished 3-D Secure, or approved at the wallet or gateway, by then has given up.
CHALLENGE_TIMEOUT = timedelta(minutes=30)
ORDER_CHANNEL = "order"
_MONEY_TAKEN = (PaymentStatus.AUTHORISED, PaymentStatus.CAPTURED)


class OrderNotFound(DomainError):
    code = "order_not_found"
    kind = ErrorKind.NOT_FOUND


class RefundNotPossible(DomainError):
    code = "refund_not_possible"
    kind = ErrorKind.CONFLICT


class PaymentMethodUnavailable(DomainError):
    code = "payment_method_unavailable"
    kind = ErrorKind.CONFLICT


@dataclass(frozen=True, slots=True)
class OrderLimits:
    """Daily (Baku day) limits on paid orders, per number and per card; the cool-down between two orders for
    one number is the operator's (catalogue `cooldown_seconds`)."""

    number_count_max: int = 10
    number_amount_max_qepik: int = 100_000
    card_count_max: int = 20
    card_amount_max_qepik: int = 200_000


@dataclass(frozen=True, slots=True)
class Saga:
    """What the saga works with besides the database, and its timings (settings can shorten them)."""

    clock: Clock
    codes: ReceiptCodes
    acquirer: CardAcquirer
    fingerprints: Fingerprints
    limits: OrderLimits = OrderLimits()
    check_delays: tuple[timedelta, ...] = CHECK_DELAYS
    created_grace: timedelta = CREATED_GRACE
    challenge_timeout: timedelta = CHALLENGE_TIMEOUT
    # Wallets and gateways the customer is sent to, by method (the card acquirer serves cards and Google Pay).
    providers: Mapping[PaymentMethod, RedirectProvider] = field(default_factory=dict)
    # Our own address, given to the acquirer where it asks for a return address but no customer will come back
    # (merchant-initiated payments on a saved card).
    merchant_url: str = "http://127.0.0.1:8000"

    def check_delay(self, attempts: int) -> timedelta:
        return self.check_delays[min(attempts, len(self.check_delays) - 1)]

    def provider(self, method: PaymentMethod) -> RedirectProvider:
        provider = self.providers.get(method)
        if provider is None:
            raise PaymentMethodUnavailable(
                f"Payment by {method.value} is not set up on this server.", method=method.value
            )
        return provider

    def mover(self, method: PaymentMethod) -> PaymentMover:
        """Who holds an order's payment: Google Pay payments are card payments at the acquirer."""
        if method in (PaymentMethod.CARD, PaymentMethod.GOOGLE_PAY):
            return self.acquirer
        return self.provider(method)

    def takes_on_approval(self, method: PaymentMethod) -> bool:
        """True when the provider takes the money on approval: nothing to void, only to refund."""
        return (
            method not in (PaymentMethod.CARD, PaymentMethod.GOOGLE_PAY) and self.provider(method).captures_on_approval
        )


def settle(uow: UnitOfWork, saga: Saga, *, order_id: str, returning: bool = False) -> Order:
    """Bring an order as far as it can go now, asking the provider what happened where needed.

    `returning`: the customer is back from the provider's page, so even an order we gave up on is checked
    (money taken after the time-out is given back)."""
    order = get_order(uow, order_id=order_id)
    gave_up = order.state in (OrderState.CANCELLED, OrderState.FAILED) and order.delivered_transaction_id is None
    if order.is_settled and order.next_check_at is None and not (returning and gave_up):
        return order
    if order.state is OrderState.PAID:
        return deliver_and_capture(uow, saga, order_id)
    if order.state is OrderState.CREATED and saga.clock.now() < order.created_at + saga.created_grace:
        return order  # its own request may still be talking to the provider
    if order.state is OrderState.CREATED and order.payment_method_id is not None:
        return pay_with_saved_card(uow, saga, order_id=order_id)  # we hold the token: ask again, idempotently
    try:
        result = saga.mover(order.payment_method).find(reference=order_id, provider_reference=order.provider_reference)
    except (ProviderUnavailable, PaymentRefused):
        return _schedule_next_check(uow, saga, order_id)
    return apply_payment(uow, saga, order_id, result)


def settle_due(uow: UnitOfWork, saga: Saga, *, limit: int = 50) -> int:
    """The recovery job: settle up to `limit` orders whose next check is due. Returns how many it looked at."""
    with uow:
        due = uow.orders.due_for_check(now=saga.clock.now(), limit=limit)
    for order_id in due:
        try:
            settle(uow, saga, order_id=order_id)
        except (PaymentRefused, PaymentMethodUnavailable):
            _schedule_next_check(uow, saga, order_id)  # a provider's refusal needs a person; do not spin on it
    return len(due)


def pay_with_saved_card(uow: UnitOfWork, saga: Saga, *, order_id: str) -> Order:
    """Authorise a recorded order on its saved card (merchant-initiated: the cardholder is not there), then
    carry on as far as the answer allows. Safe to repeat: the acquirer knows the order id as its key."""
    order = get_order(uow, order_id=order_id)
    with uow:
        card = uow.payment_methods.get(order.payment_method_id or "")
    if card is None or card.removed_at is not None:
        refused = PaymentRefused("The saved card was removed.", code="payment_method_removed")
        return refuse_payment(uow, saga, order_id, refused)
    try:
        result = saga.acquirer.authorise_saved(
            reference=order.id,
            amount_minor=order.charge_minor,
            currency=order.currency,
            card_token=card.token,
            return_url=saga.merchant_url,
        )
    except ProviderUnavailable as error:
        return record_no_answer(uow, saga, order.id, step="authorise", unknown=error.outcome_unknown)
    except PaymentRefused as refused:
        return refuse_payment(uow, saga, order.id, refused)
    return apply_payment(uow, saga, order.id, result)


def refuse_payment(uow: UnitOfWork, saga: Saga, order_id: str, refused: PaymentRefused) -> Order:
    """The provider would not even start this payment: nothing was charged; the order fails with its reason."""
    with uow:
        order = locked(uow, order_id)
        if not order.is_settled:
            order.fail(
                code=refused.code,
                message=f"The payment provider refused the payment ({refused.code}).",
                at=saga.clock.now(),
            )
            order.next_check_at = None
            save(uow, saga, order)
        uow.commit()
    return order


def refund(uow: UnitOfWork, saga: Saga, *, order_id: str) -> Order:
    """Staff: give a fulfilled order's money back. The delivery is first taken back out of the ledger (refused
    if the line has already used it), then the provider refunds; a lost answer is settled by the worker.
    The line's usage period is not shortened: the days already granted stay (the operator's rule for
    reversals is not public; this is the customer-friendly reading)."""
    with uow:
        order = locked(uow, order_id)
        if order.state is OrderState.REFUNDED:
            return order
        if order.state is not OrderState.FULFILLED or order.delivered_transaction_id is None:
            raise RefundNotPossible(
                f"Only a fulfilled order can be refunded; this one is {order.state.value}.", state=order.state.value
            )
        if order.reversal_transaction_id is None:
            order.reversal_transaction_id = _reverse_delivery(uow, saga, order, order.delivered_transaction_id).id
            save(uow, saga, order)
        uow.commit()
    return _refund_payment(uow, saga, order_id)


def get_order(uow: UnitOfWork, *, order_id: str, scope: str | None = None) -> Order:
    """`scope` None is staff (every order); otherwise only the caller's own orders exist for them."""
    with uow:
        order = uow.orders.get(order_id) if order_id.isalnum() else None
    if order is None or (scope is not None and order.scope != scope):
        raise OrderNotFound("There is no order with this id.", order_id=order_id[:64])
    return order


def locked(uow: UnitOfWork, order_id: str, *, scope: str | None = None) -> Order:
    order = uow.orders.get(order_id, for_update=True) if order_id.isalnum() else None
    if order is None or (scope is not None and order.scope != scope):
        raise OrderNotFound("There is no order with this id.", order_id=order_id[:64])
    return order


def save(uow: UnitOfWork, saga: Saga, order: Order) -> None:
    """Save the order and, in the same transaction, queue the webhook events its new transitions trigger and
    conclude the auto-recharge run it may be."""
    new = uow.orders.save(order)
    if new:
        now = saga.clock.now()
        webhooks.queue_order_events(uow, order, new, now=now)
        auto_recharge_outcomes.order_moved(uow, order, new, now=now)


def record_no_answer(uow: UnitOfWork, saga: Saga, order_id: str, *, step: str, unknown: bool) -> Order:
    with uow:
        order = locked(uow, order_id)
        now = saga.clock.now()
        if order.is_settled and order.state is not OrderState.FULFILLED:
            order.next_check_at = now + saga.check_delay(order.check_attempts)  # releasing a late payment
        elif order.state is OrderState.CREATED and not unknown:
            order.fail(code="provider_unavailable", message=f"The payment provider did not answer ({step}).", at=now)
            order.next_check_at = None
        elif order.state is not OrderState.UNKNOWN and (not order.is_settled or step == "refund"):
            order.move(OrderState.UNKNOWN, reason=f"{step}: no answer from the payment provider", at=now)
            order.next_check_at = now + saga.check_delay(order.check_attempts)
        save(uow, saga, order)
        uow.commit()
    return order


def apply_payment(uow: UnitOfWork, saga: Saga, order_id: str, result: PaymentResult) -> Order:
    """Move the order to where the provider's answer puts it; then deliver and capture if it is paid.

    A payment that arrives paid is delivered in the same transaction that records it (one commit fewer on the
    busiest path); if delivery is refused, the payment is recorded alone and the usual path records why and
    releases the money."""
    try:
        order, late = _record_payment(uow, saga, order_id, result, deliver=True)
    except DomainError:
        order, late = _record_payment(uow, saga, order_id, result, deliver=False)
    if order.is_settled:  # outside the transaction: no provider call holds a row lock
        return _release_late_payment(uow, saga, order, result) if late else order
    if order.reversal_transaction_id is not None and order.state is OrderState.UNKNOWN:
        return _refund_payment(uow, saga, order_id)  # a refund whose answer was lost: ask again (idempotent)
    if order.failure_code is not None and order.state not in (OrderState.FAILED, OrderState.CANCELLED):
        return release_hold(uow, saga, order_id)
    if order.state is OrderState.PAID:
        if order.delivered_transaction_id is not None:
            return _capture(uow, saga, order)
        return deliver_and_capture(uow, saga, order_id)
    return order


def _record_payment(
    uow: UnitOfWork, saga: Saga, order_id: str, result: PaymentResult, *, deliver: bool
) -> tuple[Order, bool]:
    """The order as the provider's answer leaves it, and whether that answer is a late payment to give back."""
    with uow:
        order = locked(uow, order_id)
        if order.is_settled:
            late = _is_late_payment(order, result)
            if not late and order.next_check_at is not None and order.state is not OrderState.FULFILLED:
                order.next_check_at = None  # any late payment is released: nothing left to watch
                save(uow, saga, order)
            uow.commit()
            return order, late
        order.provider_reference = result.provider_reference or order.provider_reference
        order.card_brand = order.card_brand or result.brand
        order.card_last_four = order.card_last_four or result.last_four
        _follow(order, result, saga, now=saga.clock.now())
        if deliver and order.state is OrderState.PAID and order.delivered_transaction_id is None:
            order.delivered_transaction_id = _deliver(uow, saga, order).id
        save(uow, saga, order)
        uow.commit()
    return order, False


def _is_late_payment(order: Order, result: PaymentResult) -> bool:
    """Money the provider holds for an order we gave up on (cancelled, or failed before delivery)."""
    return (
        order.state in (OrderState.CANCELLED, OrderState.FAILED)
        and order.delivered_transaction_id is None
        and result.status in _MONEY_TAKEN
    )


def _release_late_payment(uow: UnitOfWork, saga: Saga, order: Order, result: PaymentResult) -> Order:
    reference = result.provider_reference or order.provider_reference or ""
    mover = saga.mover(order.payment_method)
    try:
        if result.status is PaymentStatus.CAPTURED:
            mover.refund(provider_reference=reference, amount_minor=result.captured_minor - result.refunded_minor)
        else:
            mover.void(provider_reference=reference)
    except ProviderUnavailable:
        return record_no_answer(uow, saga, order.id, step="release", unknown=True)
    except PaymentRefused:
        return _schedule_next_check(uow, saga, order.id)  # asked again later: what is the payment now?
    with uow:
        order = locked(uow, order.id)
        order.next_check_at = None
        save(uow, saga, order)
        uow.commit()
    return order


def _follow(order: Order, result: PaymentResult, saga: Saga, *, now: datetime) -> None:
    status = result.status
    if order.reversal_transaction_id is not None:  # a refund is under way
        if status is PaymentStatus.REFUNDED:
            order.move(OrderState.REFUNDED, reason="refunded by staff", at=now)
            order.next_check_at = None
        else:
            order.next_check_at = now + saga.check_delay(order.check_attempts)
        return
    if status is PaymentStatus.REQUIRES_ACTION:
        _await_customer(order, result, saga, now=now)
        return
    if status in _MONEY_TAKEN:
        # A failed delivery keeps its state: the money is released next, outside the transaction.
        if order.failure_code is None and order.state is not OrderState.PAID:
            order.move(OrderState.PAID, reason=f"payment {status.value}", at=now)
        order.next_check_at = now + saga.check_delay(order.check_attempts)
        return
    order.next_check_at = None
    if order.failure_code is not None and status in (PaymentStatus.VOIDED, PaymentStatus.REFUNDED):
        order.move(OrderState.FAILED, reason=f"not delivered ({order.failure_code}); money released", at=now)
    elif status is PaymentStatus.NOT_FOUND:
        order.fail(code="payment_not_received", message="The payment provider never received this payment.", at=now)
    elif status is PaymentStatus.REFUNDED:
        order.move(OrderState.REFUNDED, reason="refunded at the payment provider", at=now)
    elif status is PaymentStatus.CANCELLED:
        order.failure_code = "payment_cancelled"
        order.failure_message = result.message or "The payment was cancelled at the provider; nothing was charged."
        order.move(OrderState.CANCELLED, reason="cancelled at the payment provider", at=now)
    else:  # declined, voided without our asking
        order.fail(
            code=result.decline_code or status.value, message=result.message or "The payment was not accepted.", at=now
        )


def _await_customer(order: Order, result: PaymentResult, saga: Saga, *, now: datetime) -> None:
    if now >= order.created_at + saga.challenge_timeout:
        order.failure_code = "payment_timed_out"
        order.failure_message = "The payment was not completed in time; nothing was charged."
        order.move(OrderState.CANCELLED, reason="the customer did not complete the payment in time", at=now)
        order.next_check_at = None
        return
    if order.state is not OrderState.AWAITING_PAYMENT:
        waiting_for = "3-D Secure challenge" if order.payment_method is PaymentMethod.CARD else "customer's approval"
        order.move(OrderState.AWAITING_PAYMENT, reason=f"waiting for the {waiting_for}", at=now)
    if result.form is None:  # a form is served by our own pay page, whose address the order already has
        order.redirect_url = result.redirect_url or order.redirect_url
    order.next_check_at = order.created_at + saga.challenge_timeout


def _deliver(uow: UnitOfWork, saga: Saga, order: Order) -> TransactionRecord:
    if order.product_type == ProductType.TOPUP.value:
        return topups.top_up(
            uow,
            saga.clock,
            saga.codes,
            number=order.msisdn,
            amount_qepik=order.amount_qepik,
            channel=ORDER_CHANNEL,
            notify=order.auto_recharge_id is None,  # an auto-recharge tells its own outcome
        )
    return bundles.buy_bundle(
        uow,
        saga.clock,
        saga.codes,
        number=order.msisdn,
        bundle_code=order.bundle_code or "",
        channel=ORDER_CHANNEL,
        paid_through_channel=True,
    )


def deliver_and_capture(uow: UnitOfWork, saga: Saga, order_id: str) -> Order:
    failure: DomainError | None = None
    try:
        with uow:
            order = locked(uow, order_id)
            if order.state is not OrderState.PAID:
                return order
            if order.delivered_transaction_id is None:
                order.delivered_transaction_id = _deliver(uow, saga, order).id
                order.updated_at = saga.clock.now()
                save(uow, saga, order)
            uow.commit()
    except DomainError as error:  # the line cannot take it (barred, closed, ...): nothing was delivered
        failure = error
    if failure is not None:
        with uow:
            order = locked(uow, order_id)
            order.failure_code, order.failure_message = failure.code, failure.message[:200]
            save(uow, saga, order)
            uow.commit()
        return release_hold(uow, saga, order_id)
    return _capture(uow, saga, order)


def _capture(uow: UnitOfWork, saga: Saga, order: Order) -> Order:
    """Take the money of a delivered order."""
    order_id = order.id
    try:
        result = saga.mover(order.payment_method).capture(
            provider_reference=order.provider_reference or "", amount_minor=order.charge_minor
        )
    except ProviderUnavailable as error:
        if error.outcome_unknown:
            return record_no_answer(uow, saga, order_id, step="capture", unknown=True)
        return _schedule_next_check(uow, saga, order_id)
    except PaymentRefused as refused:  # delivered, not captured: the worker asks again; reconciliation lists it
        return record_no_answer(uow, saga, order_id, step=f"capture refused ({refused.code})", unknown=True)
    if result.status is not PaymentStatus.CAPTURED:
        return get_order(uow, order_id=order_id)
    return _conclude(uow, saga, order_id, OrderState.FULFILLED, "delivered and captured", OrderState.PAID)


def release_hold(uow: UnitOfWork, saga: Saga, order_id: str) -> Order:
    """Delivery failed: void the authorisation (or refund, where approval took the money), then fail the order
    with the delivery's reason."""
    order = get_order(uow, order_id=order_id)
    mover = saga.mover(order.payment_method)
    reference = order.provider_reference or ""
    try:
        if saga.takes_on_approval(order.payment_method):
            result = mover.refund(provider_reference=reference, amount_minor=order.charge_minor)
        else:
            result = mover.void(provider_reference=reference)
    except ProviderUnavailable as error:
        return record_no_answer(uow, saga, order_id, step="release", unknown=error.outcome_unknown)
    except PaymentRefused as refused:  # e.g. already captured: the worker asks what the payment is now
        return record_no_answer(uow, saga, order_id, step=f"release refused ({refused.code})", unknown=True)
    with uow:
        order = locked(uow, order_id)
        if result.status in (PaymentStatus.VOIDED, PaymentStatus.REFUNDED) and not order.is_settled:
            order.move(
                OrderState.FAILED, reason=f"not delivered ({order.failure_code}); money released", at=saga.clock.now()
            )
            order.next_check_at = None
            save(uow, saga, order)
        uow.commit()
    return order


def _reverse_delivery(uow: UnitOfWork, saga: Saga, order: Order, delivered_id: str) -> TransactionRecord:
    delivered = uow.transactions.get(delivered_id)
    if delivered is None:
        raise RefundNotPossible("This order's delivery is not in the ledger.", transaction_id=delivered_id)
    line = require_line(uow, parse_msisdn(order.msisdn), for_update=True)
    transfers = reversed_transfers(uow.ledger.transfers_of(delivered_id))
    touched = {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}
    states = uow.ledger.states(sorted(touched | {line.main_account_id}))
    try:
        balances = check_posting(transfers, states)
    except InsufficientBalance:
        raise RefundNotPossible(
            "The line has already used what this order delivered, so it cannot be taken back.",
            transaction_id=delivered_id,
        ) from None
    now = saga.clock.now()
    transaction_id = uuid.uuid4().hex
    record = TransactionRecord(
        id=transaction_id,
        msisdn=order.msisdn,
        operator=delivered.operator,
        kind=TransactionKind.REVERSAL,
        channel=ORDER_CHANNEL,
        amount_qepik=delivered.amount_qepik,
        vat_qepik=delivered.vat_qepik,
        balance_after_qepik=balances.get(line.main_account_id, states[line.main_account_id].balance),
        valid_until=line.valid_until,
        created_at=now,
        verification_code=saga.codes.code_for(transaction_id),
        bundle_code=delivered.bundle_code,
    )
    uow.ledger.post(record, transfers)
    return record


def _refund_payment(uow: UnitOfWork, saga: Saga, order_id: str) -> Order:
    order = get_order(uow, order_id=order_id)
    try:
        result = saga.mover(order.payment_method).refund(
            provider_reference=order.provider_reference or "", amount_minor=order.charge_minor
        )
    except ProviderUnavailable:
        return record_no_answer(uow, saga, order_id, step="refund", unknown=True)
    except PaymentRefused as refused:
        record_no_answer(uow, saga, order_id, step=f"refund refused ({refused.code})", unknown=True)
        raise RefundNotPossible(
            "The payment provider refused the refund; the delivery is taken back and the order is left for the"
            " worker to recheck. Refund it in the provider's dashboard if it stays so.",
            provider_code=refused.code,
        ) from None
    if result.status is not PaymentStatus.REFUNDED:
        return get_order(uow, order_id=order_id)
    return _conclude(uow, saga, order_id, OrderState.REFUNDED, "refunded by staff", OrderState.FULFILLED)


def _conclude(
    uow: UnitOfWork, saga: Saga, order_id: str, target: OrderState, reason: str, expected: OrderState
) -> Order:
    """The provider confirmed the last step: move the order to `target` if it is still where that step left it
    (`expected`, or `unknown` when an earlier answer was lost); nothing is left to check."""
    with uow:
        order = locked(uow, order_id)
        if order.state in (expected, OrderState.UNKNOWN):
            order.move(target, reason=reason, at=saga.clock.now())
            order.next_check_at = None
            save(uow, saga, order)
        uow.commit()
    return order


def _schedule_next_check(uow: UnitOfWork, saga: Saga, order_id: str) -> Order:
    with uow:
        order = locked(uow, order_id)
        order.check_attempts += 1
        order.next_check_at = saga.clock.now() + saga.check_delay(order.check_attempts)
        save(uow, saga, order)
        uow.commit()
    return order
