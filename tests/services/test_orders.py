"""The card-order saga against a scripted acquirer: every path ends settled, and money captured = delivered."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.conftest import SAMPLE_CATALOGUE
from tests.factories import make_line, snapshot
from tests.fakes import CHALLENGE, DECLINED, VISA, ScriptedAcquirer
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.errors import DomainError
from topup.domain.orders import OrderState
from topup.domain.quotes import ProductType
from topup.services import catalogue, ledger, lines, orders, quotes
from topup.services.payments import CardDetails, PaymentResult, PaymentStatus


@pytest.fixture
def acquirer() -> ScriptedAcquirer:
    return ScriptedAcquirer()


@pytest.fixture
def saga(application: Application, acquirer: ScriptedAcquirer) -> orders.Saga:
    return replace(application.saga, acquirer=acquirer)


def order_top_up(application: Application, saga: orders.Saga, number: str, amount_qepik: int, card: CardDetails):  # type: ignore[no-untyped-def]
    return orders.place_card_order(
        application.uow(),
        saga,
        orders.OrderRequest(
            scope="integrator",
            number=number,
            product_type=ProductType.TOPUP,
            amount_qepik=amount_qepik,
        ),
        card=card,
        return_url="https://shop.test/back",
    )


def main_balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def targets(order: orders.Order) -> list[str]:
    return [t.target.value for t in order.status.history]


def test_a_frictionless_card_order_is_delivered_and_captured(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)

    order = order_top_up(application, saga, line.msisdn.e164, 1000, VISA)

    assert order.state is OrderState.FULFILLED
    assert targets(order) == ["paid", "fulfilled"]
    assert (order.card_brand, order.card_last_four, order.charge_minor, order.currency) == ("visa", "4242", 1000, "AZN")
    assert main_balance(application, line.msisdn.e164) == 1000
    assert acquirer.payments[order.id].captured == 1000
    assert acquirer.calls == ["authorise", "capture"]
    stored = orders.get_order(application.uow(), order_id=order.id)
    assert stored.state is OrderState.FULFILLED
    assert targets(stored) == ["paid", "fulfilled"]
    assert stored.delivered_transaction_id is not None
    assert ledger.audit_ledger(application.uow()).ok


def test_a_declined_card_fails_and_delivers_nothing(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)

    order = order_top_up(application, saga, line.msisdn.e164, 1000, DECLINED)

    assert (order.state, order.failure_code) == (OrderState.FAILED, "card_declined")
    assert main_balance(application, line.msisdn.e164) == 0
    assert acquirer.calls == ["authorise"]


def test_a_challenge_waits_for_the_customer_then_completes(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)
    order = order_top_up(application, saga, line.msisdn.e164, 500, CHALLENGE)
    assert (order.state, order.redirect_url) == (OrderState.AWAITING_PAYMENT, "https://sandbox.test/challenge")
    assert main_balance(application, line.msisdn.e164) == 0

    acquirer.approve_challenge(order.id)
    settled = orders.settle(application.uow(), saga, order_id=order.id)

    assert settled.state is OrderState.FULFILLED
    assert targets(settled) == ["awaiting_payment", "paid", "fulfilled"]
    assert main_balance(application, line.msisdn.e164) == 500


def test_an_abandoned_challenge_is_cancelled_after_the_timeout(
    application: Application, saga: orders.Saga, clock: FixedClock
) -> None:
    line = make_line(application)
    order = order_top_up(application, saga, line.msisdn.e164, 500, CHALLENGE)

    clock.advance(orders.CHALLENGE_TIMEOUT)
    assert orders.settle_due(application.uow(), saga) == 1

    assert orders.get_order(application.uow(), order_id=order.id).state is OrderState.CANCELLED


def test_a_lost_authorisation_answer_is_settled_by_asking_the_acquirer(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    line = make_line(application)
    acquirer.lose_next.add("authorise")

    order = order_top_up(application, saga, line.msisdn.e164, 1000, VISA)
    assert order.state is OrderState.UNKNOWN
    assert main_balance(application, line.msisdn.e164) == 0
    assert orders.settle_due(application.uow(), saga) == 0  # not due yet: the first check is after 5 minutes

    clock.advance(orders.CHECK_DELAYS[0])
    assert orders.settle_due(application.uow(), saga) == 1

    settled = orders.get_order(application.uow(), order_id=order.id)
    assert settled.state is OrderState.FULFILLED
    assert targets(settled) == ["unknown", "paid", "fulfilled"]
    assert main_balance(application, line.msisdn.e164) == 1000
    assert acquirer.payments[order.id].captured == 1000


def test_a_lost_capture_answer_never_delivers_twice(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    line = make_line(application)
    acquirer.lose_next.add("capture")

    order = order_top_up(application, saga, line.msisdn.e164, 1000, VISA)
    assert order.state is OrderState.UNKNOWN
    assert main_balance(application, line.msisdn.e164) == 1000  # delivered before the capture was asked

    clock.advance(orders.CHECK_DELAYS[0])
    orders.settle_due(application.uow(), saga)

    settled = orders.get_order(application.uow(), order_id=order.id)
    assert settled.state is OrderState.FULFILLED
    assert main_balance(application, line.msisdn.e164) == 1000
    assert acquirer.payments[order.id].captured == 1000


def test_an_undeliverable_order_releases_the_hold(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)

    class BarAfterAuthorise(ScriptedAcquirer):
        def authorise(self, **kwargs: object) -> PaymentResult:  # type: ignore[override]
            with application.engine.begin() as connection:  # the line is barred while the card is authorised
                connection.execute(
                    text("UPDATE lines SET status = 'barred' WHERE msisdn = :m"), {"m": line.msisdn.e164}
                )
            return super().authorise(**kwargs)  # type: ignore[arg-type]

    barring = BarAfterAuthorise()
    order = order_top_up(application, replace(saga, acquirer=barring), line.msisdn.e164, 1000, VISA)

    assert (order.state, order.failure_code) == (OrderState.FAILED, "line_barred")
    assert targets(order) == ["paid", "failed"]
    assert barring.payments[order.id].status is PaymentStatus.VOIDED
    assert barring.calls == ["authorise", "void"]
    assert main_balance(application, line.msisdn.e164) == 0


def test_an_acquirer_that_cannot_be_reached_fails_the_order_cleanly(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)
    acquirer.down = True

    order = order_top_up(application, saga, line.msisdn.e164, 1000, VISA)

    assert (order.state, order.failure_code) == (OrderState.FAILED, "provider_unavailable")
    assert main_balance(application, line.msisdn.e164) == 0


def test_an_order_whose_process_died_before_asking_is_failed_after_the_grace(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    line = make_line(application)

    class DiesBeforeCalling(ScriptedAcquirer):
        def authorise(self, **kwargs: object) -> PaymentResult:  # type: ignore[override]
            raise KeyboardInterrupt  # the process is killed between recording the order and calling out

    with pytest.raises(KeyboardInterrupt):
        order_top_up(
            application,
            replace(saga, acquirer=DiesBeforeCalling()),
            line.msisdn.e164,
            1000,
            VISA,
        )
    [order_id] = [o.id for o in orders.list_orders(application.uow(), scope=None)]
    assert orders.settle(application.uow(), saga, order_id=order_id).state is OrderState.CREATED  # still in grace

    clock.advance(orders.CREATED_GRACE)
    orders.settle_due(application.uow(), saga)

    settled = orders.get_order(application.uow(), order_id=order_id)
    assert (settled.state, settled.failure_code) == (OrderState.FAILED, "payment_not_received")
    assert main_balance(application, line.msisdn.e164) == 0


def test_a_bundle_bought_by_card_leaves_the_balance_alone(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application, prefix="70", balance_qepik=100)

    order = orders.place_card_order(
        application.uow(),
        saga,
        orders.OrderRequest(
            scope="integrator",
            number=line.msisdn.e164,
            product_type=ProductType.BUNDLE,
            bundle_code="nar-3-5gb-14d",
        ),
        card=VISA,
        return_url="https://shop.test/back",
    )

    assert (order.state, order.charge_minor) == (OrderState.FULFILLED, 677)
    balance = lines.balance(application.uow(), application.clock, number=line.msisdn.e164)
    assert balance.main_qepik == 100
    assert [v.bundle_code for v in balance.buckets] == ["nar-3-5gb-14d"] * 3
    assert ledger.audit_ledger(application.uow()).ok


def test_an_order_in_dollars_pays_the_quoted_amount(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)
    quotes.set_rate(application.uow(), application.clock, currency="USD", rate="1.7", set_by="test")
    quoted = quotes.quote(
        application.uow(),
        application.clock,
        number=line.msisdn.e164,
        product_type=ProductType.TOPUP,
        amount_qepik=1000,
        currency="USD",
    )

    order = orders.place_card_order(
        application.uow(),
        saga,
        orders.OrderRequest(
            scope="integrator",
            number=line.msisdn.e164,
            product_type=ProductType.TOPUP,
            amount_qepik=1000,
            currency="USD",
            quote_id=quoted.id,
        ),
        card=VISA,
        return_url="https://shop.test/back",
    )

    assert (order.state, order.currency, order.charge_minor, order.rate_micros) == (
        OrderState.FULFILLED,
        "USD",
        589,
        1_700_000,
    )
    assert acquirer.payments[order.id].captured == 589
    assert main_balance(application, line.msisdn.e164) == 1000


@pytest.mark.parametrize(
    ("change", "code"),
    [({"amount_qepik": 2000}, "quote_mismatch"), ({"currency": "AZN"}, "quote_mismatch"), ({}, "quote_expired")],
)
def test_a_quote_must_match_and_be_live(
    application: Application,
    saga: orders.Saga,
    acquirer: ScriptedAcquirer,
    clock: FixedClock,
    change: dict[str, object],
    code: str,
) -> None:
    line = make_line(application)
    quotes.set_rate(application.uow(), application.clock, currency="USD", rate="1.7", set_by="test")
    quoted = quotes.quote(
        application.uow(),
        application.clock,
        number=line.msisdn.e164,
        product_type=ProductType.TOPUP,
        amount_qepik=1000,
        currency="USD",
    )
    if not change:
        clock.advance(timedelta(seconds=quotes.QUOTE_LOCK_SECONDS_DEFAULT))
    before = snapshot(application)
    arguments: dict[str, object] = {"amount_qepik": 1000, "currency": "USD", **change}

    with pytest.raises(DomainError) as refused:
        orders.place_card_order(
            application.uow(),
            saga,
            orders.OrderRequest(
                scope="integrator",
                number=line.msisdn.e164,
                product_type=ProductType.TOPUP,
                quote_id=quoted.id,
                **arguments,  # type: ignore[arg-type]
            ),
            card=VISA,
            return_url="https://shop.test/back",
        )

    assert refused.value.code == code
    assert snapshot(application) == before
    assert acquirer.calls == []


@pytest.mark.parametrize(
    ("card", "code"),
    [
        (CardDetails("4242424242424241", 12, 2030, "123"), "card_invalid"),
        (CardDetails("4242424242424242", 10, 2026, "123"), "card_expired"),
        (CardDetails("4242424242424242", 12, 2030, "12"), "card_invalid"),
    ],
)
def test_bad_cards_never_reach_the_acquirer(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, card: CardDetails, code: str
) -> None:
    line = make_line(application)
    with pytest.raises(DomainError) as refused:
        order_top_up(application, saga, line.msisdn.e164, 1000, card)
    assert refused.value.code == code
    assert acquirer.calls == []
    assert orders.list_orders(application.uow(), scope=None) == []


def test_orders_are_private_to_who_placed_them(application: Application, saga: orders.Saga) -> None:
    line = make_line(application)
    order = order_top_up(application, saga, line.msisdn.e164, 1000, VISA)

    with pytest.raises(DomainError) as hidden:
        orders.get_order(application.uow(), order_id=order.id, scope="someone-else")

    assert hidden.value.code == "order_not_found"
    assert orders.get_order(application.uow(), order_id=order.id, scope="integrator").id == order.id
    assert [o.id for o in orders.list_orders(application.uow(), scope="someone-else")] == []


def test_a_waiting_order_can_be_cancelled_but_a_fulfilled_one_cannot(
    application: Application, saga: orders.Saga
) -> None:
    line = make_line(application)
    waiting = order_top_up(application, saga, line.msisdn.e164, 500, CHALLENGE)
    done = order_top_up(application, saga, line.msisdn.e164, 500, VISA)

    assert orders.cancel(application.uow(), saga, order_id=waiting.id, scope="integrator").state is OrderState.CANCELLED
    with pytest.raises(DomainError) as refused:
        orders.cancel(application.uow(), saga, order_id=done.id, scope="integrator")
    assert refused.value.code == "order_not_cancellable"


def test_reconciliation_of_a_day_lists_every_mismatch(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    from topup.services import reconciliation

    line = make_line(application)
    fulfilled = order_top_up(application, saga, line.msisdn.e164, 1000, VISA)
    order_top_up(application, saga, line.msisdn.e164, 500, DECLINED)
    waiting = order_top_up(application, saga, line.msisdn.e164, 700, CHALLENGE)
    day = clock.now().date()

    report = reconciliation.reconcile(application.uow(), saga, day=day)

    assert (report.orders, dict(report.captured_minor), report.delivered_qepik) == (3, {"AZN": 1000}, 1000)
    assert [(m.order_id, m.problem) for m in report.mismatches] == [(waiting.id, "not settled yet (awaiting_payment)")]
    acquirer.payments[fulfilled.id].captured = 999  # the acquirer's books disagree with ours
    orders.cancel(application.uow(), saga, order_id=waiting.id, scope=None)
    report = reconciliation.reconcile(application.uow(), saga, day=day)
    assert [(m.order_id, m.problem) for m in report.mismatches] == [(fulfilled.id, "captured 999, expected 1000 AZN")]
    assert reconciliation.reconcile(application.uow(), saga, day=day + timedelta(days=1)).orders == 0


def test_staff_refund_takes_the_delivery_back_then_returns_the_money(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    line = make_line(application)
    order = order_top_up(application, saga, line.msisdn.e164, 1000, VISA)

    refunded = orders.refund(application.uow(), saga, order_id=order.id)

    assert refunded.state is OrderState.REFUNDED
    assert targets(refunded) == ["paid", "fulfilled", "refunded"]
    assert main_balance(application, line.msisdn.e164) == 0
    assert acquirer.payments[order.id].refunded == 1000
    assert orders.refund(application.uow(), saga, order_id=order.id).state is OrderState.REFUNDED  # idempotent
    assert acquirer.calls.count("refund") == 1
    assert ledger.audit_ledger(application.uow()).ok


def test_a_refund_is_refused_once_the_line_has_used_the_money(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    from topup.services import bundles

    line = make_line(application)
    order = order_top_up(application, saga, line.msisdn.e164, 1000, VISA)
    bundles.buy_bundle(
        application.uow(),
        application.clock,
        application.codes,
        number=line.msisdn.e164,
        bundle_code="azercell-1gb-1d",
        channel="api",
    )
    before = snapshot(application)

    with pytest.raises(DomainError) as refused:
        orders.refund(application.uow(), saga, order_id=order.id)

    assert refused.value.code == "refund_not_possible"
    assert snapshot(application) == before
    assert "refund" not in acquirer.calls


def test_a_lost_refund_answer_is_settled_by_the_worker(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    line = make_line(application)
    order = order_top_up(application, saga, line.msisdn.e164, 1000, VISA)
    acquirer.lose_next.add("refund")

    assert orders.refund(application.uow(), saga, order_id=order.id).state is OrderState.UNKNOWN
    clock.advance(orders.CHECK_DELAYS[0])
    orders.settle_due(application.uow(), saga)

    settled = orders.get_order(application.uow(), order_id=order.id)
    assert settled.state is OrderState.REFUNDED
    assert acquirer.payments[order.id].refunded == 1000
    assert main_balance(application, line.msisdn.e164) == 0


def test_only_fulfilled_orders_can_be_refunded(application: Application, saga: orders.Saga) -> None:
    line = make_line(application)
    failed = order_top_up(application, saga, line.msisdn.e164, 1000, DECLINED)
    with pytest.raises(DomainError) as refused:
        orders.refund(application.uow(), saga, order_id=failed.id)
    assert refused.value.code == "refund_not_possible"


def test_daily_limits_per_number_and_per_card(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    tight = replace(saga, limits=orders.OrderLimits(number_count_max=2, number_amount_max_qepik=2500, card_count_max=3))
    first, second = make_line(application), make_line(application)
    order_top_up(application, tight, first.msisdn.e164, 1000, VISA)
    order_top_up(application, tight, first.msisdn.e164, 1000, VISA)
    before = snapshot(application)

    with pytest.raises(DomainError) as by_number:
        order_top_up(application, tight, first.msisdn.e164, 100, VISA)
    order_top_up(application, tight, second.msisdn.e164, 1000, VISA)  # another number: fine
    with pytest.raises(DomainError) as by_card:
        order_top_up(application, tight, second.msisdn.e164, 1000, VISA)  # the card's third order today

    assert (by_number.value.code, by_number.value.details["limit"]) == ("limit_exceeded", "daily_count")
    assert (by_card.value.code, by_card.value.details["subject"]) == ("limit_exceeded", "card")
    assert acquirer.calls.count("authorise") == 3
    clock.advance(timedelta(days=1))  # a new Baku day
    assert order_top_up(application, tight, first.msisdn.e164, 1000, VISA).state is OrderState.FULFILLED
    assert before["transactions"] != snapshot(application)["transactions"]


def test_declined_orders_do_not_count_against_the_limits(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer
) -> None:
    tight = replace(saga, limits=orders.OrderLimits(number_count_max=1))
    line = make_line(application)
    order_top_up(application, tight, line.msisdn.e164, 1000, DECLINED)
    assert order_top_up(application, tight, line.msisdn.e164, 1000, VISA).state is OrderState.FULFILLED


def test_the_operator_cool_down_between_two_orders_for_a_number(
    application: Application, saga: orders.Saga, acquirer: ScriptedAcquirer, clock: FixedClock
) -> None:
    source = (
        SAMPLE_CATALOGUE.read_text(encoding="utf-8")
        .replace('version = "2026.12-sample.4"', 'version = "cooldown"')
        .replace("cooldown_seconds = 0", "cooldown_seconds = 120", 1)
    )
    catalogue.load_catalogue(application.uow(), clock, source=source)
    line = make_line(application)
    order_top_up(application, saga, line.msisdn.e164, 1000, VISA)
    clock.advance(timedelta(seconds=30))

    with pytest.raises(DomainError) as too_soon:
        order_top_up(application, saga, line.msisdn.e164, 1000, VISA)

    assert (too_soon.value.code, too_soon.value.details["retry_after_seconds"]) == ("too_many_top_ups", 91)
    clock.advance(timedelta(seconds=90))
    assert order_top_up(application, saga, line.msisdn.e164, 1000, VISA).state is OrderState.FULFILLED


def test_a_refund_in_a_fresh_process_knows_system_accounts_from_the_database(
    application: Application, saga: orders.Saga
) -> None:
    line = make_line(application)
    order = order_top_up(application, saga, line.msisdn.e164, 1000, VISA)
    application.caches.system_accounts.__init__()  # type: ignore[misc]  # as a new process would start

    assert orders.refund(application.uow(), saga, order_id=order.id).state is OrderState.REFUNDED
    assert main_balance(application, line.msisdn.e164) == 0
    assert ledger.audit_ledger(application.uow()).ok
