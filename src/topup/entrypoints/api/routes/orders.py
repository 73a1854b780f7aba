"""Orders: place (card, Google Pay, PayPal, WebMoney, GoldenPay), follow, cancel, refund; and the pages the
customer's browser comes back to from 3-D Secure, wallets and the Google Pay sheet."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from topup.bootstrap import Application
from topup.domain.errors import InvalidInput
from topup.domain.money import parse_amount
from topup.domain.orders import Order, OrderState, PaymentMethod
from topup.domain.quotes import ProductType
from topup.entrypoints.api import pages, serialise
from topup.entrypoints.api.deps import AdminDep, AppDep, CallerDep, IdempotencyKey, scope_of
from topup.entrypoints.api.idempotent import respond_once, respond_saga_once
from topup.entrypoints.api.schemas import (
    CardPaymentInput,
    NewOrder,
    PageLanguage,
    SavedCardPaymentInput,
    TopUpProduct,
    WalletPaymentInput,
)
from topup.services import orders, reconciliation
from topup.services.payments import CardDetails
from topup.services.ports import ApiKeyRecord, UnitOfWork

router = APIRouter(tags=["orders"])


@router.post(
    "/orders",
    status_code=201,
    summary="Order a top-up or a bundle for any line; pay by card, wallet (PayPal, WebMoney, Google Pay) or GoldenPay",
)
def place_order(
    request: Request, body: NewOrder, application: AppDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> Response:
    base_url = application.settings.public_base_url
    order_id = uuid.uuid4().hex

    def start() -> tuple[int, dict[str, Any]]:
        order = _place(application, caller, body, order_id)
        return 201, serialise.order(order, base_url=base_url)

    def current(existing_id: str) -> tuple[int, dict[str, Any]] | None:
        try:
            order = orders.get_order(application.uow(), order_id=existing_id)
        except orders.OrderNotFound:
            return None
        return 201, serialise.order(order, base_url=base_url)

    return respond_saga_once(
        request,
        application,
        caller,
        idempotency_key,
        body.fingerprint_body(),
        resource_id=order_id,
        start=start,
        current=current,
    )


def return_addresses(base_url: str) -> orders.ReturnAddresses:
    """Our pages the customer's browser comes back to from each provider ("{order_id}" filled in per order)."""
    order_url = f"{base_url}/v1/orders/{{order_id}}"
    return orders.ReturnAddresses(
        return_url=f"{order_url}/return",
        cancel_url=f"{order_url}/cancelled",
        pay_url=f"{order_url}/pay",
        google_pay_url=f"{order_url}/google-pay",
    )


def _place(application: Application, caller: ApiKeyRecord, body: NewOrder, order_id: str) -> Order:
    product = body.product
    wanted = orders.OrderRequest(
        scope=caller.id,
        number=body.msisdn,
        product_type=ProductType(product.type),
        amount_qepik=parse_amount(product.amount) if isinstance(product, TopUpProduct) else None,
        bundle_code=None if isinstance(product, TopUpProduct) else product.code,
        currency=body.currency,
        quote_id=body.quote_id,
        order_id=order_id,
    )
    payment = body.payment
    addresses = return_addresses(application.settings.public_base_url)
    uow, saga = application.uow(), application.saga
    if isinstance(payment, CardPaymentInput):
        card = payment.card
        details = CardDetails(card.number, card.expiry_month, card.expiry_year, card.cvc)
        return orders.place_card_order(uow, saga, wanted, card=details, return_url=addresses.return_url)
    if isinstance(payment, SavedCardPaymentInput):
        return orders.place_saved_card_order(
            uow, saga, wanted, payment_method_id=payment.payment_method_id, card_scope=scope_of(caller)
        )
    if isinstance(payment, WalletPaymentInput) and payment.token is not None:
        if payment.wallet != "googlepay":
            raise InvalidInput(
                "Only Google Pay takes a token; PayPal and WebMoney are approved at the wallet.", field="payment.token"
            )
        return orders.place_google_pay_order(uow, saga, wanted, token=payment.token, return_url=addresses.return_url)
    method = PaymentMethod(payment.wallet) if isinstance(payment, WalletPaymentInput) else PaymentMethod.GOLDENPAY
    return orders.place_redirect_order(uow, saga, wanted, method=method, addresses=addresses, language=payment.language)


