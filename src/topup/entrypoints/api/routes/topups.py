"""Top-ups."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from topup.domain.money import check_currency, parse_amount
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AppDep, CallerDep, IdempotencyKey
from topup.entrypoints.api.idempotent import respond_once
from topup.entrypoints.api.schemas import NewTopUp
from topup.services import topups
from topup.services.ports import UnitOfWork

router = APIRouter(tags=["top-ups"])


@router.post("/topups", status_code=201, summary="Top up a line's main balance")
def create_top_up(
    request: Request, body: NewTopUp, application: AppDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> Response:
    check_currency(body.currency)
    amount_qepik = parse_amount(body.amount)

    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        record = topups.top_up(
            uow,
            application.clock,
            application.codes,
            number=body.msisdn,
            amount_qepik=amount_qepik,
            channel="api",
        )
        return 201, serialise.transaction(record)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)
