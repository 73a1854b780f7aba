"""Orders paid by card: the saga authorise -> deliver through the ledger -> capture, and its recovery.

Rules that make it safe (DESIGN.md, DOMAIN.md):
- No provider call inside a database transaction: record the intent, commit, call, record the outcome.
- The order row is the saga's memory: its state and `delivered_transaction_id` say exactly what is left to do,
  so a crash at any point is finished by `settle()` (called by the worker and by the 3-D Secure return).
- An unanswered call leaves the order `unknown`; only the provider's own answer (`find`) moves it on.
- The provider sees our order id as its idempotency key, so asking twice never pays twice; delivery happens
  under the order's row lock and at most once (`delivered_transaction_id` is unique).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from topup.domain.calendar import BAKU, baku_date
from topup.domain.cards import check_card, check_cvc
from topup.domain.errors import DomainError, ErrorKind, InsufficientBalance, InvalidInput
from topup.domain.fx import LockedRate
from topup.domain.history import TransactionRecord
from topup.domain.ledger import TransactionKind, check_posting, reversed_transfers
from topup.domain.limits import Limits, check_limits
from topup.domain.numbers import parse_msisdn
from topup.domain.orders import Order, OrderState, PaymentMethod
from topup.domain.quotes import ProductType, Quote
from topup.services import bundles, topups, webhooks
from topup.services.lines import require_line
from topup.services.payments import CardAcquirer, CardDetails, PaymentResult, PaymentStatus, ProviderUnavailable
from topup.services.ports import Clock, Fingerprints, ReceiptCodes, UnitOfWork
from topup.services.quotes import price

# When to ask a provider again about an unsettled order: 5 minutes, an hour, then daily (Kill Bill's janitor).
CHECK_DELAYS = (timedelta(minutes=5), timedelta(hours=1), timedelta(days=1))
# A freshly created order is left alone this long: its own request may still be talking to the provider.
CREATED_GRACE = timedelta(minutes=2)
# A customer who has not finished 3-D Secure by then has given up.
CHALLENGE_TIMEOUT = timedelta(minutes=30)
ORDER_CHANNEL = "order"
LIST_LIMIT_MAX = 200


class OrderNotFound(DomainError):
    code = "order_not_found"
    kind = ErrorKind.NOT_FOUND


class QuoteMismatch(DomainError):
    code = "quote_mismatch"


class RefundNotPossible(DomainError):
    code = "refund_not_possible"
    kind = ErrorKind.CONFLICT


class OrderNotCancellable(DomainError):
    code = "order_not_cancellable"
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

    def check_delay(self, attempts: int) -> timedelta:
        return self.check_delays[min(attempts, len(self.check_delays) - 1)]


def place_card_order(
    uow: UnitOfWork,
    saga: Saga,
    *,
    scope: str,
    number: str,
    product_type: ProductType,
    card: CardDetails,
    return_url: str,
    amount_qepik: int | None = None,
    bundle_code: str | None = None,
    currency: str = "AZN",
    quote_id: str | None = None,
    order_id: str | None = None,
) -> Order:
    """Record the order, ask the acquirer to authorise, and carry on as far as the answer allows.

    `return_url` may contain "{order_id}"; `order_id` lets the caller choose the id (for idempotency)."""
    msisdn = parse_msisdn(number)
    now = saga.clock.now()
    pan, summary = check_card(card.number, card.expiry_month, card.expiry_year, today=baku_date(now))
    check_cvc(card.cvc, brand=summary.brand)
    card = CardDetails(pan, card.expiry_month, card.expiry_year, card.cvc)  # digits only, as acquirers expect
    fingerprint = saga.fingerprints.card(pan)
    with uow:
        line = require_line(uow, msisdn, for_update=True)  # one order at a time per number: limits hold
        terms = _terms(uow, saga.clock, quote_id, msisdn.e164, product_type, amount_qepik, bundle_code, currency)
        _check_limits(uow, saga, terms, fingerprint, now=now)
        if product_type is ProductType.TOPUP:  # refuse now what delivery would refuse later
            catalogue = uow.catalogue.current()
            line.plan_top_up(catalogue.operator(line.operator), terms.amount_qepik, today=baku_date(now), vat_bp=0)
        order = Order(
            id=order_id or uuid.uuid4().hex,
            scope=scope,
            msisdn=msisdn.e164,
            operator=terms.operator,
            product_type=terms.product_type.value,
            amount_qepik=terms.amount_qepik,
            bundle_code=terms.bundle_code,
            vat_qepik=terms.vat_qepik,
            fee_qepik=terms.fee_qepik,
            currency=terms.currency,
            rate_micros=terms.rate_micros,
            charge_minor=terms.charge_minor,
            payment_method=PaymentMethod.CARD,
            created_at=now,
            quote_id=quote_id,
            card_brand=summary.brand,
            card_last_four=summary.last_four,
            card_fingerprint=fingerprint,
            next_check_at=now + saga.created_grace,
            updated_at=now,
        )
        uow.orders.add(order)
        uow.commit()
    try:
        result = saga.acquirer.authorise(
            reference=order.id,
            amount_minor=order.charge_minor,
            currency=order.currency,
            card=card,
            return_url=return_url.replace("{order_id}", order.id),
        )
    except ProviderUnavailable as error:
        return _record_no_answer(uow, saga, order.id, step="authorise", unknown=error.outcome_unknown)
    return _apply_payment(uow, saga, order.id, result)


def settle(uow: UnitOfWork, saga: Saga, *, order_id: str) -> Order:
    """Bring an unsettled order as far as it can go now, asking the provider what happened where needed."""
    order = get_order(uow, order_id=order_id)
    if order.is_settled:
        return order
    if order.state is OrderState.PAID:
        return _deliver_and_capture(uow, saga, order_id)
    if order.state is OrderState.CREATED and saga.clock.now() < order.created_at + saga.created_grace:
        return order  # its own request may still be talking to the provider
    try:
        result = saga.acquirer.find(reference=order_id)
    except ProviderUnavailable:
        return _schedule_next_check(uow, saga, order_id)
    return _apply_payment(uow, saga, order_id, result)


def settle_due(uow: UnitOfWork, saga: Saga, *, limit: int = 50) -> int:
    """The recovery job: settle up to `limit` orders whose next check is due. Returns how many it looked at."""
    with uow:
        due = uow.orders.due_for_check(now=saga.clock.now(), limit=limit)
    for order_id in due:
        settle(uow, saga, order_id=order_id)
    return len(due)


def cancel(uow: UnitOfWork, saga: Saga, *, order_id: str, scope: str | None) -> Order:
    with uow:
        order = _locked(uow, order_id, scope=scope)
        if order.state not in (OrderState.CREATED, OrderState.AWAITING_PAYMENT):
            raise OrderNotCancellable(
                f"An order that is {order.state.value} cannot be cancelled.", state=order.state.value
            )
        order.move(OrderState.CANCELLED, reason="cancelled by the customer", at=saga.clock.now())
        order.next_check_at = None
        _save(uow, saga, order)
        uow.commit()
    return order


def refund(uow: UnitOfWork, saga: Saga, *, order_id: str) -> Order:
    """Staff: give a fulfilled order's money back. The delivery is first taken back out of the ledger (refused
    if the line has already used it), then the acquirer refunds; a lost answer is settled by the worker.
    The line's usage period is not shortened: the days already granted stay (the operator's rule for
    reversals is not public; this is the customer-friendly reading)."""
    with uow:
        order = _locked(uow, order_id)
        if order.state is OrderState.REFUNDED:
            return order
        if order.state is not OrderState.FULFILLED or order.delivered_transaction_id is None:
            raise RefundNotPossible(
                f"Only a fulfilled order can be refunded; this one is {order.state.value}.", state=order.state.value
            )
        if order.reversal_transaction_id is None:
            order.reversal_transaction_id = _reverse_delivery(uow, saga, order, order.delivered_transaction_id).id
            _save(uow, saga, order)
        uow.commit()
    return _refund_payment(uow, saga, order_id)


def get_order(uow: UnitOfWork, *, order_id: str, scope: str | None = None) -> Order:
    """`scope` None is staff (every order); otherwise only the caller's own orders exist for them."""
    with uow:
        order = uow.orders.get(order_id) if order_id.isalnum() else None
    if order is None or (scope is not None and order.scope != scope):
        raise OrderNotFound("There is no order with this id.", order_id=order_id[:64])
    return order


