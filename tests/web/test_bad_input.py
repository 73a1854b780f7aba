"""Every bad input on the portal's forms: the exact status, the message next to the field in the page's
language, and nothing changed (a snapshot of the database before and after)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.factories import make_line, snapshot
from tests.fakes import ScriptedAcquirer
from tests.web.browsing import Browser, field_error, text_of
from tests.web.conftest import BROWSER_HEADERS
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.lines import Line, LineStatus
from topup.entrypoints.api.app import create_app
from topup.services import history, payment_methods
from topup.services.payments import CardDetails

NOT_FOUND_PAGE = "Sorry We could not find this page."


def orders_count(application: Application) -> int:
    with application.engine.connect() as connection:
        return int(connection.execute(text("SELECT COUNT(*) FROM orders")).scalar_one())


def quotes_count(application: Application) -> int:
    with application.engine.connect() as connection:
        return int(connection.execute(text("SELECT COUNT(*) FROM quotes")).scalar_one())


def main_text(html: str) -> str:
    found = re.search(r"<main[^>]*>(.*)</main>", html, re.S)
    assert found is not None
    return text_of(found.group(1))


@pytest.fixture
def other_browser(application: Application, acquirer: ScriptedAcquirer) -> Iterator[Browser]:
    """Another visitor, in another browser (own cookies)."""
    with TestClient(create_app(application), base_url="https://testserver", headers=BROWSER_HEADERS) as c:
        yield Browser(c, application)


# --- numbers and amounts on the start page -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "message"),
    [
        pytest.param("", "Please fill this in.", id="empty"),
        pytest.param("call me", "This is not a phone number. Use digits, such as 050 123 45 67.", id="letters"),
        pytest.param(
            "050 123",
            "This number does not exist. A mobile number has 9 digits after 0, such as 050 123 45 67.",
            id="too-short",
        ),
        pytest.param("+7 912 345 67 89", "Only Azerbaijani mobile numbers (+994) can be topped up here.", id="foreign"),
        pytest.param("012 493 00 00", "This is a landline or service number, not a mobile line.", id="landline"),
        pytest.param("050 999 88 77", "We do not serve this number yet. Check the digits.", id="no-such-line"),
        pytest.param("9" * 40, "This is not a phone number. Use digits, such as 050 123 45 67.", id="too-long"),
    ],
)
def test_a_wrong_number_is_refused_next_to_its_field(
    application: Application, browser: Browser, line: Line, number: str, message: str
) -> None:
    before = snapshot(application)

    refused = browser.post("/topup", {"number": number, "amount": "500", "currency": "AZN"})

    assert refused.status_code == 422
    assert field_error(refused.text, "number") == message
    assert 'aria-invalid="true"' in refused.text
    assert snapshot(application) == before
    assert quotes_count(application) == 0


def test_a_barred_line_is_refused(application: Application, browser: Browser) -> None:
    make_line(application, number="+994552223344", status=LineStatus.BARRED)
    before = snapshot(application)

    refused = browser.post("/topup", {"number": "055 222 33 44", "amount": "500"})

    assert refused.status_code == 422
    assert field_error(refused.text, "number") == (
        "This line is barred: it cannot be topped up now. Please contact the operator."
    )
    assert snapshot(application) == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"amount": "other", "amount_other": "0.50"},
            "The amount must be between AZN 1.00 and AZN 500.00.",
            id="below",
        ),
        pytest.param(
            {"amount": "other", "amount_other": "600"},
            "The amount must be between AZN 1.00 and AZN 500.00.",
            id="above",
        ),
        pytest.param(
            {"amount": "other", "amount_other": "five"},
            "Enter an amount in manat, such as 5 or 7.50 (at most two decimals).",
            id="words",
        ),
        pytest.param(
            {"amount": "other", "amount_other": "5.555"},
            "Enter an amount in manat, such as 5 or 7.50 (at most two decimals).",
            id="three-decimals",
        ),
        pytest.param(
            {"amount": "other", "amount_other": "-5"},
            "Enter an amount in manat, such as 5 or 7.50 (at most two decimals).",
            id="negative",
        ),
        pytest.param({"amount": "other", "amount_other": ""}, "Please fill this in.", id="empty"),
        pytest.param({"amount": "1e3"}, "Please choose one of the options.", id="tampered-preset"),
        pytest.param({"amount": "60000"}, "The amount must be between AZN 1.00 and AZN 500.00.", id="preset-too-big"),
    ],
)
def test_an_amount_outside_the_operators_limits_is_refused(
    application: Application, browser: Browser, line: Line, fields: dict[str, str], message: str
) -> None:
    before = snapshot(application)

    refused = browser.post("/topup", {"number": line.msisdn.e164, **fields})

    assert refused.status_code == 422
    assert field_error(refused.text, "amount") == message
    assert snapshot(application) == before
    assert quotes_count(application) == 0


def test_a_typed_amount_wins_over_a_preset_left_ticked(browser: Browser, line: Line) -> None:
    quoted = browser.post("/topup", {"number": line.msisdn.e164, "amount": "500", "amount_other": "7,50"})

    assert quoted.status_code == 303
    assert "To pay AZN 7.50" in text_of(browser.get(quoted.headers["location"]).text)


def test_problems_are_in_the_pages_language(application: Application, browser: Browser, line: Line) -> None:
    browser.get("/language/ru?next=/")

    refused = browser.post("/topup", {"number": line.msisdn.e164, "amount": "other", "amount_other": "600"})

    assert field_error(refused.text, "amount") == "Сумма должна быть от 1,00 AZN до 500,00 AZN."


# --- CSRF ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "0" * 32, "not-a-token"])
def test_a_form_without_the_visitors_token_is_refused(
    application: Application, browser: Browser, line: Line, token: str | None
) -> None:
    browser.get("/")
    before = snapshot(application)
    fields = {"number": line.msisdn.e164, "amount": "500"}
    if token is not None:
        fields["csrf_token"] = token

    refused = browser.post("/topup", fields, csrf=False)

    assert refused.status_code == 403
    assert main_text(refused.text) == "Sorry This form has expired. Reload the page and try again. Go to the start page"
    assert snapshot(application) == before
    assert quotes_count(application) == 0


def test_another_visitors_token_does_not_pass(
    application: Application, browser: Browser, other_browser: Browser, line: Line
) -> None:
    checkout = browser.quote(line.msisdn.e164)
    token = browser.form_token()
    before = snapshot(application)
    other_token = other_browser.csrf()

    refused = browser.post(
        checkout,
        {"csrf_token": other_token, "form_token": token, "method": "card", "card_number": "4242424242424242"},
        csrf=False,
    )

    assert refused.status_code == 403
    assert orders_count(application) == 0
    assert snapshot(application) == before


@pytest.mark.parametrize(
    "path",
    ["/sign-in", "/sign-in/code", "/sign-out", "/account/cards", "/account/notifications", "/account/bundles/x/buy"],
)
def test_every_post_checks_the_token(application: Application, signed_in: Browser, path: str) -> None:
    before = snapshot(application)

    refused = signed_in.post(path, {"number": "+994501234567", "code": "123456"}, csrf=False)

    assert refused.status_code == 403
    assert snapshot(application) == before
    assert signed_in.get("/account").status_code == 200  # not even signed out


# --- checkout: hidden fields, quotes, cards, double submits ---------------------------------------------------


def test_a_changed_quote_reference_is_not_found(application: Application, browser: Browser, line: Line) -> None:
    checkout = browser.quote(line.msisdn.e164)
    quote_id, signature = checkout.removeprefix("/checkout/").split(".")
    before = snapshot(application)

    for tampered in (f"{quote_id}.{'0' * 32}", f"{'a' * 32}.{signature}", quote_id, "../etc"):
        shown = browser.get(f"/checkout/{tampered}")
        paid = browser.post(
            f"/checkout/{tampered}", {"form_token": "t1", "method": "card", "card_number": "4242424242424242"}
        )
        assert (shown.status_code, paid.status_code) == (404, 404), tampered
        assert main_text(paid.text) == f"{NOT_FOUND_PAGE} Go to the start page"
    assert orders_count(application) == 0
    assert snapshot(application) == before


def test_another_visitors_checkout_link_is_not_found(
    application: Application, browser: Browser, other_browser: Browser, line: Line
) -> None:
    checkout = browser.quote(line.msisdn.e164)

    seen = other_browser.get(checkout)

    assert seen.status_code == 404
    assert "050 123 45 67" not in seen.text


def test_an_expired_quote_is_priced_again_and_nothing_is_paid(
    application: Application, browser: Browser, line: Line, clock: FixedClock, acquirer: ScriptedAcquirer
) -> None:
    checkout = browser.quote(line.msisdn.e164)
    token = browser.form_token()
    clock.advance(timedelta(seconds=application.settings.quote_lock_seconds + 1))
    before = snapshot(application)

    paid = browser.post(
        checkout,
        {
            "form_token": token,
            "method": "card",
            "card_number": "4242424242424242",
            "card_expiry": "12/30",
            "cvc": "123",
        },
    )

    assert paid.status_code == 303
    assert paid.headers["location"].endswith("?notice=quote_expired")
    assert paid.headers["location"] != checkout
    fresh = browser.get(paid.headers["location"])
    assert "This price has expired. Here is a fresh one: please check it and pay again." in text_of(fresh.text)
    assert orders_count(application) == 0
    assert acquirer.calls == []
    assert snapshot(application) == before
    stale = browser.get(checkout)
    assert "This price has expired." in text_of(stale.text)
    assert "Get a fresh price" in stale.text


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        pytest.param(
            {"card_number": "4242 4242 4242 4241"},
            "card_number",
            "This card number is not valid. Check the digits.",
            id="luhn",
        ),
        pytest.param({"card_number": ""}, "card_number", "Please fill this in.", id="no-number"),
        pytest.param(
            {"card_expiry": "13/30"}, "card_expiry", "Enter the expiry date as MM/YY, such as 08/29.", id="month-13"
        ),
        pytest.param(
            {"card_expiry": "1230"}, "card_expiry", "Enter the expiry date as MM/YY, such as 08/29.", id="no-slash"
        ),
        pytest.param({"card_expiry": "01/26"}, "card_expiry", "This card has expired.", id="expired"),
        pytest.param(
            {"cvc": "12"},
            "cvc",
            "The security code has 3 digits (4 on American Express), on the back of the card.",
            id="cvc",
        ),
        pytest.param({"cvc": ""}, "cvc", "Please fill this in.", id="no-cvc"),
        pytest.param({"method": "bitcoin"}, "method", "Please choose one of the options.", id="tampered-method"),
        pytest.param(
            {"method": "saved:0123abcd"},
            "saved_card",
            "Please choose one of your saved cards.",
            id="not-a-card-of-theirs",
        ),
    ],
)
def test_card_problems_are_shown_and_the_number_is_never_echoed(
    application: Application,
    browser: Browser,
    line: Line,
    acquirer: ScriptedAcquirer,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    checkout = browser.quote(line.msisdn.e164)
    card = {"method": "card", "card_number": "4242 4242 4242 4241", "card_expiry": "12/30", "cvc": "123"}
    card.update({"card_number": "4242424242424242"} if "card_number" not in fields else {})
    before = snapshot(application)

    refused = browser.post(checkout, {"form_token": browser.form_token(), **card, **fields})

    assert refused.status_code == 422
    assert field_error(refused.text, field) == message
    assert "4242424242424242" not in refused.text
    assert "4242 4242 4242 4241" not in refused.text
    assert 'name="card_number" inputmode="numeric" autocomplete="cc-number" maxlength="23" placeholder' in refused.text
    assert orders_count(application) == 0
    assert acquirer.calls == []
    assert snapshot(application) == before


def test_a_form_token_reused_with_other_details_pays_nothing_more(
    application: Application, browser: Browser, line: Line, acquirer: ScriptedAcquirer
) -> None:
    checkout = browser.quote(line.msisdn.e164)
    token = browser.form_token()
    browser.pay_by_card(checkout)
    before = snapshot(application)

    again = browser.post(
        checkout,
        {
            "form_token": token,
            "method": "card",
            "card_number": "5555555555554444",
            "card_expiry": "12/30",
            "cvc": "123",
        },
    )

    assert again.status_code == 422
    assert text_of(again.text).count("This form was already sent with other details.") == 1
    assert orders_count(application) == 1
    assert acquirer.calls == ["authorise", "capture"]
    assert snapshot(application) == before


# --- orders, receipts and cards of others ------------------------------------------------------------------------


def test_an_order_page_without_its_pass_reveals_nothing(
    application: Application, browser: Browser, other_browser: Browser, line: Line
) -> None:
    checkout = browser.quote(line.msisdn.e164)
    result = browser.follow(browser.pay_by_card(checkout))
    assert result.status_code == 200
    order_id = result.url.path.rsplit("/", 1)[-1]

    answers = [
        other_browser.get(f"/orders/{order_id}"),
        other_browser.get(f"/orders/{order_id}?pass={'0' * 32}"),
        other_browser.get(f"/orders/{order_id}/receipt.pdf"),
        other_browser.get(f"/orders/{order_id}/receipt"),
        other_browser.get(f"/orders/{order_id}/return"),
        other_browser.get(f"/orders/{'f' * 32}?pass={'0' * 32}"),
    ]

    assert [a.status_code for a in answers] == [404] * 6
    assert {main_text(a.text) for a in answers} == {f"{NOT_FOUND_PAGE} Go to the start page"}


def test_another_subscribers_receipts_orders_and_cards_are_not_found(
    application: Application, signed_in: Browser, acquirer: ScriptedAcquirer
) -> None:
    stranger = make_line(application, number="+994552223344", balance_qepik=700)
    [their_topup] = history.transactions(application.uow(), number=stranger.msisdn.e164).items
    their_card = payment_methods.save_card(
        application.uow(),
        application.saga,
        scope=f"portal:{stranger.msisdn.e164}",
        number=stranger.msisdn.e164,
        card=CardDetails("4242424242424242", 12, 2030, "123"),
    )
    before = snapshot(application)

    answers = [
        signed_in.get(f"/account/receipts/{their_topup.id}"),
        signed_in.get(f"/account/receipts/{their_topup.id}.pdf"),
        signed_in.get(f"/account/receipts/{their_topup.id}/print"),
        signed_in.post(f"/account/cards/{their_card.id}/remove", {}),
        signed_in.get("/account/receipts/nosuchid"),
    ]

    assert [a.status_code for a in answers] == [404] * 5
    assert {main_text(a.text) for a in answers} == {f"{NOT_FOUND_PAGE} Go to the start page"}
    assert snapshot(application) == before
    assert [c.id for c in payment_methods.list_cards(application.uow(), number=stranger.msisdn.e164, scope=None)] == [
        their_card.id
    ]


def test_account_pages_need_a_session(browser: Browser) -> None:
    for path in ("/account", "/account/bundles", "/account/history", "/account/cards", "/account/history.csv"):
        answer = browser.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/sign-in?next={path.replace('/', '%2F')}"


def test_an_unknown_address_is_a_page_for_a_browser_and_json_for_a_program(browser: Browser) -> None:
    page = browser.get("/no/such/page")
    program = browser.client.get("/no/such/page", headers={"Accept": "application/json"})
    api = browser.get("/v1")

    assert (page.status_code, main_text(page.text)) == (404, f"{NOT_FOUND_PAGE} Go to the start page")
    assert (program.status_code, program.json()["error"]["code"]) == (404, "not_found")
    assert (api.status_code, api.json()["error"]["code"]) == (404, "not_found")


def test_a_query_too_long_is_a_page_not_json(browser: Browser) -> None:
    answer = browser.get("/?number=" + "9" * 100)

    assert answer.status_code == 422
    assert main_text(answer.text) == "Sorry Please choose one of the options. Go to the start page"
