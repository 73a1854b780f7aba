"""Orders: placing one (by card, Google Pay, PayPal, WebMoney or GoldenPay), the customer's way back from the
provider, provider notifications, cancelling, and finding orders. The saga that carries a paid order on to
delivery and capture is `order_saga`.

Placing follows one pattern for every method: check everything we can (number, product, limits, currency,
card digits) and record the order in one transaction; commit; only then call the provider; then record what
it said, through the saga.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time

from topup.domain.calendar import BAKU, baku_date
from topup.domain.cards import check_card, check_cvc
from topup.domain.errors import DomainError, ErrorKind, InvalidInput
from topup.domain.fx import LockedRate
from topup.domain.limits import Limits, check_limits
from topup.domain.money import format_amount
from topup.domain.numbers import parse_msisdn
from topup.domain.orders import Order, OrderState, PaymentMethod
from topup.domain.payment_methods import SavedCard
from topup.domain.quotes import ProductType, Quote
from topup.services import payment_methods
from topup.services.lines import require_line
from topup.services.order_saga import (
    CHALLENGE_TIMEOUT,
    CHECK_DELAYS,
    CREATED_GRACE,
    OrderLimits,
    OrderNotFound,
    PaymentMethodUnavailable,
    RefundNotPossible,
    Saga,
    apply_payment,
    get_order,
    locked,
    pay_with_saved_card,
    record_no_answer,
    refund,
    refuse_payment,
    save,
    settle,
    settle_due,
)
from topup.services.payments import (
    CardDetails,
    Checkout,
    NotificationRejected,
    PaymentForm,
    PaymentRefused,
    PaymentResult,
    ProviderUnavailable,
)
from topup.services.ports import Clock, UnitOfWork
from topup.services.quotes import price

__all__ = [
    "CHALLENGE_TIMEOUT",
    "CHECK_DELAYS",
    "CREATED_GRACE",
    "LIST_LIMIT_MAX",
    "CurrencyNotSupported",
    "OrderLimits",
    "OrderNotCancellable",
    "OrderNotFound",
    "OrderRequest",
    "PaymentMethodUnavailable",
    "QuoteMismatch",
    "RefundNotPossible",
    "ReturnAddresses",
    "Saga",
    "cancel",
    "cancel_at_return",
    "get_order",
    "list_orders",
    "pay_with_google_pay",
    "payment_form",
    "place_card_order",
    "place_google_pay_order",
    "place_redirect_order",
    "place_saved_card_order",
    "record_notification",
    "record_saved_card_order",
    "refund",
    "return_from_provider",
    "settle",
    "settle_due",
]

LIST_LIMIT_MAX = 200
REDIRECT_METHODS = (PaymentMethod.PAYPAL, PaymentMethod.WEBMONEY, PaymentMethod.GOLDENPAY, PaymentMethod.GOOGLE_PAY)


class QuoteMismatch(DomainError):
    code = "quote_mismatch"


class OrderNotCancellable(DomainError):
    code = "order_not_cancellable"
    kind = ErrorKind.CONFLICT


class CurrencyNotSupported(DomainError):
    code = "currency_not_supported_by_method"


class PaymentNotAccepted(DomainError):
    """The provider refused the payment outright (an invalid Google Pay token, a reused order id)."""

    code = "payment_not_accepted"
    kind = ErrorKind.CONFLICT


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the customer asks for, whatever the way of paying."""

    scope: str
    number: str
    product_type: ProductType
    amount_qepik: int | None = None
    bundle_code: str | None = None
    currency: str = "AZN"
    quote_id: str | None = None
    order_id: str | None = None  # lets the caller choose the id (for idempotency)


@dataclass(frozen=True, slots=True)
class ReturnAddresses:
    """Our own pages the customer's browser comes back to; each may contain "{order_id}"."""

    return_url: str  # after 3-D Secure, or after approving at a wallet or gateway
    cancel_url: str = ""  # after giving up at a wallet
    pay_url: str = ""  # our page that posts the provider's form (WebMoney), when a link is not enough
    google_pay_url: str = ""  # where the Google Pay sheet posts its token

    def for_order(self, order_id: str) -> ReturnAddresses:
        return ReturnAddresses(*(url.replace("{order_id}", order_id) for url in self._urls()))

    def _urls(self) -> tuple[str, str, str, str]:
        return (self.return_url, self.cancel_url, self.pay_url, self.google_pay_url)


