"""Small builders shared by tests."""

from __future__ import annotations

import itertools

from topup.bootstrap import Application
from topup.domain.agents import AgentKind, AgentRole
from topup.domain.charging import Service
from topup.domain.lines import Line, LineStatus, LineType
from topup.services import agent_users, agents, bundles, charging, lines, topups, vouchers

_suffixes = itertools.count(1000000)


def new_number(prefix: str = "50") -> str:
    return f"+994{prefix}{next(_suffixes):07d}"


def make_line(
    application: Application,
    *,
    number: str | None = None,
    prefix: str = "50",
    balance_qepik: int = 0,
    line_type: LineType = LineType.PREPAID,
    status: LineStatus = LineStatus.ACTIVE,
    language: str = "az",
) -> Line:
    line = lines.provision_line(
        application.uow(),
        application.clock,
        number=number or new_number(prefix),
        line_type=line_type,
        status=status,
        language=language,
    )
    if balance_qepik:
        topups.top_up(
            application.uow(),
            application.clock,
            application.codes,
            number=line.msisdn.e164,
            amount_qepik=balance_qepik,
            channel="demo",
        )
    return line


def snapshot(application: Application) -> dict[str, object]:
    """Everything a failed request must leave as it was."""
    from sqlalchemy import text

    with application.engine.connect() as connection:
        return {
            "transfers": connection.execute(text("SELECT COUNT(*) FROM transfers")).scalar_one(),
            "transactions": connection.execute(text("SELECT COUNT(*) FROM ledger_transactions")).scalar_one(),
            "accounts": connection.execute(text("SELECT id, balance FROM accounts ORDER BY id")).all(),
            "lines": connection.execute(
                text("SELECT msisdn, operator, status, valid_until FROM lines ORDER BY msisdn")
            ).all(),
            "ports": connection.execute(text("SELECT msisdn, operator FROM number_ports ORDER BY msisdn")).all(),
        }


def buy_bundle(application: Application, number: str, code: str) -> None:
    """The line buys bundle `code` from its main balance."""
    bundles.buy_bundle(
        application.uow(), application.clock, application.codes, number=number, bundle_code=code, channel="api"
    )


def use_data(application: Application, number: str, used: int) -> dict[str, object]:
    """One data session that asks for `used` KB and uses them all; the final answer."""
    opened = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=used
    )
    return charging.terminate_session(
        application.uow(), application.charging, session_id=str(opened["session_id"]), request_number=1, used=used
    )


def cards_on_sale(
    application: Application,
    cards: vouchers.Vouchers,
    *,
    count: int = 3,
    operator: str = "azercell",
    nominal_qepik: int = 500,
) -> list[vouchers.PrintedCard]:
    """A printed batch handed to a street vendor and activated: cards a subscriber can redeem."""
    _, printed = vouchers.generate(
        application.uow(), cards, operator=operator, nominal_qepik=nominal_qepik, count=count, actor="staff"
    )
    vendor = agents.register_agent(
        application.uow(),
        application.clock,
        name="Kiosk at the metro",
        kind=AgentKind.STREET_VENDOR,
        licence_number=f"SV-{printed[0].serial}",
        address="28 May metro",
        verified=True,
    )
    serials = [card.serial for card in printed]
    vouchers.distribute(application.uow(), application.clock, serials=serials, agent_id=vendor.id, actor="staff")
    vouchers.activate(application.uow(), application.clock, serials=serials, actor="staff")
    return printed


def open_shop(
    application: Application,
    *,
    name: str,
    licence: str,
    address: str,
    username: str,
    password: str,
    float_qepik: int,
    credit_limit_qepik: int = 0,
    role: AgentRole = AgentRole.CASHIER,
) -> str:
    """A verified shop with its float, its credit line (if any) and one user at the till; returns the agent's id."""
    agent = agents.register_agent(
        application.uow(),
        application.clock,
        name=name,
        kind=AgentKind.SHOP,
        licence_number=licence,
        address=address,
        verified=True,
    )
    agents.deposit(application.uow(), application.clock, agent_id=agent.id, amount_qepik=float_qepik)
    if credit_limit_qepik:
        agents.set_credit_limit(
            application.uow(), application.clock, agent_id=agent.id, credit_limit_qepik=credit_limit_qepik
        )
    agent_users.add_user(
        application.uow(),
        application.agent_access,
        agent_id=agent.id,
        username=username,
        password=password,
        role=role,
    )
    return agent.id
