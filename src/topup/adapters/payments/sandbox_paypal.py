"""A fake PayPal that ships in the product: Checkout Orders v2 and Payments v2 as `HttpPayPal` speaks them, so
that PayPal payments work end to end without a PayPal account. Its state lives in its own SQLite file.

Paths, relative to where it is mounted (e.g. /sandbox/paypal), as at api-m.paypal.com:
- POST /v1/oauth2/token: HTTP Basic client id and secret, form grant_type=client_credentials; a bearer token
  for 9 hours. Every /v2 path wants one of the tokens it issued, unexpired, or answers 401.
- POST /v2/checkout/orders, GET /v2/checkout/orders/{id}, POST /v2/checkout/orders/{id}/authorize
- GET /v2/payments/authorizations/{id}, POST .../{id}/capture, POST .../{id}/void
- GET /v2/payments/captures/{id}, POST .../{id}/refund, GET /v2/payments/refunds/{id}
- GET and POST /checkoutnow?token=<order id>: the payer's approval page (PayPal's own is on www.paypal.com).

The payer's choices on the approval page (the sandbox's magic):
- "Pay with PayPal balance": the order is APPROVED, and authorizing it holds the money.
- "Pay with a card that will be declined": APPROVED too, but authorizing it answers 422 INSTRUMENT_DECLINED.
- "Cancel and return to merchant": nothing changes (the order stays CREATED); back to cancel_url?token=<id>.
Approving sends the browser to return_url?token=<order id>&PayerID=<payer id>. An order not approved within
3 hours of its creation expires: the page says so, and the API answers 404 RESOURCE_NOT_FOUND for it.

Decisions, and assumptions beyond PROTOCOLS.md:
- No webhooks: Topup polls the order (`HttpPayPal.find`), which is enough for a redirect flow.
- Only intent AUTHORIZE with one purchase unit, what Topup sends: intent CAPTURE is refused with 422
  INTENT_NOT_SUPPORTED (a sandbox limitation, not PayPal's), several units with 400 INVALID_ARRAY_MAX_ITEMS.
- application_context.return_url and cancel_url are required: the sandbox has no JavaScript SDK to return through.
- PayPal-Request-Id (at most 108 characters, assumption): the same id with the same request answers the
  resource as it is now, with 200 instead of 201; the same id with another request is 422
  PAYPAL_REQUEST_ID_PREVIOUSLY_USED. Only successes are remembered: a refused request may be sent again.
- `Prefer: return=representation` gets the whole resource; without it, only id, status and links (PayPal's
  default, return=minimal), and a void answers 204 No Content.
- Every capture is final: the rest of the authorization is released. An authorization expires after 29 days.
- Issue names beyond PROTOCOLS.md follow public PayPal integrations: ORDER_ALREADY_AUTHORIZED,
  AUTHORIZATION_ALREADY_CAPTURED, AUTHORIZATION_VOIDED, AUTHORIZATION_EXPIRED, PREVIOUSLY_VOIDED,
  PREVIOUSLY_CAPTURED, MAX_CAPTURE_AMOUNT_EXCEEDED, REFUND_AMOUNT_EXCEEDED, CAPTURE_FULLY_REFUNDED,
  AUTH_CAPTURE_CURRENCY_MISMATCH, REFUND_CURRENCY_MISMATCH, DECIMAL_PRECISION, DECIMALS_NOT_SUPPORTED,
  CANNOT_BE_ZERO_OR_NEGATIVE, MAX_VALUE_EXCEEDED, MALFORMED_REQUEST_JSON.
- Amounts are decimal strings with at most 2 decimals (none for HUF, JPY, TWD) and at most 1,000,000 units (a
  sandbox limit). Currencies are PayPal's REST list; any other (AZN) is 422 CURRENCY_NOT_SUPPORTED.
Access tokens are stored hashed. Its handlers are `async def` for the reason given in `sandbox_acquirer`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import sqlite3
import string
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from topup.adapters.clock import SystemClock
from topup.adapters.payments import sandbox_pages
from topup.adapters.payments.sandbox_common import (
    SandboxError,
    WebAddress,
    answer_error,
    connect,
    create_database,
    found,
    html,
    read_bounded,
    read_form,
    with_query,
)
from topup.services.ports import Clock

TOKEN_LIFETIME_SECONDS = 32_400  # what PayPal's sandbox typically answers in expires_in (assumption)
APPROVAL_WINDOW = timedelta(hours=3)
AUTHORIZATION_VALIDITY = timedelta(days=29)
BODY_SIZE_MAX_BYTES = 16 * 1024
FORM_SIZE_MAX_BYTES = 1024
REQUEST_ID_LENGTH_MAX = 108
IDENTIFIER_LENGTH_MAX = 64
AMOUNT_UNITS_MAX = 1_000_000
# PayPal's REST currencies (PROTOCOLS.md) and their decimals.
CURRENCY_EXPONENTS = {
    **dict.fromkeys(
        ["AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "ILS", "MYR", "MXN", "NZD", "NOK", "PHP", "PLN"], 2
    ),
    **dict.fromkeys(["GBP", "RUB", "SGD", "SEK", "CHF", "THB", "USD"], 2),
    **dict.fromkeys(["HUF", "JPY", "TWD"], 0),
}
FUNDING_CHOICES = {"balance", "declining_card"}
_ID_ALPHABET = string.ascii_uppercase + string.digits
_AUTHENTICATION_FAILURE = (
    "Authentication failed due to invalid authentication credentials or a missing Authorization header."
)
_INVALID_REQUEST = "Request is not well-formed, syntactically incorrect, or violates schema."
_UNPROCESSABLE = "The requested action could not be performed, semantically incorrect, or failed business validation."
# Pages: no scripts, nothing from elsewhere, never framed, nothing cached.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}
_Model = TypeVar("_Model", bound=BaseModel)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    resource_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('CREATED', 'APPROVED', 'COMPLETED', 'VOIDED')),
    reference_id TEXT NOT NULL,
    custom_id TEXT,
    invoice_id TEXT,
    description TEXT,
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    return_url TEXT NOT NULL,
    cancel_url TEXT NOT NULL,
    brand_name TEXT,
    payer_id TEXT,
    funding TEXT CHECK (funding IN ('balance', 'declining_card')),
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS authorizations (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE REFERENCES orders (id),
    status TEXT NOT NULL CHECK (status IN ('CREATED', 'CAPTURED', 'VOIDED')),
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL,
    expiration_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS captures (
    id TEXT PRIMARY KEY,
    authorization_id TEXT NOT NULL UNIQUE REFERENCES authorizations (id),
    order_id TEXT NOT NULL REFERENCES orders (id),
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    refunded_minor INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor BETWEEN 0 AND amount_minor),
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY,
    capture_id TEXT NOT NULL REFERENCES captures (id),
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    create_time TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refunds_by_capture ON refunds (capture_id);
"""


