"""Card checks before any provider sees a number: Luhn, brand, expiry, security code."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from topup.domain.cards import CardExpired, CardInvalid, CardSummary, brand_of, check_card, check_cvc, luhn_valid

TODAY = date(2026, 11, 23)
VISA = "4242424242424242"


def with_check_digit(body: str) -> str:
    """Appends the Luhn check digit, computed here independently of the module."""
    total = 0
    for position, char in enumerate(reversed(body)):
        doubled = int(char) * 2 if position % 2 == 0 else int(char)  # the check digit will shift these by one
        total += doubled // 10 + doubled % 10
    return body + str((10 - total % 10) % 10)


def test_the_check_digit_helper_reproduces_known_numbers() -> None:
    assert with_check_digit("424242424242424") == VISA
    assert with_check_digit("37828224631000") == "378282246310005"
    assert with_check_digit("999999999999999") == "9999999999999995"


# Stripe's test numbers (PROTOCOLS.md section 5) and the brands' published test PANs.
@pytest.mark.parametrize(
    "pan",
    [
        "4242424242424242",
        "4000000000000002",  # card_declined
        "4000000000009995",  # insufficient_funds
        "4000000000003220",  # 3DS2 challenge
        "378282246310005",  # Amex
        "5555555555554444",  # Mastercard
        "2223003122003222",  # Mastercard 2-series
        "6200000000000005",  # UnionPay
    ],
)
def test_luhn_accepts_the_test_card_numbers(pan: str) -> None:
    assert luhn_valid(pan) is True


@pytest.mark.parametrize("pan", ["4242424242424241", "4000000000000001", "378282246310006", "5555555555554445"])
def test_luhn_refuses_a_wrong_check_digit(pan: str) -> None:
    assert luhn_valid(pan) is False


@given(st.text(alphabet="0123456789", min_size=11, max_size=18))
def test_exactly_one_check_digit_makes_a_number_valid(body: str) -> None:
    valid = [digit for digit in "0123456789" if luhn_valid(body + digit)]
    assert valid == [with_check_digit(body)[-1]]


@given(st.text(alphabet="0123456789", min_size=11, max_size=18), st.data())
def test_luhn_catches_every_single_digit_typo(body: str, data: st.DataObject) -> None:
    pan = with_check_digit(body)
    position = data.draw(st.integers(min_value=0, max_value=len(pan) - 1))
    replacement = data.draw(st.sampled_from([digit for digit in "0123456789" if digit != pan[position]]))
    assert luhn_valid(pan[:position] + replacement + pan[position + 1 :]) is False


@pytest.mark.parametrize(
    ("pan", "brand"),
    [
        ("4242424242424242", "visa"),
        ("4000000000000002", "visa"),
        ("4000000000009995", "visa"),
        ("378282246310005", "amex"),
        ("371449635398431", "amex"),
        ("5555555555554444", "mastercard"),
        ("5200000000000007", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("6200000000000005", "unionpay"),
        (with_check_digit("999999999999999"), "other"),
    ],
)
def test_brand_of(pan: str, brand: str) -> None:
    assert luhn_valid(pan) is True
    assert brand_of(pan) == brand


@pytest.mark.parametrize(
    ("pan", "brand"),
    [
        (with_check_digit("222100000000000"), "mastercard"),  # first of the 2-series
        (with_check_digit("272099999999999"), "mastercard"),  # last of the 2-series
        (with_check_digit("222099999999999"), "other"),  # just below
        (with_check_digit("272100000000000"), "other"),  # just above
        (with_check_digit("510000000000000"), "mastercard"),
        (with_check_digit("559999999999999"), "mastercard"),
        (with_check_digit("34000000000000"), "amex"),
        (with_check_digit("35000000000000"), "other"),  # 15 digits starting 35: no brand here
    ],
)
def test_brand_of_at_the_edges_of_the_prefix_ranges(pan: str, brand: str) -> None:
    assert brand_of(pan) == brand


@pytest.mark.parametrize("number", ["4242 4242 4242 4242", "4242-4242-4242-4242", "4242424242424242"])
def test_check_card_accepts_spaces_and_dashes_and_returns_the_bare_number(number: str) -> None:
    pan, summary = check_card(number, 12, 2030, today=TODAY)
    assert pan == VISA
    assert summary == CardSummary(brand="visa", last_four="4242", expiry_month=12, expiry_year=2030)
    assert summary.display == "Visa •••• 4242"


def test_check_card_summarises_other_brands() -> None:
    pan, summary = check_card("5555 5555 5555 4444", 3, 2030, today=TODAY)
    assert pan == "5555555555554444"
    assert summary == CardSummary("mastercard", "4444", 3, 2030)
    assert summary.display == "Mastercard •••• 4444"
    _, amex = check_card("3782 822463 10005", 3, 2030, today=TODAY)
    assert amex == CardSummary("amex", "0005", 3, 2030)
    assert amex.display == "American Express •••• 0005"


@pytest.mark.parametrize("length", [12, 19])
def test_check_card_accepts_the_shortest_and_longest_numbers(length: int) -> None:
    pan = with_check_digit("9" * (length - 1))
    assert check_card(pan, 1, 2030, today=TODAY)[0] == pan


@pytest.mark.parametrize(
    "number",
    [
        "4242 4242 4242 424a",  # a letter
        "abcd efgh ijkl mnop",
        with_check_digit("9" * 10),  # 11 digits: too short, though Luhn-valid
        with_check_digit("9" * 19),  # 20 digits: too long, though Luhn-valid
        "4242424242424241",  # fails Luhn (Stripe's incorrect_number)
        "",
        "    ",
        "4242.4242.4242.4242",
        "4242_4242_4242_4242",
        "４２４２４２４２４２４２４２４２",  # full-width digits
        "+4242424242424242",
        "4242424242424242\n",
    ],
)
def test_check_card_refuses_a_malformed_number(number: str) -> None:
    with pytest.raises(CardInvalid) as excinfo:
        check_card(number, 12, 2030, today=TODAY)
    assert excinfo.value.code == "card_invalid"
    assert excinfo.value.details == {"field": "number"}


@pytest.mark.parametrize("number", [4242424242424242, None, b"4242424242424242", ["4242424242424242"]])
def test_check_card_refuses_a_number_that_is_not_text(number: object) -> None:
    with pytest.raises(CardInvalid) as excinfo:
        check_card(number, 12, 2030, today=TODAY)
    assert excinfo.value.code == "card_invalid"
    assert excinfo.value.details == {"field": "number"}


@pytest.mark.parametrize("month", [0, 13, -1, "1", "12", True, False, 1.0, None])
def test_check_card_refuses_a_bad_expiry_month(month: object) -> None:
    with pytest.raises(CardInvalid) as excinfo:
        check_card(VISA, month, 2030, today=TODAY)
    assert excinfo.value.code == "card_invalid"
    assert excinfo.value.details == {"field": "expiry_month"}


@pytest.mark.parametrize("year", [99, 30, 1999, 2100, "2030", 2030.0, True, None])
def test_check_card_refuses_a_bad_expiry_year(year: object) -> None:
    with pytest.raises(CardInvalid) as excinfo:
        check_card(VISA, 12, year, today=TODAY)
    assert excinfo.value.code == "card_invalid"
    assert excinfo.value.details == {"field": "expiry_year"}


@pytest.mark.parametrize(("month", "year"), [(10, 2026), (1, 2026), (12, 2025), (11, 2025)])
def test_check_card_refuses_an_expired_card(month: int, year: int) -> None:
    with pytest.raises(CardExpired) as excinfo:
        check_card(VISA, month, year, today=TODAY)
    assert excinfo.value.code == "card_expired"
    assert excinfo.value.details == {"expiry": f"{month:02d}/{year}"}


@pytest.mark.parametrize(("month", "year"), [(11, 2026), (12, 2026), (1, 2027), (12, 2099)])
def test_check_card_accepts_a_card_valid_this_month_or_later(month: int, year: int) -> None:
    _, summary = check_card(VISA, month, year, today=TODAY)
    assert (summary.expiry_month, summary.expiry_year) == (month, year)


def test_a_card_expiring_this_month_is_good_until_the_last_day() -> None:
    assert check_card(VISA, 11, 2026, today=date(2026, 11, 30))[0] == VISA
    with pytest.raises(CardExpired):
        check_card(VISA, 11, 2026, today=date(2026, 12, 1))


@given(st.lists(st.sampled_from([" ", "-"]), min_size=16, max_size=16))
def test_separators_anywhere_are_removed(separators: list[str]) -> None:
    number = "".join(digit + separator for digit, separator in zip(VISA, separators, strict=True))
    assert check_card(number, 12, 2030, today=TODAY)[0] == VISA


@pytest.mark.parametrize(("cvc", "brand"), [("123", "visa"), ("000", "mastercard"), ("1234", "amex"), ("737", "other")])
def test_check_cvc_accepts_the_right_number_of_digits(cvc: str, brand: str) -> None:
    assert check_cvc(cvc, brand=brand) == cvc


@pytest.mark.parametrize(
    ("cvc", "brand", "digits"),
    [
        ("12", "visa", 3),
        ("1234", "visa", 3),
        ("abc", "visa", 3),
        ("12a", "visa", 3),
        ("", "visa", 3),
        (" 123", "visa", 3),
        ("123\n", "visa", 3),
        ("１２３", "visa", 3),  # full-width digits
        (123, "visa", 3),
        (None, "visa", 3),
        ("123", "amex", 4),
        ("12345", "amex", 4),
        (1234, "amex", 4),
    ],
)
def test_check_cvc_refuses_anything_else(cvc: object, brand: str, digits: int) -> None:
    with pytest.raises(CardInvalid) as excinfo:
        check_cvc(cvc, brand=brand)
    assert excinfo.value.code == "card_invalid"
    assert excinfo.value.details == {"field": "cvc"}
    assert excinfo.value.message == f"The security code has {digits} digits."
