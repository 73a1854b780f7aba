"""The callback a USSD gateway calls for each step of a session (Africa's Talking's convention: a form POST of
sessionId, serviceCode, phoneNumber and text; the answer is "CON ..." or "END ..." as text/plain)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import PlainTextResponse

from topup.entrypoints.api.deps import AppDep, UssdGatewayDep
from topup.services import ussd

router = APIRouter(tags=["ussd"])


@router.post("/ussd", response_class=PlainTextResponse, summary="A step of a USSD session (the gateway's callback)")
def step(
    application: AppDep,
    _gateway: UssdGatewayDep,
    session_id: Annotated[str, Form(alias="sessionId", max_length=100)],
    service_code: Annotated[str, Form(alias="serviceCode", max_length=40)],
    phone_number: Annotated[str, Form(alias="phoneNumber", max_length=32)],
    text: Annotated[str, Form(max_length=200)] = "",
    network_code: Annotated[str | None, Form(alias="networkCode", max_length=10)] = None,
) -> PlainTextResponse:
    del network_code  # the line's operator comes from our own records, not from the gateway
    screen = ussd.answer(
        application.uow(),
        application.ussd,
        session_id=session_id,
        number=phone_number,
        service_code=service_code,
        typed=text,
    )
    return PlainTextResponse(screen.render())