# --- errors, in PayPal's shapes ----------------------------------------------------------------------------


class _PayPalError(SandboxError):
    """An answer in PayPal's error shape: {name, message, debug_id, details: [{issue, description, ...}], links}."""

    def __init__(
        self,
        status_code: int,
        name: str,
        message: str,
        *,
        issue: str | None = None,
        description: str | None = None,
        field: str | None = None,
        location: str = "body",
    ) -> None:
        debug_id = secrets.token_hex(7)[:13]
        body: dict[str, object] = {"name": name, "message": message, "debug_id": debug_id}
        if issue is not None:
            detail = {"issue": issue, "description": description or issue}
            if field is not None:
                detail |= {"field": field, "location": location}
            body["details"] = [detail]
        anchor = issue or name
        body["links"] = [
            {
                "href": f"https://developer.paypal.com/api/rest/reference/orders/v2/errors/#{anchor}",
                "rel": "information_link",
                "method": "GET",
            }
        ]
        super().__init__(status_code, body, name=issue or name, headers={"PayPal-Debug-Id": debug_id})


class _OAuthError(SandboxError):
    """The token service answers in OAuth 2's shape: {error, error_description}."""

    def __init__(self, status_code: int, error: str, description: str) -> None:
        super().__init__(status_code, {"error": error, "error_description": description}, name=error)


def _invalid(issue: str, description: str, field: str, *, location: str = "body") -> _PayPalError:
    return _PayPalError(
        400, "INVALID_REQUEST", _INVALID_REQUEST, issue=issue, description=description, field=field, location=location
    )


def _unprocessable(issue: str, description: str, field: str | None = None) -> _PayPalError:
    return _PayPalError(422, "UNPROCESSABLE_ENTITY", _UNPROCESSABLE, issue=issue, description=description, field=field)


def _not_found() -> _PayPalError:
    return _PayPalError(
        404,
        "RESOURCE_NOT_FOUND",
        "The specified resource does not exist.",
        issue="INVALID_RESOURCE_ID",
        description="Specified resource ID does not exist. Please check the resource ID and try again.",
    )


def _request_id_reused() -> _PayPalError:
    return _unprocessable(
        "PAYPAL_REQUEST_ID_PREVIOUSLY_USED",
        "The PayPal-Request-Id has already been used for another request.",
        "PayPal-Request-Id",
    )


# --- what the sandbox keeps ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Order:
    id: str
    status: str
    reference_id: str
    custom_id: str | None
    invoice_id: str | None
    description: str | None
    currency: str
    amount_minor: int
    return_url: str
    cancel_url: str
    brand_name: str | None
    payer_id: str | None
    funding: str | None
    create_time: datetime
    update_time: datetime

    def expired(self, now: datetime) -> bool:
        """Never approved within the approval window: PayPal forgets it (assumption: answers 404)."""
        return self.status == "CREATED" and now >= self.create_time + APPROVAL_WINDOW


@dataclass(frozen=True, slots=True)
class _Authorization:
    id: str
    order_id: str
    status: str
    currency: str
    amount_minor: int
    create_time: datetime
    update_time: datetime
    expiration_time: datetime

    def status_at(self, now: datetime) -> str:
        return "EXPIRED" if self.status == "CREATED" and now >= self.expiration_time else self.status


@dataclass(frozen=True, slots=True)
class _Capture:
    id: str
    authorization_id: str
    order_id: str
    currency: str
    amount_minor: int
    refunded_minor: int
    create_time: datetime
    update_time: datetime

    @property
    def status(self) -> str:
        if self.refunded_minor == 0:
            return "COMPLETED"
        return "REFUNDED" if self.refunded_minor == self.amount_minor else "PARTIALLY_REFUNDED"


@dataclass(frozen=True, slots=True)
class _Refund:
    id: str
    capture_id: str
    currency: str
    amount_minor: int
    create_time: datetime


@dataclass(frozen=True, slots=True)
class _OrderView:
    order: _Order
    authorization: _Authorization | None
    capture: _Capture | None
    refunds: tuple[_Refund, ...]


