"""Retail agents: float, credit, commission, sales, statements — through the ledger."""

from __future__ import annotations

import pytest

from tests.factories import make_line, snapshot
from topup.bootstrap import Application
from topup.domain.agents import (
    AgentExists,
    AgentKind,
    AgentNotActive,
    AgentStatus,
    CreditLimitBelowUse,
    FloatInsufficient,
    MovementKind,
    NotAKiosk,
)
from topup.domain.errors import InvalidInput, LineBarred
from topup.domain.lines import LineStatus
from topup.services import agents, ledger, lines


def new_agent(
    application: Application, *, kind: AgentKind = AgentKind.SHOP, verified: bool = True, licence: str = "SH-0001"
):  # type: ignore[no-untyped-def]
    return agents.register_agent(
        application.uow(),
        application.clock,
        name="Ülvi's shop",
        kind=kind,
        licence_number=licence,
        address="Nizami küç. 10, Bakı",
        verified=verified,
    )


def position(application: Application, agent_id: str) -> tuple[int, int, int, int]:
    held = agents.position(application.uow(), agent_id=agent_id)
    return (
        held.position.float_qepik,
        held.position.credit_available_qepik,
        held.position.credit_used_qepik,
        held.commission_qepik,
    )


def main_balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def sell(application: Application, agent_id: str, number: str, amount_qepik: int) -> agents.Sale:
    return agents.sell_top_up(
        application.uow(),
        application.clock,
        application.codes,
        agent_id=agent_id,
        number=number,
        amount_qepik=amount_qepik,
    )


def test_a_sale_takes_its_value_from_the_float_credits_the_line_and_earns_commission(
    application: Application,
) -> None:
    agent = new_agent(application)
    agents.set_commission_rate(
        application.uow(), application.clock, kind=AgentKind.SHOP, operator="azercell", rate_basis_points=250
    )
    agents.deposit(application.uow(), application.clock, agent_id=agent.id, amount_qepik=10_000)
    number = make_line(application).msisdn.e164

    sale = sell(application, agent.id, number, 1000)

    assert (sale.record.channel, sale.record.amount_qepik, sale.commission_qepik) == ("agent", 1000, 25)
    assert main_balance(application, number) == 1000
    assert position(application, agent.id) == (9000, 0, 0, 25)
    kinds = [m.kind for m in agents.statement(application.uow(), agent_id=agent.id)]
    assert kinds == [MovementKind.DEPOSIT, MovementKind.SALE, MovementKind.COMMISSION]
    assert ledger.audit_ledger(application.uow()).ok


def test_a_sale_the_float_cannot_cover_draws_on_credit_and_a_deposit_pays_it_back_first(
    application: Application,
) -> None:
    agent = new_agent(application)
    agents.set_credit_limit(application.uow(), application.clock, agent_id=agent.id, credit_limit_qepik=5000)
    agents.deposit(application.uow(), application.clock, agent_id=agent.id, amount_qepik=1000)
    number = make_line(application).msisdn.e164

    sell(application, agent.id, number, 3000)
    assert position(application, agent.id) == (0, 3000, 2000, 0)

    agents.deposit(application.uow(), application.clock, agent_id=agent.id, amount_qepik=2500)

    assert position(application, agent.id) == (500, 5000, 0, 0)
    sell(application, agent.id, number, 5000)  # the float's 5.00, then 45.00 of credit
    assert position(application, agent.id) == (0, 500, 4500, 0)
    with pytest.raises(CreditLimitBelowUse):  # 45.00 is used: the limit cannot go below that
        agents.set_credit_limit(application.uow(), application.clock, agent_id=agent.id, credit_limit_qepik=4000)
    agents.set_credit_limit(application.uow(), application.clock, agent_id=agent.id, credit_limit_qepik=4500)
    assert position(application, agent.id) == (0, 0, 4500, 0)
    assert ledger.audit_ledger(application.uow()).ok


