"""Cash kiosks, server side: the fee shown before confirming, forwarded payments credited exactly once,
refused ones kept for encashment, and encashment itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import make_line, snapshot
from topup.bootstrap import Application
from topup.domain.agents import AgentKind, AgentNotActive, AgentStatus, NotAKiosk
from topup.domain.kiosks import BanknoteRejected, KioskPaymentState, KioskReplayConflict
from topup.domain.lines import LineStatus
from topup.services import agents, kiosks, ledger, lines


@pytest.fixture
def kiosk_id(application: Application) -> str:
    kiosk = agents.register_agent(
        application.uow(),
        application.clock,
        name="Kiosk 12, Gənclik mall",
        kind=AgentKind.KIOSK,
        licence_number="KI-0012",
        address="Fətəli xan Xoyski 14, Bakı",
        verified=True,
    )
    agents.set_commission_rate(
        application.uow(), application.clock, kind=AgentKind.KIOSK, operator="azercell", rate_basis_points=200
    )
    return kiosk.id


def pay(application: Application, kiosk_id: str, local_id: str, number: str, banknotes: list[int]):  # type: ignore[no-untyped-def]
    return kiosks.accept_payment(
        application.uow(),
        application.clock,
        application.codes,
        kiosk_id=kiosk_id,
        local_id=local_id,
        number=number,
        banknotes=banknotes,
        paid_at=application.clock.now() - timedelta(minutes=3),
    )


def main_balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def test_the_fee_is_shown_before_confirming_and_the_rest_is_credited(application: Application, kiosk_id: str) -> None:
    number = make_line(application).msisdn.e164

    shown = kiosks.quote(application.uow(), kiosk_id=kiosk_id, number=number, inserted_qepik=1500)
    paid = pay(application, kiosk_id, "k12-000001", number, [10, 5])

    assert (shown.operator, shown.fee_qepik, shown.credited_qepik, shown.fee_basis_points) == (
        "azercell",
        30,
        1470,
        200,
    )
    assert (paid.state, paid.inserted_qepik, paid.fee_qepik, paid.credited_qepik) == (
        KioskPaymentState.CREDITED,
        1500,
        30,
        1470,
    )
    assert main_balance(application, number) == 1470
    assert agents.position(application.uow(), agent_id=kiosk_id).commission_qepik == 30
    assert ledger.audit_ledger(application.uow()).ok


def test_a_payment_forwarded_again_is_credited_once(application: Application, kiosk_id: str) -> None:
    number = make_line(application).msisdn.e164

    first = pay(application, kiosk_id, "k12-000002", number, [5])
    again = pay(application, kiosk_id, "k12-000002", number, [5])

    assert again == first
    assert main_balance(application, number) == 490


def test_a_replay_with_altered_figures_is_refused_and_changes_nothing(application: Application, kiosk_id: str) -> None:
    number = make_line(application).msisdn.e164
    pay(application, kiosk_id, "k12-000003", number, [5])
    before = snapshot(application)

    with pytest.raises(KioskReplayConflict):
        pay(application, kiosk_id, "k12-000003", number, [50])

    assert snapshot(application) == before


def test_an_unknown_banknote_is_rejected(application: Application, kiosk_id: str) -> None:
    number = make_line(application).msisdn.e164
    before = snapshot(application)

    with pytest.raises(BanknoteRejected):
        pay(application, kiosk_id, "k12-000004", number, [5, 200])

    assert snapshot(application) == before


def test_cash_for_a_line_that_cannot_take_it_is_kept_as_refused_for_encashment(
    application: Application, kiosk_id: str
) -> None:
    barred = make_line(application, status=LineStatus.BARRED).msisdn.e164
    number = make_line(application).msisdn.e164

    refused = pay(application, kiosk_id, "k12-000005", barred, [1])
    pay(application, kiosk_id, "k12-000006", number, [20])

    assert (refused.state, refused.failure_code, refused.credited_qepik) == (
        KioskPaymentState.REFUSED,
        "line_barred",
        0,
    )
    box = kiosks.encashment(application.uow(), kiosk_id=kiosk_id)
    assert (box.expected_qepik, [p.local_id for p in box.refused]) == (2100, ["k12-000005"])


def test_an_encashment_takes_every_payment_since_the_last_and_records_the_difference(
    application: Application, kiosk_id: str
) -> None:
    number = make_line(application).msisdn.e164
    pay(application, kiosk_id, "k12-000007", number, [20, 10])
    pay(application, kiosk_id, "k12-000008", number, [1])

    collected = kiosks.collect(
        application.uow(), application.clock, kiosk_id=kiosk_id, counted_qepik=3000, collected_by="Rauf (Inkassasiya)"
    )
    pay(application, kiosk_id, "k12-000009", number, [5])

    assert (collected.expected_qepik, collected.counted_qepik, collected.difference_qepik, collected.payments) == (
        3100,
        3000,
        -100,
        2,
    )
    assert kiosks.encashment(application.uow(), kiosk_id=kiosk_id).expected_qepik == 500
    assert [c.id for c in kiosks.collections(application.uow(), kiosk_id=kiosk_id)] == [collected.id]


def test_a_suspended_kiosks_payment_is_kept_as_refused(application: Application, kiosk_id: str) -> None:
    agents.change_agent(application.uow(), application.clock, agent_id=kiosk_id, status=AgentStatus.SUSPENDED)
    number = make_line(application).msisdn.e164

    refused = pay(application, kiosk_id, "k12-000010", number, [5])

    assert (refused.state, refused.failure_code) == (KioskPaymentState.REFUSED, AgentNotActive.code)
    assert main_balance(application, number) == 0


def test_a_shop_is_not_a_kiosk(application: Application) -> None:
    shop = agents.register_agent(
        application.uow(),
        application.clock,
        name="Shop",
        kind=AgentKind.SHOP,
        licence_number="SH-77",
        address="Bakı",
        verified=True,
    )
    number = make_line(application).msisdn.e164

    with pytest.raises(NotAKiosk):
        pay(application, shop.id, "k12-000011", number, [5])