class _Store:
    """One SQLite file. Every change runs in one IMMEDIATE transaction (SQLite's writer lock), so the checks in
    it and the writes after them cannot interleave with another request; idempotency rests on a PRIMARY KEY."""

    def __init__(self, database_path: Path) -> None:
        self._path = database_path
        create_database(database_path, _SCHEMA)

    def add_token(self, token_hash: str, *, expires_at: datetime, now: datetime) -> None:
        with self._write() as connection:
            connection.execute("DELETE FROM tokens WHERE expires_at <= ?", (_stamp(now),))
            connection.execute(
                "INSERT INTO tokens (token_hash, expires_at) VALUES (?, ?)", (token_hash, _stamp(expires_at))
            )

    def token_valid(self, token_hash: str, *, now: datetime) -> bool:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT 1 FROM tokens WHERE token_hash = ? AND expires_at > ?", (token_hash, _stamp(now))
            ).fetchone()
        return row is not None

    def create_order(self, order: _Order, *, request_id: str | None, fingerprint: str) -> tuple[_OrderView, bool]:
        with self._write() as connection:
            first = _claim(connection, request_id, fingerprint, order.id)
            if first is None:
                connection.execute(
                    "INSERT INTO orders (id, status, reference_id, custom_id, invoice_id, description, currency,"
                    " amount_minor, return_url, cancel_url, brand_name, payer_id, funding, create_time, update_time)"
                    " VALUES (?, 'CREATED', ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)",
                    (
                        order.id,
                        order.reference_id,
                        order.custom_id,
                        order.invoice_id,
                        order.description,
                        order.currency,
                        order.amount_minor,
                        order.return_url,
                        order.cancel_url,
                        order.brand_name,
                        _stamp(order.create_time),
                        _stamp(order.update_time),
                    ),
                )
            view = _order_view(connection, first or order.id)
        assert view is not None  # inserted just now, or by the first request of this id
        return view, first is None

    def order(self, order_id: str) -> _OrderView | None:
        with self._connection() as connection:
            return _order_view(connection, order_id)

    def approve(self, order_id: str, *, payer_id: str, funding: str, now: datetime) -> _OrderView | None:
        """Approves an order still waiting for its payer within the window; returns the order as it now is."""
        with self._write() as connection:
            connection.execute(
                "UPDATE orders SET status = 'APPROVED', payer_id = ?, funding = ?, update_time = ?"
                " WHERE id = ? AND status = 'CREATED' AND create_time > ?",
                (payer_id, funding, _stamp(now), order_id, _stamp(now - APPROVAL_WINDOW)),
            )
            return _order_view(connection, order_id)

    def authorize(
        self, order_id: str, *, authorization_id: str, request_id: str | None, fingerprint: str, now: datetime
    ) -> tuple[_OrderView, bool]:
        with self._write() as connection:
            first = _claim(connection, request_id, fingerprint, order_id)
            view = _order_view(connection, order_id)
            if first is not None and view is not None:
                return view, False
            if view is None or view.order.expired(now):
                raise _not_found()
            order = view.order
            if order.status == "CREATED":
                raise _unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.")
            if order.status != "APPROVED":
                raise _unprocessable(
                    "ORDER_ALREADY_AUTHORIZED",
                    "Order already authorized. If 'intent=AUTHORIZE' only one authorization per order is allowed.",
                )
            if order.funding == "declining_card":
                raise _unprocessable(
                    "INSTRUMENT_DECLINED",
                    "The instrument presented was either declined by the processor or bank, or it can't be used"
                    " for this payment.",
                )
            connection.execute(
                "INSERT INTO authorizations (id, order_id, status, currency, amount_minor, create_time, update_time,"
                " expiration_time) VALUES (?, ?, 'CREATED', ?, ?, ?, ?, ?)",
                (
                    authorization_id,
                    order_id,
                    order.currency,
                    order.amount_minor,
                    _stamp(now),
                    _stamp(now),
                    _stamp(now + AUTHORIZATION_VALIDITY),
                ),
            )
            connection.execute(
                "UPDATE orders SET status = 'COMPLETED', update_time = ? WHERE id = ?", (_stamp(now), order_id)
            )
            authorized = _order_view(connection, order_id)
        assert authorized is not None
        return authorized, True

    def capture(
        self,
        authorization_id: str,
        *,
        amount: tuple[int, str] | None,
        capture_id: str,
        request_id: str | None,
        fingerprint: str,
        now: datetime,
    ) -> tuple[_Capture, bool]:
        with self._write() as connection:
            first = _claim(connection, request_id, fingerprint, capture_id)
            if first is not None:
                return found(_capture(connection, first), _not_found), False
            authorization = found(_authorization(connection, authorization_id), _not_found)
            status = authorization.status_at(now)
            if status == "CAPTURED":
                raise _unprocessable("AUTHORIZATION_ALREADY_CAPTURED", "Authorization has been previously captured.")
            if status == "VOIDED":
                raise _unprocessable("AUTHORIZATION_VOIDED", "A voided authorization cannot be captured.")
            if status == "EXPIRED":
                raise _unprocessable("AUTHORIZATION_EXPIRED", "An expired authorization cannot be captured.")
            amount_minor, currency = amount or (authorization.amount_minor, authorization.currency)
            if currency != authorization.currency:
                raise _unprocessable(
                    "AUTH_CAPTURE_CURRENCY_MISMATCH",
                    "Currency of capture must be the same as currency of authorization.",
                    "/amount/currency_code",
                )
            if amount_minor > authorization.amount_minor:
                raise _unprocessable(
                    "MAX_CAPTURE_AMOUNT_EXCEEDED", "Capture amount exceeds allowable limit.", "/amount/value"
                )
            connection.execute(
                "INSERT INTO captures (id, authorization_id, order_id, currency, amount_minor, refunded_minor,"
                " create_time, update_time) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                (
                    capture_id,
                    authorization_id,
                    authorization.order_id,
                    currency,
                    amount_minor,
                    _stamp(now),
                    _stamp(now),
                ),
            )
            # Every capture is final: the rest of the authorization is released with it.
            connection.execute(
                "UPDATE authorizations SET status = 'CAPTURED', update_time = ? WHERE id = ?",
                (_stamp(now), authorization_id),
            )
            return found(_capture(connection, capture_id), _not_found), True

    def void(self, authorization_id: str, *, request_id: str | None, fingerprint: str, now: datetime) -> _Authorization:
        with self._write() as connection:
            first = _claim(connection, request_id, fingerprint, authorization_id)
            authorization = found(_authorization(connection, authorization_id), _not_found)
            if first is not None:
                return authorization
            status = authorization.status_at(now)
            if status == "VOIDED":
                raise _unprocessable("PREVIOUSLY_VOIDED", "Authorization has been previously voided.")
            if status == "CAPTURED":
                raise _unprocessable("PREVIOUSLY_CAPTURED", "Authorization has been previously captured.")
            if status == "EXPIRED":
                raise _unprocessable("AUTHORIZATION_EXPIRED", "An expired authorization cannot be voided.")
            connection.execute(
                "UPDATE authorizations SET status = 'VOIDED', update_time = ? WHERE id = ?",
                (_stamp(now), authorization_id),
            )
            # Its only authorization voided, the whole order is: the order reads VOIDED (assumption).
            connection.execute(
                "UPDATE orders SET status = 'VOIDED', update_time = ? WHERE id = ?",
                (_stamp(now), authorization.order_id),
            )
            return found(_authorization(connection, authorization_id), _not_found)

    def refund(
        self,
        capture_id: str,
        *,
        amount: tuple[int, str] | None,
        refund_id: str,
        request_id: str | None,
        fingerprint: str,
        now: datetime,
    ) -> tuple[_Refund, bool]:
        with self._write() as connection:
            first = _claim(connection, request_id, fingerprint, refund_id)
            if first is not None:
                return found(_refund(connection, first), _not_found), False
            capture = found(_capture(connection, capture_id), _not_found)
            left_minor = capture.amount_minor - capture.refunded_minor
            if left_minor == 0:
                raise _unprocessable("CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded.")
            amount_minor, currency = amount or (left_minor, capture.currency)
            if currency != capture.currency:
                raise _unprocessable(
                    "REFUND_CURRENCY_MISMATCH",
                    "Refund must be in the same currency as the capture.",
                    "/amount/currency_code",
                )
            if amount_minor > left_minor:
                raise _unprocessable(
                    "REFUND_AMOUNT_EXCEEDED",
                    "The refund amount must be less than or equal to the capture amount that has not yet been"
                    " refunded.",
                    "/amount/value",
                )
            connection.execute(
                "INSERT INTO refunds (id, capture_id, currency, amount_minor, create_time) VALUES (?, ?, ?, ?, ?)",
                (refund_id, capture_id, currency, amount_minor, _stamp(now)),
            )
            connection.execute(
                "UPDATE captures SET refunded_minor = refunded_minor + ?, update_time = ? WHERE id = ?",
                (amount_minor, _stamp(now), capture_id),
            )
            return found(_refund(connection, refund_id), _not_found), True

    def authorization(self, authorization_id: str) -> _Authorization | None:
        with self._connection() as connection:
            return _authorization(connection, authorization_id)

    def capture_of(self, capture_id: str) -> _Capture | None:
        with self._connection() as connection:
            return _capture(connection, capture_id)

    def refund_of(self, refund_id: str) -> _Refund | None:
        with self._connection() as connection:
            return _refund(connection, refund_id)

    def _connection(self) -> AbstractContextManager[sqlite3.Connection]:
        # Autocommit: a change begins its transaction itself (`_write`), IMMEDIATE.
        return connect(self._path, autocommit=True)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")  # a refused request leaves no trace, its request id included
                raise
            connection.execute("COMMIT")


