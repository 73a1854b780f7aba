"""The agent POS page under /pos. Every form carries a CSRF token (the double-submit of a random cookie); the
sale's confirmation carries an idempotency token too, so a double Enter or a resent form sells once. Pages
call services only (`agents`, `agent_users`, `agent_reports`, `history`); words are in `texts`."""

from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from topup.adapters.receipts.content import receipt_content
from topup.adapters.receipts.labels import labels_for
from topup.adapters.reports.agent_reports import daily_report_csv, daily_report_pdf, statement_csv
from topup.bootstrap import Application
from topup.domain.agents import AgentRole
from topup.domain.calendar import baku_date
from topup.domain.errors import DomainError, InvalidInput
from topup.domain.money import format_amount, parse_amount
from topup.entrypoints.api.deps import AppDep, download
from topup.entrypoints.pos.texts import LANGUAGES, refusal, words
from topup.services import agent_reports, agent_users, agents, bundles, history
from topup.services.agent_users import Till
from topup.services.idempotency import idempotent_request, run_once
from topup.services.ports import StoredResponse

router = APIRouter(prefix="/pos", include_in_schema=False)
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(), auto_reload=False
)
SESSION_COOKIE = "pos_session"
CSRF_COOKIE = "pos_csrf"
LANGUAGE_COOKIE = "pos_lang"
PRESETS = ("1.00", "3.00", "5.00", "10.00", "20.00")
OPERATOR_NAMES = {"azercell": "Azercell", "bakcell": "Bakcell", "nar": "Nar"}
Csrf = Annotated[str, Form(max_length=100)]


class ProductMissing(InvalidInput):
    code = "choose_product"


@router.get("", response_class=HTMLResponse)
def sell_page(
    request: Request,
    application: AppDep,
    number: Annotated[str, Query(max_length=32)] = "",
    lang: Annotated[str | None, Query(max_length=5)] = None,
) -> Response:
    till = _till(request, application)
    if till is None:
        return _render(request, application, "sign_in.html", None, lang=lang)
    return _sell(request, application, till, lang=lang, number=number)


