"""Scratch cards on the portal: the code for one's own number or another's, once, with its receipt; wrong codes
counted and locked; every refusal changes nothing."""

from __future__ import annotations

import re

import pytest

from tests.factories import cards_on_sale, make_line, snapshot
from tests.web.browsing import Browser, field_error, text_of
from topup.bootstrap import Application
from topup.domain.lines import Line
from topup.services import lines, vouchers
from topup.services.vouchers import PrintedCard

OTHER = "+994501112233"  # a friend's Azercell line


@pytest.fixture
def cards(application: Application) -> list[PrintedCard]:
    """Three 5 AZN Azercell cards on sale."""
    return cards_on_sale(application, application.vouchers, count=3)


@pytest.fixture
def friend(application: Application) -> Line:
    return make_line(application, number=OTHER, balance_qepik=200, language="az")


def main_balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def card_state(application: Application, serial: str) -> str:
    card, _events = vouchers.status(application.uow(), serial=serial)
    return card.state.value


def send(browser: Browser, pin: str, number: str) -> tuple[int, str]:
    """Open the form and send it; the status and the redirect (or the page shown again)."""
    browser.get("/voucher")
    response = browser.post("/voucher", {"pin": pin, "number": number, "form_token": browser.form_token()})
    return response.status_code, response.headers.get("location", "")


def test_the_form_asks_for_the_code_and_a_signed_in_subscribers_number(signed_in: Browser) -> None:
    page = signed_in.get("/voucher")

    assert page.status_code == 200
    assert 'name="pin"' in page.text
    assert 'name="number" type="tel" inputmode="tel" autocomplete="tel" maxlength="32" value="+994501234567"' in (
        page.text
    )
    assert "Scratch the silver layer and type the 13-digit code." in text_of(page.text)


def test_a_card_tops_up_another_number_and_shows_its_receipt(
    application: Application, browser: Browser, cards: list[PrintedCard], friend: Line
) -> None:
    card = cards[0]
    typed = f"{card.pin[:4]} {card.pin[4:8]} {card.pin[8:]}"  # as printed, in groups

    status, location = send(browser, typed, "050 111 22 33")

    assert status == 303
    assert re.fullmatch(r"/voucher/receipts/[0-9a-z]+\?pass=[0-9a-f]+", location), location
    assert main_balance(application, OTHER) == 200 + 500
    assert card_state(application, card.serial) == "redeemed"
    receipt = browser.get(location)
    assert receipt.status_code == 200
    shown = text_of(receipt.text)
    assert "Done: the card's amount is on the line." in shown
    assert "Transaction Top-up Amount 5.00 AZN" in shown
    assert "Balance after 7.00 AZN" in shown
    assert "Channel Voucher" in shown
    assert "+994 50 *** ** 33" in shown  # masked: the receipt may be shown to whoever holds the link
    code = re.search(r'href="/verify\?code=([A-Z0-9-]+)"', receipt.text)
    assert code is not None
    assert "This receipt is genuine" in text_of(browser.get(f"/verify?code={code.group(1)}").text)
    path, _, query = location.partition("?")
    pdf = browser.get(f"{path}.pdf?{query}")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    printable = browser.get(f"{path}/print?{query}")
    assert printable.status_code == 200
    assert code.group(1) in printable.text


def test_a_form_sent_twice_uses_the_card_once_and_lands_on_the_same_receipt(
    application: Application, browser: Browser, cards: list[PrintedCard], friend: Line
) -> None:
    browser.get("/voucher")
    fields = {"pin": cards[0].pin, "number": OTHER, "form_token": browser.form_token()}

    first = browser.post("/voucher", fields)
    second = browser.post("/voucher", fields)

    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == first.headers["location"]
    assert main_balance(application, OTHER) == 700


def test_a_used_card_is_refused_next_to_the_code_and_changes_nothing(
    application: Application, browser: Browser, cards: list[PrintedCard], friend: Line, line: Line
) -> None:
    assert send(browser, cards[0].pin, OTHER)[0] == 303
    before = snapshot(application)

    status, _ = send(browser, cards[0].pin, line.msisdn.e164)

    assert status == 422
    assert field_error(browser.page, "pin") == "This card was used already."
    assert snapshot(application) == before
    assert main_balance(application, line.msisdn.e164) == 1000


