"""What payment providers call, or send the customer's browser to, without an API key: GoldenPay's return
and WebMoney's Result URL. Nothing a provider says is taken on trust: GoldenPay's return names only a
payment key, and the result is asked of GoldenPay; WebMoney's notification is checked for its signature,
purse, amount and order before anything moves.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from topup.domain.orders import PaymentMethod
from topup.entrypoints.api.deps import AppDep
from topup.entrypoints.api.routes.orders import result_page
from topup.services import orders
from topup.services.payments import NotificationRejected

router = APIRouter(tags=["payment providers"])
log = logging.getLogger(__name__)
NOTIFICATION_FIELDS_MAX = 64
NOTIFICATION_BYTES_MAX = 16_384


@router.get(
    "/payments/goldenpay/return",
    summary="GoldenPay sends the customer back here (the merchant dashboard's success and fail URL)",
    response_class=HTMLResponse,
)
def goldenpay_return(
    application: AppDep, payment_key: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
) -> HTMLResponse:
    order = orders.return_from_provider(
        application.uow(), application.saga, method=PaymentMethod.GOLDENPAY, provider_reference=payment_key
    )
    return result_page(order)


@router.post(
    "/payments/webmoney/result",
    summary="WebMoney's Result URL: the pre-request (answer YES to allow the payment) and the signed notification",
)
async def webmoney_result(request: Request, application: AppDep) -> Response:
    body = await request.body()
    if len(body) > NOTIFICATION_BYTES_MAX:
        return _rejected("too_large", "The notification is too large.", status_code=413)
    form = await request.form(max_fields=NOTIFICATION_FIELDS_MAX)
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    merchant = application.webmoney
    if merchant is None:
        return _rejected("payment_method_unavailable", "WebMoney is not set up on this server.", status_code=409)
    try:
        notification = merchant.read_notification(fields)
        # The order's lookup and saga do blocking database and provider work: off the event loop.
        await run_in_threadpool(
            orders.record_notification,
            application.uow(),
            application.saga,
            method=PaymentMethod.WEBMONEY,
            result=notification.result,
            amount_minor=notification.amount_minor,
            currency=notification.currency,
            checking_only=notification.prerequest,
        )
    except NotificationRejected as rejected:
        log.warning("WebMoney notification rejected: %s", rejected.code)
        if fields.get("LMI_PREREQUEST") == "1":  # WebMoney shows the payer whatever is not "YES"
            return PlainTextResponse(f"NO: {rejected}", status_code=200)
        return _rejected(rejected.code, str(rejected), status_code=404 if rejected.code == "unknown_order" else 400)
    return PlainTextResponse("YES" if notification.prerequest else "OK")


def _rejected(code: str, message: str, *, status_code: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": {}}}, status_code=status_code)
