"""Saved cards and auto-recharge, through the order saga against a scripted acquirer, with a controlled clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.factories import make_line, snapshot
from tests.fakes import CHALLENGE, DECLINED, VISA, ScriptedAcquirer
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.auto_recharge import AutoRecharge, RuleKind, RuleState
from topup.domain.cards import CardExpired
from topup.domain.errors import DomainError, InvalidInput, LineNotPrepaid
from topup.domain.lines import LineType
from topup.domain.orders import OrderState
from topup.domain.payment_methods import PaymentMethodExpired, PaymentMethodNotFound, SavedCard, TooManyPaymentMethods
from topup.services import auto_recharge, charging, ledger, lines, notifications, orders, payment_methods, topups
from topup.services.payments import CardDetails


@pytest.fixture
def acquirer() -> ScriptedAcquirer:
    return ScriptedAcquirer()


@pytest.fixture
def saga(application: Application, acquirer: ScriptedAcquirer) -> orders.Saga:
    return replace(application.saga, acquirer=acquirer)


def save(application: Application, saga: orders.Saga, number: str, card: CardDetails = VISA) -> SavedCard:
    return payment_methods.save_card(application.uow(), saga, scope="wallet", number=number, card=card)


def threshold_rule(
    application: Application,
    saga: orders.Saga,
    number: str,
    card: SavedCard,
    *,
    threshold_qepik: int = 200,
    amount_qepik: int = 1000,
    monthly_max: int = 3,
) -> AutoRecharge:
    return auto_recharge.set_threshold(
        application.uow(),
        saga,
        scope="wallet",
        card_scope="wallet",
        number=number,
        threshold_qepik=threshold_qepik,
        amount_qepik=amount_qepik,
        monthly_max=monthly_max,
        payment_method_id=card.id,
    )


def schedule_rule(
    application: Application, saga: orders.Saga, number: str, card: SavedCard, *, day_of_month: int
) -> AutoRecharge:
    return auto_recharge.set_schedule(
        application.uow(),
        saga,
        scope="wallet",
        card_scope="wallet",
        number=number,
        day_of_month=day_of_month,
        amount_qepik=500,
        payment_method_id=card.id,
    )


def send_sms(application: Application, number: str, count: int = 1) -> None:
    for _ in range(count):  # 0.05 AZN each on Azercell
        charging.charge_event(application.uow(), application.charging, number=number)


def top_up(application: Application, number: str, amount_qepik: int) -> None:
    topups.top_up(
        application.uow(), application.clock, application.codes, number=number, amount_qepik=amount_qepik, channel="api"
    )


def main_balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def rule_of(application: Application, saga: orders.Saga, number: str, kind: RuleKind) -> AutoRecharge:
    [view] = [
        v for v in auto_recharge.rules_of(application.uow(), saga, number=number, scope=None) if v.rule.kind is kind
    ]
    return view.rule


def runs(application: Application, number: str) -> list[orders.Order]:
    return sorted(
        (o for o in orders.list_orders(application.uow(), scope=None, number=number) if o.auto_recharge_id),
        key=lambda o: o.created_at,
    )


def told(application: Application, number: str) -> list[str]:
    return sorted(n.kind.value for n in notifications.inbox(application.uow(), number=number))


# --- saved cards ---------------------------------------------------------------------------------------------


def test_a_saved_card_keeps_only_the_token_brand_last_four_and_expiry(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    number = make_line(application).msisdn.e164

    card = save(application, saga, number)

    assert (card.token, card.brand, card.last_four, card.expiry_month, card.expiry_year) == (
        "card_1",
        "visa",
        "4242",
        12,
        2030,
    )
    assert payment_methods.list_cards(application.uow(), number=number, scope="wallet") == [card]
    assert payment_methods.list_cards(application.uow(), number=number, scope="another-integrator") == []
    with application.engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM payment_methods")).mappings().one()
    assert "4242424242424242" not in str(dict(stored))


@pytest.mark.parametrize(
    ("card", "error"),
    [
        (DECLINED, payment_methods.CardNotAccepted),
        (CardDetails("4242424242424242", 1, 2020, "123"), CardExpired),
        (CardDetails("4242424242424241", 12, 2030, "123"), DomainError),  # Luhn
    ],
)
def test_a_card_the_bank_declines_or_that_is_not_valid_is_not_saved(
    application: Application, saga: orders.Saga, card: CardDetails, error: type[DomainError]
) -> None:
    number = make_line(application).msisdn.e164
    before = snapshot(application)

    with pytest.raises(error):
        save(application, saga, number, card)

    assert payment_methods.list_cards(application.uow(), number=number, scope=None) == []
    assert snapshot(application) == before


def test_a_line_keeps_at_most_five_saved_cards(application: Application, saga: orders.Saga) -> None:
    number = make_line(application).msisdn.e164
    for _ in range(5):
        save(application, saga, number)

    with pytest.raises(TooManyPaymentMethods):
        save(application, saga, number)

    assert len(payment_methods.list_cards(application.uow(), number=number, scope=None)) == 5


def test_removing_a_card_forgets_it_here_and_at_the_acquirer_and_removes_its_auto_recharges(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    number = make_line(application, balance_qepik=1000).msisdn.e164
    card = save(application, saga, number)
    threshold_rule(application, saga, number, card)

    payment_methods.remove_card(application.uow(), saga, number=number, method_id=card.id, scope="wallet")

    assert payment_methods.list_cards(application.uow(), number=number, scope=None) == []
    assert acquirer.removed_cards == {"card_1"}
    assert auto_recharge.rules_of(application.uow(), saga, number=number, scope=None) == []
    assert lines.get_line(application.uow(), number=number).auto_recharge_below_qepik is None
    with pytest.raises(PaymentMethodNotFound):
        payment_methods.remove_card(application.uow(), saga, number=number, method_id=card.id, scope="wallet")


def test_an_order_can_be_paid_with_a_saved_card_without_3d_secure(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    number = make_line(application).msisdn.e164
    card = save(application, saga, number, CHALLENGE)  # would need a challenge if typed in

    order = orders.place_saved_card_order(
        application.uow(),
        saga,
        orders.OrderRequest(scope="wallet", number=number, product_type=orders.ProductType.TOPUP, amount_qepik=700),
        payment_method_id=card.id,
        card_scope="wallet",
    )

    assert order.state is OrderState.FULFILLED
    assert (order.payment_method_id, order.card_last_four) == (card.id, "3220")
    assert acquirer.calls[-2:] == ["authorise_saved", "capture"]
    assert main_balance(application, number) == 700


# --- threshold -----------------------------------------------------------------------------------------------


def test_a_fall_below_the_threshold_tops_up_once_through_an_order(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    number = make_line(application, balance_qepik=205).msisdn.e164
    card = save(application, saga, number)
    rule = threshold_rule(application, saga, number, card)
    assert rule.due_at is None  # 2.05 is not below 2.00

    send_sms(application, number)  # 2.00: not below yet
    assert auto_recharge.run_due(application.uow(), saga) == 0
    send_sms(application, number)  # 1.95: fell below
    assert rule_of(application, saga, number, RuleKind.THRESHOLD).due_at == application.clock.now()

    assert auto_recharge.run_due(application.uow(), saga) == 1

    [run] = runs(application, number)
    assert (run.state, run.amount_qepik, run.auto_recharge_id, run.payment_method_id) == (
        OrderState.FULFILLED,
        1000,
        rule.id,
        card.id,
    )
    assert main_balance(application, number) == 1195
    after = rule_of(application, saga, number, RuleKind.THRESHOLD)
    assert (after.due_at, after.in_flight_order_id, after.last_order_id, after.last_outcome) == (
        None,
        None,
        run.id,
        "fulfilled",
    )
    assert told(application, number) == ["auto_recharge_done", "topup_done"]  # the first top-up, then the run
    assert auto_recharge.run_due(application.uow(), saga) == 0
    assert acquirer.calls[-2:] == ["authorise_saved", "capture"]
    assert ledger.audit_ledger(application.uow()).ok


def test_staying_below_does_not_fire_again_until_the_balance_was_back_up(
    application: Application, saga: orders.Saga
) -> None:
    number = make_line(application, balance_qepik=205).msisdn.e164
    card = save(application, saga, number)
    threshold_rule(application, saga, number, card, threshold_qepik=500, amount_qepik=100)  # 2.05: below
    auto_recharge.run_due(application.uow(), saga)
    assert main_balance(application, number) == 305  # still below 5.00 after the run

    send_sms(application, number, 3)  # 3.05 -> 2.90: no new fall, it never rose
    assert auto_recharge.run_due(application.uow(), saga) == 0
    top_up(application, number, 300)  # 5.90: back above
    send_sms(application, number, 19)  # 5.90 -> 4.95: a new fall
    assert auto_recharge.run_due(application.uow(), saga) == 1

    assert [r.state for r in runs(application, number)] == [OrderState.FULFILLED, OrderState.FULFILLED]
    assert main_balance(application, number) == 595


def test_a_rule_set_while_the_balance_is_already_low_runs_at_once(application: Application, saga: orders.Saga) -> None:
    number = make_line(application, balance_qepik=100).msisdn.e164
    card = save(application, saga, number)

    rule = threshold_rule(application, saga, number, card)

    assert rule.due_at == application.clock.now()
    assert auto_recharge.run_due(application.uow(), saga) == 1
    assert main_balance(application, number) == 1100


def test_the_monthly_maximum_holds_the_rule_until_the_next_month(
    application: Application, saga: orders.Saga, clock: FixedClock
) -> None:
    number = make_line(application, balance_qepik=100).msisdn.e164
    card = save(application, saga, number)
    threshold_rule(application, saga, number, card, threshold_qepik=1000, amount_qepik=100, monthly_max=2)
    auto_recharge.run_due(application.uow(), saga)  # the first run: 1.00 -> 2.00
    top_up(application, number, 800)  # 10.00
    send_sms(application, number)  # 9.95: a fall
    auto_recharge.run_due(application.uow(), saga)  # the second run: 10.95
    send_sms(application, number, 20)  # 9.95: a fall, but this month's two runs are done
    assert auto_recharge.run_due(application.uow(), saga) == 1

    assert len(runs(application, number)) == 2
    held = rule_of(application, saga, number, RuleKind.THRESHOLD)
    assert held.due_at == datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # 1 December, 00:00 in Baku
    clock.set(datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
    assert auto_recharge.run_due(application.uow(), saga) == 1
    assert len(runs(application, number)) == 3


# --- schedule ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "day", "first", "second"),
    [
        # 31st: November has 30 days; then 31 December. 10:00 Baku is 06:00 UTC.
        (
            datetime(2026, 11, 23, 10, tzinfo=UTC),
            31,
            datetime(2026, 11, 30, 6, tzinfo=UTC),
            datetime(2026, 12, 31, 6, tzinfo=UTC),
        ),
        # 29th, a leap February, then March.
        (
            datetime(2028, 2, 10, tzinfo=UTC),
            29,
            datetime(2028, 2, 29, 6, tzinfo=UTC),
            datetime(2028, 3, 29, 6, tzinfo=UTC),
        ),
        # 30th in a common February: its last day, the 28th.
        (
            datetime(2027, 2, 1, tzinfo=UTC),
            30,
            datetime(2027, 2, 28, 6, tzinfo=UTC),
            datetime(2027, 3, 30, 6, tzinfo=UTC),
        ),
        # The 1st at 09:00 Baku: today's 10:00 is still to come.
        (
            datetime(2026, 12, 1, 5, tzinfo=UTC),
            1,
            datetime(2026, 12, 1, 6, tzinfo=UTC),
            datetime(2027, 1, 1, 6, tzinfo=UTC),
        ),
    ],
)
def test_a_scheduled_rule_runs_on_its_day_at_ten_in_baku_or_on_the_months_last_day(
    application: Application,
    saga: orders.Saga,
    clock: FixedClock,
    start: datetime,
    day: int,
    first: datetime,
    second: datetime,
) -> None:
    clock.set(start)
    number = make_line(application, balance_qepik=100).msisdn.e164
    card = save(application, saga, number)

    rule = schedule_rule(application, saga, number, card, day_of_month=day)

    assert rule.due_at == first
    clock.set(first - timedelta(seconds=1))
    assert auto_recharge.run_due(application.uow(), saga) == 0
    clock.set(first)
    assert auto_recharge.run_due(application.uow(), saga) == 1
    assert main_balance(application, number) == 600
    assert rule_of(application, saga, number, RuleKind.SCHEDULE).due_at == second


def test_a_schedule_missed_while_the_worker_was_down_runs_once_when_it_is_back(
    application: Application, saga: orders.Saga, clock: FixedClock
) -> None:
    number = make_line(application, balance_qepik=100).msisdn.e164
    card = save(application, saga, number)
    schedule_rule(application, saga, number, card, day_of_month=25)

    clock.advance(timedelta(days=70))  # 25 Nov, 25 Dec and 25 Jan have passed
    assert auto_recharge.run_due(application.uow(), saga) == 1
    assert auto_recharge.run_due(application.uow(), saga) == 0

    assert len(runs(application, number)) == 1
    assert rule_of(application, saga, number, RuleKind.SCHEDULE).due_at == datetime(2027, 2, 25, 6, tzinfo=UTC)


# --- failures ------------------------------------------------------------------------------------------------


def test_a_declined_saved_card_suspends_the_rule_and_tells_the_subscriber(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    number = make_line(application, balance_qepik=100, language="en").msisdn.e164
    card = save(application, saga, number)
    threshold_rule(application, saga, number, card)
    acquirer.decline_saved_cards()

    auto_recharge.run_due(application.uow(), saga)

    [run] = runs(application, number)
    assert (run.state, run.failure_code) == (OrderState.FAILED, "card_declined")
    rule = rule_of(application, saga, number, RuleKind.THRESHOLD)
    assert (rule.state, rule.suspended_reason, rule.due_at) == (RuleState.SUSPENDED, "card_declined", None)
    assert lines.get_line(application.uow(), number=number).auto_recharge_below_qepik is None
    assert main_balance(application, number) == 100
    [suspended] = [n for n in notifications.inbox(application.uow(), number=number) if n.kind.value.startswith("auto")]
    assert notifications.NotificationKind.AUTO_RECHARGE_SUSPENDED is suspended.kind
    assert suspended.params == {"amount_qepik": "1000", "card": "Visa •••• 4242"}


def test_a_card_short_of_funds_is_tried_after_an_hour_and_six_hours_then_the_rule_is_suspended(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    number = make_line(application, balance_qepik=100).msisdn.e164
    card = save(application, saga, number)
    threshold_rule(application, saga, number, card)
    acquirer.decline_saved_cards()
    acquirer.decline_code = "insufficient_funds"

    auto_recharge.run_due(application.uow(), saga)
    assert rule_of(application, saga, number, RuleKind.THRESHOLD).due_at == clock.now() + timedelta(hours=1)
    clock.advance(timedelta(minutes=59))
    assert auto_recharge.run_due(application.uow(), saga) == 0
    clock.advance(timedelta(minutes=1))
    auto_recharge.run_due(application.uow(), saga)
    assert rule_of(application, saga, number, RuleKind.THRESHOLD).due_at == clock.now() + timedelta(hours=6)
    clock.advance(timedelta(hours=6))
    auto_recharge.run_due(application.uow(), saga)

    rule = rule_of(application, saga, number, RuleKind.THRESHOLD)
    assert (rule.state, rule.consecutive_failures, rule.suspended_reason) == (
        RuleState.SUSPENDED,
        3,
        "insufficient_funds",
    )
    assert [r.failure_code for r in runs(application, number)] == ["insufficient_funds"] * 3
    assert told(application, number) == [
        "auto_recharge_failed",
        "auto_recharge_failed",
        "auto_recharge_suspended",
        "topup_done",
    ]
    # Setting the rule again turns it back on, its failures forgotten.
    again = threshold_rule(application, saga, number, card)
    assert (again.state, again.consecutive_failures, again.id) == (RuleState.ACTIVE, 0, rule.id)


def test_a_lost_answer_is_settled_by_asking_the_acquirer_and_never_pays_twice(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    number = make_line(application, balance_qepik=100).msisdn.e164
    card = save(application, saga, number)
    threshold_rule(application, saga, number, card)
    acquirer.lose_next.add("authorise_saved")

    auto_recharge.run_due(application.uow(), saga)
    [run] = runs(application, number)
    assert run.state is OrderState.UNKNOWN
    assert auto_recharge.run_due(application.uow(), saga) == 0  # in flight: not run again

    clock.advance(timedelta(minutes=5))
    orders.settle_due(application.uow(), saga)

    [run] = runs(application, number)
    assert run.state is OrderState.FULFILLED
    assert len(acquirer.payments) == 1
    assert main_balance(application, number) == 1100
    assert rule_of(application, saga, number, RuleKind.THRESHOLD).last_outcome == "fulfilled"


def test_a_worker_killed_after_recording_the_run_is_finished_by_recovery_once(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    number = make_line(application, balance_qepik=100).msisdn.e164
    card = save(application, saga, number)
    rule = threshold_rule(application, saga, number, card)

    order_id = auto_recharge._start_run(application.uow(), saga, rule.id)  # then the worker dies
    assert order_id is not None
    assert auto_recharge.run_due(application.uow(), saga) == 0  # another worker finds nothing due

    clock.advance(saga.created_grace)
    orders.settle_due(application.uow(), saga)
    orders.settle_due(application.uow(), saga)

    [run] = runs(application, number)
    assert (run.id, run.state) == (order_id, OrderState.FULFILLED)
    assert acquirer.calls.count("authorise_saved") == 1
    assert main_balance(application, number) == 1100
    assert told(application, number).count("auto_recharge_done") == 1


# --- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"threshold_qepik": 0}, "invalid_input"),
        ({"monthly_max": 0}, "invalid_input"),
        ({"monthly_max": 32}, "invalid_input"),
        ({"amount_qepik": 50}, "amount_out_of_range"),  # below Azercell's 1.00
        ({"amount_qepik": 50_001}, "amount_out_of_range"),
        ({"threshold_qepik": 20_000, "amount_qepik": 1000}, "invalid_input"),  # ten times the amount at most
        ({"payment_method_id": "nosuchcard"}, "payment_method_not_found"),
        ({"card_scope": "another-integrator"}, "payment_method_not_found"),
    ],
)
def test_a_threshold_rule_outside_the_rules_is_refused_and_changes_nothing(
    application: Application, saga: orders.Saga, changes: dict[str, object], code: str
) -> None:
    number = make_line(application, balance_qepik=100).msisdn.e164
    card = save(application, saga, number)
    arguments: dict[str, object] = {
        "scope": "wallet",
        "card_scope": "wallet",
        "number": number,
        "threshold_qepik": 200,
        "amount_qepik": 1000,
        "monthly_max": 3,
        "payment_method_id": card.id,
        **changes,
    }
    before = snapshot(application)

    with pytest.raises(DomainError) as refused:
        auto_recharge.set_threshold(application.uow(), saga, **arguments)  # type: ignore[arg-type]

    assert refused.value.code == code
    assert auto_recharge.rules_of(application.uow(), saga, number=number, scope=None) == []
    assert snapshot(application) == before


@pytest.mark.parametrize("day", [0, 32])
def test_a_schedule_day_outside_the_month_is_refused(application: Application, saga: orders.Saga, day: int) -> None:
    number = make_line(application).msisdn.e164
    card = save(application, saga, number)

    with pytest.raises(InvalidInput):
        schedule_rule(application, saga, number, card, day_of_month=day)


def test_an_expired_saved_card_cannot_be_used_and_suspends_a_rule_that_uses_it(
    application: Application, saga: orders.Saga, clock: FixedClock
) -> None:
    number = make_line(application, balance_qepik=100).msisdn.e164
    card = save(application, saga, number, CardDetails("4242424242424242", 12, 2026, "123"))
    schedule_rule(application, saga, number, card, day_of_month=25)

    clock.set(datetime(2027, 1, 25, 6, tzinfo=UTC))
    auto_recharge.run_due(application.uow(), saga)

    rule = rule_of(application, saga, number, RuleKind.SCHEDULE)
    assert (rule.state, rule.suspended_reason) == (RuleState.SUSPENDED, "payment_method_expired")
    assert runs(application, number) == []
    with pytest.raises(PaymentMethodExpired):
        schedule_rule(application, saga, number, card, day_of_month=25)


def test_a_postpaid_line_has_no_auto_recharge(application: Application, saga: orders.Saga) -> None:
    number = make_line(application, line_type=LineType.POSTPAID).msisdn.e164
    card = save(application, saga, number)

    with pytest.raises(LineNotPrepaid):
        threshold_rule(application, saga, number, card)


@pytest.mark.postgres
def test_workers_running_the_job_at_once_make_one_order_per_due_rule(postgres_url: str, clock: FixedClock) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from tests.conftest import make_application

    application = make_application(postgres_url, clock)
    try:
        acquirer = ScriptedAcquirer()
        saga = replace(application.saga, acquirer=acquirer)
        numbers = [make_line(application, balance_qepik=100).msisdn.e164 for _ in range(6)]
        for number in numbers:
            threshold_rule(application, saga, number, save(application, saga, number))
        workers = 4
        barrier = Barrier(workers)

        def work(_: int) -> int:
            barrier.wait()
            return auto_recharge.run_due(application.uow(), saga)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, range(workers)))

        assert [len(runs(application, number)) for number in numbers] == [1] * 6
        assert all(r.state is OrderState.FULFILLED for n in numbers for r in runs(application, n))
        assert acquirer.calls.count("authorise_saved") == 6
        assert ledger.audit_ledger(application.uow()).ok
    finally:
        application.close()
