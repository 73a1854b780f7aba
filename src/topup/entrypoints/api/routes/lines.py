"""Lines: provision, read, balance, bundles, history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from topup.domain.lines import LineType
from topup.domain.money import format_amount
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AdminDep, AppDep, CallerDep, IdempotencyKey
from topup.entrypoints.api.idempotent import respond_once
from topup.entrypoints.api.schemas import NewBundlePurchase, NewLine
from topup.services import bundles, charging, history, lines
from topup.services.history import PAGE_SIZE_MAX
from topup.services.ports import UnitOfWork

router = APIRouter(tags=["lines"])


@router.post("/lines", status_code=201, summary="Provision a line (admin)")
def provision(
    request: Request, body: NewLine, application: AppDep, caller: AdminDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        line = lines.provision_line(
            uow,
            application.clock,
            number=body.msisdn,
            line_type=LineType(body.type),
            iccid=body.iccid,
            language=body.language,
        )
        return 201, serialise.line(line)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)


@router.get("/lines/{msisdn}", summary="A line")
def get_line(msisdn: str, application: AppDep, _caller: CallerDep) -> dict[str, Any]:
    return serialise.line(lines.get_line(application.uow(), number=msisdn))


@router.get("/lines/{msisdn}/balance", summary="Main balance, validity and live bundle buckets")
def get_balance(msisdn: str, application: AppDep, _caller: CallerDep) -> dict[str, Any]:
    return serialise.balance(lines.balance(application.uow(), application.clock, number=msisdn))


@router.get("/lines/{msisdn}/usage", summary="Data, minutes and SMS used and money charged, per Baku day")
def get_usage(
    msisdn: str,
    application: AppDep,
    _caller: CallerDep,
    days: Annotated[int, Query(ge=1, le=charging.USAGE_DAYS_MAX)] = 30,
) -> dict[str, Any]:
    used = charging.usage_by_day(application.uow(), application.clock, number=msisdn, days=days)
    return {
        "days": [
            {
                "date": day.day.isoformat(),
                "data_kb": day.data_kb,
                "voice_seconds": day.voice_seconds,
                "sms": day.sms,
                "charged": {"amount": format_amount(day.charged_qepik), "currency": "AZN"},
            }
            for day in used
        ]
    }


@router.post("/lines/{msisdn}/bundles", status_code=201, summary="Buy a bundle from the main balance")
def buy_bundle(
    msisdn: str,
    request: Request,
    body: NewBundlePurchase,
    application: AppDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        record = bundles.buy_bundle(
            uow, application.clock, application.codes, number=msisdn, bundle_code=body.bundle, channel="api"
        )
        return 201, serialise.transaction(record)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)


@router.get("/lines/{msisdn}/transactions", summary="The line's transactions, newest first")
def list_transactions(
    msisdn: str,
    application: AppDep,
    _caller: CallerDep,
    kind: Annotated[list[str] | None, Query(description="topup, bundle_purchase")] = None,
    created_from: Annotated[datetime | None, Query(alias="from")] = None,
    created_to: Annotated[datetime | None, Query(alias="to")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = 50,
) -> dict[str, Any]:
    page = history.transactions(
        application.uow(),
        number=msisdn,
        kinds=kind,
        created_from=created_from,
        created_to=created_to,
        cursor=cursor,
        limit=limit,
    )
    return {"items": [serialise.transaction(r) for r in page.items], "next_cursor": page.next_cursor}