def place_card_order(
    uow: UnitOfWork, saga: Saga, request: OrderRequest, *, card: CardDetails, return_url: str
) -> Order:
    """Record the order, ask the acquirer to authorise, and carry on as far as the answer allows."""
    now = saga.clock.now()
    pan, summary = check_card(card.number, card.expiry_month, card.expiry_year, today=baku_date(now))
    check_cvc(card.cvc, brand=summary.brand)
    card = CardDetails(pan, card.expiry_month, card.expiry_year, card.cvc)  # digits only, as acquirers expect
    order = _record(
        uow,
        saga,
        request,
        PaymentMethod.CARD,
        fingerprint=saga.fingerprints.card(pan),
        brand=summary.brand,
        last_four=summary.last_four,
    )
    try:
        result = saga.acquirer.authorise(
            reference=order.id,
            amount_minor=order.charge_minor,
            currency=order.currency,
            card=card,
            return_url=return_url.replace("{order_id}", order.id),
        )
    except ProviderUnavailable as error:
        return record_no_answer(uow, saga, order.id, step="authorise", unknown=error.outcome_unknown)
    return apply_payment(uow, saga, order.id, result)


def record_saved_card_order(
    uow: UnitOfWork, saga: Saga, request: OrderRequest, *, card: SavedCard, auto_recharge_id: str | None = None
) -> Order:
    """Record an order to be paid with a saved card; `pay_with_saved_card` then pays it. Inside the caller's
    transaction when one is open (an auto-recharge run records its order with the rule's change)."""
    card.ensure_usable(baku_date(saga.clock.now()))
    return _record(
        uow,
        saga,
        request,
        PaymentMethod.CARD,
        fingerprint=card.fingerprint,
        brand=card.brand,
        last_four=card.last_four,
        payment_method_id=card.id,
        auto_recharge_id=auto_recharge_id,
    )


def place_saved_card_order(
    uow: UnitOfWork, saga: Saga, request: OrderRequest, *, payment_method_id: str, card_scope: str | None
) -> Order:
    """A customer pays with a card saved for this line before (`card_scope`: whose saved cards the caller may
    use; None for staff): no card details, no 3-D Secure (merchant-initiated, on the cardholder's standing
    instruction)."""
    with uow:
        card = payment_methods.owned_card(uow, number=request.number, method_id=payment_method_id, scope=card_scope)
    order = record_saved_card_order(uow, saga, request, card=card)
    return pay_with_saved_card(uow, saga, order_id=order.id)


def place_google_pay_order(uow: UnitOfWork, saga: Saga, request: OrderRequest, *, token: str, return_url: str) -> Order:
    """An integrator that runs Google Pay's own button hands us the token with the order: authorise at once."""
    order = _record(uow, saga, request, PaymentMethod.GOOGLE_PAY)
    return _authorise_token(uow, saga, order, token=token, return_url=return_url.replace("{order_id}", order.id))


def place_redirect_order(
    uow: UnitOfWork,
    saga: Saga,
    request: OrderRequest,
    *,
    method: PaymentMethod,
    addresses: ReturnAddresses,
    language: str = "en",
) -> Order:
    """Record the order and start the payment at the wallet or gateway; the order then awaits the customer's
    approval there (`next_action.redirect_url`)."""
    if method not in REDIRECT_METHODS:
        raise InvalidInput(f"{method.value} is not paid through a redirect.", field="payment.method")
    provider = saga.provider(method)
    order = _record(uow, saga, request, method, currencies=provider.currencies)
    urls = addresses.for_order(order.id)
    checkout = _checkout(order, urls, language)
    try:
        result = provider.start(checkout)
    except ProviderUnavailable as error:
        return record_no_answer(uow, saga, order.id, step="start", unknown=error.outcome_unknown)
    except PaymentRefused as refused:
        return refuse_payment(uow, saga, order.id, refused)
    if result.form is not None:  # the customer's browser must post a form: our pay page serves it
        with uow:
            saved = locked(uow, order.id)
            saved.redirect_url = urls.pay_url
            save(uow, saga, saved)
            uow.commit()
    return apply_payment(uow, saga, order.id, result)


def payment_form(
    uow: UnitOfWork, saga: Saga, *, order_id: str, addresses: ReturnAddresses, language: str
) -> PaymentForm:
    """The form our pay page posts to the provider, for an order that awaits it (WebMoney). Starting again is
    safe: such a provider makes no server call until the customer pays, and the form is the same each time."""
    order = get_order(uow, order_id=order_id)
    if order.state is not OrderState.AWAITING_PAYMENT:
        raise OrderNotCancellable(
            f"This order is {order.state.value}: there is nothing to pay.", state=order.state.value
        )
    result = saga.provider(order.payment_method).start(_checkout(order, addresses.for_order(order.id), language))
    if result.form is None:
        raise InvalidInput("This order is paid through a link, not a form.", field="order_id")
    return result.form


