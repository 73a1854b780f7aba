"""Demo data for `make run`: lines of every operator (a ported number, a postpaid and a barred line) with a few
days of simulated use; a shop with a float, a credit line and two till users; a cash kiosk; and scratch cards
on sale at the shop, their PINs in an encrypted file with a known passphrase. Safe to run again: what exists is
left as it is."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from topup.adapters.clock import FixedClock
from topup.adapters.voucher_export import write_export
from topup.bootstrap import Application
from topup.domain.agents import AgentKind, AgentNotFound, AgentRole
from topup.domain.errors import LineNotFound
from topup.domain.lines import LineStatus, LineType
from topup.entrypoints import simulate
from topup.services import agent_users, agents, bundles, lines, numbers, topups, vouchers

HISTORY_DAYS = 3  # days of simulated use behind the demo lines, so the portal has something to show
SHOP_ID = "demomarket000000000000000000001"
KIOSK_ID = "demokiosk0000000000000000000001"
TILL_USERS = (("kassir", "kassir-demo-2026", AgentRole.CASHIER), ("menecer", "menecer-demo-2026", AgentRole.MANAGER))
CARDS_PASSPHRASE = "demo cards passphrase"  # noqa: S105 - the demo's, printed in the README
CARDS_PER_OPERATOR = 3


@dataclass(frozen=True)
class DemoLine:
    number: str
    language: str
    top_up_qepik: int = 0
    bundle: str | None = None
    line_type: LineType = LineType.PREPAID
    status: LineStatus = LineStatus.ACTIVE
    ported_to: str | None = None


DEMO_LINES = (
    DemoLine("+994501234567", "az", 2000, "azercell-10gb-30d"),
    DemoLine("+994511112233", "en", 500),
    DemoLine("+994552223344", "ru", 1500, "bakcell-5gb-30d"),
    DemoLine("+994702223344", "zh", 1000, "nar-3-5gb-14d"),
    DemoLine("+994774445566", "en", 300),
    DemoLine("+994503334455", "az", 1000, ported_to="bakcell"),  # an Azercell prefix now on Bakcell
    DemoLine("+994997778899", "az", line_type=LineType.POSTPAID),
    DemoLine("+994105556677", "ru", status=LineStatus.BARRED),
)


def seed(
    application: Application, *, progress: Callable[[str], None] = lambda _: None, cards_file: Path | None = None
) -> int:
    """Provision what the demo lacks; returns how many demo lines were added. With a FixedClock set
    `HISTORY_DAYS` ago (`simulate.start_clock`), the new lines also get that many days of simulated use."""
    added = [demo.number for demo in DEMO_LINES if _add_line(application, demo, progress)]
    if added and isinstance(application.clock, FixedClock):
        prepaid = [
            d.number
            for d in DEMO_LINES
            if d.number in added and d.line_type is LineType.PREPAID and d.status is LineStatus.ACTIVE
        ]
        simulate.simulate(application, line_count=len(prepaid), days=HISTORY_DAYS, numbers=prepaid)
    _seed_offline_channels(application, cards_file)
    return len(added)


def _add_line(application: Application, demo: DemoLine, progress: Callable[[str], None]) -> bool:
    progress(demo.number)
    clock, codes = application.clock, application.codes
    try:
        lines.get_line(application.uow(), number=demo.number)
        return False
    except LineNotFound:
        pass
    if demo.ported_to:
        numbers.add_port(application.uow(), clock, number=demo.number, operator=demo.ported_to)
    lines.provision_line(
        application.uow(),
        clock,
        number=demo.number,
        line_type=demo.line_type,
        language=demo.language,
        status=demo.status,
    )
    if demo.top_up_qepik:
        topups.top_up(
            application.uow(), clock, codes, number=demo.number, amount_qepik=demo.top_up_qepik, channel="demo"
        )
    if demo.bundle:
        bundles.buy_bundle(application.uow(), clock, codes, number=demo.number, bundle_code=demo.bundle, channel="demo")
    return True


def _seed_offline_channels(application: Application, cards_file: Path | None) -> None:
    """The shop, the kiosk, their commission rates, the till users and the scratch cards (once)."""
    uow, clock = application.uow, application.clock
    with contextlib.suppress(AgentNotFound):
        agents.get_agent(uow(), agent_id=SHOP_ID)
        return
    for kind, percent_bp in ((AgentKind.SHOP, 200), (AgentKind.KIOSK, 100)):
        for operator in ("azercell", "bakcell", "nar"):
            agents.set_commission_rate(uow(), clock, kind=kind, operator=operator, rate_basis_points=percent_bp)
    agents.register_agent(
        uow(),
        clock,
        name="Demo market",
        kind=AgentKind.SHOP,
        licence_number="DEMO-SHOP-1",
        address="Nizami küç. 10, Bakı",
        verified=True,
        agent_id=SHOP_ID,
    )
    agents.deposit(uow(), clock, agent_id=SHOP_ID, amount_qepik=20_000, note="demo float")
    agents.set_credit_limit(uow(), clock, agent_id=SHOP_ID, credit_limit_qepik=5_000)
    for username, password, role in TILL_USERS:
        agent_users.add_user(
            uow(), application.agent_access, agent_id=SHOP_ID, username=username, password=password, role=role
        )
    agents.register_agent(
        uow(),
        clock,
        name="Demo kiosk, 28 May metro",
        kind=AgentKind.KIOSK,
        licence_number="DEMO-KIOSK-1",
        address="28 May metro station, Bakı",
        verified=True,
        agent_id=KIOSK_ID,
    )
    printed = []
    for operator in ("azercell", "bakcell", "nar"):
        _, cards = vouchers.generate(
            uow(), application.vouchers, operator=operator, nominal_qepik=500, count=CARDS_PER_OPERATOR, actor="demo"
        )
        serials = [card.serial for card in cards]
        vouchers.distribute(uow(), clock, serials=serials, agent_id=SHOP_ID, actor="demo")
        vouchers.activate(uow(), clock, serials=serials, actor="demo")
        printed += cards
    target = cards_file or Path(application.settings.sandbox_database_path).parent / "demo-cards.topupvx"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_export(target, printed, CARDS_PASSPHRASE)
