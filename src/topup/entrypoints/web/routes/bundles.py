"""Bundles of the subscriber's operator: browse with filters (data, minutes, price, validity), compare a few,
buy one from the main balance (idempotent per form) or by card (through a quote and the checkout)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from topup.domain.catalogue import KB_PER_MB, Bundle
from topup.domain.errors import DomainError
from topup.domain.money import QEPIK_PER_MANAT
from topup.domain.quotes import ProductType
from topup.domain.sign_in import WebSession
from topup.entrypoints.web import messages
from topup.entrypoints.web.forms import PortalRefusal, Problems
from topup.entrypoints.web.messages import NOT_FOUND
from topup.entrypoints.web.portal import FormDep, Portal, PortalDep, SignedInDep, subscriber_scope
from topup.entrypoints.web.rendering import redirect
from topup.entrypoints.web.visitor import visitor_id
from topup.entrypoints.web.words import words_of
from topup.services import bundles, idempotency, lines, quotes
from topup.services.bundles import BundleFilter
from topup.services.ports import StoredResponse

router = APIRouter()
# What the filters offer (a select each, so every value is one we know): GB, minutes, AZN, days.
DATA_GB = ("1", "3", "5", "10", "25")
MINUTES = ("50", "100", "250", "500")
PRICE_AZN = ("2", "5", "10", "20", "30")
VALIDITY_DAYS = ("1", "7", "14", "30")
COMPARE_MAX = 4
KB_PER_GB = 1_000 * KB_PER_MB
FilterQuery = Annotated[str, Query(max_length=10)]


@dataclass(frozen=True, slots=True)
class Filters:
    data: str = ""
    minutes: str = ""
    price: str = ""
    validity: str = ""
    sort: str = "price"


def _wanted(filters: Filters, problems: Problems, refusal: str) -> BundleFilter:
    """The filter the selects ask for; a value no select offers is shown as a problem and ignored."""

    def pick(name: str, value: str, allowed: tuple[str, ...]) -> int | None:
        if not value:
            return None
        if value not in allowed:
            problems.add(name, refusal)
            return None
        return int(value)

    data, minutes = pick("data", filters.data, DATA_GB), pick("minutes", filters.minutes, MINUTES)
    price, validity = pick("price", filters.price, PRICE_AZN), pick("validity", filters.validity, VALIDITY_DAYS)
    return BundleFilter(
        data_kb_min=None if data is None else data * KB_PER_GB,
        voice_seconds_min=None if minutes is None else minutes * 60,
        price_qepik_max=None if price is None else price * QEPIK_PER_MANAT,
        validity_days_min=validity,
    )


@router.get("/account/bundles", response_class=HTMLResponse)
def browse(
    request: Request,
    portal: PortalDep,
    session: SignedInDep,
    data: FilterQuery = "",
    minutes: FilterQuery = "",
    price: FilterQuery = "",
    validity: FilterQuery = "",
    sort: FilterQuery = "price",
) -> Response:
    words, problems = words_of(request), Problems()
    filters = Filters(data, minutes, price, validity, sort)
    wanted = _wanted(filters, problems, messages.code_text("choice_invalid", words.translate))
    application = portal.application
    line = lines.get_line(application.uow(), number=session.msisdn)
    try:
        found = bundles.find_bundles(application.uow(), operator=line.operator, wanted=wanted, sort=sort)
    except DomainError as error:
        words.add(problems, error, field="sort")
        found = bundles.find_bundles(application.uow(), operator=line.operator, wanted=wanted)
    return portal.pages.render(
        request,
        "bundles.html",
        found=found,
        filters=filters,
        problems=problems,
        options={"data": DATA_GB, "minutes": MINUTES, "price": PRICE_AZN, "validity": VALIDITY_DAYS},
        sorts=bundles.BUNDLE_SORTS,
        compare_max=COMPARE_MAX,
    )


@router.get("/account/bundles/compare", response_class=HTMLResponse)
def compare(
    request: Request,
    portal: PortalDep,
    session: SignedInDep,
    code: Annotated[list[str] | None, Query(max_length=COMPARE_MAX * 2)] = None,
) -> Response:
    offered = {bundle.code: bundle for bundle in _line_bundles(portal, session)}
    chosen = [offered[c] for c in dict.fromkeys(code or []) if c in offered][:COMPARE_MAX]
    return portal.pages.render(request, "compare.html", chosen=chosen, compare_max=COMPARE_MAX)


@router.get("/account/bundles/{code}", response_class=HTMLResponse)
def bundle_page(code: str, request: Request, portal: PortalDep, session: SignedInDep) -> Response:
    return _bundle_page(request, portal, session, _bundle(portal, session, code), Problems())


@router.post("/account/bundles/{code}/buy", response_class=HTMLResponse)
def buy_from_balance(code: str, request: Request, portal: PortalDep, session: SignedInDep, form: FormDep) -> Response:
    bundle = _bundle(portal, session, code)
    application = portal.application
    words, problems = words_of(request), Problems()
    try:
        key = idempotency.idempotent_request(
            subscriber_scope(session),
            form.get("form_token") or None,
            "POST",
            request.url.path,
            json.dumps({"bundle": bundle.code}).encode(),
        )
        uow = application.uow()

        def operation() -> StoredResponse:
            record = bundles.buy_bundle(
                uow,
                application.clock,
                application.codes,
                number=session.msisdn,
                bundle_code=bundle.code,
                channel="portal",
            )
            return StoredResponse(201, record.id)

        stored, _replayed = idempotency.run_once(uow, application.clock, key, operation)
    except DomainError as error:
        words.add(problems, error)
        return _bundle_page(request, portal, session, bundle, problems, status=422)
    return redirect(f"/account/receipts/{stored.body}?bought=1")


@router.post("/account/bundles/{code}/card", response_class=HTMLResponse)
def buy_by_card(code: str, request: Request, portal: PortalDep, session: SignedInDep, form: FormDep) -> Response:
    """Price the bundle (a quote) and go to the checkout to pay it by card or wallet."""
    bundle = _bundle(portal, session, code)
    application = portal.application
    try:
        quote = quotes.quote(
            application.uow(),
            application.clock,
            number=session.msisdn,
            product_type=ProductType.BUNDLE,
            bundle_code=bundle.code,
            lock_seconds=application.settings.quote_lock_seconds,
        )
    except DomainError as error:
        problems = Problems()
        words_of(request).add(problems, error)
        return _bundle_page(request, portal, session, bundle, problems, status=422)
    return redirect(f"/checkout/{portal.signer.quote_reference(visitor_id(request), quote.id)}")


def _line_bundles(portal: Portal, session: WebSession) -> list[Bundle]:
    line = lines.get_line(portal.application.uow(), number=session.msisdn)
    return bundles.list_bundles(portal.application.uow(), operator=line.operator)


def _bundle(portal: Portal, session: WebSession, code: str) -> Bundle:
    """A bundle of the subscriber's own operator; any other code is not found."""
    for bundle in _line_bundles(portal, session):
        if bundle.code == code:
            return bundle
    raise PortalRefusal(NOT_FOUND, 404)


def _bundle_page(
    request: Request, portal: Portal, session: WebSession, bundle: Bundle, problems: Problems, *, status: int = 200
) -> Response:
    balance = lines.balance(portal.application.uow(), portal.application.clock, number=session.msisdn)
    return portal.pages.render(
        request,
        "bundle.html",
        status=status,
        bundle=bundle,
        balance=balance,
        problems=problems,
        form_token=secrets.token_hex(16),
    )
