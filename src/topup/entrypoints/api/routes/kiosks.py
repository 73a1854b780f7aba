"""Cash kiosks: the kiosk's own API (its kiosk key) for the fee it shows and the payments it forwards, and the
staff's encashment reports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header

from topup.domain.errors import IdempotencyKeyMissing, InvalidInput
from topup.domain.kiosks import Collection, KioskPayment
from topup.domain.money import parse_amount
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AdminDep, AppDep, KioskDep, own_agent
from topup.entrypoints.api.schemas import KioskPaymentInput, KioskQuoteInput, NewCollection
from topup.services import kiosks

router = APIRouter(tags=["kiosks"])


@router.post("/kiosk/quotes", summary="Before the customer confirms: the operator, the fee and what the line gets")
def quote(body: KioskQuoteInput, application: AppDep, caller: KioskDep) -> dict[str, Any]:
    found = kiosks.quote(
        application.uow(), kiosk_id=own_agent(caller), number=body.msisdn, inserted_qepik=parse_amount(body.inserted)
    )
    with application.uow() as uow:
        rules = uow.catalogue.current().operator(found.operator).topup
    return {
        "msisdn": found.msisdn,
        "national": found.national,
        "operator": found.operator,
        "inserted": serialise.money(found.inserted_qepik),
        "fee": serialise.money(found.fee_qepik),
        "fee_percent": f"{found.fee_basis_points / 100:.2f}",
        "credited": serialise.money(found.credited_qepik),
        "minimum_credited": serialise.money(rules.amount_min_qepik),
        "maximum_credited": serialise.money(rules.amount_max_qepik),
    }


@router.post(
    "/kiosk/payments",
    status_code=201,
    summary="A payment the kiosk took (now, or stored while offline): credited once, whatever the retries",
)
def forward(
    body: KioskPaymentInput,
    application: AppDep,
    caller: KioskDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    # The kiosk's own payment id is the idempotency key (kept with the payment for good, not 24 hours).
    if not idempotency_key:
        raise IdempotencyKeyMissing("Send the payment's local_id as the Idempotency-Key header.")
    if idempotency_key != body.local_id:
        raise InvalidInput("The Idempotency-Key must be the payment's local_id.", field="Idempotency-Key")
    if body.paid_at.tzinfo is None:
        raise InvalidInput("paid_at needs its UTC offset.", field="paid_at")
    payment = kiosks.accept_payment(
        application.uow(),
        application.clock,
        application.codes,
        kiosk_id=own_agent(caller),
        local_id=body.local_id,
        number=body.msisdn,
        banknotes=body.banknotes,
        paid_at=body.paid_at,
    )
    code = application.codes.code_for(payment.transaction_id) if payment.transaction_id else None
    return payment_json(payment, base_url=application.settings.public_base_url, verification_code=code)


@router.get("/kiosk/encashment", summary="What the kiosk's box should hold now")
def own_box(application: AppDep, caller: KioskDep) -> dict[str, Any]:
    return _box(application, own_agent(caller))


@router.get("/kiosks/{kiosk_id}/encashment", summary="What a kiosk's box should hold now (staff)")
def box(kiosk_id: str, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    return _box(application, kiosk_id)


@router.post("/kiosks/{kiosk_id}/collections", status_code=201, summary="The box was emptied and counted")
def collect(kiosk_id: str, body: NewCollection, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    counted = 0 if body.counted.strip() in ("0", "0.00") else parse_amount(body.counted)
    collection = kiosks.collect(
        application.uow(),
        application.clock,
        kiosk_id=kiosk_id,
        counted_qepik=counted,
        collected_by=body.collected_by,
        note=body.note,
    )
    return collection_json(collection)


@router.get("/kiosks/{kiosk_id}/collections", summary="The kiosk's encashments, newest first")
def history(kiosk_id: str, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    return {"items": [collection_json(c) for c in kiosks.collections(application.uow(), kiosk_id=kiosk_id)]}


def payment_json(payment: KioskPayment, *, base_url: str, verification_code: str | None = None) -> dict[str, Any]:
    return {
        "id": payment.id,
        "local_id": payment.local_id,
        "state": payment.state.value,
        "failure_code": payment.failure_code,
        "msisdn": payment.msisdn,
        "operator": payment.operator,
        "banknotes": list(payment.banknotes),
        "inserted": serialise.money(payment.inserted_qepik),
        "fee": serialise.money(payment.fee_qepik),
        "credited": serialise.money(payment.credited_qepik),
        "paid_at": payment.paid_at.isoformat(),
        "received_at": payment.received_at.isoformat(),
        "transaction_id": payment.transaction_id,
        "verification_code": verification_code,
        "receipt_url": f"{base_url}/v1/transactions/{payment.transaction_id}/receipt"
        if payment.transaction_id
        else None,
    }


def collection_json(collection: Collection) -> dict[str, Any]:
    return {
        "id": collection.id,
        "kiosk_id": collection.kiosk_id,
        "collected_at": collection.collected_at.isoformat(),
        "expected": serialise.money(collection.expected_qepik),
        "counted": serialise.money(collection.counted_qepik),
        "difference": serialise.money(collection.difference_qepik),
        "payments": collection.payments,
        "collected_by": collection.collected_by,
        "note": collection.note,
    }


def _box(application: AppDep, kiosk_id: str) -> dict[str, Any]:
    found = kiosks.encashment(application.uow(), kiosk_id=kiosk_id)
    return {
        "kiosk_id": found.kiosk.id,
        "expected": serialise.money(found.expected_qepik),
        "payments": len(found.payments),
        "refused": [
            {
                "local_id": p.local_id,
                "msisdn": p.msisdn,
                "inserted": serialise.money(p.inserted_qepik),
                "why": p.failure_code,
            }
            for p in found.refused
        ],
    }
