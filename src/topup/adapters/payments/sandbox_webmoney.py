"""A fake WebMoney Merchant that ships in the product, so WebMoney payments work end to end without WebMoney.

It speaks what `WebMoneyMerchant` speaks (PROTOCOLS.md section 3), relative to its base URL:
- POST /lmi/payment_utf.asp (UTF-8) and /lmi/payment.asp (windows-1251): the payment form, posted by the payer's
  browser. A form that is not valid (a purse that is not the sandbox's, a bad amount or number, a missing
  description, a bad URL) gets a 400 error page; a valid one is kept as an invoice (one per purse and
  LMI_PAYMENT_NO: the same form again shows the same invoice; other details for a used number, or a paid
  number, get a 409 error page) and the payment page shows it with three buttons, posting to
- POST /lmi/invoices/{token}: "Pay from WM Keeper purse" sends the pre-request (LMI_PREREQUEST=1, no hash)
  to LMI_RESULT_URL and goes on only if the answer is "YES" (else an error page, and nothing is paid); then
  records the payment (LMI_SYS_INVS_NO, LMI_SYS_TRANS_NO increasing, LMI_SYS_TRANS_DATE in Moscow time), posts
  the notification signed with LMI_HASH to LMI_RESULT_URL once (its HTTP status is kept, not retried) and sends
  the browser to LMI_SUCCESS_URL with LMI_PAYMENT_NO, LMI_SYS_INVS_NO, LMI_SYS_TRANS_NO and LMI_SYS_TRANS_DATE.
  "Payment fails" and "Cancel" send it to LMI_FAIL_URL with LMI_PAYMENT_NO; nothing is recorded, so the payer
  may come back and pay. Paying twice pays once and sends the payer to the same place.
- POST /conf/xml/XMLTransGet.asp: X18, what became of a payment (retval 0 paid, 8 no such payment, 9 not paid).
- POST /conf/xml/XMLTransRefund.asp: refunds, full or partial, never above what was paid (retval 20).

Magic and simplifications:
- The payer is always WMID 000000000001 with the purse of the payee's letter and 000000000001.
- A form with LMI_SIM_MODE is a test payment (LMI_MODE=1 in the notification); without it, a live one
  (LMI_MODE=0). LMI_SIM_MODE=1: every payment fails; 2: the payments whose LMI_PAYMENT_NO is a multiple of 5
  fail (WebMoney fails about 20% at random). Failing sends the payer to LMI_FAIL_URL.
- LMI_SUCCESS_METHOD / LMI_FAIL_METHOD: 0 (the default here) is a 303 redirect, 1 a page whose button posts
  the fields, 2 a page with a plain link (assumption: no fields on a link).
- LMI_HASH is SHA256 unless the factory is told MD5; LMI_HASH2 is neither sent nor defined (its field list is
  ambiguous in public sources).
Assumptions beyond PROTOCOLS.md: X18's request and answer shapes, its signature (sha256 of wmid + purse +
payment number + secret key, any case) and return codes come from public client code; the refund interface,
its signature (with the amount added) and <refundedamount> in answers exist only here (the real X14 needs
WMSigner keys); the amount in callbacks is always written with two decimals.

Its handlers are `async def` (see sandbox_acquirer for why): the callbacks to the Result URL go through
`httpx.AsyncClient`, which the sandbox's own server may well be serving too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import astuple, dataclass
from html import escape
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from topup.adapters.clock import SystemClock
from topup.adapters.payments import sandbox_pages
from topup.adapters.payments.sandbox_common import (
    create_database,
    html,
    is_web_address,
    parse_form,
    read_bounded,
    transaction,
    with_query,
)
from topup.adapters.payments.webmoney import (
    MOSCOW,
    PURSE_FORMAT,
    RETVAL_NOT_FOUND,
    RETVAL_NOT_PAID,
    RETVAL_OK,
    RETVAL_REFUND_TOO_LARGE,
    TRANS_DATE_FORMAT,
    WMID_FORMAT,
    XML_DTD,
    HashMethod,
    format_amount,
    notification_hash,
    parse_amount,
    request_signature,
)
from topup.services.ports import Clock

AMOUNT_MAX_MINOR = 100_000_000
PAYMENT_NO_DIGITS_MAX = 16  # our numbers are below 2**52; WebMoney's own limit is not in public sources
DESCRIPTION_CHARS_MAX = 255
URL_CHARS_MAX = 2048
CUSTOM_VALUE_CHARS_MAX = 255
FORM_SIZE_MAX_BYTES = 16_384
FORM_FIELDS_MAX = 40
CHOICE_SIZE_MAX_BYTES = 256
XML_SIZE_MAX_BYTES = 4096
CALLBACK_TIMEOUT_SECONDS = 10.0
CALLBACK_ANSWER_BYTES_MAX = 1024
SELLER_ANSWER_CHARS_SHOWN = 200
SIM_MODE_2_FAILING_EVERY = 5
PAYER_WMID = "000000000001"
PAYER_PURSE_DIGITS = "000000000001"

# X18's own codes for a request it cannot take (assumption [M], from public client code).
RETVAL_BAD_REQUEST = "-100"
RETVAL_BAD_WMID = "-2"
RETVAL_BAD_SIGNATURE = "-6"
RETVAL_UNKNOWN_PURSE = "1"

_NUMBER = re.compile(rf"[0-9]{{1,{PAYMENT_NO_DIGITS_MAX}}}")
_HEX_SIGNATURE = re.compile(r"[0-9A-Fa-f]{64}")
_CUSTOM_FIELD = re.compile(r"FIELD_[A-Za-z0-9_]{1,32}")
_METHODS = frozenset({"0", "1", "2"})
_SIM_MODES = frozenset({"0", "1", "2"})
_XML_FIELDS = frozenset({"wmid", "lmi_payee_purse", "lmi_payment_no", "lmi_payment_no_type", "sha256", "amount"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS invoices (
    invs_no INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL UNIQUE,
    purse TEXT NOT NULL,
    payment_no TEXT NOT NULL,
    form_hash TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    result_url TEXT,
    success_url TEXT,
    success_method TEXT NOT NULL,
    fail_url TEXT,
    fail_method TEXT NOT NULL,
    sim_mode TEXT,
    custom_fields TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid')),
    trans_no INTEGER UNIQUE,
    trans_date TEXT,
    payer_wm TEXT,
    payer_purse TEXT,
    refunded INTEGER NOT NULL DEFAULT 0 CHECK (refunded BETWEEN 0 AND amount),
    notification_status INTEGER,
    created_at TEXT NOT NULL,
    UNIQUE (purse, payment_no)
);
"""
_COLUMNS = (
    "invs_no, token, purse, payment_no, form_hash, amount, currency, description, result_url, success_url,"
    " success_method, fail_url, fail_method, sim_mode, custom_fields, status, trans_no, trans_date, payer_wm,"
    " payer_purse, refunded, notification_status"
)
_SELECT = f"SELECT {_COLUMNS} FROM invoices"  # noqa: S608 (constant text)
_BY_NUMBER_TYPE = {
    "0": "purse = ? AND payment_no = ?",
    "1": "purse = ? AND invs_no = ?",
    "2": "purse = ? AND trans_no = ?",
}


