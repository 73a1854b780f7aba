"""Card payments: the HTTP client for a card acquirer, and the sandbox acquirer that ships with the product."""

from topup.adapters.payments.card_acquirer import HttpCardAcquirer
from topup.adapters.payments.sandbox_acquirer import create_sandbox_acquirer
from topup.services.payments import PaymentRefused

__all__ = ["HttpCardAcquirer", "PaymentRefused", "create_sandbox_acquirer"]
