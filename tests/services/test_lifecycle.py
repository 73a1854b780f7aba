"""Bundle expiry and renewal, on SQLite and PostgreSQL, with a controlled clock."""

from __future__ import annotations

from datetime import timedelta

from tests.factories import buy_bundle, make_line
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.lifecycle import RenewalState
from topup.services import history, ledger, lifecycle, lines, topups
from topup.services.order_saga import CREATED_GRACE

RENEWING = "azercell-10gb-30d"  # 15.00 AZN, 10 GB, 30 days, auto-renew in the sample catalogue
ONE_DAY = "azercell-1gb-1d"  # 1.00 AZN, no auto-renew


def state(application: Application, number: str) -> tuple[int, list[tuple[str, int]]]:
    balance = lines.balance(application.uow(), application.clock, number=number)
    return balance.main_qepik, [(view.bundle_code, view.bucket.balance) for view in balance.buckets]


def expire(application: Application) -> int:
    return lifecycle.expire_bundles(application.uow(), application.lifecycle)


def renew(application: Application) -> int:
    return lifecycle.renew_due(application.uow(), application.lifecycle)


def test_an_expired_bundle_leaves_the_line_once_and_is_not_renewed_unless_marked(
    application: Application, clock: FixedClock
) -> None:
    number = make_line(application, balance_qepik=500).msisdn.e164
    buy_bundle(application, number, ONE_DAY)
    assert expire(application) == 0  # nothing has expired yet

    clock.advance(timedelta(days=1, seconds=1))
    assert expire(application) == 1
    assert expire(application) == 0  # settled once

    assert state(application, number) == (400, [])
    kinds = sorted(item.kind.value for item in history.transactions(application.uow(), number=number).items)
    assert kinds == ["bundle_purchase", "expiry", "topup"]
    assert lifecycle.renewals(application.uow(), number=number) == []
    assert ledger.audit_ledger(application.uow()).ok


def test_an_auto_renewing_bundle_is_bought_again_when_it_expires(application: Application, clock: FixedClock) -> None:
    number = make_line(application, balance_qepik=5000).msisdn.e164
    buy_bundle(application, number, RENEWING)
    clock.advance(timedelta(days=30, seconds=1))

    assert expire(application) == 1
    assert renew(application) == 1
    assert renew(application) == 0

    assert state(application, number) == (2000, [(RENEWING, 10_000_000)])
    [renewal] = lifecycle.renewals(application.uow(), number=number)
    assert (renewal.state, renewal.attempts, renewal.renewed_transaction_id is not None) == (
        RenewalState.RENEWED,
        1,
        True,
    )


def test_a_short_balance_is_retried_daily_and_renews_once_topped_up(
    application: Application, clock: FixedClock
) -> None:
    number = make_line(application, balance_qepik=1500).msisdn.e164
    buy_bundle(application, number, RENEWING)  # the balance is now 0
    clock.advance(timedelta(days=30, seconds=1))
    expire(application)

    assert renew(application) == 1
    [waiting] = lifecycle.renewals(application.uow(), number=number)
    assert (waiting.state, waiting.attempts, waiting.last_failure) == (
        RenewalState.PENDING,
        1,
        "insufficient_balance",
    )
    assert waiting.next_attempt_at == clock.now() + timedelta(days=1)
    assert renew(application) == 0  # not due before tomorrow

    assert lines.balance(application.uow(), application.clock, number=number).main_qepik == 0
    topups.top_up(
        application.uow(), application.clock, application.codes, number=number, amount_qepik=2000, channel="api"
    )
    clock.advance(timedelta(days=1))
    assert renew(application) == 1

    assert state(application, number) == (500, [(RENEWING, 10_000_000)])
    assert lifecycle.renewals(application.uow(), number=number)[0].state is RenewalState.RENEWED


def test_a_renewal_is_given_up_after_its_period(application: Application, clock: FixedClock) -> None:
    number = make_line(application, balance_qepik=1500).msisdn.e164
    buy_bundle(application, number, RENEWING)
    clock.advance(timedelta(days=30, seconds=1))
    expire(application)

    for _ in range(91):
        renew(application)
        clock.advance(timedelta(days=1))

    [renewal] = lifecycle.renewals(application.uow(), number=number)
    assert (renewal.state, renewal.next_attempt_at, renewal.attempts) == (RenewalState.GIVEN_UP, None, 90)


def test_expiry_missed_while_the_worker_was_down_is_caught_up(application: Application, clock: FixedClock) -> None:
    numbers = [make_line(application, balance_qepik=300).msisdn.e164 for _ in range(3)]
    for number in numbers:
        buy_bundle(application, number, ONE_DAY)
    clock.advance(timedelta(days=10) + CREATED_GRACE)

    assert expire(application) == 3
    assert [state(application, number) for number in numbers] == [(200, [])] * 3
    assert ledger.audit_ledger(application.uow()).ok


def test_units_held_by_a_session_when_their_bundle_expires_expire_too(
    application: Application, clock: FixedClock
) -> None:
    from topup.domain.charging import Service
    from topup.services import charging

    number = make_line(application, balance_qepik=100).msisdn.e164
    buy_bundle(application, number, ONE_DAY)
    opened = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=500_000
    )
    clock.advance(timedelta(days=1, seconds=1))
    expire(application)

    charging.terminate_session(
        application.uow(), application.charging, session_id=opened["session_id"], request_number=1, used=100_000
    )

    assert state(application, number) == (0, [])
    assert ledger.audit_ledger(application.uow()).ok


def test_money_left_past_the_usage_period_and_grace_is_forfeited_once(
    application: Application, clock: FixedClock
) -> None:
    from datetime import datetime, time

    from topup.domain.calendar import BAKU

    line = make_line(application, balance_qepik=500)
    number = line.msisdn.e164
    valid_until = lines.balance(application.uow(), application.clock, number=number).line.valid_until
    assert valid_until is not None
    with application.uow() as uow:
        grace_days = uow.catalogue.current().operator("azercell").topup.grace_days
    last_grace_day = datetime.combine(valid_until + timedelta(days=grace_days), time(23, 59), tzinfo=BAKU)

    clock.advance(last_grace_day - clock.now())
    assert lifecycle.forfeit_balances(application.uow(), application.lifecycle) == 0  # still in grace

    clock.advance(timedelta(minutes=2))
    assert lifecycle.forfeit_balances(application.uow(), application.lifecycle) == 1
    assert lifecycle.forfeit_balances(application.uow(), application.lifecycle) == 0

    assert state(application, number) == (0, [])
    [forfeited] = history.transactions(application.uow(), number=number, kinds=["breakage"]).items
    assert (forfeited.amount_qepik, forfeited.balance_after_qepik) == (500, 0)
    assert ledger.audit_ledger(application.uow()).ok
