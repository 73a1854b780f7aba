"""Webhooks, their outbox of events, and every delivery attempt."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from topup.adapters.db.handle import ConnectionHandle
from topup.adapters.db.tables import webhook_attempts, webhook_events, webhooks
from topup.services.webhooks import DeliveryAttempt, PendingEvent, Webhook


def _webhook(row: object) -> Webhook:
    values = dict(row._mapping)  # type: ignore[attr-defined]
    values.pop("disabled_at", None)
    values["events"] = values["events"].split(",")
    return Webhook(**values)


class SqlWebhookRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def add(self, webhook: Webhook) -> None:
        self._handle.connection.execute(
            insert(webhooks).values(
                id=webhook.id,
                scope=webhook.scope,
                url=webhook.url,
                secret=webhook.secret,
                events=",".join(webhook.events),
                created_at=webhook.created_at,
            )
        )

    def get(self, webhook_id: str) -> Webhook | None:
        row = self._handle.connection.execute(select(webhooks).where(webhooks.c.id == webhook_id)).first()
        return None if row is None else _webhook(row)

    def subscribed(self, scope: str, event_type: str) -> list[Webhook]:
        rows = self._handle.connection.execute(
            select(webhooks).where(webhooks.c.scope == scope, webhooks.c.disabled_at.is_(None))
        )
        return [hook for hook in map(_webhook, rows) if event_type in hook.events]

    def queue(self, event_id: str, webhook_id: str, event_type: str, payload: str, *, now: datetime) -> None:
        self._handle.connection.execute(
            insert(webhook_events).values(
                id=event_id,
                webhook_id=webhook_id,
                event_type=event_type,
                payload=payload,
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
        )

    def due(self, *, now: datetime, limit: int) -> list[PendingEvent]:
        query = (
            select(
                webhook_events.c.id,
                webhook_events.c.webhook_id,
                webhook_events.c.event_type,
                webhook_events.c.payload,
                webhook_events.c.attempts,
                webhooks.c.url,
                webhooks.c.secret,
            )
            .join(webhooks, webhooks.c.id == webhook_events.c.webhook_id)
            .where(webhook_events.c.next_attempt_at <= now, webhook_events.c.delivered_at.is_(None))
            .order_by(webhook_events.c.next_attempt_at)
            .limit(limit)
        )
        if self._handle.dialect == "postgresql":
            query = query.with_for_update(of=webhook_events, skip_locked=True)
        return [PendingEvent(**row._mapping) for row in self._handle.connection.execute(query)]

    def book_attempt(self, event_id: str, *, attempts: int, now: datetime, delay: timedelta | None) -> None:
        self._handle.connection.execute(
            update(webhook_events)
            .where(webhook_events.c.id == event_id)
            .values(attempts=attempts, next_attempt_at=None if delay is None else now + delay)
        )

    def record_attempt(
        self, event_id: str, *, attempt: int, at: datetime, status_code: int | None, error: str | None, delivered: bool
    ) -> None:
        connection = self._handle.connection
        connection.execute(
            insert(webhook_attempts).values(
                event_id=event_id, attempt=attempt, at=at, status_code=status_code, error=error
            )
        )
        values: dict[str, object] = {"last_status_code": status_code, "last_error": error}
        if delivered:
            values.update(delivered_at=at, next_attempt_at=None)
        connection.execute(update(webhook_events).where(webhook_events.c.id == event_id).values(**values))

    def attempts(self, webhook_id: str, *, limit: int) -> list[DeliveryAttempt]:
        rows = self._handle.connection.execute(
            select(
                webhook_attempts.c.event_id,
                webhook_events.c.event_type,
                webhook_attempts.c.attempt,
                webhook_attempts.c.at,
                webhook_attempts.c.status_code,
                webhook_attempts.c.error,
            )
            .join(webhook_events, webhook_events.c.id == webhook_attempts.c.event_id)
            .where(webhook_events.c.webhook_id == webhook_id)
            .order_by(webhook_attempts.c.id.desc())
            .limit(limit)
        )
        return [
            DeliveryAttempt(**row._mapping, delivered=row.status_code is not None and 200 <= row.status_code < 300)
            for row in rows
        ]
