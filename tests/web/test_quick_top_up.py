"""Quick top-up without an account, through the pages: number, amount, quote, payment, result and receipt."""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import make_line, snapshot
from tests.fakes import ScriptedAcquirer, ScriptedWallet
from tests.web.browsing import Browser, field_error, text_of
from topup.bootstrap import Application
from topup.domain.lines import Line
from topup.domain.orders import OrderState, PaymentMethod
from topup.services import lines, numbers, orders, quotes


def main_balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def order_ids(application: Application) -> list[str]:
    with application.engine.connect() as connection:
        return list(connection.execute(text("SELECT id FROM orders ORDER BY id")).scalars())


def test_the_start_page_offers_presets_and_the_operators(browser: Browser) -> None:
    page = browser.get("/")

    assert page.status_code == 200
    seen = text_of(page.text)
    for preset in ("AZN 1.00", "AZN 3.00", "AZN 5.00", "AZN 10.00", "AZN 20.00", "Other amount"):
        assert preset in seen
    assert '<option value="azercell">Azercell</option>' in page.text
    assert '<option value="nar">Nar</option>' in page.text
    assert 'value="500" data-live checked' in page.text  # 5 AZN is the default


def test_the_live_check_names_the_operator_its_limits_and_the_validity(browser: Browser, line: Line) -> None:
    checked = browser.get("/topup/check", params={"number": "050 123 45 67", "amount": "10"})

    assert checked.status_code == 200
    assert text_of(checked.text) == (
        "Azercell 050 123 45 67 belongs to Azercell. Azercell takes AZN 1.00 to AZN 500.00. "
        "AZN 10.00 gives 60 days of use. The line will be valid until March 23, 2027."
    )


def test_the_live_check_shows_the_same_problems_as_the_form(browser: Browser, line: Line) -> None:
    checked = browser.get("/topup/check", params={"number": "050 123 45 67", "amount": "600"})

    assert "The amount must be between AZN 1.00 and AZN 500.00." in text_of(checked.text)
    assert 'data-for="amount"' in checked.text


def test_a_card_payment_tops_up_the_line_and_shows_the_receipt(
    application: Application, browser: Browser, line: Line, acquirer: ScriptedAcquirer
) -> None:
    checkout = browser.quote("050 123 45 67", amount="1000")
    quoted = text_of(browser.page)
    assert "Number 050 123 45 67" in quoted
    assert "Operator Azercell" in quoted
    assert "Usage period +60 days, until March 23, 2027" in quoted
    assert "VAT included AZN 1.53" in quoted
    assert "To pay AZN 10.00" in quoted

    paid = browser.pay_by_card(checkout)
    result = browser.follow(paid)

    assert result.status_code == 200
    seen = text_of(result.text)
    assert "Payment received AZN 10.00 is on 050 123 45 67 now." in seen
    assert "Visa •••• 4242" in seen
    assert "4242 4242 4242 4242" not in result.text
    assert main_balance(application, line.msisdn.e164) == 2000
    assert acquirer.calls == ["authorise", "capture"]
    [order_id] = order_ids(application)
    order = orders.get_order(application.uow(), order_id=order_id)
    assert (order.scope, order.state, order.card_last_four) == ("portal", OrderState.FULFILLED, "4242")
    pdf = browser.get(f"/orders/{order_id}/receipt.pdf?pass={browser.application_pass(order_id)}")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    printed = browser.get(f"/orders/{order_id}/receipt?pass={browser.application_pass(order_id)}")
    assert "Receipt" in printed.text
    assert printed.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"


def test_three_d_secure_sends_the_browser_to_the_bank_and_back_to_the_result(
    application: Application, browser: Browser, line: Line, acquirer: ScriptedAcquirer
) -> None:
    checkout = browser.quote(line.msisdn.e164)

    paid = browser.pay_by_card(checkout, card_number="4000 0000 0000 3220")

    assert paid.status_code == 303
    assert paid.headers["location"] == "https://sandbox.test/challenge"
    [order_id] = order_ids(application)
    waiting = orders.get_order(application.uow(), order_id=order_id)
    assert waiting.state is OrderState.AWAITING_PAYMENT
    assert main_balance(application, line.msisdn.e164) == 1000
    acquirer.approve_challenge(order_id)  # the customer typed the code on the bank's page
    back = browser.follow(browser.get(f"/orders/{order_id}/return?pass={browser.application_pass(order_id)}"))
    assert "Payment received" in text_of(back.text)
    assert main_balance(application, line.msisdn.e164) == 1500


