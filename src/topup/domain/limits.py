"""Limits on top-ups: a daily count and amount per line and per payment method, and a cool-down between two
top-ups of one number (some operators refuse a second top-up within minutes; Reloadly locks a number for 2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from topup.domain.errors import DomainError
from topup.domain.money import format_amount


class LimitExceeded(DomainError):
    code = "limit_exceeded"


class TopUpTooSoon(DomainError):
    code = "too_many_top_ups"


@dataclass(frozen=True, slots=True)
class Limits:
    daily_count_max: int
    daily_amount_max_qepik: int
    cooldown_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    """What a line (or a payment method) has already done today (Baku day)."""

    count: int
    amount_qepik: int
    last_at: datetime | None


def check_limits(limits: Limits, usage: Usage, amount_qepik: int, *, now: datetime, subject: str) -> None:
    """`subject` names what is limited ("line", "payment method") in the message."""
    if usage.count + 1 > limits.daily_count_max:
        raise LimitExceeded(
            f"This {subject} has reached its {limits.daily_count_max} top-ups for today.",
            subject=subject,
            limit="daily_count",
            maximum=limits.daily_count_max,
        )
    if usage.amount_qepik + amount_qepik > limits.daily_amount_max_qepik:
        left = max(0, limits.daily_amount_max_qepik - usage.amount_qepik)
        raise LimitExceeded(
            f"This {subject} can take at most {format_amount(left)} AZN more today.",
            subject=subject,
            limit="daily_amount",
            remaining=format_amount(left),
        )
    if limits.cooldown_seconds and usage.last_at is not None:
        ready_at = usage.last_at + timedelta(seconds=limits.cooldown_seconds)
        if now < ready_at:
            raise TopUpTooSoon(
                "This number was just topped up: try again in a moment.",
                retry_after_seconds=int((ready_at - now).total_seconds()) + 1,
            )
