"""The portal as people use it, in Chromium: a quick top-up through the bank's 3-D Secure page, a declined card,
signing in with the SMS code, buying a bundle, history and a PDF receipt, the dashboard in Chinese, a 360-pixel
phone; and a screenshot of every main page in all four languages (under test-artifacts/portal/)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import BUYER, PHONE, SUBSCRIBER, WATCHER, Served

pytestmark = pytest.mark.e2e


def sign_in(page: Any, served: Served, number: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Your phone number").fill(number)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("heading", name="Enter the code")).to_be_visible()
    page.get_by_label("6-digit code").fill(served.code_for(number))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My line", exact=True)).to_be_visible()


def test_quick_top_up_through_3d_secure(page: Any, served: Served) -> None:
    page.goto("/")
    served.shot(page, "top-up-start")
    page.get_by_label("Phone number").fill("050 123 45 67")
    expect(page.locator("#check")).to_contain_text("050 123 45 67 belongs to Azercell.")
    page.locator("label.chip", has_text="AZN 10.00").click()
    expect(page.locator("#check")).to_contain_text("AZN 10.00 gives 60 days of use.")
    before = served.main_balance("+994501234567")
    page.get_by_role("button", name="See the price").click()
    expect(page.get_by_role("heading", name="Check and pay")).to_be_visible()
    expect(page.locator(".facts .total")).to_contain_text("AZN 10.00")
    served.shot(page, "checkout")

    page.get_by_label("Card number").fill("4000 0000 0000 3220")
    page.get_by_label("Expiry (MM/YY)").fill("12/30")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Pay AZN 10.00").click()
    expect(page.get_by_role("heading", name="Sandbox 3-D Secure")).to_be_visible()
    page.get_by_label("One-time code").fill("1234")
    page.get_by_role("button", name="Approve").click()

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.locator(".receipt")).to_contain_text("Visa •••• 3220")
    served.shot(page, "result-paid")
    assert served.main_balance("+994501234567") == before + 1000


def test_a_declined_card_says_why_and_offers_to_try_again(page: Any, served: Served) -> None:
    before = served.main_balance("+994511112233")
    page.goto("/")
    page.get_by_label("Phone number").fill("+994 51 111 22 33")
    page.locator("label.chip", has_text="AZN 3.00").click()
    page.get_by_role("button", name="See the price").click()
    page.get_by_label("Card number").fill("4000000000000002")
    page.get_by_label("Expiry (MM/YY)").fill("1230")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Pay AZN 3.00").click()

    expect(page.get_by_role("heading", name="The payment did not go through")).to_be_visible()
    expect(page.locator(".reason")).to_have_text("Your bank declined the card. Try another card, or ask your bank why.")
    served.shot(page, "result-declined")
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_label("Phone number")).to_have_value("+994511112233")
    expect(page.locator('input[name="amount"][value="300"]')).to_be_checked()
    assert served.main_balance("+994511112233") == before


def test_sign_in_buy_a_bundle_and_download_its_receipt(page: Any, served: Served) -> None:
    sign_in(page, served, BUYER)
    expect(page.locator(".money-big")).to_have_text("AZN 5.00")

    page.get_by_role("link", name="Bundles", exact=True).click()
    page.get_by_label("Price, at most").select_option("2")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name="Daily 1 GB").click()
    page.get_by_role("button", name="Buy for AZN 1.00 from the balance").click()
    expect(page.get_by_text("Done: the bundle is on your line.")).to_be_visible()
    assert served.main_balance(BUYER) == 400

    page.get_by_role("link", name="History", exact=True).click()
    expect(page.locator(".row-item").first).to_contain_text("Bundle purchase")
    page.locator(".row-item").first.get_by_role("link", name="Receipt").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    saved = download.value.path()
    assert download.value.suggested_filename.startswith("receipt-")
    with open(saved, "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"


def test_the_dashboard_in_chinese(page: Any, served: Served) -> None:
    sign_in(page, served, WATCHER)
    page.get_by_role("link", name="中文").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("heading", name="主余额")).to_be_visible()
    expect(page.locator(".bundle-left")).to_contain_text("每周 3 GB 流量包")
    expect(page.locator(".gauge-label").first).to_contain_text("剩余")
    expect(page.locator("svg.chart title#chart-title")).to_have_text("近 30 天每日流量")
    served.shot(page, "dashboard-zh")
    page.get_by_role("link", name="记录").click()
    expect(page.get_by_role("heading", name="记录")).to_be_visible()


def test_a_360_pixel_phone(chromium: Any, served: Served) -> None:
    context = chromium.new_context(
        base_url=served.base, locale="en-US", viewport={"width": 360, "height": 780}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    try:
        for path in ("/", "/sign-in", "/verify"):
            page.goto(path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
        page.goto("/")
        page.get_by_label("Phone number").fill("0511110055")
        page.locator("label.chip", has_text="AZN 1.00").tap()
        box = page.locator("label.chip", has_text="AZN 1.00").bounding_box()
        assert box["height"] >= 44  # a thumb's target
        page.get_by_role("button", name="See the price").tap()
        expect(page.get_by_role("heading", name="Check and pay")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        served.shot(page, "phone-checkout")
        sign_in(page, served, PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        served.shot(page, "phone-dashboard")
    finally:
        context.close()


MAIN_PAGES = [
    ("start", "/"),
    ("verify", "/verify"),
    ("voucher", "/voucher"),
    ("dashboard", "/account"),
    ("bundles", "/account/bundles"),
    ("bundle", "/account/bundles/azercell-25gb-30d"),
    ("compare", "/account/bundles/compare?code=azercell-3gb-7d&code=azercell-10gb-30d&code=azercell-25gb-30d"),
    ("history", "/account/history"),
    ("orders", "/account/history?list=orders"),
    ("auto-recharge", "/account/auto-recharge"),
    ("notifications", "/account/notifications"),
    ("cards", "/account/cards"),
]


def test_every_main_page_in_every_language(page: Any, served: Served) -> None:
    """Screenshots for people to look at; each page must also be in its language, with nothing overflowing."""
    page.goto("/sign-in")
    for language in ("az", "en", "ru", "zh"):
        page.goto(f"/language/{language}?next=/sign-in")
        served.shot(page, f"{language}-sign-in")
    page.goto("/language/en?next=/")
    sign_in(page, served, SUBSCRIBER)
    page.goto("/")
    page.get_by_label("Phone number").fill(SUBSCRIBER)
    page.get_by_role("button", name="See the price").click()
    checkout = page.url
    for language, heading in (("az", "Nömrəm"), ("en", "My line"), ("ru", "Мой номер"), ("zh", "我的号码")):
        page.goto(f"/language/{language}?next=/account")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        for name, path in [*MAIN_PAGES, ("checkout", checkout.removeprefix(served.base))]:
            page.goto(path)
            assert page.locator("html").get_attribute("lang") == {"zh": "zh-Hans"}.get(language, language)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 1280, (language, name, width)
            served.shot(page, f"{language}-{name}")
    assert re.match(r".*/checkout/[0-9a-f]+\.[0-9a-f]+$", checkout)
