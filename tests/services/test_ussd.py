"""The USSD dialogue: menus in the line's language within 182 characters, balance, data, bundles, card top-ups in
one step, repeats answered alike, the session's time limit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import buy_bundle, cards_on_sale, make_line
from topup.adapters.clock import FixedClock
from topup.adapters.receipt_codes import HmacDigests
from topup.bootstrap import Application
from topup.domain.errors import InvalidInput
from topup.domain.ussd import SCREEN_LENGTH_MAX, Screen
from topup.services import lines, ussd, vouchers


@pytest.fixture
def dialogue(application: Application) -> ussd.Ussd:
    return ussd.Ussd(
        vouchers.Vouchers(application.clock, application.codes, HmacDigests(application.settings.secret_key))
    )


def dial(
    application: Application, dialogue: ussd.Ussd, number: str, code: str, typed: str = "", session: str = "s1"
) -> Screen:
    screen = ussd.answer(application.uow(), dialogue, session_id=session, number=number, service_code=code, typed=typed)
    assert len(screen.text) <= SCREEN_LENGTH_MAX
    return screen


def card_on_sale(application: Application, dialogue: ussd.Ussd, operator: str = "azercell") -> str:
    [card] = cards_on_sale(application, dialogue.vouchers, count=1, operator=operator, nominal_qepik=300)
    return card.pin


def main_balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def test_the_menu_speaks_the_lines_language(application: Application, dialogue: ussd.Ussd) -> None:
    az = make_line(application, language="az").msisdn.e164
    ru = make_line(application, language="ru").msisdn.e164
    zh = make_line(application, language="zh").msisdn.e164

    assert dial(application, dialogue, az, "*111#", session="a") == Screen(
        "Azercell\n1 Balans\n2 Internet qalığı\n3 Paket al\n4 Kartla artır\n5 Başqa nömrəyə kart\n0 Çıxış", ends=False
    )
    assert dial(application, dialogue, ru, "*111#", session="r").text.startswith("Azercell\n1 Баланс\n")
    assert dial(application, dialogue, zh, "*111#", session="z").text.startswith("Azercell\n1 Balance\n")


def test_the_balance_code_shows_money_validity_and_bundles(application: Application, dialogue: ussd.Ussd) -> None:
    number = make_line(application, balance_qepik=1500, language="en").msisdn.e164
    buy_bundle(application, number, "azercell-1gb-1d")

    screen = dial(application, dialogue, number, "*111*1*7#")

    assert screen == Screen("Balance: 14.00 AZN\nValid until 22.01.2027\nDaily 1 GB: 1.00 GB (24.11.2026)", ends=True)


def test_buying_a_bundle_from_the_menu_is_done_once_whatever_the_gateway_repeats(
    application: Application, dialogue: ussd.Ussd
) -> None:
    number = make_line(application, balance_qepik=500, language="en").msisdn.e164

    listed = dial(application, dialogue, number, "*111#", "3")
    confirm = dial(application, dialogue, number, "*111#", "3*1")
    bought = dial(application, dialogue, number, "*111#", "3*1*1")
    again = dial(application, dialogue, number, "*111#", "3*1*1")

    assert listed.text.startswith("Choose a bundle:\n1 Daily 1 GB 1.00\n")
    assert listed.text.endswith("\n0 Back")
    assert confirm == Screen("Daily 1 GB, 1.00 AZN from your balance.\n1 Buy\n2 Cancel", ends=False)
    assert bought == Screen("Done: Daily 1 GB is active until 24.11.2026. Balance: 4.00 AZN.", ends=True)
    assert again == bought
    assert main_balance(application, number) == 400


def test_a_card_tops_up_in_one_step_and_a_used_card_is_refused(application: Application, dialogue: ussd.Ussd) -> None:
    number = make_line(application, language="az").msisdn.e164
    pin = card_on_sale(application, dialogue)

    done = dial(application, dialogue, number, "*101#", pin, session="v1")
    used = dial(application, dialogue, number, "*101#", pin, session="v2")

    assert done == Screen("Balansınız 3.00 AZN artırıldı. Balans: 3.00 AZN.", ends=True)
    assert used == Screen("Bu kart artıq istifadə olunub.", ends=True)
    assert main_balance(application, number) == 300


def test_a_card_for_another_number_asks_for_it_then_tops_it_up(application: Application, dialogue: ussd.Ussd) -> None:
    number = make_line(application, language="en").msisdn.e164
    friend = make_line(application)
    pin = card_on_sale(application, dialogue)

    assert dial(application, dialogue, number, "*131#") == Screen("Enter the number (e.g. 0501234567):", ends=False)
    national = friend.msisdn.national.replace(" ", "")
    assert dial(application, dialogue, number, "*131#", national) == Screen("Enter the 13-digit card code:", ends=False)
    done = dial(application, dialogue, number, "*131#", f"{national}*{pin}")

    assert done == Screen(f"{friend.msisdn.national} was topped up by 3.00 AZN.", ends=True)
    assert main_balance(application, friend.msisdn.e164) == 300
    assert main_balance(application, number) == 0


def test_the_menu_tops_up_by_card_too(application: Application, dialogue: ussd.Ussd) -> None:
    number = make_line(application, language="ru").msisdn.e164
    pin = card_on_sale(application, dialogue)

    assert dial(application, dialogue, number, "*111#", "4") == Screen("Введите 13-значный код карты:", ends=False)
    assert dial(application, dialogue, number, "*111#", f"4*{pin}") == Screen(
        "Баланс пополнен на 3.00 AZN. Баланс: 3.00 AZN.", ends=True
    )


def test_nar_codes_and_a_nar_card(application: Application, dialogue: ussd.Ussd) -> None:
    number = make_line(application, prefix="70", language="en").msisdn.e164
    pin = card_on_sale(application, dialogue, operator="nar")

    assert dial(application, dialogue, number, "*777#", session="n1").text.startswith("Balance: 0.00 AZN")
    assert dial(application, dialogue, number, "*777*11#", pin, session="n2").ends
    assert main_balance(application, number) == 300
    assert dial(application, dialogue, number, "*101#", pin, session="n3") == Screen(
        "There is no such code.", ends=True
    )


def test_data_left_lists_each_data_bundle(application: Application, dialogue: ussd.Ussd) -> None:
    number = make_line(application, balance_qepik=200, language="en").msisdn.e164
    assert dial(application, dialogue, number, "*100#", session="d1") == Screen("No active data bundle.", ends=True)
    buy_bundle(application, number, "azercell-1gb-1d")

    assert dial(application, dialogue, number, "*100#", session="d2") == Screen(
        "Data left:\nDaily 1 GB: 1.00 GB (24.11.2026)", ends=True
    )


def test_a_session_ends_after_180_seconds(application: Application, dialogue: ussd.Ussd, clock: FixedClock) -> None:
    number = make_line(application, language="en").msisdn.e164
    dial(application, dialogue, number, "*111#")
    clock.advance(timedelta(seconds=181))

    assert dial(application, dialogue, number, "*111#", "1") == Screen("The session timed out. Dial again.", ends=True)


def test_numbers_we_do_not_serve_and_wrong_choices(application: Application, dialogue: ussd.Ussd) -> None:
    number = make_line(application, language="en").msisdn.e164

    assert dial(application, dialogue, "+994509999990", "*111#", session="x") == Screen(
        "This number is not served here.", ends=True
    )
    assert dial(application, dialogue, number, "*111#", "9") == Screen("Wrong choice.", ends=True)
    assert dial(application, dialogue, number, "*555#", session="y") == Screen("There is no such code.", ends=True)


@pytest.mark.parametrize(
    ("code", "typed"),
    [("100", ""), ("*100#", "1" * 161), ("*100#", "1*abc"), ("*100#" + "1" * 40, ""), ("*100#", "1;DROP TABLE")],
)
def test_malformed_requests_are_refused(application: Application, dialogue: ussd.Ussd, code: str, typed: str) -> None:
    number = make_line(application).msisdn.e164

    with pytest.raises(InvalidInput):
        ussd.answer(application.uow(), dialogue, session_id="m", number=number, service_code=code, typed=typed)
