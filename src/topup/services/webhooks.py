"""Register webhooks, queue events in the outbox with the change they report, deliver them after commit."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from topup.domain.errors import DomainError, ErrorKind
from topup.domain.money import format_amount
from topup.domain.orders import Order, Transition
from topup.domain.webhooks import EVENT_FOR_STATE, SIGNATURE_HEADER, check_events, check_url, retry_delay, signature
from topup.services.ports import Clock, UnitOfWork

DELIVERY_ERROR_LENGTH_MAX = 200


class WebhookNotFound(DomainError):
    code = "webhook_not_found"
    kind = ErrorKind.NOT_FOUND


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    scope: str
    url: str
    secret: str
    events: list[str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PendingEvent:
    id: str
    webhook_id: str
    event_type: str
    payload: str
    attempts: int
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    event_id: str
    event_type: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    delivered: bool


class WebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """POST with a short timeout: (status code, None) or (None, what went wrong)."""
        ...


def register(uow: UnitOfWork, clock: Clock, *, scope: str, url: str, events: list[str], allow_http: bool) -> Webhook:
    webhook = Webhook(
        id=uuid.uuid4().hex,
        scope=scope,
        url=check_url(url, allow_http=allow_http),
        secret="whsec_" + secrets.token_hex(24),
        events=[e.value for e in check_events(events)],
        created_at=clock.now(),
    )
    with uow:
        uow.webhooks.add(webhook)
        uow.commit()
    return webhook


def attempts(uow: UnitOfWork, *, webhook_id: str, scope: str | None, limit: int = 100) -> list[DeliveryAttempt]:
    with uow:
        webhook = uow.webhooks.get(webhook_id) if webhook_id.isalnum() else None
        if webhook is None or (scope is not None and webhook.scope != scope):
            raise WebhookNotFound("There is no webhook with this id.", webhook_id=webhook_id[:64])
        return uow.webhooks.attempts(webhook_id, limit=min(limit, 500))


def queue_order_events(uow: UnitOfWork, order: Order, transitions: Sequence[Transition], *, now: datetime) -> None:
    """Inside the transaction that saved `transitions`: one outbox row per subscribed webhook and event."""
    for transition in transitions:
        event_type = EVENT_FOR_STATE.get(transition.target)
        if event_type is None:
            continue
        for webhook in uow.webhooks.subscribed(order.scope, event_type.value):
            event_id = uuid.uuid4().hex
            payload = {
                "id": event_id,
                "type": event_type.value,
                "created_at": now.isoformat(),
                "data": {
                    "order_id": order.id,
                    "status": order.state.value,
                    "msisdn": order.msisdn,
                    "amount": format_amount(order.amount_qepik),
                    "currency": "AZN",
                    "failure_code": order.failure_code,
                },
            }
            uow.webhooks.queue(event_id, webhook.id, event_type.value, json.dumps(payload), now=now)


def deliver_due(uow: UnitOfWork, clock: Clock, sender: WebhookSender, *, limit: int = 50) -> int:
    """Deliver up to `limit` due events, at least once each: the attempt is booked (and its retry scheduled)
    before the call, so a crash during the call means one more delivery later, never one fewer."""
    with uow:
        now = clock.now()
        due = uow.webhooks.due(now=now, limit=limit)
        for event in due:
            uow.webhooks.book_attempt(
                event.id, attempts=event.attempts + 1, now=now, delay=retry_delay(event.attempts + 1)
            )
        uow.commit()
    for event in due:
        body = event.payload.encode()
        timestamp = int(clock.now().timestamp())
        status, error = sender.post(
            event.url,
            body,
            {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature(event.secret, timestamp, body),
                "Topup-Event-Id": event.id,
                "Topup-Event-Type": event.event_type,
            },
        )
        delivered = status is not None and 200 <= status < 300
        with uow:
            uow.webhooks.record_attempt(
                event.id,
                attempt=event.attempts + 1,
                at=clock.now(),
                status_code=status,
                error=(error or (None if delivered else f"HTTP {status}"))[:DELIVERY_ERROR_LENGTH_MAX]
                if not delivered
                else None,
                delivered=delivered,
            )
            uow.commit()
    return len(due)
