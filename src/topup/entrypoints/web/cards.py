"""A card typed into a portal form: its shape only (the service checks the digits, Luhn, expiry and code).
The number is never shown again, logged or kept: a form shown again after a problem has empty card fields."""

from __future__ import annotations

import re

from topup.entrypoints.web import messages
from topup.entrypoints.web.forms import Form, Problems
from topup.entrypoints.web.words import Words
from topup.services.payments import CardDetails

_EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")  # "08/29", "8/2029"
CENTURY = 2000


def card_from(form: Form, words: Words, problems: Problems) -> CardDetails | None:
    number, expiry, cvc = form.raw("card_number"), form.get("card_expiry"), form.get("cvc")
    for name, value in (("card_number", number.strip()), ("card_expiry", expiry), ("cvc", cvc)):
        if not value:
            words.add_code(problems, name, messages.REQUIRED)
    match = _EXPIRY.match(expiry)
    if expiry and match is None:
        problems.add("card_expiry", words.translate(messages.CARD_MESSAGES["card_expiry"]))
    if problems or match is None:
        return None
    month, year = int(match.group(1)), int(match.group(2))
    return CardDetails(number[:40], month, year + CENTURY if year < 100 else year, cvc[:8])