def list_orders(
    uow: UnitOfWork,
    *,
    scope: str | None,
    number: str | None = None,
    state: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 50,
) -> list[Order]:
    if not 1 <= limit <= LIST_LIMIT_MAX:
        raise InvalidInput(f"limit must be between 1 and {LIST_LIMIT_MAX}.", field="limit")
    if state is not None and state not in {s.value for s in OrderState}:
        raise InvalidInput("Unknown order status.", field="status")
    msisdn = parse_msisdn(number).e164 if number else None
    with uow:
        return uow.orders.list(
            scope=scope,
            msisdn=msisdn,
            state=state,
            created_from=created_from,
            created_to=created_to,
            limit=limit,
        )


def _check_limits(uow: UnitOfWork, saga: Saga, terms: Quote, fingerprint: str, *, now: datetime) -> None:
    day_start = datetime.combine(baku_date(now), time(0), tzinfo=BAKU)
    operator = uow.catalogue.current().operator(terms.operator)
    limits = saga.limits
    check_limits(
        Limits(limits.number_count_max, limits.number_amount_max_qepik, operator.topup.cooldown_seconds),
        uow.orders.usage(msisdn=terms.msisdn, card_fingerprint=None, since=day_start),
        terms.amount_qepik,
        now=now,
        subject="number",
    )
    check_limits(
        Limits(limits.card_count_max, limits.card_amount_max_qepik),
        uow.orders.usage(msisdn=None, card_fingerprint=fingerprint, since=day_start),
        terms.amount_qepik,
        now=now,
        subject="card",
    )


