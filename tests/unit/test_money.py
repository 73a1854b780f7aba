"""Money at the edges: parsing and printing AZN, VAT included in a price, the one accepted currency."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from topup.domain.errors import InvalidAmount, UnsupportedCurrency
from topup.domain.money import (
    AMOUNT_MAX_QEPIK,
    check_currency,
    format_amount,
    included_vat,
    parse_amount,
)

VAT_BP = 1_800  # 18 %, included in operator prices


@pytest.mark.parametrize(
    ("text", "qepik"),
    [
        ("5", 500),
        ("5.5", 550),
        ("5.00", 500),
        ("0.01", 1),
        ("0.5", 50),
        ("10.25", 1_025),
        ("1000000.00", 100_000_000),
        ("1000000", 100_000_000),
    ],
)
def test_parse_amount_accepts_decimal_strings(text: str, qepik: int) -> None:
    assert parse_amount(text) == qepik


@pytest.mark.parametrize(
    "text",
    [
        "-1",
        "0",
        "0.00",
        "0.0",
        "1e3",
        "NaN",
        "nan",
        "Infinity",
        "inf",
        "5.001",
        "01",
        "00.50",
        "",
        " 5",
        "5 ",
        "+5",
        "5,00",
        "5.",
        ".5",
        "١٢",  # Arabic-Indic digits
        "٥",  # Arabic-Indic five
        "５",  # full-width five
        "1_000",
        "0x10",
        "1000000.01",
        "9999999999",
        "5\n",
    ],
)
def test_parse_amount_refuses_malformed_or_out_of_bounds_text(text: str) -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount(text)
    assert excinfo.value.code == "invalid_amount"


@pytest.mark.parametrize("value", [5, 5.0, None, b"5", ["5"]])
def test_parse_amount_refuses_anything_but_a_string(value: object) -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount(value)
    assert excinfo.value.code == "invalid_amount"


def test_parse_amount_accepts_exactly_the_maximum() -> None:
    assert parse_amount(format_amount(AMOUNT_MAX_QEPIK)) == AMOUNT_MAX_QEPIK == 100_000_000


@pytest.mark.parametrize(
    ("qepik", "text"),
    [
        (0, "0.00"),
        (1, "0.01"),
        (50, "0.50"),
        (500, "5.00"),
        (12_345, "123.45"),
        (-5, "-0.05"),
        (-12_345, "-123.45"),
    ],
)
def test_format_amount(qepik: int, text: str) -> None:
    assert format_amount(qepik) == text


@given(st.integers(min_value=1, max_value=AMOUNT_MAX_QEPIK))
def test_format_then_parse_round_trips_every_positive_amount(qepik: int) -> None:
    assert parse_amount(format_amount(qepik)) == qepik


@given(st.integers(min_value=AMOUNT_MAX_QEPIK + 1, max_value=10**12))
def test_parse_amount_refuses_every_amount_above_the_maximum(qepik: int) -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount(format_amount(qepik))
    assert excinfo.value.code == "invalid_amount"


@pytest.mark.parametrize(
    ("gross", "vat"),
    [(500, 76), (1_500, 229), (677, 103), (0, 0), (1, 0), (100, 15), (11_800, 1_800)],
)
def test_included_vat_at_eighteen_percent(gross: int, vat: int) -> None:
    assert included_vat(gross, VAT_BP) == vat


def test_included_vat_at_zero_rate_is_zero() -> None:
    assert included_vat(12_345, 0) == 0


@given(st.integers(min_value=1, max_value=AMOUNT_MAX_QEPIK))
def test_included_vat_is_the_half_up_rounded_share(gross: int) -> None:
    vat = included_vat(gross, VAT_BP)
    assert 0 <= vat < gross
    # vat is gross * 1800 / 11800 rounded to the nearest qəpik: at most half a qəpik away.
    assert abs(vat * 11_800 - gross * 1_800) <= 5_900


@given(
    st.integers(min_value=1, max_value=AMOUNT_MAX_QEPIK),
    st.integers(min_value=0, max_value=10_000),
)
def test_included_vat_is_within_half_a_qepik_at_any_rate(gross: int, rate_bp: int) -> None:
    vat = included_vat(gross, rate_bp)
    divisor = 10_000 + rate_bp
    assert 0 <= vat <= gross
    assert abs(2 * (vat * divisor - gross * rate_bp)) <= divisor


def test_check_currency_accepts_azn() -> None:
    assert check_currency("AZN") == "AZN"


@pytest.mark.parametrize("currency", ["USD", "azn", "AZN ", "", None, 944])
def test_check_currency_refuses_anything_else(currency: object) -> None:
    with pytest.raises(UnsupportedCurrency) as excinfo:
        check_currency(currency)
    assert excinfo.value.code == "unsupported_currency"
