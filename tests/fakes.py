"""Test doubles shared by the service and API tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from topup.services.channels import ChannelUnavailable
from topup.services.payments import (
    CardDetails,
    CardNotSaved,
    CardOnFile,
    Checkout,
    PaymentRefused,
    PaymentResult,
    PaymentStatus,
    ProviderUnavailable,
)

VISA = CardDetails("4242424242424242", 12, 2030, "123")
CHALLENGE = CardDetails("4000000000003220", 12, 2030, "123")
DECLINED = CardDetails("4000000000000002", 12, 2030, "123")


@dataclass
class Payment:
    reference: str
    amount: int
    status: PaymentStatus
    captured: int = 0
    refunded: int = 0


@dataclass
class ScriptedAcquirer:
    """Behaves like the sandbox acquirer; `lose_next` drops the answer of the next call of that name after the
    acquirer has acted on it, `down` refuses connections."""

    payments: dict[str, Payment] = field(default_factory=dict)
    lose_next: set[str] = field(default_factory=set)
    down: bool = False
    calls: list[str] = field(default_factory=list)
    saved_cards: dict[str, str] = field(default_factory=dict)  # token: the card number it stands for
    removed_cards: set[str] = field(default_factory=set)
    decline_code: str = "card_declined"  # the decline a declined payment reports

    def _answer(self, call: str, payment: Payment) -> PaymentResult:
        self.calls.append(call)
        if call in self.lose_next:
            self.lose_next.discard(call)
            raise ProviderUnavailable(f"{call}: connection dropped", outcome_unknown=True)
        decline = self.decline_code if payment.status is PaymentStatus.DECLINED else None
        return PaymentResult(
            payment.status,
            amount_minor=payment.amount,
            captured_minor=payment.captured,
            refunded_minor=payment.refunded,
            provider_reference=f"pay_{payment.reference}",
            redirect_url="https://sandbox.test/challenge" if payment.status is PaymentStatus.REQUIRES_ACTION else None,
            decline_code=decline,
        )

    def _check_up(self) -> None:
        if self.down:
            raise ProviderUnavailable("connection refused", outcome_unknown=False)

    def authorise(
        self, *, reference: str, amount_minor: int, currency: str, card: CardDetails, return_url: str
    ) -> PaymentResult:
        self._check_up()
        status = {
            VISA.number: PaymentStatus.AUTHORISED,
            CHALLENGE.number: PaymentStatus.REQUIRES_ACTION,
        }.get(card.number, PaymentStatus.DECLINED)
        payment = self.payments.setdefault(reference, Payment(reference, amount_minor, status))
        return self._answer("authorise", payment)

    def authorise_token(
        self, *, reference: str, amount_minor: int, currency: str, token: str, return_url: str
    ) -> PaymentResult:
        """Tokens in these tests are just a card number: the real opening of Google Pay tokens is tested
        with the sandbox acquirer."""
        card = CardDetails(token, 12, 2099, "123")
        return self.authorise(
            reference=reference, amount_minor=amount_minor, currency=currency, card=card, return_url=return_url
        )

    def save_card(self, card: CardDetails) -> CardOnFile:
        self._check_up()
        self.calls.append("save_card")
        if card.number == DECLINED.number:
            raise CardNotSaved("declined", code="card_declined")
        token = f"card_{len(self.saved_cards) + 1}"
        self.saved_cards[token] = card.number
        return CardOnFile(token, "visa", card.number[-4:], card.expiry_month, card.expiry_year)

    def remove_card(self, card_token: str) -> None:
        self._check_up()
        self.calls.append("remove_card")
        self.removed_cards.add(card_token)

    def authorise_saved(
        self, *, reference: str, amount_minor: int, currency: str, card_token: str, return_url: str
    ) -> PaymentResult:
        """Merchant-initiated: no challenge. A card saved from the challenge number is simply authorised."""
        self._check_up()
        if card_token not in self.saved_cards or card_token in self.removed_cards:
            self.calls.append("authorise_saved")
            raise PaymentRefused("no such card", code="saved_card_not_found")
        number = self.saved_cards[card_token]
        status = PaymentStatus.DECLINED if number == DECLINED.number else PaymentStatus.AUTHORISED
        payment = self.payments.setdefault(reference, Payment(reference, amount_minor, status))
        return self._answer("authorise_saved", payment)

    def decline_saved_cards(self) -> None:
        """From now on, payments with the saved cards are declined (the account ran dry, or was closed)."""
        for token in self.saved_cards:
            self.saved_cards[token] = DECLINED.number

    def find(self, *, reference: str, provider_reference: str | None = None) -> PaymentResult:
        self._check_up()
        payment = self.payments.get(reference)
        if payment is None:
            self.calls.append("find")
            return PaymentResult(PaymentStatus.NOT_FOUND)
        return self._answer("find", payment)

    def capture(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        self._check_up()
        payment = self.payments[provider_reference.removeprefix("pay_")]
        if payment.status is PaymentStatus.AUTHORISED:
            payment.status, payment.captured = PaymentStatus.CAPTURED, amount_minor
        return self._answer("capture", payment)

    def void(self, *, provider_reference: str) -> PaymentResult:
        self._check_up()
        payment = self.payments[provider_reference.removeprefix("pay_")]
        if payment.status is PaymentStatus.AUTHORISED:
            payment.status = PaymentStatus.VOIDED
        return self._answer("void", payment)

    def refund(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        self._check_up()
        payment = self.payments[provider_reference.removeprefix("pay_")]
        if payment.status is PaymentStatus.CAPTURED:
            payment.status, payment.refunded = PaymentStatus.REFUNDED, amount_minor
        return self._answer("refund", payment)

    def approve_challenge(self, reference: str) -> None:
        self.payments[reference].status = PaymentStatus.AUTHORISED


@dataclass
class ScriptedWallet:
    """A wallet or gateway the customer approves at (RedirectProvider). `captures_on_approval` True behaves
    like GoldenPay and WebMoney (approval takes the money), False like PayPal (approval, then a hold we
    capture or void). The test plays the customer with `approve` and `decline`."""

    captures_on_approval: bool = False
    currencies: frozenset[str] = frozenset({"AZN", "USD", "EUR"})
    payments: dict[str, Payment] = field(default_factory=dict)
    lose_next: set[str] = field(default_factory=set)
    down: bool = False
    calls: list[str] = field(default_factory=list)

    def _answer(self, call: str, payment: Payment) -> PaymentResult:
        self.calls.append(call)
        if call in self.lose_next:
            self.lose_next.discard(call)
            raise ProviderUnavailable(f"{call}: connection dropped", outcome_unknown=True)
        waiting = payment.status is PaymentStatus.REQUIRES_ACTION
        return PaymentResult(
            payment.status,
            provider_reference=f"w_{payment.reference}",
            redirect_url=f"https://wallet.test/approve/{payment.reference}" if waiting else None,
            amount_minor=payment.amount,
            captured_minor=payment.captured,
            refunded_minor=payment.refunded,
            message="The payer cancelled." if payment.status is PaymentStatus.CANCELLED else None,
        )

    def _payment(self, provider_reference: str) -> Payment:
        if self.down:
            raise ProviderUnavailable("connection refused", outcome_unknown=False)
        return self.payments[provider_reference.removeprefix("w_")]

    def start(self, checkout: Checkout) -> PaymentResult:
        if self.down:
            raise ProviderUnavailable("connection refused", outcome_unknown=False)
        payment = self.payments.setdefault(
            checkout.reference, Payment(checkout.reference, checkout.amount_minor, PaymentStatus.REQUIRES_ACTION)
        )
        return self._answer("start", payment)

    def approve(self, reference: str) -> None:
        payment = self.payments[reference]
        if self.captures_on_approval:
            payment.status, payment.captured = PaymentStatus.CAPTURED, payment.amount
        else:
            payment.status = PaymentStatus.AUTHORISED

    def cancel(self, reference: str) -> None:
        self.payments[reference].status = PaymentStatus.CANCELLED

    def find(self, *, reference: str, provider_reference: str | None = None) -> PaymentResult:
        if self.down:
            raise ProviderUnavailable("connection refused", outcome_unknown=False)
        payment = self.payments.get(reference)
        if payment is None:
            self.calls.append("find")
            return PaymentResult(PaymentStatus.NOT_FOUND)
        return self._answer("find", payment)

    def capture(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        payment = self._payment(provider_reference)
        if payment.status is PaymentStatus.AUTHORISED:
            payment.status, payment.captured = PaymentStatus.CAPTURED, amount_minor
        return self._answer("capture", payment)

    def void(self, *, provider_reference: str) -> PaymentResult:
        payment = self._payment(provider_reference)
        if payment.status is PaymentStatus.AUTHORISED:
            payment.status = PaymentStatus.VOIDED
        return self._answer("void", payment)

    def refund(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        payment = self._payment(provider_reference)
        if payment.status is PaymentStatus.CAPTURED:
            payment.status, payment.refunded = PaymentStatus.REFUNDED, amount_minor
        return self._answer("refund", payment)


@dataclass
class RecordingSms:
    """An SMSC that keeps what it was sent; `failures` makes the next sends fail (retryable or not)."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    failures: list[ChannelUnavailable] = field(default_factory=list)

    def send_sms(self, *, to_msisdn: str, text: str) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((to_msisdn, text))
        return f"m{len(self.sent)}"


@dataclass
class RecordingEmail:
    sent: list[tuple[str, str, str, str]] = field(default_factory=list)  # to, subject, text, language
    failures: list[ChannelUnavailable] = field(default_factory=list)

    def send_email(self, *, to_address: str, subject: str, text: str, language: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((to_address, subject, text, language))


@dataclass
class RecordingWebhook:
    posted: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    statuses: list[int | None] = field(default_factory=list)  # answers to give, in turn; then 200

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        status = self.statuses.pop(0) if self.statuses else 200
        if status is None:
            return None, "ConnectError: connection refused"
        self.posted.append((url, body, headers))
        return status, None
