"""Test doubles shared by the service and API tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from topup.services.payments import CardDetails, Checkout, PaymentResult, PaymentStatus, ProviderUnavailable

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

    def _answer(self, call: str, payment: Payment) -> PaymentResult:
        self.calls.append(call)
        if call in self.lose_next:
            self.lose_next.discard(call)
            raise ProviderUnavailable(f"{call}: connection dropped", outcome_unknown=True)
        decline = "card_declined" if payment.status is PaymentStatus.DECLINED else None
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
