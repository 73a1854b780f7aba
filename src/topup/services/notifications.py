"""Notifications: queued with the event that causes them (same transaction, one per event), sent by the worker
through the `NotificationSender` port (the development inbox today), rendered in the line's language."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from topup.domain.catalogue import Bundle
from topup.domain.lines import Line
from topup.domain.notifications import Notification, NotificationKind
from topup.domain.numbers import parse_msisdn
from topup.services.ports import Clock, NotificationSender, UnitOfWork

logger = logging.getLogger("topup.notifications")
INBOX_LIMIT_MAX = 200


def queue(
    uow: UnitOfWork, *, line: Line, kind: NotificationKind, key: str, params: dict[str, str], now: datetime
) -> None:
    """Inside the caller's transaction. `key` names the event: the same kind and key are told once."""
    uow.notifications.queue(
        Notification(
            id=uuid.uuid4().hex,
            msisdn=line.msisdn.e164,
            kind=kind,
            dedupe_key=f"{kind.value}:{key}"[:200],
            language=line.language,
            params=params,
            created_at=now,
        )
    )


def bundle_names(bundle: Bundle) -> dict[str, str]:
    """A bundle's name in every language, for the template of whichever language the line reads."""
    return {f"bundle_{language}": name for language, name in bundle.names.items()}


def deliver_due(uow: UnitOfWork, clock: Clock, sender: NotificationSender, *, limit: int = 50) -> int:
    """Send up to `limit` unsent notifications; returns how many were sent (a failed one is tried again on the
    next pass, so a sender that is down never makes a pass loop)."""
    with uow:
        due = uow.notifications.unsent(now=clock.now(), limit=limit)
    sent = 0
    for notification in due:
        try:
            sender.send(notification)
        except Exception:  # one bad address or a channel down must not stop the others
            logger.exception("notification %s not sent; it will be tried again", notification.id)
            continue
        with uow:
            uow.notifications.mark_sent(notification.id, now=clock.now())
            uow.commit()
        sent += 1
    return sent


def inbox(uow: UnitOfWork, *, number: str | None = None, limit: int = 50) -> list[Notification]:
    """The newest notifications (of one line, or of all): the development inbox."""
    limit = max(1, min(limit, INBOX_LIMIT_MAX))
    msisdn = parse_msisdn(number).e164 if number else None
    with uow:
        return uow.notifications.latest(msisdn=msisdn, limit=limit)
