"""Every way of paying, end to end through the real server with its sandboxes: PayPal, WebMoney, GoldenPay and
Google Pay, each approved (or not) by a customer's "browser" (httpx, following redirects by hand) on the
provider's own page, then the provider's return, notification or token coming back to Topup. Afterwards
the ledger balances and the day's reconciliation finds no mismatch.

One server process serves the whole module (starting one is the slow part); each test uses its own line.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from html import unescape
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tests.conftest import SAMPLE_CATALOGUE
from tests.e2e.serving import cli, served_environment, start_server
from topup.adapters.payments.webmoney import notification_hash
from topup.config import Settings
from topup.domain.calendar import BAKU

_FORM = re.compile(r'<form method="post" action="([^"]+)">(.*?)</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_numbers = iter(range(1_000_000))
DEFAULTS = Settings()


class Served:
    def __init__(self, env: dict[str, str], key: str) -> None:
        self.env = env
        self.base = env["TOPUP_PUBLIC_BASE_URL"]
        self.api = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        self.browser = httpx.Client(timeout=30)  # the customer: no key, follows nothing by itself

    def new_line(self) -> str:
        number = f"+99450{next(_numbers) + 7_100_000:07d}"
        cli(self.env, "lines", "add", number)
        return number

    def order(self, number: str, payment: dict[str, Any], *, currency: str = "AZN", amount: str = "10.00") -> Any:
        body = {
            "msisdn": number,
            "product": {"type": "topup", "amount": amount},
            "payment": payment,
            "currency": currency,
        }
        return self.api.post("/v1/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})

    def status(self, order_id: str) -> Any:
        return self.api.get(f"/v1/orders/{order_id}").json()

    def main_balance(self, number: str) -> str:
        return str(self.api.get(f"/v1/lines/{number}/balance").json()["main"]["amount"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = served_environment(
        tmp_path_factory.mktemp("wallets"),
        TOPUP_WORKER_IN_PROCESS="false",
        TOPUP_ORDER_NUMBER_DAILY_COUNT_MAX="1000",
    )
    cli(env, "db", "upgrade")
    cli(env, "catalogue", "load", str(SAMPLE_CATALOGUE))
    cli(env, "fx", "set", "USD", "1.70")
    key = cli(env, "api-keys", "create", "--role", "admin", "--name", "wallets").strip().splitlines()[-1]
    server = start_server(env)
    served = Served(env, key)
    try:
        yield served
    finally:
        served.api.close()
        served.browser.close()
        server.kill()
        server.wait(timeout=30)


def form_of(page: httpx.Response, base: str) -> tuple[str, dict[str, str]]:
    """The first posted form of a page: where it goes and its hidden fields."""
    found = _FORM.search(page.text)
    assert found is not None, page.text
    action, inside = found.groups()
    return urljoin(base, unescape(action)), {unescape(n): unescape(v) for n, v in _HIDDEN.findall(inside)}


def press(browser: httpx.Client, page_url: str, action: str, **extra: str) -> httpx.Response:
    """Open the provider's page and press one of its buttons."""
    page = browser.get(page_url)
    assert page.status_code == 200, page.text
    target, hidden = form_of(page, page_url)
    return browser.post(target, data={**hidden, "action": action, **extra})


def follow(browser: httpx.Client, response: httpx.Response) -> httpx.Response:
    assert response.status_code == 303, response.text
    return browser.get(response.headers["location"])


def test_paypal_approved_in_dollars_tops_up_the_line(served: Served) -> None:
    number = served.new_line()
    placed = served.order(number, {"method": "wallet", "wallet": "paypal"}, currency="USD")
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (order["status"], order["charge"]) == ("awaiting_payment", {"amount": "5.89", "currency": "USD"})
    approve_url = order["next_action"]["redirect_url"]
    assert approve_url.startswith(f"{served.base}/sandbox/paypal/checkoutnow?token=")

    back = follow(served.browser, press(served.browser, approve_url, "balance"))

    assert back.status_code == 200
    assert "Payment received" in back.text
    done = served.status(order["id"])
    assert (done["status"], done["payment"]["method"]) == ("fulfilled", "paypal")
    assert served.main_balance(number) == "10.00"


