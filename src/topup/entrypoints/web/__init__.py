"""The self-service portal: server-rendered pages in az, en, ru and zh under `/`, on the same services as the
API (which stays under `/v1`). `install_portal` adds it to the FastAPI app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from topup.bootstrap import Application
from topup.domain.errors import DomainError, ErrorKind
from topup.entrypoints.web import messages
from topup.entrypoints.web.forms import PortalRefusal
from topup.entrypoints.web.portal import Portal, SignInNeeded, current_session
from topup.entrypoints.web.rendering import STATIC_DIRECTORY, redirect
from topup.entrypoints.web.routes import (
    account,
    bundles,
    checkout,
    history,
    orders,
    public,
    settings,
    sign_in,
    topup,
    vouchers,
)
from topup.entrypoints.web.visitor import VisitorCookie, is_portal_path
from topup.entrypoints.web.words import words_of

logger = logging.getLogger("topup.portal")
Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


def install_portal(app: FastAPI, application: Application) -> None:
    portal = Portal.create(application)
    app.state.portal = portal
    router = APIRouter(include_in_schema=False, dependencies=[Depends(current_session)])
    for module in (topup, checkout, orders, vouchers, sign_in, account, bundles, history, settings, public):
        router.include_router(module.router)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIRECTORY), name="static")
    app.add_middleware(VisitorCookie, signer=portal.signer, secure=portal.secure_cookies)
    _install_error_pages(app, portal)


def _is_portal(request: Request) -> bool:
    return is_portal_path(request.url.path)


def _wants_page(request: Request) -> bool:
    """A browser (it asks for HTML) on a path of the portal's. An unknown address asked for by a program keeps
    the API's JSON error."""
    return _is_portal(request) and "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, portal: Portal, code: str, status: int, text: str | None = None) -> Response:
    words = words_of(request)
    message = text or messages.code_text(code, words.translate)
    return portal.pages.render(request, "error.html", status=status, message=message, code=code)


def _install_error_pages(app: FastAPI, portal: Portal) -> None:
    """Portal paths get pages in the visitor's language; the API keeps its JSON errors."""
    api_http: Handler = app.exception_handlers[StarletteHTTPException]
    api_domain: Handler = app.exception_handlers[DomainError]
    api_invalid: Handler = app.exception_handlers[RequestValidationError]
    api_unexpected: Handler = app.exception_handlers[Exception]

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, PortalRefusal)
        return _error_page(request, portal, error.code, error.status)

    async def sign_in_first(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInNeeded)
        return redirect(f"/sign-in?{urlencode({'next': error.back_to})}")

    async def http_error(request: Request, error: Exception) -> Response:
        if not _wants_page(request):
            return await _call(api_http, request, error)
        assert isinstance(error, StarletteHTTPException)
        code = messages.NOT_FOUND if error.status_code in (404, 405, 422) else "error"
        return _error_page(request, portal, code, error.status_code)

    async def invalid_request(request: Request, error: Exception) -> Response:
        if not _wants_page(request):
            return await _call(api_invalid, request, error)
        return _error_page(request, portal, "choice_invalid", 422)

    async def domain_error(request: Request, error: Exception) -> Response:
        if not _is_portal(request):
            return await _call(api_domain, request, error)
        assert isinstance(error, DomainError)
        status = 404 if error.kind is ErrorKind.NOT_FOUND else 422
        return _error_page(request, portal, error.code, status, words_of(request).error(error))

    async def unexpected(request: Request, error: Exception) -> Response:
        if not _is_portal(request):
            return await _call(api_unexpected, request, error)
        logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
        return _error_page(request, portal, "error", 500)

    app.add_exception_handler(PortalRefusal, refused)
    app.add_exception_handler(SignInNeeded, sign_in_first)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, unexpected)


async def _call(handler: Handler, request: Request, error: Exception) -> Response:
    answer = handler(request, error)
    if isinstance(answer, Response):
        return answer
    return await answer
