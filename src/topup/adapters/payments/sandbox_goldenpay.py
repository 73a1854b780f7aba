"""A fake GoldenPay that ships in the product, so GoldenPay payments work end to end without the real gateway.

It speaks the protocol `HttpGoldenPay` speaks (PROTOCOLS.md section 1): the same paths, field names, MD5
signatures, qəpik amounts and `{"status": {"code", "message"}}` answers, and keeps its payments in its own
SQLite file so they survive a restart. One merchant (name and auth key given at creation). Served paths:
- `POST /web/service/merchant/getPaymentKey`: JSON merchantName, amount, cardType, description, lang, hashCode.
- `POST|GET /web/service/merchant/getPaymentResult`: POST JSON `{"payment_key", "Hash_code"}`, or GET
  `?payment_key=K&hash_code=H`, optionally with `registration=true` (then the hash is md5(authKey + K + "true")).
  Every check counts in `checkCount`.
- `POST /web/service/merchant/refund`: assumption, GoldenPay publishes no refund API (see `goldenpay.py`).
- `GET|POST /web/paypage?payment_key=K`: the customer's page. Opening it moves the key from "Pay page not called"
  to "Waiting for payment" (code 813). Its buttons: Pay (paid, code 1), Decline (the card's bank refuses, 808),
  Cancel (the payer gives up, 809). Then the browser is sent (303) to `return_url` with `payment_key=K` added:
  one address for success and failure, as the merchant dashboard would be set. A key is settled once; a second
  submission changes nothing and sends the browser back again. No card number is asked: a Visa ("v") key pays
  with 422865******8101, a MasterCard ("m") key with 555544******4444.

Assumptions beyond the public sources (shared with the adapter through `GoldenPayCode`): errors come with HTTP
200; the codes other than 1, 801 and 813 are ours (802 invalid hash, 803 unknown merchant, 804 invalid amount,
805 invalid card type, 806 unknown key, 808 declined, 809 cancelled, 814 refunded, 815 not paid, 816 refund
amount not the paid amount); a description is 1 to 255 characters; `refundedAmount` is in every result answer;
refunds are full only and a repeat answers the same. `paymentDate` is Baku time: when the page was opened while
waiting, when the customer acted once settled.

Handlers are `async def` for the reason given in `sandbox_acquirer`: mounted in the API server, the sandbox
must not need the thread pool the API's own requests are waiting in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from topup.adapters.clock import SystemClock
from topup.adapters.payments import sandbox_pages
from topup.adapters.payments.goldenpay import GoldenPayCode
from topup.adapters.payments.sandbox_common import (
    SandboxError,
    answer_error,
    create_database,
    html,
    read_bounded,
    read_form,
    transaction,
    with_query,
)
from topup.domain.calendar import BAKU
from topup.services.ports import Clock

AMOUNT_MAX_QEPIK = 100_000_000
BODY_SIZE_MAX_BYTES = 4096
FORM_SIZE_MAX_BYTES = 256
DESCRIPTION_LENGTH_MAX = 255
PAYMENT_KEY_LENGTH_MAX = 64
LANGUAGES = frozenset({"lv", "en", "ru"})
# Masked numbers of the sandbox's cards, as getPaymentResult shows them (the first from GoldenPay's fixtures).
CARD_NUMBERS = {"v": "422865******8101", "m": "555544******4444"}
CARD_BRANDS = {"v": "Visa", "m": "MasterCard"}

_MESSAGES = {
    GoldenPayCode.PAID: "success",
    GoldenPayCode.INVALID_REQUEST: "Invalid request",
    GoldenPayCode.INVALID_HASH: "Invalid hash code",
    GoldenPayCode.UNKNOWN_MERCHANT: "Merchant not found",
    GoldenPayCode.INVALID_AMOUNT: "Invalid amount",
    GoldenPayCode.INVALID_CARD_TYPE: "Invalid card type",
    GoldenPayCode.UNKNOWN_PAYMENT_KEY: "Payment key not found",
    GoldenPayCode.DECLINED: "Payment declined by the card issuer",
    GoldenPayCode.CANCELLED: "Payment cancelled by the payer",
    GoldenPayCode.REFUNDED: "Payment refunded",
    GoldenPayCode.NOT_PAID: "Payment is not paid",
    GoldenPayCode.INVALID_REFUND_AMOUNT: "Refund amount must equal the paid amount",
}
# The state of a key, and the code and message getPaymentResult answers for it.
_ANSWERS = {
    "created": (GoldenPayCode.PENDING, "Pay page not called"),
    "opened": (GoldenPayCode.PENDING, "Waiting for payment"),
    "paid": (GoldenPayCode.PAID, _MESSAGES[GoldenPayCode.PAID]),
    "declined": (GoldenPayCode.DECLINED, _MESSAGES[GoldenPayCode.DECLINED]),
    "cancelled": (GoldenPayCode.CANCELLED, _MESSAGES[GoldenPayCode.CANCELLED]),
    "refunded": (GoldenPayCode.REFUNDED, _MESSAGES[GoldenPayCode.REFUNDED]),
}
_OUTCOMES = {"pay": "paid", "decline": "declined", "cancel": "cancelled"}  # page button -> state

_SCHEMA = """
CREATE TABLE IF NOT EXISTS goldenpay_payments (
    payment_key TEXT PRIMARY KEY,
    merchant_name TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    card_type TEXT NOT NULL CHECK (card_type IN ('v', 'm')),
    description TEXT NOT NULL,
    language TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('created', 'opened', 'paid', 'declined', 'cancelled', 'refunded')),
    check_count INTEGER NOT NULL DEFAULT 0 CHECK (check_count >= 0),
    payment_date TEXT,
    card_number TEXT,
    rrn TEXT,
    refunded_amount INTEGER NOT NULL DEFAULT 0 CHECK (refunded_amount BETWEEN 0 AND amount),
    created_at TEXT NOT NULL
);
"""
_SELECT = (
    "SELECT payment_key, merchant_name, amount, card_type, description, language, state, check_count,"
    " payment_date, card_number, rrn, refunded_amount FROM goldenpay_payments WHERE payment_key = :payment_key"
)


@dataclass(frozen=True, slots=True)
class _Payment:
    payment_key: str
    merchant_name: str
    amount: int
    card_type: str
    description: str
    language: str
    state: str
    check_count: int
    payment_date: str | None
    card_number: str | None
    rrn: str | None
    refunded_amount: int


class _Store:
    """The sandbox's memory: one table; every change is one conditional UPDATE, never read-then-write."""

    def __init__(self, database_path: Path) -> None:
        self._path = database_path
        create_database(database_path, _SCHEMA)

    def insert(self, payment: _Payment, *, created_at: str) -> None:
        with transaction(self._path) as connection:
            connection.execute(
                "INSERT INTO goldenpay_payments (payment_key, merchant_name, amount, card_type, description,"
                " language, state, created_at) VALUES (:payment_key, :merchant_name, :amount, :card_type,"
                " :description, :language, 'created', :created_at)",
                {**asdict(payment), "created_at": created_at},  # sqlite3 ignores the extra names
            )

    def check(self, payment_key: str) -> _Payment | None:
        """The payment, counted as checked once more."""
        statement = "UPDATE goldenpay_payments SET check_count = check_count + 1 WHERE payment_key = :payment_key"
        return self._update(statement, payment_key=payment_key)[0]

    def open_page(self, payment_key: str, *, payment_date: str) -> _Payment | None:
        statement = (
            "UPDATE goldenpay_payments SET state = 'opened', payment_date = :payment_date"
            " WHERE payment_key = :payment_key AND state = 'created'"
        )
        return self._update(statement, payment_key=payment_key, payment_date=payment_date)[0]

    def settle(self, payment_key: str, *, state: str, payment_date: str, rrn: str) -> _Payment | None:
        """Paid, declined or cancelled, once: a key already settled stays as it is. The card is the sandbox's
        card of the key's type (none when the payer cancelled); only a paid key has a retrieval reference."""
        statement = (
            "UPDATE goldenpay_payments SET state = :state, payment_date = :payment_date,"
            " card_number = CASE WHEN :state = 'cancelled' THEN NULL"
            " WHEN card_type = 'v' THEN :visa ELSE :mastercard END,"
            " rrn = CASE WHEN :state = 'paid' THEN :rrn END"
            " WHERE payment_key = :payment_key AND state IN ('created', 'opened')"
        )
        parameters = {"state": state, "payment_date": payment_date, "rrn": rrn}
        cards = {"visa": CARD_NUMBERS["v"], "mastercard": CARD_NUMBERS["m"]}
        return self._update(statement, payment_key=payment_key, **parameters, **cards)[0]

    def refund(self, payment_key: str, amount: int) -> tuple[_Payment | None, bool]:
        """Refunds a paid key in full; returns the payment as it now is and whether this call refunded it."""
        statement = (
            "UPDATE goldenpay_payments SET state = 'refunded', refunded_amount = amount"
            " WHERE payment_key = :payment_key AND state = 'paid' AND amount = :amount"
        )
        return self._update(statement, payment_key=payment_key, amount=amount)

    def _update(self, statement: str, **parameters: Any) -> tuple[_Payment | None, bool]:
        with transaction(self._path) as connection:
            changed = connection.execute(statement, parameters).rowcount
            row = connection.execute(_SELECT, {"payment_key": parameters["payment_key"]}).fetchone()
        return (None if row is None else _Payment(**dict(row))), changed == 1


