"""Integrators' webhooks: register a URL, see every delivery attempt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from topup.config import Environment
from topup.domain.access import Role
from topup.entrypoints.api.deps import AppDep, CallerDep, IdempotencyKey
from topup.entrypoints.api.idempotent import respond_once
from topup.entrypoints.api.schemas import NewWebhook
from topup.services import webhooks
from topup.services.ports import UnitOfWork

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks",
    status_code=201,
    summary="Register a URL for order.completed, order.failed and order.refunded (the secret is shown once)",
)
def register(
    request: Request, body: NewWebhook, application: AppDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> Response:
    def operation(uow: UnitOfWork) -> tuple[int, dict[str, Any]]:
        webhook = webhooks.register(
            uow,
            application.clock,
            scope=caller.id,
            url=body.url,
            events=body.events,
            allow_http=application.settings.environment is Environment.DEVELOPMENT,
        )
        return 201, {
            "id": webhook.id,
            "url": webhook.url,
            "events": webhook.events,
            "secret": webhook.secret,
            "signature": "Topup-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, '<t>.<body>')>",
            "created_at": webhook.created_at.isoformat(),
        }

    return respond_once(request, application, caller, idempotency_key, body.model_dump_json(), operation)


@router.get("/webhooks/{webhook_id}/deliveries", summary="Delivery attempts, newest first")
def deliveries(webhook_id: str, application: AppDep, caller: CallerDep) -> dict[str, Any]:
    scope = None if caller.role == Role.ADMIN else caller.id
    found = webhooks.attempts(application.uow(), webhook_id=webhook_id, scope=scope)
    return {
        "items": [
            {
                "event_id": a.event_id,
                "event_type": a.event_type,
                "attempt": a.attempt,
                "at": a.at.isoformat(),
                "status_code": a.status_code,
                "error": a.error,
                "delivered": a.delivered,
            }
            for a in found
        ]
    }
