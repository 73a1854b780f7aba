"""The usage simulator plays days of traffic through the real services: money moves only through the ledger,
balances drain, bundles expire, notifications are sent, and the same seed plays the same days."""

from __future__ import annotations

import pytest

from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.calendar import baku_date
from topup.entrypoints import simulate
from topup.services import charging, ledger, notifications


def test_days_of_traffic_drain_balances_and_keep_the_ledger_balanced(
    application: Application, clock: FixedClock
) -> None:
    first_day = baku_date(clock.now())
    progress: list[int] = []

    report = simulate.simulate(
        application, line_count=4, days=3, seed=7, progress=lambda done, _: progress.append(done)
    )

    assert progress == [1, 2, 3]
    assert baku_date(clock.now()).toordinal() == first_day.toordinal() + 3
    assert report.sessions > 30
    assert report.charged_qepik > 0
    assert report.data_kb > 0
    assert report.notifications_sent >= 4  # at least each line's first top-up
    assert ledger.audit_ledger(application.uow()).ok
    used = charging.usage_by_day(application.uow(), application.clock, number=simulate.number_of(0), days=4)
    assert sum(day.data_kb for day in used) > 0
    assert notifications.inbox(application.uow(), number=simulate.number_of(0))


def test_the_same_seed_plays_the_same_traffic() -> None:
    import random
    from datetime import datetime

    from topup.domain.calendar import BAKU

    midnight = datetime(2026, 11, 23, tzinfo=BAKU)
    numbers = [simulate.number_of(index) for index in range(5)]

    def day(seed: int) -> list[tuple[datetime, str, str]]:
        events = simulate._events_of_day(numbers, midnight, random.Random(seed))
        return [(event.at, event.number, event.service.value) for event in events]

    assert day(3) == day(3)
    assert day(3) != day(4)
    assert all(midnight <= at < midnight.replace(day=24) for at, _, _ in day(3))


def test_the_simulator_needs_its_own_clock_and_sane_sizes(application: Application) -> None:
    with pytest.raises(ValueError, match="lines must be"):
        simulate.simulate(application, line_count=0, days=1)
