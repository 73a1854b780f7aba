"""Google Pay as a redirect provider: the payment sheet hands back a token, the card acquirer charges it.

In production the sheet is Google's own JavaScript on our checkout page; in the sandbox it is a page of its own
(`sandbox_googlepay`), so `start` sends the customer there. Either way the customer's browser then posts the
token to our `return_url`, and our server forwards it untouched with `pay` (PAYMENT_GATEWAY tokenization: only
the acquirer can open it, PROTOCOLS.md section 4). From then on the payment is an ordinary card payment at the
acquirer: `find`, `capture`, `void` and `refund` go there, keyed by the acquirer's payment id.

`start` makes no server call: nothing exists anywhere until the token is paid with, so it has no provider
reference yet. A token the acquirer will not open is `PaymentRefused(code="invalid_token")` from `pay`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from topup.services.payments import CardAcquirer, Checkout, PaymentRefused, PaymentResult, PaymentStatus

CURRENCIES = frozenset({"AZN", "USD", "EUR", "RUB", "TRY", "CNY"})


class GooglePaySheet:
    """`RedirectProvider` for the Google Pay sheet, charging through `acquirer` (an `HttpCardAcquirer`)."""

    captures_on_approval = False  # the acquirer holds the money; capture takes it

    def __init__(self, sheet_url: str, acquirer: CardAcquirer, currencies: frozenset[str] = CURRENCIES) -> None:
        self._sheet_url = sheet_url.rstrip("/")
        self._acquirer = acquirer
        self.currencies = currencies

    def start(self, checkout: Checkout) -> PaymentResult:
        """Where the customer picks a card: no call to anyone, and no provider reference until `pay`."""
        if checkout.currency not in self.currencies:
            message = f"Google Pay is not set up to charge {checkout.currency!r}."
            raise PaymentRefused(message, code="unsupported_currency")
        if checkout.amount_minor <= 0:
            raise PaymentRefused("Google Pay cannot charge a zero or negative amount.", code="invalid_amount")
        query = urlencode(
            {
                "reference": checkout.reference,
                "amount": checkout.amount_minor,
                "currency": checkout.currency,
                "description": checkout.description,
                "return_url": checkout.return_url,
                "cancel_url": checkout.cancel_url,
            }
        )
        return PaymentResult(
            status=PaymentStatus.REQUIRES_ACTION,
            redirect_url=f"{self._sheet_url}/pay?{query}",
            amount_minor=checkout.amount_minor,
            currency=checkout.currency,
        )

    def pay(self, *, reference: str, amount_minor: int, currency: str, token: str, return_url: str) -> PaymentResult:
        """Charge the token the sheet handed back. `return_url` is where the acquirer's 3-D Secure challenge
        sends the customer back, when the card (PAN_ONLY) needs one; the reference is the idempotency key."""
        return self._acquirer.authorise_token(
            reference=reference, amount_minor=amount_minor, currency=currency, token=token, return_url=return_url
        )

    def find(self, *, reference: str, provider_reference: str | None = None) -> PaymentResult:
        return self._acquirer.find(reference=reference, provider_reference=provider_reference)

    def capture(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        return self._acquirer.capture(provider_reference=provider_reference, amount_minor=amount_minor)

    def void(self, *, provider_reference: str) -> PaymentResult:
        return self._acquirer.void(provider_reference=provider_reference)

    def refund(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        return self._acquirer.refund(provider_reference=provider_reference, amount_minor=amount_minor)