@router.post("/sign-in", response_model=None)
def sign_in(
    request: Request,
    application: AppDep,
    csrf: Csrf,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    if not _csrf_ok(request, csrf):
        return _render(request, application, "sign_in.html", None, error_key="csrf", username=username)
    address = request.client.host if request.client else "unknown"
    try:
        token, _ = agent_users.sign_in(
            application.uow(), application.agent_access, username=username, password=password, client_address=address
        )
    except DomainError as refused:
        return _render(
            request, application, "sign_in.html", None, error_code=refused, username=username, status_code=401
        )
    response = RedirectResponse("/pos", status_code=303)
    _cookie(response, application, SESSION_COOKIE, token, max_age=int(agent_users.SESSION_LIFETIME.total_seconds()))
    return response


@router.post("/sign-out", response_model=None)
def sign_out(request: Request, application: AppDep, csrf: Csrf) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if _csrf_ok(request, csrf) and token:
        agent_users.sign_out(application.uow(), application.agent_access, token=token)
    response = RedirectResponse("/pos", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/pos")
    return response


@router.post("/confirm", response_model=None)
def confirm(
    request: Request,
    application: AppDep,
    csrf: Csrf,
    number: Annotated[str, Form(max_length=32)] = "",
    amount: Annotated[str, Form(max_length=32)] = "",
    amount_preset: Annotated[str, Form(max_length=32)] = "",
    bundle: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    till = _till(request, application)
    if till is None:
        return RedirectResponse("/pos", status_code=303)
    amount = amount_preset or amount
    if not _csrf_ok(request, csrf):
        return _sell(request, application, till, error_key="csrf", number=number, amount=amount, bundle=bundle)
    try:
        amount_qepik, bundle_code = _product(amount, bundle)
        preview = agents.preview_sale(
            application.uow(),
            application.clock,
            agent_id=till.agent.id,
            number=number,
            amount_qepik=amount_qepik,
            bundle_code=bundle_code,
        )
    except DomainError as refused:
        return _sell(request, application, till, error=refused, number=number, amount=amount, bundle=bundle)
    t = words(_language(request))
    return _render(
        request,
        application,
        "confirm.html",
        till,
        preview=preview,
        operator_name=OPERATOR_NAMES.get(preview.operator, preview.operator),
        product_name=t["topup"] if preview.product == "topup" else _bundle_name(application, preview.product, request),
        amount=f"{format_amount(preview.amount_qepik)} AZN",
        commission=f"{format_amount(preview.commission_qepik)} AZN",
        spendable_after=f"{format_amount(preview.spendable_after_qepik)} AZN",
        amount_value=format_amount(preview.amount_qepik) if preview.product == "topup" else "",
        bundle_value="" if preview.product == "topup" else preview.product,
        token=uuid.uuid4().hex,
    )


@router.post("/sell", response_model=None)
def sell(
    request: Request,
    application: AppDep,
    csrf: Csrf,
    token: Annotated[str, Form(min_length=1, max_length=64)],
    number: Annotated[str, Form(max_length=32)],
    amount: Annotated[str, Form(max_length=32)] = "",
    bundle: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    till = _till(request, application)
    if till is None:
        return RedirectResponse("/pos", status_code=303)
    if not _csrf_ok(request, csrf):
        return _sell(request, application, till, error_key="csrf", number=number, amount=amount, bundle=bundle)
    try:
        amount_qepik, bundle_code = _product(amount, bundle)
        transaction_id = _sell_once(application, till, token, number, amount_qepik, bundle_code)
    except DomainError as refused:
        return _sell(request, application, till, error=refused, number=number, amount=amount, bundle=bundle)
    return RedirectResponse(f"/pos/receipts/{transaction_id}", status_code=303)


@router.get("/receipts/{transaction_id}", response_class=HTMLResponse)
def receipt(request: Request, application: AppDep, transaction_id: str) -> Response:
    till = _till(request, application)
    if till is None:
        return RedirectResponse("/pos", status_code=303)
    try:
        _, agent = agents.sale_receipt(application.uow(), agent_id=till.agent.id, transaction_id=transaction_id)
    except DomainError as missing:  # another agent's sale, or none: nothing is revealed
        response = _sell(request, application, till, error=missing)
        response.status_code = 404
        return response
    found = history.receipt(application.uow(), transaction_id=transaction_id)
    content = receipt_content(found, language=_language(request))
    # The customer's balance is theirs, not the shop's: an agent's receipt leaves it out.
    balance_label = labels_for(content.language)["balance_after"]
    lines = [line for line in content.lines if line.label != balance_label]
    return _render(
        request,
        application,
        "receipt.html",
        till,
        content=content,
        lines=lines,
        agent=agent,
        amount=f"{format_amount(found.record.amount_qepik)} AZN",
        verify_url=f"{application.settings.public_base_url}/verify",
    )


@router.get("/report", response_class=HTMLResponse)
def report(
    request: Request,
    application: AppDep,
    day: Annotated[date | None, Query(alias="date")] = None,
) -> Response:
    till = _till(request, application)
    if till is None:
        return RedirectResponse("/pos", status_code=303)
    wanted = day or baku_date(application.clock.now())
    found = agent_reports.daily_report(application.uow(), agent_id=till.agent.id, day=wanted)
    return _render(
        request,
        application,
        "report.html",
        till,
        report=found,
        day=wanted.isoformat(),
        sales_amount=f"{format_amount(found.sales_qepik)} AZN",
        commission=f"{format_amount(found.commission_qepik)} AZN",
        deposits=f"{format_amount(found.deposits_qepik)} AZN",
        closing_float=f"{format_amount(found.closing.float_qepik)} AZN",
        is_manager=till.user.role is AgentRole.MANAGER,
    )


@router.get("/report.csv", response_model=None)
def report_csv(
    request: Request, application: AppDep, day: Annotated[date | None, Query(alias="date")] = None
) -> Response:
    till = _till(request, application)
    if till is None:
        return RedirectResponse("/pos", status_code=303)
    wanted = day or baku_date(application.clock.now())
    found = agent_reports.daily_report(application.uow(), agent_id=till.agent.id, day=wanted)
    return download(daily_report_csv(found).encode(), "text/csv; charset=utf-8", f"report-{wanted.isoformat()}.csv")


@router.get("/report.pdf", response_model=None)
def report_pdf(
    request: Request,
    application: AppDep,
    day: Annotated[date | None, Query(alias="date")] = None,
    lang: Annotated[str, Query(max_length=5)] = "az",
) -> Response:
    till = _till(request, application)
    if till is None:
        return RedirectResponse("/pos", status_code=303)
    wanted = day or baku_date(application.clock.now())
    found = agent_reports.daily_report(application.uow(), agent_id=till.agent.id, day=wanted)
    pdf = daily_report_pdf(found, language=lang if lang in LANGUAGES else "az")
    return download(pdf, "application/pdf", f"report-{wanted.isoformat()}.pdf")


@router.get("/statement.csv", response_model=None)
def statement(request: Request, application: AppDep) -> Response:
    till = _till(request, application)
    if till is None or till.user.role is not AgentRole.MANAGER:
        return RedirectResponse("/pos", status_code=303)
    found = agents.statement(application.uow(), agent_id=till.agent.id)
    return download(statement_csv(found).encode(), "text/csv; charset=utf-8", "statement.csv")


# --- helpers ------------------------------------------------------------------------------------------------------


def _sell_once(
    application: Application, till: Till, token: str, number: str, amount_qepik: int | None, bundle_code: str | None
) -> str:
    """Sell, once per form token: a resent confirmation replays the first sale's transaction id."""
    request = idempotent_request(
        till.user.id, token, "POST", "/pos/sell", f"{number}|{amount_qepik}|{bundle_code}".encode()
    )
    uow = application.uow()

    def operation() -> StoredResponse:
        if bundle_code is not None:
            sale = agents.sell_bundle(
                uow,
                application.clock,
                application.codes,
                agent_id=till.agent.id,
                number=number,
                bundle_code=bundle_code,
                user_id=till.user.id,
            )
        else:
            assert amount_qepik is not None
            sale = agents.sell_top_up(
                uow,
                application.clock,
                application.codes,
                agent_id=till.agent.id,
                number=number,
                amount_qepik=amount_qepik,
                user_id=till.user.id,
            )
        return StoredResponse(303, sale.record.id)

    stored, _ = run_once(uow, application.clock, request, operation)
    return stored.body


def _product(amount: str, bundle: str) -> tuple[int | None, str | None]:
    if bundle:
        return None, bundle
    if amount.strip():
        return parse_amount(amount.strip().replace(",", ".")), None
    raise ProductMissing("Choose an amount or a bundle.", field="product")


def _sell(
    request: Request,
    application: Application,
    till: Till,
    *,
    lang: str | None = None,
    error: DomainError | None = None,
    error_key: str | None = None,
    number: str = "",
    amount: str = "",
    bundle: str = "",
) -> HTMLResponse:
    return _render(
        request,
        application,
        "sell.html",
        till,
        lang=lang,
        error_code=error,
        error_key=error_key,
        number=number,
        amount=amount,
        chosen_bundle=bundle,
        status_code=422 if (error or error_key) else 200,
        **_sell_values(application, till, _language(request, lang)),
    )


def _sell_values(application: Application, till: Till, language: str) -> dict[str, Any]:
    held = agents.position(application.uow(), agent_id=till.agent.id).position
    groups = []
    for operator in ("azercell", "bakcell", "nar"):
        items = [
            {"code": b.code, "name": b.name(language), "price": f"{format_amount(b.price_qepik)} AZN"}
            for b in bundles.list_bundles(application.uow(), operator=operator)
            if not b.roaming
        ]
        groups.append({"operator": OPERATOR_NAMES[operator], "bundles": items})
    return {
        "spendable": f"{format_amount(held.spendable_qepik)} AZN",
        "float": f"{format_amount(held.float_qepik)} AZN",
        "credit": f"{format_amount(held.credit_available_qepik)} AZN",
        "presets": PRESETS,
        "bundles": groups,
    }


def _render(
    request: Request,
    application: Application,
    template: str,
    till: Till | None,
    *,
    lang: str | None = None,
    error_code: DomainError | None = None,
    error_key: str | None = None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    language = _language(request, lang)
    t = words(language)
    error = None
    if error_code is not None:
        error = refusal(language, error_code.code, error_code.details)
    elif error_key is not None:
        error = t.get(error_key, t["error"])
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    body = TEMPLATES.get_template(template).render(
        t=t, language=language, languages=LANGUAGES, till=till, csrf=csrf, error=error, **values
    )
    response = HTMLResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})
    if request.cookies.get(CSRF_COOKIE) != csrf:
        _cookie(response, application, CSRF_COOKIE, csrf, max_age=12 * 3600)
    if lang in LANGUAGES:
        _cookie(response, application, LANGUAGE_COOKIE, language, max_age=365 * 86_400)
    return response


def _till(request: Request, application: Application) -> Till | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    return agent_users.till_of(application.uow(), application.agent_access, token=token) if token else None


def _csrf_ok(request: Request, submitted: str) -> bool:
    expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(expected) and hmac.compare_digest(expected.encode(), submitted.encode())


def _language(request: Request, lang: str | None = None) -> str:
    """The page's language: `lang` when a form or link names one, else the request's, else the till's cookie."""
    if lang in LANGUAGES:
        return lang
    chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE, "az")
    return chosen if chosen in LANGUAGES else "az"


def _cookie(response: Response, application: Application, name: str, value: str, *, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/pos",
        secure=application.settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def _bundle_name(application: Application, code: str, request: Request) -> str:
    with application.uow() as uow:
        for operator in uow.catalogue.current().operators.values():
            if code in operator.bundles:
                return operator.bundles[code].name(_language(request))
    return code
