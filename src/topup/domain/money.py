"""Money is an integer number of qəpik (1 AZN = 100 qəpik). Decimal strings exist only at the edges."""

from __future__ import annotations

import re

from topup.domain.errors import InvalidAmount, UnsupportedCurrency

CURRENCY = "AZN"
QEPIK_PER_MANAT = 100
# One million manat: far above any operator's maximum, far below any integer overflow. Anything larger is a typo
# or an attack and is refused while parsing, before any rule looks at it.
AMOUNT_MAX_QEPIK = 100_000_000
_AMOUNT_PATTERN = re.compile(r"(0|[1-9][0-9]{0,8})(?:\.([0-9]{1,2}))?")
BASIS_POINTS = 10_000


def parse_amount(text: object) -> int:
    """Parse "5", "5.5" or "5.00" (AZN) into qəpik. Refuses floats, signs, exponents, NaN, >2 decimals."""
    if not isinstance(text, str):
        raise InvalidAmount('Amount must be a decimal string such as "5.00".', amount=repr(text)[:40])
    match = _AMOUNT_PATTERN.fullmatch(text)
    if match is None:
        raise InvalidAmount(
            'Amount must be a positive decimal with at most two decimal places, such as "5.00".',
            amount=text[:40],
        )
    whole, fraction = match.group(1), (match.group(2) or "").ljust(2, "0")
    qepik = int(whole) * QEPIK_PER_MANAT + int(fraction)
    if qepik <= 0:
        raise InvalidAmount("Amount must be greater than zero.", amount=text)
    if qepik > AMOUNT_MAX_QEPIK:
        raise InvalidAmount("Amount is too large.", amount=text, maximum=format_amount(AMOUNT_MAX_QEPIK))
    return qepik


def format_amount(qepik: int) -> str:
    """12345 -> "123.45"; -5 -> "-0.05"."""
    sign = "-" if qepik < 0 else ""
    whole, fraction = divmod(abs(qepik), QEPIK_PER_MANAT)
    return f"{sign}{whole}.{fraction:02d}"


def check_currency(currency: object) -> str:
    if currency != CURRENCY:
        raise UnsupportedCurrency(
            f"Only {CURRENCY} is accepted here.", currency=str(currency)[:10], supported=[CURRENCY]
        )
    return CURRENCY


def included_vat(gross_qepik: int, rate_basis_points: int) -> int:
    """The VAT part of a price that includes VAT, rounded half up: 5.00 AZN at 18 % holds 0.76 AZN of VAT."""
    divisor = BASIS_POINTS + rate_basis_points
    numerator = gross_qepik * rate_basis_points
    return (2 * numerator + divisor) // (2 * divisor)
