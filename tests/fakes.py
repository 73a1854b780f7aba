"""Test doubles shared by the service and API tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from topup.services.payments import CardDetails, PaymentResult, PaymentStatus, ProviderUnavailable

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

    def find(self, *, reference: str) -> PaymentResult:
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
