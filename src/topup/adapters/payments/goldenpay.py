"""GoldenPay over HTTP: a `RedirectProvider` for Azerbaijani cards, spoken to GoldenPay (or its sandbox) with httpx.

The protocol (PROTOCOLS.md section 1): `getPaymentKey` creates a payment and answers a key; the customer pays on
GoldenPay's page `/web/paypage?payment_key=K`; GoldenPay sends the browser back to the success or fail URL set in
the merchant dashboard with `?payment_key=K`; only `getPaymentResult` (status code 1) says the money was taken.
Every request is signed with an MD5 of the merchant's auth key and the values sent. Amounts travel in qəpik.

What GoldenPay does not give, and how this adapter copes:
- No idempotency key: every `start` creates a new payment key. Nobody but us ever holds a key we did not hand out,
  so a key lost in a timeout can never be paid; `find` without a key is NOT_FOUND.
- A payment is a sale (paid means taken), so `capture` only reports it and `void` is refused: the saga refunds.
- No published refund API. Assumption: `POST /web/service/merchant/refund` with JSON
  `{"payment_key": K, "amount": qəpik, "hashCode": md5(authKey + K + amount)}`, answering like getPaymentResult
  plus `refundedAmount`; full refunds only; a repeat answers the same.
- No published table of status codes beyond 1 (paid), 813 (not final) and 801 (getPaymentKey error).
  Assumption, the codes the sandbox uses (`GoldenPayCode`): 801 invalid request, 802 invalid hash, 803 unknown
  merchant, 804 invalid amount, 805 invalid card type, 806 unknown payment key, 808 declined by the card's bank,
  809 cancelled by the payer, 814 refunded, 815 not paid (cannot be refunded), 816 refund amount not the paid one.
  Errors come with HTTP 200 in GoldenPay's own `{"status": {"code", "message"}}` shape (assumption).

Errors say what a retry can do, as in `card_acquirer`: `ProviderUnavailable(outcome_unknown=False)` when the
request surely had no effect (nothing sent, or our credentials/configuration refused), `outcome_unknown=True`
when it may have (timeout after sending, 5xx, an unreadable answer or one about another payment), and
`PaymentRefused` when GoldenPay understood and said no. Nothing here logs or repeats the auth key.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from enum import IntEnum
from typing import TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field, ValidationError

from topup.adapters.payments.http import HttpProvider
from topup.services.payments import (
    Checkout,
    PaymentRefused,
    PaymentResult,
    PaymentStatus,
    ProviderUnavailable,
)

CURRENCY = "AZN"  # "Goldenpay charges all payments only in AZN": the protocol has no currency field
DESCRIPTION_LENGTH_MAX = 100  # assumption: GoldenPay publishes no limit; short and ASCII keeps the MD5 unambiguous
MESSAGE_LENGTH_MAX = 200
PAYMENT_KEY_LENGTH_MAX = 64
# GoldenPay's page languages: Azerbaijani is "lv" (sic); anything it does not have falls back to English.
LANGUAGES = {"az": "lv", "en": "en", "ru": "ru"}
_CARD_TYPES = frozenset({"v", "m"})
_PAYMENT_KEY = re.compile(rf"[A-Za-z0-9_-]{{1,{PAYMENT_KEY_LENGTH_MAX}}}")
_MASKED_CARD = re.compile(r"([0-9])[0-9]{5}\*+([0-9]{4})")
# Letters of Azerbaijani (and a few marks) NFKD does not bring down to ASCII by itself.
_TRANSLITERATION = str.maketrans({"ə": "e", "Ə": "E", "ı": "i", "İ": "I", "—": "-", "–": "-", "«": '"', "»": '"'})
_Answer = TypeVar("_Answer", bound=BaseModel)


class GoldenPayCode(IntEnum):
    """GoldenPay's status codes. 1, 801 and 813 are documented; the others are this project's assumption
    (shared with the sandbox), as no public source lists them."""

    PAID = 1
    INVALID_REQUEST = 801
    INVALID_HASH = 802
    UNKNOWN_MERCHANT = 803
    INVALID_AMOUNT = 804
    INVALID_CARD_TYPE = 805
    UNKNOWN_PAYMENT_KEY = 806
    DECLINED = 808
    CANCELLED = 809
    PENDING = 813  # "Pay page not called" or "Waiting for payment": not final, keep asking
    REFUNDED = 814
    NOT_PAID = 815
    INVALID_REFUND_AMOUNT = 816


# Our credentials, configuration or request are wrong: nothing happened, and only fixing the setup helps.
_SETUP_CODES = frozenset(
    {
        GoldenPayCode.INVALID_REQUEST,
        GoldenPayCode.INVALID_HASH,
        GoldenPayCode.UNKNOWN_MERCHANT,
        GoldenPayCode.INVALID_CARD_TYPE,
    }
)


_REFUND_REFUSALS: dict[int, str] = {
    GoldenPayCode.UNKNOWN_PAYMENT_KEY: "not_found",
    GoldenPayCode.NOT_PAID: "invalid_state",
    GoldenPayCode.INVALID_AMOUNT: "invalid_amount",
    GoldenPayCode.INVALID_REFUND_AMOUNT: "invalid_amount",
}


# What a result code says about the payment; every other code is a decline (PROTOCOLS.md: only 1 is paid).
_STATUSES: dict[int, PaymentStatus] = {
    GoldenPayCode.PAID: PaymentStatus.CAPTURED,
    GoldenPayCode.REFUNDED: PaymentStatus.REFUNDED,
    GoldenPayCode.PENDING: PaymentStatus.REQUIRES_ACTION,
    GoldenPayCode.CANCELLED: PaymentStatus.CANCELLED,
}


class _Status(BaseModel):
    code: int = Field(strict=True)
    message: str = ""


class _KeyAnswer(BaseModel):
    status: _Status
    payment_key: str | None = Field(default=None, alias="paymentKey")


class _ResultAnswer(BaseModel):
    """getPaymentResult (and, by assumption, refund). Fields GoldenPay may add are ignored."""

    status: _Status
    payment_key: str | None = Field(default=None, alias="paymentKey")
    amount: int | None = Field(default=None, strict=True)
    card_number: str | None = Field(default=None, alias="cardNumber")
    refunded_amount: int = Field(default=0, strict=True, alias="refundedAmount")


class HttpGoldenPay(HttpProvider):
    _PROVIDER = "GoldenPay"
    currencies = frozenset({CURRENCY})
    captures_on_approval = True  # a GoldenPay payment is a sale: paid means the money was taken

    def __init__(
        self,
        base_url: str,
        *,
        merchant_name: str,
        auth_key: str,
        card_type: str = "v",
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if card_type not in _CARD_TYPES:
            raise ValueError('GoldenPay card type must be "v" (Visa) or "m" (MasterCard)')
        if not merchant_name or not auth_key:
            raise ValueError("GoldenPay needs a merchant name and an auth key")
        self._base_url = base_url.rstrip("/")
        self._merchant_name = merchant_name
        self._auth_key = auth_key
        self._card_type = card_type
        super().__init__(
            self._base_url,
            headers={"Accept": "application/json"},
            timeout_seconds=timeout_seconds,
            transport=transport,
        )

    def start(self, checkout: Checkout) -> PaymentResult:
        if checkout.currency != CURRENCY:
            raise PaymentRefused(
                f"GoldenPay charges only in AZN, not {checkout.currency}.", code="currency_not_supported"
            )
        if checkout.amount_minor <= 0:
            raise PaymentRefused("GoldenPay cannot charge a zero or negative amount.", code="invalid_amount")
        amount = str(checkout.amount_minor)
        description = wire_description(checkout.description, fallback=f"Order {checkout.reference}")
        body = {
            "merchantName": self._merchant_name,
            "amount": checkout.amount_minor,
            "cardType": self._card_type,
            "description": description,
            "lang": LANGUAGES.get(checkout.language, "en"),  # not part of the hash
            "hashCode": _md5(self._auth_key, self._merchant_name, self._card_type, amount, description),
        }
        response = self._post("/web/service/merchant/getPaymentKey", body)
        answer = _read(response, _KeyAnswer)
        code = answer.status.code
        if code == GoldenPayCode.INVALID_AMOUNT:
            raise PaymentRefused(f"GoldenPay refused the amount of {checkout.reference!r}.", code="invalid_amount")
        if code != GoldenPayCode.PAID:  # an error answer: no key was made
            raise ProviderUnavailable(f"GoldenPay gave no payment key (code {code}).", outcome_unknown=False)
        key = answer.payment_key
        if key is None or not _PAYMENT_KEY.fullmatch(key):
            # "Success" without a usable key: a key may exist, but nobody can pay a key nobody holds.
            raise ProviderUnavailable("GoldenPay answered success without a usable payment key.", outcome_unknown=True)
        return PaymentResult(
            status=PaymentStatus.REQUIRES_ACTION,
            provider_reference=key,
            redirect_url=self._page_url(key),
            amount_minor=checkout.amount_minor,
            currency=CURRENCY,
        )

    def find(self, *, reference: str, provider_reference: str | None = None) -> PaymentResult:
        # GoldenPay knows payments only by key: without one, nobody can have paid (the key was never handed out).
        if provider_reference is None:
            return PaymentResult(status=PaymentStatus.NOT_FOUND)
        body = {"payment_key": provider_reference, "Hash_code": _md5(self._auth_key, provider_reference)}
        response = self._post("/web/service/merchant/getPaymentResult", body)
        answer = _read(response, _ResultAnswer)
        code = answer.status.code
        if code == GoldenPayCode.UNKNOWN_PAYMENT_KEY:
            return PaymentResult(status=PaymentStatus.NOT_FOUND)
        if code in _SETUP_CODES:
            raise ProviderUnavailable(f"GoldenPay refused the result request (code {code}).", outcome_unknown=False)
        return self._result(answer, provider_reference)

    def capture(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        # Nothing to call: a paid GoldenPay payment is already taken. Report it, or refuse if it is not paid.
        found = self.find(reference=provider_reference, provider_reference=provider_reference)
        if found.status is PaymentStatus.NOT_FOUND:
            raise PaymentRefused(f"GoldenPay has no payment {provider_reference}.", code="not_found")
        if found.status not in {PaymentStatus.CAPTURED, PaymentStatus.REFUNDED}:
            raise PaymentRefused(f"GoldenPay payment {provider_reference} is {found.status}.", code="invalid_state")
        if amount_minor > found.captured_minor:
            raise PaymentRefused(f"GoldenPay payment {provider_reference} took less.", code="invalid_amount")
        return found

    def void(self, *, provider_reference: str) -> PaymentResult:
        raise PaymentRefused("A GoldenPay payment is a sale and cannot be voided; refund it.", code="invalid_state")

    def refund(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        # Assumption (no public refund API): see the module docstring and the sandbox.
        if amount_minor <= 0:
            raise PaymentRefused("A refund needs a positive amount.", code="invalid_amount")
        amount = str(amount_minor)
        body = {
            "payment_key": provider_reference,
            "amount": amount_minor,
            "hashCode": _md5(self._auth_key, provider_reference, amount),
        }
        response = self._post("/web/service/merchant/refund", body)
        answer = _read(response, _ResultAnswer)
        code = answer.status.code
        refusal = _REFUND_REFUSALS.get(code)
        if refusal is not None:
            raise PaymentRefused(f"GoldenPay refused to refund {provider_reference}: {refusal}.", code=refusal)
        if code in _SETUP_CODES:
            raise ProviderUnavailable(f"GoldenPay refused the refund request (code {code}).", outcome_unknown=False)
        result = self._result(answer, provider_reference)
        if result.status is not PaymentStatus.REFUNDED:  # any other answer leaves us not knowing
            raise ProviderUnavailable(f"GoldenPay answered a refund with code {code}.", outcome_unknown=True)
        return result

    def _page_url(self, key: str) -> str:
        return f"{self._base_url}/web/paypage?payment_key={quote(key, safe='')}"

    def _result(self, answer: _ResultAnswer, key: str) -> PaymentResult:
        """The payment a result answer describes; `ProviderUnavailable(True)` for one that is not about `key`."""
        code = answer.status.code
        if answer.payment_key != key:  # about another payment, or about none (an error we do not know)
            raise ProviderUnavailable(f"GoldenPay answered code {code}, not about this payment.", outcome_unknown=True)
        amount = answer.amount if answer.amount is not None and answer.amount > 0 else 0
        taken = code in {GoldenPayCode.PAID, GoldenPayCode.REFUNDED}
        refund_readable = code != GoldenPayCode.REFUNDED or 0 < answer.refunded_amount <= amount
        if taken and (amount == 0 or not refund_readable):  # money moved, but how much is unclear: never guess
            raise ProviderUnavailable(f"GoldenPay answered code {code} without a usable amount.", outcome_unknown=True)
        brand, last_four = _card(answer.card_number)
        status = _STATUSES.get(code, PaymentStatus.DECLINED)
        declined = status in {PaymentStatus.DECLINED, PaymentStatus.CANCELLED}
        return PaymentResult(
            status=status,
            provider_reference=key,
            redirect_url=self._page_url(key) if status is PaymentStatus.REQUIRES_ACTION else None,
            decline_code=("cancelled" if status is PaymentStatus.CANCELLED else "card_declined") if declined else None,
            raw_code=str(code) if declined else None,
            message=(answer.status.message[:MESSAGE_LENGTH_MAX] or None) if declined else None,
            brand=brand,
            last_four=last_four,
            amount_minor=amount,
            captured_minor=amount if taken else 0,
            refunded_minor=answer.refunded_amount if code == GoldenPayCode.REFUNDED else 0,
            currency=CURRENCY,
        )

    def _post(self, path: str, body: Mapping[str, object]) -> httpx.Response:
        response = self._send("POST", path, json=body)
        status_code = response.status_code
        if status_code >= 500:
            raise ProviderUnavailable(f"GoldenPay failed (HTTP {status_code}).", outcome_unknown=True)
        if 400 <= status_code < 500:  # a wrong address or a request it cannot take: nothing happened
            raise ProviderUnavailable(f"GoldenPay refused the request (HTTP {status_code}).", outcome_unknown=False)
        return response


def _read(response: httpx.Response, model: type[_Answer]) -> _Answer:
    try:
        if response.status_code != 200:
            raise ValueError(response.status_code)
        return model.model_validate_json(response.content)
    except (ValidationError, ValueError):
        message = f"GoldenPay answered something unreadable (HTTP {response.status_code})."
        raise ProviderUnavailable(message, outcome_unknown=True) from None


def wire_description(description: str, *, fallback: str) -> str:
    """`description` as sent to GoldenPay: printable ASCII, one line, at most DESCRIPTION_LENGTH_MAX characters.
    The MD5 covers exactly these characters, so no encoding question can arise between us and GoldenPay."""
    one_line = " ".join(description.translate(_TRANSLITERATION).split())
    decomposed = unicodedata.normalize("NFKD", one_line)
    ascii_only = "".join(character for character in decomposed if " " <= character <= "~")
    text = " ".join(ascii_only.split())[:DESCRIPTION_LENGTH_MAX].strip()
    if text:
        return text
    return wire_description(fallback, fallback="Payment") if fallback != "Payment" else fallback


def _md5(*parts: str) -> str:
    # GoldenPay's signature scheme: MD5 over the plain concatenation, lower-case hex. Not our choice of hash.
    return hashlib.md5("".join(parts).encode(), usedforsecurity=False).hexdigest()


def _card(masked: str | None) -> tuple[str | None, str | None]:
    """Brand and last four digits of GoldenPay's masked number ("422865******8101")."""
    match = _MASKED_CARD.fullmatch(masked or "")
    if match is None:
        return None, None
    brand = {"4": "visa", "5": "mastercard", "2": "mastercard"}.get(match.group(1))
    return brand, match.group(2)
