"""The signed-in subscriber's dashboard: balance and validity, what is left of each bundle, 30 days of usage."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from topup.domain.ledger import Unit
from topup.entrypoints.web.chart import usage_chart
from topup.entrypoints.web.portal import PortalDep, SignedInDep
from topup.services import dashboard

router = APIRouter()
UNIT_ORDER = (Unit.DATA_KB, Unit.VOICE_SECONDS, Unit.SMS)


@router.get("/account", response_class=HTMLResponse)
def overview(request: Request, portal: PortalDep, session: SignedInDep) -> Response:
    application = portal.application
    seen = dashboard.overview(application.uow(), application.clock, number=session.msisdn)
    return portal.pages.render(
        request,
        "account.html",
        seen=seen,
        chart=usage_chart(seen.usage),
        units=UNIT_ORDER,
        now=application.clock.now(),
    )
