"""The cash kiosk's touch pages in Chromium: the real `topup kiosk serve` process (its own pages, durable queue,
simulated bill acceptor and forwarder) in front of the real server. A customer picks the operator or types the
number, confirms the operator the server found, inserts banknotes (an unknown one is given back), sees the fee
before paying, and gets a receipt whose code the portal's /verify page confirms; in English, Azerbaijani and
Chinese, switched on the page. With the server stopped the kiosk still takes the payment, says it will arrive
later, and its forwarder credits it exactly once when the server is back. Money is read through the services."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import Served, fresh_page
from tests.browser.test_accessibility import violations
from tests.e2e.serving import STARTUP_SECONDS_MAX, TOPUP, cli, free_port
from tests.factories import make_line
from topup.adapters.kiosk.server_client import HttpKioskServer
from topup.adapters.kiosk.store import SqliteTerminalStore
from topup.domain.agents import AgentKind
from topup.domain.kiosks import KioskPaymentState
from topup.domain.lines import LineStatus
from topup.services import agents, kiosks

pytestmark = pytest.mark.e2e

FORWARD_EVERY_SECONDS = 1  # the forwarder's pass (15 s in service): the store-and-forward test waits for it
FORWARDED_SECONDS_MAX = 30.0
POLL_SECONDS = 0.1
_kiosks = itertools.count(1)


@dataclass(frozen=True)
class Kiosk:
    """A kiosk registered on the server, its key, and its terminal running as `topup kiosk serve`."""

    agent_id: str
    key: str
    queue: Path
    base: str

    def status(self) -> dict[str, int]:
        """The technician's view of the queue: payments by forwarding state."""
        answer = httpx.get(f"{self.base}/status", timeout=5)
        assert answer.status_code == 200
        payments: dict[str, int] = answer.json()["payments"]
        return payments


@pytest.fixture
def kiosk(served: Served, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Kiosk]:
    """A kiosk of its own for each test (the demo's kiosk commission, 1 %, from `topup demo seed`), with its key
    made as staff make one, and its terminal started as the kiosk's own machine starts it."""
    application, n = served.application, next(_kiosks)
    registered = agents.register_agent(
        application.uow(),
        application.clock,
        name=f"Kiosk {n}, Gənclik",
        kind=AgentKind.KIOSK,
        licence_number=f"KI-BROWSER-{n}",
        address="Gənclik metro, Bakı",
        verified=True,
    )
    key = cli(served.env, "api-keys", "create", "--role", "kiosk", "--agent", registered.id, "--name", "kiosk")
    key = key.strip().splitlines()[-1]
    port = free_port()
    found = Kiosk(registered.id, key, tmp_path / "kiosk.db", f"http://127.0.0.1:{port}")
    log_path = tmp_path / "kiosk.log"
    command = [TOPUP, "kiosk", "serve", "--server", served.base, "--queue", str(found.queue), "--port", str(port)]
    command += ["--forward-every", str(FORWARD_EVERY_SECONDS)]
    env = {**served.env, "TOPUP_KIOSK_KEY": key}  # the key in the environment, not in the process list
    with log_path.open("wb") as log:
        terminal = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            _wait_until_serving(found, terminal)
            yield found
        finally:
            terminal.terminate()
            terminal.wait(timeout=30)
            _keep_log(log_path, served, request)


