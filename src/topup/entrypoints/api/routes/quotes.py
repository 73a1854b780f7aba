"""Quotes before paying, and the exchange rates they lock."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from topup.domain.money import parse_amount
from topup.domain.quotes import ProductType
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AdminDep, AppDep, CallerDep, IdempotencyKey
from topup.entrypoints.api.idempotent import respond_once
from topup.entrypoints.api.schemas import NewQuote, NewRate, TopUpProduct
from topup.services import quotes
from topup.services.ports import UnitOfWork

router = APIRouter(tags=["quotes"])


@router.post("/quotes", status_code=201, summary="Price a top-up or a bundle, in AZN or another currency")
def create_quote(
    request: Request, body: NewQuote, application: AppDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> Response:
    product = body.product
    amount_qepik = parse_amount(product.amount) if isinstance(product, TopUpProduct) else None

    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        result = quotes.quote(
            uow,
            application.clock,
            number=body.msisdn,
            product_type=ProductType(product.type),
            amount_qepik=amount_qepik,
            bundle_code=None if isinstance(product, TopUpProduct) else product.code,
            currency=body.currency,
            lock_seconds=application.settings.quote_lock_seconds,
        )
        return 201, serialise.quote(result)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)


@router.get("/quotes/{quote_id}", summary="A quote")
def get_quote(quote_id: str, application: AppDep, _caller: CallerDep) -> dict[str, Any]:
    return serialise.quote(quotes.get_quote(application.uow(), quote_id=quote_id))


@router.get("/fx-rates", summary="Exchange rates in force")
def list_rates(application: AppDep, _caller: CallerDep) -> dict[str, Any]:
    return {"items": [serialise.fx_rate(r) for r in quotes.current_rates(application.uow())]}


@router.put("/fx-rates/{currency}", summary="Set a currency's rate: how many AZN one unit buys (admin)")
def set_rate(currency: str, body: NewRate, application: AppDep, caller: AdminDep) -> dict[str, Any]:
    rate = quotes.set_rate(
        application.uow(), application.clock, currency=currency, rate=body.rate, set_by=f"api:{caller.name}"
    )
    return serialise.fx_rate(rate)
