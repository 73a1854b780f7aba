"""The subscriber's settings: saved cards (brand and last four; add, remove), auto-recharge (below a threshold,
or on a day of the month, from a saved card), and notifications (SMS, e-mail, what to hear about).

Cards and rules are scoped to the subscriber (`portal:<number>`): ids of anyone else's are not found."""

from __future__ import annotations

import json
import secrets
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from topup.config import Environment
from topup.domain.auto_recharge import RuleKind
from topup.domain.errors import DomainError
from topup.domain.notifications import SMS_ONLY, NotificationKind
from topup.domain.sign_in import WebSession
from topup.entrypoints.web import cards as cards_form
from topup.entrypoints.web import messages
from topup.entrypoints.web.forms import Form, PortalRefusal, Problems, amount_field
from topup.entrypoints.web.messages import NOT_FOUND, REQUIRED
from topup.entrypoints.web.portal import FormDep, Portal, PortalDep, SignedInDep, subscriber_scope
from topup.entrypoints.web.rendering import redirect
from topup.entrypoints.web.words import Words, words_of
from topup.services import auto_recharge, idempotency, notifications, payment_methods
from topup.services.ports import StoredResponse

router = APIRouter()
MUTABLE_KINDS = [kind.value for kind in NotificationKind if kind not in SMS_ONLY]


# --- saved cards ---------------------------------------------------------------------------------------------


@router.get("/account/cards", response_class=HTMLResponse)
def cards(request: Request, portal: PortalDep, session: SignedInDep) -> Response:
    return _cards_page(request, portal, session, Problems())


@router.post("/account/cards", response_class=HTMLResponse)
def add_card(request: Request, portal: PortalDep, session: SignedInDep, form: FormDep) -> Response:
    words, problems = words_of(request), Problems()
    card = cards_form.card_from(form, words, problems)
    if card is None:
        return _cards_page(request, portal, session, problems, status=422)
    application = portal.application
    method_id = uuid.uuid4().hex
    fingerprint = json.dumps({"last_four": card.number[-4:], "expiry": [card.expiry_month, card.expiry_year]})

    def start() -> StoredResponse:
        saved = payment_methods.save_card(
            application.uow(),
            application.saga,
            scope=subscriber_scope(session),
            number=session.msisdn,
            card=card,
            method_id=method_id,
        )
        return StoredResponse(201, saved.id)

    def current(existing_id: str) -> StoredResponse | None:
        found = payment_methods.find_card(application.uow(), method_id=existing_id)
        return None if found is None else StoredResponse(201, found.id)

    try:
        key = idempotency.idempotent_request(
            subscriber_scope(session), form.get("form_token") or None, "POST", request.url.path, fingerprint.encode()
        )
        idempotency.run_saga_once(
            application.uow(), application.clock, key, resource_id=method_id, start=start, current=current
        )
    except DomainError as error:
        words.add(problems, error, field="card_number")
        return _cards_page(request, portal, session, problems, status=422)
    return redirect("/account/cards?saved=1")


@router.post("/account/cards/{method_id}/remove", response_class=HTMLResponse)
def remove_card(method_id: str, portal: PortalDep, session: SignedInDep, form: FormDep) -> Response:
    application = portal.application
    try:
        payment_methods.remove_card(
            application.uow(),
            application.saga,
            number=session.msisdn,
            method_id=method_id,
            scope=subscriber_scope(session),
        )
    except DomainError:
        raise PortalRefusal(NOT_FOUND, 404) from None
    return redirect("/account/cards?removed=1")


def _cards_page(
    request: Request, portal: Portal, session: WebSession, problems: Problems, *, status: int = 200
) -> Response:
    found = payment_methods.list_cards(portal.application.uow(), number=session.msisdn, scope=subscriber_scope(session))
    return portal.pages.render(
        request,
        "cards.html",
        status=status,
        cards=found,
        problems=problems,
        form_token=secrets.token_hex(16),
        saved=request.query_params.get("saved") == "1",
        removed=request.query_params.get("removed") == "1",
    )


# --- auto-recharge ---------------------------------------------------------------------------------------------


@router.get("/account/auto-recharge", response_class=HTMLResponse)
def rules(request: Request, portal: PortalDep, session: SignedInDep) -> Response:
    return _rules_page(request, portal, session, Problems(), {})


@router.post("/account/auto-recharge/threshold", response_class=HTMLResponse)
def set_threshold(request: Request, portal: PortalDep, session: SignedInDep, form: FormDep) -> Response:
    words, problems = words_of(request), Problems()
    threshold = _money(form, "threshold", words, problems)
    amount = _money(form, "threshold_amount", words, problems)
    monthly_max = _whole(form, "monthly_max", words, problems)
    card_id = form.get("threshold_card")
    if not card_id:
        words.add_code(problems, "threshold_card", REQUIRED)
    if problems or threshold is None or amount is None or monthly_max is None:
        return _rules_page(request, portal, session, problems, form.values, status=422)
    application = portal.application
    try:
        auto_recharge.set_threshold(
            application.uow(),
            application.saga,
            scope=subscriber_scope(session),
            card_scope=subscriber_scope(session),
            number=session.msisdn,
            threshold_qepik=threshold,
            amount_qepik=amount,
            monthly_max=monthly_max,
            payment_method_id=card_id[:64],
        )
    except DomainError as error:
        _add(problems, words, error, {"amount_out_of_range": "threshold_amount", "saved_card": "threshold_card"})
        return _rules_page(request, portal, session, problems, form.values, status=422)
    return redirect("/account/auto-recharge?saved=1")