def _claim(connection: sqlite3.Connection, request_id: str | None, fingerprint: str, resource_id: str) -> str | None:
    """None when this request is new (its id now names `resource_id`); else the resource its first request made.
    The same id for a different request is refused."""
    if request_id is None:  # PayPal makes the header optional: without it, every request is new
        return None
    inserted = connection.execute(
        "INSERT INTO requests (request_id, fingerprint, resource_id) VALUES (?, ?, ?)"
        " ON CONFLICT (request_id) DO NOTHING",
        (request_id, fingerprint, resource_id),
    ).rowcount
    if inserted == 1:
        return None
    row = connection.execute(
        "SELECT fingerprint, resource_id FROM requests WHERE request_id = ?", (request_id,)
    ).fetchone()
    if not hmac.compare_digest(row["fingerprint"], fingerprint):
        raise _request_id_reused()
    return str(row["resource_id"])


def _order_view(connection: sqlite3.Connection, order_id: str) -> _OrderView | None:
    row = connection.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    if row is None:
        return None
    order = _Order(
        id=row["id"],
        status=row["status"],
        reference_id=row["reference_id"],
        custom_id=row["custom_id"],
        invoice_id=row["invoice_id"],
        description=row["description"],
        currency=row["currency"],
        amount_minor=row["amount_minor"],
        return_url=row["return_url"],
        cancel_url=row["cancel_url"],
        brand_name=row["brand_name"],
        payer_id=row["payer_id"],
        funding=row["funding"],
        create_time=_time(row["create_time"]),
        update_time=_time(row["update_time"]),
    )
    linked = connection.execute("SELECT id FROM authorizations WHERE order_id = ?", (order_id,)).fetchone()
    authorization = _authorization(connection, linked["id"]) if linked else None
    linked = connection.execute("SELECT id FROM captures WHERE order_id = ?", (order_id,)).fetchone()
    capture = _capture(connection, linked["id"]) if linked else None
    refunds: tuple[_Refund, ...] = ()
    if capture is not None:
        rows = connection.execute(
            "SELECT id FROM refunds WHERE capture_id = ? ORDER BY rowid", (capture.id,)
        ).fetchall()
        refunds = tuple(found(_refund(connection, refund["id"]), _not_found) for refund in rows)
    return _OrderView(order=order, authorization=authorization, capture=capture, refunds=refunds)


def _authorization(connection: sqlite3.Connection, authorization_id: str) -> _Authorization | None:
    row = connection.execute("SELECT * FROM authorizations WHERE id = ?", (authorization_id,)).fetchone()
    if row is None:
        return None
    return _Authorization(
        id=row["id"],
        order_id=row["order_id"],
        status=row["status"],
        currency=row["currency"],
        amount_minor=row["amount_minor"],
        create_time=_time(row["create_time"]),
        update_time=_time(row["update_time"]),
        expiration_time=_time(row["expiration_time"]),
    )


