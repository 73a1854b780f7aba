"""The portal's four languages: choosing one, its gettext catalogue, and Babel formatting of money, dates and
numbers for it.

Catalogues are the `.po` files under `locales/`, read at start with Babel (no compiled `.mo` files in git):
`read_po` gives a catalogue, `write_mo` turns it into the bytes gettext reads, in memory. Fuzzy entries are
left out, so a string marked fuzzy shows in English until someone confirms it (and the catalogue test fails).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, get_currency_precision
from babel.support import Translations

from topup.domain.calendar import BAKU
from topup.domain.catalogue import KB_PER_MB

LANGUAGES = ("az", "en", "ru", "zh")
DEFAULT_LANGUAGE = "az"  # the country's language, for a browser that asks for none we have
LOCALES = {"az": "az", "en": "en", "ru": "ru", "zh": "zh_Hans_CN"}
HTML_LANG = {"az": "az", "en": "en", "ru": "ru", "zh": "zh-Hans"}
NAMES = {"az": "Azərbaycanca", "en": "English", "ru": "Русский", "zh": "中文"}
LOCALES_DIRECTORY = Path(__file__).parent / "locales"
DOMAIN = "messages"
ACCEPT_LANGUAGE_LENGTH_MAX = 500
KB_PER_GB = 1_000 * KB_PER_MB
DATA_UNITS = {"ru": ("ГБ", "МБ", "КБ")}  # Russian writes its own letters; the others write GB, MB, KB
_RANGE = re.compile(r"^\s*([A-Za-z]{1,8})(?:[-_]([A-Za-z0-9]{1,8}))*\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$")
# CLDR's currency spacing: a currency shown as letters ("AZN") is kept apart from the digits by a no-break
# space; Babel leaves this to the caller and would print "AZN5.00".
_LETTERS_THEN_DIGIT = re.compile(r"([A-Za-z]{3})(?=[-\d])")
_DIGIT_THEN_LETTERS = re.compile(r"(?<=\d)([A-Za-z]{3})")


def negotiate(accept_language: str | None) -> str:
    """The best of our languages for an Accept-Language header (RFC 9110 weights); any Chinese (zh, zh-CN,
    zh-Hans, zh-TW) gets Simplified Chinese, our only Chinese."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best, best_weight = DEFAULT_LANGUAGE, 0.0
    for position, item in enumerate(accept_language[:ACCEPT_LANGUAGE_LENGTH_MAX].split(",")[:20]):
        match = _RANGE.match(item)
        if match is None:
            continue
        primary = match.group(1).lower()
        weight = float(match.group(3)) if match.group(3) else 1.0
        weight -= position / 1000  # equal weights: the first listed wins
        if primary in LANGUAGES and weight > best_weight:
            best, best_weight = primary, weight
    return best


def language_or_none(value: str | None) -> str | None:
    return value if value in LANGUAGES else None


@cache
def translations(language: str) -> Translations:
    path = LOCALES_DIRECTORY / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        catalogue = read_po(source, locale=LOCALES[language], domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@dataclass(frozen=True, slots=True)
class Formats:
    """Values as a reader of `language` writes them (Babel, CLDR data)."""

    language: str

    @property
    def locale(self) -> str:
        return LOCALES[self.language]

    def money(self, qepik: int, currency: str = "AZN") -> str:
        """Qəpik (or another currency's minor units) as money: "5,00 ₼", "AZN 5.00", "5,00 AZN"."""
        digits = get_currency_precision(currency)
        value = Decimal(qepik).scaleb(-digits)
        text = format_currency(value, currency, locale=self.locale)
        text = _LETTERS_THEN_DIGIT.sub("\\1\u00a0", text)
        return _DIGIT_THEN_LETTERS.sub("\u00a0\\1", text).replace("\u00a0\u00a0", "\u00a0")

    def money_list(self, amounts_qepik: tuple[int, ...]) -> str:
        return ", ".join(self.money(qepik) for qepik in amounts_qepik)

    def amount(self, qepik: int) -> str:
        """A plain decimal in the language's separators, for a form field: "5,50" or "5.50"."""
        return format_decimal(Decimal(qepik).scaleb(-2), format="0.00", locale=self.locale)

    def rate(self, rate_micros: int) -> str:
        """AZN per unit of a currency, from millionths: "1,70", "0,0215"."""
        return format_decimal(Decimal(rate_micros).scaleb(-6), format="#,##0.00####", locale=self.locale)

    def percent_of(self, part: int, whole: int) -> int:
        """Whole percent of `part` in `whole`, for a gauge (0 when there is no whole)."""
        return 0 if whole <= 0 else max(0, min(100, part * 100 // whole))

    def number(self, value: int | Decimal) -> str:
        return format_decimal(value, locale=self.locale)

    def date(self, day: dt.date, style: str = "medium") -> str:
        return format_date(day, format=style, locale=self.locale)

    def datetime(self, moment: dt.datetime, style: str = "medium") -> str:
        return format_datetime(moment, format=style, tzinfo=BAKU, locale=self.locale)

    def short_day(self, day: dt.date) -> str:
        """ "23 Nov" for a chart's axis."""
        return format_date(day, format="d MMM", locale=self.locale)

    def data(self, kb: int) -> str:
        """Operators' decimal units: "1,5 GB", "500 MB", "80 KB" ("1,5 ГБ" in Russian)."""
        gb, mb, kb_unit = DATA_UNITS.get(self.language, ("GB", "MB", "KB"))
        if kb >= KB_PER_GB:
            return f"{format_decimal(Decimal(kb) / KB_PER_GB, format='#,##0.##', locale=self.locale)} {gb}"
        if kb >= KB_PER_MB:
            return f"{format_decimal(Decimal(kb) / KB_PER_MB, format='#,##0.#', locale=self.locale)} {mb}"
        return f"{format_decimal(kb, locale=self.locale)} {kb_unit}"

    def megabytes(self, mb: int) -> str:
        return f"{format_decimal(mb, locale=self.locale)} {DATA_UNITS.get(self.language, ('GB', 'MB'))[1]}"

    def moment(self, moment: dt.datetime) -> str:
        """A date and a time to the minute, in Baku: "1 Jan 2027, 03:27"."""
        day = format_date(moment.astimezone(BAKU), format="medium", locale=self.locale)
        return f"{day}, {format_time(moment, format='short', tzinfo=BAKU, locale=self.locale)}"