def _terms(
    uow: UnitOfWork,
    clock: Clock,
    quote_id: str | None,
    msisdn: str,
    product_type: ProductType,
    amount_qepik: int | None,
    bundle_code: str | None,
    currency: str,
) -> Quote:
    """The quote the order pays: the one named (checked against the order), or a fresh one."""
    if quote_id is None:
        return price(
            uow,
            clock,
            number=msisdn,
            product_type=product_type,
            amount_qepik=amount_qepik,
            bundle_code=bundle_code,
            currency=currency,
        )
    quoted = uow.quotes.get(quote_id) if quote_id.isalnum() else None
    if quoted is None:
        raise QuoteMismatch("There is no quote with this id.", quote_id=quote_id[:64])
    LockedRate(quoted.currency, quoted.rate_micros or 0, quoted.expires_at).ensure_live(clock.now())
    asked = (msisdn, product_type, currency, amount_qepik if product_type is ProductType.TOPUP else bundle_code)
    quoted_terms = (
        quoted.msisdn,
        quoted.product_type,
        quoted.currency,
        quoted.amount_qepik if quoted.product_type is ProductType.TOPUP else quoted.bundle_code,
    )
    if asked != quoted_terms:
        raise QuoteMismatch("This quote was made for another number, product or currency.", quote_id=quote_id)
    return quoted


def _save(uow: UnitOfWork, saga: Saga, order: Order) -> None:
    """Save the order and queue the webhook events its new transitions trigger, in the same transaction."""
    new = uow.orders.save(order)
    if new:
        webhooks.queue_order_events(uow, order, new, now=saga.clock.now())


def _locked(uow: UnitOfWork, order_id: str, *, scope: str | None = None) -> Order:
    order = uow.orders.get(order_id, for_update=True) if order_id.isalnum() else None
    if order is None or (scope is not None and order.scope != scope):
        raise OrderNotFound("There is no order with this id.", order_id=order_id[:64])
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
        result = saga.acquirer.refund(
            provider_reference=order.provider_reference or "", amount_minor=order.charge_minor
        )
    except ProviderUnavailable:
        return _record_no_answer(uow, saga, order_id, step="refund", unknown=True)
    with uow:
        order = _locked(uow, order_id)
        if result.status is PaymentStatus.REFUNDED and order.state in (OrderState.FULFILLED, OrderState.UNKNOWN):
            order.move(OrderState.REFUNDED, reason="refunded by staff", at=saga.clock.now())
            order.next_check_at = None
            _save(uow, saga, order)
        uow.commit()
    return order


def _record_no_answer(uow: UnitOfWork, saga: Saga, order_id: str, *, step: str, unknown: bool) -> Order:
    with uow:
        order = _locked(uow, order_id)
        now = saga.clock.now()
        if order.state is OrderState.CREATED and not unknown:
            order.fail(code="provider_unavailable", message=f"The card acquirer did not answer ({step}).", at=now)
            order.next_check_at = None
        elif order.state is not OrderState.UNKNOWN and (not order.is_settled or step == "refund"):
            order.move(OrderState.UNKNOWN, reason=f"{step}: no answer from the card acquirer", at=now)
            order.next_check_at = now + saga.check_delay(order.check_attempts)
        _save(uow, saga, order)
        uow.commit()
    return order


def _schedule_next_check(uow: UnitOfWork, saga: Saga, order_id: str) -> Order:
    with uow:
        order = _locked(uow, order_id)
        order.check_attempts += 1
        order.next_check_at = saga.clock.now() + saga.check_delay(order.check_attempts)
        _save(uow, saga, order)
        uow.commit()
    return order


