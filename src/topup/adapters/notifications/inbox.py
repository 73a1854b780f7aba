"""The development inbox: a notification is "sent" by being rendered and logged; the outbox row, marked sent,
is what `GET /v1/dev/inbox` and `topup inbox` show. E-mail (SMTP) and SMS (SMPP) senders are still to come."""

from __future__ import annotations

import logging

from topup.adapters.notifications.render import render
from topup.domain.notifications import Notification

logger = logging.getLogger("topup.notifications.inbox")


class DevInboxSender:
    def send(self, notification: Notification) -> None:
        rendered = render(notification)  # a template that cannot be rendered fails here, and is retried
        logger.info("to %s (%s): %s", notification.msisdn, rendered.language, rendered.text)
