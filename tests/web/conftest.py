"""Fixtures of the portal's page tests: the app over HTTPS (its cookies are Secure), a scripted card acquirer
and wallet, lines, and a signed-in subscriber."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_line
from tests.fakes import ScriptedAcquirer, ScriptedWallet
from tests.web.browsing import Browser
from topup.bootstrap import Application
from topup.domain.lines import Line
from topup.domain.orders import PaymentMethod
from topup.entrypoints.api.app import create_app

NUMBER = "+994501234567"
BROWSER_HEADERS = {"Accept-Language": "en", "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def acquirer(application: Application) -> ScriptedAcquirer:
    fake = ScriptedAcquirer()
    application.acquirer = fake
    return fake


@pytest.fixture
def wallets(application: Application, acquirer: ScriptedAcquirer) -> dict[PaymentMethod, ScriptedWallet]:
    found = {
        PaymentMethod.PAYPAL: ScriptedWallet(currencies=frozenset({"USD", "EUR"})),
        PaymentMethod.GOLDENPAY: ScriptedWallet(captures_on_approval=True, currencies=frozenset({"AZN"})),
    }
    application.providers = dict(found)
    return found


@pytest.fixture
def browser(application: Application, acquirer: ScriptedAcquirer) -> Iterator[Browser]:
    with TestClient(create_app(application), base_url="https://testserver", headers=BROWSER_HEADERS) as client:
        yield Browser(client, application)


@pytest.fixture
def line(application: Application) -> Line:
    """An Azercell line with 10.00 AZN and English as its language."""
    return make_line(application, number=NUMBER, balance_qepik=1000, language="en")


@pytest.fixture
def signed_in(browser: Browser, line: Line) -> Browser:
    browser.sign_in(line.msisdn.e164)
    return browser