@dataclass(frozen=True, slots=True)
class _NewInvoice:
    purse: str
    payment_no: str
    amount: int
    currency: str
    description: str
    result_url: str | None
    success_url: str | None
    success_method: str
    fail_url: str | None
    fail_method: str
    sim_mode: str | None
    custom_fields: tuple[tuple[str, str], ...]

    def fingerprint(self) -> str:
        """What makes two forms for one number "the same": every detail of them."""
        return hashlib.sha256(json.dumps(astuple(self)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Invoice:
    invs_no: int
    token: str
    form: _NewInvoice
    paid: bool
    trans_no: int | None
    trans_date: str | None
    payer_wm: str | None
    payer_purse: str | None
    refunded: int
    notification_status: int | None


class _FormError(Exception):
    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class _XmlError(Exception):
    def __init__(self, retval: str, description: str) -> None:
        super().__init__(description)
        self.retval = retval
        self.description = description


class _Conflict(Exception):
    """The number was used before with other details."""


class _InvoiceStore:
    """One SQLite table; every change is one conditional UPDATE, and one invoice per purse and number rests on
    a UNIQUE key."""

    def __init__(self, database_path: Path) -> None:
        self._path = database_path
        create_database(database_path, _SCHEMA)

    def insert(self, form: _NewInvoice, *, token: str, created_at: str) -> _Invoice:
        """Keeps the invoice, or returns the one kept before for the same purse and number."""
        values = {
            "token": token,
            "purse": form.purse,
            "payment_no": form.payment_no,
            "form_hash": form.fingerprint(),
            "amount": form.amount,
            "currency": form.currency,
            "description": form.description,
            "result_url": form.result_url,
            "success_url": form.success_url,
            "success_method": form.success_method,
            "fail_url": form.fail_url,
            "fail_method": form.fail_method,
            "sim_mode": form.sim_mode,
            "custom_fields": json.dumps(form.custom_fields),
            "created_at": created_at,
        }
        names = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)
        with transaction(self._path) as connection:
            connection.execute(
                f"INSERT INTO invoices ({names}, status) VALUES ({placeholders}, 'pending')"  # noqa: S608 (our names)
                " ON CONFLICT (purse, payment_no) DO NOTHING",
                values,
            )
            row = connection.execute(
                f"{_SELECT} WHERE purse = ? AND payment_no = ?", (form.purse, form.payment_no)
            ).fetchone()
        if row["form_hash"] != values["form_hash"]:
            raise _Conflict(form.payment_no)
        return _invoice(row)

    def by_token(self, token: str) -> _Invoice | None:
        with transaction(self._path) as connection:
            row = connection.execute(f"{_SELECT} WHERE token = ?", (token,)).fetchone()
        return None if row is None else _invoice(row)

    def by_number(self, purse: str, number_type: str, number: str) -> _Invoice | None:
        with transaction(self._path) as connection:
            row = connection.execute(f"{_SELECT} WHERE {_BY_NUMBER_TYPE[number_type]}", (purse, number)).fetchone()
        return None if row is None else _invoice(row)

    def pay(self, token: str, *, trans_date: str, payer_wm: str, payer_purse: str) -> tuple[_Invoice, bool]:
        """Records the payment of a pending invoice; returns it, and whether this call paid it."""
        return self._update(
            "UPDATE invoices SET status = 'paid', trans_no = (SELECT COALESCE(MAX(trans_no), 0) + 1 FROM invoices),"
            " trans_date = :trans_date, payer_wm = :payer_wm, payer_purse = :payer_purse"
            " WHERE token = :token AND status = 'pending'",
            token=token,
            trans_date=trans_date,
            payer_wm=payer_wm,
            payer_purse=payer_purse,
        )

    def record_notification(self, token: str, status_code: int) -> None:
        self._update(
            "UPDATE invoices SET notification_status = :status WHERE token = :token", token=token, status=status_code
        )

    def refund(self, token: str, amount: int) -> tuple[_Invoice, bool]:
        return self._update(
            "UPDATE invoices SET refunded = refunded + :amount"
            " WHERE token = :token AND status = 'paid' AND refunded + :amount <= amount",
            token=token,
            amount=amount,
        )

    def _update(self, statement: str, **parameters: Any) -> tuple[_Invoice, bool]:
        with transaction(self._path) as connection:
            changed = connection.execute(statement, parameters).rowcount
            row = connection.execute(f"{_SELECT} WHERE token = ?", (parameters["token"],)).fetchone()
        return _invoice(row), changed == 1


def _invoice(row: sqlite3.Row) -> _Invoice:
    form = _NewInvoice(
        purse=row["purse"],
        payment_no=row["payment_no"],
        amount=row["amount"],
        currency=row["currency"],
        description=row["description"],
        result_url=row["result_url"],
        success_url=row["success_url"],
        success_method=row["success_method"],
        fail_url=row["fail_url"],
        fail_method=row["fail_method"],
        sim_mode=row["sim_mode"],
        custom_fields=tuple((name, value) for name, value in json.loads(row["custom_fields"])),
    )
    return _Invoice(
        invs_no=row["invs_no"],
        token=row["token"],
        form=form,
        paid=row["status"] == "paid",
        trans_no=row["trans_no"],
        trans_date=row["trans_date"],
        payer_wm=row["payer_wm"],
        payer_purse=row["payer_purse"],
        refunded=row["refunded"],
        notification_status=row["notification_status"],
    )


class _Sandbox:
    def __init__(
        self,
        store: _InvoiceStore,
        *,
        purses: Mapping[str, str],
        secret_key: str,
        public_base_url: str,
        clock: Clock,
        hash_method: HashMethod,
    ) -> None:
        self._store = store
        self._currency_of = {purse: currency for currency, purse in purses.items()}
        self._secret_key = secret_key
        self._base_url = public_base_url.rstrip("/")
        self._clock = clock
        self._hash_method = hash_method

    async def payment_form_utf8(self, request: Request) -> Response:
        return await self._payment_form(request, encoding="utf-8")

    async def payment_form_legacy(self, request: Request) -> Response:
        # payment.asp reads LMI_PAYMENT_DESC as windows-1251; LMI_PAYMENT_DESC_BASE64 is UTF-8 on both.
        return await self._payment_form(request, encoding="cp1251")

    async def answer(self, token: str, request: Request) -> Response:
        try:
            choice = await _read_form(request, encoding="utf-8", size_max=CHOICE_SIZE_MAX_BYTES, fields_max=4)
        except _FormError as error:
            return _error_page(error.message, error.status_code)
        invoice = self._store.by_token(token)
        if invoice is None:
            return _error_page("There is no such payment.", 404)
        action = choice.get("action")
        if action not in {"pay", "fail", "cancel"}:
            return _error_page("Choose to pay, to fail the payment or to cancel.", 400)
        if action != "pay":
            return (
                _error_page("This payment has already been made.", 409) if invoice.paid else self._back_unpaid(invoice)
            )
        # A second click, or a reload, finds it paid: the same payment, the same way back.
        return self._back_paid(invoice) if invoice.paid else await self._pay(invoice)

    async def get_transaction(self, request: Request) -> Response:
        try:
            values = await _read_xml(request)
            invoice = self._paid_invoice(values, signed=())
        except _XmlError as error:
            return _xml_answer(error.retval, error.description)
        return _xml_answer(RETVAL_OK, "", invoice)

    async def refund(self, request: Request) -> Response:
        # Partial refunds carry no key of their own, so a retried one refunds again; the total never exceeds
        # what was paid, and refunding a fully refunded payment changes nothing and succeeds.
        try:
            values = await _read_xml(request)
            amount = parse_amount(values.get("amount", ""))
            if amount is None or amount <= 0:
                raise _XmlError(RETVAL_BAD_REQUEST, "merchant.request/amount is incorrect")
            invoice = self._paid_invoice(values, signed=(values["amount"],))
        except _XmlError as error:
            return _xml_answer(error.retval, error.description)
        refunded, changed = self._store.refund(invoice.token, amount)
        if changed or refunded.refunded == refunded.form.amount:
            return _xml_answer(RETVAL_OK, "", refunded)
        return _xml_answer(RETVAL_REFUND_TOO_LARGE, "The amount exceeds what is left of the payment")

    async def _payment_form(self, request: Request, *, encoding: str) -> Response:
        try:
            form = await _read_form(
                request, encoding=encoding, size_max=FORM_SIZE_MAX_BYTES, fields_max=FORM_FIELDS_MAX
            )
            new = _new_invoice(form, self._currency_of)
            invoice = self._store.insert(new, token=secrets.token_urlsafe(16), created_at=self._clock.now().isoformat())
        except _FormError as error:
            return _error_page(error.message, error.status_code)
        except _Conflict:
            return _error_page("This LMI_PAYMENT_NO was used before with other details.", 409)
        if invoice.paid:
            return _error_page("This payment has already been made.", 409)
        return _page("WebMoney sandbox", self._payment_page(invoice))

    async def _pay(self, invoice: _Invoice) -> Response:
        form = invoice.form
        payer_purse = f"{form.purse[0]}{PAYER_PURSE_DIGITS}"
        if form.result_url is not None:
            fields = self._callback_fields(invoice, payer_wm=PAYER_WMID, payer_purse=payer_purse, prerequest=True)
            answer = await _post_form(form.result_url, fields)
            if answer is None:
                return _error_page("The seller's site did not answer the pre-request; nothing was paid.", 502)
            status_code, text = answer
            if status_code != 200 or text.strip() != "YES":
                shown = text.strip()[:SELLER_ANSWER_CHARS_SHOWN]
                return _error_page(f"The seller refused this payment; nothing was paid. The seller said: {shown}", 403)
        if _simulated_failure(form):
            return self._back_unpaid(invoice)
        trans_date = self._clock.now().astimezone(MOSCOW).strftime(TRANS_DATE_FORMAT)
        paid, changed = self._store.pay(
            invoice.token, trans_date=trans_date, payer_wm=PAYER_WMID, payer_purse=payer_purse
        )
        # Only the call that paid notifies: a concurrent second click finds the invoice paid.
        if changed and form.result_url is not None:
            assert paid.payer_wm is not None
            assert paid.payer_purse is not None
            fields = self._callback_fields(paid, payer_wm=paid.payer_wm, payer_purse=paid.payer_purse, prerequest=False)
            answer = await _post_form(form.result_url, fields)
            self._store.record_notification(paid.token, 0 if answer is None else answer[0])
        return self._back_paid(paid)

    def _callback_fields(
        self, invoice: _Invoice, *, payer_wm: str, payer_purse: str, prerequest: bool
    ) -> dict[str, str]:
        form = invoice.form
        fields = {"LMI_PREREQUEST": "1"} if prerequest else {}
        fields |= {
            "LMI_PAYEE_PURSE": form.purse,
            "LMI_PAYMENT_AMOUNT": format_amount(form.amount),
            "LMI_PAYMENT_NO": form.payment_no,
            "LMI_MODE": "0" if form.sim_mode is None else "1",
            "LMI_PAYER_WM": payer_wm,
            "LMI_PAYER_PURSE": payer_purse,
            "LMI_PAYMENT_DESC": form.description,
            "LMI_LANG": "en-US",
        }
        if not prerequest:
            assert invoice.trans_no is not None
            assert invoice.trans_date is not None
            fields |= {
                "LMI_SYS_INVS_NO": str(invoice.invs_no),
                "LMI_SYS_TRANS_NO": str(invoice.trans_no),
                "LMI_SYS_TRANS_DATE": invoice.trans_date,
            }
            fields["LMI_HASH"] = notification_hash(fields, self._secret_key, self._hash_method)
        return fields | dict(form.custom_fields)

    def _back_paid(self, invoice: _Invoice) -> Response:
        form = invoice.form
        parameters = {
            "LMI_PAYMENT_NO": form.payment_no,
            "LMI_SYS_INVS_NO": str(invoice.invs_no),
            "LMI_SYS_TRANS_NO": str(invoice.trans_no),
            "LMI_SYS_TRANS_DATE": invoice.trans_date or "",
        }
        return _send_back(form.success_url, form.success_method, parameters, title="Payment made")

    def _back_unpaid(self, invoice: _Invoice) -> Response:
        form = invoice.form
        return _send_back(
            form.fail_url, form.fail_method, {"LMI_PAYMENT_NO": form.payment_no}, title="Payment not made"
        )

    def _paid_invoice(self, values: dict[str, str], *, signed: tuple[str, ...]) -> _Invoice:
        """The paid invoice an X18-style request names, its signature checked; `_XmlError` otherwise."""
        purse, number = values.get("lmi_payee_purse", ""), values.get("lmi_payment_no", "")
        number_type, wmid = values.get("lmi_payment_no_type", "0") or "0", values.get("wmid", "")
        if wmid and not WMID_FORMAT.fullmatch(wmid):
            raise _XmlError(RETVAL_BAD_WMID, "merchant.request/wmid is incorrect")
        if purse not in self._currency_of:
            raise _XmlError(RETVAL_UNKNOWN_PURSE, "Merchant purse not found")
        if not _NUMBER.fullmatch(number) or number_type not in _BY_NUMBER_TYPE:
            raise _XmlError(RETVAL_BAD_REQUEST, "merchant.request/lmi_payment_no is incorrect")
        received = values.get("sha256", "")
        expected = request_signature(wmid, purse, number, *signed, self._secret_key)
        if not _HEX_SIGNATURE.fullmatch(received) or not hmac.compare_digest(received.upper(), expected):
            raise _XmlError(RETVAL_BAD_SIGNATURE, "sign not right")
        invoice = self._store.by_number(purse, number_type, str(int(number)))
        if invoice is None:
            raise _XmlError(RETVAL_NOT_FOUND, "Payment with this lmi_payment_no not found for this purse")
        if not invoice.paid:
            raise _XmlError(RETVAL_NOT_PAID, "Payment found for this purse, but not paid yet")
        return invoice

    def _payment_page(self, invoice: _Invoice) -> str:
        form = invoice.form
        test = "" if form.sim_mode is None else f" Test payment (LMI_SIM_MODE={form.sim_mode})."
        return (
            f"<p>Pay <strong>{escape(format_amount(form.amount))} {escape(form.currency)}</strong>"
            f" to the purse {escape(form.purse)}.</p>"
            f"<p>{escape(form.description)}</p>"
            f"<p>Payment no. {escape(form.payment_no)}, invoice {invoice.invs_no}.</p>"
            f'<p class="hint">This is a sandbox: no money moves.{escape(test)}</p>'
            f'<form method="post" action="{escape(self._base_url)}/lmi/invoices/{escape(invoice.token)}">'
            '<button type="submit" name="action" value="pay">Pay from WM Keeper purse</button>'
            '<button type="submit" name="action" value="fail">Payment fails</button>'
            '<button type="submit" name="action" value="cancel">Cancel</button>'
            "</form>"
        )


def create_sandbox_webmoney(
    database_path: Path,
    *,
    purses: Mapping[str, str],
    secret_key: str,
    public_base_url: str,
    clock: Clock | None = None,
    hash_method: HashMethod = "sha256",
) -> FastAPI:
    """The sandbox WebMoney Merchant as an ASGI app. `purses` maps a currency to the purse the sandbox keeps
    in it, `secret_key` signs notifications and checks X18 requests, `public_base_url` is where payers'
    browsers reach it."""
    if not secret_key:
        raise ValueError("the sandbox WebMoney needs a secret key")
    if not purses or any(not PURSE_FORMAT.fullmatch(purse) for purse in purses.values()):
        raise ValueError("the sandbox WebMoney needs purses: a letter and 12 digits each")
    if len(set(purses.values())) != len(purses):
        raise ValueError("each currency needs its own purse")
    if hash_method not in {"sha256", "md5"}:
        raise ValueError("hash_method is sha256 or md5")
    sandbox = _Sandbox(
        _InvoiceStore(database_path),
        purses=purses,
        secret_key=secret_key,
        public_base_url=public_base_url,
        clock=clock or SystemClock(),
        hash_method=hash_method,
    )
    app = FastAPI(title="Topup sandbox WebMoney Merchant", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_api_route("/lmi/payment_utf.asp", sandbox.payment_form_utf8, methods=["POST"])
    app.add_api_route("/lmi/payment.asp", sandbox.payment_form_legacy, methods=["POST"])
    app.add_api_route("/lmi/invoices/{token}", sandbox.answer, methods=["POST"])
    app.add_api_route("/conf/xml/XMLTransGet.asp", sandbox.get_transaction, methods=["POST"])
    app.add_api_route("/conf/xml/XMLTransRefund.asp", sandbox.refund, methods=["POST"])
    return app


def _new_invoice(form: dict[str, str], currency_of: Mapping[str, str]) -> _NewInvoice:
    """The payment form, checked; `_FormError` says what is wrong (WebMoney shows such errors as a page)."""
    purse = form.get("LMI_PAYEE_PURSE", "")
    currency = currency_of.get(purse)
    if currency is None:
        raise _FormError("LMI_PAYEE_PURSE is not a purse of this merchant.")
    amount = parse_amount(form.get("LMI_PAYMENT_AMOUNT", ""))
    if amount is None or not 0 < amount <= AMOUNT_MAX_MINOR:
        raise _FormError("LMI_PAYMENT_AMOUNT is not a valid amount.")
    payment_no = form.get("LMI_PAYMENT_NO", "")
    if not _NUMBER.fullmatch(payment_no):
        raise _FormError("LMI_PAYMENT_NO must be a whole number.")
    custom_fields = tuple((name, value) for name, value in form.items() if name.startswith("FIELD_"))
    if any(not _CUSTOM_FIELD.fullmatch(name) or len(value) > CUSTOM_VALUE_CHARS_MAX for name, value in custom_fields):
        raise _FormError("A FIELD_ parameter has a bad name or is too long.")
    sim_mode = form.get("LMI_SIM_MODE") or None
    success_method = form.get("LMI_SUCCESS_METHOD") or "0"
    fail_method = form.get("LMI_FAIL_METHOD") or "0"
    if sim_mode not in {None, *_SIM_MODES} or success_method not in _METHODS or fail_method not in _METHODS:
        raise _FormError("LMI_SIM_MODE, LMI_SUCCESS_METHOD and LMI_FAIL_METHOD take 0, 1 or 2.")
    return _NewInvoice(
        purse=purse,
        payment_no=str(int(payment_no)),
        amount=amount,
        currency=currency,
        description=_description(form),
        result_url=_url(form, "LMI_RESULT_URL"),
        success_url=_url(form, "LMI_SUCCESS_URL"),
        success_method=success_method,
        fail_url=_url(form, "LMI_FAIL_URL"),
        fail_method=fail_method,
        sim_mode=sim_mode,
        custom_fields=custom_fields,
    )


def _description(form: dict[str, str]) -> str:
    encoded = form.get("LMI_PAYMENT_DESC_BASE64")
    if encoded:
        try:
            description = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _FormError("LMI_PAYMENT_DESC_BASE64 is not base64 of UTF-8 text.") from None
    else:
        description = form.get("LMI_PAYMENT_DESC", "")
    if not description.strip() or len(description) > DESCRIPTION_CHARS_MAX:
        raise _FormError(f"The payment needs a description of at most {DESCRIPTION_CHARS_MAX} characters.")
    return description


def _url(form: dict[str, str], name: str) -> str | None:
    value = form.get(name)
    if not value:
        return None  # WebMoney would take the purse settings' address; the sandbox has none
    if len(value) > URL_CHARS_MAX or not is_web_address(value):
        raise _FormError(f"{name} must be an absolute http(s) address.")
    return value


def _simulated_failure(form: _NewInvoice) -> bool:
    if form.sim_mode == "1":
        return True
    return form.sim_mode == "2" and int(form.payment_no) % SIM_MODE_2_FAILING_EVERY == 0


async def _read_form(request: Request, *, encoding: str, size_max: int, fields_max: int) -> dict[str, str]:
    body = await read_bounded(request, size_max)
    if body is None:
        raise _FormError("The form is too large.", 413)
    fields = parse_form(body, fields_max=fields_max, keep_blank_values=True, charset=encoding)
    if fields is None:
        raise _FormError("The form has too many fields.")
    return fields


async def _read_xml(request: Request) -> dict[str, str]:
    """The children of a <merchant.request>; `_XmlError` for anything else. A DTD is refused before parsing:
    ElementTree is not hardened against entity tricks."""
    body = await read_bounded(request, XML_SIZE_MAX_BYTES)
    if body is None or XML_DTD.search(body):
        raise _XmlError(RETVAL_BAD_REQUEST, "general error while parsing the request")
    try:
        root = ET.fromstring(body)  # noqa: S314 (bounded, no DTD)
    except ET.ParseError:
        raise _XmlError(RETVAL_BAD_REQUEST, "general error while parsing the request") from None
    if root.tag != "merchant.request":
        raise _XmlError(RETVAL_BAD_REQUEST, "general error while parsing the request")
    return {child.tag: (child.text or "").strip() for child in root if child.tag in _XML_FIELDS}


async def _post_form(url: str, fields: dict[str, str]) -> tuple[int, str] | None:
    """POSTs a callback to the seller's Result URL; its status and the start of its answer, or None if none came."""
    try:
        async with (
            httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_SECONDS) as client,
            client.stream("POST", url, data=fields) as response,
        ):
            answer = bytearray()
            async for chunk in response.aiter_bytes():
                answer += chunk
                if len(answer) >= CALLBACK_ANSWER_BYTES_MAX:
                    break
            return response.status_code, answer[:CALLBACK_ANSWER_BYTES_MAX].decode("utf-8", errors="replace")
    except httpx.HTTPError:
        return None


def _xml_answer(retval: str, description: str, invoice: _Invoice | None = None) -> Response:
    root = ET.Element("merchant.response")
    if invoice is not None:
        operation = ET.SubElement(root, "operation", wmtransid=str(invoice.trans_no), wminvoiceid=str(invoice.invs_no))
        for name, value in (
            ("amount", format_amount(invoice.form.amount)),
            ("operdate", invoice.trans_date),
            ("purpose", invoice.form.description),
            ("pursefrom", invoice.payer_purse),
            ("wmidfrom", invoice.payer_wm),
            ("refundedamount", format_amount(invoice.refunded)),  # assumption: the sandbox's addition
        ):
            ET.SubElement(operation, name).text = value
    ET.SubElement(root, "retval").text = retval
    ET.SubElement(root, "retdesc").text = description
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="text/xml; charset=utf-8")


def _send_back(url: str | None, method: str, parameters: dict[str, str], *, title: str) -> Response:
    """The payer's way back to the seller: a redirect (0), a form to post (1) or a link (2)."""
    if url is None:
        return _page(title, "<p>The seller gave no address to return to.</p>")
    if method == "0":
        return RedirectResponse(with_query(url, **parameters), status_code=303, headers={"Cache-Control": "no-store"})
    if method == "1":
        inputs = "".join(
            f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in parameters.items()
        )
        button = '<button type="submit">Return to the seller</button>'
        return _page(title, f'<form method="post" action="{escape(url)}">{inputs}{button}</form>')
    return _page(title, f'<p><a href="{escape(url)}">Return to the seller</a></p>')


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return html(sandbox_pages.page(title, body), status_code)


def _error_page(message: str, status_code: int) -> HTMLResponse:
    return _page("Payment error", f"<p>{escape(message)}</p>", status_code)