class _Refusal(SandboxError):
    """An error GoldenPay answers in its own format, with HTTP 200 (assumption)."""

    def __init__(self, code: GoldenPayCode) -> None:
        super().__init__(200, {"status": _status(code), "paymentKey": None}, name=code.name)


class _Sandbox:
    def __init__(
        self, store: _Store, *, merchant_name: str, auth_key: str, return_url: str, public_base_url: str, clock: Clock
    ) -> None:
        self._store = store
        self._merchant_name = merchant_name
        self._auth_key = auth_key
        self._return_url = return_url
        self._base_url = public_base_url.rstrip("/")
        self._clock = clock

    async def get_payment_key(self, request: Request) -> JSONResponse:
        body = await _read_json(request)
        merchant_name, card_type, description, hash_code = (
            _text(body, name) for name in ("merchantName", "cardType", "description", "hashCode")
        )
        language = body.get("lang", "lv")
        amount = body.get("amount")
        if merchant_name != self._merchant_name:
            raise _Refusal(GoldenPayCode.UNKNOWN_MERCHANT)
        # The signature is checked before the values it covers: an unsigned request learns nothing about them.
        self._check_hash(hash_code, merchant_name, card_type, _amount_text(amount), description)
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= AMOUNT_MAX_QEPIK:
            raise _Refusal(GoldenPayCode.INVALID_AMOUNT)
        if card_type not in CARD_NUMBERS:
            raise _Refusal(GoldenPayCode.INVALID_CARD_TYPE)
        if language not in LANGUAGES or not 0 < len(description) <= DESCRIPTION_LENGTH_MAX:
            raise _Refusal(GoldenPayCode.INVALID_REQUEST)
        payment_key = str(uuid.uuid4())
        payment = _Payment(
            payment_key=payment_key,
            merchant_name=merchant_name,
            amount=amount,
            card_type=card_type,
            description=description,
            language=str(language),
            state="created",
            check_count=0,
            payment_date=None,
            card_number=None,
            rrn=None,
            refunded_amount=0,
        )
        self._store.insert(payment, created_at=self._clock.now().isoformat())
        return JSONResponse({"status": _status(GoldenPayCode.PAID), "paymentKey": payment_key})

    async def get_payment_result_json(self, request: Request) -> JSONResponse:
        body = await _read_json(request)
        registration = body.get("registration")
        if registration is not None and not isinstance(registration, str):
            raise _Refusal(GoldenPayCode.INVALID_REQUEST)
        return self._result(_text(body, "payment_key"), _text(body, "Hash_code"), registration)

    async def get_payment_result_query(self, request: Request) -> JSONResponse:
        query = request.query_params
        return self._result(_text(query, "payment_key"), _text(query, "hash_code"), query.get("registration"))

    async def refund(self, request: Request) -> JSONResponse:
        body = await _read_json(request)
        payment_key, hash_code = _text(body, "payment_key"), _text(body, "hashCode")
        amount = body.get("amount")
        self._check_hash(hash_code, payment_key, _amount_text(amount))
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise _Refusal(GoldenPayCode.INVALID_AMOUNT)
        payment, refunded_now = self._store.refund(payment_key, amount)
        if payment is None:
            raise _Refusal(GoldenPayCode.UNKNOWN_PAYMENT_KEY)
        if refunded_now or (payment.state == "refunded" and payment.refunded_amount == amount):
            return JSONResponse(self._json(payment))  # refunded now, or before: the same answer
        if payment.state in {"paid", "refunded"}:
            raise _Refusal(GoldenPayCode.INVALID_REFUND_AMOUNT)  # full refunds only (assumption)
        raise _Refusal(GoldenPayCode.NOT_PAID)

    async def show_page(self, request: Request) -> Response:
        payment_key = _page_key(request)
        payment = self._store.open_page(payment_key, payment_date=self._now()) if payment_key else None
        if payment is None:
            return html(sandbox_pages.page("Payment not found", ""), status_code=404)
        if payment.state not in {"created", "opened"}:
            return html(self._settled_page(payment), status_code=409)
        return html(self._pay_page(payment))

    async def answer_page(self, request: Request) -> Response:
        payment_key = _page_key(request)
        form = await read_form(request, size_max_bytes=FORM_SIZE_MAX_BYTES, fields_max=4)
        if form is None or form.get("action") not in _OUTCOMES:
            return html(sandbox_pages.page("Choose Pay, Decline or Cancel", ""), status_code=400)
        state = _OUTCOMES[form["action"]]
        rrn = f"{secrets.randbelow(10**12):012d}"
        payment = (
            self._store.settle(payment_key, state=state, payment_date=self._now(), rrn=rrn) if payment_key else None
        )
        if payment is None:
            return html(sandbox_pages.page("Payment not found", ""), status_code=404)
        # Settled now or before: either way the customer goes back to the merchant, who asks for the result.
        return RedirectResponse(with_query(self._return_url, payment_key=payment.payment_key), status_code=303)

    def _result(self, payment_key: str, hash_code: str, registration: str | None) -> JSONResponse:
        parts = (payment_key,) if registration is None else (payment_key, registration)
        self._check_hash(hash_code, *parts)
        payment = self._store.check(payment_key) if len(payment_key) <= PAYMENT_KEY_LENGTH_MAX else None
        if payment is None:
            raise _Refusal(GoldenPayCode.UNKNOWN_PAYMENT_KEY)
        return JSONResponse(self._json(payment))

    def _check_hash(self, hash_code: str, *parts: str) -> None:
        expected = _md5(self._auth_key, *parts)
        if not hmac.compare_digest(hash_code.lower().encode(), expected.encode()):
            raise _Refusal(GoldenPayCode.INVALID_HASH)

    def _json(self, payment: _Payment) -> dict[str, object]:
        code, message = _ANSWERS[payment.state]
        return {
            "status": {"code": int(code), "message": message},
            "paymentKey": payment.payment_key,
            "merchantName": payment.merchant_name,
            "amount": payment.amount,
            "checkCount": payment.check_count,
            "paymentDate": payment.payment_date,
            "cardNumber": payment.card_number,
            "language": payment.language,
            "description": payment.description,
            "rrn": payment.rrn,
            "refundedAmount": payment.refunded_amount,  # assumption: GoldenPay's own answer has no such field
        }

    def _now(self) -> str:
        return self._clock.now().astimezone(BAKU).strftime("%Y-%m-%d %H:%M:%S")

    def _page_url(self, payment_key: str) -> str:
        return f"{self._base_url}/web/paypage?payment_key={quote(payment_key, safe='')}"

    def _pay_page(self, payment: _Payment) -> str:
        return sandbox_pages.page(
            "GoldenPay sandbox",
            f"<p>Pay <strong>{escape(_azn(payment.amount))}</strong> to {escape(payment.merchant_name)}.</p>"
            f"<p>{escape(payment.description)}</p>"
            f"<p>Card: {escape(CARD_BRANDS[payment.card_type])} {escape(CARD_NUMBERS[payment.card_type])}</p>"
            f'<form method="post" action="{escape(self._page_url(payment.payment_key))}">'
            '<p class="hint">This is a sandbox: no card is charged. Pay takes the money; Decline is the card'
            " refused by its bank; Cancel is the payer giving up.</p>"
            '<button type="submit" name="action" value="pay">Pay</button>'
            '<button type="submit" name="action" value="decline">Decline (card refused)</button>'
            '<button type="submit" name="action" value="cancel">Cancel</button>'
            "</form>",
        )

    def _settled_page(self, payment: _Payment) -> str:
        back = with_query(self._return_url, payment_key=payment.payment_key)
        return sandbox_pages.page(
            "GoldenPay sandbox",
            f"<p>This payment of {escape(_azn(payment.amount))} is {escape(payment.state)}.</p>"
            f'<p><a href="{escape(back)}">Return to {escape(payment.merchant_name)}</a></p>',
        )