def _wait_until_serving(kiosk: Kiosk, terminal: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS_MAX
    while time.monotonic() < deadline:
        try:
            kiosk.status()
            return
        except httpx.TransportError:
            pass
        if terminal.poll() is not None:
            break
        time.sleep(POLL_SECONDS)  # polling for the port to open, bounded by the deadline
    terminal.kill()
    pytest.fail("the kiosk terminal did not start")


def _keep_log(log_path: Path, served: Served, request: pytest.FixtureRequest) -> None:
    """The terminal's own output next to the screenshots, for a failure in CI."""
    served.artifact(f"kiosk-{request.node.originalname}.log").write_bytes(log_path.read_bytes())


@pytest.fixture
def screen(chromium: Any, kiosk: Kiosk) -> Iterator[Any]:
    """The kiosk's touch screen: a fresh browser on its pages, 1280 × 1024, touch."""
    with fresh_page(chromium, kiosk.base, viewport={"width": 1280, "height": 1024}, has_touch=True) as found:
        yield found


def grouped(digits: str) -> str:
    """How the keypad's display shows typed digits: 050 123 45 67."""
    return " ".join(part for part in (digits[:3], digits[3:6], digits[6:8], digits[8:10]) if part)


def tap_digits(screen: Any, typed: str, digits: str) -> None:
    """Tap each key, waiting for the display to show it (each key is a form the kiosk answers)."""
    for digit in digits:
        screen.get_by_role("button", name=digit, exact=True).tap()
        typed += digit
        expect(screen.locator(".display")).to_have_text(grouped(typed))


def wait_until(what: str, done: Any) -> None:
    deadline = time.monotonic() + FORWARDED_SECONDS_MAX
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(POLL_SECONDS)  # polling, bounded by the deadline
    pytest.fail(f"not done within {FORWARDED_SECONDS_MAX} s: {what}")


def box(served: Served, kiosk: Kiosk) -> list[tuple[tuple[int, ...], int, int, int, KioskPaymentState]]:
    """The server's record of the kiosk's payments: banknotes, inserted, fee, credited (qəpik), state."""
    found = kiosks.encashment(served.application.uow(), kiosk_id=kiosk.agent_id)
    return [(p.banknotes, p.inserted_qepik, p.fee_qepik, p.credited_qepik, p.state) for p in found.payments]


def test_a_customer_picks_the_operator_pays_in_cash_and_the_portal_verifies_the_receipt(
    screen: Any, page: Any, served: Served, kiosk: Kiosk
) -> None:
    line = make_line(served.application, balance_qepik=300)
    digits = line.msisdn.national.replace(" ", "")
    screen.goto("/")
    expect(screen.get_by_role("heading", name="Mobil nömrəni artırın")).to_be_visible()
    served.shot(screen, "kiosk-az-home")
    screen.get_by_role("link", name="EN").tap()
    expect(screen.get_by_role("heading", name="Top up a mobile number")).to_be_visible()
    served.shot(screen, "kiosk-en-home")

    screen.get_by_role("link", name="Azercell 050 · 051 · 010").tap()
    expect(screen.locator(".display")).to_have_text("050")
    tap_digits(screen, "050", digits[3:-1] + "9")
    screen.get_by_role("button", name="⌫ Erase").tap()  # a wrong last digit, taken back
    expect(screen.locator(".display")).to_have_text(grouped(digits[:-1]))
    expect(screen.get_by_role("button", name="Continue")).to_be_disabled()
    tap_digits(screen, digits[:-1], digits[-1])
    served.shot(screen, "kiosk-en-keypad")
    screen.get_by_role("button", name="Continue").tap()

    expect(screen.get_by_role("heading", name="Is this right?")).to_be_visible()
    expect(screen.locator(".panel .display")).to_have_text(line.msisdn.national)
    expect(screen.locator(".panel")).to_contain_text("Azercell")  # as the server knows the line
    expect(screen.locator(".notice")).to_have_count(0)  # online: no guess from the prefix
    served.shot(screen, "kiosk-en-confirm")
    screen.get_by_role("link", name="Yes, continue").tap()

    expect(screen.get_by_role("heading", name="Insert banknotes")).to_be_visible()
    expect(screen.get_by_role("button", name="Pay AZN0.00")).to_be_disabled()
    screen.get_by_role("button", name="10 ₼").tap()
    expect(screen.locator(".amounts")).to_contain_text("InsertedAZN10.00")
    screen.get_by_role("button", name="Unknown note").tap()
    expect(screen.get_by_role("alert")).to_have_text("The note was not recognised and was given back.")
    expect(screen.locator(".amounts")).to_contain_text("InsertedAZN10.00")
    served.shot(screen, "kiosk-en-note-given-back")
    screen.get_by_role("button", name="5 ₼").tap()
    amounts = screen.locator(".amounts")
    expect(amounts).to_contain_text("InsertedAZN15.00")
    expect(amounts).to_contain_text("Fee (1.00%)AZN0.15")  # shown before the customer confirms
    expect(amounts.locator(".big")).to_have_text("AZN14.85")
    expect(screen.get_by_role("alert")).to_have_count(0)
    served.shot(screen, "kiosk-en-cash")
    assert served.main_balance(line.msisdn.e164) == 300  # nothing is paid before "Pay"

    screen.get_by_role("button", name="Pay AZN15.00").tap()

    expect(screen.get_by_role("heading", name="Payment received")).to_be_visible()
    receipt = screen.locator(".panel")
    expect(receipt).to_contain_text(f"AZN14.85 was put on the balance of {line.msisdn.national}.")
    expect(receipt.locator(".amounts")).to_have_text(
        f"Number{line.msisdn.national} InsertedAZN15.00 FeeAZN0.15 To the balanceAZN14.85"
    )
    code = receipt.locator(".code").inner_text()
    served.shot(screen, "kiosk-en-receipt")
    assert served.main_balance(line.msisdn.e164) == 300 + 1485
    assert box(served, kiosk) == [((10, 5), 1500, 15, 1485, KioskPaymentState.CREDITED)]  # the 200 went back
    assert kiosk.status() == {"credited": 1}

    page.goto(f"/verify?code={code}")
    verdict = page.get_by_role("status")
    expect(verdict.get_by_role("heading")).to_have_text("✓ This receipt is genuine")
    expect(verdict).to_contain_text("AZN 14.85")
    expect(verdict).to_contain_text(line.msisdn.masked)
    served.shot(page, "kiosk-verify")
    screen.get_by_role("link", name="Done").tap()
    expect(screen.get_by_role("heading", name="Top up a mobile number")).to_be_visible()


def test_a_customer_types_the_number_in_chinese_and_switches_language_mid_payment(
    screen: Any, served: Served, kiosk: Kiosk
) -> None:
    line = make_line(served.application, prefix="70")
    digits = line.msisdn.national.replace(" ", "")
    screen.goto("/")
    screen.get_by_role("link", name="中文").tap()
    expect(screen.locator("html")).to_have_attribute("lang", "zh")
    expect(screen.get_by_role("heading", name="为手机号码充值")).to_be_visible()
    served.shot(screen, "kiosk-zh-home")

    screen.get_by_role("link", name="输入号码").tap()
    expect(screen.locator(".display")).to_have_text("—")
    expect(screen.locator(".keys button")).to_have_text([*"123456789", "⌫ 删除", "0", "清空"])
    tap_digits(screen, "", digits)
    served.shot(screen, "kiosk-zh-keypad")
    screen.get_by_role("link", name="EN").tap()  # the digits typed so far stay on the display
    expect(screen.get_by_role("heading", name="Type the number")).to_be_visible()
    expect(screen.locator(".display")).to_have_text(line.msisdn.national)
    screen.get_by_role("link", name="中文").tap()
    screen.get_by_role("button", name="继续").tap()

    expect(screen.get_by_role("heading", name="信息正确吗？")).to_be_visible()
    expect(screen.locator(".panel")).to_contain_text("Nar")
    served.shot(screen, "kiosk-zh-confirm")
    screen.get_by_role("link", name="正确，继续").tap()
    expect(screen.get_by_role("heading", name="请放入纸币")).to_be_visible()
    screen.get_by_role("button", name="20 ₼").tap()
    amounts = screen.locator(".amounts")
    expect(amounts).to_contain_text("手续费 (1.00%)AZN0.20")
    expect(amounts.locator(".big")).to_have_text("AZN19.80")
    served.shot(screen, "kiosk-zh-cash")

    screen.get_by_role("link", name="AZ").tap()  # the same payment, now in Azerbaijani: the note is still in
    expect(screen.get_by_role("heading", name="Əskinasları daxil edin")).to_be_visible()
    expect(amounts).to_contain_text("Daxil edilib20,00\u00a0₼")
    expect(amounts.locator(".big")).to_have_text("19,80\u00a0₼")
    served.shot(screen, "kiosk-az-cash")
    screen.get_by_role("link", name="中文").tap()
    screen.get_by_role("button", name="支付 AZN20.00").tap()

    expect(screen.get_by_role("heading", name="已收到付款")).to_be_visible()
    expect(screen.locator(".panel")).to_contain_text(f"AZN19.80 已充入号码 {line.msisdn.national} 的余额。")
    expect(screen.locator(".panel")).to_contain_text("验证码")
    served.shot(screen, "kiosk-zh-receipt")
    assert served.main_balance(line.msisdn.e164) == 1980
    assert box(served, kiosk) == [((20,), 2000, 20, 1980, KioskPaymentState.CREDITED)]


def test_a_number_the_server_refuses_is_not_taken_and_nothing_is_queued(
    screen: Any, served: Served, kiosk: Kiosk
) -> None:
    line = make_line(served.application, status=LineStatus.BARRED)
    screen.goto("/number?lang=en")
    tap_digits(screen, "", line.msisdn.national.replace(" ", ""))
    screen.get_by_role("button", name="Continue").tap()

    expect(screen.get_by_role("alert")).to_have_text("Payments to this number cannot be made here.")
    expect(screen.get_by_role("heading", name="Type the number")).to_be_visible()
    served.shot(screen, "kiosk-en-number-refused")
    screen.get_by_role("button", name="Clear", exact=True).tap()
    expect(screen.locator(".display")).to_have_text("—")
    expect(screen.get_by_role("button", name="Continue")).to_be_disabled()
    assert kiosk.status() == {}
    assert box(served, kiosk) == []


def test_a_payment_taken_while_the_server_is_stopped_is_credited_once_when_it_is_back(
    screen: Any, served: Served, kiosk: Kiosk
) -> None:
    line = make_line(served.application)
    digits = line.msisdn.national.replace(" ", "")
    screen.goto("/number")
    tap_digits(screen, "", digits)
    screen.get_by_role("button", name="Davam et").tap()
    expect(screen.get_by_role("heading", name="Düzdür?")).to_be_visible()  # online: the kiosk learns the fee
    screen.get_by_role("link", name="Xeyr, dəyiş").tap()
    expect(screen.locator(".display")).to_have_text(line.msisdn.national)

    with served.stopped():
        screen.get_by_role("button", name="Davam et").tap()
        expect(screen.locator(".notice")).to_have_text(
            "Şəbəkə yoxdur: operator nömrənin prefiksinə görə müəyyən edilib."
        )
        expect(screen.locator(".panel")).to_contain_text("Azercell")
        served.shot(screen, "kiosk-az-confirm-offline")
        screen.get_by_role("link", name="Bəli, davam et").tap()
        screen.get_by_role("button", name="20 ₼").tap()
        expect(screen.locator(".amounts")).to_contain_text("Komissiya (1.00%)0,20\u00a0₼")  # the fee it learnt
        screen.get_by_role("button", name="20,00\u00a0₼ ödə").tap()

        expect(screen.get_by_role("heading", name="Ödəniş qəbul edildi")).to_be_visible()
        expect(screen.locator(".panel p").first).to_have_text(
            f"Ödəniş qeydə alındı: 19,80\u00a0₼ 30 dəqiqə ərzində {line.msisdn.national} nömrəsinin balansına "
            "köçürüləcək."
        )
        expect(screen.locator(".code")).to_have_count(0)  # no verification code until the server credits it
        local_id = screen.locator(".panel strong").inner_text()
        served.shot(screen, "kiosk-az-receipt-queued")
        assert kiosk.status() == {"queued": 1}
        assert served.main_balance(line.msisdn.e164) == 0
        assert box(served, kiosk) == []

    wait_until("the kiosk's forwarder sends the queued payment", lambda: kiosk.status() == {"credited": 1})

    assert served.main_balance(line.msisdn.e164) == 1980
    assert box(served, kiosk) == [((20,), 2000, 20, 1980, KioskPaymentState.CREDITED)]
    screen.reload()
    expect(screen.locator(".panel p").first).to_have_text(
        f"19,80\u00a0₼ {line.msisdn.national} nömrəsinin balansına köçürüldü."
    )
    code = screen.locator(".code").inner_text()
    served.shot(screen, "kiosk-az-receipt-forwarded")

    # The same payment sent again (a forward whose answer was lost) is the first one, not a second credit.
    queued = SqliteTerminalStore(kiosk.queue).payment(local_id)
    assert queued is not None
    client = HttpKioskServer(served.base, api_key=kiosk.key)
    try:
        again = client.forward(queued)
    finally:
        client.close()
    assert (again.state, again.credited_qepik, again.verification_code) == ("credited", 1980, code)
    forwarded = cli(
        {**served.env, "TOPUP_KIOSK_KEY": kiosk.key},
        "kiosk",
        "forward",
        "--server",
        served.base,
        "--queue",
        str(kiosk.queue),
    )
    assert forwarded.strip() == "Payments answered by the server: 0."
    assert served.main_balance(line.msisdn.e164) == 1980
    assert box(served, kiosk) == [((20,), 2000, 20, 1980, KioskPaymentState.CREDITED)]


def test_every_kiosk_screen_passes_wcag_aa_in_every_language(screen: Any, served: Served, kiosk: Kiosk) -> None:
    """axe-core's WCAG 2.1 A/AA rules (the portal's accessibility test shows they catch what they should), on each
    screen of a payment, in each of the four languages."""
    axe = Axe()
    line = make_line(served.application)
    digits = line.msisdn.national.replace(" ", "")
    broken: dict[str, list[str]] = {}
    for language in ("az", "en", "ru", "zh"):
        screen.goto(f"/?lang={language}")
        expect(screen.locator("html")).to_have_attribute("lang", language)
        broken[f"{language} home"] = violations(axe, screen)
        screen.goto(f"/number?lang={language}")
        tap_digits(screen, "", digits)
        broken[f"{language} keypad"] = violations(axe, screen)
        screen.locator("button[value=next]").tap()
        expect(screen.locator(".panel .display")).to_have_text(line.msisdn.national)
        broken[f"{language} confirm"] = violations(axe, screen)
        screen.locator("a.primary").tap()
        screen.get_by_role("button", name="5 ₼").tap()
        expect(screen.locator("form[action$='/pay'] button")).to_be_enabled()
        broken[f"{language} cash"] = violations(axe, screen)
        screen.locator("form[action$='/pay'] button").tap()
        expect(screen.locator(".code")).to_be_visible()
        broken[f"{language} receipt"] = violations(axe, screen)

    assert {where: rules for where, rules in broken.items() if rules} == {}
    assert served.main_balance(line.msisdn.e164) == 4 * 495  # four notes of 5 AZN, each less the 1 % fee