def _apply_payment(uow: UnitOfWork, saga: Saga, order_id: str, result: PaymentResult) -> Order:
    """Move the order to where the provider's answer puts it; then deliver and capture if it is paid."""
    with uow:
        order = _locked(uow, order_id)
        if order.is_settled:
            return order
        order.provider_reference = result.provider_reference or order.provider_reference
        _follow(order, result, saga, now=saga.clock.now())
        _save(uow, saga, order)
        uow.commit()
    if order.reversal_transaction_id is not None and order.state is OrderState.UNKNOWN:
        return _refund_payment(uow, saga, order_id)  # a refund whose answer was lost: ask again (idempotent)
    if order.failure_code is not None and order.state not in (OrderState.FAILED, OrderState.CANCELLED):
        return _release_hold(uow, saga, order_id)
    if order.state is OrderState.PAID:
        return _deliver_and_capture(uow, saga, order_id)
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
        if now >= order.created_at + saga.challenge_timeout:
            order.move(OrderState.CANCELLED, reason="3-D Secure not completed in time", at=now)
            order.next_check_at = None
            return
        if order.state is not OrderState.AWAITING_PAYMENT:
            order.move(OrderState.AWAITING_PAYMENT, reason="3-D Secure challenge", at=now)
        order.redirect_url = result.redirect_url or order.redirect_url
        order.next_check_at = order.created_at + saga.challenge_timeout
        return
    if status in (PaymentStatus.AUTHORISED, PaymentStatus.CAPTURED):
        # A failed delivery keeps its state: the hold is released next, outside the transaction.
        if order.failure_code is None and order.state is not OrderState.PAID:
            order.move(OrderState.PAID, reason=f"payment {status.value}", at=now)
        order.next_check_at = now + saga.check_delay(order.check_attempts)
        return
    order.next_check_at = None
    if status is PaymentStatus.NOT_FOUND:
        order.fail(code="payment_not_received", message="The card acquirer never received this payment.", at=now)
    elif status is PaymentStatus.VOIDED and order.failure_code is not None:
        order.move(OrderState.FAILED, reason=f"hold released after {order.failure_code}", at=now)
    elif status is PaymentStatus.REFUNDED:
        order.move(OrderState.REFUNDED, reason="refunded at the card acquirer", at=now)
    else:  # declined, cancelled at the provider, voided without our asking
        order.fail(
            code=result.decline_code or status.value, message=result.message or "The payment was not accepted.", at=now
        )


def _deliver(uow: UnitOfWork, saga: Saga, order: Order) -> TransactionRecord:
    if order.product_type == ProductType.TOPUP.value:
        return topups.top_up(
            uow, saga.clock, saga.codes, number=order.msisdn, amount_qepik=order.amount_qepik, channel=ORDER_CHANNEL
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


def _deliver_and_capture(uow: UnitOfWork, saga: Saga, order_id: str) -> Order:
    failure: DomainError | None = None
    try:
        with uow:
            order = _locked(uow, order_id)
            if order.state is not OrderState.PAID:
                return order
            if order.delivered_transaction_id is None:
                order.delivered_transaction_id = _deliver(uow, saga, order).id
                order.updated_at = saga.clock.now()
                _save(uow, saga, order)
            uow.commit()
    except DomainError as error:  # the line cannot take it (barred, closed, ...): nothing was delivered
        failure = error
    if failure is not None:
        with uow:
            order = _locked(uow, order_id)
            order.failure_code, order.failure_message = failure.code, failure.message[:200]
            _save(uow, saga, order)
            uow.commit()
        return _release_hold(uow, saga, order_id)
    try:
        result = saga.acquirer.capture(
            provider_reference=order.provider_reference or "", amount_minor=order.charge_minor
        )
    except ProviderUnavailable as error:
        if error.outcome_unknown:
            return _record_no_answer(uow, saga, order_id, step="capture", unknown=True)
        return _schedule_next_check(uow, saga, order_id)
    with uow:
        order = _locked(uow, order_id)
        if result.status is PaymentStatus.CAPTURED and order.state in (OrderState.PAID, OrderState.UNKNOWN):
            order.move(OrderState.FULFILLED, reason="delivered and captured", at=saga.clock.now())
            order.next_check_at = None
            _save(uow, saga, order)
        uow.commit()
    return order


def _release_hold(uow: UnitOfWork, saga: Saga, order_id: str) -> Order:
    """Delivery failed: void the authorisation, then fail the order with the delivery's reason."""
    order = get_order(uow, order_id=order_id)
    try:
        result = saga.acquirer.void(provider_reference=order.provider_reference or "")
    except ProviderUnavailable as error:
        return _record_no_answer(uow, saga, order_id, step="void", unknown=error.outcome_unknown)
    with uow:
        order = _locked(uow, order_id)
        if result.status is PaymentStatus.VOIDED and not order.is_settled:
            order.move(
                OrderState.FAILED, reason=f"not delivered ({order.failure_code}); hold released", at=saga.clock.now()
            )
            order.next_check_at = None
            _save(uow, saga, order)
        uow.commit()
    return order
