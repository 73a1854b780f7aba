"""Signing in with the phone number and a 6-digit code sent to it by SMS; signing out.

The rules (5 minutes, 5 wrong codes lock 15 minutes, rate limits per number and per address) are the
service's (`services.sign_in`); this only carries the number and the code, and sets the session cookie.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from topup.config import Environment
from topup.domain.errors import DomainError
from topup.domain.numbers import parse_msisdn
from topup.entrypoints.web.forms import Problems
from topup.entrypoints.web.messages import REQUIRED
from topup.entrypoints.web.portal import FormDep, Portal, PortalDep, SessionDep, client_address
from topup.entrypoints.web.rendering import redirect
from topup.entrypoints.web.visitor import SESSION_COOKIE, SESSION_SECONDS, cookie_attributes
from topup.entrypoints.web.words import words_of
from topup.services import notifications, sign_in

router = APIRouter()
NextQuery = Annotated[str, Query(alias="next", max_length=300)]
HOME = "/account"
FIELD_LENGTH_MAX = 40


def safe_next(target: str, *, fallback: str = HOME) -> str:
    """Only a path of our own: never another site (an open redirect would lend our name to phishing)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and "\n" not in target:
        return target
    return fallback


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, portal: PortalDep, session: SessionDep, back_to: NextQuery = HOME) -> Response:
    if session is not None:
        return redirect(safe_next(back_to))
    return _number_page(request, portal, "", Problems(), back_to)


@router.post("/sign-in", response_class=HTMLResponse)
def send_code(request: Request, portal: PortalDep, form: FormDep) -> Response:
    number, back_to = form.get("number")[:FIELD_LENGTH_MAX], safe_next(form.get("next", HOME))
    words, problems = words_of(request), Problems()
    if not number:
        words.add_code(problems, "number", REQUIRED)
        return _number_page(request, portal, number, problems, back_to, status=422)
    application = portal.application
    try:
        sent = sign_in.request_code(
            application.uow(), application.sign_in, number=number, client_address=client_address(request)
        )
    except DomainError as error:
        words.add(problems, error, field="number")
        return _number_page(request, portal, number, problems, back_to, status=422)
    if sent.notification_id is not None:  # the code should not wait for the worker's next pass
        notifications.deliver_now(application.uow(), application.notifier, notification_id=sent.notification_id)
    return redirect(f"/sign-in/code?{urlencode({'number': sent.msisdn.removeprefix('+'), 'next': back_to})}")


@router.get("/sign-in/code", response_class=HTMLResponse)
def code_page(
    request: Request,
    portal: PortalDep,
    number: Annotated[str, Query(max_length=FIELD_LENGTH_MAX)] = "",
    back_to: NextQuery = HOME,
) -> Response:
    try:
        msisdn = parse_msisdn(number).e164
    except DomainError:
        return redirect("/sign-in")
    return _code_page(request, portal, msisdn, Problems(), safe_next(back_to))


@router.post("/sign-in/code", response_class=HTMLResponse)
def check_code(request: Request, portal: PortalDep, form: FormDep) -> Response:
    number, code, back_to = form.get("number")[:FIELD_LENGTH_MAX], form.get("code")[:20], safe_next(form.get("next"))
    words, problems = words_of(request), Problems()
    try:
        msisdn = parse_msisdn(number).e164
    except DomainError:
        return redirect("/sign-in")  # the number is ours to carry: a changed one starts again
    if not code:
        words.add_code(problems, "code", REQUIRED)
        return _code_page(request, portal, msisdn, problems, back_to, status=422)
    application = portal.application
    try:
        started = sign_in.verify_code(
            application.uow(), application.sign_in, number=msisdn, code=code, client_address=client_address(request)
        )
    except DomainError as error:
        words.add(problems, error, field="code")
        return _code_page(request, portal, msisdn, problems, back_to, status=422)
    response = redirect(back_to)
    attributes = cookie_attributes(secure=portal.secure_cookies, max_age=SESSION_SECONDS)
    response.headers.append("set-cookie", f"{SESSION_COOKIE}={started.token}; {attributes}")
    return response


@router.post("/sign-out", response_class=HTMLResponse)
def sign_out(request: Request, portal: PortalDep, form: FormDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        sign_in.sign_out(portal.application.uow(), portal.application.sign_in, token=token)
    response = redirect("/")
    attributes = cookie_attributes(secure=portal.secure_cookies, max_age=0)
    response.headers.append("set-cookie", f"{SESSION_COOKIE}=; {attributes}")
    return response


def _number_page(
    request: Request, portal: Portal, number: str, problems: Problems, back_to: str, *, status: int = 200
) -> Response:
    return portal.pages.render(
        request, "sign_in.html", status=status, number=number, problems=problems, back_to=safe_next(back_to)
    )


def _code_page(
    request: Request, portal: Portal, msisdn: str, problems: Problems, back_to: str, *, status: int = 200
) -> Response:
    development = portal.application.settings.environment is Environment.DEVELOPMENT
    return portal.pages.render(
        request,
        "sign_in_code.html",
        status=status,
        msisdn=msisdn,
        problems=problems,
        back_to=back_to,
        development=development,
    )
