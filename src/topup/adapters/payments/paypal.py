"""PayPal Checkout (Orders v2) over HTTP: `RedirectProvider` spoken to PayPal's REST API (or the sandbox) with httpx.

How a payment goes:
1. `start` creates an order with intent AUTHORIZE (`PayPal-Request-Id` is our reference, so a repeat returns the
   same order) and sends the payer to its `approve` link. PayPal has no AZN: we charge USD or EUR.
2. The payer approves at PayPal and comes back to `return_url?token=<order id>&PayerID=...`. Approval moves no
   money: an order nobody approved holds nothing, so `find` without an order id answers NOT_FOUND.
3. `find` sees the order APPROVED and authorizes it (`PayPal-Request-Id` "<reference>-authorize"): now the money
   is held, AUTHORISED. Decision: no webhooks; the caller polls `find` (on the payer's return, and later).
4. `capture` takes the held money, `void` releases it when delivery fails, `refund` gives taken money back.
   They are keyed by the PayPal order id and read the order first, to find its authorization and capture.

Errors say what a retry can do, as in `card_acquirer`:
- `ProviderUnavailable(outcome_unknown=False)`: the request surely had no effect (nothing sent, our credentials
  or request refused, or a failed read: a GET moves nothing). Getting a token never moves money either.
- `ProviderUnavailable(outcome_unknown=True)`: a POST may have taken effect (timeout after sending, 5xx, an
  answer we cannot read or about another payment), or PayPal reports the money as PENDING: ask again later.
- `PaymentRefused`: PayPal understood and said no (422 with an issue, or 404 RESOURCE_NOT_FOUND on a move).

Decisions on the moves:
- `capture` of an approved order authorizes it first; a repeat after success answers CAPTURED again. A payment
  PayPal declines (at authorization, or a capture answered DECLINED) is `PaymentRefused(code="card_declined")`;
  a voided, expired or unapproved one is `invalid_state`. Every capture is final: the rest of the hold is released.
- `void` answers VOIDED whenever nothing is held: released before, declined, or never authorized (an order nobody
  approved, or approved but not authorized, holds nothing; PayPal has no call to void an order, it expires).
  Only a payment already captured is refused (`invalid_state`): that money comes back by `refund`.
- `refund` of a payment not captured is `invalid_state`; above what is left, PayPal's REFUND_AMOUNT_EXCEEDED
  (`invalid_amount`); of a payment refunded in full, it answers REFUNDED and changes nothing.
- A capture or authorization PayPal reports PENDING raises `ProviderUnavailable(outcome_unknown=True)`: the port
  has no "pending", and only a later `find` can tell whether the money arrives.

Assumptions beyond PROTOCOLS.md (marked [M] or missing there):
- `application_context` (return_url, cancel_url, locale, user_action, shipping_preference) is the older way
  to set the payer's experience; newer API versions prefer `payment_source.paypal.experience_context`.
- Authorize/capture/void/refund paths and the issue names ORDER_ALREADY_AUTHORIZED, AUTHORIZATION_ALREADY_CAPTURED,
  PREVIOUSLY_VOIDED, MAX_CAPTURE_AMOUNT_EXCEEDED, REFUND_AMOUNT_EXCEEDED, CAPTURE_FULLY_REFUNDED and
  PAYPAL_REQUEST_ID_PREVIOUSLY_USED; refunds are read from the order's `purchase_units[0].payments.refunds`.
- PayPal has no Azerbaijani page: for language "az" no locale is sent (PayPal picks one).
- `Prefer: return=representation` makes every answer the whole resource (the default is only id, status, links).
- A refund's `PayPal-Request-Id` is "<reference>-refund-<refunded so far>-<amount>": a repeat of the same refund
  on the same state is one refund; a partial refund retried after its answer was lost refunds again (the total
  is still bounded by PayPal), while a full refund retried finds the capture REFUNDED and changes nothing.
Nothing here logs, or puts in a message, the client secret or an access token.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Literal, NoReturn, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field, ValidationError

from topup.adapters.payments.http import HttpProvider
from topup.services.payments import Checkout, PaymentRefused, PaymentResult, PaymentStatus, ProviderUnavailable

BRAND = "paypal"
TOKEN_EARLY_RENEWAL_SECONDS = 60  # a cached token is dropped this long before PayPal says it expires
DESCRIPTION_LENGTH_MAX = 127  # PayPal's limit on purchase_units[].description
MESSAGE_LENGTH_MAX = 200
_LOCALES = {"en": "en-US", "ru": "ru-RU", "zh": "zh-CN"}  # no "az": PayPal has no Azerbaijani page (assumption)
_EXPONENTS = {"USD": 2, "EUR": 2}
_VALUE = re.compile(r"(\d{1,15})(?:\.(\d{1,2}))?")
_ISSUE = re.compile(r"[A-Z0-9_]{1,64}")
_DEBUG_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_DECLINE_ISSUES = frozenset({"INSTRUMENT_DECLINED", "TRANSACTION_REFUSED"})
_REFUSALS = {
    "ORDER_NOT_APPROVED": "invalid_state",
    "ORDER_ALREADY_CAPTURED": "invalid_state",
    "ORDER_ALREADY_AUTHORIZED": "invalid_state",
    "AUTHORIZATION_ALREADY_CAPTURED": "invalid_state",
    "AUTHORIZATION_VOIDED": "invalid_state",
    "AUTHORIZATION_EXPIRED": "invalid_state",
    "PREVIOUSLY_CAPTURED": "invalid_state",
    "PREVIOUSLY_VOIDED": "invalid_state",
    "CAPTURE_FULLY_REFUNDED": "invalid_state",
    "PAYER_ACTION_REQUIRED": "invalid_state",
    "INSTRUMENT_DECLINED": "card_declined",
    "TRANSACTION_REFUSED": "card_declined",
    "CURRENCY_NOT_SUPPORTED": "currency_not_supported",
    "MAX_CAPTURE_AMOUNT_EXCEEDED": "invalid_amount",
    "REFUND_AMOUNT_EXCEEDED": "invalid_amount",
    "DECIMAL_PRECISION": "invalid_amount",
    "CANNOT_BE_ZERO_OR_NEGATIVE": "invalid_amount",
    "PAYPAL_REQUEST_ID_PREVIOUSLY_USED": "idempotency_conflict",
    "DUPLICATE_INVOICE_ID": "idempotency_conflict",
}
_Model = TypeVar("_Model", bound=BaseModel)


class _Money(BaseModel):
    currency_code: str
    value: str


class _Link(BaseModel):
    href: str
    rel: str


class _Payment(BaseModel):
    """An authorization, capture or refund: the statuses differ, the shape we read does not."""

    id: str = Field(min_length=1)
    status: str
    amount: _Money


class _Payments(BaseModel):
    authorizations: list[_Payment] = Field(default_factory=list)
    captures: list[_Payment] = Field(default_factory=list)
    refunds: list[_Payment] = Field(default_factory=list)


class _PurchaseUnit(BaseModel):
    reference_id: str | None = None
    custom_id: str | None = None
    invoice_id: str | None = None
    amount: _Money
    payments: _Payments = Field(default_factory=_Payments)


class _Order(BaseModel):
    id: str = Field(min_length=1)
    status: Literal["CREATED", "SAVED", "APPROVED", "VOIDED", "COMPLETED", "PAYER_ACTION_REQUIRED"]
    purchase_units: list[_PurchaseUnit] = Field(min_length=1)
    links: list[_Link] = Field(default_factory=list)


class _Token(BaseModel):
    access_token: str = Field(min_length=1, max_length=4096)
    token_type: str
    expires_in: int = Field(gt=0)


@dataclass(frozen=True, slots=True)
class _Problem:
    """What a PayPal error says, kept only where it is sane: name, first issue, its description, debug id."""

    name: str
    issue: str
    description: str
    debug_id: str


class HttpPayPal(HttpProvider):
    """A PayPal REST client; safe to share between threads (one access token, renewed under a lock)."""

    _PROVIDER = "PayPal"

    currencies = frozenset({"USD", "EUR"})  # PayPal has no AZN (PROTOCOLS.md): the caller converts
    captures_on_approval = False  # intent AUTHORIZE: the hold can be voided when delivery fails

    def __init__(
        self,
        base_url: str,
        *,
        client_id: str,
        client_secret: str,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("PayPal needs a client id and a client secret")
        self._credentials = (client_id, client_secret)
        super().__init__(
            base_url, headers={"Accept": "application/json"}, timeout_seconds=timeout_seconds, transport=transport
        )
        self._token_lock = threading.Lock()
        self._access_token: str | None = None
        self._token_renew_at = 0.0  # time.monotonic() seconds

    def start(self, checkout: Checkout) -> PaymentResult:
        if checkout.currency not in self.currencies:
            message = f"PayPal cannot charge in {checkout.currency!r}; charge in USD or EUR."
            raise PaymentRefused(message, code="currency_not_supported")
        if checkout.amount_minor <= 0:
            raise PaymentRefused("A PayPal order needs a positive amount.", code="invalid_amount")
        context: dict[str, str] = {
            "return_url": checkout.return_url,
            "cancel_url": checkout.cancel_url,
            "user_action": "PAY_NOW",
            "shipping_preference": "NO_SHIPPING",
        }
        if checkout.language in _LOCALES:
            context["locale"] = _LOCALES[checkout.language]
        unit = {
            "reference_id": checkout.reference,
            "custom_id": checkout.reference,
            "invoice_id": checkout.reference,
            "description": checkout.description[:DESCRIPTION_LENGTH_MAX],
            "amount": _money(checkout.amount_minor, checkout.currency),
        }
        body = {"intent": "AUTHORIZE", "purchase_units": [unit], "application_context": context}
        response = self._call("POST", "/v2/checkout/orders", body=body, request_id=checkout.reference)
        order = self._parse(_Order, response, method="POST", action="create an order")
        first = order.purchase_units[0]
        if first.invoice_id != checkout.reference or _amount(order, "POST") != (
            checkout.amount_minor,
            checkout.currency,
        ):
            raise _unreadable("POST", "an order about another payment")
        # A repeat finds the order as it is now: perhaps approved already, and then it is authorized like `find`.
        return self._settle(order, checkout.reference, method="POST")

    def find(self, *, reference: str, provider_reference: str | None = None) -> PaymentResult:
        if provider_reference is None:  # the payer never had an approve link: nothing can have moved
            return PaymentResult(status=PaymentStatus.NOT_FOUND)
        order = self._order(provider_reference)
        if order is None:  # PayPal's own "no such order": never created, or expired unapproved
            return PaymentResult(status=PaymentStatus.NOT_FOUND)
        if order.purchase_units[0].invoice_id not in {None, reference}:
            raise _unreadable("GET", "an order about another payment")
        return self._settle(order, reference, method="GET")

    def capture(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        order = self._order_to_move(provider_reference, "capture")
        reference = _reference_of(order)
        method = "GET"
        if order.status == "APPROVED":  # approved but not yet authorized: hold the money first
            authorized, _ = self._authorize(order, reference)
            if authorized is None:
                raise PaymentRefused(f"PayPal declined the payment of order {order.id}.", code="card_declined")
            order, method = authorized, "POST"
        current = _describe(order, method=method)
        if current.status in {PaymentStatus.CAPTURED, PaymentStatus.REFUNDED}:
            return current  # captured before: the same effect
        if current.status is not PaymentStatus.AUTHORISED:
            message = f"PayPal order {order.id} cannot be captured: it is {current.status.value}."
            raise PaymentRefused(message, code="invalid_state")
        if amount_minor <= 0:
            raise PaymentRefused("A capture needs a positive amount.", code="invalid_amount")
        authorization = order.purchase_units[0].payments.authorizations[0]
        body = {"amount": _money(amount_minor, _currency(current)), "final_capture": True}
        response = self._call(
            "POST",
            f"/v2/payments/authorizations/{_segment(authorization.id)}/capture",
            body=body,
            request_id=f"{reference}-capture",
        )
        if response.status_code == 422 and _problem(response).issue == "AUTHORIZATION_ALREADY_CAPTURED":
            again = _describe(self._order_to_move(order.id, "capture"), method="GET")
            if again.status in {PaymentStatus.CAPTURED, PaymentStatus.REFUNDED}:
                return again
        capture = self._parse(_Payment, response, method="POST", action="capture an authorization")
        if capture.status == "PENDING":
            raise ProviderUnavailable(f"PayPal holds capture {capture.id} as pending.", outcome_unknown=True)
        if capture.status in {"DECLINED", "FAILED"}:
            raise PaymentRefused(f"PayPal declined capture {capture.id}.", code="card_declined")
        if capture.status != "COMPLETED" or _minor(capture.amount, "POST") != (amount_minor, current.currency):
            raise _unreadable("POST", "a capture other than the one asked for")
        return PaymentResult(
            status=PaymentStatus.CAPTURED,
            provider_reference=order.id,
            brand=BRAND,
            amount_minor=current.amount_minor,
            captured_minor=amount_minor,
            currency=current.currency,
        )

    def void(self, *, provider_reference: str) -> PaymentResult:
        order = self._order_to_move(provider_reference, "void")
        amount_minor, currency = _amount(order, "GET")
        voided = PaymentResult(
            status=PaymentStatus.VOIDED,
            provider_reference=order.id,
            brand=BRAND,
            amount_minor=amount_minor,
            currency=currency,
        )
        # Not authorized yet (never approved, or approved but not authorized): nothing is held, so there is
        # nothing to release. PayPal has no call to void an order; an unauthorized one simply expires.
        if order.status in {"CREATED", "PAYER_ACTION_REQUIRED", "APPROVED"}:
            return voided
        current = _describe(order, method="GET")
        if current.status in {PaymentStatus.VOIDED, PaymentStatus.DECLINED}:
            return voided  # released before, or never held
        if current.status is not PaymentStatus.AUTHORISED:
            message = f"PayPal order {order.id} cannot be voided: it is {current.status.value}."
            raise PaymentRefused(message, code="invalid_state")
        authorization = order.purchase_units[0].payments.authorizations[0]
        response = self._call(
            "POST",
            f"/v2/payments/authorizations/{_segment(authorization.id)}/void",
            request_id=f"{_reference_of(order)}-void",
        )
        if response.status_code == 204:
            return voided
        if response.status_code == 422 and _problem(response).issue == "PREVIOUSLY_VOIDED":
            return voided
        answer = self._parse(_Payment, response, method="POST", action="void an authorization")
        if answer.id != authorization.id or answer.status != "VOIDED":
            raise _unreadable("POST", "an authorization other than the one voided")
        return voided

    def refund(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        order = self._order_to_move(provider_reference, "refund")
        if order.status == "APPROVED":  # approved, never authorized: nothing was taken
            raise PaymentRefused(
                f"PayPal order {order.id} cannot be refunded: nothing was taken.", code="invalid_state"
            )
        current = _describe(order, method="GET")
        if current.status is PaymentStatus.REFUNDED:
            return current  # refunded in full before: nothing is left to give back
        if current.status is not PaymentStatus.CAPTURED:
            message = f"PayPal order {order.id} cannot be refunded: it is {current.status.value}."
            raise PaymentRefused(message, code="invalid_state")
        if amount_minor <= 0:
            raise PaymentRefused("A refund needs a positive amount.", code="invalid_amount")
        capture = order.purchase_units[0].payments.captures[0]
        response = self._call(
            "POST",
            f"/v2/payments/captures/{_segment(capture.id)}/refund",
            body={"amount": _money(amount_minor, _currency(current))},
            request_id=f"{_reference_of(order)}-refund-{current.refunded_minor}-{amount_minor}",
        )
        if response.status_code == 422 and _problem(response).issue == "CAPTURE_FULLY_REFUNDED":
            again = _describe(self._order_to_move(order.id, "refund"), method="GET")
            if again.status is PaymentStatus.REFUNDED:
                return again
        refund = self._parse(_Payment, response, method="POST", action="refund a capture")
        if refund.status in {"FAILED", "CANCELLED"}:
            raise PaymentRefused(f"PayPal did not complete refund {refund.id}.", code="refund_failed")
        if refund.status not in {"COMPLETED", "PENDING"} or _minor(refund.amount, "POST") != (
            amount_minor,
            current.currency,
        ):
            raise _unreadable("POST", "a refund other than the one asked for")
        refunded_minor = current.refunded_minor + amount_minor
        fully = refunded_minor >= current.captured_minor
        return PaymentResult(
            status=PaymentStatus.REFUNDED if fully else PaymentStatus.CAPTURED,
            provider_reference=order.id,
            brand=BRAND,
            amount_minor=current.amount_minor,
            captured_minor=current.captured_minor,
            refunded_minor=refunded_minor,
            currency=current.currency,
        )

    def _settle(self, order: _Order, reference: str, *, method: str) -> PaymentResult:
        """The payment as it stands; an approved order is authorized first (the hold is taken here)."""
        if order.status != "APPROVED":
            return _describe(order, method=method)
        authorized, declined = self._authorize(order, reference)
        return declined if authorized is None else _describe(authorized, method="POST")

    def _authorize(self, order: _Order, reference: str) -> tuple[_Order | None, PaymentResult]:
        """The order authorized (and what it says), or None and the decline when PayPal refuses the payer's
        funding (INSTRUMENT_DECLINED: the payer would have to approve again with another one)."""
        response = self._call(
            "POST",
            f"/v2/checkout/orders/{_segment(order.id)}/authorize",
            body={},
            request_id=f"{reference}-authorize",
        )
        problem = _problem(response)
        if response.status_code == 422 and problem.issue in _DECLINE_ISSUES:
            amount_minor, currency = _amount(order, "POST")
            declined = PaymentResult(
                status=PaymentStatus.DECLINED,
                provider_reference=order.id,
                decline_code="card_declined",
                raw_code=problem.issue,
                message=problem.description or None,
                brand=BRAND,
                amount_minor=amount_minor,
                currency=currency,
            )
            return None, declined
        if response.status_code == 422 and problem.issue == "ORDER_ALREADY_AUTHORIZED":
            again = self._order_to_move(order.id, "authorize")  # authorized by a request of another id
            return again, _describe(again, method="GET")
        authorized = self._parse(_Order, response, method="POST", action="authorize an order")
        if authorized.id != order.id:
            raise _unreadable("POST", "another order")
        return authorized, _describe(authorized, method="POST")

    def _order(self, order_id: str) -> _Order | None:
        response = self._call("GET", f"/v2/checkout/orders/{_segment(order_id)}")
        if response.status_code == 404 and _problem(response).name == "RESOURCE_NOT_FOUND":
            return None
        order = self._parse(_Order, response, method="GET", action="read an order")
        if order.id != order_id:
            raise _unreadable("GET", "another order")
        return order

    def _order_to_move(self, order_id: str, action: str) -> _Order:
        order = self._order(order_id)
        if order is None:
            raise PaymentRefused(f"PayPal has no order {order_id!r} to {action}.", code="not_found")
        return order

    def _parse(self, model: type[_Model], response: httpx.Response, *, method: str, action: str) -> _Model:
        """The resource in a 200/201 answer; any other answer raises, saying whether it may have had effect."""
        if response.status_code not in {200, 201}:
            _fail(response, method=method, action=action)
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise _unreadable(method, f"an unreadable answer (HTTP {response.status_code})") from None

    def _call(self, method: str, path: str, *, body: object = None, request_id: str | None = None) -> httpx.Response:
        headers = {"Prefer": "return=representation"}
        if request_id is not None:
            headers["PayPal-Request-Id"] = request_id

        def send(token: str) -> httpx.Response:  # a GET moves nothing, whatever happened to it
            authorised = {**headers, "Authorization": f"Bearer {token}"}
            return self._send(method, path, json=body, headers=authorised, may_have_acted=method != "GET")

        token = self._token()
        response = send(token)
        if response.status_code == 401:  # revoked or expired early: PayPal did nothing, so once more with a new one
            self._forget(token)
            token = self._token()
            response = send(token)
        if response.status_code == 401:
            raise ProviderUnavailable("PayPal refused our access token (HTTP 401).", outcome_unknown=False)
        return response

    def _token(self) -> str:
        # Under the lock: when the token runs out, one thread fetches a new one and the others wait for it.
        with self._token_lock:
            if self._access_token is not None and time.monotonic() < self._token_renew_at:
                return self._access_token
            asked_at = time.monotonic()
            try:
                response = self._client.post(
                    "/v1/oauth2/token", data={"grant_type": "client_credentials"}, auth=self._credentials
                )
            except httpx.TransportError as error:  # a token moves no money: whatever happened, nothing did
                message = f"PayPal's token service did not answer: {type(error).__name__}"
                raise ProviderUnavailable(message, outcome_unknown=False) from error
            if response.status_code != 200:
                message = f"PayPal refused us a token (HTTP {response.status_code}, {_oauth_error(response)})."
                raise ProviderUnavailable(message, outcome_unknown=False)
            try:
                token = _Token.model_validate_json(response.content)
            except ValidationError:
                raise ProviderUnavailable("PayPal's token answer is unreadable.", outcome_unknown=False) from None
            if token.token_type.lower() != "bearer":
                raise ProviderUnavailable("PayPal's token is not a bearer token.", outcome_unknown=False)
            self._access_token = token.access_token
            self._token_renew_at = asked_at + token.expires_in - TOKEN_EARLY_RENEWAL_SECONDS
            return token.access_token

    def _forget(self, token: str) -> None:
        with self._token_lock:
            if self._access_token == token:  # another thread may have renewed it already
                self._access_token = None


def _describe(order: _Order, *, method: str) -> PaymentResult:
    """What an order says about the money, read from its payments (a COMPLETED order may hold a DECLINED or
    REFUNDED capture: the capture's status decides, not the order's)."""
    amount_minor, currency = _amount(order, method)
    payments = order.purchase_units[0].payments
    known = PaymentResult(
        status=PaymentStatus.REQUIRES_ACTION,
        provider_reference=order.id,
        brand=BRAND,
        amount_minor=amount_minor,
        currency=currency,
    )
    if order.status in {"CREATED", "PAYER_ACTION_REQUIRED"}:
        links = {link.rel: link.href for link in order.links}
        redirect_url = links.get("payer-action") or links.get("approve")
        if redirect_url is None:
            raise _unreadable(method, "an order waiting for the payer without an approve link")
        return replace(known, redirect_url=redirect_url)
    if order.status == "VOIDED":
        return replace(known, status=PaymentStatus.VOIDED)
    if order.status != "COMPLETED":  # APPROVED is authorized before it gets here; SAVED is never asked for
        raise _unreadable(method, f"an order in state {order.status}")
    if payments.captures:
        return _captured(known, payments, method=method)
    if not payments.authorizations:
        raise _unreadable(method, "a completed order without payments")
    authorization = payments.authorizations[0]
    if authorization.status == "PENDING":
        message = f"PayPal holds authorization {authorization.id} as pending."
        raise ProviderUnavailable(message, outcome_unknown=True)
    states = {"CREATED": PaymentStatus.AUTHORISED, "VOIDED": PaymentStatus.VOIDED, "EXPIRED": PaymentStatus.VOIDED}
    if authorization.status == "DENIED":
        return replace(known, status=PaymentStatus.DECLINED, decline_code="card_declined", raw_code="DENIED")
    if authorization.status not in states:
        raise _unreadable(method, f"an authorization in state {authorization.status} without a capture")
    return replace(known, status=states[authorization.status])


def _captured(known: PaymentResult, payments: _Payments, *, method: str) -> PaymentResult:
    capture = payments.captures[0]
    if capture.status == "PENDING":
        raise ProviderUnavailable(f"PayPal holds capture {capture.id} as pending.", outcome_unknown=True)
    if capture.status in {"DECLINED", "FAILED"}:
        return replace(known, status=PaymentStatus.DECLINED, decline_code="card_declined", raw_code=capture.status)
    states = {
        "COMPLETED": PaymentStatus.CAPTURED,
        "PARTIALLY_REFUNDED": PaymentStatus.CAPTURED,
        "REFUNDED": PaymentStatus.REFUNDED,
    }
    if capture.status not in states:
        raise _unreadable(method, f"a capture in state {capture.status}")
    captured_minor = _in(known, capture.amount, method)
    # A pending refund is on its way; failed and cancelled ones gave nothing back.
    refunds = [refund for refund in payments.refunds if refund.status in {"COMPLETED", "PENDING"}]
    refunded_minor = sum(_in(known, refund.amount, method) for refund in refunds)
    if refunded_minor > captured_minor:
        raise _unreadable(method, "refunds above the capture")
    return replace(known, status=states[capture.status], captured_minor=captured_minor, refunded_minor=refunded_minor)


def _in(known: PaymentResult, money: _Money, method: str) -> int:
    minor, currency = _minor(money, method)
    if currency != known.currency:
        raise _unreadable(method, "a payment in another currency than its order")
    return minor


def _amount(order: _Order, method: str) -> tuple[int, str]:
    return _minor(order.purchase_units[0].amount, method)


def _minor(money: _Money, method: str) -> tuple[int, str]:
    """A PayPal amount in integer minor units, read without floats."""
    exponent = _EXPONENTS.get(money.currency_code)
    match = _VALUE.fullmatch(money.value)
    if exponent is None or match is None:
        raise _unreadable(method, "an amount we cannot read")
    whole, fraction = match.group(1), match.group(2) or ""
    return int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0"), money.currency_code


def _money(amount_minor: int, currency: str) -> dict[str, str]:
    """PayPal's money object: the value a decimal string built from integers (USD and EUR have cents)."""
    return {"currency_code": currency, "value": f"{amount_minor // 100}.{amount_minor % 100:02d}"}


