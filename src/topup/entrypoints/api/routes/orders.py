"""Orders: pay by card (3-D Secure through the sandbox acquirer in development), follow, cancel."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from topup.domain.access import Role
from topup.domain.money import parse_amount
from topup.domain.quotes import ProductType
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AdminDep, AppDep, CallerDep, IdempotencyKey
from topup.entrypoints.api.idempotent import respond_once, respond_saga_once
from topup.entrypoints.api.schemas import NewOrder, TopUpProduct
from topup.services import orders, reconciliation
from topup.services.payments import CardDetails
from topup.services.ports import ApiKeyRecord, UnitOfWork

router = APIRouter(tags=["orders"])


def _scope(caller: ApiKeyRecord) -> str | None:
    """Staff see every order; an integrator sees its own."""
    return None if caller.role == Role.ADMIN else caller.id


@router.post("/orders", status_code=201, summary="Order a top-up or a bundle for any line and pay by card")
def place_order(
    request: Request, body: NewOrder, application: AppDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> Response:
    product = body.product
    card = body.payment.card
    base_url = application.settings.public_base_url

    order_id = uuid.uuid4().hex

    def start() -> tuple[int, dict[str, Any]]:
        order = orders.place_card_order(
            application.uow(),
            application.saga,
            scope=caller.id,
            number=body.msisdn,
            product_type=ProductType(product.type),
            amount_qepik=parse_amount(product.amount) if isinstance(product, TopUpProduct) else None,
            bundle_code=None if isinstance(product, TopUpProduct) else product.code,
            currency=body.currency,
            quote_id=body.quote_id,
            card=CardDetails(card.number, card.expiry_month, card.expiry_year, card.cvc),
            return_url=f"{base_url}/v1/orders/{{order_id}}/return",
            order_id=order_id,
        )
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


@router.get("/orders/{order_id}", summary="An order: status, payment (brand and last four), delivery, receipt")
def get_order(order_id: str, application: AppDep, caller: CallerDep) -> dict[str, Any]:
    order = orders.get_order(application.uow(), order_id=order_id, scope=_scope(caller))
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
        scope=_scope(caller),
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
        order = orders.cancel(uow, application.saga, order_id=order_id, scope=_scope(caller))
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
    summary="Where the customer's browser comes back after 3-D Secure (no API key: the order id is the secret)",
    response_class=HTMLResponse,
)
def return_from_payment(order_id: str, application: AppDep) -> HTMLResponse:
    order = orders.settle(application.uow(), application.saga, order_id=order_id)
    words = {
        "fulfilled": "Payment received — the line has been topped up.",
        "failed": "The payment did not go through; nothing was charged.",
        "cancelled": "The payment was cancelled; nothing was charged.",
    }.get(order.state.value, "We are confirming your payment; this page will show the result shortly.")
    return HTMLResponse(
        "<!doctype html><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
        f"<title>Topup order</title><h1>{escape(words)}</h1>"
        f"<p>Order <code>{escape(order.id)}</code>: <strong>{escape(order.state.value)}</strong></p>"
    )
