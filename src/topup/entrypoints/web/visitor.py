"""Who is at the browser: a per-visitor signed cookie (the anchor of CSRF tokens and of the links we hand out),
the session cookie of a signed-in subscriber, and the remembered language.

Every cookie is HttpOnly, SameSite=Lax and Secure (`TOPUP_COOKIE_SECURE`, default true; Chromium keeps
Secure cookies on http://127.0.0.1 too, so development needs no change). CSRF is the signed double-submit
pattern: the visitor cookie holds a random id and its HMAC; every form carries a token derived from that id
with the server's key, so a page on another site can neither read nor forge it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from topup.adapters.receipt_codes import HmacDigests

VISITOR_COOKIE = "topup_visitor"
SESSION_COOKIE = "topup_session"
LANGUAGE_COOKIE = "topup_lang"
VISITOR_SECONDS = 400 * 86_400  # browsers cap cookies at 400 days
SESSION_SECONDS = 30 * 86_400  # the session's own lifetime (domain.sign_in.SESSION_LIFETIME)
LANGUAGE_SECONDS = 400 * 86_400
VISITOR_ID_LENGTH = 30  # hex digits: 120 random bits; "v:" + id fits the 32-character idempotency scope
SIGNATURE_LENGTH = 32
# Paths the portal does not serve: the API, the sandboxes, the API's docs, the agents' POS page.
NOT_PORTAL = ("/v1", "/sandbox", "/docs", "/redoc", "/openapi.json", "/pos", "/static")


def is_portal_path(path: str) -> bool:
    """Whether a path is the portal's: not the API's or another page's ("/v1" and "/v1/…", not "/v1x")."""
    return not any(path == prefix or path.startswith(f"{prefix}/") for prefix in NOT_PORTAL)


@dataclass(frozen=True, slots=True)
class Signer:
    """Signatures for what the portal hands the browser and must recognise when it comes back."""

    digests: HmacDigests

    def sign(self, purpose: str, value: str) -> str:
        return self.digests.digest(f"portal-{purpose}", value)[:SIGNATURE_LENGTH]

    def valid(self, purpose: str, value: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(purpose, value), signature)

    def visitor_cookie(self, visitor_id: str) -> str:
        return f"{visitor_id}.{self.sign('visitor', visitor_id)}"

    def visitor_of(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) != VISITOR_ID_LENGTH + 1 + SIGNATURE_LENGTH:
            return None
        visitor_id, _, signature = cookie.partition(".")
        return visitor_id if self.valid("visitor", visitor_id, signature) else None

    def csrf_token(self, visitor_id: str) -> str:
        return self.sign("csrf", visitor_id)

    def order_pass(self, order_id: str) -> str:
        """Opens an order's result page and receipt: handed out only in the links of the order's own pages."""
        return self.sign("order", order_id)

    def receipt_pass(self, transaction_id: str) -> str:
        """Opens the receipt of a top-up made without an order (a scratch card): handed out only in the redirect
        that follows it."""
        return self.sign("receipt", transaction_id)

    def quote_reference(self, visitor_id: str, quote_id: str) -> str:
        """A quote's id bound to the visitor who asked for it: another browser's, or a changed one, is not found."""
        return f"{quote_id}.{self.sign('quote', f'{visitor_id}:{quote_id}')}"

    def quote_of(self, visitor_id: str, reference: str) -> str | None:
        quote_id, _, signature = reference.partition(".")
        if not quote_id.isalnum() or len(quote_id) > 64:
            return None
        return quote_id if self.valid("quote", f"{visitor_id}:{quote_id}", signature) else None


def cookie_attributes(*, secure: bool, max_age: int | None) -> str:
    parts = ["Path=/", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


class VisitorCookie:
    """ASGI middleware: gives every portal request a visitor id (`request.state.visitor_id`), setting the
    cookie on the answer when the browser had none (or a forged one)."""

    def __init__(self, app: ASGIApp, *, signer: Signer, secure: bool) -> None:
        self.app = app
        self.signer = signer
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_portal_path(str(scope["path"])):
            await self.app(scope, receive, send)
            return
        visitor_id = self.signer.visitor_of(Request(scope).cookies.get(VISITOR_COOKIE))
        new = visitor_id is None
        if visitor_id is None:
            visitor_id = secrets.token_hex(VISITOR_ID_LENGTH // 2)
        scope.setdefault("state", {})["visitor_id"] = visitor_id

        async def send_with_cookie(message: Message) -> None:
            if new and message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                attributes = cookie_attributes(secure=self.secure, max_age=VISITOR_SECONDS)
                headers.append("set-cookie", f"{VISITOR_COOKIE}={self.signer.visitor_cookie(visitor_id)}; {attributes}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def visitor_id(request: Request) -> str:
    found: str = request.state.visitor_id
    return found
