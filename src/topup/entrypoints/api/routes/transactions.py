"""A transaction and its receipt."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse

from topup.adapters.receipts.html import render_receipt_html
from topup.adapters.receipts.pdf import render_receipt_pdf
from topup.domain.money import format_amount
from topup.domain.numbers import Msisdn
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AppDep, CallerDep
from topup.services import history

router = APIRouter(tags=["transactions"])


@router.get("/transactions/{transaction_id}", summary="One transaction")
def get_transaction(transaction_id: str, application: AppDep, _caller: CallerDep) -> dict[str, Any]:
    return serialise.transaction(history.receipt(application.uow(), transaction_id=transaction_id).record)


@router.get(
    "/transactions/{transaction_id}/receipt",
    summary="The receipt, as HTML (default) or PDF",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}, "application/pdf": {}}}},
)
def get_receipt(
    transaction_id: str,
    application: AppDep,
    _caller: CallerDep,
    format: Annotated[Literal["html", "pdf"], Query()] = "html",
) -> Response:
    receipt = history.receipt(application.uow(), transaction_id=transaction_id)
    if format == "pdf":
        return Response(
            render_receipt_pdf(receipt),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="receipt-{transaction_id}.pdf"'},
        )
    return HTMLResponse(render_receipt_html(receipt))


@router.get("/receipts/verify", summary="Is this receipt genuine? Public: no API key needed")
def verify_receipt(application: AppDep, code: Annotated[str, Query(min_length=1, max_length=32)]) -> dict[str, Any]:
    record = history.verify_receipt(application.uow(), code=code)
    return {
        "genuine": True,
        "verification_code": record.verification_code,
        "kind": record.kind.value,
        "msisdn": Msisdn(record.msisdn).masked,
        "operator": record.operator,
        "amount": {"amount": format_amount(record.amount_qepik), "currency": "AZN"},
        "created_at": record.created_at.isoformat(),
    }