@router.get("/orders/{order_id}", summary="An order: status, payment (brand and last four), delivery, receipt")
def get_order(order_id: str, application: AppDep, caller: CallerDep) -> dict[str, Any]:
    order = orders.get_order(application.uow(), order_id=order_id, scope=scope_of(caller))
    return serialise.order(order, base_url=application.settings.public_base_url)


@router.get("/orders", summary="Orders, newest first")
def list_orders(
    application: AppDep,
    caller: CallerDep,
    msisdn: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    created_from: Annotated[datetime | None, Query(alias="from")] = None,
    created_to: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=orders.LIST_LIMIT_MAX)] = 50,
) -> dict[str, Any]:
    found = orders.list_orders(
        application.uow(),
        scope=scope_of(caller),
        number=msisdn,
        state=status,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
    )
    return {"items": [serialise.order(o, base_url=application.settings.public_base_url) for o in found]}


@router.post("/orders/{order_id}/cancel", summary="Cancel an order that is not paid yet")
def cancel_order(
    order_id: str, request: Request, application: AppDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        order = orders.cancel(uow, application.saga, order_id=order_id, scope=scope_of(caller))
        return 200, serialise.order(order, base_url=application.settings.public_base_url)

    return respond_once(request, application, caller, idempotency_key, "", operation)


@router.post("/orders/{order_id}/refund", summary="Refund a fulfilled order (admin)")
def refund_order(
    order_id: str, request: Request, application: AppDep, caller: AdminDep, idempotency_key: IdempotencyKey = None
) -> Response:
    base_url = application.settings.public_base_url

    def start() -> tuple[int, dict[str, Any]]:
        return 200, serialise.order(
            orders.refund(application.uow(), application.saga, order_id=order_id), base_url=base_url
        )

    def current(existing_id: str) -> tuple[int, dict[str, Any]] | None:
        return 200, serialise.order(orders.get_order(application.uow(), order_id=existing_id), base_url=base_url)

    return respond_saga_once(
        request, application, caller, idempotency_key, "", resource_id=order_id, start=start, current=current
    )


@router.get("/reconciliation", summary="Payments captured against value delivered for one Baku day (admin)")
def reconcile(application: AppDep, _caller: AdminDep, day: Annotated[date, Query(alias="date")]) -> dict[str, Any]:
    return serialise.reconciliation(reconciliation.reconcile(application.uow(), application.saga, day=day))


@router.get(
    "/orders/{order_id}/return",
    summary="Where the customer's browser comes back after 3-D Secure or a wallet (no API key: the id is the secret)",
    response_class=HTMLResponse,
)
def return_from_payment(order_id: str, application: AppDep) -> HTMLResponse:
    return result_page(orders.settle(application.uow(), application.saga, order_id=order_id, returning=True))


@router.get(
    "/orders/{order_id}/cancelled",
    summary="Where the customer's browser comes back after giving up at a wallet (no API key)",
    response_class=HTMLResponse,
)
def cancelled_at_provider(order_id: str, application: AppDep) -> HTMLResponse:
    return result_page(orders.cancel_at_return(application.uow(), application.saga, order_id=order_id))


@router.get(
    "/orders/{order_id}/pay",
    summary="Sends the customer's browser on to a provider that takes a posted form (WebMoney; no API key)",
    response_class=HTMLResponse,
)
def pay_page(
    order_id: str, application: AppDep, language: Annotated[PageLanguage, Query(alias="lang")] = "en"
) -> HTMLResponse:
    form = orders.payment_form(
        application.uow(),
        application.saga,
        order_id=order_id,
        addresses=return_addresses(application.settings.public_base_url),
        language=language,
    )
    return HTMLResponse(pages.post_form_page(form), headers=pages.PAGE_HEADERS)


@router.post(
    "/orders/{order_id}/google-pay",
    summary="The Google Pay sheet posts the payment token here (no API key)",
    response_class=HTMLResponse,
)
def google_pay_token(
    order_id: str, application: AppDep, token: Annotated[str, Form(min_length=1, max_length=16_000)]
) -> Response:
    base_url = application.settings.public_base_url
    order = orders.pay_with_google_pay(
        application.uow(),
        application.saga,
        order_id=order_id,
        token=token,
        return_url=return_addresses(base_url).return_url,
    )
    if order.state is OrderState.AWAITING_PAYMENT and order.redirect_url:
        return RedirectResponse(order.redirect_url, status_code=303)  # the bank asks for 3-D Secure
    return result_page(order)


def result_page(order: Order) -> HTMLResponse:
    return HTMLResponse(pages.result_page(order), headers=pages.PAGE_HEADERS)
