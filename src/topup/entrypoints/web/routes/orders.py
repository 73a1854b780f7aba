"""An order's pages: where the browser comes back from 3-D Secure, a wallet or GoldenPay; the result with its
receipt (view, print, PDF); the page that carries the customer on to WebMoney; the Google Pay sheet's token.

An order's pages open with its pass (a signature of its id, in every link we give for it) or, for a signed-in
subscriber, when the order is theirs. Anything else is "not found", whether the order exists or not.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from topup.adapters.receipts.content import receipt_content
from topup.adapters.receipts.html import render_receipt_html
from topup.adapters.receipts.pdf import render_receipt_pdf
from topup.domain.errors import DomainError
from topup.domain.orders import FINAL_STATES, Order, OrderState, PaymentMethod
from topup.domain.quotes import ProductType
from topup.entrypoints.api.routes.orders import result_page as api_result_page
from topup.entrypoints.web.forms import PortalRefusal, read_form
from topup.entrypoints.web.messages import NOT_FOUND
from topup.entrypoints.web.portal import Portal, PortalDep, SessionDep, subscriber_scope
from topup.entrypoints.web.rendering import HEADERS, redirect
from topup.entrypoints.web.words import words_of
from topup.services import history, orders
from topup.services.history import Receipt

router = APIRouter()
PassQuery = Annotated[str, Query(alias="pass", max_length=64)]
TOKEN_LENGTH_MAX = 16_000
PORTAL_SCOPE_PREFIX = "portal"
PRINT_HEADERS = {**HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


def order_url(portal: Portal, order_id: str, page: str = "") -> str:
    return f"/orders/{order_id}{page}?pass={portal.signer.order_pass(order_id)}"


def return_addresses(portal: Portal, order_id: str) -> orders.ReturnAddresses:
    """Our pages the provider sends this order's customer back to (the API's are `/v1/orders/…`)."""
    base = portal.base_url
    return orders.ReturnAddresses(
        return_url=base + order_url(portal, order_id, "/return"),
        cancel_url=base + order_url(portal, order_id, "/cancelled"),
        pay_url=base + order_url(portal, order_id, "/pay"),
        google_pay_url=base + order_url(portal, order_id, "/google-pay"),
    )


def visible_order(portal: Portal, order_id: str, order_pass: str, session: SessionDep) -> Order:
    try:
        order = orders.get_order(portal.application.uow(), order_id=order_id)
    except DomainError:
        raise PortalRefusal(NOT_FOUND, 404) from None
    if session is not None and order.scope == subscriber_scope(session):
        return order
    if (
        order.scope.startswith(PORTAL_SCOPE_PREFIX)
        and order_pass
        and portal.signer.valid("order", order_id, order_pass)
    ):
        return order
    raise PortalRefusal(NOT_FOUND, 404)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def result(
    order_id: str, request: Request, portal: PortalDep, session: SessionDep, order_pass: PassQuery = ""
) -> Response:
    order = visible_order(portal, order_id, order_pass, session)
    words = words_of(request)
    receipt = None
    if order.state is OrderState.FULFILLED and order.delivered_transaction_id:
        found = history.receipt(portal.application.uow(), transaction_id=order.delivered_transaction_id)
        receipt = receipt_content(replace(found, language=words.language))
    try_again = "/"
    if order.product_type == ProductType.TOPUP.value:
        try_again = f"/?{urlencode({'number': order.msisdn, 'amount': order.amount_qepik})}"
    elif order.bundle_code:
        try_again = f"/account/bundles/{order.bundle_code}"
    return portal.pages.render(
        request,
        "order.html",
        order=order,
        receipt=receipt,
        pending=order.state not in FINAL_STATES,
        reason=words.failure(order.failure_code) if order.state in (OrderState.FAILED, OrderState.CANCELLED) else None,
        try_again=try_again,
        links={
            "self": order_url(portal, order.id),
            "print": order_url(portal, order.id, "/receipt"),
            "pdf": order_url(portal, order.id, "/receipt.pdf"),
        },
    )


@router.get("/orders/{order_id}/return", response_class=HTMLResponse)
def back_from_provider(order_id: str, portal: PortalDep, session: SessionDep, order_pass: PassQuery = "") -> Response:
    visible_order(portal, order_id, order_pass, session)
    application = portal.application
    orders.settle(application.uow(), application.saga, order_id=order_id, returning=True)
    return redirect(order_url(portal, order_id))


@router.get("/orders/{order_id}/cancelled", response_class=HTMLResponse)
def cancelled_at_provider(
    order_id: str, portal: PortalDep, session: SessionDep, order_pass: PassQuery = ""
) -> Response:
    visible_order(portal, order_id, order_pass, session)
    application = portal.application
    orders.cancel_at_return(application.uow(), application.saga, order_id=order_id)
    return redirect(order_url(portal, order_id))


@router.get("/orders/{order_id}/pay", response_class=HTMLResponse)
def pay_at_provider(
    order_id: str, request: Request, portal: PortalDep, session: SessionDep, order_pass: PassQuery = ""
) -> Response:
    """WebMoney takes a posted form, not a link: this page posts it on (our script, or the visitor's button)."""
    order = visible_order(portal, order_id, order_pass, session)
    application = portal.application
    try:
        form = orders.payment_form(
            application.uow(),
            application.saga,
            order_id=order.id,
            addresses=return_addresses(portal, order.id),
            language=words_of(request).language,
        )
    except DomainError:
        return redirect(order_url(portal, order.id))  # nothing to pay any more: show where it stands
    return portal.pages.render(request, "provider_form.html", form=form, order=order)


@router.post("/orders/{order_id}/google-pay", response_class=HTMLResponse)
async def google_pay_token(order_id: str, request: Request, portal: PortalDep, order_pass: PassQuery = "") -> Response:
    """The Google Pay sheet posts the payment token here. Not our form, so no CSRF token: the order's pass is
    what lets it in, and a token only pays the order it was made for."""
    form = await read_form(request, value_length_max=TOKEN_LENGTH_MAX)
    order = await run_in_threadpool(visible_order, portal, order_id, order_pass, None)
    token = form.get("token")
    if not token or order.payment_method is not PaymentMethod.GOOGLE_PAY:
        raise PortalRefusal(NOT_FOUND, 404)
    application = portal.application
    paid = await run_in_threadpool(
        orders.pay_with_google_pay,
        application.uow(),
        application.saga,
        order_id=order.id,
        token=token,
        return_url=return_addresses(portal, order.id).return_url,
    )
    if paid.state is OrderState.AWAITING_PAYMENT and paid.redirect_url:
        return redirect(paid.redirect_url)  # the bank asks for 3-D Secure
    return redirect(order_url(portal, order.id))


def _order_receipt(portal: Portal, request: Request, order: Order) -> Receipt:
    if order.delivered_transaction_id is None:
        raise PortalRefusal(NOT_FOUND, 404)
    found = history.receipt(portal.application.uow(), transaction_id=order.delivered_transaction_id)
    return replace(found, language=words_of(request).language)


@router.get("/orders/{order_id}/receipt", response_class=HTMLResponse)
def order_receipt(
    order_id: str, request: Request, portal: PortalDep, session: SessionDep, order_pass: PassQuery = ""
) -> Response:
    """The receipt as a page of its own, made for printing."""
    receipt = _order_receipt(portal, request, visible_order(portal, order_id, order_pass, session))
    return receipt_page(portal, receipt)


@router.get("/orders/{order_id}/receipt.pdf")
def order_receipt_pdf(
    order_id: str, request: Request, portal: PortalDep, session: SessionDep, order_pass: PassQuery = ""
) -> Response:
    receipt = _order_receipt(portal, request, visible_order(portal, order_id, order_pass, session))
    return receipt_pdf(receipt)


def receipt_page(portal: Portal, receipt: Receipt) -> Response:
    code = receipt.record.verification_code
    text = render_receipt_html(receipt, verify_url=f"{portal.base_url}/verify?code={code}")
    return HTMLResponse(text, headers=PRINT_HEADERS)


def receipt_pdf(receipt: Receipt) -> Response:
    return Response(
        render_receipt_pdf(receipt),
        media_type="application/pdf",
        headers={
            **HEADERS,
            "Content-Disposition": f'attachment; filename="receipt-{receipt.record.id}.pdf"',
        },
    )


@router.get("/payments/goldenpay/return", response_class=HTMLResponse)
def goldenpay_return(
    portal: PortalDep, payment_key: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
) -> Response:
    """GoldenPay sends every payer to one address (its dashboard's setting): this one. A portal order goes on
    to its result page; an integrator's order gets the API's plain result page, as at `/v1/payments/…`."""
    application = portal.application
    try:
        order = orders.return_from_provider(
            application.uow(), application.saga, method=PaymentMethod.GOLDENPAY, provider_reference=payment_key
        )
    except DomainError:
        raise PortalRefusal(NOT_FOUND, 404) from None
    if order.scope.startswith(PORTAL_SCOPE_PREFIX):
        return redirect(order_url(portal, order.id))
    return api_result_page(order)