def test_an_agent_is_never_overdrawn_and_a_refused_sale_changes_nothing(application: Application) -> None:
    agent = new_agent(application)
    agents.set_credit_limit(application.uow(), application.clock, agent_id=agent.id, credit_limit_qepik=500)
    agents.deposit(application.uow(), application.clock, agent_id=agent.id, amount_qepik=1000)
    number = make_line(application).msisdn.e164
    before = snapshot(application)

    with pytest.raises(FloatInsufficient):
        sell(application, agent.id, number, 1501)

    assert snapshot(application) == before
    assert position(application, agent.id) == (1000, 500, 0, 0)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"status": AgentStatus.SUSPENDED}, AgentNotActive),
        ({"status": AgentStatus.CLOSED}, AgentNotActive),
        ({"verified": False}, AgentNotActive),
    ],
)
def test_a_suspended_closed_or_unverified_agent_cannot_sell(
    application: Application, change: dict[str, object], error: type[Exception]
) -> None:
    agent = new_agent(application)
    agents.deposit(application.uow(), application.clock, agent_id=agent.id, amount_qepik=1000)
    agents.change_agent(application.uow(), application.clock, agent_id=agent.id, **change)  # type: ignore[arg-type]
    number = make_line(application).msisdn.e164
    before = snapshot(application)

    with pytest.raises(error):
        sell(application, agent.id, number, 500)

    assert snapshot(application) == before


def test_a_barred_line_is_refused_and_the_float_is_untouched(application: Application) -> None:
    agent = new_agent(application)
    agents.deposit(application.uow(), application.clock, agent_id=agent.id, amount_qepik=1000)
    number = make_line(application, status=LineStatus.BARRED).msisdn.e164

    with pytest.raises(LineBarred):
        sell(application, agent.id, number, 500)

    assert position(application, agent.id) == (1000, 0, 0, 0)


def test_a_bundle_sold_by_an_agent_is_paid_from_its_float(application: Application) -> None:
    agent = new_agent(application)
    agents.deposit(application.uow(), application.clock, agent_id=agent.id, amount_qepik=2000)
    number = make_line(application).msisdn.e164

    sale = agents.sell_bundle(
        application.uow(),
        application.clock,
        application.codes,
        agent_id=agent.id,
        number=number,
        bundle_code="azercell-1gb-1d",
    )

    assert (sale.record.kind, sale.record.amount_qepik) == ("bundle_purchase", 100)
    assert main_balance(application, number) == 0
    assert position(application, agent.id)[0] == 1900
    assert [b.bundle_code for b in lines.balance(application.uow(), application.clock, number=number).buckets] == [
        "azercell-1gb-1d"
    ]


def test_commission_is_paid_out_and_the_ledger_balances(application: Application) -> None:
    agent = new_agent(application)
    agents.set_commission_rate(
        application.uow(), application.clock, kind=AgentKind.SHOP, operator="azercell", rate_basis_points=300
    )
    agents.deposit(application.uow(), application.clock, agent_id=agent.id, amount_qepik=10_000)
    number = make_line(application).msisdn.e164
    for _ in range(3):
        sell(application, agent.id, number, 999)  # 29.97 qəpik each: 29, rounded down

    agents.pay_out_commission(application.uow(), application.clock, agent_id=agent.id)

    assert position(application, agent.id) == (10_000 - 2997, 0, 0, 0)
    payout = agents.statement(application.uow(), agent_id=agent.id)[-1]
    assert (payout.kind, payout.amount_qepik) == (MovementKind.COMMISSION_PAYOUT, -87)
    with pytest.raises(InvalidInput):
        agents.pay_out_commission(application.uow(), application.clock, agent_id=agent.id)
    assert ledger.audit_ledger(application.uow()).ok


def test_a_licence_number_is_registered_once(application: Application) -> None:
    new_agent(application, licence="sh-0001")

    with pytest.raises(AgentExists):
        new_agent(application, licence="SH-0001")


def test_a_kiosk_does_not_sell_from_a_float(application: Application) -> None:
    kiosk = new_agent(application, kind=AgentKind.KIOSK, licence="KI-0001")
    number = make_line(application).msisdn.e164

    with pytest.raises(NotAKiosk):
        sell(application, kiosk.id, number, 500)
