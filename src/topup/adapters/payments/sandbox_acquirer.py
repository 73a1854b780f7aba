"""A fake card acquirer that ships in the product, so that card payments work end to end without a bank.

It speaks the HTTP protocol `HttpCardAcquirer` expects, keeps its payments in its own SQLite file, and
behaves according to the magic cards in `sandbox_cards`. The 3-D Secure challenge is a real page in the
customer's browser. Card numbers are checked and forgotten: only brand and last four digits are stored.

Google Pay (PROTOCOLS.md section 4): `POST /payments` takes exactly one of `card` and `google_pay: {token}`. The
token is opened with the sandbox's own Google Pay keys (`google_pay_token.SandboxGooglePayKeys`, the same ones
the sandbox payment sheet seals with), then:
- CRYPTOGRAM_3DS (a device token): authorised without a challenge, as the device authenticated the payer;
  the magic cards' declines (and the lost response) still apply to its number.
- PAN_ONLY (a card on file): exactly like that card number, 3-D Secure challenge card included.
- A token that cannot be opened, expired ones included, is refused with 422
  {"error": {"code": "invalid_token", "reason": ...}} and no payment is recorded (assumption: a real gateway
  answers an expired token as bad input rather than a decline; either way the payer must pay again). A repeat
  of a request already recorded (same Idempotency-Key, same token) gets its payment even after the token
  expired: the repeat is answered before the token is looked at.

Saved cards (card on file, for auto-recharge): `POST /cards` with `{"card": {...}}` verifies the card as a
zero-amount check and answers a card id; the magic cards that are declined outright (05, 54, N7, 96) cannot be
saved (402 with the decline), the one with insufficient funds can (its later payments are declined with 51).
`POST /payments` with `saved_card: {"id"}` is a merchant-initiated payment: no 3-D Secure challenge (the
challenge card is authorised), the card's expiry, decline and lost answer (0341) still apply; a removed or
unknown card is refused with 422 `saved_card_not_found`. `DELETE /cards/{id}` removes one. Assumption: saving
asks for no challenge here; a real acquirer may want 3-D Secure when a card is first saved.

Its handlers are `async def`, and their SQLite work runs on the sandbox's own small thread pool (`off_loop`): the
sandbox is usually mounted in the same server as the API, whose request threads wait on it over HTTP; were its
handlers to need the same thread pool, a burst of orders would take every thread and the sandbox could never
answer; were they to block the event loop, one write waiting for the file's lock would stall the process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.types import Receive, Scope, Send

from topup.adapters.clock import SystemClock
from topup.adapters.payments import sandbox_pages
from topup.adapters.payments.google_pay_token import (
    SANDBOX_GATEWAY_ID,
    TOKEN_LENGTH_MAX,
    GooglePayTokenOpener,
    SandboxGooglePayKeys,
    TokenInvalid,
    token_fingerprint,
)
from topup.adapters.payments.sandbox_cards import (
    AUTHENTICATION_CANCELLED,
    AUTHENTICATION_FAILED,
    CARD_DECLINED,
    CHALLENGE_CODE,
    EXPIRED_CARD,
    INCORRECT_CVC,
    PROCESSING_ERROR,
    Decline,
    Outcome,
    behaviour_name,
    behaviour_named,
    behaviour_of,
)
from topup.adapters.payments.sandbox_common import (
    SandboxError,
    WebAddress,
    answer_error,
    found,
    html,
    off_loop,
    parse_form,
    read_bounded,
    with_query,
)
from topup.adapters.payments.sandbox_store import (
    IdempotencyConflict,
    SandboxStore,
    State,
    StoredCard,
    StoredPayment,
)
from topup.domain.cards import CardInvalid, CardSummary, check_card, check_cvc
from topup.services.ports import Clock

AMOUNT_MAX_MINOR = 100_000_000
FORM_SIZE_MAX_BYTES = 1024
GOOGLE_PAY_KEYS_DIRNAME = "google-pay-keys"
_NO_EXPIRY_CHECK = date(2000, 1, 1)  # check_card refuses years before 2000, so no card is expired on this day
_CONNECTION = "topup.sandbox.connection"
# A zero-amount verification fails for these; a card short of funds passes it (its payments are declined later).
_NOT_SAVED = frozenset(decline.code for decline in (CARD_DECLINED, EXPIRED_CARD, INCORRECT_CVC, PROCESSING_ERROR))


class _SandboxError(SandboxError):
    """The acquirer's error shape: {"error": {"code", ...details}}."""

    def __init__(self, status_code: int, code: str, **details: object) -> None:
        super().__init__(status_code, {"error": {"code": code, **details}}, name=code)


