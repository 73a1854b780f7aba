"""Fixed-window rate limits kept in the database, so that every server process counts together: a key (what is
limited, e.g. "sign-in-code:address:203.0.113.7"), a window and a maximum."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from topup.domain.sign_in import TooManyRequests
from topup.services.ports import UnitOfWork

KEY_LENGTH_MAX = 120


def window_start(now: datetime, window: timedelta) -> datetime:
    seconds = int(window.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def hit(uow: UnitOfWork, key: str, *, limit: int, window: timedelta, now: datetime, what: str) -> None:
    """Inside the caller's transaction: count one more, and refuse with `too_many_requests` beyond `limit`.
    A refused hit is not rolled back by itself (the caller's transaction decides); callers that must count
    refused tries too commit before raising."""
    start = window_start(now, window)
    if uow.rate_counters.hit(key[:KEY_LENGTH_MAX], window_start=start) > limit:
        raise TooManyRequests(f"Too many {what}: try again later.", retry_at=(start + window).isoformat())


def would_exceed(uow: UnitOfWork, key: str, *, limit: int, window: timedelta, now: datetime) -> bool:
    return uow.rate_counters.count(key[:KEY_LENGTH_MAX], window_start=window_start(now, window)) >= limit
