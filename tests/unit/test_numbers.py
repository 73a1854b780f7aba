"""Azerbaijani mobile numbers: every way people type them, and every way they go wrong."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from topup.domain.errors import NumberForeign, NumberInvalid, NumberMalformed, NumberNotMobile
from topup.domain.numbers import Msisdn, operator_by_prefix, parse_msisdn

MOBILE_PREFIXES = ("50", "51", "10", "55", "99", "70", "77")


@pytest.mark.parametrize(
    "text",
    [
        "050 123 45 67",
        "+994501234567",
        "994501234567",
        "00994 50 123 45 67",
        "501234567",
        "0501234567",
        "(050) 123-45-67",
        "050.123.45.67",
        "+994 50 123 45 67",
        "  050 123 45 67  ",
    ],
)
def test_parse_msisdn_accepts_the_usual_formats(text: str) -> None:
    assert parse_msisdn(text) == Msisdn("+994501234567")


def test_msisdn_renderings() -> None:
    msisdn = parse_msisdn("+994501234567")
    assert msisdn.e164 == "+994501234567"
    assert str(msisdn) == "+994501234567"
    assert msisdn.national == "050 123 45 67"
    assert msisdn.masked == "+994 50 *** ** 67"
    assert msisdn.digits == "994501234567"


@pytest.mark.parametrize(
    "text",
    [
        "050-FLOWERS",
        "abc",
        "",
        "   ",
        "1" * 40,
        "'; DROP TABLE lines;--",
        "<script>",
        "<script>alert(1)</script>",
        "050 123 45 67; rm -rf /",
        "+",
        "++994501234567",
        "٠٥٠١٢٣٤٥٦٧",  # Arabic-Indic digits
    ],
)
def test_parse_msisdn_refuses_text_that_is_not_a_number(text: str) -> None:
    with pytest.raises(NumberMalformed) as excinfo:
        parse_msisdn(text)
    assert excinfo.value.code == "number_malformed"


@pytest.mark.parametrize("value", [123, 994501234567, None, b"+994501234567"])
def test_parse_msisdn_refuses_anything_but_a_string(value: object) -> None:
    with pytest.raises(NumberMalformed) as excinfo:
        parse_msisdn(value)
    assert excinfo.value.code == "number_malformed"


@pytest.mark.parametrize("text", ["+99450123456", "+9945012345678", "050 123 45 6", "050 123 45 678"])
def test_parse_msisdn_refuses_azerbaijani_numbers_of_the_wrong_length(text: str) -> None:
    with pytest.raises(NumberInvalid) as excinfo:
        parse_msisdn(text)
    assert excinfo.value.code == "number_invalid"


def test_parse_msisdn_refuses_a_baku_landline() -> None:
    with pytest.raises(NumberNotMobile) as excinfo:
        parse_msisdn("+994124040000")
    assert excinfo.value.code == "number_not_mobile"


def test_parse_msisdn_refuses_a_foreign_number() -> None:
    with pytest.raises(NumberForeign) as excinfo:
        parse_msisdn("+79123456789")
    assert excinfo.value.code == "number_foreign"
    assert excinfo.value.details["region"] == "RU"


@pytest.mark.parametrize(
    ("prefix", "operator"),
    [
        ("10", "azercell"),
        ("50", "azercell"),
        ("51", "azercell"),
        # 060 was Naxtel's; since its closure phonenumbers lists Azercell (DOMAIN.md: trust phonenumbers).
        ("60", "azercell"),
        ("55", "bakcell"),
        ("99", "bakcell"),
        ("70", "nar"),
        ("77", "nar"),
        ("40", None),
    ],
)
def test_operator_by_prefix(prefix: str, operator: str | None) -> None:
    msisdn = parse_msisdn(f"0{prefix} 123 45 67")
    assert msisdn == Msisdn(f"+994{prefix}1234567")
    assert operator_by_prefix(msisdn) == operator


@given(
    st.sampled_from(MOBILE_PREFIXES),
    st.text(alphabet="0123456789", min_size=7, max_size=7),
)
def test_every_mobile_number_parses_and_round_trips(prefix: str, subscriber: str) -> None:
    msisdn = parse_msisdn(f"+994{prefix}{subscriber}")
    assert msisdn == Msisdn(f"+994{prefix}{subscriber}")
    assert parse_msisdn(msisdn.national) == msisdn
    assert parse_msisdn(msisdn.digits) == msisdn
    assert parse_msisdn(msisdn.e164) == msisdn
    assert msisdn.national == f"0{prefix} {subscriber[:3]} {subscriber[3:5]} {subscriber[5:]}"
    assert msisdn.masked == f"+994 {prefix} *** ** {subscriber[-2:]}"


@given(st.text(alphabet=st.characters(categories=["L"]), min_size=1, max_size=20))
def test_text_with_letters_is_always_malformed(letters: str) -> None:
    with pytest.raises(NumberMalformed) as excinfo:
        parse_msisdn(f"050{letters}1234567")
    assert excinfo.value.code == "number_malformed"
