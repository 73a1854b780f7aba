"""The card acquirer over HTTP: `CardAcquirer` spoken to an acquirer (or the sandbox) with httpx.

Errors say what a retry can do:
- `ProviderUnavailable(outcome_unknown=False)`: the request surely had no effect (nothing was sent, or the
  acquirer refused our credentials or configuration). Retrying later is safe; fixing the setup may be needed.
- `ProviderUnavailable(outcome_unknown=True)`: the request may have taken effect (a timeout or dropped
  connection after sending, a 5xx, a body we cannot read). Only `find` can tell; never guess.
- `PaymentRefused`: the acquirer understood and said no (capture of a declined payment, refund above what
  was captured, an order id reused with other details, a Google Pay token it will not open: `invalid_token`).
  Repeating the same request cannot help.
Nothing here logs, or puts in a message, the card number, the security code or a Google Pay token.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from topup.adapters.payments.http import HttpProvider
from topup.services.payments import (
    CardDetails,
    CardNotSaved,
    CardOnFile,
    PaymentRefused,
    PaymentResult,
    PaymentStatus,
    ProviderUnavailable,
)

_ERROR_CODE = re.compile(r"[a-z0-9_]{1,64}")


class _Card(BaseModel):
    brand: str
    last4: str


class _SavedCard(BaseModel):
    id: str
    brand: str
    last4: str
    expiry_month: int
    expiry_year: int


class _Decline(BaseModel):
    code: str
    response_code: str
    message: str


class _NextAction(BaseModel):
    type: Literal["redirect"]
    url: str


class _Payment(BaseModel):
    id: str
    reference: str
    amount: int = 0
    currency: str | None = None
    captured_amount: int = 0
    refunded_amount: int = 0
    status: Literal["requires_action", "authorised", "declined", "captured", "voided", "refunded"]
    card: _Card
    decline: _Decline | None = None
    next_action: _NextAction | None = None


class HttpCardAcquirer(HttpProvider):
    _PROVIDER = "The card acquirer"
    _UNREACHABLE_SAYS_WHY = True

    def __init__(
        self,
        base_url: str,
        *,
        secret: str,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url,
            headers={"Authorization": f"Bearer {secret}"},
            timeout_seconds=timeout_seconds,
            transport=transport,
        )

    def authorise(
        self, *, reference: str, amount_minor: int, currency: str, card: CardDetails, return_url: str
    ) -> PaymentResult:
        body = {
            "reference": reference,
            "amount": amount_minor,
            "currency": currency,
            "card": {
                "number": card.number,
                "expiry_month": card.expiry_month,
                "expiry_year": card.expiry_year,
                "cvc": card.cvc,
            },
            "return_url": return_url,
        }
        return self._authorise(reference, body)

    def authorise_token(
        self, *, reference: str, amount_minor: int, currency: str, token: str, return_url: str
    ) -> PaymentResult:
        """A Google Pay payment: the token goes to the acquirer untouched (it alone can open it). A token it
        will not open (bad signature, expired, sealed for another gateway) is the acquirer refusing our input:
        `PaymentRefused(code="invalid_token")`, its reason in the message; the payer must pay again."""
        body = {
            "reference": reference,
            "amount": amount_minor,
            "currency": currency,
            "google_pay": {"token": token},
            "return_url": return_url,
        }
        return self._authorise(reference, body)

    def authorise_saved(
        self, *, reference: str, amount_minor: int, currency: str, card_token: str, return_url: str
    ) -> PaymentResult:
        body = {
            "reference": reference,
            "amount": amount_minor,
            "currency": currency,
            "saved_card": {"id": card_token},
            "return_url": return_url,
        }
        return self._authorise(reference, body)

    def save_card(self, card: CardDetails) -> CardOnFile:
        body = {
            "card": {
                "number": card.number,
                "expiry_month": card.expiry_month,
                "expiry_year": card.expiry_year,
                "cvc": card.cvc,
            }
        }
        response = self._send("POST", "/cards", json=body)
        code = _error_code(response)
        if response.status_code == 402:
            raise CardNotSaved(f"The card acquirer declined to keep the card: {code}.", code=code)
        if response.status_code != 201:
            _result(response)  # raises: unreadable, refused or failed
        try:
            saved = _SavedCard.model_validate_json(response.content)
        except ValidationError:
            raise ProviderUnavailable(
                "The card acquirer answered something unreadable (HTTP 201).", outcome_unknown=True
            ) from None
        return CardOnFile(saved.id, saved.brand, saved.last4, saved.expiry_month, saved.expiry_year)

    def remove_card(self, card_token: str) -> None:
        response = self._send("DELETE", f"/cards/{quote(card_token, safe='')}")
        if response.status_code == 404 and _error_code(response) == "not_found":
            return  # gone already: what we wanted
        if response.status_code != 200:
            _result(response)

    def find(self, *, reference: str, provider_reference: str | None = None) -> PaymentResult:
        response = self._send("GET", "/payments", params={"reference": reference})
        # Only the acquirer's own "no such payment" settles it; a 404 from a wrong address must not.
        if response.status_code == 404 and _error_code(response) == "not_found":
            return PaymentResult(status=PaymentStatus.NOT_FOUND)
        return _result(response, reference=reference)

    def capture(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        return self._move(provider_reference, "capture", {"amount": amount_minor})

    def void(self, *, provider_reference: str) -> PaymentResult:
        return self._move(provider_reference, "void", None)

    def refund(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        return self._move(provider_reference, "refunds", {"amount": amount_minor})

    def _authorise(self, reference: str, body: dict[str, object]) -> PaymentResult:
        response = self._send("POST", "/payments", json=body, headers={"Idempotency-Key": reference})
        code = _error_code(response)
        if response.status_code == 409 and code != "unknown":
            raise PaymentRefused(f"The card acquirer refused payment {reference!r}: {code}.", code=code)
        if response.status_code == 422 and code == "saved_card_not_found":
            raise PaymentRefused(f"The card acquirer no longer keeps the card of {reference!r}.", code=code)
        if response.status_code == 422 and code == "invalid_token":
            message = f"The card acquirer refused the Google Pay token of {reference!r}: {_error_reason(response)}."
            raise PaymentRefused(message, code=code)
        return _result(response, reference=reference)

    def _move(self, provider_reference: str, action: str, body: dict[str, int] | None) -> PaymentResult:
        path = f"/payments/{quote(provider_reference, safe='')}/{action}"
        response = self._send("POST", path, json=body)
        code = _error_code(response)
        # Only the acquirer's own refusals; a bare 404 from a wrong address is a configuration problem.
        if response.status_code in {404, 409, 422} and code != "unknown":
            raise PaymentRefused(f"The card acquirer refused to {action} {provider_reference}: {code}.", code=code)
        return _result(response, payment_id=provider_reference)


def _result(response: httpx.Response, *, reference: str | None = None, payment_id: str | None = None) -> PaymentResult:
    """The payment in a 2xx answer; anything else raises `ProviderUnavailable`, saying whether it may have
    taken effect."""
    status_code = response.status_code
    if status_code >= 500:
        raise ProviderUnavailable(f"The card acquirer failed (HTTP {status_code}).", outcome_unknown=True)
    if 400 <= status_code < 500:  # our credentials or our request are wrong: nothing happened
        message = f"The card acquirer refused the request (HTTP {status_code}, {_error_code(response)})."
        raise ProviderUnavailable(message, outcome_unknown=False)
    try:
        if status_code not in {200, 201}:
            raise ValueError(status_code)
        payment = _Payment.model_validate_json(response.content)
        if reference not in {None, payment.reference} or payment_id not in {None, payment.id}:
            raise ValueError("an answer about another payment")
    except (ValidationError, ValueError):
        message = f"The card acquirer answered something unreadable (HTTP {status_code})."
        raise ProviderUnavailable(message, outcome_unknown=True) from None
    decline = payment.decline
    return PaymentResult(
        status=PaymentStatus(payment.status),
        provider_reference=payment.id,
        redirect_url=payment.next_action.url if payment.next_action else None,
        decline_code=decline.code if decline else None,
        raw_code=decline.response_code if decline else None,
        message=decline.message if decline else None,
        brand=payment.card.brand,
        last_four=payment.card.last4,
        amount_minor=payment.amount,
        captured_minor=payment.captured_amount,
        refunded_minor=payment.refunded_amount,
        currency=payment.currency,
    )


def _error_code(response: httpx.Response) -> str:
    """The acquirer's error code, if it sent a sane one; never any other part of its answer."""
    return _error_field(response, "code")


def _error_reason(response: httpx.Response) -> str:
    """Why the acquirer refused a token (mac, expired, ...), if it sent a sane reason."""
    return _error_field(response, "reason")


def _error_field(response: httpx.Response, name: str) -> str:
    try:
        value = response.json()["error"][name]
    except (ValueError, KeyError, TypeError):
        return "unknown"
    return value if isinstance(value, str) and _ERROR_CODE.fullmatch(value) else "unknown"