def _currency(result: PaymentResult) -> str:
    assert result.currency is not None  # every result built from an order has it
    return result.currency


def _reference_of(order: _Order) -> str:
    unit = order.purchase_units[0]
    return unit.invoice_id or unit.custom_id or unit.reference_id or order.id


def _segment(identifier: str) -> str:
    return quote(identifier, safe="")


def _unreadable(method: str, what: str) -> ProviderUnavailable:
    # A GET changes nothing, so even a nonsensical answer to one leaves no unknown outcome behind.
    return ProviderUnavailable(f"PayPal answered {what}.", outcome_unknown=method != "GET")


def _fail(response: httpx.Response, *, method: str, action: str) -> NoReturn:
    status_code = response.status_code
    problem = _problem(response)
    reason = f"HTTP {status_code}, {problem.issue}, debug_id {problem.debug_id}"
    if status_code >= 500:
        raise ProviderUnavailable(f"PayPal failed to {action} ({reason}).", outcome_unknown=method != "GET")
    # Only PayPal's own refusals; a bare 404 or 422 from something in between is a configuration problem.
    if status_code == 422 and problem.name != "unknown":
        code = _REFUSALS.get(problem.issue, "refused")
        raise PaymentRefused(f"PayPal refused to {action}: {problem.issue} (debug_id {problem.debug_id}).", code=code)
    if status_code == 404 and problem.name == "RESOURCE_NOT_FOUND":
        raise PaymentRefused(f"PayPal found nothing to {action} (debug_id {problem.debug_id}).", code="not_found")
    if 400 <= status_code < 500:  # our credentials, permissions or request are wrong: nothing happened
        raise ProviderUnavailable(f"PayPal refused the request to {action} ({reason}).", outcome_unknown=False)
    raise _unreadable(method, f"HTTP {status_code} to a request to {action}")


def _problem(response: httpx.Response) -> _Problem:
    """PayPal's error, if it sent a sane one; never any other part of its answer."""
    unknown = _Problem(name="unknown", issue="unknown", description="", debug_id="unknown")
    try:
        error = response.json()
    except ValueError:
        return unknown
    if not isinstance(error, dict) or not isinstance(error.get("name"), str) or not _ISSUE.fullmatch(error["name"]):
        return unknown
    name: str = error["name"]
    details = error.get("details")
    first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
    issue = first.get("issue")
    description = first.get("description")
    debug_id = error.get("debug_id")
    return _Problem(
        name=name,
        issue=issue if isinstance(issue, str) and _ISSUE.fullmatch(issue) else name,
        description=description[:MESSAGE_LENGTH_MAX] if isinstance(description, str) else "",
        debug_id=debug_id if isinstance(debug_id, str) and _DEBUG_ID.fullmatch(debug_id) else "unknown",
    )


def _oauth_error(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return "unknown"
    return error if isinstance(error, str) and re.fullmatch(r"[a-z_]{1,64}", error) else "unknown"
