"""The notification outbox (which is also the development inbox)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects import postgresql, sqlite

from topup.adapters.db.handle import ConnectionHandle
from topup.adapters.db.tables import notifications
from topup.domain.notifications import Notification, NotificationKind

# Every top-up queues one: the statement is built once per dialect (SQLAlchemy reuses its compiled form).
_QUEUE = {
    "postgresql": postgresql.insert(notifications).on_conflict_do_nothing(index_elements=["dedupe_key"]),
    "sqlite": sqlite.insert(notifications).on_conflict_do_nothing(index_elements=["dedupe_key"]),
}


class SqlNotificationRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def queue(self, notification: Notification) -> None:
        """Adds it unless one with its de-duplication key exists (the same event told twice)."""
        self._handle.connection.execute(
            _QUEUE["postgresql" if self._handle.dialect == "postgresql" else "sqlite"],
            {
                "id": notification.id,
                "msisdn": notification.msisdn,
                "kind": notification.kind.value,
                "dedupe_key": notification.dedupe_key,
                "language": notification.language,
                "params": json.dumps(notification.params, sort_keys=True),
                "created_at": notification.created_at,
                "sent_at": None,
            },
        )

    def unsent(self, *, now: datetime, limit: int) -> list[Notification]:
        query = (
            select(notifications)
            .where(notifications.c.sent_at.is_(None), notifications.c.created_at <= now)
            .order_by(notifications.c.created_at)
        )
        query = query.limit(limit)
        if self._handle.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_notification(row) for row in self._handle.connection.execute(query)]

    def mark_sent(self, notification_id: str, *, now: datetime) -> None:
        self._handle.connection.execute(
            update(notifications).where(notifications.c.id == notification_id).values(sent_at=now)
        )

    def latest(self, *, msisdn: str | None, limit: int) -> list[Notification]:
        query = select(notifications).order_by(notifications.c.created_at.desc(), notifications.c.id).limit(limit)
        if msisdn is not None:
            query = query.where(notifications.c.msisdn == msisdn)
        return [_notification(row) for row in self._handle.connection.execute(query)]


def _notification(row: Row[Any]) -> Notification:
    return Notification(
        id=row.id,
        msisdn=row.msisdn,
        kind=NotificationKind(row.kind),
        dedupe_key=row.dedupe_key,
        language=row.language,
        params=dict(json.loads(row.params)),
        created_at=row.created_at,
        sent_at=row.sent_at,
    )
