"""What a subscriber is told, and when. A notification is queued in the same transaction as the event that
causes it, under a de-duplication key: one notification per event, however often the event's code runs (a
retried job, a repeated request). It is rendered in the line's language when it is sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


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


# A line's main balance below this (1.00 AZN) is low; told once each time it falls below.
BALANCE_LOW_QEPIK = 100
DATA_THRESHOLDS = ((90, NotificationKind.DATA_90), (75, NotificationKind.DATA_75))


@dataclass
class Notification:
    id: str
    msisdn: str
    kind: NotificationKind
    dedupe_key: str
    language: str
    params: dict[str, str] = field(default_factory=dict)  # plain values; formatted per language when rendered
    created_at: datetime | None = None
    sent_at: datetime | None = None


def data_threshold_crossed(initial: int, before: int, after: int) -> NotificationKind | None:
    """The highest usage threshold a bucket crossed going from `before` to `after` units left."""
    if initial <= 0 or after >= before:
        return None
    for percent, kind in DATA_THRESHOLDS:
        line = initial * (100 - percent)  # left * 100 <= line means `percent` used
        if after * 100 <= line < before * 100:
            return kind
    return None