@router.post("/account/auto-recharge/schedule", response_class=HTMLResponse)
def set_schedule(request: Request, portal: PortalDep, session: SignedInDep, form: FormDep) -> Response:
    words, problems = words_of(request), Problems()
    day = _whole(form, "day_of_month", words, problems)
    amount = _money(form, "schedule_amount", words, problems)
    card_id = form.get("schedule_card")
    if not card_id:
        words.add_code(problems, "schedule_card", REQUIRED)
    if problems or day is None or amount is None:
        return _rules_page(request, portal, session, problems, form.values, status=422)
    application = portal.application
    try:
        auto_recharge.set_schedule(
            application.uow(),
            application.saga,
            scope=subscriber_scope(session),
            card_scope=subscriber_scope(session),
            number=session.msisdn,
            day_of_month=day,
            amount_qepik=amount,
            payment_method_id=card_id[:64],
        )
    except DomainError as error:
        _add(problems, words, error, {"amount_out_of_range": "schedule_amount", "saved_card": "schedule_card"})
        return _rules_page(request, portal, session, problems, form.values, status=422)
    return redirect("/account/auto-recharge?saved=1")


@router.post("/account/auto-recharge/{kind}/remove", response_class=HTMLResponse)
def remove_rule(kind: str, portal: PortalDep, session: SignedInDep, form: FormDep) -> Response:
    application = portal.application
    try:
        auto_recharge.remove(
            application.uow(),
            application.saga,
            number=session.msisdn,
            kind=RuleKind(kind),
            scope=subscriber_scope(session),
        )
    except (ValueError, DomainError):
        raise PortalRefusal(NOT_FOUND, 404) from None
    return redirect("/account/auto-recharge?removed=1")


def _add(problems: Problems, words: Words, error: DomainError, fields: dict[str, str]) -> None:
    """The error next to this form's own field for it (the two rules' forms share one page)."""
    field = messages.field_of(error) or ""
    problems.add(fields.get(error.code) or fields.get(field) or field, words.error(error))


def _money(form: Form, name: str, words: Words, problems: Problems) -> int | None:
    text = form.get(name)
    if not text:
        words.add_code(problems, name, REQUIRED)
        return None
    try:
        return amount_field(text)
    except DomainError as error:
        problems.add(name, words.error(error))
        return None


def _whole(form: Form, name: str, words: Words, problems: Problems) -> int | None:
    text = form.get(name)
    if not text.isdigit() or len(text) > 3:
        words.add_code(problems, name, "choice_invalid" if text else REQUIRED)
        return None
    return int(text)


def _rules_page(
    request: Request,
    portal: Portal,
    session: WebSession,
    problems: Problems,
    typed: dict[str, list[str]],
    *,
    status: int = 200,
) -> Response:
    application = portal.application
    scope = subscriber_scope(session)
    views = auto_recharge.rules_of(application.uow(), application.saga, number=session.msisdn, scope=scope)
    found = payment_methods.list_cards(application.uow(), number=session.msisdn, scope=scope)
    by_kind = {view.rule.kind.value: view for view in views}
    return portal.pages.render(
        request,
        "auto_recharge.html",
        status=status,
        threshold=by_kind.get(RuleKind.THRESHOLD.value),
        schedule=by_kind.get(RuleKind.SCHEDULE.value),
        cards=found,
        problems=problems,
        typed={name: values[0] for name, values in typed.items() if values and name != "csrf_token"},
        saved=request.query_params.get("saved") == "1",
        removed=request.query_params.get("removed") == "1",
    )


# --- notifications ------------------------------------------------------------------------------------------------


@router.get("/account/notifications", response_class=HTMLResponse)
def notification_settings(request: Request, portal: PortalDep, session: SignedInDep) -> Response:
    found = notifications.settings_of(portal.application.uow(), number=session.msisdn)
    return _notifications_page(request, portal, found.sms, found.email_address or "", found.muted_kinds, Problems())


@router.post("/account/notifications", response_class=HTMLResponse)
def change_notifications(request: Request, portal: PortalDep, session: SignedInDep, form: FormDep) -> Response:
    words, problems = words_of(request), Problems()
    application = portal.application
    told = set(form.getlist("tell")[:30])
    sms, email = form.get("sms") == "on", form.get("email")[:254]
    # The form ticks what to be told about; the service keeps what is muted. A kind we do not know is muted
    # by nobody: it cannot be ticked, so a changed form can only mute known kinds.
    muted = [kind for kind in MUTABLE_KINDS if kind not in told]
    before = notifications.settings_of(application.uow(), number=session.msisdn)
    try:
        notifications.change_settings(
            application.uow(),
            application.clock,
            number=session.msisdn,
            sms=sms,
            email_address=email or None,
            webhook_url=before.webhook_url,  # set through the API; kept as it is
            muted=muted,
            allow_http_webhook=application.settings.environment is Environment.DEVELOPMENT,
        )
    except DomainError as error:
        words.add(problems, error)
        kinds = frozenset(NotificationKind(k) for k in muted if k in MUTABLE_KINDS)
        return _notifications_page(request, portal, sms, email, kinds, problems, status=422)
    return redirect("/account/notifications?saved=1")


def _notifications_page(
    request: Request,
    portal: Portal,
    sms: bool,
    email: str,
    muted: frozenset[NotificationKind],
    problems: Problems,
    *,
    status: int = 200,
) -> Response:
    return portal.pages.render(
        request,
        "notifications.html",
        status=status,
        sms=sms,
        email=email,
        muted={kind.value for kind in muted},
        kinds=MUTABLE_KINDS,
        problems=problems,
        saved=request.query_params.get("saved") == "1",
    )
