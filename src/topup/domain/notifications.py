"""What a subscriber is told, and when. A notification is queued in the same transaction as the event that
causes it, under a de-duplication key: one notification per event, however often the event's code runs (a
retried job, a repeated request). It is rendered in the line's language when it is sent."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from topup.domain.errors import InvalidInput


class NotificationKind(StrEnum):
    TOPUP_DONE = "topup_done"
    BALANCE_LOW = "balance_low"
    DATA_75 = "data_75"  # 75 % of a bundle's data used
    DATA_90 = "data_90"
    BUNDLE_EXPIRING_3D = "bundle_expiring_3d"
    BUNDLE_EXPIRING_1D = "bundle_expiring_1d"
    RENEWAL_DONE = "renewal_done"
    RENEWAL_FAILED = "renewal_failed"
    VALIDITY_ENDING = "validity_ending"  # the main balance's usage period ends in 3 days
    AUTO_RECHARGE_DONE = "auto_recharge_done"
    AUTO_RECHARGE_FAILED = "auto_recharge_failed"  # this run failed; it is tried again
    AUTO_RECHARGE_SUSPENDED = "auto_recharge_suspended"  # it failed for good: the subscriber must act
    SIGN_IN_CODE = "sign_in_code"  # the portal's one-time code: by SMS only, never muted


# Kinds that go by SMS whatever the line chose, and cannot be muted.
SMS_ONLY = frozenset({NotificationKind.SIGN_IN_CODE})


# A line's main balance below this (1.00 AZN) is low; told once each time it falls below.
BALANCE_LOW_QEPIK = 100
DATA_THRESHOLDS = ((90, NotificationKind.DATA_90), (75, NotificationKind.DATA_75))


# A channel that failed is tried again after 1, 5, 30 minutes, 2 and 6 hours; then it is given up.
RETRY_DELAYS = tuple(timedelta(seconds=s) for s in (60, 300, 1800, 7200, 21_600))
EMAIL_LENGTH_MAX = 254
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+")


@dataclass
class Notification:
    id: str
    msisdn: str
    kind: NotificationKind
    dedupe_key: str
    language: str
    params: dict[str, str] = field(default_factory=dict)  # plain values; formatted per language when rendered
    created_at: datetime | None = None
    sent_at: datetime | None = None  # every channel is done with it (sent, or given up)
    pending_channels: list[str] | None = None  # None: not yet routed by the line's settings
    deliveries: dict[str, str] = field(default_factory=dict)  # channel: "sent <id>" or "failed <why>"
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    """How a line wants to be told. Without settings of its own a line gets SMS, about everything."""

    msisdn: str
    sms: bool = True
    email_address: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None  # signs webhook deliveries; shown to the subscriber once
    muted_kinds: frozenset[NotificationKind] = frozenset()
    updated_at: datetime | None = None

    def channels_for(self, kind: NotificationKind) -> list[str]:
        """The channels a notification of `kind` goes by (none when muted)."""
        if kind in SMS_ONLY:
            return ["sms"]
        if kind in self.muted_kinds:
            return []
        channels = ["sms"] if self.sms else []
        if self.email_address:
            channels.append("email")
        if self.webhook_url:
            channels.append("webhook")
        return channels


def check_email_address(address: str) -> str:
    address = address.strip()
    if len(address) > EMAIL_LENGTH_MAX or _EMAIL.fullmatch(address) is None:
        raise InvalidInput("This is not an e-mail address.", field="email")
    return address


def check_muted_kinds(kinds: list[str]) -> frozenset[NotificationKind]:
    known = {kind.value for kind in NotificationKind if kind not in SMS_ONLY}
    unknown = sorted(set(kinds) - known)
    if unknown:
        raise InvalidInput(
            f"Unknown notification kinds: {', '.join(unknown)[:200]}.", field="muted", allowed=sorted(known)
        )
    return frozenset(NotificationKind(kind) for kind in kinds)


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after the `attempts`-th failed try of a channel; None: give that channel up."""
    if attempts > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts - 1]


def data_threshold_crossed(initial: int, before: int, after: int) -> NotificationKind | None:
    """The highest usage threshold a bucket crossed going from `before` to `after` units left."""
    if initial <= 0 or after >= before:
        return None
    for percent, kind in DATA_THRESHOLDS:
        line = initial * (100 - percent)  # left * 100 <= line means `percent` used
        if after * 100 <= line < before * 100:
            return kind
    return None
