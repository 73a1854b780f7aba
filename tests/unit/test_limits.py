"""Daily count and amount limits, and the cool-down between two top-ups of one number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from topup.domain.limits import LimitExceeded, Limits, TopUpTooSoon, Usage, check_limits

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LIMITS = Limits(daily_count_max=5, daily_amount_max_qepik=50_000, cooldown_seconds=120)  # 5 top-ups, 500 AZN


def test_a_first_top_up_passes() -> None:
    check_limits(LIMITS, Usage(0, 0, None), 1_000, now=NOW, subject="line")


def test_the_last_top_up_within_the_daily_count_passes() -> None:
    check_limits(LIMITS, Usage(count=4, amount_qepik=0, last_at=None), 100, now=NOW, subject="line")


@pytest.mark.parametrize("count", [5, 6, 100])
def test_one_top_up_over_the_daily_count_is_refused(count: int) -> None:
    with pytest.raises(LimitExceeded) as excinfo:
        check_limits(LIMITS, Usage(count=count, amount_qepik=0, last_at=None), 100, now=NOW, subject="line")
    assert excinfo.value.code == "limit_exceeded"
    assert excinfo.value.details == {"subject": "line", "limit": "daily_count", "maximum": 5}
    assert excinfo.value.message == "This line has reached its 5 top-ups for today."


def test_an_amount_reaching_exactly_the_daily_maximum_passes() -> None:
    check_limits(LIMITS, Usage(count=1, amount_qepik=40_000, last_at=None), 10_000, now=NOW, subject="line")


@pytest.mark.parametrize(
    ("used_qepik", "amount_qepik", "remaining"),
    [
        (40_000, 10_001, "100.00"),  # one qəpik over
        (12_345, 40_000, "376.55"),
        (0, 50_001, "500.00"),
        (49_999, 2, "0.01"),
        (50_000, 1, "0.00"),
        (60_000, 1, "0.00"),  # already over (the maximum was lowered): nothing is left, not a negative
    ],
)
def test_an_amount_over_the_daily_maximum_is_refused(used_qepik: int, amount_qepik: int, remaining: str) -> None:
    usage = Usage(count=1, amount_qepik=used_qepik, last_at=None)
    with pytest.raises(LimitExceeded) as excinfo:
        check_limits(LIMITS, usage, amount_qepik, now=NOW, subject="payment method")
    assert excinfo.value.code == "limit_exceeded"
    assert excinfo.value.details == {"subject": "payment method", "limit": "daily_amount", "remaining": remaining}
    assert excinfo.value.message == f"This payment method can take at most {remaining} AZN more today."


def test_the_count_is_checked_before_the_amount() -> None:
    with pytest.raises(LimitExceeded) as excinfo:
        check_limits(LIMITS, Usage(count=5, amount_qepik=50_000, last_at=None), 1, now=NOW, subject="line")
    assert excinfo.value.details["limit"] == "daily_count"


def test_a_top_up_within_the_cool_down_is_refused() -> None:
    usage = Usage(count=1, amount_qepik=1_000, last_at=NOW - timedelta(seconds=30))
    with pytest.raises(TopUpTooSoon) as excinfo:
        check_limits(LIMITS, usage, 1_000, now=NOW, subject="line")
    assert excinfo.value.code == "too_many_top_ups"
    assert excinfo.value.details == {"retry_after_seconds": 91}


@pytest.mark.parametrize(
    ("elapsed", "retry_after_seconds"),
    [
        (timedelta(0), 121),
        (timedelta(seconds=119), 2),
        (timedelta(seconds=119, milliseconds=500), 1),
        (timedelta(seconds=120) - timedelta(microseconds=1), 1),
    ],
)
def test_retry_after_counts_whole_seconds_up_to_the_end_of_the_cool_down(
    elapsed: timedelta, retry_after_seconds: int
) -> None:
    usage = Usage(count=1, amount_qepik=1_000, last_at=NOW - elapsed)
    with pytest.raises(TopUpTooSoon) as excinfo:
        check_limits(LIMITS, usage, 1_000, now=NOW, subject="line")
    assert excinfo.value.details == {"retry_after_seconds": retry_after_seconds}


@pytest.mark.parametrize("elapsed", [timedelta(seconds=120), timedelta(seconds=121), timedelta(days=1)])
def test_a_top_up_at_or_after_the_ready_time_passes(elapsed: timedelta) -> None:
    usage = Usage(count=1, amount_qepik=1_000, last_at=NOW - elapsed)
    check_limits(LIMITS, usage, 1_000, now=NOW, subject="line")


@pytest.mark.parametrize("elapsed", [timedelta(0), timedelta(seconds=1), -timedelta(seconds=30)])
def test_no_cool_down_never_blocks(elapsed: timedelta) -> None:
    limits = Limits(daily_count_max=5, daily_amount_max_qepik=50_000, cooldown_seconds=0)
    check_limits(limits, Usage(count=1, amount_qepik=1_000, last_at=NOW - elapsed), 1_000, now=NOW, subject="line")


def test_the_cool_down_defaults_to_none() -> None:
    limits = Limits(daily_count_max=5, daily_amount_max_qepik=50_000)
    assert limits.cooldown_seconds == 0
    check_limits(limits, Usage(count=1, amount_qepik=1_000, last_at=NOW), 1_000, now=NOW, subject="line")


def test_no_previous_top_up_passes_the_cool_down() -> None:
    check_limits(LIMITS, Usage(count=0, amount_qepik=0, last_at=None), 1_000, now=NOW, subject="line")


@given(
    count_max=st.integers(min_value=0, max_value=50),
    amount_max=st.integers(min_value=0, max_value=10_000_000),
    count=st.integers(min_value=0, max_value=60),
    used=st.integers(min_value=0, max_value=12_000_000),
    amount=st.integers(min_value=1, max_value=10_000_000),
)
def test_without_a_cool_down_a_top_up_passes_exactly_when_it_fits(
    count_max: int, amount_max: int, count: int, used: int, amount: int
) -> None:
    limits = Limits(daily_count_max=count_max, daily_amount_max_qepik=amount_max)
    usage = Usage(count=count, amount_qepik=used, last_at=NOW)
    fits = count + 1 <= count_max and used + amount <= amount_max
    if fits:
        check_limits(limits, usage, amount, now=NOW, subject="line")
    else:
        with pytest.raises(LimitExceeded) as excinfo:
            check_limits(limits, usage, amount, now=NOW, subject="line")
        expected = "daily_count" if count + 1 > count_max else "daily_amount"
        assert excinfo.value.details["limit"] == expected


@given(
    cooldown_seconds=st.integers(min_value=1, max_value=3_600),
    elapsed_microseconds=st.integers(min_value=0, max_value=7_200_000_000),
)
def test_the_cool_down_blocks_exactly_until_the_ready_time(cooldown_seconds: int, elapsed_microseconds: int) -> None:
    limits = Limits(daily_count_max=5, daily_amount_max_qepik=50_000, cooldown_seconds=cooldown_seconds)
    usage = Usage(count=1, amount_qepik=1_000, last_at=NOW - timedelta(microseconds=elapsed_microseconds))
    left_microseconds = cooldown_seconds * 1_000_000 - elapsed_microseconds
    if left_microseconds <= 0:
        check_limits(limits, usage, 1_000, now=NOW, subject="line")
        return
    with pytest.raises(TopUpTooSoon) as excinfo:
        check_limits(limits, usage, 1_000, now=NOW, subject="line")
    retry_after = excinfo.value.details["retry_after_seconds"]
    # Waiting that long is always enough, and never more than one second longer than needed.
    assert retry_after * 1_000_000 >= left_microseconds
    assert (retry_after - 1) * 1_000_000 <= left_microseconds