def _not_found() -> _SandboxError:
    return _SandboxError(404, "not_found")


class _CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=32)
    expiry_month: int = Field(strict=True)
    expiry_year: int = Field(strict=True)
    cvc: str = Field(max_length=8)


class _GooglePayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=TOKEN_LENGTH_MAX)


class _SavedCardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=64)


class _NewPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=128)
    amount: int = Field(strict=True, gt=0, le=AMOUNT_MAX_MINOR)
    currency: Literal["AZN", "USD", "EUR", "RUB", "TRY", "CNY"]
    card: _CardIn | None = None
    google_pay: _GooglePayIn | None = None
    saved_card: _SavedCardIn | None = None
    return_url: WebAddress

    @model_validator(mode="after")
    def _one_way_to_pay(self) -> Self:
        if sum(way is not None for way in (self.card, self.google_pay, self.saved_card)) != 1:
            raise ValueError("exactly one of card, google_pay and saved_card")
        return self


class _NewCard(BaseModel):
    model_config = ConfigDict(extra="forbid")
    card: _CardIn


class _Amount(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(strict=True, gt=0, le=AMOUNT_MAX_MINOR)


class _Connection:
    __slots__ = ("response_lost",)

    def __init__(self) -> None:
        self.response_lost = False


class _LostResponse(Response):
    """Sends nothing, and asks `_SandboxApp` to make the server drop the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[_CONNECTION].response_lost = True


class _SandboxApp(FastAPI):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return None
        connection = _Connection()
        await super().__call__({**scope, _CONNECTION: connection}, receive, send)
        if connection.response_lost:
            # Uvicorn closes the socket without writing a byte when the ASGI callable returns a value. Raising,
            # or returning None without a response, would make it answer 500: not a lost response.
            return "sandbox: response deliberately lost (lost-response test card)"
        return None


class _Sandbox:
    def __init__(
        self,
        store: SandboxStore,
        *,
        secret: str,
        public_base_url: str,
        clock: Clock,
        google_pay: GooglePayTokenOpener,
        google_pay_merchant_id: str | None,
    ) -> None:
        self._store = store
        self._secret = secret.encode()
        self._base_url = public_base_url.rstrip("/")
        self._clock = clock
        self._google_pay = google_pay
        self._google_pay_merchant_id = google_pay_merchant_id

    async def authenticate(self, authorization: Annotated[str | None, Header()] = None) -> None:
        if not self.is_authorised(authorization):
            raise _SandboxError(401, "unauthorised")

    def is_authorised(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), self._secret)

    async def create_payment(
        self,
        request: _NewPayment,
        idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
    ) -> Response:
        if request.saved_card is not None:
            brand, last_four, behaviour = await self._examine_saved(request.saved_card.id)
            request_hash = _saved_card_request_hash(request, request.saved_card.id)
        elif request.google_pay is None:
            assert request.card is not None  # the model takes exactly one of them
            brand, last_four, behaviour = self._examine(request.card)
            request_hash = _request_hash(request, request.card, brand=brand, last_four=last_four)
        else:
            request_hash = _token_request_hash(request, request.google_pay.token)
            try:
                earlier = await off_loop(self._store.replay, idempotency_key, request_hash=request_hash)
            except IdempotencyConflict:
                raise _SandboxError(409, "idempotency_conflict") from None
            if earlier is not None:
                return JSONResponse(self._json(earlier))
            brand, last_four, behaviour = self._examine_token(request.google_pay.token)
        decline = behaviour if isinstance(behaviour, Decline) else None
        status = State.DECLINED if decline else State.AUTHORISED
        if behaviour is Outcome.CHALLENGE:
            status = State.REQUIRES_ACTION
        payment = StoredPayment(
            id=f"pay_{secrets.token_hex(12)}",
            reference=request.reference,
            amount=request.amount,
            currency=request.currency,
            status=status,
            captured_amount=0,
            refunded_amount=0,
            brand=brand,
            last_four=last_four,
            decline=decline,
            return_url=request.return_url,
        )
        try:
            stored, created = await off_loop(
                self._store.insert,
                payment,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                created_at=self._clock.now().isoformat(),
            )
        except IdempotencyConflict:
            raise _SandboxError(409, "idempotency_conflict") from None
        if created and behaviour is Outcome.LOSE_RESPONSE:
            return _LostResponse()
        return JSONResponse(self._json(stored), status_code=201 if created else 200)

    async def save_card(self, request: _NewCard) -> JSONResponse:
        """Card on file: a zero-amount verification, then a card id that later payments name."""
        brand, last_four, behaviour = self._examine(request.card)
        if isinstance(behaviour, Decline) and behaviour.code in _NOT_SAVED:
            raise _SandboxError(402, behaviour.code, response_code=behaviour.response_code, message=behaviour.message)
        card = StoredCard(
            id=f"card_{secrets.token_hex(12)}",
            brand=brand,
            last_four=last_four,
            expiry_month=request.card.expiry_month,
            expiry_year=request.card.expiry_year,
            behaviour=behaviour_name(behaviour),
            removed=False,
        )
        await off_loop(self._store.save_card, card, created_at=self._clock.now().isoformat())
        return JSONResponse(_card_json(card), status_code=201)

    async def remove_card(self, card_id: str) -> JSONResponse:
        if not await off_loop(self._store.remove_card, card_id, removed_at=self._clock.now().isoformat()):
            raise _not_found()
        return JSONResponse({"id": card_id, "removed": True})

    async def _examine_saved(self, card_id: str) -> tuple[str, str, Outcome | Decline]:
        card = await off_loop(self._store.card, card_id)
        if card is None or card.removed:
            raise _SandboxError(422, "saved_card_not_found")
        today = self._clock.now().date()
        if (card.expiry_year, card.expiry_month) < (today.year, today.month):
            return card.brand, card.last_four, EXPIRED_CARD
        behaviour = behaviour_named(card.behaviour)
        # Merchant-initiated: the cardholder is not there, and such payments are out of 3-D Secure's scope.
        return card.brand, card.last_four, Outcome.AUTHORISE if behaviour is Outcome.CHALLENGE else behaviour

    async def get_payment(self, payment_id: str) -> JSONResponse:
        return JSONResponse(self._json(found(await off_loop(self._store.get, payment_id), _not_found)))

    async def find_payment(self, reference: Annotated[str, Query(min_length=1, max_length=128)]) -> JSONResponse:
        return JSONResponse(self._json(found(await off_loop(self._store.latest_for, reference), _not_found)))

    async def capture(self, payment_id: str, body: _Amount) -> JSONResponse:
        payment, _ = found(await off_loop(self._store.capture, payment_id, body.amount), _not_found)
        if payment.status in {State.CAPTURED, State.REFUNDED}:  # captured now, or before: the same effect
            return JSONResponse(self._json(payment))
        if payment.status is State.AUTHORISED:
            raise _SandboxError(422, "invalid_amount", amount_max=payment.amount)
        raise _SandboxError(409, "invalid_state", status=payment.status.value)

    async def void(self, payment_id: str) -> JSONResponse:
        payment, _ = found(await off_loop(self._store.void, payment_id), _not_found)
        if payment.status is State.VOIDED:
            return JSONResponse(self._json(payment))
        raise _SandboxError(409, "invalid_state", status=payment.status.value)

    async def refund(self, payment_id: str, body: _Amount) -> JSONResponse:
        # Partial refunds carry no key of their own, so a retried one refunds again; the total still never
        # exceeds what was captured. Refunding a fully refunded payment changes nothing.
        payment, changed = found(await off_loop(self._store.refund, payment_id, body.amount), _not_found)
        if changed or payment.status is State.REFUNDED:
            return JSONResponse(self._json(payment))
        if payment.status is State.CAPTURED:
            raise _SandboxError(422, "invalid_amount", amount_max=payment.captured_amount - payment.refunded_amount)
        raise _SandboxError(409, "invalid_state", status=payment.status.value)

    async def show_challenge(self, payment_id: str) -> Response:
        payment = await off_loop(self._store.get, payment_id)
        if payment is None:
            return html(sandbox_pages.page("Payment not found", ""), status_code=404)
        if payment.status is not State.REQUIRES_ACTION:
            return html(sandbox_pages.settled_page(payment), status_code=409)
        return html(sandbox_pages.challenge_page(payment))

    async def answer_challenge(self, payment_id: str, form: Annotated[dict[str, str], Depends(_read_form)]) -> Response:
        action = form.get("action")
        if action not in {"approve", "cancel"}:
            return html(sandbox_pages.page("Choose Approve or Cancel", ""), status_code=400)
        decline = AUTHENTICATION_CANCELLED if action == "cancel" else None
        # transStatus Y (authenticated) when the code matches, N (not authenticated) otherwise.
        if action == "approve" and not hmac.compare_digest(
            form.get("otp", "").strip().encode(), CHALLENGE_CODE.encode()
        ):
            decline = AUTHENTICATION_FAILED
        change = await off_loop(self._store.settle_challenge, payment_id, decline)
        if change is None:
            return html(sandbox_pages.page("Payment not found", ""), status_code=404)
        payment, _ = change  # a second submission finds it settled and sends the customer back all the same
        back = with_query(payment.return_url, payment=payment.id, status=payment.status.value)
        return RedirectResponse(back, status_code=303)

    def _examine(self, card: _CardIn) -> tuple[str, str, Outcome | Decline]:
        """Brand, last four digits and what the magic cards say; 422 for a number or code that cannot be."""
        # The domain refuses an expired card with an error; an acquirer declines it (54), so the number is
        # checked here with the expiry check disabled, and the date after.
        try:
            pan, summary = check_card(card.number, card.expiry_month, card.expiry_year, today=_NO_EXPIRY_CHECK)
            check_cvc(card.cvc, brand=summary.brand)
        except CardInvalid as error:
            raise _SandboxError(422, "invalid_card", field=error.details.get("field")) from None
        return self._judge(pan, summary)

    def _examine_token(self, token: str) -> tuple[str, str, Outcome | Decline]:
        """Brand, last four digits and behaviour of the card inside a Google Pay token; 422 invalid_token for
        one that cannot be opened."""
        try:
            payment = self._google_pay.open(token, self._clock.now())
            pan, summary = check_card(payment.pan, payment.expiry_month, payment.expiry_year, today=_NO_EXPIRY_CHECK)
        except TokenInvalid as error:
            raise _SandboxError(422, "invalid_token", reason=error.reason) from None
        except CardInvalid:  # Google sealed something that is no card number: not a payment we can make
            raise _SandboxError(422, "invalid_token", reason="decryption") from None
        merchant = self._google_pay_merchant_id
        if merchant is not None and payment.gateway_merchant_id != merchant:
            # assumption: a gateway refuses a token the payer's page made out to another of its merchants.
            raise _SandboxError(422, "invalid_token", reason="gateway_merchant")
        brand, last_four, behaviour = self._judge(pan, summary)
        if payment.auth_method == "CRYPTOGRAM_3DS" and behaviour is Outcome.CHALLENGE:
            behaviour = Outcome.AUTHORISE  # the device already authenticated the payer: no 3-D Secure
        return brand, last_four, behaviour

    def _judge(self, pan: str, summary: CardSummary) -> tuple[str, str, Outcome | Decline]:
        today = self._clock.now().date()
        if (summary.expiry_year, summary.expiry_month) < (today.year, today.month):
            return summary.brand, summary.last_four, EXPIRED_CARD
        return summary.brand, summary.last_four, behaviour_of(pan)

    def _json(self, payment: StoredPayment) -> dict[str, object]:
        decline = payment.decline
        waiting = payment.status is State.REQUIRES_ACTION
        return {
            "id": payment.id,
            "reference": payment.reference,
            "amount": payment.amount,
            "currency": payment.currency,
            "status": payment.status.value,
            "captured_amount": payment.captured_amount,
            "refunded_amount": payment.refunded_amount,
            "card": {"brand": payment.brand, "last4": payment.last_four},
            "decline": None
            if decline is None
            else {"code": decline.code, "response_code": decline.response_code, "message": decline.message},
            "next_action": {"type": "redirect", "url": f"{self._base_url}/challenge/{payment.id}"} if waiting else None,
        }


def default_google_pay_keys_dir(database_path: Path) -> Path:
    """Where the sandbox acquirer keeps its Google Pay keys unless told otherwise: next to its database."""
    return database_path.parent / GOOGLE_PAY_KEYS_DIRNAME


def create_sandbox_acquirer(
    database_path: Path,
    *,
    secret: str,
    public_base_url: str,
    clock: Clock | None = None,
    google_pay_keys_dir: Path | None = None,
    google_pay_gateway_id: str = SANDBOX_GATEWAY_ID,
    google_pay_merchant_id: str | None = None,
) -> FastAPI:
    """The sandbox acquirer as an ASGI app; `public_base_url` is where customers' browsers reach it.

    Google Pay tokens are opened with the keys in `google_pay_keys_dir` (created there on first use; the
    sandbox payment sheet must be given the same directory) when sealed for `gateway:<google_pay_gateway_id>`,
    and, if `google_pay_merchant_id` is set, only when made out to that gateway merchant id."""
    if not secret:
        raise ValueError("the sandbox acquirer needs a secret")
    keys = SandboxGooglePayKeys.load_or_create(google_pay_keys_dir or default_google_pay_keys_dir(database_path))
    sandbox = _Sandbox(
        SandboxStore(database_path),
        secret=secret,
        public_base_url=public_base_url,
        clock=clock or SystemClock(),
        google_pay=keys.opener(google_pay_gateway_id),
        google_pay_merchant_id=google_pay_merchant_id,
    )
    app = _SandboxApp(title="Topup sandbox card acquirer", docs_url=None, redoc_url=None, openapi_url=None)
    api = APIRouter(dependencies=[Depends(sandbox.authenticate)])
    api.add_api_route("/payments", sandbox.create_payment, methods=["POST"])
    api.add_api_route("/payments", sandbox.find_payment, methods=["GET"])
    api.add_api_route("/payments/{payment_id}", sandbox.get_payment, methods=["GET"])
    api.add_api_route("/payments/{payment_id}/capture", sandbox.capture, methods=["POST"])
    api.add_api_route("/payments/{payment_id}/void", sandbox.void, methods=["POST"])
    api.add_api_route("/payments/{payment_id}/refunds", sandbox.refund, methods=["POST"])
    api.add_api_route("/cards", sandbox.save_card, methods=["POST"])
    api.add_api_route("/cards/{card_id}", sandbox.remove_card, methods=["DELETE"])
    app.include_router(api)
    app.add_api_route("/challenge/{payment_id}", sandbox.show_challenge, methods=["GET"])
    app.add_api_route("/challenge/{payment_id}", sandbox.answer_challenge, methods=["POST"])

    async def invalid_request(request: Request, error: Exception) -> JSONResponse:
        # A body that is not even JSON fails before the credentials are looked at: check them here too.
        if request.url.path.startswith(("/payments", "/cards")) and not sandbox.is_authorised(
            request.headers.get("authorization")
        ):
            return JSONResponse({"error": {"code": "unauthorised"}}, status_code=401)
        assert isinstance(error, RequestValidationError)
        # Only where the problem is, never the value: it could be a card number.
        fields = [".".join(str(part) for part in item["loc"]) for item in error.errors()]
        return JSONResponse({"error": {"code": "invalid_request", "fields": fields}}, status_code=422)

    app.add_exception_handler(SandboxError, answer_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    return app


async def _read_form(request: Request) -> dict[str, str]:
    body = await read_bounded(request, FORM_SIZE_MAX_BYTES)
    if body is None:
        raise _SandboxError(413, "form_too_large")
    fields = parse_form(body, fields_max=8)
    if fields is None:
        raise _SandboxError(400, "invalid_form")
    return fields


def _request_hash(request: _NewPayment, card: _CardIn, *, brand: str, last_four: str) -> str:
    """What makes two requests "the same" for idempotency, without the card number or security code."""
    facts = [request.reference, request.amount, request.currency, request.return_url]
    facts += [brand, last_four, card.expiry_month, card.expiry_year]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


def _saved_card_request_hash(request: _NewPayment, card_id: str) -> str:
    facts = [request.reference, request.amount, request.currency, request.return_url, "saved_card", card_id]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


def _card_json(card: StoredCard) -> dict[str, object]:
    return {
        "id": card.id,
        "brand": card.brand,
        "last4": card.last_four,
        "expiry_month": card.expiry_month,
        "expiry_year": card.expiry_year,
    }


def _token_request_hash(request: _NewPayment, token: str) -> str:
    """The same for a Google Pay payment: a repeat carries the same token, so its digest tells (the digest of
    an encrypted token reveals nothing of the card)."""
    facts = [request.reference, request.amount, request.currency, request.return_url, "google_pay"]
    facts.append(token_fingerprint(token))
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()
