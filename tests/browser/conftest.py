"""The portal in a real browser: Debian's Chromium driven by Playwright, against the real `topup serve` with
its sandboxes, on SQLite and on PostgreSQL (a database of its own, created and dropped here).

Chromium is never downloaded: it is /usr/bin/chromium (`.ci/run` installs the `chromium` package). Without it
the tests are skipped with a message, except in CI (CI=true), where that is a failure; PostgreSQL likewise.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from tests.conftest import POSTGRES_URL, SAMPLE_CATALOGUE
from tests.e2e.serving import STARTUP_SECONDS_MAX, TOPUP, cli, served_environment
from tests.factories import use_data
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application, bootstrap
from topup.config import Settings
from topup.domain.notifications import NotificationKind
from topup.services import bundles, lines, notifications, topups

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "portal"
# A line of its own for the pages that show a subscriber: 20 AZN, a 10 GB pack and twelve days of data use.
SUBSCRIBER = "+994501110022"
BUYER = "+994511110033"  # buys a bundle from its balance
WATCHER = "+994511110044"  # reads its dashboard in Chinese
PHONE = "+994511110055"  # the 360-pixel phone


@dataclass
class Served:
    env: dict[str, str]
    base: str
    database: str
    application: Application
    server: subprocess.Popen[bytes]
    log: BinaryIO

    def code_for(self, number: str) -> str:
        """The sign-in code from the development inbox, as a developer reads it (`topup inbox`)."""
        found = [
            n
            for n in notifications.inbox(self.application.uow(), number=number)
            if n.kind is NotificationKind.SIGN_IN_CODE
        ]
        assert found, f"no sign-in code was sent to {number}"
        return found[0].params["code"]

    def main_balance(self, number: str) -> int:
        return lines.balance(self.application.uow(), self.application.clock, number=number).main_qepik

    def artifact(self, filename: str) -> Path:
        """Where a test keeps a file for people to look at (screenshots, a process's log), per database."""
        folder = ARTIFACTS / self.database
        folder.mkdir(parents=True, exist_ok=True)
        return folder / filename

    def shot(self, page: Any, name: str) -> None:
        page.screenshot(path=str(self.artifact(f"{name}.png")), full_page=True)

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """The server stopped (as when `make run` is interrupted) for the block, then started again on its port
        and its database, as it was."""
        self.server.terminate()
        self.server.wait(timeout=30)
        try:
            yield
        finally:
            self.server = start_server(self.env, log=self.log)


@contextmanager
def _postgres_database() -> Iterator[str]:
    name = f"topup_browser_{os.getpid()}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {POSTGRES_URL}: {error}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}; PostgreSQL browser tests skipped")
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seed(application: Application) -> None:
    """Lines for the tests, and days of data use behind the dashboard's chart (through the charging service,
    with the clock set to each past day)."""
    uow, clock, codes = application.uow, application.clock, application.codes
    for number, language, qepik in (
        (SUBSCRIBER, "az", 2000),
        (BUYER, "en", 500),
        (WATCHER, "zh", 800),
        (PHONE, "en", 300),
    ):
        lines.provision_line(uow(), clock, number=number, language=language)
        topups.top_up(uow(), clock, codes, number=number, amount_qepik=qepik, channel="demo")
    bundles.buy_bundle(uow(), clock, codes, number=SUBSCRIBER, bundle_code="azercell-10gb-30d", channel="demo")
    bundles.buy_bundle(uow(), clock, codes, number=WATCHER, bundle_code="azercell-3gb-7d", channel="demo")
    now = clock.now()
    for days_ago, megabytes in enumerate((180, 420, 90, 650, 310, 0, 520, 240, 760, 130, 380, 560)):
        if megabytes:
            past = bootstrap(application.settings, clock=FixedClock(now - timedelta(days=days_ago, hours=1)))
            try:
                use_data(past, SUBSCRIBER, megabytes * 1_000)
            finally:
                past.close()
    use_data(application, WATCHER, 420_000)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with _serve(request.param, tmp_path_factory.mktemp(f"portal-{request.param}")) as served:
        yield served


@contextmanager
def _serve(database: str, tmp: Path) -> Iterator[Served]:
    settings: dict[str, str] = {"TOPUP_WORKER_IN_PROCESS": "false", "TOPUP_ORDER_NUMBER_DAILY_COUNT_MAX": "1000"}
    with ExitStack() as stack:
        if database == "postgresql":
            settings["TOPUP_DATABASE_URL"] = stack.enter_context(_postgres_database())
        env = served_environment(tmp, **settings)
        yield from _run(env, database)


def _run(env: dict[str, str], database: str) -> Iterator[Served]:
    cli(env, "db", "upgrade")
    cli(env, "catalogue", "load", str(SAMPLE_CATALOGUE))
    cli(env, "demo", "seed")
    cli(env, "fx", "set", "USD", "1.70")
    application = bootstrap(Settings(database_url=env["TOPUP_DATABASE_URL"], sandbox_enabled=False))
    _seed(application)
    log_path = Path(env["TOPUP_SANDBOX_DATABASE_PATH"]).with_name("server.log")
    with log_path.open("wb") as log:
        served = Served(env, env["TOPUP_PUBLIC_BASE_URL"], database, application, start_server(env, log=log), log)
        try:
            yield served
        finally:
            served.server.kill()
            served.server.wait(timeout=30)
            application.close()
            _keep_log(log_path, database)


def start_server(env: dict[str, str], *, log: BinaryIO) -> subprocess.Popen[bytes]:
    """`tests.e2e.serving.start_server`, keeping what the server prints (the portal logs its errors)."""
    server_env = {key: value for key, value in env.items() if key != "TOPUP_PUBLIC_BASE_URL"}
    server = subprocess.Popen([TOPUP, "serve", "--port", env["PORT"]], env=server_env, stdout=log, stderr=log)
    deadline = time.monotonic() + STARTUP_SECONDS_MAX
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{env['TOPUP_PUBLIC_BASE_URL']}/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.1)  # polling for the port to open, bounded by the deadline
    server.kill()
    pytest.fail("the server did not start")


def _keep_log(log_path: Path, database: str) -> None:
    """The server's own output (its errors, with tracebacks) next to the screenshots, for a failure in CI."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"server-{database}.log").write_bytes(log_path.read_bytes())


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI (.ci/run installs Debian's chromium package)")
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def fresh_page(chromium: Any, base: str, **options: Any) -> Iterator[Any]:
    """A page in a browser context of its own (no cookies), in English unless `options` say otherwise."""
    context = chromium.new_context(base_url=base, **{"locale": "en-US", **options})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(chromium: Any, served: Served) -> Iterator[Any]:
    """A fresh browser (no cookies) per test, in English, at a laptop's width."""
    with fresh_page(chromium, served.base, viewport={"width": 1280, "height": 900}, accept_downloads=True) as found:
        yield found
