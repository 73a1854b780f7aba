"""The portal's four languages: complete catalogues (a test fails on any untranslated string), the choice from
Accept-Language and by the visitor, Babel formats, and every error code with words of its own."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

import topup
from tests.factories import buy_bundle
from tests.web.browsing import Browser, text_of
from topup.bootstrap import Application
from topup.domain.errors import DomainError
from topup.domain.lines import Line
from topup.entrypoints.web import catalogue, i18n, messages

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
# Words that stay Latin on a Chinese page: names of brands and units, codes.
LATIN_ALLOWED = {
    "Topup",
    "Azercell",
    "Bakcell",
    "Nar",
    "Azərbaycanca",
    "English",
    "Visa",
    "Mastercard",
    "American",
    "Express",
    "Google",
    "Pay",
    "PayPal",
    "WebMoney",
    "GoldenPay",
    "API",
    "AZN",
    "USD",
    "EUR",
    "RUB",
    "TRY",
    "CNY",
    "PDF",
    "CSV",
    "GB",
    "MB",
    "KB",
    "SMS",
    "CVC",
    "Secure",
    "Asia",
    "Baku",
    "https",
}


def catalogue_of(language: str) -> dict[object, Message]:
    with catalogue.path_of(language).open("rb") as source:
        read = read_po(source, locale=i18n.LOCALES[language])
    return {message.id: message for message in read if message.id}


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_string_of_the_portal_is_translated(language: str) -> None:
    """The catalogue holds exactly the strings the code and templates use, each translated (every plural form),
    none fuzzy, with the same placeholders as the English."""
    wanted = {message.id for message in catalogue.extracted() if message.id}
    found = catalogue_of(language)

    assert sorted(map(str, wanted - set(found))) == [], "strings missing from the catalogue: run make messages"
    assert sorted(map(str, set(found) - wanted)) == [], "strings no longer used: run make messages"
    untranslated = [
        str(message.id)
        for message in found.values()
        if message.fuzzy or not message.string or (isinstance(message.string, tuple) and not all(message.string))
    ]
    assert untranslated == []
    for message in found.values():
        source = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(_PLACEHOLDER.findall(" ".join(source)))
        for translated in strings:
            assert set(_PLACEHOLDER.findall(translated)) == expected, (message.id, translated)


def test_plural_forms_follow_each_language() -> None:
    russian = i18n.translations("ru")
    azerbaijani = i18n.translations("az")

    assert [russian.ngettext("%(num)s day", "%(num)s days", n) % {"num": n} for n in (1, 3, 5, 21)] == [
        "1 день",
        "3 дня",
        "5 дней",
        "21 день",
    ]
    assert azerbaijani.ngettext("%(num)s day", "%(num)s days", 7) % {"num": 7} == "7 gün"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("zh-TW", "zh"),
        ("ru-RU,ru;q=0.9", "ru"),
        ("en-US,en;q=0.9,az;q=0.95", "en"),
        ("en;q=0.8, az", "az"),
        ("fr-FR, en;q=0.5", "en"),
        ("de", "az"),
        ("", "az"),
        ("*;q=0.1, ;;;, zz", "az"),
    ],
)
def test_the_language_comes_from_accept_language(header: str, language: str) -> None:
    assert i18n.negotiate(header) == language


def test_the_chosen_language_is_remembered_on_every_page(browser: Browser, line: Line) -> None:
    switched = browser.get("/language/zh?next=/sign-in")

    assert switched.status_code == 303
    assert switched.headers["location"] == "/sign-in"
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith("topup_lang=zh;")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=Lax" in cookie
    page = browser.get("/verify")
    assert '<html lang="zh-Hans">' in page.text
    assert "查验收据" in page.text
    assert browser.get("/language/xx?next=/").status_code == 404
    assert browser.get("/language/en?next=https://evil.example").headers["location"] == "/"


@pytest.mark.parametrize(
    ("language", "balance", "valid"),
    [
        ("az", "10,00 ₼", "22 yanvar 2027"),
        ("en", "AZN 10.00", "January 22, 2027"),
        ("ru", "10,00 AZN", "22 января 2027 г."),
        ("zh", "AZN 10.00", "2027年1月22日"),
    ],
)
def test_money_and_dates_are_written_as_each_language_writes_them(
    signed_in: Browser, language: str, balance: str, valid: str
) -> None:
    signed_in.get(f"/language/{language}?next=/account")

    page = text_of(signed_in.get("/account").text)

    assert balance in page
    assert valid in page


CHINESE_PAGES = [
    "/",
    "/sign-in/code?number=994501234567",
    "/verify?code=ABCDE-12345",
    "/voucher",
    "/account",
    "/account/bundles",
    "/account/bundles/azercell-10gb-30d",
    "/account/bundles/compare?code=azercell-3gb-7d&code=azercell-10gb-30d",
    "/account/history",
    "/account/history?list=orders",
    "/account/auto-recharge",
    "/account/notifications",
    "/account/cards",
    "/nowhere",
]


def test_chinese_pages_have_no_english_left(application: Application, signed_in: Browser, line: Line) -> None:
    """Catches any text a template forgot to mark for translation: on a Chinese page, every Latin word must be
    a brand, a unit or a code."""
    buy_bundle(application, line.msisdn.e164, "azercell-3gb-7d")
    signed_in.get("/language/zh?next=/")

    for path in CHINESE_PAGES:
        main = re.search(r"<body>(.*)</body>", signed_in.get(path).text, re.S)
        assert main is not None, path
        shown = re.sub(r"<code>.*?</code>", " ", main.group(1))  # commands are not words
        words = set(re.findall(r"[A-Za-zə][A-Za-zə'-]+", text_of(shown)))
        assert words - LATIN_ALLOWED == set(), path


# Errors of the other channels (agents' tills, kiosks, USSD, the network's charging): no portal page calls their
# services. (Scratch cards are redeemed on the portal too: their errors need words.)
OTHER_CHANNELS = ("agent", "kiosk", "ussd", "charging")


def _domain_error_codes() -> set[str]:
    for module in pkgutil.walk_packages(topup.__path__, "topup."):
        if module.name.startswith(("topup.domain", "topup.services")):
            importlib.import_module(module.name)
    codes: set[str] = set()
    stack: list[type[DomainError]] = [DomainError]
    while stack:
        kind = stack.pop()
        layer_of_rules = kind.__module__.startswith(("topup.domain", "topup.services"))  # not another page's own
        if layer_of_rules and not any(channel in kind.__module__.rsplit(".", 1)[-1] for channel in OTHER_CHANNELS):
            codes.add(kind.code)
        stack.extend(kind.__subclasses__())
    return codes


def test_every_error_code_has_words_or_is_known_not_to_reach_the_portal() -> None:
    codes = _domain_error_codes()

    unmapped = codes - set(messages.ERRORS) - messages.NOT_MET_IN_THE_PORTAL
    stale = (set(messages.ERRORS) | messages.NOT_MET_IN_THE_PORTAL) - codes - PORTAL_OWN_CODES

    assert sorted(unmapped) == []
    assert sorted(stale) == []


PORTAL_OWN_CODES = {messages.FORM_EXPIRED, messages.FORM_TAMPERED, messages.REQUIRED, messages.NOT_FOUND}
PORTAL_OWN_CODES |= {"choice_invalid", "number_required"}
