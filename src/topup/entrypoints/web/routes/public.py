"""Pages anyone may open: checking a receipt's verification code, and choosing the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from topup.domain.errors import DomainError
from topup.entrypoints.web import i18n
from topup.entrypoints.web.forms import PortalRefusal, Problems
from topup.entrypoints.web.messages import NOT_FOUND
from topup.entrypoints.web.portal import PortalDep
from topup.entrypoints.web.rendering import redirect
from topup.entrypoints.web.routes.sign_in import safe_next
from topup.entrypoints.web.visitor import LANGUAGE_COOKIE, LANGUAGE_SECONDS, cookie_attributes
from topup.entrypoints.web.words import words_of
from topup.services import history

router = APIRouter()


@router.get("/verify", response_class=HTMLResponse)
def verify(request: Request, portal: PortalDep, code: Annotated[str, Query(max_length=32)] = "") -> Response:
    """Is this receipt genuine? Shows what the receipt must say (kind, amount, time, masked number)."""
    problems, record = Problems(), None
    if code:
        try:
            record = history.verify_receipt(portal.application.uow(), code=code)
        except DomainError as error:
            words_of(request).add(problems, error, field="code")
    status = 404 if code and record is None else 200
    return portal.pages.render(request, "verify.html", status=status, code=code, record=record, problems=problems)


@router.get("/language/{language}")
def choose_language(
    language: str, portal: PortalDep, back_to: Annotated[str, Query(alias="next", max_length=300)] = "/"
) -> Response:
    """Links, not a form, so the switch works without JavaScript on every page; remembered in a cookie. It
    changes nothing but the visitor's own language, so it needs no CSRF token."""
    if language not in i18n.LANGUAGES:
        raise PortalRefusal(NOT_FOUND, 404)
    response = redirect(safe_next(back_to, fallback="/"))
    attributes = cookie_attributes(secure=portal.secure_cookies, max_age=LANGUAGE_SECONDS)
    response.headers.append("set-cookie", f"{LANGUAGE_COOKIE}={language}; {attributes}")
    return response
