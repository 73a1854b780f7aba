"""The portal is usable without a mouse and without sight: axe-core's WCAG 2.1 A and AA rules (labels, names,
contrast, landmarks, the page's language...) pass on every main page in all four languages, and a quick top-up
can be done with the keyboard alone, in the order the page reads."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import SUBSCRIBER, Served
from tests.browser.test_portal import MAIN_PAGES, sign_in

pytestmark = pytest.mark.e2e
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
BROKEN_PAGE = (
    "<!DOCTYPE html><html><head><title>Broken</title></head><body><main>"
    '<p style="color:#bbb;background:#fff">Faint text</p><input name="number"></main></body></html>'
)
PUBLIC_PAGES = [("start", "/"), ("voucher", "/voucher"), ("verify", "/verify"), ("sign-in", "/sign-in")]


def violations(axe: Axe, page: Any) -> list[str]:
    """One line per rule broken on the page: the rule, its impact and the first element that breaks it."""
    found = axe.run(page, options=WCAG_AA).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']} {v['help']}" for v in found]


def test_every_main_page_passes_wcag_aa_in_every_language(page: Any, served: Served) -> None:
    axe = Axe()
    page.set_content(BROKEN_PAGE)  # first, proof that the rules run and see what they should
    assert sorted(line.split(" ")[0] for line in violations(axe, page)) == ["color-contrast", "html-has-lang", "label"]
    broken: dict[str, list[str]] = {}
    for language in ("az", "en", "ru", "zh"):
        page.goto(f"/language/{language}?next=/")
        for name, path in PUBLIC_PAGES:
            page.goto(path)
            broken[f"{language} {name}"] = violations(axe, page)
    page.goto("/language/en?next=/")
    sign_in(page, served, SUBSCRIBER)
    for language in ("az", "en", "ru", "zh"):
        page.goto(f"/language/{language}?next=/account")
        for name, path in MAIN_PAGES:
            page.goto(path)
            broken[f"{language} {name}"] = violations(axe, page)

    assert {where: rules for where, rules in broken.items() if rules} == {}


def test_a_quick_top_up_with_the_keyboard_alone(page: Any, served: Served) -> None:
    page.goto("/")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    page.keyboard.press("Enter")  # straight to the form, past the menus
    page.keyboard.press("Tab")
    expect(page.get_by_label("Phone number")).to_be_focused()
    page.keyboard.type("050 111 00 22")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Operator")).to_be_focused()
    page.keyboard.press("Tab")  # the amount's radio group: one stop, arrows move within it
    expect(page.get_by_role("radio", name="AZN 5.00")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="AZN 10.00")).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your own amount, in manat")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Pay in")).to_be_focused()  # offered: the served app has a USD rate
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="See the price")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Check and pay")).to_be_visible()
    expect(page.get_by_text("AZN 10.00").first).to_be_visible()


def test_a_form_sent_with_problems_takes_the_focus_to_them(page: Any, served: Served) -> None:
    page.goto("/")
    page.get_by_label("Phone number").fill("050 12")
    page.get_by_label("Phone number").press("Enter")

    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("This number does not exist.")
    summary.get_by_role("link").first.press("Enter")  # each problem links to its field
    expect(page.get_by_label("Phone number")).to_be_focused()
    expect(page.get_by_label("Phone number")).to_have_attribute("aria-invalid", "true")
