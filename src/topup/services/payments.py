"""The payment port: every way of paying (card acquirer, wallets, GoldenPay) answers in these terms.

Two shapes of provider:
- `CardAcquirer`: we hold the card details for one request (or a Google Pay token) and ask for an authorisation.
- `RedirectProvider`: the customer approves at the provider (PayPal, WebMoney, GoldenPay, the Google Pay sheet)
  and comes back; `start` tells where to send them, and `find` (or a signed notification) tells what happened.
Both then move the payment with `capture`, `void` and `refund`, keyed by the provider's reference.
"""

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
class PaymentForm:
    """A form the customer's browser posts to the provider (the provider's page takes no plain link)."""

    action_url: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Checkout:
    """What a redirect provider needs to start a payment."""

    reference: str  # our order id: the provider's idempotency key or invoice number
    amount_minor: int  # in minor units of `currency`
    currency: str
    description: str
    return_url: str  # where the browser comes back, paid or not (the provider may add its own parameters)
    cancel_url: str  # where the browser comes back when the customer gives up at the provider
    language: str = "en"  # az, en, ru or zh: the provider's page in the customer's language where it can


@dataclass(frozen=True, slots=True)
class PaymentResult:
    status: PaymentStatus
    provider_reference: str | None = None  # the provider's id of the payment
    redirect_url: str | None = None  # where the customer must go, when status is REQUIRES_ACTION
    form: PaymentForm | None = None  # or the form their browser must post there (WebMoney), instead of a link
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


class PaymentRefused(Exception):
    """The provider understood and said no to a move on a payment (capture of a declined payment, a refund
    above what was captured, a reference reused with other details). Repeating it cannot help; `code` says
    why (invalid_state, invalid_amount, not_found, idempotency_conflict, ...)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class NotificationRejected(Exception):
    """A provider's server-to-server notification that must not be believed (bad signature, wrong amount or
    purse, unknown order, test mode in production). `code` is stable and goes back in the 4xx answer."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class CardOnFile:
    """A card the acquirer keeps for later payments: its token and what may be shown of it."""

    token: str
    brand: str
    last_four: str
    expiry_month: int
    expiry_year: int


class CardNotSaved(Exception):
    """The acquirer would not keep the card: its verification was declined (`code`, as a payment decline)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class PaymentMover(Protocol):
    """What every provider does with a payment once it exists."""

    def find(self, *, reference: str, provider_reference: str | None = None) -> PaymentResult:
        """The payment made for our `reference` (or known to the provider as `provider_reference`), or status
        NOT_FOUND: how an unknown outcome is settled. Never guesses."""
        ...

    def capture(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        """Take held money. For a provider whose payments are taken on approval, reports them CAPTURED."""
        ...

    def void(self, *, provider_reference: str) -> PaymentResult: ...

    def refund(self, *, provider_reference: str, amount_minor: int) -> PaymentResult: ...


class RedirectProvider(PaymentMover, Protocol):
    """A wallet or gateway where the customer approves on the provider's own page."""

    currencies: frozenset[str]  # what it can charge in (PayPal has no AZN; GoldenPay only AZN)
    captures_on_approval: bool  # True when approval takes the money (no hold to void: a refund gives it back)

    def start(self, checkout: Checkout) -> PaymentResult:
        """Create the payment; REQUIRES_ACTION with `redirect_url` or `form`, and the provider's reference."""
        ...


class CardAcquirer(Protocol):
    def authorise(
        self, *, reference: str, amount_minor: int, currency: str, card: CardDetails, return_url: str
    ) -> PaymentResult:
        """Hold the money. `reference` is our order id and the provider's idempotency key: a repeat with the
        same reference returns the first payment, never a second one."""
        ...

    def authorise_token(
        self, *, reference: str, amount_minor: int, currency: str, token: str, return_url: str
    ) -> PaymentResult:
        """Hold the money of a Google Pay payment: `token` is the encrypted payment data (ECv2, gateway mode)
        as Google handed it to the payer's browser, forwarded untouched; only the acquirer can open it."""
        ...

    def authorise_saved(
        self, *, reference: str, amount_minor: int, currency: str, card_token: str, return_url: str
    ) -> PaymentResult:
        """Hold the money on a card on file, the cardholder not present (merchant-initiated: auto-recharge).
        Idempotent by `reference` like `authorise`, and repeatable, since we hold the token: a run whose
        answer was lost is sent again and gets the first payment. A removed card: `PaymentRefused`."""
        ...

    def save_card(self, card: CardDetails) -> CardOnFile:
        """Have the acquirer keep the card (after a zero-amount verification); raises `CardNotSaved`."""
        ...

    def remove_card(self, card_token: str) -> None:
        """Forget a card on file; forgetting one already forgotten is no error."""
        ...

    def find(self, *, reference: str, provider_reference: str | None = None) -> PaymentResult:
        """The payment made for `reference`, or status NOT_FOUND: how an unknown outcome is settled."""
        ...

    def capture(self, *, provider_reference: str, amount_minor: int) -> PaymentResult: ...

    def void(self, *, provider_reference: str) -> PaymentResult: ...

    def refund(self, *, provider_reference: str, amount_minor: int) -> PaymentResult: ...