def test_a_declined_card_says_why_offers_to_try_again_and_charges_nothing(
    application: Application, browser: Browser, line: Line, acquirer: ScriptedAcquirer
) -> None:
    checkout = browser.quote(line.msisdn.e164, amount="300")
    before = snapshot(application)

    result = browser.follow(browser.pay_by_card(checkout, card_number="4000 0000 0000 0002"))

    seen = text_of(result.text)
    assert "The payment did not go through" in seen
    assert "Your bank declined the card. Try another card, or ask your bank why." in seen
    assert "Nothing was charged for this order." in seen
    assert 'href="/?number=%2B994501234567&amp;amount=300">Try again</a>' in result.text
    assert snapshot(application) == before
    again = browser.get("/?number=%2B994501234567&amount=300")
    assert 'value="+994501234567"' in again.text
    assert 'value="300" data-live checked' in again.text


def test_a_payment_form_sent_twice_pays_once(
    application: Application, browser: Browser, line: Line, acquirer: ScriptedAcquirer
) -> None:
    checkout = browser.quote(line.msisdn.e164)
    token = browser.form_token()
    fields = {"form_token": token, "method": "card", "card_number": "4242424242424242", "card_expiry": "12/30"}

    first = browser.post(checkout, {**fields, "cvc": "123"})
    second = browser.post(checkout, {**fields, "cvc": "123"})

    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(order_ids(application)) == 1
    assert acquirer.calls == ["authorise", "capture"]
    assert main_balance(application, line.msisdn.e164) == 1500


def test_a_ported_number_is_detected_and_the_wrong_operator_is_refused(
    application: Application, browser: Browser
) -> None:
    numbers.add_port(application.uow(), application.clock, number="+994503334455", operator="bakcell")
    make_line(application, number="+994503334455", balance_qepik=100)
    checked = browser.get("/topup/check", params={"number": "0503334455"})
    assert "This number moved to Bakcell." in text_of(checked.text)
    before = snapshot(application)

    refused = browser.post("/topup", {"number": "0503334455", "operator": "azercell", "amount": "500"})

    assert refused.status_code == 422
    assert field_error(refused.text, "operator") == "This number is served by Bakcell now. Choose Bakcell to continue."
    assert snapshot(application) == before
    chosen = browser.post("/topup", {"number": "0503334455", "operator": "bakcell", "amount": "500"})
    assert chosen.status_code == 303


def test_paypal_needs_a_foreign_currency_and_the_checkout_offers_it(
    application: Application, browser: Browser, line: Line, wallets: dict[PaymentMethod, ScriptedWallet]
) -> None:
    quotes.set_rate(application.uow(), application.clock, currency="USD", rate="1.70", set_by="test")
    checkout = browser.quote(line.msisdn.e164, amount="1000")
    assert 'value="paypal" disabled' in browser.page
    assert "Pays in EUR, USD only." in text_of(browser.page)

    in_usd = browser.follow(browser.post(f"{checkout}/currency", {"currency": "USD"}))
    assert "To pay $5.89" in text_of(in_usd.text)
    usd_checkout = in_usd.url.path
    sent = browser.post(usd_checkout, {"form_token": browser.form_token(), "method": "paypal"})

    [order_id] = order_ids(application)
    assert sent.headers["location"] == f"https://wallet.test/approve/{order_id}"
    wallets[PaymentMethod.PAYPAL].approve(order_id)
    back = browser.follow(browser.get(f"/orders/{order_id}/return?pass={browser.application_pass(order_id)}"))
    assert "Payment received" in text_of(back.text)
    assert main_balance(application, line.msisdn.e164) == 2000


def test_goldenpay_comes_back_through_its_one_return_address(
    application: Application, browser: Browser, line: Line, wallets: dict[PaymentMethod, ScriptedWallet]
) -> None:
    checkout = browser.quote(line.msisdn.e164)
    sent = browser.post(checkout, {"form_token": browser.form_token(), "method": "goldenpay"})
    [order_id] = order_ids(application)
    assert sent.headers["location"] == f"https://wallet.test/approve/{order_id}"
    wallets[PaymentMethod.GOLDENPAY].approve(order_id)

    back = browser.get("/payments/goldenpay/return", params={"payment_key": f"w_{order_id}"})

    assert back.status_code == 303
    assert back.headers["location"] == f"/orders/{order_id}?pass={browser.application_pass(order_id)}"
    assert main_balance(application, line.msisdn.e164) == 1500
