"""The use cases the portal added to the services: bundle filters, the operator check, top-up terms, the
dashboard's overview, orders a page at a time, whose receipts a subscriber may open, ways of paying."""

from __future__ import annotations

import pytest

from tests.factories import buy_bundle, make_line, use_data
from tests.fakes import VISA, ScriptedAcquirer, ScriptedWallet
from topup.bootstrap import Application
from topup.domain.errors import AmountOutOfRange, InvalidCursor, InvalidInput, TransactionNotFound
from topup.domain.ledger import Unit
from topup.domain.orders import PaymentMethod
from topup.domain.quotes import ProductType
from topup.services import bundles, checkout, dashboard, history, numbers, order_history, orders, quotes, top_up_terms
from topup.services.bundles import BundleFilter


def test_bundles_are_filtered_by_data_minutes_price_and_validity_and_sorted(application: Application) -> None:
    def codes(wanted: BundleFilter, sort: str = "price") -> list[str]:
        return [b.code for b in bundles.find_bundles(application.uow(), operator="azercell", wanted=wanted, sort=sort)]

    assert codes(BundleFilter(data_kb_min=3_000_000, price_qepik_max=2000)) == ["azercell-3gb-7d", "azercell-10gb-30d"]
    assert codes(BundleFilter(validity_days_min=30), sort="data") == ["azercell-25gb-30d", "azercell-10gb-30d"]
    assert codes(BundleFilter(validity_days_max=1)) == ["azercell-1gb-1d"]
    assert codes(BundleFilter(voice_seconds_min=60)) == []
    with pytest.raises(InvalidInput):
        codes(BundleFilter(), sort="name")


def test_the_operator_a_visitor_names_must_serve_the_number(application: Application) -> None:
    numbers.add_port(application.uow(), application.clock, number="+994503334455", operator="bakcell")

    found = numbers.check_operator(application.uow(), number="050 333 44 55", operator="bakcell")
    with pytest.raises(numbers.WrongOperator) as wrong:
        numbers.check_operator(application.uow(), number="050 333 44 55", operator="azercell")

    assert (found.operator, found.ported) == ("bakcell", True)
    assert wrong.value.details == {
        "operator": "bakcell",
        "operator_name": "Bakcell",
        "chosen": "azercell",
        "ported": True,
    }


def test_top_up_terms_give_limits_presets_and_the_validity_of_an_amount(application: Application) -> None:
    make_line(application, number="+994702223344")

    bare = top_up_terms.terms_for(application.uow(), application.clock, number="070 222 33 44")
    priced = top_up_terms.terms_for(application.uow(), application.clock, number="070 222 33 44", amount_qepik=300)
    unknown = top_up_terms.terms_for(application.uow(), application.clock, number="070 999 88 77")

    assert (bare.operator_name, bare.amount_min_qepik, bare.presets_qepik) == ("Nar", 100, (100, 300, 500, 1000, 2000))
    assert (bare.line_known, unknown.line_known) == (True, False)
    assert priced.validity_days == 20
    assert priced.valid_until is not None
    with pytest.raises(AmountOutOfRange):
        top_up_terms.terms_for(application.uow(), application.clock, number="070 222 33 44", amount_qepik=50)
    assert [choice.code for choice in top_up_terms.operators(application.uow())] == ["azercell", "bakcell", "nar"]


def test_the_overview_groups_a_purchase_into_one_bundle_with_its_allowances(application: Application) -> None:
    line = make_line(application, balance_qepik=2000)
    buy_bundle(application, line.msisdn.e164, "azercell-1gb-1d")
    use_data(application, line.msisdn.e164, 1_000_000)  # all of it: the used-up pack still shows, empty

    seen = dashboard.overview(application.uow(), application.clock, number=line.msisdn.e164)

    [pack] = seen.bundles
    assert (pack.bundle_code, pack.allowances) == (
        "azercell-1gb-1d",
        (dashboard.Allowance(Unit.DATA_KB, 0, 1_000_000),),
    )
    assert seen.balance.main_qepik == 1900
    assert len(seen.usage) == 30
    assert seen.usage[-1].data_kb == 1_000_000


def test_orders_come_a_page_at_a_time_even_when_placed_in_the_same_instant(
    application: Application, acquirer_fake: ScriptedAcquirer
) -> None:
    line = make_line(application)
    placed = [
        orders.place_card_order(
            application.uow(),
            application.saga,
            orders.OrderRequest(
                scope="portal:me", number=line.msisdn.e164, product_type=ProductType.TOPUP, amount_qepik=100
            ),
            card=VISA,
            return_url="https://example.test/back",
        ).id
        for _ in range(5)
    ]  # the fixed clock: all five share one creation time

    first = order_history.orders_page(application.uow(), scope="portal:me", limit=2)
    second = order_history.orders_page(application.uow(), scope="portal:me", limit=2, cursor=first.next_cursor)
    third = order_history.orders_page(application.uow(), scope="portal:me", limit=2, cursor=second.next_cursor)

    seen = [o.id for page in (first, second, third) for o in page.items]
    assert seen == sorted(placed, reverse=True)
    assert third.next_cursor is None
    assert order_history.orders_page(application.uow(), scope="someone-else").items == []
    with pytest.raises(InvalidCursor):
        order_history.orders_page(application.uow(), scope="portal:me", cursor="not-ours")


@pytest.fixture
def acquirer_fake(application: Application) -> ScriptedAcquirer:
    fake = ScriptedAcquirer()
    application.acquirer = fake
    return fake


def test_a_subscriber_sees_receipts_of_their_line_and_of_their_orders_only(
    application: Application, acquirer_fake: ScriptedAcquirer
) -> None:
    mine = make_line(application, balance_qepik=500)
    friend = make_line(application)
    stranger = make_line(application, balance_qepik=300)
    [own] = history.transactions(application.uow(), number=mine.msisdn.e164).items
    [theirs] = history.transactions(application.uow(), number=stranger.msisdn.e164).items
    gift = orders.place_card_order(
        application.uow(),
        application.saga,
        orders.OrderRequest(
            scope=f"portal:{mine.msisdn.e164}",
            number=friend.msisdn.e164,
            product_type=ProductType.TOPUP,
            amount_qepik=100,
        ),
        card=VISA,
        return_url="https://example.test/back",
    )
    assert gift.delivered_transaction_id is not None

    def open_receipt(transaction_id: str) -> str:
        found = history.receipt_for(
            application.uow(),
            transaction_id=transaction_id,
            msisdn=mine.msisdn.e164,
            order_scope=f"portal:{mine.msisdn.e164}",
        )
        return found.record.id

    assert open_receipt(own.id) == own.id
    assert open_receipt(gift.delivered_transaction_id) == gift.delivered_transaction_id
    with pytest.raises(TransactionNotFound):
        open_receipt(theirs.id)


def test_ways_of_paying_say_which_currencies_they_charge(application: Application) -> None:
    application.acquirer = ScriptedAcquirer()
    application.providers = {PaymentMethod.PAYPAL: ScriptedWallet(currencies=frozenset({"USD", "EUR"}))}
    quotes.set_rate(application.uow(), application.clock, currency="USD", rate="1.70", set_by="test")

    in_azn = checkout.payment_choices(application.saga, currency="AZN")

    assert [(c.method, c.available) for c in in_azn] == [(PaymentMethod.CARD, True), (PaymentMethod.PAYPAL, False)]
    assert in_azn[1].other_currencies(checkout.currencies_offered(application.uow())) == ["USD"]
    assert checkout.currencies_offered(application.uow()) == ["AZN", "USD"]
