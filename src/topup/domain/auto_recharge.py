"""Auto-recharge: a line tops itself up from a saved card, through an order like any other.

Two kinds of rule, at most one of each per line:
- **threshold**: when the main balance falls below `threshold_qepik`, top up `amount_qepik`, at most
  `monthly_max` times a Baku calendar month. It fires once per fall: a debit that takes the balance from at or
  above the threshold to below it marks the rule due (the trigger is persisted on the rule, never re-derived
  from every debit); staying below does not fire again until the balance has been back up and falls again.
- **schedule**: top up `amount_qepik` on `day_of_month` of every month at 10:00 Baku time (a day the month
  does not have means its last day: the 31st is 30 April, 28 or 29 February).

A failed run is retried after 1 hour, 6 hours and 1 day; a card the bank refuses for good (expired, declined,
removed) suspends the rule at once, and so do three failures in a row. A suspended rule does nothing until the
subscriber sets it again. Every outcome is told to the subscriber.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from topup.domain.calendar import BAKU
from topup.domain.errors import DomainError, ErrorKind, InvalidInput

SCHEDULE_TIME_BAKU = time(10, 0)  # not at midnight: a subscriber told at 10:00 can still act the same day
RETRY_DELAYS = (timedelta(hours=1), timedelta(hours=6), timedelta(days=1))
FAILURES_MAX = 3  # consecutive failures before the rule is suspended
MONTHLY_MAX_LIMIT = 31
DAY_OF_MONTH_MAX = 31
# Declines that another try with the same card cannot mend: the subscriber must act.
FINAL_FAILURES = frozenset(
    {
        "card_declined",
        "expired_card",
        "incorrect_cvc",
        "saved_card_not_found",
        "payment_method_not_found",
        "payment_method_removed",
        "payment_method_expired",
        "line_closed",
        "line_barred",
        "line_validity_expired",
        "amount_out_of_range",
        "amount_not_a_denomination",
    }
)


class RuleKind(StrEnum):
    THRESHOLD = "threshold"
    SCHEDULE = "schedule"


class RuleState(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # too many failures, or a card that can no longer pay: waits for the subscriber


class AutoRechargeNotFound(DomainError):
    code = "auto_recharge_not_found"
    kind = ErrorKind.NOT_FOUND


@dataclass
class AutoRecharge:
    id: str
    scope: str  # who set it up (an API key's id, or the portal): its orders are theirs
    msisdn: str
    kind: RuleKind
    amount_qepik: int
    payment_method_id: str
    created_at: datetime
    updated_at: datetime
    threshold_qepik: int | None = None
    monthly_max: int | None = None
    day_of_month: int | None = None
    state: RuleState = RuleState.ACTIVE
    due_at: datetime | None = None  # when it should run next; None: not due (a threshold rule waits for a fall)
    in_flight_order_id: str | None = None  # the order of the run under way
    consecutive_failures: int = 0
    last_order_id: str | None = None
    last_outcome: str | None = None  # "fulfilled", or the failure's code
    last_run_at: datetime | None = None
    suspended_reason: str | None = None


def check_threshold_rule(*, threshold_qepik: int, amount_qepik: int, monthly_max: int) -> None:
    """The rule's own sense; the amount is also checked against the operator's top-up rules."""
    if threshold_qepik <= 0:
        raise InvalidInput("The threshold must be more than 0.00 AZN.", field="threshold")
    if threshold_qepik > amount_qepik * 10:
        # A threshold far above what one top-up brings would fire again and again.
        raise InvalidInput("The threshold may be at most ten times the top-up amount.", field="threshold")
    if not 1 <= monthly_max <= MONTHLY_MAX_LIMIT:
        raise InvalidInput(f"monthly_max must be 1 to {MONTHLY_MAX_LIMIT}.", field="monthly_max")


def check_day_of_month(day_of_month: int) -> None:
    if not 1 <= day_of_month <= DAY_OF_MONTH_MAX:
        raise InvalidInput(f"day_of_month must be 1 to {DAY_OF_MONTH_MAX}.", field="day_of_month")


def scheduled_moment(year: int, month: int, day_of_month: int) -> datetime:
    """10:00 Baku on `day_of_month` of that month, or on its last day when it is shorter."""
    day = min(day_of_month, calendar.monthrange(year, month)[1])
    return datetime.combine(date(year, month, day), SCHEDULE_TIME_BAKU, tzinfo=BAKU)


def next_scheduled(day_of_month: int, *, after: datetime) -> datetime:
    """The first scheduled moment strictly after `after` (aware)."""
    local = after.astimezone(BAKU)
    year, month = local.year, local.month
    for _ in range(2):  # this month's moment, or next month's
        moment = scheduled_moment(year, month, day_of_month)
        if moment > local:
            return moment
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise AssertionError("unreachable: next month's moment is always later")


def month_start(moment: datetime) -> datetime:
    """The first instant of `moment`'s Baku calendar month."""
    local = moment.astimezone(BAKU)
    return datetime.combine(date(local.year, local.month, 1), time(0), tzinfo=BAKU)


def next_month_start(moment: datetime) -> datetime:
    local = moment.astimezone(BAKU)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime.combine(date(year, month, 1), time(0), tzinfo=BAKU)


def fell_below(threshold_qepik: int | None, *, before_qepik: int, after_qepik: int) -> bool:
    """A debit that crossed the threshold from at-or-above to below: the one moment a threshold rule fires."""
    return threshold_qepik is not None and after_qepik < threshold_qepik <= before_qepik


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a finished run does to its rule."""

    state: RuleState
    due_at: datetime | None
    consecutive_failures: int
    suspended_reason: str | None


def after_success(rule: AutoRecharge, *, now: datetime) -> RunOutcome:
    due = next_scheduled(rule.day_of_month or 1, after=now) if rule.kind is RuleKind.SCHEDULE else None
    return RunOutcome(RuleState.ACTIVE, due, 0, None)


def after_failure(rule: AutoRecharge, code: str, *, now: datetime) -> RunOutcome:
    """Retry later, or suspend: at once for a failure no retry can mend, or after `FAILURES_MAX` in a row."""
    failures = rule.consecutive_failures + 1
    if code in FINAL_FAILURES or failures >= FAILURES_MAX:
        return RunOutcome(RuleState.SUSPENDED, None, failures, code)
    return RunOutcome(RuleState.ACTIVE, now + RETRY_DELAYS[failures - 1], failures, None)
