"""Top up with a scratch card: the 13-digit code under the silver layer, for one's own number or anyone's.

Signed in or not, like the quick top-up. The form carries a fresh token used as the idempotency key, so a form
sent twice (a double tap, a reload of the POST) redeems once and both answers land on the same receipt; a card
already used by another form is "already used", never a second top-up. The service counts wrong codes per
number (3 lock card top-ups for 24 hours) and redemptions per client address.

The receipt opens with a pass (a signature of the transaction's id) handed out only in the redirect after the
card was used, since the visitor may be anonymous or have topped up another number.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from topup.adapters.receipts.content import receipt_content
from topup.domain.errors import DomainError
from topup.entrypoints.web.forms import Form, PortalRefusal, Problems
from topup.entrypoints.web.messages import NOT_FOUND, REQUIRED
from topup.entrypoints.web.portal import FormDep, Portal, PortalDep, SessionDep, client_address, idempotency_scope
from topup.entrypoints.web.rendering import redirect
from topup.entrypoints.web.routes.orders import PassQuery, receipt_page, receipt_pdf
from topup.entrypoints.web.visitor import visitor_id
from topup.entrypoints.web.words import words_of
from topup.services import history, idempotency, vouchers
from topup.services.history import Receipt
from topup.services.ports import StoredResponse

router = APIRouter()
FIELD_LENGTH_MAX = 40
PORTAL_CHANNEL = "voucher"  # the transaction's channel, as on USSD and the API: a scratch card's top-up


@dataclass(frozen=True, slots=True)
class VoucherForm:
    pin: str = ""
    number: str = ""

    @classmethod
    def of(cls, form: Form) -> VoucherForm:
        return cls(form.get("pin")[:FIELD_LENGTH_MAX], form.get("number")[:FIELD_LENGTH_MAX])


@router.get("/voucher", response_class=HTMLResponse)
def voucher_form(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    number: Annotated[str, Query(max_length=FIELD_LENGTH_MAX)] = "",
) -> Response:
    typed = VoucherForm(number=number or (session.msisdn if session is not None else ""))
    return _page(request, portal, typed, Problems())


@router.post("/voucher", response_class=HTMLResponse)
def redeem(request: Request, portal: PortalDep, session: SessionDep, form: FormDep) -> Response:
    typed = VoucherForm.of(form)
    words, problems = words_of(request), Problems()
    if not typed.pin:
        words.add_code(problems, "pin", REQUIRED)
    if not typed.number:
        words.add_code(problems, "number", REQUIRED)
    if problems:
        return _page(request, portal, typed, problems, status=422)
    application = portal.application
    # What the key remembers of the request: a digest of the number and the code, never the code itself.
    fingerprint = application.vouchers.digests.digest("voucher-request", f"{typed.number}:{typed.pin}")
    try:
        key = idempotency.idempotent_request(
            idempotency_scope(visitor_id(request), session),
            form.get("form_token") or None,
            "POST",
            request.url.path,
            fingerprint.encode(),
        )

        def start() -> StoredResponse:
            record = vouchers.redeem(
                application.uow(),
                application.vouchers,
                pin=typed.pin,
                number=typed.number,
                client=f"portal:{client_address(request)}",
                channel=PORTAL_CHANNEL,
            )
            return StoredResponse(201, record.id)

        # Claimed and committed before redeeming (not one transaction): a wrong code's count must stand although
        # the answer is an error. A second send while the first still runs is told to wait.
        stored, _replayed = idempotency.run_saga_once(
            application.uow(),
            application.clock,
            key,
            resource_id="voucher-redemption",
            start=start,
            current=lambda _resource: None,
        )
    except DomainError as error:
        words.add(problems, error, field="pin")
        return _page(request, portal, typed, problems, status=422)
    transaction_id = stored.body
    return redirect(f"/voucher/receipts/{transaction_id}?pass={portal.signer.receipt_pass(transaction_id)}")


# The PDF's route comes first: "{transaction_id}" would also match "<id>.pdf".
@router.get("/voucher/receipts/{transaction_id}.pdf")
def receipt_download(transaction_id: str, request: Request, portal: PortalDep, pass_: PassQuery = "") -> Response:
    return receipt_pdf(_receipt(request, portal, transaction_id, pass_))


@router.get("/voucher/receipts/{transaction_id}/print", response_class=HTMLResponse)
def receipt_print(transaction_id: str, request: Request, portal: PortalDep, pass_: PassQuery = "") -> Response:
    return receipt_page(portal, _receipt(request, portal, transaction_id, pass_))


@router.get("/voucher/receipts/{transaction_id}", response_class=HTMLResponse)
def receipt_view(transaction_id: str, request: Request, portal: PortalDep, pass_: PassQuery = "") -> Response:
    receipt = _receipt(request, portal, transaction_id, pass_)
    links = f"/voucher/receipts/{transaction_id}"
    return portal.pages.render(
        request,
        "voucher_receipt.html",
        receipt=receipt_content(receipt),
        links={"print": f"{links}/print?pass={pass_}", "pdf": f"{links}.pdf?pass={pass_}"},
    )


def _receipt(request: Request, portal: Portal, transaction_id: str, receipt_pass: str) -> Receipt:
    """The receipt of a card's top-up, with its pass; anything else is "not found", whether it exists or not."""
    if len(transaction_id) > 64 or not hmac.compare_digest(portal.signer.receipt_pass(transaction_id), receipt_pass):
        raise PortalRefusal(NOT_FOUND, 404)
    try:
        found = history.receipt(portal.application.uow(), transaction_id=transaction_id)
    except DomainError:
        raise PortalRefusal(NOT_FOUND, 404) from None
    return replace(found, language=words_of(request).language)


def _page(request: Request, portal: Portal, typed: VoucherForm, problems: Problems, *, status: int = 200) -> Response:
    return portal.pages.render(
        request, "voucher.html", status=status, typed=typed, problems=problems, form_token=secrets.token_hex(16)
    )
