"""Exchange rates: parsing and printing, the currencies taken, conversion rounded up, a quote's lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from topup.domain.errors import UnsupportedCurrency
from topup.domain.fx import (
    FOREIGN_CURRENCIES,
    RATE_MAX_MICROS,
    InvalidRate,
    LockedRate,
    QuoteExpired,
    charge_in,
    check_currency_code,
    format_minor,
    format_rate,
    parse_rate,
)

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
# Written out here rather than imported: a rate is in millionths of a manat, an amount in qəpik (1/100 AZN),
# and every currency taken has 100 minor units.
MICROS_PER_MANAT = 1_000_000
QEPIK_PER_MANAT = 100
MINOR_PER_MAJOR = 100


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1.7", 1_700_000),
        ("1.700000", 1_700_000),
        ("1.70", 1_700_000),
        ("0.019", 19_000),
        ("0.000001", 1),
        ("1", 1_000_000),
        ("55", 55_000_000),
        ("1.123456", 1_123_456),
        ("999999.999999", 999_999_999_999),
    ],
)
def test_parse_rate(text: str, micros: int) -> None:
    assert parse_rate(text) == micros


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "0.0",
        "0.000000",
        "-1",
        "-1.7",
        "1.1234567",
        "1e3",
        "",
        "abc",
        "1,7",
        "1.",
        ".7",
        "+1.7",
        " 1.7",
        "1.7 ",
        "1.7\n",
        "01.7",
        "NaN",
        "inf",
        "1_000",
        "１.７",  # full-width digits
        "1000000.1",
    ],
)
def test_parse_rate_refuses_malformed_or_out_of_range_text(text: str) -> None:
    with pytest.raises(InvalidRate) as excinfo:
        parse_rate(text)
    assert excinfo.value.code == "invalid_rate"


@pytest.mark.parametrize("value", [1.7, 1, None, b"1.7", ["1.7"]])
def test_parse_rate_refuses_anything_but_a_string(value: object) -> None:
    with pytest.raises(InvalidRate) as excinfo:
        parse_rate(value)
    assert excinfo.value.code == "invalid_rate"


def test_a_zero_rate_names_itself_in_the_error() -> None:
    with pytest.raises(InvalidRate) as excinfo:
        parse_rate("0.000")
    assert excinfo.value.details == {"rate": "0.000"}


@pytest.mark.parametrize(
    ("micros", "text"),
    [(1_700_000, "1.700000"), (19_000, "0.019000"), (1, "0.000001"), (1_000_000, "1.000000")],
)
def test_format_rate(micros: int, text: str) -> None:
    assert format_rate(micros) == text


@given(st.integers(min_value=1, max_value=999_999_999_999))
def test_format_then_parse_round_trips_every_rate(micros: int) -> None:
    assert parse_rate(format_rate(micros)) == micros


def test_the_declared_maximum_rate_round_trips() -> None:
    assert parse_rate(format_rate(RATE_MAX_MICROS)) == RATE_MAX_MICROS


@pytest.mark.parametrize("code", ["AZN", "USD", "EUR", "RUB", "TRY", "CNY"])
def test_check_currency_code_accepts_the_currencies_taken(code: str) -> None:
    assert check_currency_code(code) == code


@pytest.mark.parametrize("code", ["usd", "GBP", None, "", "USD ", "US", 840, b"USD"])
def test_check_currency_code_refuses_anything_else(code: object) -> None:
    with pytest.raises(UnsupportedCurrency) as excinfo:
        check_currency_code(code)
    assert excinfo.value.code == "unsupported_currency"
    assert excinfo.value.details["supported"] == ["AZN", "USD", "EUR", "RUB", "TRY", "CNY"]


def test_foreign_currencies_are_all_but_the_manat() -> None:
    assert FOREIGN_CURRENCIES == ("USD", "EUR", "RUB", "TRY", "CNY")


@pytest.mark.parametrize("rate", [1, 1_700_000, 999_999_999_999])
def test_charge_in_manat_is_the_amount_itself(rate: int) -> None:
    assert charge_in("AZN", 1_234, rate) == 1_234


@pytest.mark.parametrize(
    ("currency", "amount_qepik", "rate_micros", "charge_minor"),
    [
        ("USD", 1_000, 1_700_000, 589),  # 10.00 AZN / 1.7 = 5.882… USD, rounded up to 5.89
        ("USD", 1_700, 1_700_000, 1_000),  # exact: 17.00 AZN / 1.7 = 10.00 USD
        ("RUB", 500, 19_000, 26_316),  # 5.00 AZN / 0.019 = 263.157… RUB, rounded up to 263.16
        ("EUR", 1, 2_000_000, 1),  # 0.005 EUR is charged as 0.01
        ("USD", 100_000_000, 1_700_000, 58_823_530),  # 1 000 000 AZN / 1.7 = 588 235.294… USD
    ],
)
def test_charge_in_converts_and_rounds_up(
    currency: str, amount_qepik: int, rate_micros: int, charge_minor: int
) -> None:
    assert charge_in(currency, amount_qepik, rate_micros) == charge_minor


@given(
    st.sampled_from(["USD", "EUR", "RUB", "TRY", "CNY"]),
    st.integers(min_value=1, max_value=100_000_000),
    st.integers(min_value=1, max_value=1_000_000_000_000),
)
def test_charge_in_never_collects_less_and_never_more_than_needed(currency: str, amount_qepik: int, rate: int) -> None:
    charge = charge_in(currency, amount_qepik, rate)
    # The charge converted back at the same rate, in (qəpik x micros x minor units) so that all stays integer.
    owed = amount_qepik * MICROS_PER_MANAT * MINOR_PER_MAJOR
    assert charge * rate * QEPIK_PER_MANAT >= owed  # never less than the AZN delivered
    assert (charge - 1) * rate * QEPIK_PER_MANAT < owed  # one minor unit less would be too little
    assert charge >= 1


@pytest.mark.parametrize(
    ("currency", "minor", "text"),
    [("USD", 589, "5.89"), ("RUB", 26_316, "263.16"), ("EUR", 5, "0.05"), ("USD", 100, "1.00"), ("CNY", 0, "0.00")],
)
def test_format_minor(currency: str, minor: int, text: str) -> None:
    assert format_minor(currency, minor) == text


def test_a_locked_rate_is_live_before_it_expires() -> None:
    locked = LockedRate("USD", 1_700_000, expires_at=START + timedelta(minutes=10))
    locked.ensure_live(START)
    locked.ensure_live(START + timedelta(minutes=10) - timedelta(microseconds=1))


@pytest.mark.parametrize("late", [timedelta(0), timedelta(microseconds=1), timedelta(days=1)])
def test_a_locked_rate_is_refused_at_and_after_expiry(late: timedelta) -> None:
    expires_at = START + timedelta(minutes=10)
    locked = LockedRate("USD", 1_700_000, expires_at=expires_at)
    with pytest.raises(QuoteExpired) as excinfo:
        locked.ensure_live(expires_at + late)
    assert excinfo.value.code == "quote_expired"
    assert excinfo.value.details == {"expired_at": "2026-11-23T10:10:00+00:00"}
