"""The checkout page: a quote (top-up or bundle) and how to pay it — a card (3-D Secure when the bank asks), a
saved card, Google Pay, PayPal, WebMoney or GoldenPay.

Paying is idempotent per form: each page carries a fresh token (hidden field) used as the idempotency key, so a
form sent twice (a double tap, a reload of the POST) places one order and charges once; the second answer is
the first order as it stands. The key is claimed and committed before the provider is called, like the API's
`POST /v1/orders` (`services.idempotency.run_saga_once`).
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from topup.domain.errors import DomainError, IdempotencyKeyReused
from topup.domain.fx import QuoteExpired
from topup.domain.orders import Order, OrderState, PaymentMethod
from topup.domain.quotes import ProductType, Quote
from topup.entrypoints.web.cards import card_from
from topup.entrypoints.web.forms import Form, PortalRefusal, Problems
from topup.entrypoints.web.messages import NOT_FOUND
from topup.entrypoints.web.portal import (
    ANONYMOUS_SCOPE,
    FormDep,
    Portal,
    PortalDep,
    SessionDep,
    idempotency_scope,
    subscriber_scope,
)
from topup.entrypoints.web.rendering import redirect
from topup.entrypoints.web.routes.orders import order_url, return_addresses
from topup.entrypoints.web.visitor import visitor_id
from topup.entrypoints.web.words import Words, words_of
from topup.services import checkout, idempotency, orders, payment_methods, quotes
from topup.services.catalogue import current_catalogue
from topup.services.idempotency import IdempotentRequestInProgress
from topup.services.payments import CardDetails
from topup.services.ports import StoredResponse

router = APIRouter()
SAVED_PREFIX = "saved:"
PROVIDER_LANGUAGES = {"az": "az", "en": "en", "ru": "ru", "zh": "zh"}


@dataclass(frozen=True, slots=True)
class Chosen:
    method: PaymentMethod
    saved_card_id: str | None = None


def _quote(request: Request, portal: Portal, reference: str) -> Quote:
    """The quote behind a reference this visitor was given; anything else is not found."""
    quote_id = portal.signer.quote_of(visitor_id(request), reference)
    if quote_id is None:
        raise PortalRefusal(NOT_FOUND, 404)
    try:
        return quotes.get_quote(portal.application.uow(), quote_id=quote_id)
    except DomainError:
        raise PortalRefusal(NOT_FOUND, 404) from None


@router.get("/checkout/{reference}", response_class=HTMLResponse)
def checkout_page(
    reference: str,
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    notice: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    quote = _quote(request, portal, reference)
    problems = Problems()
    if notice == "quote_expired":
        words_of(request).add_code(problems, "", "quote_expired")
    return _page(request, portal, session, reference, quote, problems, chosen="card")


@router.post("/checkout/{reference}/currency", response_class=HTMLResponse)
def change_currency(reference: str, request: Request, portal: PortalDep, form: FormDep) -> Response:
    """The same product priced in another currency (PayPal has no AZN; GoldenPay has only AZN)."""
    quote = _quote(request, portal, reference)
    currency = form.get("currency")
    if currency not in checkout.currencies_offered(portal.application.uow()):
        raise PortalRefusal("choice_invalid", 422)
    return redirect(_requote(request, portal, quote, currency=currency))


@router.post("/checkout/{reference}/refresh", response_class=HTMLResponse)
def refresh(reference: str, request: Request, portal: PortalDep, form: FormDep) -> Response:
    """A fresh price for an expired quote (the exchange rate may have moved)."""
    quote = _quote(request, portal, reference)
    return redirect(_requote(request, portal, quote, currency=quote.currency))


@router.post("/checkout/{reference}", response_class=HTMLResponse)
def pay(reference: str, request: Request, portal: PortalDep, session: SessionDep, form: FormDep) -> Response:
    quote = _quote(request, portal, reference)
    words = words_of(request)
    problems = Problems()
    chosen = _chosen(form, words, problems)
    if chosen is not None and chosen.saved_card_id is not None and session is None:
        words.add_code(problems, "saved_card", "payment_method_not_found")  # only a subscriber has saved cards
    typed_card = chosen is not None and chosen.method is PaymentMethod.CARD and chosen.saved_card_id is None
    card = card_from(form, words, problems) if typed_card else None
    if problems or chosen is None:
        return _page(request, portal, session, reference, quote, problems, chosen=form.get("method"), status=422)
    try:
        order = _place_once(request, portal, session, quote, chosen, card, form)
    except QuoteExpired:
        return redirect(_requote(request, portal, quote, currency=quote.currency) + "?notice=quote_expired")
    except IdempotentRequestInProgress as error:
        words.add(problems, error)
        return _page(request, portal, session, reference, quote, problems, chosen=form.get("method"), status=409)
    except DomainError as error:
        words.add(problems, error, field="method" if not isinstance(error, IdempotencyKeyReused) else None)
        return _page(request, portal, session, reference, quote, problems, chosen=form.get("method"), status=422)
    return redirect(destination(portal, order))


def destination(portal: Portal, order: Order) -> str:
    """Where the browser goes once the order is placed: the provider's page when the customer must act there
    (3-D Secure, a wallet, GoldenPay, our WebMoney form page), else the order's result page."""
    if order.state is OrderState.AWAITING_PAYMENT and order.redirect_url:
        return order.redirect_url
    return order_url(portal, order.id)


