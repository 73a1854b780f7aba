"""Card numbers are checked before any provider sees them, and never kept: only brand and last four digits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from topup.domain.errors import DomainError, ErrorKind

PAN_LENGTHS = range(12, 20)
_DIGITS = re.compile(r"[0-9]+")
_SEPARATORS = re.compile(r"[ -]")
# IIN ranges of the brands an Azerbaijani acquirer takes (ISO/IEC 7812 prefixes as the brands publish them).
_BRANDS: tuple[tuple[str, tuple[range, ...], tuple[int, ...]], ...] = (
    ("amex", (range(34, 35), range(37, 38)), (15,)),
    ("visa", (range(4, 5),), (13, 16, 19)),
    ("mastercard", (range(51, 56), range(2221, 2721)), (16,)),
    ("unionpay", (range(62, 63),), (16, 17, 18, 19)),
    ("maestro", (range(50, 51), range(56, 59), range(6, 7)), (12, 13, 14, 15, 16, 17, 18, 19)),
)


_BRAND_NAMES = {"amex": "American Express", "unionpay": "UnionPay", "mastercard": "Mastercard", "visa": "Visa"}


class CardInvalid(DomainError):
    code = "card_invalid"
    kind = ErrorKind.INVALID


class CardExpired(DomainError):
    code = "card_expired"


@dataclass(frozen=True, slots=True)
class CardSummary:
    """All that is ever stored or shown about a card."""

    brand: str
    last_four: str
    expiry_month: int
    expiry_year: int

    @property
    def display(self) -> str:
        return f"{_BRAND_NAMES.get(self.brand, self.brand.title())} •••• {self.last_four}"


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def brand_of(pan: str) -> str:
    for brand, prefixes, lengths in _BRANDS:
        if len(pan) not in lengths:
            continue
        for prefix_range in prefixes:
            width = len(str(prefix_range.start))
            if int(pan[:width]) in prefix_range:
                return brand
    return "other"


def check_card(number: object, expiry_month: object, expiry_year: object, *, today: date) -> tuple[str, CardSummary]:
    """Returns the bare PAN (for the provider call only) and the summary that may be kept."""
    if not isinstance(number, str):
        raise CardInvalid("The card number must be text.", field="number")
    pan = _SEPARATORS.sub("", number)
    if _DIGITS.fullmatch(pan) is None or len(pan) not in PAN_LENGTHS or not luhn_valid(pan):
        raise CardInvalid("This card number is not valid: check the digits.", field="number")
    if not isinstance(expiry_month, int) or isinstance(expiry_month, bool) or not 1 <= expiry_month <= 12:
        raise CardInvalid("The expiry month must be 1 to 12.", field="expiry_month")
    if not isinstance(expiry_year, int) or isinstance(expiry_year, bool) or not 2000 <= expiry_year <= 2099:
        raise CardInvalid("The expiry year must have four digits, such as 2029.", field="expiry_year")
    if (expiry_year, expiry_month) < (today.year, today.month):
        raise CardExpired("This card has expired.", expiry=f"{expiry_month:02d}/{expiry_year}")
    return pan, CardSummary(brand_of(pan), pan[-4:], expiry_month, expiry_year)


def check_cvc(cvc: object, *, brand: str) -> str:
    length = 4 if brand == "amex" else 3
    if not isinstance(cvc, str) or _DIGITS.fullmatch(cvc) is None or len(cvc) != length:
        raise CardInvalid(f"The security code has {length} digits.", field="cvc")
    return cvc