def _capture(connection: sqlite3.Connection, capture_id: str) -> _Capture | None:
    row = connection.execute("SELECT * FROM captures WHERE id = ?", (capture_id,)).fetchone()
    if row is None:
        return None
    return _Capture(
        id=row["id"],
        authorization_id=row["authorization_id"],
        order_id=row["order_id"],
        currency=row["currency"],
        amount_minor=row["amount_minor"],
        refunded_minor=row["refunded_minor"],
        create_time=_time(row["create_time"]),
        update_time=_time(row["update_time"]),
    )


def _refund(connection: sqlite3.Connection, refund_id: str) -> _Refund | None:
    row = connection.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
    if row is None:
        return None
    return _Refund(
        id=row["id"],
        capture_id=row["capture_id"],
        currency=row["currency"],
        amount_minor=row["amount_minor"],
        create_time=_time(row["create_time"]),
    )


# --- what the API accepts --------------------------------------------------------------------------------------


class _AmountIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    currency_code: str = Field(pattern=r"^[A-Z]{3}$")
    value: str = Field(max_length=32, pattern=r"^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$")


class _PurchaseUnitIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reference_id: str = Field("default", min_length=1, max_length=256)
    custom_id: str | None = Field(None, min_length=1, max_length=127)
    invoice_id: str | None = Field(None, min_length=1, max_length=127)
    description: str | None = Field(None, min_length=1, max_length=127)
    amount: _AmountIn


class _ApplicationContextIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    return_url: WebAddress
    cancel_url: WebAddress
    brand_name: str | None = Field(None, min_length=1, max_length=127)
    locale: str | None = Field(None, pattern=r"^[a-z]{2}(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?$")
    user_action: Literal["CONTINUE", "PAY_NOW"] = "CONTINUE"
    shipping_preference: Literal["GET_FROM_FILE", "NO_SHIPPING", "SET_PROVIDED_ADDRESS"] = "GET_FROM_FILE"


class _OrderIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    intent: Literal["CAPTURE", "AUTHORIZE"]
    purchase_units: list[_PurchaseUnitIn] = Field(min_length=1, max_length=1)
    application_context: _ApplicationContextIn


class _CaptureIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    amount: _AmountIn | None = None
    final_capture: bool = True
    invoice_id: str | None = Field(None, max_length=127)
    note_to_payer: str | None = Field(None, max_length=255)


class _RefundIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    amount: _AmountIn | None = None
    invoice_id: str | None = Field(None, max_length=127)
    note_to_payer: str | None = Field(None, max_length=255)


class _Empty(BaseModel):
    model_config = ConfigDict(extra="ignore")


_ISSUES_BY_ERROR = {
    "missing": "MISSING_REQUIRED_PARAMETER",
    "string_too_long": "INVALID_STRING_MAX_LENGTH",
    "string_too_short": "INVALID_STRING_MIN_LENGTH",
    "too_long": "INVALID_ARRAY_MAX_ITEMS",
    "too_short": "INVALID_ARRAY_MIN_ITEMS",
    "literal_error": "INVALID_PARAMETER_VALUE",
}


def _validated(model: type[_Model], data: object) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = "/" + "/".join(str(part) for part in first["loc"])
        issue = _ISSUES_BY_ERROR.get(first["type"], "INVALID_PARAMETER_SYNTAX")
        # Only where the problem is, never the value that was sent.
        raise _invalid(issue, f"The value of {field} is not valid.", field) from None


def _amount_in(amount: _AmountIn, field: str) -> tuple[int, str]:
    """A money object as integer minor units, checked as PayPal does: currency, sign, decimals, size."""
    exponent = CURRENCY_EXPONENTS.get(amount.currency_code)
    if exponent is None:
        raise _unprocessable(
            "CURRENCY_NOT_SUPPORTED", "Currency code is not currently supported.", f"{field}/currency_code"
        )
    whole, _, fraction = amount.value.lstrip("-").partition(".")
    if len(fraction) > exponent:
        if exponent == 0:
            raise _unprocessable("DECIMALS_NOT_SUPPORTED", "Currency does not support decimals.", f"{field}/value")
        raise _unprocessable(
            "DECIMAL_PRECISION",
            "If the currency supports decimals, only two decimal place precision is supported.",
            f"{field}/value",
        )
    minor = int(whole or "0") * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    if amount.value.startswith("-") or minor == 0:
        raise _unprocessable("CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.", f"{field}/value")
    if minor > AMOUNT_UNITS_MAX * 10**exponent:
        raise _unprocessable("MAX_VALUE_EXCEEDED", "The amount is above the sandbox's limit.", f"{field}/value")
    return minor, amount.currency_code


# --- the sandbox -----------------------------------------------------------------------------------------------