def test_three_wrong_codes_lock_card_top_ups_for_the_number(
    application: Application, browser: Browser, cards: list[PrintedCard], line: Line
) -> None:
    before = snapshot(application)
    for wrong in ("0000000000001", "0000000000002"):
        status, _ = send(browser, wrong, line.msisdn.e164)
        assert status == 422
        assert field_error(browser.page, "pin") == (
            "This card code is not valid. Check the 13 digits under the silver layer."
        )

    status, _ = send(browser, "0000000000003", line.msisdn.e164)
    status_after_lock, _ = send(browser, cards[0].pin, line.msisdn.e164)  # the right code, too late

    assert status == status_after_lock == 422
    assert field_error(browser.page, "pin") == (
        "Too many wrong card codes for this number. Card top-ups for it are locked until 11/24/26, 2:00 PM."
    )
    assert snapshot(application) == before
    assert card_state(application, cards[0].serial) == "active"


def test_a_code_of_the_wrong_shape_says_how_many_digits(
    application: Application, browser: Browser, cards: list[PrintedCard], line: Line
) -> None:
    before = snapshot(application)

    status, _ = send(browser, "12345-abc", line.msisdn.e164)

    assert status == 422
    assert field_error(browser.page, "pin") == "A card code has 13 digits."
    assert snapshot(application) == before


def test_a_card_of_another_operator_is_refused(application: Application, browser: Browser, line: Line) -> None:
    [nar_card] = cards_on_sale(application, application.vouchers, count=1, operator="nar")
    before = snapshot(application)

    status, _ = send(browser, nar_card.pin, line.msisdn.e164)

    assert status == 422
    assert field_error(browser.page, "pin") == (
        "This card is for another operator's numbers. Use a card of the number's operator."
    )
    assert snapshot(application) == before
    assert card_state(application, nar_card.serial) == "active"


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("", "Please fill this in."),
        ("12ab", "This is not a phone number. Use digits, such as 050 123 45 67."),
        ("+994 12 345 67 89", "This is a landline or service number, not a mobile line."),
        ("+994 50 999 99 99", "We do not serve this number yet. Check the digits."),
    ],
)
def test_a_wrong_number_is_shown_next_to_the_number(
    application: Application, browser: Browser, cards: list[PrintedCard], number: str, problem: str
) -> None:
    before = snapshot(application)

    status, _ = send(browser, cards[0].pin, number)

    assert status == 422
    assert field_error(browser.page, "number") == problem
    assert snapshot(application) == before
    assert card_state(application, cards[0].serial) == "active"


def test_an_empty_form_asks_for_both_fields(browser: Browser) -> None:
    status, _ = send(browser, "", "")

    assert status == 422
    assert field_error(browser.page, "pin") == "Please fill this in."
    assert field_error(browser.page, "number") == "Please fill this in."


def test_a_form_without_its_csrf_token_is_refused(
    application: Application, browser: Browser, cards: list[PrintedCard], line: Line
) -> None:
    before = snapshot(application)

    response = browser.post("/voucher", {"pin": cards[0].pin, "number": line.msisdn.e164}, csrf=False)

    assert response.status_code == 403
    assert snapshot(application) == before


def test_a_receipt_opens_only_with_its_own_pass(
    application: Application, browser: Browser, cards: list[PrintedCard], friend: Line, line: Line
) -> None:
    _, mine = send(browser, cards[0].pin, line.msisdn.e164)
    _, theirs = send(browser, cards[1].pin, OTHER)
    my_path, _, my_query = mine.partition("?")
    their_path, _, their_query = theirs.partition("?")

    assert browser.get(f"{their_path}?{my_query}").status_code == 404
    assert browser.get(their_path).status_code == 404
    assert browser.get(f"{my_path}.pdf?{their_query}").status_code == 404
    assert browser.get(f"/voucher/receipts/{'x' * 80}?{my_query}").status_code == 404
