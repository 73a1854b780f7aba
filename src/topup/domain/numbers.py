"""Azerbaijani mobile numbers: parse any user format into E.164 and guess the original operator.

The numbering plan and the carrier of each prefix come from the `phonenumbers` data (Google's libphonenumber),
which is pure data and deterministic, so the domain may use it. A prefix gives only the *original* operator:
number portability (since 2014) means the ported-numbers table decides, which the services consult.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, carrier

from topup.domain.errors import NumberForeign, NumberInvalid, NumberMalformed, NumberNotMobile

REGION = "AZ"
COUNTRY_CODE = 994
INPUT_LENGTH_MAX = 32
# Digits with the separators people type; letters are refused because libphonenumber would read
# "050-FLOWERS" as a keypad word and top up a number nobody typed.
_ALLOWED_INPUT = re.compile(r"\+?[0-9 ()./-]+")
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# libphonenumber carrier names -> our operator codes. A prefix whose carrier is not here (or has none)
# belongs to nobody we serve.
_CARRIER_TO_OPERATOR = {
    "Azercell": "azercell",
    "Bakcell": "bakcell",
    "Nar Mobile": "nar",
    "Nar": "nar",
    "Naxtel": "naxtel",
}


@dataclass(frozen=True, slots=True, order=True)
class Msisdn:
    """A mobile number in E.164, e.g. "+994501234567"."""

    e164: str

    @property
    def digits(self) -> str:
        return self.e164.removeprefix("+")

    @property
    def national(self) -> str:
        """ "050 123 45 67", the way Azerbaijanis write it."""
        number = phonenumbers.parse(self.e164)
        return str(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))

    @property
    def masked(self) -> str:
        """ "+994 50 *** ** 67" for receipts: enough to recognise, not enough to harvest."""
        digits = self.digits
        return f"+{digits[:3]} {digits[3:5]} *** ** {digits[-2:]}"

    def __str__(self) -> str:
        return self.e164


def parse_msisdn(text: object) -> Msisdn:
    """Parse "050 123 45 67", "+994501234567", "994501234567", "00994 50 123 45 67" or "501234567"."""
    if not isinstance(text, str):
        raise NumberMalformed('The number must be text such as "050 123 45 67".')
    cleaned = text.strip()
    if not cleaned or len(cleaned) > INPUT_LENGTH_MAX or _ALLOWED_INPUT.fullmatch(cleaned) is None:
        raise NumberMalformed(
            'This is not a phone number: use digits, such as "050 123 45 67" or "+994501234567".',
            number=cleaned[:INPUT_LENGTH_MAX],
        )
    digits_only = re.sub(r"[^0-9]", "", cleaned)
    if not cleaned.startswith("+") and digits_only.startswith("994") and len(digits_only) == 12:
        cleaned = "+" + digits_only  # "994501234567": international without the plus
    try:
        number = phonenumbers.parse(cleaned, REGION)
    except phonenumbers.NumberParseException as error:
        raise NumberMalformed("This is not a phone number.", number=cleaned) from error
    if number.country_code != COUNTRY_CODE:
        if phonenumbers.is_valid_number(number):
            raise NumberForeign(
                "Only Azerbaijani mobile numbers (+994) can be topped up here.",
                number=cleaned,
                region=phonenumbers.region_code_for_number(number),
            )
        raise NumberInvalid("This number does not exist: check the digits.", number=cleaned)
    if not phonenumbers.is_valid_number(number):
        raise NumberInvalid("An Azerbaijani mobile number has 9 digits after 0, such as 050 123 45 67.", number=cleaned)
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise NumberNotMobile("This is a landline or service number, not a mobile line.", number=cleaned)
    return Msisdn(str(phonenumbers.format_number(number, PhoneNumberFormat.E164)))


def operator_by_prefix(msisdn: Msisdn) -> str | None:
    """The operator that was given the number's prefix, or None for a prefix we do not serve."""
    name = carrier.name_for_number(phonenumbers.parse(msisdn.e164), "en")
    return _CARRIER_TO_OPERATOR.get(name)