def pay_with_google_pay(uow: UnitOfWork, saga: Saga, *, order_id: str, token: str, return_url: str) -> Order:
    """The Google Pay sheet handed the customer's browser a token for this order: authorise it."""
    order = get_order(uow, order_id=order_id)
    if order.payment_method is not PaymentMethod.GOOGLE_PAY:
        raise InvalidInput("This order is not paid with Google Pay.", field="order_id")
    if order.state is not OrderState.AWAITING_PAYMENT or order.provider_reference is not None:
        return order  # already paid (a second press of the sheet's button), or given up
    return _authorise_token(uow, saga, order, token=token, return_url=return_url.replace("{order_id}", order.id))


def return_from_provider(uow: UnitOfWork, saga: Saga, *, method: PaymentMethod, provider_reference: str) -> Order:
    """The customer is back from a gateway whose return names only its own reference (GoldenPay)."""
    with uow:
        order = uow.orders.by_provider_reference(method, provider_reference)
    if order is None:
        raise OrderNotFound("No order was paid with this reference.", reference=provider_reference[:64])
    return settle(uow, saga, order_id=order.id, returning=True)


def record_notification(
    uow: UnitOfWork,
    saga: Saga,
    *,
    method: PaymentMethod,
    result: PaymentResult,
    amount_minor: int,
    currency: str,
    checking_only: bool = False,
) -> Order:
    """A provider's signed server-to-server notification (WebMoney), already checked for its signature.

    It must name an order of ours, for exactly its amount and currency. `checking_only` is the provider's
    question before the payer pays (WebMoney's pre-request): may this payment go ahead? A repeated
    notification changes nothing: the order has already moved on."""
    with uow:
        order = uow.orders.by_provider_reference(method, result.provider_reference or "")
    if order is None:
        raise NotificationRejected("No order awaits this payment.", code="unknown_order")
    if (amount_minor, currency) != (order.charge_minor, order.currency):
        raise NotificationRejected("The amount or currency differs from the order's.", code="wrong_amount")
    if checking_only:
        if order.state is not OrderState.AWAITING_PAYMENT:
            raise NotificationRejected(f"The order is {order.state.value}.", code="order_not_payable")
        return order
    return apply_payment(uow, saga, order.id, result)


def cancel(uow: UnitOfWork, saga: Saga, *, order_id: str, scope: str | None) -> Order:
    """The customer gives up before paying. If a provider took the money all the same (a payment finished in
    another tab), the check scheduled here finds it and gives it back."""
    with uow:
        order = locked(uow, order_id, scope=scope)
        if order.state not in (OrderState.CREATED, OrderState.AWAITING_PAYMENT):
            raise OrderNotCancellable(
                f"An order that is {order.state.value} cannot be cancelled.", state=order.state.value
            )
        now = saga.clock.now()
        order.move(OrderState.CANCELLED, reason="cancelled by the customer", at=now)
        order.next_check_at = now + saga.created_grace
        save(uow, saga, order)
        uow.commit()
    return order


def cancel_at_return(uow: UnitOfWork, saga: Saga, *, order_id: str) -> Order:
    """The customer came back through the provider's cancel (or fail) link. The provider is asked first: only
    an order it has not been paid for is cancelled."""
    order = settle(uow, saga, order_id=order_id, returning=True)
    if order.state is not OrderState.AWAITING_PAYMENT:
        return order
    with uow:
        order = locked(uow, order_id)
        if order.state is OrderState.AWAITING_PAYMENT:
            now = saga.clock.now()
            order.failure_code = "payment_cancelled"
            order.failure_message = "The payment was cancelled at the provider; nothing was charged."
            order.move(OrderState.CANCELLED, reason="cancelled at the payment provider", at=now)
            order.next_check_at = now + saga.created_grace
            save(uow, saga, order)
        uow.commit()
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


