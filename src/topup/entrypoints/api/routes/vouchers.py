"""Scratch-card vouchers: redeem by PIN (for one's own number or another's), check a card by its serial, and,
for staff, distribute, activate and void cards. Batches are generated with the CLI (`topup vouchers generate`),
never over the API: the plain PINs exist only in the encrypted file it writes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from topup.domain.errors import InvalidInput
from topup.domain.vouchers import Voucher, VoucherEvent, VoucherState
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AdminDep, AgentDep, AppDep, CallerDep, IdempotencyKey, own_agent
from topup.entrypoints.api.idempotent import respond_saga_once
from topup.entrypoints.api.schemas import VoucherRedemption, VoucherSerials
from topup.services import vouchers

router = APIRouter(tags=["vouchers"])


@router.post("/vouchers/redeem", status_code=201, summary="Top up a number with a scratch card's PIN")
def redeem(
    request: Request,
    body: VoucherRedemption,
    application: AppDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    def start() -> tuple[int, dict[str, Any]]:
        record = vouchers.redeem(
            application.uow(), application.vouchers, pin=body.pin, number=body.msisdn, client=f"api:{caller.id}"
        )
        return 201, serialise.transaction(record)

    # Not in one transaction with the key's claim: a wrong PIN's count must stand although the answer is an error
    # (the claim is committed first and released on a refusal, as for orders). The PIN is not part of what the
    # idempotency key remembers: only its digest is.
    fingerprint = application.vouchers.digests.digest("voucher-request", f"{body.msisdn}:{body.pin}")
    return respond_saga_once(
        request,
        application,
        caller,
        idempotency_key,
        fingerprint,
        resource_id="voucher-redemption",
        start=start,
        current=lambda _resource: None,  # a retry while the first is still running is told to wait
    )


@router.get("/vouchers/{serial}", summary="A card's state by its serial (never its PIN)")
def status(serial: str, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    voucher, events = vouchers.status(application.uow(), serial=serial)
    return voucher_json(voucher, events)


@router.post("/vouchers/distribute", summary="Hand printed cards to an agent")
def distribute(body: VoucherSerials, application: AppDep, caller: AdminDep) -> dict[str, Any]:
    if body.agent_id is None:
        raise InvalidInput("Name the agent the cards go to.", field="agent_id")
    moved = vouchers.distribute(
        application.uow(),
        application.clock,
        serials=_serials(application, body, VoucherState.GENERATED),
        agent_id=body.agent_id,
        actor=f"api:{caller.name}",
    )
    return {"moved": len(moved), "state": "distributed"}


@router.post("/vouchers/activate", summary="Put distributed cards on sale")
def activate(body: VoucherSerials, application: AppDep, caller: AdminDep) -> dict[str, Any]:
    moved = vouchers.activate(
        application.uow(),
        application.clock,
        serials=_serials(application, body, VoucherState.DISTRIBUTED),
        actor=f"api:{caller.name}",
    )
    return {"moved": len(moved), "state": "active"}


@router.post("/vouchers/void", summary="Withdraw cards that were not redeemed (lost, stolen, misprinted)")
def void(body: VoucherSerials, application: AppDep, caller: AdminDep) -> dict[str, Any]:
    moved = vouchers.void(
        application.uow(),
        application.clock,
        serials=_serials(application, body, None),
        actor=f"api:{caller.name}",
        reason=body.reason or "voided by staff",
    )
    return {"moved": len(moved), "state": "void"}


@router.get("/agent/vouchers/{serial}", summary="A card handed to the calling agent, by its serial (agent key)")
def agent_status(serial: str, application: AppDep, caller: AgentDep) -> dict[str, Any]:
    voucher, events = vouchers.status(application.uow(), serial=serial, agent_id=own_agent(caller))
    return voucher_json(voucher, events)


@router.post("/agent/vouchers/activate", summary="Put cards handed to the calling agent on sale (agent key)")
def agent_activate(body: VoucherSerials, application: AppDep, caller: AgentDep) -> dict[str, Any]:
    agent_id = own_agent(caller)
    moved = vouchers.activate(
        application.uow(), application.clock, serials=body.serials, actor=f"agent:{caller.name}", agent_id=agent_id
    )
    return {"moved": len(moved), "state": "active"}


def voucher_json(voucher: Voucher, events: list[VoucherEvent]) -> dict[str, Any]:
    return {
        "serial": voucher.serial,
        "operator": voucher.operator,
        "nominal": serialise.money(voucher.nominal_qepik),
        "state": voucher.state.value,
        "agent_id": voucher.agent_id,
        "expires_at": voucher.expires_at.isoformat(),
        "redeemed_at": voucher.redeemed_at.isoformat() if voucher.redeemed_at else None,
        "redeemed_msisdn": voucher.redeemed_msisdn,
        "history": [
            {"from": e.source.value, "to": e.target.value, "by": e.actor, "reason": e.reason, "at": e.at.isoformat()}
            for e in events
        ],
    }


def _serials(application: AppDep, body: VoucherSerials, state: VoucherState | None) -> list[str]:
    if body.batch_id is not None:
        return vouchers.serials_of_batch(application.uow(), batch_id=body.batch_id, state=state)
    return body.serials
