"""The signed-in subscriber's pages: dashboard, bundles, history, receipts, auto-recharge, notifications, cards."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import text

from tests.factories import buy_bundle, snapshot, use_data
from tests.fakes import VISA, ScriptedAcquirer
from tests.web.browsing import Browser, field_error, text_of
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.lines import Line
from topup.services import auto_recharge, history, lines, notifications, payment_methods, topups


def main_balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def count(application: Application, table: str) -> int:
    with application.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())  # noqa: S608


def test_the_dashboard_shows_balance_bundle_gauges_and_a_usage_chart(
    application: Application, signed_in: Browser, line: Line, clock: FixedClock
) -> None:
    buy_bundle(application, line.msisdn.e164, "azercell-3gb-7d")
    use_data(application, line.msisdn.e164, 750_000)

    page = signed_in.get("/account")

    seen = text_of(page.text)
    assert "Main balance AZN 5.00 Valid until January 22, 2027" in seen
    assert "Weekly 3 GB" in seen
    assert "Data 2.25 GB of 3 GB left" in seen
    assert '<meter min="0" max="3000000" value="2250000"' in page.text
    assert "In all: 750 MB" in seen
    svg = re.search(r"<svg class=\"chart\".*?</svg>", page.text, re.S)
    assert svg is not None
    assert svg.group(0).count("<rect ") == 30
    assert '<title id="chart-title">Data used per day, last 30 days</title>' in svg.group(0)
    assert "<script" not in svg.group(0)
    assert "Nov 23, 2026 750 MB 0 0 AZN 0.00" in seen  # the day-by-day table: readable without the picture


def test_bundles_filter_compare_and_buy_from_the_balance_once(
    application: Application, signed_in: Browser, line: Line
) -> None:
    listed = signed_in.get("/account/bundles", params={"data": "3", "price": "20", "sort": "data"})
    names = re.findall(r'<h2><a href="/account/bundles/([a-z0-9-]+)">', listed.text)
    assert names == ["azercell-10gb-30d", "azercell-3gb-7d"]
    compared = signed_in.get("/account/bundles/compare?code=azercell-3gb-7d&code=azercell-10gb-30d&code=nar-3-5gb-14d")
    assert "Price AZN 5.00 AZN 15.00" in text_of(compared.text)
    assert compared.text.count('<th scope="col">') == 3  # the other operator's bundle is not compared

    signed_in.get("/account/bundles/azercell-3gb-7d")
    token = signed_in.form_token()
    first = signed_in.post("/account/bundles/azercell-3gb-7d/buy", {"form_token": token})
    second = signed_in.post("/account/bundles/azercell-3gb-7d/buy", {"form_token": token})

    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert main_balance(application, line.msisdn.e164) == 500
    receipt = signed_in.get(first.headers["location"])
    assert "Done: the bundle is on your line." in text_of(receipt.text)
    assert "Transaction Bundle purchase" in text_of(receipt.text)


def test_a_bundle_the_balance_cannot_pay_is_refused_and_offers_the_card(
    application: Application, signed_in: Browser, line: Line, acquirer: ScriptedAcquirer
) -> None:
    signed_in.get("/account/bundles/azercell-25gb-30d")
    before = snapshot(application)

    refused = signed_in.post("/account/bundles/azercell-25gb-30d/buy", {"form_token": signed_in.form_token()})

    assert refused.status_code == 422
    assert "Your balance is not enough for this. Top up first, or pay by card." in text_of(refused.text)
    assert snapshot(application) == before
    by_card = signed_in.post("/account/bundles/azercell-25gb-30d/card", {})
    assert by_card.status_code == 303
    signed_in.get(by_card.headers["location"])
    assert "Monthly 25 GB" in text_of(signed_in.page)
    paid = signed_in.follow(signed_in.pay_by_card(by_card.headers["location"]))
    assert "The bundle is on 050 123 45 67 now." in text_of(paid.text)
    assert main_balance(application, line.msisdn.e164) == 1000


def test_another_operators_bundle_is_not_found(signed_in: Browser) -> None:
    assert signed_in.get("/account/bundles/nar-3-5gb-14d").status_code == 404
    assert signed_in.post("/account/bundles/nar-3-5gb-14d/buy", {"form_token": "x1"}).status_code == 404


def test_history_lists_pages_filters_and_exports(
    application: Application, signed_in: Browser, line: Line, clock: FixedClock, acquirer: ScriptedAcquirer
) -> None:
    for _ in range(22):
        clock.advance(timedelta(minutes=1))
        topups.top_up(
            application.uow(), clock, application.codes, number=line.msisdn.e164, amount_qepik=100, channel="api"
        )

    first = signed_in.get("/account/history")
    rows = first.text.count('class="panel row-item"')
    older = re.search(r'href="(/account/history\?[^"]+)" rel="next"', first.text)
    assert rows == 20
    assert older is not None
    second = signed_in.get(older.group(1).replace("&amp;", "&"))
    assert second.text.count('class="panel row-item"') == 3  # 22 top-ups and the first one of 10.00
    assert 'rel="next"' not in second.text
    filtered = signed_in.get("/account/history", params={"kind": "bundle_purchase"})
    assert "Nothing here yet." in text_of(filtered.text)
    exported = signed_in.get("/account/history.csv")
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0][:4] == ["created_at", "kind", "channel", "amount_azn"]
    assert len(table) == 24
    assert table[-1][1:4] == ["topup", "demo", "10.00"]


def test_history_lists_the_subscribers_own_orders(
    application: Application, signed_in: Browser, line: Line, acquirer: ScriptedAcquirer
) -> None:
    checkout = signed_in.quote("050 123 45 67")
    signed_in.pay_by_card(checkout)
    declined = signed_in.quote("050 123 45 67", amount="300")
    signed_in.pay_by_card(declined, card_number="4000 0000 0000 0002")

    page = signed_in.get("/account/history", params={"list": "orders"})
    failed = signed_in.get("/account/history", params={"list": "orders", "status": "failed"})
    exported = signed_in.get("/account/history.csv", params={"list": "orders"})

    assert page.text.count('class="panel row-item"') == 2
    assert failed.text.count('class="panel row-item"') == 1
    assert "AZN 3.00" in text_of(failed.text)
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert sorted(row[1] for row in rows[1:]) == ["failed", "fulfilled"]


def test_receipts_of_the_subscribers_line_open_in_the_page_language(
    application: Application, signed_in: Browser, line: Line
) -> None:
    [topup] = history.transactions(application.uow(), number=line.msisdn.e164).items
    signed_in.get("/language/zh?next=/account")

    view = signed_in.get(f"/account/receipts/{topup.id}")
    pdf = signed_in.get(f"/account/receipts/{topup.id}.pdf")

    assert "收据" in view.text
    assert topup.verification_code in view.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="receipt-{topup.id}.pdf"'


def test_saved_cards_are_added_once_listed_by_last_four_and_removed(
    application: Application, signed_in: Browser, line: Line, acquirer: ScriptedAcquirer
) -> None:
    signed_in.get("/account/cards")
    token = signed_in.form_token()
    card = {"form_token": token, "card_number": "4242 4242 4242 4242", "card_expiry": "12/30", "cvc": "123"}

    first = signed_in.post("/account/cards", card)
    again = signed_in.post("/account/cards", card)

    assert first.status_code == again.status_code == 303
    saved = payment_methods.list_cards(application.uow(), number=line.msisdn.e164, scope=None)
    assert [(c.scope, c.brand, c.last_four) for c in saved] == [("portal:+994501234567", "visa", "4242")]
    listed = signed_in.get("/account/cards")
    assert "Visa •••• 4242" in text_of(listed.text)
    assert "4242 4242 4242 4242" not in listed.text
    declined = signed_in.post("/account/cards", {**card, "form_token": "other1", "card_number": "4000 0000 0000 0002"})
    assert field_error(declined.text, "card_number") == "The bank declined this card, so it was not saved."
    removed = signed_in.post(f"/account/cards/{saved[0].id}/remove", {})
    assert removed.status_code == 303
    assert payment_methods.list_cards(application.uow(), number=line.msisdn.e164, scope=None) == []


def test_auto_recharge_is_set_refused_when_wrong_and_turned_off(
    application: Application, signed_in: Browser, line: Line, acquirer: ScriptedAcquirer
) -> None:
    assert "Add a card first" in text_of(signed_in.get("/account/auto-recharge").text)
    card = payment_methods.save_card(
        application.uow(),
        application.saga,
        scope="portal:+994501234567",
        number=line.msisdn.e164,
        card=VISA,
    )
    before = snapshot(application)
    wrong = signed_in.post(
        "/account/auto-recharge/threshold",
        {"threshold": "200", "threshold_amount": "5", "monthly_max": "3", "threshold_card": card.id},
    )
    assert wrong.status_code == 422
    assert field_error(wrong.text, "threshold") == (
        "The threshold must be more than 0 and at most ten times the top-up amount."
    )
    too_big = signed_in.post(
        "/account/auto-recharge/schedule", {"day_of_month": "5", "schedule_amount": "900", "schedule_card": card.id}
    )
    assert field_error(too_big.text, "schedule_amount") == "The amount must be between AZN 1.00 and AZN 500.00."
    assert snapshot(application) == before

    done = signed_in.post(
        "/account/auto-recharge/schedule", {"day_of_month": "5", "schedule_amount": "10", "schedule_card": card.id}
    )

    assert done.status_code == 303
    [rule] = auto_recharge.rules_of(application.uow(), application.saga, number=line.msisdn.e164, scope=None)
    assert (rule.rule.scope, rule.rule.day_of_month, rule.rule.amount_qepik) == ("portal:+994501234567", 5, 1000)
    assert "On" in text_of(signed_in.get("/account/auto-recharge").text)
    off = signed_in.post("/account/auto-recharge/schedule/remove", {})
    assert off.status_code == 303
    assert auto_recharge.rules_of(application.uow(), application.saga, number=line.msisdn.e164, scope=None) == []
    assert signed_in.post("/account/auto-recharge/schedule/remove", {}).status_code == 404


def test_notification_settings_are_saved_and_a_bad_address_refused(
    application: Application, signed_in: Browser, line: Line
) -> None:
    refused = signed_in.post("/account/notifications", {"sms": "on", "email": "not an address", "tell": ["topup_done"]})
    assert field_error(refused.text, "email") == "This is not an e-mail address."

    saved = signed_in.post(
        "/account/notifications", {"sms": "on", "email": "aysel@example.az", "tell": ["topup_done", "balance_low"]}
    )

    assert saved.status_code == 303
    found = notifications.settings_of(application.uow(), number=line.msisdn.e164)
    assert (found.sms, found.email_address) == (True, "aysel@example.az")
    assert {kind.value for kind in found.muted_kinds} == {
        "data_75",
        "data_90",
        "bundle_expiring_3d",
        "bundle_expiring_1d",
        "renewal_done",
        "renewal_failed",
        "validity_ending",
        "auto_recharge_done",
        "auto_recharge_failed",
        "auto_recharge_suspended",
    }
