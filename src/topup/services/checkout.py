"""What a customer may pay a quote with: the ways of paying this server offers, and in which currencies.

Cards go to the card acquirer in any currency we quote; wallets and gateways charge only their own
currencies (PayPal has no AZN, GoldenPay only AZN), so a quote in another currency rules them out."""

from __future__ import annotations

from dataclasses import dataclass

from topup.domain.money import CURRENCY
from topup.domain.orders import PaymentMethod
from topup.services.order_saga import Saga
from topup.services.ports import UnitOfWork

# The order in which ways of paying are offered: the one most people use first.
METHOD_ORDER = (
    PaymentMethod.CARD,
    PaymentMethod.GOOGLE_PAY,
    PaymentMethod.GOLDENPAY,
    PaymentMethod.PAYPAL,
    PaymentMethod.WEBMONEY,
)


@dataclass(frozen=True, slots=True)
class PaymentChoice:
    method: PaymentMethod
    currencies: frozenset[str] | None  # None: any currency we quote
    available: bool  # can pay in the quote's currency

    def other_currencies(self, offered: list[str]) -> list[str]:
        """The offered currencies this method could pay in instead (what to suggest when it cannot)."""
        return [currency for currency in offered if self.currencies is None or currency in self.currencies]


def currencies_offered(uow: UnitOfWork) -> list[str]:
    """AZN, then every currency staff have set an exchange rate for."""
    with uow:
        rates = uow.fx_rates.current()
    return [CURRENCY, *sorted(rate.currency for rate in rates if rate.currency != CURRENCY)]


def payment_choices(saga: Saga, *, currency: str) -> list[PaymentChoice]:
    """Every way of paying set up on this server, each saying whether it can pay in `currency`."""
    choices = [PaymentChoice(PaymentMethod.CARD, None, True)]
    for method in METHOD_ORDER[1:]:
        provider = saga.providers.get(method)
        if provider is not None:
            choices.append(PaymentChoice(method, provider.currencies, currency in provider.currencies))
    return choices
