"""What every portal route works with: the application, the signer, the pages; and who is signed in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from topup.adapters.receipt_codes import HmacDigests
from topup.bootstrap import Application
from topup.domain.sign_in import WebSession
from topup.entrypoints.web.forms import Form, check_csrf, read_form
from topup.entrypoints.web.rendering import Pages
from topup.entrypoints.web.visitor import SESSION_COOKIE, Signer
from topup.services import sign_in


@dataclass(frozen=True, slots=True)
class Portal:
    application: Application
    signer: Signer
    pages: Pages

    @classmethod
    def create(cls, application: Application) -> Portal:
        signer = Signer(HmacDigests(application.settings.secret_key))
        return cls(application, signer, Pages(signer))

    @property
    def base_url(self) -> str:
        return self.application.settings.public_base_url

    @property
    def secure_cookies(self) -> bool:
        return self.application.settings.cookie_secure


class SignInNeeded(Exception):
    """A subscriber's page asked for without a live session: the visitor is sent to sign in, then back."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


async def get_portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


PortalDep = Annotated[Portal, Depends(get_portal)]


async def current_session(request: Request, portal: PortalDep) -> WebSession | None:
    """The signed-in subscriber's session, or None; also kept on the request for the page's header."""
    token = request.cookies.get(SESSION_COOKIE)
    session = None
    if token:
        application = portal.application
        session = await run_in_threadpool(sign_in.session_of, application.uow(), application.sign_in, token=token)
    request.state.subscriber = session.msisdn if session is not None else None
    return session


SessionDep = Annotated[WebSession | None, Depends(current_session)]


async def signed_in(request: Request, session: SessionDep) -> WebSession:
    if session is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(quote(here, safe="/?=&"))
    return session


SignedInDep = Annotated[WebSession, Depends(signed_in)]


async def posted_form(request: Request, portal: PortalDep) -> Form:
    """A POSTed form whose CSRF token is right (else a 403 page)."""
    form = await read_form(request)
    check_csrf(request, form, portal.signer)
    return form


FormDep = Annotated[Form, Depends(posted_form)]


def subscriber_scope(session: WebSession) -> str:
    """Whose orders, saved cards and auto-recharge rules these are: the signed-in subscriber's."""
    return f"portal:{session.msisdn}"


ANONYMOUS_SCOPE = "portal"


def client_address(request: Request) -> str:
    """Who is asking, for the per-client rate limits (the peer's address: run behind a proxy that passes it on,
    e.g. uvicorn's --proxy-headers)."""
    return request.client.host if request.client is not None else "unknown"


def idempotency_scope(visitor_id: str, session: WebSession | None) -> str:
    """Whose idempotency keys: a subscriber's, or (signed out) this browser's; at most 32 characters."""
    return subscriber_scope(session) if session is not None else f"v:{visitor_id}"