def create_sandbox_goldenpay(
    database_path: Path,
    *,
    merchant_name: str,
    auth_key: str,
    return_url: str,
    public_base_url: str,
    clock: Clock | None = None,
) -> FastAPI:
    """The sandbox GoldenPay as an ASGI app. `return_url` is the merchant dashboard's success and fail URL (one
    for both); `public_base_url` is where customers' browsers reach the sandbox."""
    if not merchant_name or not auth_key:
        raise ValueError("the sandbox GoldenPay needs a merchant name and an auth key")
    parts = urlsplit(return_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("return_url must be an absolute http(s) address")
    sandbox = _Sandbox(
        _Store(database_path),
        merchant_name=merchant_name,
        auth_key=auth_key,
        return_url=return_url,
        public_base_url=public_base_url,
        clock=clock or SystemClock(),
    )
    app = FastAPI(title="Topup sandbox GoldenPay", docs_url=None, redoc_url=None, openapi_url=None)
    service = "/web/service/merchant"
    app.add_api_route(f"{service}/getPaymentKey", sandbox.get_payment_key, methods=["POST"])
    app.add_api_route(f"{service}/getPaymentResult", sandbox.get_payment_result_json, methods=["POST"])
    app.add_api_route(f"{service}/getPaymentResult", sandbox.get_payment_result_query, methods=["GET"])
    app.add_api_route(f"{service}/refund", sandbox.refund, methods=["POST"])
    app.add_api_route("/web/paypage", sandbox.show_page, methods=["GET"])
    app.add_api_route("/web/paypage", sandbox.answer_page, methods=["POST"])
    app.add_exception_handler(SandboxError, answer_error)
    return app


async def _read_json(request: Request) -> dict[str, object]:
    body = await read_bounded(request, BODY_SIZE_MAX_BYTES)
    try:
        parsed = json.loads(body) if body is not None else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise _Refusal(GoldenPayCode.INVALID_REQUEST)
    return parsed


def _text(fields: Mapping[str, object], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str):
        raise _Refusal(GoldenPayCode.INVALID_REQUEST)
    return value


def _amount_text(amount: object) -> str:
    """The amount as it enters the hash: its decimal text, as the merchant's string concatenation writes it."""
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        raise _Refusal(GoldenPayCode.INVALID_REQUEST)
    return str(amount)


def _page_key(request: Request) -> str:
    payment_key = request.query_params.get("payment_key", "")
    return payment_key if len(payment_key) <= PAYMENT_KEY_LENGTH_MAX else ""


def _status(code: GoldenPayCode) -> dict[str, object]:
    return {"code": int(code), "message": _MESSAGES[code]}


def _md5(*parts: str) -> str:
    # GoldenPay's signature scheme: MD5 over the plain concatenation, lower-case hex. Not our choice of hash.
    return hashlib.md5("".join(parts).encode(), usedforsecurity=False).hexdigest()


def _azn(amount_qepik: int) -> str:
    return f"{amount_qepik // 100}.{amount_qepik % 100:02d} AZN"
