"""Races of the offline channels on PostgreSQL, threads released together: an agent's float is never overdrawn,
a PIN redeems once, a kiosk payment forwarded many times at once is credited once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.conftest import make_application
from tests.factories import make_line
from tests.services.test_concurrency_postgres import THREADS, together
from topup.adapters.clock import FixedClock
from topup.adapters.receipt_codes import HmacDigests
from topup.bootstrap import Application
from topup.domain.agents import AgentKind
from topup.domain.errors import DomainError
from topup.domain.kiosks import KioskPaymentState
from topup.services import agents, kiosks, ledger, lines, vouchers

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_application(postgres_url: str, clock: FixedClock) -> Iterator[Application]:
    application = make_application(postgres_url, clock)
    yield application
    application.close()


def _agent(application: Application, kind: AgentKind, licence: str) -> str:
    return agents.register_agent(
        application.uow(),
        application.clock,
        name=licence,
        kind=kind,
        licence_number=licence,
        address="Bakı",
        verified=True,
    ).id


def test_tills_selling_at_once_never_overdraw_the_float_and_credit(pg_application: Application) -> None:
    application = pg_application
    agent_id = _agent(application, AgentKind.SUPERMARKET, "SM-0001")
    agents.set_credit_limit(application.uow(), application.clock, agent_id=agent_id, credit_limit_qepik=1000)
    agents.deposit(application.uow(), application.clock, agent_id=agent_id, amount_qepik=2000)  # 30.00 in all
    numbers = [make_line(application).msisdn.e164 for _ in range(THREADS)]

    outcomes = together(
        lambda index: agents.sell_top_up(
            application.uow(),
            application.clock,
            application.codes,
            agent_id=agent_id,
            number=numbers[index],
            amount_qepik=1000,
        )
    )

    sold = [o for o in outcomes if not isinstance(o, DomainError)]
    refused = [o.code for o in outcomes if isinstance(o, DomainError)]
    assert len(sold) == 3
    assert refused == ["float_insufficient"] * (THREADS - 3)
    held = agents.position(application.uow(), agent_id=agent_id)
    assert (held.position.float_qepik, held.position.credit_available_qepik) == (0, 0)
    credited = sum(lines.balance(application.uow(), application.clock, number=n).main_qepik for n in numbers)
    assert credited == 3000
    assert ledger.audit_ledger(application.uow()).ok


def test_a_pin_redeemed_by_many_at_once_tops_up_one_line(pg_application: Application) -> None:
    application = pg_application
    cards = vouchers.Vouchers(application.clock, application.codes, HmacDigests(application.settings.secret_key))
    _, [card] = vouchers.generate(
        application.uow(), cards, operator="azercell", nominal_qepik=1000, count=1, actor="staff"
    )
    agent_id = _agent(application, AgentKind.SHOP, "SH-0002")
    vouchers.distribute(application.uow(), application.clock, serials=[card.serial], agent_id=agent_id, actor="staff")
    vouchers.activate(application.uow(), application.clock, serials=[card.serial], actor="staff")
    numbers = [make_line(application).msisdn.e164 for _ in range(THREADS)]

    outcomes = together(
        lambda index: vouchers.redeem(
            application.uow(), cards, pin=card.pin, number=numbers[index], client=f"api:{index}"
        )
    )

    redeemed = [o for o in outcomes if not isinstance(o, DomainError)]
    refused = [o.code for o in outcomes if isinstance(o, DomainError)]
    assert len(redeemed) == 1
    assert refused == ["voucher_already_redeemed"] * (THREADS - 1)
    credited = [lines.balance(application.uow(), application.clock, number=n).main_qepik for n in numbers]
    assert sorted(credited) == [0] * (THREADS - 1) + [1000]
    assert ledger.audit_ledger(application.uow()).ok


def test_a_kiosk_payment_forwarded_many_times_at_once_is_credited_once(pg_application: Application) -> None:
    application = pg_application
    kiosk_id = _agent(application, AgentKind.KIOSK, "KI-0003")
    number = make_line(application).msisdn.e164

    outcomes = together(
        lambda _: kiosks.accept_payment(
            application.uow(),
            application.clock,
            application.codes,
            kiosk_id=kiosk_id,
            local_id="k3-forward-0001",
            number=number,
            banknotes=[10, 10],
            paid_at=application.clock.now() - timedelta(minutes=40),
        )
    )

    assert not [o for o in outcomes if isinstance(o, DomainError)]
    assert {o.id for o in outcomes if not isinstance(o, DomainError)} == {outcomes[0].id}  # type: ignore[union-attr]
    assert {o.state for o in outcomes if not isinstance(o, DomainError)} == {KioskPaymentState.CREDITED}
    assert lines.balance(application.uow(), application.clock, number=number).main_qepik == 2000
    assert ledger.audit_ledger(application.uow()).ok
