"""A scratch card on the portal, in Chromium: the code typed as printed tops up a number and shows the receipt;
the same card again is refused next to the code, and nothing moves."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Served
from tests.factories import cards_on_sale
from topup.services import lines, topups

pytestmark = pytest.mark.e2e
FRIEND = "+994501110066"  # the number the card is for: not the visitor's own


def test_a_scratch_card_tops_up_a_number_once(page: Any, served: Served) -> None:
    application = served.application
    lines.provision_line(application.uow(), application.clock, number=FRIEND, language="en")
    topups.top_up(
        application.uow(), application.clock, application.codes, number=FRIEND, amount_qepik=100, channel="demo"
    )
    [card] = cards_on_sale(application, application.vouchers, count=1, nominal_qepik=1000)

    page.goto("/language/en?next=/")
    page.get_by_role("link", name="Top up with a scratch card").click()
    expect(page.get_by_role("heading", name="Top up with a scratch card")).to_be_visible()
    page.get_by_label("Card code").fill(f"{card.pin[:4]} {card.pin[4:8]} {card.pin[8:]}")
    page.get_by_label("Phone number").fill("050 111 00 66")
    page.get_by_role("button", name="Top up", exact=True).click()

    expect(page.get_by_role("status")).to_have_text("Done: the card's amount is on the line.")
    expect(page.locator(".receipt")).to_contain_text("10.00 AZN")
    served.shot(page, "voucher-receipt")
    assert served.main_balance(FRIEND) == 100 + 1000

    page.get_by_role("link", name="Use another card").click()
    page.get_by_label("Card code").fill(card.pin)
    page.get_by_label("Phone number").fill("050 111 00 66")
    page.get_by_role("button", name="Top up", exact=True).click()

    expect(page.locator("#pin-error")).to_have_text("⚠ This card was used already.")
    expect(page.get_by_label("Card code")).to_have_attribute("aria-invalid", "true")
    served.shot(page, "voucher-used")
    assert served.main_balance(FRIEND) == 1100
