"""Foreign currency: staff set the rates (no internet); a quote locks one for a while.

A rate is how many AZN one unit of the currency buys, kept as an integer of millionths of a manat per unit
(1 USD = 1.700000 AZN -> 1_700_000). A customer paying in a foreign currency is charged the AZN price
converted at the locked rate and rounded **up** to the currency's minor unit: Topup never collects less
than it delivers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from topup.domain.errors import DomainError, ErrorKind, UnsupportedCurrency
from topup.domain.money import CURRENCY, QEPIK_PER_MANAT

RATE_SCALE = 1_000_000  # millionths of a manat
# Every currency we take, with its number of minor units per major unit (ISO 4217).
MINOR_UNITS = {"AZN": 100, "USD": 100, "EUR": 100, "RUB": 100, "TRY": 100, "CNY": 100}
FOREIGN_CURRENCIES = tuple(code for code in MINOR_UNITS if code != CURRENCY)
_RATE_PATTERN = re.compile(r"(0|[1-9][0-9]{0,5})(?:\.([0-9]{1,6}))?")
RATE_MIN_MICROS, RATE_MAX_MICROS = 1, 1_000_000 * RATE_SCALE - 1  # up to 999999.999999 AZN per unit


class InvalidRate(DomainError):
    code = "invalid_rate"
    kind = ErrorKind.INVALID


class RateUnavailable(DomainError):
    code = "rate_unavailable"


class QuoteExpired(DomainError):
    code = "quote_expired"


def check_currency_code(code: object) -> str:
    if not isinstance(code, str) or code not in MINOR_UNITS:
        raise UnsupportedCurrency(
            f"Currency must be one of {', '.join(MINOR_UNITS)}.",
            currency=str(code)[:10],
            supported=list(MINOR_UNITS),
        )
    return code


def parse_rate(text: object) -> int:
    """ "1.7" -> 1_700_000 millionths of a manat per unit."""
    if not isinstance(text, str) or (match := _RATE_PATTERN.fullmatch(text)) is None:
        raise InvalidRate('A rate is a positive decimal with at most six decimal places, such as "1.7000".')
    micros = int(match.group(1)) * RATE_SCALE + int((match.group(2) or "").ljust(6, "0"))
    if not RATE_MIN_MICROS <= micros <= RATE_MAX_MICROS:
        raise InvalidRate("The rate is out of range.", rate=text)
    return micros


def format_rate(micros: int) -> str:
    whole, fraction = divmod(micros, RATE_SCALE)
    return f"{whole}.{fraction:06d}"


def charge_in(currency: str, amount_qepik: int, rate_micros: int) -> int:
    """Minor units of `currency` to charge for `amount_qepik` of AZN, rounded up."""
    if currency == CURRENCY:
        return amount_qepik
    numerator = amount_qepik * RATE_SCALE * MINOR_UNITS[currency]
    denominator = QEPIK_PER_MANAT * rate_micros
    return -(-numerator // denominator)


def format_minor(currency: str, minor: int) -> str:
    per_major = MINOR_UNITS[currency]
    digits = len(str(per_major)) - 1
    whole, fraction = divmod(minor, per_major)
    return f"{whole}.{fraction:0{digits}d}" if digits else str(whole)


@dataclass(frozen=True, slots=True)
class LockedRate:
    currency: str
    rate_micros: int
    expires_at: datetime

    def ensure_live(self, now: datetime) -> None:
        if now >= self.expires_at:
            raise QuoteExpired(
                "This quote's exchange rate has expired: ask for a new quote.", expired_at=self.expires_at.isoformat()
            )
