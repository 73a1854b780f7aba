"""The notification outbox (which is also the development inbox), and how each line wants to be told."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, or_, select, update
from sqlalchemy.dialects import sqlite

from topup.adapters.db.handle import ConnectionHandle, Write, dialect_insert
from topup.adapters.db.tables import notification_settings, notifications
from topup.domain.notifications import Notification, NotificationKind, NotificationSettings

# Every top-up queues one, and nothing reads it in that transaction: held back for its next statement.
_QUEUE = Write(
    "notifications",
    "INSERT INTO notifications (id, msisdn, kind, dedupe_key, language, params, created_at) "
    "VALUES (:id, :msisdn, :kind, :dedupe_key, :language, :params, :created_at) ON CONFLICT (dedupe_key) DO NOTHING",
    sqlite.insert(notifications).on_conflict_do_nothing(index_elements=["dedupe_key"]),
)


class SqlNotificationRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def queue(self, notification: Notification) -> None:
        """Adds it unless one with its de-duplication key exists (the same event told twice)."""
        self._handle.defer(
            _QUEUE,
            {
                "id": notification.id,
                "msisdn": notification.msisdn,
                "kind": notification.kind.value,
                "dedupe_key": notification.dedupe_key,
                "language": notification.language,
                "params": json.dumps(notification.params, sort_keys=True),
                "created_at": notification.created_at,
            },
        )

    def lease_unsent(self, *, now: datetime, lease_until: datetime, limit: int) -> list[Notification]:
        """Unsent notifications due by `now`, oldest first, leased until `lease_until`: no other worker takes
        them before then (rows another worker is leasing right now are skipped on PostgreSQL)."""
        query = (
            select(notifications)
            .where(
                notifications.c.sent_at.is_(None),
                notifications.c.created_at <= now,
                or_(notifications.c.next_attempt_at.is_(None), notifications.c.next_attempt_at <= now),
            )
            .order_by(notifications.c.created_at)
            .limit(limit)
        )
        if self._handle.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        found = [_notification(row) for row in self._handle.connection.execute(query)]
        if found:
            self._handle.connection.execute(
                update(notifications)
                .where(notifications.c.id.in_([n.id for n in found]))
                .values(next_attempt_at=lease_until)
            )
        return found

    def lease(self, notification_id: str, *, now: datetime, lease_until: datetime) -> Notification | None:
        """This one notification, leased until `lease_until`, if it is unsent and nobody else holds it."""
        query = select(notifications).where(
            notifications.c.id == notification_id,
            notifications.c.sent_at.is_(None),
            or_(notifications.c.next_attempt_at.is_(None), notifications.c.next_attempt_at <= now),
        )
        if self._handle.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = self._handle.connection.execute(query).first()
        if row is None:
            return None
        self._handle.connection.execute(
            update(notifications).where(notifications.c.id == notification_id).values(next_attempt_at=lease_until)
        )
        return _notification(row)

    def record_deliveries(self, progress: Sequence[tuple[Notification, datetime | None]]) -> None:
        """What each one's channels did: those still pending, each one's outcome, and when to try again. One
        statement for the batch (psycopg pipelines the rows): a worker's pass is not a round trip per message."""
        if not progress:
            return
        self._handle.connection.execute(
            update(notifications)
            .where(notifications.c.id == bindparam("notification_id"))
            .values(
                pending_channels=bindparam("new_pending_channels"),
                deliveries=bindparam("new_deliveries"),
                attempts=bindparam("new_attempts"),
                next_attempt_at=bindparam("new_next_attempt_at"),
                sent_at=bindparam("new_sent_at"),
            ),
            [
                {
                    "notification_id": notification.id,
                    "new_pending_channels": _joined(notification.pending_channels),
                    "new_deliveries": json.dumps(notification.deliveries, sort_keys=True),
                    "new_attempts": notification.attempts,
                    "new_next_attempt_at": next_attempt_at,
                    "new_sent_at": notification.sent_at,
                }
                for notification, next_attempt_at in progress
            ],
        )

    def latest(self, *, msisdn: str | None, limit: int) -> list[Notification]:
        query = select(notifications).order_by(notifications.c.created_at.desc(), notifications.c.id).limit(limit)
        if msisdn is not None:
            query = query.where(notifications.c.msisdn == msisdn)
        return [_notification(row) for row in self._handle.connection.execute(query)]


class SqlNotificationSettingsRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def get(self, msisdn: str) -> NotificationSettings | None:
        row = self._handle.connection.execute(
            select(notification_settings).where(notification_settings.c.msisdn == msisdn)
        ).first()
        return None if row is None else _settings(row)

    def get_many(self, msisdns: Iterable[str]) -> dict[str, NotificationSettings]:
        wanted = sorted(set(msisdns))
        if not wanted:
            return {}
        rows = self._handle.connection.execute(
            select(notification_settings).where(notification_settings.c.msisdn.in_(wanted))
        )
        return {row.msisdn: _settings(row) for row in rows}

    def put(self, settings: NotificationSettings) -> None:
        values = {
            "sms": settings.sms,
            "email_address": settings.email_address,
            "webhook_url": settings.webhook_url,
            "webhook_secret": settings.webhook_secret,
            "muted_kinds": ",".join(sorted(kind.value for kind in settings.muted_kinds)),
            "updated_at": settings.updated_at,
        }
        statement = dialect_insert(self._handle, notification_settings).values(msisdn=settings.msisdn, **values)
        self._handle.connection.execute(
            statement.on_conflict_do_update(index_elements=[notification_settings.c.msisdn], set_=values)
        )


def _joined(channels: list[str] | None) -> str | None:
    return None if channels is None else ",".join(channels)


def _settings(row: Row[Any]) -> NotificationSettings:
    return NotificationSettings(
        msisdn=row.msisdn,
        sms=row.sms,
        email_address=row.email_address,
        webhook_url=row.webhook_url,
        webhook_secret=row.webhook_secret,
        muted_kinds=frozenset(NotificationKind(kind) for kind in row.muted_kinds.split(",") if kind),
        updated_at=row.updated_at,
    )


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
        pending_channels=None if row.pending_channels is None else [c for c in row.pending_channels.split(",") if c],
        deliveries=dict(json.loads(row.deliveries)) if row.deliveries else {},
        attempts=row.attempts,
    )
