"""An order: what a customer wants delivered to a line, how they pay, and where that stands.

The state machine is the whole truth about an order's money: every transition is recorded with its time and
reason, and a transition the table below does not allow is refused. `unknown` means a provider did not
answer; only asking it (never guessing) moves the order on, to where the provider's answer says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from topup.domain.errors import DomainError, ErrorKind


class OrderState(StrEnum):
    CREATED = "created"  # recorded; no provider has been called yet
    AWAITING_PAYMENT = "awaiting_payment"  # a provider was asked; the customer may have to act (3-D Secure, wallet)
    PAID = "paid"  # the provider authorised the payment: the money is held, delivery may go ahead
    FULFILLED = "fulfilled"  # delivered through the ledger and captured
    FAILED = "failed"  # not paid, or not deliverable and the hold released
    CANCELLED = "cancelled"  # the customer (or staff) gave up before paying
    REFUNDED = "refunded"  # money returned after capture
    UNKNOWN = "unknown"  # a provider's answer was lost: recovery asks it


FINAL_STATES = frozenset({OrderState.FULFILLED, OrderState.FAILED, OrderState.CANCELLED, OrderState.REFUNDED})
# A fulfilled order is final for recovery, but staff may still refund it.
_ALLOWED: dict[OrderState, frozenset[OrderState]] = {
    OrderState.CREATED: frozenset(
        {OrderState.AWAITING_PAYMENT, OrderState.PAID, OrderState.FAILED, OrderState.CANCELLED, OrderState.UNKNOWN}
    ),
    OrderState.AWAITING_PAYMENT: frozenset(
        {OrderState.PAID, OrderState.FAILED, OrderState.CANCELLED, OrderState.UNKNOWN}
    ),
    OrderState.UNKNOWN: frozenset(
        {
            OrderState.AWAITING_PAYMENT,
            OrderState.PAID,
            OrderState.FULFILLED,
            OrderState.FAILED,
            OrderState.CANCELLED,
            OrderState.REFUNDED,
        }
    ),
    OrderState.PAID: frozenset({OrderState.FULFILLED, OrderState.FAILED, OrderState.REFUNDED, OrderState.UNKNOWN}),
    OrderState.FULFILLED: frozenset({OrderState.REFUNDED, OrderState.UNKNOWN}),  # a refund's answer may be lost
    OrderState.FAILED: frozenset(),
    OrderState.CANCELLED: frozenset(),
    OrderState.REFUNDED: frozenset(),
}
REASON_LENGTH_MAX = 200


class IllegalTransition(DomainError):
    code = "order_transition_not_allowed"
    kind = ErrorKind.CONFLICT


def can_move(source: OrderState, target: OrderState) -> bool:
    return target in _ALLOWED[source]


@dataclass(frozen=True, slots=True)
class Transition:
    source: OrderState
    target: OrderState
    reason: str
    at: datetime


@dataclass(slots=True)
class OrderStatus:
    """The state of one order and how it got there."""

    state: OrderState = OrderState.CREATED
    history: list[Transition] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def move(self, target: OrderState, *, reason: str, at: datetime) -> Transition:
        if at.tzinfo is None:
            raise ValueError("transitions are stamped with aware datetimes")
        if not can_move(self.state, target):
            raise IllegalTransition(
                f"An order that is {self.state.value} cannot become {target.value}.",
                state=self.state.value,
                target=target.value,
            )
        transition = Transition(self.state, target, reason.strip()[:REASON_LENGTH_MAX] or target.value, at)
        self.history.append(transition)
        self.state = target
        return transition


class PaymentMethod(StrEnum):
    CARD = "card"  # card details sent with the order, to the card acquirer (3-D Secure when the bank asks)
    GOOGLE_PAY = "googlepay"  # a Google Pay token, opened and authorised by the card acquirer
    PAYPAL = "paypal"  # the customer approves at PayPal and comes back
    WEBMONEY = "webmoney"  # the customer pays from a WebMoney purse; WebMoney notifies us, signed
    GOLDENPAY = "goldenpay"  # the Azerbaijani card gateway's hosted card page


@dataclass(slots=True)
class Order:
    """What a customer asked for, what they pay, and how far the order has come."""

    id: str
    scope: str  # who placed it (the API key's id): only they and staff see it
    msisdn: str
    operator: str
    product_type: str  # "topup" or "bundle"
    amount_qepik: int  # AZN value to deliver
    bundle_code: str | None
    vat_qepik: int
    fee_qepik: int
    currency: str
    rate_micros: int | None
    charge_minor: int  # what the payer is charged, in minor units of `currency`
    payment_method: PaymentMethod
    created_at: datetime
    status: OrderStatus = field(default_factory=OrderStatus)
    quote_id: str | None = None
    card_brand: str | None = None
    card_last_four: str | None = None
    card_fingerprint: str | None = None  # keyed hash of the card number: the same card, without the number
    provider_reference: str | None = None
    redirect_url: str | None = None
    delivered_transaction_id: str | None = None
    reversal_transaction_id: str | None = None  # set when a refund took the delivery back out of the ledger
    failure_code: str | None = None
    failure_message: str | None = None
    check_attempts: int = 0
    next_check_at: datetime | None = None
    updated_at: datetime | None = None
    payment_method_id: str | None = None  # paid with a saved card (card on file)
    auto_recharge_id: str | None = None  # the auto-recharge rule this order is a run of

    @property
    def state(self) -> OrderState:
        return self.status.state

    @property
    def is_settled(self) -> bool:
        """Nothing left for the saga to do (staff may still refund a fulfilled order)."""
        return self.status.is_final

    def move(self, target: OrderState, *, reason: str, at: datetime) -> Transition:
        transition = self.status.move(target, reason=reason, at=at)
        self.updated_at = at
        return transition

    def fail(self, *, code: str, message: str, at: datetime) -> Transition:
        self.failure_code, self.failure_message = code, message[:REASON_LENGTH_MAX]
        return self.move(OrderState.FAILED, reason=code, at=at)
