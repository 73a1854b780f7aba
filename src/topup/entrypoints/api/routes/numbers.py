"""Number lookup and the ported-numbers table."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AdminDep, AppDep, CallerDep, IdempotencyKey
from topup.entrypoints.api.idempotent import respond_once
from topup.entrypoints.api.schemas import NewPort
from topup.services import numbers
from topup.services.ports import UnitOfWork

router = APIRouter(tags=["numbers"])


@router.get("/lookup", summary="Normalise a number and find its operator")
def look_up(application: AppDep, _caller: CallerDep, number: Annotated[str, Query(max_length=64)]) -> dict[str, Any]:
    return serialise.number_info(numbers.look_up(application.uow(), number))


@router.post("/ports", status_code=201, summary="Record that a number was ported to another operator (admin)")
def add_port(
    request: Request, body: NewPort, application: AppDep, caller: AdminDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        info = numbers.add_port(uow, application.clock, number=body.msisdn, operator=body.operator)
        return 201, serialise.number_info(info)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)


@router.delete("/ports/{msisdn}", summary="Forget a port: the prefix decides again (admin)")
def remove_port(msisdn: str, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    return serialise.number_info(numbers.remove_port(application.uow(), application.clock, number=msisdn))


@router.get("/ports", summary="Ported numbers (admin)")
def list_ports(application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    rows = numbers.list_ports(application.uow())
    return {
        "items": [
            {"msisdn": m.e164, "operator": operator, "created_at": created_at.isoformat()}
            for m, operator, created_at in rows
        ]
    }
