"""The agent POS page in Chromium, as a cashier uses it: signing in (a wrong password is refused), selling a
top-up from the keyboard (number, Tab, amount, Enter, Enter), the 58 mm receipt whose code the public /verify
page confirms, a sale the float and credit cannot cover (refused, nothing changed, also when another till spent
the float after the confirmation was shown), a bundle, and signing out. Money is read back through the services:
the line gains exactly what the agent's float loses."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import Served, fresh_page
from tests.browser.test_accessibility import violations
from tests.factories import make_line, open_shop, snapshot
from topup.services import agents, lines

pytestmark = pytest.mark.e2e

PASSWORD = "till password 2026"
FLOAT_QEPIK = 5_000  # every test's shop: 50.00 AZN of float
CREDIT_QEPIK = 1_000  # and 10.00 AZN of credit
_shops = itertools.count(1)


@dataclass(frozen=True)
class Shop:
    agent_id: str
    name: str
    username: str


@pytest.fixture
def shop(served: Served) -> Shop:
    """A shop of its own for each test, with its float, its credit line and a cashier at the till."""
    n = next(_shops)
    name, username = f"Bazar {n}", f"kassa-{n}"
    agent_id = open_shop(
        served.application,
        name=name,
        licence=f"SHOP-POS-{n}",
        address="Azadlıq pr. 12, Bakı",
        username=username,
        password=PASSWORD,
        float_qepik=FLOAT_QEPIK,
        credit_limit_qepik=CREDIT_QEPIK,
    )
    return Shop(agent_id, name, username)


@pytest.fixture
def till(page: Any) -> Any:
    """The till's browser (the POS page is on the main server, under /pos)."""
    return page


@pytest.fixture
def customer(chromium: Any, served: Served) -> Iterator[Any]:
    """Another browser, the customer's own, with nothing of the till's: for the public /verify page."""
    with fresh_page(chromium, served.base, viewport={"width": 1280, "height": 900}) as found:
        yield found


def held(served: Served, shop: Shop) -> tuple[int, int, int]:
    """The shop's float, credit still available and commission earned, in qəpik."""
    position = agents.position(served.application.uow(), agent_id=shop.agent_id)
    return position.position.float_qepik, position.position.credit_available_qepik, position.commission_qepik


