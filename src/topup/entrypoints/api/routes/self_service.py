"""What a line's subscriber sets up (through an integrator's app, or staff for them): saved cards,
auto-recharge, and how they are told (notification settings).

Staff see and use every saved card and rule of a line; an integrator those it set up itself.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from topup.config import Environment
from topup.domain.auto_recharge import RuleKind
from topup.domain.money import parse_amount
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AppDep, CallerDep, IdempotencyKey, scope_of
from topup.entrypoints.api.idempotent import respond_saga_once
from topup.entrypoints.api.schemas import (
    NewSavedCard,
    NotificationSettingsInput,
    ScheduleRuleInput,
    ThresholdRuleInput,
)
from topup.services import auto_recharge, notifications, payment_methods
from topup.services.payments import CardDetails

router = APIRouter(tags=["saved cards, auto-recharge and notification settings"])


@router.post(
    "/lines/{msisdn}/payment-methods",
    status_code=201,
    summary="Save a card for the line (the acquirer keeps it; we keep its token, brand and last four)",
)
def save_card(
    msisdn: str,
    request: Request,
    body: NewSavedCard,
    application: AppDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    method_id = uuid.uuid4().hex

    def start() -> tuple[int, dict[str, Any]]:
        card = body.card
        saved = payment_methods.save_card(
            application.uow(),
            application.saga,
            scope=caller.id,
            number=msisdn,
            card=CardDetails(card.number, card.expiry_month, card.expiry_year, card.cvc),
            method_id=method_id,
        )
        return 201, serialise.saved_card(saved)

    def current(existing_id: str) -> tuple[int, dict[str, Any]] | None:
        saved = payment_methods.find_card(application.uow(), method_id=existing_id)
        return None if saved is None else (201, serialise.saved_card(saved))

    return respond_saga_once(
        request,
        application,
        caller,
        idempotency_key,
        body.fingerprint_body(),
        resource_id=method_id,
        start=start,
        current=current,
    )


@router.get("/lines/{msisdn}/payment-methods", summary="The line's saved cards")
def list_cards(msisdn: str, application: AppDep, caller: CallerDep) -> dict[str, Any]:
    found = payment_methods.list_cards(application.uow(), number=msisdn, scope=scope_of(caller))
    return {"items": [serialise.saved_card(card) for card in found]}


@router.delete(
    "/lines/{msisdn}/payment-methods/{method_id}",
    summary="Remove a saved card (and the auto-recharges that pay with it)",
)
def remove_card(msisdn: str, method_id: str, application: AppDep, caller: CallerDep) -> dict[str, Any]:
    card = payment_methods.remove_card(
        application.uow(), application.saga, number=msisdn, method_id=method_id, scope=scope_of(caller)
    )
    return {"id": card.id, "removed": True}


# --- auto-recharge -----------------------------------------------------------------------------------------------


@router.get("/lines/{msisdn}/auto-recharge", summary="The line's auto-recharge rules and how they ran")
def list_rules(msisdn: str, application: AppDep, caller: CallerDep) -> dict[str, Any]:
    views = auto_recharge.rules_of(application.uow(), application.saga, number=msisdn, scope=scope_of(caller))
    return {"items": [serialise.auto_recharge(view) for view in views]}


@router.put(
    "/lines/{msisdn}/auto-recharge/threshold",
    summary="When the balance falls below a threshold, top up from a saved card (at most N times a month)",
)
def set_threshold(msisdn: str, body: ThresholdRuleInput, application: AppDep, caller: CallerDep) -> dict[str, Any]:
    auto_recharge.set_threshold(
        application.uow(),
        application.saga,
        scope=caller.id,
        card_scope=scope_of(caller),
        number=msisdn,
        threshold_qepik=parse_amount(body.threshold),
        amount_qepik=parse_amount(body.amount),
        monthly_max=body.monthly_max,
        payment_method_id=body.payment_method_id,
    )
    return _rule(application, msisdn, RuleKind.THRESHOLD)


@router.put(
    "/lines/{msisdn}/auto-recharge/schedule",
    summary="Top up a fixed amount from a saved card on a day of every month (10:00 Baku time)",
)
def set_schedule(msisdn: str, body: ScheduleRuleInput, application: AppDep, caller: CallerDep) -> dict[str, Any]:
    auto_recharge.set_schedule(
        application.uow(),
        application.saga,
        scope=caller.id,
        card_scope=scope_of(caller),
        number=msisdn,
        day_of_month=body.day_of_month,
        amount_qepik=parse_amount(body.amount),
        payment_method_id=body.payment_method_id,
    )
    return _rule(application, msisdn, RuleKind.SCHEDULE)


@router.delete("/lines/{msisdn}/auto-recharge/{kind}", summary="Turn a rule off (threshold or schedule)")
def remove_rule(msisdn: str, kind: RuleKind, application: AppDep, caller: CallerDep) -> dict[str, Any]:
    auto_recharge.remove(application.uow(), application.saga, number=msisdn, kind=kind, scope=scope_of(caller))
    return {"kind": kind.value, "removed": True}


def _rule(application: AppDep, msisdn: str, kind: RuleKind) -> dict[str, Any]:
    views = auto_recharge.rules_of(application.uow(), application.saga, number=msisdn, scope=None)
    [view] = [view for view in views if view.rule.kind is kind]
    return serialise.auto_recharge(view)


# --- notification settings ------------------------------------------------------------------------------------------


@router.get("/lines/{msisdn}/notification-settings", summary="How the line is told: SMS, e-mail, its own webhook")
def get_settings(msisdn: str, application: AppDep, _caller: CallerDep) -> dict[str, Any]:
    return serialise.notification_settings(notifications.settings_of(application.uow(), number=msisdn))


@router.put(
    "/lines/{msisdn}/notification-settings",
    summary="Choose the channels and mute kinds of notification (a new webhook URL's secret is shown once)",
)
def put_settings(
    msisdn: str, body: NotificationSettingsInput, application: AppDep, _caller: CallerDep
) -> dict[str, Any]:
    before = notifications.settings_of(application.uow(), number=msisdn)
    settings = notifications.change_settings(
        application.uow(),
        application.clock,
        number=msisdn,
        sms=body.sms,
        email_address=body.email,
        webhook_url=body.webhook_url,
        muted=body.muted,
        allow_http_webhook=application.settings.environment is Environment.DEVELOPMENT,
    )
    new_secret = settings.webhook_secret is not None and settings.webhook_secret != before.webhook_secret
    return serialise.notification_settings(settings, show_secret=new_secret)