def _record(
    uow: UnitOfWork,
    saga: Saga,
    request: OrderRequest,
    method: PaymentMethod,
    *,
    currencies: frozenset[str] | None = None,
    fingerprint: str | None = None,
    brand: str | None = None,
    last_four: str | None = None,
    payment_method_id: str | None = None,
    auto_recharge_id: str | None = None,
) -> Order:
    """Check the order against the line, the catalogue, the quote and the limits; record it; commit (unless
    the caller's transaction is open: then the caller commits)."""
    msisdn = parse_msisdn(request.number)
    now = saga.clock.now()
    if currencies is not None and request.currency not in currencies:
        raise CurrencyNotSupported(
            f"{method.value} cannot charge in {request.currency}; it charges in {', '.join(sorted(currencies))}.",
            currency=request.currency,
            supported=sorted(currencies),
        )
    with uow:
        line = require_line(uow, msisdn, for_update=True)  # one order at a time per number: limits hold
        terms = _terms(uow, saga.clock, request, msisdn.e164)
        _check_limits(uow, saga, terms, fingerprint, now=now)
        if request.product_type is ProductType.TOPUP:  # refuse now what delivery would refuse later
            catalogue = uow.catalogue.current()
            line.plan_top_up(catalogue.operator(line.operator), terms.amount_qepik, today=baku_date(now), vat_bp=0)
        order = Order(
            id=request.order_id or uuid.uuid4().hex,
            scope=request.scope,
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
            payment_method=method,
            created_at=now,
            quote_id=request.quote_id,
            card_brand=brand,
            card_last_four=last_four,
            card_fingerprint=fingerprint,
            next_check_at=now + saga.created_grace,
            updated_at=now,
            payment_method_id=payment_method_id,
            auto_recharge_id=auto_recharge_id,
        )
        uow.orders.add(order)
        uow.commit()
    return order


def _authorise_token(uow: UnitOfWork, saga: Saga, order: Order, *, token: str, return_url: str) -> Order:
    try:
        result = saga.acquirer.authorise_token(
            reference=order.id,
            amount_minor=order.charge_minor,
            currency=order.currency,
            token=token,
            return_url=return_url,
        )
    except ProviderUnavailable as error:
        return record_no_answer(uow, saga, order.id, step="authorise", unknown=error.outcome_unknown)
    except PaymentRefused as refused:
        return refuse_payment(uow, saga, order.id, refused)
    return apply_payment(uow, saga, order.id, result)


def _checkout(order: Order, urls: ReturnAddresses, language: str) -> Checkout:
    product = (
        f"Top-up {format_amount(order.amount_qepik)} AZN"
        if order.product_type == ProductType.TOPUP.value
        else f"Bundle {order.bundle_code}"
    )
    return Checkout(
        reference=order.id,
        amount_minor=order.charge_minor,
        currency=order.currency,
        description=f"{product} for {order.msisdn}",
        return_url=urls.google_pay_url if order.payment_method is PaymentMethod.GOOGLE_PAY else urls.return_url,
        cancel_url=urls.cancel_url,
        language=language,
    )


def _check_limits(uow: UnitOfWork, saga: Saga, terms: Quote, fingerprint: str | None, *, now: datetime) -> None:
    """Per number always; per card where we know the card (card orders). A wallet's or gateway's payer is
    unknown to us until after they paid, and those providers keep their own limits per account."""
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
    if fingerprint is not None:
        check_limits(
            Limits(limits.card_count_max, limits.card_amount_max_qepik),
            uow.orders.usage(msisdn=None, card_fingerprint=fingerprint, since=day_start),
            terms.amount_qepik,
            now=now,
            subject="card",
        )


def _terms(uow: UnitOfWork, clock: Clock, request: OrderRequest, msisdn: str) -> Quote:
    """The quote the order pays: the one named (checked against the order), or a fresh one."""
    product_type, currency = request.product_type, request.currency
    if request.quote_id is None:
        return price(
            uow,
            clock,
            number=msisdn,
            product_type=product_type,
            amount_qepik=request.amount_qepik,
            bundle_code=request.bundle_code,
            currency=currency,
        )
    quote_id = request.quote_id
    quoted = uow.quotes.get(quote_id) if quote_id.isalnum() else None
    if quoted is None:
        raise QuoteMismatch("There is no quote with this id.", quote_id=quote_id[:64])
    LockedRate(quoted.currency, quoted.rate_micros or 0, quoted.expires_at).ensure_live(clock.now())
    product = request.amount_qepik if product_type is ProductType.TOPUP else request.bundle_code
    asked = (msisdn, product_type, currency, product)
    quoted_terms = (
        quoted.msisdn,
        quoted.product_type,
        quoted.currency,
        quoted.amount_qepik if quoted.product_type is ProductType.TOPUP else quoted.bundle_code,
    )
    if asked != quoted_terms:
        raise QuoteMismatch("This quote was made for another number, product or currency.", quote_id=quote_id)
    return quoted