class _Sandbox:
    def __init__(
        self, store: _Store, *, client_id: str, client_secret: str, public_base_url: str, clock: Clock
    ) -> None:
        self._store = store
        self._client_id = client_id.encode()
        self._client_secret = client_secret.encode()
        self._base_url = public_base_url.rstrip("/")
        self._clock = clock

    # The token service.

    async def issue_token(self, request: Request) -> JSONResponse:
        if not self._client_authenticated(request.headers.get("authorization")):
            raise _OAuthError(401, "invalid_client", "Client Authentication failed")
        form = await _read_form(request)
        if form is None:
            raise _OAuthError(400, "invalid_request", "The request body is not a small form.")
        if form.get("grant_type") != "client_credentials":
            raise _OAuthError(400, "unsupported_grant_type", "Grant Type is NULL or not supported")
        now = self._now()
        token = f"A21AA{secrets.token_urlsafe(48)}"
        self._store.add_token(_token_hash(token), expires_at=now + timedelta(seconds=TOKEN_LIFETIME_SECONDS), now=now)
        return JSONResponse(
            {
                "scope": "https://uri.paypal.com/services/payments/payment/authcapture",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "nonce": f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')}{secrets.token_hex(8)}",
            }
        )

    async def authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token or len(token) > 512:
            raise _PayPalError(401, "AUTHENTICATION_FAILURE", _AUTHENTICATION_FAILURE)
        if not self._store.token_valid(_token_hash(token), now=self._now()):
            raise _PayPalError(401, "AUTHENTICATION_FAILURE", _AUTHENTICATION_FAILURE)

    def _client_authenticated(self, authorization: str | None) -> bool:
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic" or len(encoded) > 1024:
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return False
        client_id, colon, client_secret = decoded.partition(b":")
        # Both compared in full, whatever the first says: the time taken tells nothing.
        id_ok = hmac.compare_digest(client_id, self._client_id)
        secret_ok = hmac.compare_digest(client_secret, self._client_secret)
        return bool(colon) and id_ok and secret_ok

    # Orders.

    async def create_order(self, request: Request) -> JSONResponse:
        body = await _json_body(request, optional=False)
        order_in = _validated(_OrderIn, body)
        if order_in.intent != "AUTHORIZE":
            raise _unprocessable("INTENT_NOT_SUPPORTED", "This sandbox only takes intent AUTHORIZE.", "/intent")
        unit = order_in.purchase_units[0]
        amount_minor, currency = _amount_in(unit.amount, "/purchase_units/0/amount")
        context = order_in.application_context
        now = self._now()
        order = _Order(
            id=_new_id(17),
            status="CREATED",
            reference_id=unit.reference_id,
            custom_id=unit.custom_id,
            invoice_id=unit.invoice_id,
            description=unit.description,
            currency=currency,
            amount_minor=amount_minor,
            return_url=context.return_url,
            cancel_url=context.cancel_url,
            brand_name=context.brand_name,
            payer_id=None,
            funding=None,
            create_time=now,
            update_time=now,
        )
        view, created = self._store.create_order(
            order, request_id=_request_id(request), fingerprint=_fingerprint("create_order", "", body)
        )
        return JSONResponse(
            self._order_json(view, full=_wants_representation(request)), status_code=201 if created else 200
        )

    async def get_order(self, order_id: str) -> JSONResponse:
        view = self._store.order(order_id)
        if view is None or view.order.expired(self._now()):
            raise _not_found()
        return JSONResponse(self._order_json(view, full=True))

    async def authorize_order(self, order_id: str, request: Request) -> JSONResponse:
        body = await _json_body(request, optional=True)
        _validated(_Empty, body)  # payment_source is PayPal's for other flows: accepted and ignored
        view, created = self._store.authorize(
            order_id,
            authorization_id=_new_id(17),
            request_id=_request_id(request),
            fingerprint=_fingerprint("authorize", order_id, body),
            now=self._now(),
        )
        return JSONResponse(
            self._order_json(view, full=_wants_representation(request)), status_code=201 if created else 200
        )

    # Payments.

    async def get_authorization(self, authorization_id: str) -> JSONResponse:
        authorization = found(self._store.authorization(authorization_id), _not_found)
        return JSONResponse(self._authorization_json(authorization))

    async def capture_authorization(self, authorization_id: str, request: Request) -> JSONResponse:
        body = await _json_body(request, optional=True)
        capture_in = _validated(_CaptureIn, body)
        amount = _amount_in(capture_in.amount, "/amount") if capture_in.amount else None
        capture, created = self._store.capture(
            authorization_id,
            amount=amount,
            capture_id=_new_id(17),
            request_id=_request_id(request),
            fingerprint=_fingerprint("capture", authorization_id, body),
            now=self._now(),
        )
        answer = self._capture_json(capture)
        if not _wants_representation(request):
            answer = _minimal(answer)
        return JSONResponse(answer, status_code=201 if created else 200)

    async def void_authorization(self, authorization_id: str, request: Request) -> Response:
        body = await _json_body(request, optional=True)
        _validated(_Empty, body)
        authorization = self._store.void(
            authorization_id,
            request_id=_request_id(request),
            fingerprint=_fingerprint("void", authorization_id, body),
            now=self._now(),
        )
        if not _wants_representation(request):
            return Response(status_code=204)
        return JSONResponse(self._authorization_json(authorization))

    async def get_capture(self, capture_id: str) -> JSONResponse:
        return JSONResponse(self._capture_json(found(self._store.capture_of(capture_id), _not_found)))

    async def refund_capture(self, capture_id: str, request: Request) -> JSONResponse:
        body = await _json_body(request, optional=True)
        refund_in = _validated(_RefundIn, body)
        amount = _amount_in(refund_in.amount, "/amount") if refund_in.amount else None
        refund, created = self._store.refund(
            capture_id,
            amount=amount,
            refund_id=_new_id(17),
            request_id=_request_id(request),
            fingerprint=_fingerprint("refund", capture_id, body),
            now=self._now(),
        )
        answer = self._refund_json(refund)
        if not _wants_representation(request):
            answer = _minimal(answer)
        return JSONResponse(answer, status_code=201 if created else 200)

    async def get_refund(self, refund_id: str) -> JSONResponse:
        return JSONResponse(self._refund_json(found(self._store.refund_of(refund_id), _not_found)))

    # The payer's approval page.

    async def show_checkout(self, token: str | None = None) -> HTMLResponse:
        view = self._order_for_page(token)
        if view is None:
            return _html(sandbox_pages.page("Order not found", "<p>There is no PayPal order to pay here.</p>"), 404)
        order = view.order
        if order.expired(self._now()):
            return _html(_expired_page(order), 410)
        if order.status != "CREATED":
            return _html(_settled_page(order), 409)
        return _html(_checkout_page(order))

    async def answer_checkout(self, request: Request, token: str | None = None) -> Response:
        form = await _read_form(request)
        action = form.get("action") if form is not None else None
        if action not in {*FUNDING_CHOICES, "cancel"}:
            return _html(sandbox_pages.page("Choose how to pay", "<p>Go back and press one of the buttons.</p>"), 400)
        view = self._order_for_page(token)
        if view is None:
            return _html(sandbox_pages.page("Order not found", "<p>There is no PayPal order to pay here.</p>"), 404)
        order = view.order
        if order.payer_id is None and action == "cancel":  # PayPal records nothing: the order stays CREATED
            return RedirectResponse(with_query(order.cancel_url, token=order.id), status_code=303)
        if order.payer_id is None:
            assert action is not None
            view = self._store.approve(order.id, payer_id=_new_id(13), funding=action, now=self._now()) or view
            order = view.order
        if order.payer_id is None:  # still waiting: the approval window has closed
            return _html(_expired_page(order), 410)
        # Approved now, or before (a second submission): back to the shop all the same.
        return RedirectResponse(with_query(order.return_url, token=order.id, PayerID=order.payer_id), status_code=303)

    def _order_for_page(self, token: str | None) -> _OrderView | None:
        if not token or len(token) > IDENTIFIER_LENGTH_MAX:
            return None
        return self._store.order(token)

    # Representations.

    def _order_json(self, view: _OrderView, *, full: bool) -> dict[str, object]:
        order = view.order
        links = [self._link(f"/v2/checkout/orders/{order.id}", "self", "GET")]
        if order.status == "CREATED":
            links.append(
                {
                    "href": f"{self._base_url}/checkoutnow?{urlencode({'token': order.id})}",
                    "rel": "approve",
                    "method": "GET",
                }
            )
        if order.status in {"CREATED", "APPROVED"}:
            links.append(self._link(f"/v2/checkout/orders/{order.id}/authorize", "authorize", "POST"))
        if not full:
            return {"id": order.id, "status": order.status, "links": links}
        unit: dict[str, object] = {"reference_id": order.reference_id}
        for name in ("custom_id", "invoice_id", "description"):
            value = getattr(order, name)
            if value is not None:
                unit[name] = value
        unit["amount"] = _money(order.amount_minor, order.currency)
        unit["payee"] = {"merchant_id": "TOPUPSANDBOX01", "email_address": "merchant@sandbox.invalid"}
        payments: dict[str, object] = {}
        if view.authorization is not None:
            payments["authorizations"] = [self._authorization_json(view.authorization)]
        if view.capture is not None:
            payments["captures"] = [self._capture_json(view.capture)]
        if view.refunds:
            payments["refunds"] = [self._refund_json(refund) for refund in view.refunds]
        if payments:
            unit["payments"] = payments
        answer: dict[str, object] = {
            "id": order.id,
            "intent": "AUTHORIZE",
            "status": order.status,
            "purchase_units": [unit],
        }
        if order.payer_id is not None:
            answer["payer"] = {
                "name": {"given_name": "Sandbox", "surname": "Payer"},
                "email_address": "payer@sandbox.invalid",
                "payer_id": order.payer_id,
            }
        return answer | {
            "create_time": _stamp(order.create_time),
            "update_time": _stamp(order.update_time),
            "links": links,
        }

    def _authorization_json(self, authorization: _Authorization) -> dict[str, object]:
        status = authorization.status_at(self._now())
        path = f"/v2/payments/authorizations/{authorization.id}"
        links = [self._link(path, "self", "GET")]
        if status == "CREATED":
            links += [self._link(f"{path}/capture", "capture", "POST"), self._link(f"{path}/void", "void", "POST")]
        links.append(self._link(f"/v2/checkout/orders/{authorization.order_id}", "up", "GET"))
        return {
            "id": authorization.id,
            "status": status,
            "amount": _money(authorization.amount_minor, authorization.currency),
            "expiration_time": _stamp(authorization.expiration_time),
            "create_time": _stamp(authorization.create_time),
            "update_time": _stamp(authorization.update_time),
            "links": links,
        }

    def _capture_json(self, capture: _Capture) -> dict[str, object]:
        path = f"/v2/payments/captures/{capture.id}"
        links = [self._link(path, "self", "GET")]
        if capture.status != "REFUNDED":
            links.append(self._link(f"{path}/refund", "refund", "POST"))
        links.append(self._link(f"/v2/payments/authorizations/{capture.authorization_id}", "up", "GET"))
        return {
            "id": capture.id,
            "status": capture.status,
            "amount": _money(capture.amount_minor, capture.currency),
            "final_capture": True,
            "create_time": _stamp(capture.create_time),
            "update_time": _stamp(capture.update_time),
            "links": links,
        }

    def _refund_json(self, refund: _Refund) -> dict[str, object]:
        return {
            "id": refund.id,
            "status": "COMPLETED",
            "amount": _money(refund.amount_minor, refund.currency),
            "create_time": _stamp(refund.create_time),
            "update_time": _stamp(refund.create_time),
            "links": [
                self._link(f"/v2/payments/refunds/{refund.id}", "self", "GET"),
                self._link(f"/v2/payments/captures/{refund.capture_id}", "up", "GET"),
            ],
        }

    def _link(self, path: str, rel: str, method: str) -> dict[str, str]:
        return {"href": f"{self._base_url}{path}", "rel": rel, "method": method}

    def _now(self) -> datetime:
        # Whole seconds, as PayPal writes times: what is stored and what is compared are then the same.
        return self._clock.now().astimezone(UTC).replace(microsecond=0)


