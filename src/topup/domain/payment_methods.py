"""A saved payment method: a card the acquirer keeps for us (card on file), known to Topup only by the
acquirer's token, its brand, last four digits, expiry and a keyed fingerprint. It belongs to a line: its
subscriber (through the portal) or the integrator that saved it pays that line's auto-recharges with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from topup.domain.cards import CardSummary
from topup.domain.errors import DomainError, ErrorKind

SAVED_PER_LINE_MAX = 5


class PaymentMethodNotFound(DomainError):
    code = "payment_method_not_found"
    kind = ErrorKind.NOT_FOUND


class PaymentMethodExpired(DomainError):
    code = "payment_method_expired"


class TooManyPaymentMethods(DomainError):
    code = "too_many_payment_methods"
    kind = ErrorKind.CONFLICT


@dataclass(frozen=True, slots=True)
class SavedCard:
    id: str
    scope: str
    msisdn: str
    token: str  # the acquirer's; useless to anyone without our acquirer credentials
    brand: str
    last_four: str
    expiry_month: int
    expiry_year: int
    fingerprint: str
    created_at: datetime
    removed_at: datetime | None = None

    @property
    def summary(self) -> CardSummary:
        return CardSummary(self.brand, self.last_four, self.expiry_month, self.expiry_year)

    def expired(self, today: date) -> bool:
        return (self.expiry_year, self.expiry_month) < (today.year, today.month)

    def ensure_usable(self, today: date) -> None:
        if self.removed_at is not None:
            raise PaymentMethodNotFound("This saved card was removed.", payment_method_id=self.id)
        if self.expired(today):
            raise PaymentMethodExpired(
                f"The saved card {self.summary.display} expired in {self.expiry_month:02d}/{self.expiry_year}.",
                payment_method_id=self.id,
            )
