"""Orders paid at a wallet or gateway (the customer approves at the provider and comes back), against scripted
providers: a PayPal-like one (approval, then a hold we capture or void) and a GoldenPay/WebMoney-like one
(approval takes the money). Every path ends settled, and what the provider kept equals what was delivered."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from tests.factories import make_line, snapshot
from tests.fakes import ScriptedAcquirer, ScriptedWallet
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.calendar import baku_date
from topup.domain.orders import Order, OrderState, PaymentMethod
from topup.domain.quotes import ProductType
from topup.services import ledger, lines, orders, reconciliation
from topup.services.payments import NotificationRejected, PaymentResult, PaymentStatus

ADDRESSES = orders.ReturnAddresses(
    return_url="https://topup.test/v1/orders/{order_id}/return",
    cancel_url="https://topup.test/v1/orders/{order_id}/cancelled",
    pay_url="https://topup.test/v1/orders/{order_id}/pay",
    google_pay_url="https://topup.test/v1/orders/{order_id}/google-pay",
)


@pytest.fixture
def paypal() -> ScriptedWallet:
    return ScriptedWallet(captures_on_approval=False)


@pytest.fixture
def gateway() -> ScriptedWallet:
    return ScriptedWallet(captures_on_approval=True, currencies=frozenset({"AZN"}))


@pytest.fixture
def saga(application: Application, paypal: ScriptedWallet, gateway: ScriptedWallet) -> orders.Saga:
    providers = {PaymentMethod.PAYPAL: paypal, PaymentMethod.GOLDENPAY: gateway}
    return replace(application.saga, acquirer=ScriptedAcquirer(), providers=providers)


def place(
    application: Application, saga: orders.Saga, number: str, method: PaymentMethod, *, amount_qepik: int = 1000
) -> Order:
    return orders.place_redirect_order(
        application.uow(),
        saga,
        orders.OrderRequest(
            scope="integrator", number=number, product_type=ProductType.TOPUP, amount_qepik=amount_qepik
        ),
        method=method,
        addresses=ADDRESSES,
    )


def main_balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def targets(order: Order) -> list[str]:
    return [t.target.value for t in order.status.history]


def test_a_paypal_like_order_waits_for_approval_then_is_authorised_delivered_and_captured(
    application: Application, saga: orders.Saga, paypal: ScriptedWallet
) -> None:
    line = make_line(application)

    order = place(application, saga, line.msisdn.e164, PaymentMethod.PAYPAL)
    assert (order.state, order.redirect_url) == (OrderState.AWAITING_PAYMENT, f"https://wallet.test/approve/{order.id}")
    assert order.provider_reference == f"w_{order.id}"
    assert main_balance(application, line.msisdn.e164) == 0

    paypal.approve(order.id)
    settled = orders.settle(application.uow(), saga, order_id=order.id, returning=True)

    assert settled.state is OrderState.FULFILLED
    assert targets(settled) == ["awaiting_payment", "paid", "fulfilled"]
    assert paypal.calls == ["start", "find", "capture"]
    assert paypal.payments[order.id].captured == 1000
    assert main_balance(application, line.msisdn.e164) == 1000
    assert ledger.audit_ledger(application.uow()).ok


def test_a_gateway_that_takes_the_money_on_approval_is_not_captured_again(
    application: Application, saga: orders.Saga, gateway: ScriptedWallet
) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.GOLDENPAY)

    gateway.approve(order.id)
    settled = orders.return_from_provider(
        application.uow(), saga, method=PaymentMethod.GOLDENPAY, provider_reference=f"w_{order.id}"
    )

    assert settled.state is OrderState.FULFILLED
    assert gateway.payments[order.id].captured == 1000
    assert (gateway.payments[order.id].status, main_balance(application, line.msisdn.e164)) == (
        PaymentStatus.CAPTURED,
        1000,
    )


def test_a_customer_who_cancels_at_the_wallet_pays_nothing(
    application: Application, saga: orders.Saga, paypal: ScriptedWallet
) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.PAYPAL)

    cancelled = orders.cancel_at_return(application.uow(), saga, order_id=order.id)

    assert (cancelled.state, cancelled.failure_code) == (OrderState.CANCELLED, "payment_cancelled")
    assert paypal.calls == ["start", "find"]  # the wallet is asked first: only an unpaid order is cancelled
    assert main_balance(application, line.msisdn.e164) == 0


def test_the_cancel_link_does_not_cancel_an_order_the_wallet_was_paid_for(
    application: Application, saga: orders.Saga, gateway: ScriptedWallet
) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.GOLDENPAY)
    gateway.approve(order.id)

    after = orders.cancel_at_return(application.uow(), saga, order_id=order.id)

    assert after.state is OrderState.FULFILLED
    assert main_balance(application, line.msisdn.e164) == 1000


def test_a_payment_cancelled_at_the_provider_cancels_the_order(
    application: Application, saga: orders.Saga, paypal: ScriptedWallet
) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.PAYPAL)
    paypal.cancel(order.id)

    settled = orders.settle(application.uow(), saga, order_id=order.id, returning=True)

    assert (settled.state, settled.failure_code) == (OrderState.CANCELLED, "payment_cancelled")
    assert settled.failure_message == "The payer cancelled."


def test_money_taken_after_the_order_timed_out_is_given_back(
    application: Application, saga: orders.Saga, gateway: ScriptedWallet, clock: FixedClock
) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.GOLDENPAY)
    clock.advance(orders.CHALLENGE_TIMEOUT)
    assert orders.settle_due(application.uow(), saga) == 1
    timed_out = orders.get_order(application.uow(), order_id=order.id)
    assert (timed_out.state, timed_out.failure_code) == (OrderState.CANCELLED, "payment_timed_out")

    gateway.approve(order.id)  # the customer paid in a tab left open
    back = orders.return_from_provider(
        application.uow(), saga, method=PaymentMethod.GOLDENPAY, provider_reference=f"w_{order.id}"
    )

    assert (back.state, back.next_check_at) == (OrderState.CANCELLED, None)
    assert gateway.payments[order.id].status is PaymentStatus.REFUNDED
    assert gateway.payments[order.id].refunded == 1000
    assert main_balance(application, line.msisdn.e164) == 0


def test_a_late_payment_whose_refund_gets_no_answer_is_refunded_by_the_worker(
    application: Application, saga: orders.Saga, gateway: ScriptedWallet, clock: FixedClock
) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.GOLDENPAY)
    orders.cancel(application.uow(), saga, order_id=order.id, scope=None)
    gateway.approve(order.id)
    gateway.lose_next.add("refund")
    clock.advance(orders.CREATED_GRACE)

    orders.settle_due(application.uow(), saga)
    waiting = orders.get_order(application.uow(), order_id=order.id)
    assert waiting.state is OrderState.CANCELLED
    assert waiting.next_check_at == clock.now() + orders.CHECK_DELAYS[0]

    clock.advance(orders.CHECK_DELAYS[0])
    assert orders.settle_due(application.uow(), saga) == 1

    assert gateway.payments[order.id].status is PaymentStatus.REFUNDED
    assert orders.get_order(application.uow(), order_id=order.id).next_check_at is None
    assert orders.settle_due(application.uow(), saga) == 0


def test_delivery_that_fails_after_a_gateway_took_the_money_refunds_it(
    application: Application, saga: orders.Saga, gateway: ScriptedWallet
) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.GOLDENPAY)
    gateway.approve(order.id)
    with application.engine.begin() as connection:
        connection.execute(text("UPDATE lines SET status = 'barred' WHERE msisdn = :m"), {"m": line.msisdn.e164})

    settled = orders.settle(application.uow(), saga, order_id=order.id, returning=True)

    assert (settled.state, settled.failure_code) == (OrderState.FAILED, "line_barred")
    assert gateway.calls[-1] == "refund"
    assert "void" not in gateway.calls
    assert gateway.payments[order.id].refunded == 1000
    assert main_balance(application, line.msisdn.e164) == 0


def test_delivery_that_fails_after_a_paypal_approval_voids_the_hold(
    application: Application, saga: orders.Saga, paypal: ScriptedWallet
) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.PAYPAL)
    paypal.approve(order.id)
    with application.engine.begin() as connection:
        connection.execute(text("UPDATE lines SET status = 'barred' WHERE msisdn = :m"), {"m": line.msisdn.e164})

    settled = orders.settle(application.uow(), saga, order_id=order.id, returning=True)

    assert (settled.state, settled.failure_code) == (OrderState.FAILED, "line_barred")
    assert paypal.payments[order.id].status is PaymentStatus.VOIDED
    assert paypal.payments[order.id].captured == 0


def test_a_currency_the_wallet_cannot_charge_is_refused_before_anything_is_recorded(
    application: Application, saga: orders.Saga, gateway: ScriptedWallet
) -> None:
    line = make_line(application)
    before = snapshot(application)

    with pytest.raises(orders.CurrencyNotSupported) as refused:
        orders.place_redirect_order(
            application.uow(),
            saga,
            orders.OrderRequest(
                scope="integrator",
                number=line.msisdn.e164,
                product_type=ProductType.TOPUP,
                amount_qepik=1000,
                currency="USD",
            ),
            method=PaymentMethod.GOLDENPAY,
            addresses=ADDRESSES,
        )

    assert refused.value.details == {"currency": "USD", "supported": ["AZN"]}
    assert snapshot(application) == before
    assert gateway.calls == []


def test_a_method_that_is_not_set_up_is_refused(application: Application) -> None:
    line = make_line(application)
    saga = replace(application.saga, acquirer=ScriptedAcquirer(), providers={})

    with pytest.raises(orders.PaymentMethodUnavailable):
        place(application, saga, line.msisdn.e164, PaymentMethod.PAYPAL)


def test_an_unreachable_wallet_fails_the_order_and_one_that_may_have_acted_is_asked_later(
    application: Application, saga: orders.Saga, paypal: ScriptedWallet, clock: FixedClock
) -> None:
    paypal.down = True
    down = place(application, saga, make_line(application).msisdn.e164, PaymentMethod.PAYPAL)
    assert (down.state, down.failure_code) == (OrderState.FAILED, "provider_unavailable")

    paypal.down = False
    paypal.lose_next.add("start")
    lost = place(application, saga, make_line(application).msisdn.e164, PaymentMethod.PAYPAL)
    assert lost.state is OrderState.UNKNOWN

    clock.advance(orders.CHECK_DELAYS[0])
    orders.settle_due(application.uow(), saga)
    found = orders.get_order(application.uow(), order_id=lost.id)
    assert (found.state, found.redirect_url) == (OrderState.AWAITING_PAYMENT, f"https://wallet.test/approve/{lost.id}")


def test_a_signed_notification_delivers_once_however_often_it_is_repeated(
    application: Application, saga: orders.Saga, gateway: ScriptedWallet
) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.GOLDENPAY)
    gateway.approve(order.id)
    paid = PaymentResult(PaymentStatus.CAPTURED, provider_reference=f"w_{order.id}", captured_minor=1000)

    for _ in range(3):
        orders.record_notification(
            application.uow(), saga, method=PaymentMethod.GOLDENPAY, result=paid, amount_minor=1000, currency="AZN"
        )

    assert orders.get_order(application.uow(), order_id=order.id).state is OrderState.FULFILLED
    assert main_balance(application, line.msisdn.e164) == 1000
    with application.engine.connect() as connection:
        count = connection.execute(
            text("SELECT COUNT(*) FROM ledger_transactions WHERE msisdn = :m"), {"m": line.msisdn.e164}
        ).scalar_one()
    assert count == 1


@pytest.mark.parametrize(
    ("reference", "amount", "currency", "code"),
    [
        ("w_{id}", 999, "AZN", "wrong_amount"),
        ("w_{id}", 1000, "USD", "wrong_amount"),
        ("w_other", 1000, "AZN", "unknown_order"),
    ],
)
def test_a_notification_for_another_amount_or_an_unknown_order_changes_nothing(
    application: Application, saga: orders.Saga, reference: str, amount: int, currency: str, code: str
) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.GOLDENPAY)
    before = snapshot(application)
    forged = PaymentResult(
        PaymentStatus.CAPTURED, provider_reference=reference.format(id=order.id), captured_minor=amount
    )

    with pytest.raises(NotificationRejected) as rejected:
        orders.record_notification(
            application.uow(),
            saga,
            method=PaymentMethod.GOLDENPAY,
            result=forged,
            amount_minor=amount,
            currency=currency,
        )

    assert rejected.value.code == code
    assert snapshot(application) == before
    assert orders.get_order(application.uow(), order_id=order.id).state is OrderState.AWAITING_PAYMENT


def test_the_pre_request_allows_only_an_order_that_awaits_payment(application: Application, saga: orders.Saga) -> None:
    line = make_line(application)
    order = place(application, saga, line.msisdn.e164, PaymentMethod.GOLDENPAY)
    asking = PaymentResult(PaymentStatus.REQUIRES_ACTION, provider_reference=f"w_{order.id}")

    allowed = orders.record_notification(
        application.uow(),
        saga,
        method=PaymentMethod.GOLDENPAY,
        result=asking,
        amount_minor=1000,
        currency="AZN",
        checking_only=True,
    )
    assert allowed.state is OrderState.AWAITING_PAYMENT

    orders.cancel(application.uow(), saga, order_id=order.id, scope=None)
    with pytest.raises(NotificationRejected) as refused:
        orders.record_notification(
            application.uow(),
            saga,
            method=PaymentMethod.GOLDENPAY,
            result=asking,
            amount_minor=1000,
            currency="AZN",
            checking_only=True,
        )
    assert refused.value.code == "order_not_payable"


def test_staff_refund_a_wallet_order_and_reconciliation_balances(
    application: Application, saga: orders.Saga, paypal: ScriptedWallet, gateway: ScriptedWallet
) -> None:
    line = make_line(application)
    refunded = place(application, saga, line.msisdn.e164, PaymentMethod.PAYPAL, amount_qepik=500)
    paypal.approve(refunded.id)
    orders.settle(application.uow(), saga, order_id=refunded.id, returning=True)
    kept = place(application, saga, make_line(application).msisdn.e164, PaymentMethod.GOLDENPAY, amount_qepik=700)
    gateway.approve(kept.id)
    orders.settle(application.uow(), saga, order_id=kept.id, returning=True)

    after = orders.refund(application.uow(), saga, order_id=refunded.id)

    assert after.state is OrderState.REFUNDED
    assert paypal.payments[refunded.id].refunded == 500
    assert main_balance(application, line.msisdn.e164) == 0
    report = reconciliation.reconcile(application.uow(), saga, day=baku_date(refunded.created_at))
    assert report.mismatches == []
    assert (report.captured_minor["AZN"], report.refunded_minor["AZN"], report.delivered_qepik) == (1200, 500, 1200)