def type_sign_in(page: Any, shop: Shop, password: str) -> None:
    """Type the username, Tab, the password, Enter: the fields are focused in that order."""
    page.goto("/pos")
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type(shop.username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")


def type_sale(till: Any, number: str, amount: str) -> None:
    """At the sale form, as a cashier types it: the number, Tab, the amount, Enter."""
    till.keyboard.type(number)
    till.keyboard.press("Tab")
    till.keyboard.type(amount)
    till.keyboard.press("Enter")


def sign_in(page: Any, shop: Shop) -> None:
    """Signed in, at the sale form, with the cursor in the number field (where the cashier types next)."""
    type_sign_in(page, shop, PASSWORD)
    expect(page.get_by_role("heading", name="Satış", exact=True)).to_be_visible()
    expect(page.locator("#number")).to_be_focused()


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_till(till: Any, served: Served, shop: Shop) -> None:
    type_sign_in(till, shop, "not the password")

    expect(till.get_by_role("alert")).to_have_text("İstifadəçi adı və ya şifrə yanlışdır.")
    expect(till.get_by_role("heading", name="Daxil ol")).to_be_visible()
    expect(till.locator("#username")).to_have_value(shop.username)
    expect(till.locator("#number")).to_have_count(0)
    served.shot(till, "pos-sign-in-refused")

    sign_in(till, shop)

    expect(till.locator("header strong")).to_have_text(f"Topup · Satış nöqtəsi · {shop.name}")
    expect(till.locator(".figures .big")).to_have_text("60.00 AZN")  # float and credit: what it may sell
    expect(till.locator(".figures")).to_contain_text(
        "Balans (float) / İstifadə oluna bilən kredit50.00 AZN / 10.00 AZN"
    )
    served.shot(till, "pos-sell")
    till.get_by_role("link", name="EN").click()
    expect(till.get_by_role("heading", name="Sell", exact=True)).to_be_visible()
    expect(till.get_by_role("button", name=f"Sign out ({shop.username})")).to_be_visible()
    served.shot(till, "pos-sell-en")
    assert held(served, shop) == (FLOAT_QEPIK, CREDIT_QEPIK, 0)


def test_a_top_up_typed_at_the_keyboard_sells_with_a_receipt_the_portal_verifies(
    till: Any, customer: Any, served: Served, shop: Shop
) -> None:
    """The shops' commission is the demo's 2 % (`topup demo seed`)."""
    line = make_line(served.application, balance_qepik=120)
    sign_in(till, shop)

    type_sale(till, line.msisdn.national, "7.50")

    expect(till.get_by_role("heading", name="Yoxlayın")).to_be_visible()
    figures = till.locator(".figures")
    expect(figures).to_contain_text(line.msisdn.national)
    expect(figures).to_contain_text("Azercell")
    expect(figures).to_contain_text("Balans artırılması")
    expect(figures.locator(".big").nth(1)).to_have_text("7.50 AZN")
    expect(figures).to_contain_text("Komissiyanız0.15 AZN")  # 2 % of 7.50
    expect(figures).to_contain_text("Satış üçün52.50 AZN")  # what is left to sell
    expect(till.get_by_role("button", name="Təsdiqlə (Enter)")).to_be_focused()
    served.shot(till, "pos-confirm")
    assert served.main_balance(line.msisdn.e164) == 120  # nothing is sold before the confirmation

    till.keyboard.press("Enter")

    receipt = till.get_by_role("document", name="Qəbz")
    expect(receipt.locator(".amount")).to_have_text("7.50 AZN")
    expect(receipt).to_contain_text(line.msisdn.masked)
    expect(receipt).to_contain_text(f"Satıcı{shop.name}")
    expect(receipt).not_to_contain_text("Balans (əməliyyatdan sonra)")  # the customer's balance is theirs
    assert round(receipt.bounding_box()["width"]) == 219  # 58 mm at 96 pixels an inch: the thermal roll
    assert receipt.evaluate("r => r.scrollWidth <= r.clientWidth")  # nothing runs off the paper (the long ids)
    code = receipt.get_by_label("Yoxlama kodu").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", code), code
    served.shot(till, "pos-receipt")
    assert served.main_balance(line.msisdn.e164) == 120 + 750
    assert held(served, shop) == (FLOAT_QEPIK - 750, CREDIT_QEPIK, 15)

    hint = receipt.locator(".muted").last.inner_text()
    verify_url = hint.removeprefix("Qəbzi yoxlamaq: ")
    assert verify_url == f"{served.base}/verify"
    customer.goto(verify_url)  # anyone, with no account: a customer's own browser
    customer.get_by_label("Verification code").fill(code)
    customer.keyboard.press("Enter")
    verdict = customer.get_by_role("status")
    expect(verdict.get_by_role("heading")).to_have_text("✓ This receipt is genuine")
    expect(verdict).to_contain_text("AZN 7.50")
    expect(verdict).to_contain_text(line.msisdn.masked)
    served.shot(customer, "pos-verify")

    expect(till.get_by_role("link", name="Yeni satış (Enter)")).to_be_focused()
    till.keyboard.press("Enter")  # the next customer
    expect(till.locator("#number")).to_be_focused()
    expect(till.locator(".figures .big")).to_have_text("52.50 AZN")
    till.get_by_role("link", name="Günün hesabatı").click()
    report = till.locator(".figures")
    expect(report.locator(".big")).to_have_text("1")
    expect(report).to_contain_text("Satış məbləği7.50 AZN")
    expect(report).to_contain_text("Komissiyanız0.15 AZN")
    expect(report).to_contain_text("Günün sonuna balans42.50 AZN")
    served.shot(till, "pos-report")


def test_a_sale_above_the_float_and_credit_is_refused_and_changes_nothing(
    till: Any, served: Served, shop: Shop
) -> None:
    line = make_line(served.application)
    sign_in(till, shop)
    before = snapshot(served.application)

    type_sale(till, line.msisdn.national, "60.01")  # one qəpik more than 50.00 of float and 10.00 of credit

    expect(till.get_by_role("alert")).to_have_text("Balans (float və kredit) bu satış üçün kifayət etmir.")
    expect(till.locator("#number")).to_have_value(line.msisdn.national)  # the cashier corrects, not retypes
    expect(till.locator("#amount")).to_have_value("60.01")
    served.shot(till, "pos-refused")
    assert snapshot(served.application) == before
    assert held(served, shop) == (FLOAT_QEPIK, CREDIT_QEPIK, 0)
    assert served.main_balance(line.msisdn.e164) == 0

    till.locator("#amount").fill("60.00")  # all of the float and all of the credit: exactly enough
    till.locator("#amount").press("Enter")
    expect(till.locator(".figures")).to_contain_text("Satış üçün0.00 AZN")
    till.keyboard.press("Enter")

    expect(till.get_by_role("document", name="Qəbz").locator(".amount")).to_have_text("60.00 AZN")
    assert served.main_balance(line.msisdn.e164) == 6_000
    assert held(served, shop) == (0, 0, 120)


def test_a_confirmation_the_float_no_longer_covers_is_refused_when_confirmed(
    till: Any, served: Served, shop: Shop
) -> None:
    """Two tills of one shop: the float is spent at the other till while this one's confirmation is open."""
    line, other_customer = make_line(served.application), make_line(served.application)
    sign_in(till, shop)
    type_sale(till, line.msisdn.national, "40")
    expect(till.get_by_role("heading", name="Yoxlayın")).to_be_visible()
    application = served.application
    agents.sell_top_up(
        application.uow(),
        application.clock,
        application.codes,
        agent_id=shop.agent_id,
        number=other_customer.msisdn.e164,
        amount_qepik=3_000,
    )
    before = snapshot(application)

    till.keyboard.press("Enter")

    expect(till.get_by_role("alert")).to_have_text("Balans (float və kredit) bu satış üçün kifayət etmir.")
    expect(till.locator(".figures .big")).to_have_text("30.00 AZN")  # what is left: 20.00 float, 10.00 credit
    assert snapshot(application) == before
    assert held(served, shop) == (FLOAT_QEPIK - 3_000, CREDIT_QEPIK, 60)
    assert served.main_balance(line.msisdn.e164) == 0


def test_a_bundle_is_sold_from_the_float(till: Any, served: Served, shop: Shop) -> None:
    line = make_line(served.application, balance_qepik=200)
    sign_in(till, shop)

    till.keyboard.type(line.msisdn.national)
    till.locator("#bundle").select_option("azercell-3gb-7d")
    expect(till.locator("#bundle option:checked")).to_have_text("Həftəlik 3 GB — 5.00 AZN")  # in the page's language
    till.get_by_role("button", name="Davam et (Enter)").click()

    figures = till.locator(".figures")
    expect(figures).to_contain_text("MəhsulHəftəlik 3 GB")
    expect(figures.locator(".big").nth(1)).to_have_text("5.00 AZN")
    expect(figures).to_contain_text("Komissiyanız0.10 AZN")
    served.shot(till, "pos-confirm-bundle")
    till.keyboard.press("Enter")

    receipt = till.get_by_role("document", name="Qəbz")
    expect(receipt.locator(".amount")).to_have_text("5.00 AZN")
    expect(receipt).to_contain_text("Həftəlik 3 GB")
    served.shot(till, "pos-receipt-bundle")
    balance = lines.balance(served.application.uow(), served.application.clock, number=line.msisdn.e164)
    assert balance.main_qepik == 200  # paid from the float, not from the line
    assert [(b.bundle_code, b.initial) for b in balance.buckets] == [("azercell-3gb-7d", 3_000_000)]
    assert held(served, shop) == (FLOAT_QEPIK - 500, CREDIT_QEPIK, 10)


def test_signing_out_ends_the_session_for_good(till: Any, served: Served, shop: Shop) -> None:
    sign_in(till, shop)
    session = [c for c in till.context.cookies() if c["name"] == "pos_session"]
    assert len(session) == 1

    till.get_by_role("button", name=f"Çıxış ({shop.username})").click()

    expect(till.get_by_role("heading", name="Daxil ol")).to_be_visible()
    assert [c for c in till.context.cookies() if c["name"] == "pos_session"] == []
    till.context.add_cookies(session)  # a copy of the old cookie opens nothing: the session ended on the server
    till.goto("/pos/report")
    expect(till.get_by_role("heading", name="Daxil ol")).to_be_visible()
    expect(till).to_have_url(f"{served.base}/pos")
    served.shot(till, "pos-sign-in")


def test_every_page_of_the_till_passes_wcag_aa_in_its_three_languages(till: Any, served: Served, shop: Shop) -> None:
    """axe-core's WCAG 2.1 A/AA rules (the portal's accessibility test shows they catch what they should)."""
    axe = Axe()
    line = make_line(served.application)
    broken: dict[str, list[str]] = {}
    type_sign_in(till, shop, "not the password")
    expect(till.get_by_role("alert")).to_be_visible()
    broken["az sign-in refused"] = violations(axe, till)
    sign_in(till, shop)
    for language in ("AZ", "EN", "RU"):
        till.goto("/pos")
        till.get_by_role("link", name=language, exact=True).click()
        expect(till.locator("html")).to_have_attribute("lang", language.lower())
        expect(till.locator("#number")).to_be_focused()
        broken[f"{language} sell"] = violations(axe, till)
        till.locator("#number").fill(line.msisdn.national)
        till.locator("#amount").fill("1.00")
        till.locator("#amount").press("Enter")
        expect(till.locator(".figures .big").nth(1)).to_have_text("1.00 AZN")
        broken[f"{language} confirm"] = violations(axe, till)
        till.keyboard.press("Enter")
        expect(till.locator(".receipt .amount")).to_have_text("1.00 AZN")
        broken[f"{language} receipt"] = violations(axe, till)
        till.goto("/pos/report")
        broken[f"{language} report"] = violations(axe, till)

    assert {where: rules for where, rules in broken.items() if rules} == {}
