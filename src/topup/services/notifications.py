"""Notifications: queued with the event that causes them (same transaction, one per event), sent by the worker
by the channels the line chose (SMS, e-mail, its own webhook), rendered in the line's language.

Sending is at least once, never lost: the worker leases a batch (other workers skip it until the lease ends),
sends each notification by each of its pending channels, and records what each channel did. A channel that
fails in a way a retry may mend is tried again later (1, 5, 30 minutes, 2 and 6 hours, then given up); one
that fails for good is recorded as failed. A worker killed mid-batch leaves its lease to run out: the next
worker sends what was not recorded as sent (a message may then go twice; none is lost).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from topup.domain.catalogue import Bundle
from topup.domain.lines import Line
from topup.domain.notifications import (
    Notification,
    NotificationKind,
    NotificationSettings,
    check_email_address,
    check_muted_kinds,
    retry_delay,
)
from topup.domain.numbers import parse_msisdn
from topup.domain.webhooks import SIGNATURE_HEADER, check_url, signature
from topup.services.channels import Channel, ChannelUnavailable, EmailSender, SmsSender, SubscriberWebhookSender
from topup.services.lines import require_line
from topup.services.ports import Clock, UnitOfWork

logger = logging.getLogger("topup.notifications")
INBOX_LIMIT_MAX = 200
LEASE = timedelta(minutes=5)  # by default, a leased batch is another worker's to skip for this long
OUTCOME_LENGTH_MAX = 160


@dataclass(frozen=True, slots=True)
class Rendered:
    language: str
    subject: str  # a short title (an e-mail's subject)
    text: str


class NotificationRenderer(Protocol):
    def render(self, notification: Notification) -> Rendered: ...


@dataclass(frozen=True, slots=True)
class Notifier:
    """Everything sending needs: the clock, words, and the channels."""

    clock: Clock
    renderer: NotificationRenderer
    sms: SmsSender
    email: EmailSender
    webhook: SubscriberWebhookSender
    lease: timedelta = LEASE  # longer than a batch can take to send: a worker that died is taken over after it


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


def deliver_due(uow: UnitOfWork, notifier: Notifier, *, limit: int = 50) -> int:
    """Send up to `limit` due notifications by their channels; returns how many were looked at.

    Three transactions for the batch, none while sending: lease the batch with its lines' settings, send, record
    what each channel did. A worker that dies while sending leaves the batch leased; after the lease another
    worker sends what was not recorded (at least once: an SMS may then arrive twice, none is lost). A send that
    raises (a template that cannot render) still has the ones before it recorded, then fails the pass."""
    now = notifier.clock.now()
    with uow:
        due = uow.notifications.lease_unsent(now=now, lease_until=now + notifier.lease, limit=limit)
        settings = uow.notification_settings.get_many({notification.msisdn for notification in due})
        uow.commit()
    done: list[_Progress] = []
    try:
        for notification in due:
            line_settings = settings.get(notification.msisdn) or NotificationSettings(notification.msisdn)
            done.append(_send(notifier, notification, line_settings))
    finally:
        _record(uow, done)
    return len(due)


def deliver_now(uow: UnitOfWork, notifier: Notifier, *, notification_id: str) -> bool:
    """Send one notification at once (a sign-in code should not wait for the worker's next pass); False when
    it was sent already or another worker holds it. If this fails, the worker tries again as usual."""
    now = notifier.clock.now()
    with uow:
        leased = uow.notifications.lease(notification_id, now=now, lease_until=now + notifier.lease)
        settings = None if leased is None else uow.notification_settings.get(leased.msisdn)
        uow.commit()
    if leased is None:
        return False
    done = _send(notifier, leased, settings or NotificationSettings(leased.msisdn))
    _record(uow, [done])
    return done.notification.sent_at is not None


def _record(uow: UnitOfWork, done: list[_Progress]) -> None:
    if not done:
        return
    with uow:
        uow.notifications.record_deliveries([(each.notification, each.next_attempt_at) for each in done])
        uow.commit()


@dataclass(frozen=True, slots=True)
class _Progress:
    notification: Notification
    next_attempt_at: datetime | None


def _send(notifier: Notifier, notification: Notification, settings: NotificationSettings) -> _Progress:
    pending = (
        settings.channels_for(notification.kind)
        if notification.pending_channels is None
        else list(notification.pending_channels)
    )
    deliveries = dict(notification.deliveries)
    rendered = notifier.renderer.render(notification)  # a template that cannot render fails the worker's pass
    retry = False
    for channel in list(pending):
        try:
            deliveries[channel] = f"sent {_by(notifier, Channel(channel), notification, settings, rendered)}"
            pending.remove(channel)
        except ChannelUnavailable as failure:
            deliveries[channel] = f"{'retrying' if failure.retryable else 'failed'}: {failure}"[:OUTCOME_LENGTH_MAX]
            if failure.retryable:
                retry = True
            else:
                pending.remove(channel)
    now = notifier.clock.now()
    attempts = notification.attempts + (1 if retry else 0)
    delay = retry_delay(attempts) if retry else None
    if retry and delay is None:  # tried long enough: give the remaining channels up
        for channel in pending:
            deliveries[channel] = f"failed: gave up after {attempts} tries"
        pending = []
    finished = replace(
        notification,
        pending_channels=pending,
        deliveries=deliveries,
        attempts=attempts,
        sent_at=None if pending else now,
    )
    return _Progress(finished, now + delay if pending and delay is not None else None)


def _by(
    notifier: Notifier, channel: Channel, notification: Notification, settings: NotificationSettings, text: Rendered
) -> str:
    """Send by one channel; what it answered (a message id, an HTTP status)."""
    if channel is Channel.SMS:
        return notifier.sms.send_sms(to_msisdn=notification.msisdn, text=text.text)
    if channel is Channel.EMAIL:
        if not settings.email_address:
            raise ChannelUnavailable("no e-mail address any more", retryable=False)
        notifier.email.send_email(
            to_address=settings.email_address, subject=text.subject, text=text.text, language=text.language
        )
        return "e-mail"
    if not settings.webhook_url or not settings.webhook_secret:
        raise ChannelUnavailable("no webhook any more", retryable=False)
    return _post_webhook(notifier, notification, settings.webhook_url, settings.webhook_secret, text)


def _post_webhook(notifier: Notifier, notification: Notification, url: str, secret: str, text: Rendered) -> str:
    body = json.dumps(
        {
            "id": notification.id,
            "type": f"notification.{notification.kind.value}",
            "msisdn": notification.msisdn,
            "language": text.language,
            "text": text.text,
            "params": notification.params,
            "created_at": notification.created_at.isoformat() if notification.created_at else None,
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Topup-Event-Id": notification.id,
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
    }
    status, error = notifier.webhook.post(url, body, headers)
    if status is None:
        raise ChannelUnavailable(error or "no answer", retryable=True)
    if not 200 <= status < 300:
        raise ChannelUnavailable(f"HTTP {status}", retryable=status >= 500 or status in (408, 429))
    return f"HTTP {status}"


def inbox(uow: UnitOfWork, *, number: str | None = None, limit: int = 50) -> list[Notification]:
    """The newest notifications (of one line, or of all): the development inbox."""
    limit = max(1, min(limit, INBOX_LIMIT_MAX))
    msisdn = parse_msisdn(number).e164 if number else None
    with uow:
        return uow.notifications.latest(msisdn=msisdn, limit=limit)


# --- a line's settings ----------------------------------------------------------------------------------------


def settings_of(uow: UnitOfWork, *, number: str) -> NotificationSettings:
    msisdn = parse_msisdn(number)
    with uow:
        require_line(uow, msisdn)
        return uow.notification_settings.get(msisdn.e164) or NotificationSettings(msisdn.e164)


def change_settings(
    uow: UnitOfWork,
    clock: Clock,
    *,
    number: str,
    sms: bool,
    email_address: str | None,
    webhook_url: str | None,
    muted: list[str],
    allow_http_webhook: bool = False,
) -> NotificationSettings:
    """Replace the line's settings. A new webhook address gets a new signing secret (returned once, here)."""
    msisdn = parse_msisdn(number)
    email = check_email_address(email_address) if email_address else None
    url = check_url(webhook_url, allow_http=allow_http_webhook) if webhook_url else None
    muted_kinds = check_muted_kinds(muted)
    with uow:
        require_line(uow, msisdn, for_update=True)
        before = uow.notification_settings.get(msisdn.e164)
        secret = before.webhook_secret if before is not None and before.webhook_url == url else None
        if url is not None and secret is None:
            secret = secrets.token_hex(32)
        settings = NotificationSettings(
            msisdn=msisdn.e164,
            sms=sms,
            email_address=email,
            webhook_url=url,
            webhook_secret=secret if url else None,
            muted_kinds=muted_kinds,
            updated_at=clock.now(),
        )
        uow.notification_settings.put(settings)
        uow.commit()
    return settings