def test_paypal_refuses_manat_and_a_cancelled_approval_charges_nothing(served: Served) -> None:
    number = served.new_line()
    refused = served.order(number, {"method": "wallet", "wallet": "paypal"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "currency_not_supported_by_method"
    assert refused.json()["error"]["details"]["supported"] == ["EUR", "USD"]

    order = served.order(number, {"method": "wallet", "wallet": "paypal"}, currency="USD").json()
    back = follow(served.browser, press(served.browser, order["next_action"]["redirect_url"], "cancel"))

    assert back.status_code == 200
    assert "cancelled" in back.text
    done = served.status(order["id"])
    assert (done["status"], done["failure"]["code"]) == ("cancelled", "payment_cancelled")
    assert served.main_balance(number) == "0.00"


def test_webmoney_pays_through_the_posted_form_and_the_signed_notification(served: Served) -> None:
    number = served.new_line()
    order = served.order(number, {"method": "wallet", "wallet": "webmoney"}, currency="USD").json()
    pay_url = order["next_action"]["redirect_url"]
    assert pay_url == f"{served.base}/v1/orders/{order['id']}/pay"

    fields, back = pay_through_webmoney(served, order)

    assert (fields["LMI_PAYMENT_AMOUNT"], fields["LMI_PAYEE_PURSE"]) == ("5.89", "Z100000000001")
    assert "Payment received" in back.text
    assert served.status(order["id"])["status"] == "fulfilled"
    assert served.main_balance(number) == "10.00"


def pay_through_webmoney(served: Served, order: dict[str, Any]) -> tuple[dict[str, str], httpx.Response]:
    """Our pay page posts the merchant form to WebMoney; the payer pays there (pre-request, payment, signed
    notification to our Result URL), and comes back to our return page."""
    pay_url = order["next_action"]["redirect_url"]
    target, fields = form_of(served.browser.get(pay_url), pay_url)
    assert target == f"{served.base}/sandbox/webmoney/lmi/payment_utf.asp"
    invoice = served.browser.post(target, data=fields)
    invoice_url, _ = form_of(invoice, target)
    return fields, follow(served.browser, served.browser.post(invoice_url, data={"action": "pay"}))


def signed_notification(order: dict[str, Any], *, amount: str, payment_no: str) -> dict[str, str]:
    fields = {
        "LMI_PAYEE_PURSE": "Z100000000001",
        "LMI_PAYMENT_AMOUNT": amount,
        "LMI_PAYMENT_NO": payment_no,
        "LMI_MODE": "1",
        "LMI_SYS_INVS_NO": "900001",
        "LMI_SYS_TRANS_NO": "900002",
        "LMI_SYS_TRANS_DATE": datetime.now(BAKU).strftime("%Y%m%d %H:%M:%S"),
        "LMI_PAYER_PURSE": "Z000000000001",
        "LMI_PAYER_WM": "000000000001",
        "FIELD_REFERENCE": order["id"],
    }
    fields["LMI_HASH"] = notification_hash(fields, DEFAULTS.webmoney_secret_key, "sha256")
    return fields


def test_webmoney_notifications_that_are_forged_or_replayed_move_no_money(served: Served) -> None:
    number = served.new_line()
    order = served.order(number, {"method": "wallet", "wallet": "webmoney"}, currency="USD").json()
    payment_no = str(int(order["id"][:13], 16))
    result_url = "/v1/payments/webmoney/result"

    tampered = {**signed_notification(order, amount="5.89", payment_no=payment_no), "LMI_PAYMENT_AMOUNT": "0.01"}
    bad_signature = served.browser.post(f"{served.base}{result_url}", data=tampered)
    wrong_amount = served.browser.post(
        f"{served.base}{result_url}", data=signed_notification(order, amount="0.01", payment_no=payment_no)
    )
    unknown = {**signed_notification(order, amount="5.89", payment_no="12345"), "FIELD_REFERENCE": ""}
    unknown["LMI_HASH"] = notification_hash(unknown, DEFAULTS.webmoney_secret_key, "sha256")
    unknown_order = served.browser.post(f"{served.base}{result_url}", data=unknown)

    assert (bad_signature.status_code, bad_signature.json()["error"]["code"]) == (400, "bad_signature")
    assert (wrong_amount.status_code, wrong_amount.json()["error"]["code"]) == (400, "wrong_amount")
    assert unknown_order.status_code in (400, 404)
    assert served.status(order["id"])["status"] == "awaiting_payment"
    assert served.main_balance(number) == "0.00"

    pay_through_webmoney(served, order)  # the sandbox's own notification delivers it
    replayed = [
        served.browser.post(
            f"{served.base}{result_url}", data=signed_notification(order, amount="5.89", payment_no=payment_no)
        )
        for _ in range(2)
    ]

    assert [(r.status_code, r.text) for r in replayed] == [(200, "OK"), (200, "OK")]
    assert served.status(order["id"])["status"] == "fulfilled"
    assert served.main_balance(number) == "10.00"  # delivered once


def test_goldenpay_pays_on_its_card_page_and_a_declined_card_charges_nothing(served: Served) -> None:
    number = served.new_line()
    order = served.order(number, {"method": "goldenpay", "language": "az"}).json()
    assert order["next_action"]["redirect_url"].startswith(f"{served.base}/sandbox/goldenpay/web/paypage?payment_key=")

    back = follow(served.browser, press(served.browser, order["next_action"]["redirect_url"], "pay"))
    assert "Payment received" in back.text
    done = served.status(order["id"])
    assert (done["status"], done["payment"]["last_four"]) == ("fulfilled", "8101")
    receipt = served.api.get(done["delivered"]["receipt_url"].removeprefix(served.base))
    assert "GoldenPay · Visa •••• 8101" in receipt.text

    declined = served.order(number, {"method": "goldenpay"}, amount="5.00").json()
    back = follow(served.browser, press(served.browser, declined["next_action"]["redirect_url"], "decline"))
    assert "did not go through" in back.text
    assert served.status(declined["id"])["status"] == "failed"
    assert served.main_balance(number) == "10.00"

    unknown = served.browser.get(f"{served.base}/v1/payments/goldenpay/return", params={"payment_key": "no-such-key"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "order_not_found")


def test_google_pay_sheet_token_is_authorised_by_the_acquirer(served: Served) -> None:
    number = served.new_line()
    order = served.order(number, {"method": "wallet", "wallet": "googlepay"}).json()
    sheet_url = order["next_action"]["redirect_url"]
    assert sheet_url.startswith(f"{served.base}/sandbox/googlepay/pay?")

    handed_back = press(served.browser, sheet_url, "pay", card="device-visa-4242")
    target, token_field = form_of(handed_back, sheet_url)  # the sheet hands the token to the merchant's page
    assert target == f"{served.base}/v1/orders/{order['id']}/google-pay"
    result = served.browser.post(target, data=token_field)

    assert "Payment received" in result.text
    done = served.status(order["id"])
    assert (done["status"], done["payment"]) == (
        "fulfilled",
        {"method": "googlepay", "brand": "visa", "last_four": "4242", "saved_card_id": None},
    )

    direct = served.order(number, {"method": "wallet", "wallet": "googlepay", "token": "not a token"})
    assert direct.status_code == 201
    assert (direct.json()["status"], direct.json()["failure"]["code"]) == ("failed", "invalid_token")


def test_after_all_of_it_the_ledger_balances_and_reconciliation_finds_nothing(served: Served) -> None:
    number = served.new_line()
    order = served.order(number, {"method": "goldenpay"}).json()
    follow(served.browser, press(served.browser, order["next_action"]["redirect_url"], "pay"))

    assert json.loads(cli(served.env, "ledger", "check", "--json"))["ok"] is True
    today = datetime.now(BAKU).date().isoformat()
    report = json.loads(cli(served.env, "reconcile", "--date", today, "--json"))  # exits 1 on a mismatch
    assert (report["ok"], report["mismatches"]) == (True, [])