def create_sandbox_paypal(
    database_path: Path, *, client_id: str, client_secret: str, public_base_url: str, clock: Clock | None = None
) -> FastAPI:
    """The sandbox PayPal as an ASGI app; `public_base_url` is where payers' browsers and our server reach it."""
    if not client_id or not client_secret:
        raise ValueError("the sandbox PayPal needs a client id and a client secret")
    sandbox = _Sandbox(
        _Store(database_path),
        client_id=client_id,
        client_secret=client_secret,
        public_base_url=public_base_url,
        clock=clock or SystemClock(),
    )
    app = FastAPI(title="Topup sandbox PayPal", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_api_route("/v1/oauth2/token", sandbox.issue_token, methods=["POST"])
    api = APIRouter(dependencies=[Depends(sandbox.authenticate)])
    api.add_api_route("/v2/checkout/orders", sandbox.create_order, methods=["POST"])
    api.add_api_route("/v2/checkout/orders/{order_id}", sandbox.get_order, methods=["GET"])
    api.add_api_route("/v2/checkout/orders/{order_id}/authorize", sandbox.authorize_order, methods=["POST"])
    api.add_api_route("/v2/payments/authorizations/{authorization_id}", sandbox.get_authorization, methods=["GET"])
    api.add_api_route(
        "/v2/payments/authorizations/{authorization_id}/capture", sandbox.capture_authorization, methods=["POST"]
    )
    api.add_api_route(
        "/v2/payments/authorizations/{authorization_id}/void", sandbox.void_authorization, methods=["POST"]
    )
    api.add_api_route("/v2/payments/captures/{capture_id}", sandbox.get_capture, methods=["GET"])
    api.add_api_route("/v2/payments/captures/{capture_id}/refund", sandbox.refund_capture, methods=["POST"])
    api.add_api_route("/v2/payments/refunds/{refund_id}", sandbox.get_refund, methods=["GET"])
    app.include_router(api)
    app.add_api_route("/checkoutnow", sandbox.show_checkout, methods=["GET"])
    app.add_api_route("/checkoutnow", sandbox.answer_checkout, methods=["POST"])

    async def invalid_request(request: Request, error: Exception) -> JSONResponse:
        # Bodies are read by hand, so only a malformed path or query lands here.
        assert isinstance(error, RequestValidationError)
        return await answer_error(request, _invalid("INVALID_PARAMETER_SYNTAX", "The request is malformed.", "/"))

    app.add_exception_handler(SandboxError, answer_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    return app


# --- pages -----------------------------------------------------------------------------------------------------


def _checkout_page(order: _Order) -> str:
    amount = f"{_decimal(order.amount_minor, order.currency)} {order.currency}"
    description = f"<p>{escape(order.description)}</p>" if order.description else ""
    action = f"?{urlencode({'token': order.id})}"
    return sandbox_pages.page(
        "PayPal sandbox checkout",
        f"<p>Pay <strong>{escape(amount)}</strong> to {escape(order.brand_name or 'Topup')}.</p>{description}"
        '<p class="hint">This is the sandbox: no PayPal account is needed and no money moves. Approving holds'
        " nothing yet: the shop authorizes the payment when you are back.</p>"
        f'<form method="post" action="{escape(action)}">'
        '<button type="submit" name="action" value="balance">Pay with PayPal balance</button>'
        '<button type="submit" name="action" value="declining_card">Pay with a card that will be declined</button>'
        '<button type="submit" name="action" value="cancel">Cancel and return to merchant</button>'
        "</form>",
    )


def _expired_page(order: _Order) -> str:
    back = with_query(order.cancel_url, token=order.id)
    return sandbox_pages.page(
        "This checkout has expired",
        "<p>PayPal orders must be approved within 3 hours. Nothing was paid.</p>"
        f'<p><a href="{escape(back)}">Return to merchant</a></p>',
    )


def _settled_page(order: _Order) -> str:
    back = with_query(order.return_url, token=order.id, PayerID=order.payer_id or "")
    return sandbox_pages.page(
        "This payment was already approved",
        f'<p>Nothing more to do here.</p><p><a href="{escape(back)}">Return to merchant</a></p>',
    )


# --- small pieces ----------------------------------------------------------------------------------------------


async def _json_body(request: Request, *, optional: bool) -> object:
    body = await read_bounded(request, BODY_SIZE_MAX_BYTES)
    if body is None:
        raise _invalid("MALFORMED_REQUEST_JSON", "The request body is too large.", "/")
    if not body.strip() and optional:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _invalid("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.", "/") from None
    if not isinstance(data, dict):
        raise _invalid("MALFORMED_REQUEST_JSON", "The request JSON must be an object.", "/")
    return data


async def _read_form(request: Request) -> dict[str, str] | None:
    return await read_form(request, size_max_bytes=FORM_SIZE_MAX_BYTES, fields_max=8)


def _request_id(request: Request) -> str | None:
    request_id = request.headers.get("paypal-request-id")
    if request_id is None:
        return None
    if not 1 <= len(request_id) <= REQUEST_ID_LENGTH_MAX or not request_id.isprintable():
        raise _invalid(
            "INVALID_PARAMETER_SYNTAX", "The PayPal-Request-Id is not valid.", "PayPal-Request-Id", location="header"
        )
    return request_id


def _wants_representation(request: Request) -> bool:
    return "return=representation" in request.headers.get("prefer", "").replace(" ", "").lower()


def _fingerprint(operation: str, resource_id: str, body: object) -> str:
    """What makes two requests "the same" for PayPal-Request-Id: the operation, its target and its body."""
    canonical = json.dumps([operation, resource_id, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _minimal(answer: dict[str, object]) -> dict[str, object]:
    return {name: answer[name] for name in ("id", "status", "links")}


def _money(amount_minor: int, currency: str) -> dict[str, str]:
    return {"currency_code": currency, "value": _decimal(amount_minor, currency)}


def _decimal(amount_minor: int, currency: str) -> str:
    exponent = CURRENCY_EXPONENTS[currency]
    if exponent == 0:
        return str(amount_minor)
    units, cents = divmod(amount_minor, 10**exponent)
    return f"{units}.{cents:0{exponent}d}"


def _new_id(length: int) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def _stamp(moment: datetime) -> str:
    """PayPal's time format; fixed width, so that SQLite compares the text as it would the times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    return html(content, status_code, headers=_PAGE_HEADERS)
