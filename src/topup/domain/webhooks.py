"""Webhooks: which events exist, how a delivery is signed, and when a failed one is tried again."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from enum import StrEnum

from topup.domain.errors import InvalidInput
from topup.domain.orders import OrderState


class EventType(StrEnum):
    ORDER_COMPLETED = "order.completed"
    ORDER_FAILED = "order.failed"
    ORDER_REFUNDED = "order.refunded"


EVENT_FOR_STATE = {
    OrderState.FULFILLED: EventType.ORDER_COMPLETED,
    OrderState.FAILED: EventType.ORDER_FAILED,
    OrderState.REFUNDED: EventType.ORDER_REFUNDED,
}
# After a failed attempt: 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, then daily; given up after ATTEMPTS_MAX.
RETRY_DELAYS = tuple(timedelta(seconds=s) for s in (60, 300, 1800, 7200, 21_600, 43_200, 86_400))
ATTEMPTS_MAX = 10
SIGNATURE_HEADER = "Topup-Signature"
URL_LENGTH_MAX = 2000


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after the `attempts`-th failed attempt; None when it is time to give up."""
    if attempts >= ATTEMPTS_MAX:
        return None
    return RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver recomputes it and refuses old
    timestamps, so a captured delivery cannot be replayed later."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def check_url(url: str, *, allow_http: bool) -> str:
    if len(url) > URL_LENGTH_MAX or not (url.startswith("https://") or (allow_http and url.startswith("http://"))):
        raise InvalidInput("A webhook URL is an https:// address (http:// only in development).", field="url")
    return url


def check_events(events: list[str]) -> list[EventType]:
    known = {e.value for e in EventType}
    if not events or not set(events) <= known:
        raise InvalidInput(f"events must be some of {', '.join(sorted(known))}.", field="events")
    return [EventType(e) for e in dict.fromkeys(events)]
