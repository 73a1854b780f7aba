"""The payment port: every way of paying (card acquirer, wallets, GoldenPay) answers in these terms."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class PaymentStatus(StrEnum):
    REQUIRES_ACTION = "requires_action"  # the customer must act: 3-D Secure challenge, wallet approval, redirect
    AUTHORISED = "authorised"  # money held, not yet taken
    CAPTURED = "captured"  # money taken
    DECLINED = "declined"  # refused; nothing held
    VOIDED = "voided"  # hold released; nothing taken
    REFUNDED = "refunded"  # taken, then given back (in full)
    CANCELLED = "cancelled"  # the customer gave up at the provider (wallet "cancel")
    NOT_FOUND = "not_found"  # the provider has no payment for this reference (it never arrived)


@dataclass(frozen=True, slots=True)
class CardDetails:
    """Passed straight through to the provider; never stored, never logged (repr hides it)."""

    number: str
    expiry_month: int
    expiry_year: int
    cvc: str

    def __repr__(self) -> str:
        return f"CardDetails(number=…{self.number[-4:]})"


@dataclass(frozen=True, slots=True)
class PaymentResult:
    status: PaymentStatus
    provider_reference: str | None = None  # the provider's id of the payment
    redirect_url: str | None = None  # where the customer must go, when status is REQUIRES_ACTION
    decline_code: str | None = None  # normalised: card_declined, insufficient_funds, expired_card, ...
    raw_code: str | None = None  # the provider's own code (ISO 8583 response code for cards)
    message: str | None = None
    brand: str | None = None
    last_four: str | None = None
    amount_minor: int = 0  # authorised
    captured_minor: int = 0
    refunded_minor: int = 0
    currency: str | None = None


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered nonsense. `outcome_unknown` is True when the request may have
    reached it (a timeout after sending): then only asking it later tells what happened, never guessing."""

    def __init__(self, message: str, *, outcome_unknown: bool) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


class CardAcquirer(Protocol):
    def authorise(
        self, *, reference: str, amount_minor: int, currency: str, card: CardDetails, return_url: str
    ) -> PaymentResult:
        """Hold the money. `reference` is our order id and the provider's idempotency key: a repeat with the
        same reference returns the first payment, never a second one."""
        ...

    def find(self, *, reference: str) -> PaymentResult:
        """The payment made for `reference`, or status NOT_FOUND: how an unknown outcome is settled."""
        ...

    def capture(self, *, provider_reference: str, amount_minor: int) -> PaymentResult: ...

    def void(self, *, provider_reference: str) -> PaymentResult: ...

    def refund(self, *, provider_reference: str, amount_minor: int) -> PaymentResult: ...