def _place_once(
    request: Request,
    portal: Portal,
    session: SessionDep,
    quote: Quote,
    chosen: Chosen,
    card: CardDetails | None,
    form: Form,
) -> Order:
    application = portal.application
    order_id = uuid.uuid4().hex
    # The body as the idempotency check sees it: never the card number or the code, only what may be kept.
    fingerprint = json.dumps(
        {
            "quote": quote.id,
            "method": chosen.method.value,
            "saved": chosen.saved_card_id,
            "card": None if card is None else [card.number[-4:], card.expiry_month, card.expiry_year],
        },
        sort_keys=True,
    )
    key = idempotency.idempotent_request(
        idempotency_scope(visitor_id(request), session),
        form.get("form_token") or None,
        "POST",
        request.url.path,
        fingerprint.encode(),
    )

    def start() -> StoredResponse:
        placed = _place(request, portal, session, quote, chosen, card, order_id)
        return StoredResponse(201, placed.id)

    def current(existing_id: str) -> StoredResponse | None:
        try:
            return StoredResponse(201, orders.get_order(application.uow(), order_id=existing_id).id)
        except orders.OrderNotFound:
            return None

    stored, _replayed = idempotency.run_saga_once(
        application.uow(), application.clock, key, resource_id=order_id, start=start, current=current
    )
    return orders.get_order(application.uow(), order_id=stored.body)


def _place(
    request: Request,
    portal: Portal,
    session: SessionDep,
    quote: Quote,
    chosen: Chosen,
    card: CardDetails | None,
    order_id: str,
) -> Order:
    application = portal.application
    wanted = orders.OrderRequest(
        scope=subscriber_scope(session) if session is not None else ANONYMOUS_SCOPE,
        number=quote.msisdn,
        product_type=quote.product_type,
        amount_qepik=quote.amount_qepik if quote.product_type is ProductType.TOPUP else None,
        bundle_code=quote.bundle_code,
        currency=quote.currency,
        quote_id=quote.id,
        order_id=order_id,
    )
    addresses = return_addresses(portal, order_id)
    uow, saga = application.uow(), application.saga
    if chosen.saved_card_id is not None:
        assert session is not None  # checked by `pay`
        return orders.place_saved_card_order(
            uow, saga, wanted, payment_method_id=chosen.saved_card_id, card_scope=subscriber_scope(session)
        )
    if chosen.method is PaymentMethod.CARD:
        assert card is not None
        return orders.place_card_order(uow, saga, wanted, card=card, return_url=addresses.return_url)
    language = PROVIDER_LANGUAGES[words_of(request).language]
    return orders.place_redirect_order(uow, saga, wanted, method=chosen.method, addresses=addresses, language=language)


def _chosen(form: Form, words: Words, problems: Problems) -> Chosen | None:
    method = form.get("method")
    if method.startswith(SAVED_PREFIX):
        card_id = method.removeprefix(SAVED_PREFIX)
        if not card_id.isalnum() or len(card_id) > 64:
            words.add_code(problems, "saved_card", "payment_method_not_found")
            return None
        return Chosen(PaymentMethod.CARD, card_id)
    try:
        return Chosen(PaymentMethod(method))
    except ValueError:
        words.add_code(problems, "method", "choice_invalid")
        return None


def _requote(request: Request, portal: Portal, quote: Quote, *, currency: str) -> str:
    application = portal.application
    fresh = quotes.quote(
        application.uow(),
        application.clock,
        number=quote.msisdn,
        product_type=quote.product_type,
        amount_qepik=quote.amount_qepik if quote.product_type is ProductType.TOPUP else None,
        bundle_code=quote.bundle_code,
        currency=currency,
        lock_seconds=application.settings.quote_lock_seconds,
    )
    return f"/checkout/{portal.signer.quote_reference(visitor_id(request), fresh.id)}"


def _page(
    request: Request,
    portal: Portal,
    session: SessionDep,
    reference: str,
    quote: Quote,
    problems: Problems,
    *,
    chosen: str,
    status: int = 200,
) -> Response:
    application = portal.application
    offered = checkout.currencies_offered(application.uow())
    choices = checkout.payment_choices(application.saga, currency=quote.currency)
    saved = []
    if session is not None and session.msisdn == quote.msisdn:
        saved = payment_methods.list_cards(application.uow(), number=quote.msisdn, scope=subscriber_scope(session))
    catalogue_bundle = None
    if quote.bundle_code:
        catalogue_bundle = current_catalogue(application.uow()).bundle(quote.bundle_code, operator=quote.operator)
    expired = application.clock.now() >= quote.expires_at
    return portal.pages.render(
        request,
        "checkout.html",
        status=status,
        quote=quote,
        bundle=catalogue_bundle,
        reference=reference,
        problems=problems,
        choices=choices,
        offered=offered,
        saved_cards=saved,
        chosen=chosen,
        expired=expired,
        form_token=secrets.token_hex(16),
        saved_prefix=SAVED_PREFIX,
        operator_name=_operator_name(portal, quote.operator),
    )


def _operator_name(portal: Portal, code: str) -> str:
    return current_catalogue(portal.application.uow()).operator(code).name
