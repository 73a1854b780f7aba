"""Online charging for the operator's network (credit-control style; staff keys): sessions that reserve, report
and end, and single SMS events. Request numbers make updates and terminations idempotent (a repeat gets the
same answer), so those two need no Idempotency-Key; opening a session and an SMS event do, like every other
POST that moves value."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from topup.domain.money import format_amount
from topup.entrypoints.api.deps import AdminDep, AppDep, IdempotencyKey
from topup.entrypoints.api.idempotent import respond_once
from topup.entrypoints.api.schemas import ChargingEnd, ChargingEvent, ChargingUpdate, NewChargingSession
from topup.services import charging
from topup.services.ports import UnitOfWork

router = APIRouter(tags=["charging"])


def _shown(answer: dict[str, Any]) -> dict[str, Any]:
    shown = {key: value for key, value in answer.items() if key != "charged_qepik"}
    shown["charged"] = {"amount": format_amount(answer["charged_qepik"]), "currency": "AZN"}
    return shown


@router.post("/charging/sessions", status_code=201, summary="Open a charging session: reserve units (request 0)")
def open_session(
    request: Request,
    body: NewChargingSession,
    application: AppDep,
    caller: AdminDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        answer = charging.open_session(
            uow,
            application.charging,
            number=body.msisdn,
            service=charging.parse_service(body.service),
            requested=body.requested_units,
            roaming=body.roaming,
        )
        return 201, _shown(answer)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)


@router.get("/charging/sessions/{session_id}", summary="A charging session: granted, used, charged")
def get_session(session_id: str, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    return _shown(charging.get_session(application.uow(), session_id=session_id))


@router.post("/charging/sessions/{session_id}/update", summary="Report usage and ask for more")
def update_session(session_id: str, body: ChargingUpdate, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    answer = charging.update_session(
        application.uow(),
        application.charging,
        session_id=session_id,
        request_number=body.request_number,
        used=body.used_units,
        requested=body.requested_units,
    )
    return _shown(answer)


@router.post("/charging/sessions/{session_id}/terminate", summary="The final report: charge what was used")
def terminate_session(session_id: str, body: ChargingEnd, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    answer = charging.terminate_session(
        application.uow(),
        application.charging,
        session_id=session_id,
        request_number=body.request_number,
        used=body.used_units,
    )
    return _shown(answer)


@router.post("/charging/events", status_code=201, summary="Charge a single event (an SMS): all or nothing")
def charge_event(
    request: Request, body: ChargingEvent, application: AppDep, caller: AdminDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        answer = charging.charge_event(
            uow, application.charging, number=body.msisdn, units=body.units, roaming=body.roaming
        )
        return 201, _shown(answer)

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)
