"""The kiosk terminal against the real server over HTTP on loopback: payments taken while the server is stopped
are kept in the kiosk's durable queue and credited exactly once when it is back, also when a forward is
interrupted after the server acted on it; and the touch pages walk a customer through a payment."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_line
from tests.loopback import LoopbackServer
from topup.adapters.clock import FixedClock
from topup.adapters.kiosk.bill_acceptor import SimulatedBillAcceptor
from topup.adapters.kiosk.server_client import HttpKioskServer
from topup.adapters.kiosk.store import SqliteTerminalStore
from topup.bootstrap import Application
from topup.domain.agents import AgentKind
from topup.domain.kiosk_terminal import ForwardState, QueuedPayment
from topup.entrypoints.api.app import create_app
from topup.entrypoints.kiosk.app import create_kiosk_app
from topup.services import agents, api_keys, kiosk_terminal, kiosks, lines
from topup.services.kiosk_terminal import ServerAnswer, ServerUnreachable, Terminal

pytestmark = pytest.mark.e2e


@dataclass
class Kiosk:
    terminal: Terminal
    server: LoopbackServer
    kiosk_id: str


@pytest.fixture
def kiosk(application: Application, clock: FixedClock, tmp_path: Path) -> Iterator[Kiosk]:
    registered = agents.register_agent(
        application.uow(),
        clock,
        name="Kiosk 3, 28 May",
        kind=AgentKind.KIOSK,
        licence_number="KI-0003",
        address="28 May metro",
        verified=True,
    )
    agents.set_commission_rate(
        application.uow(), clock, kind=AgentKind.KIOSK, operator="azercell", rate_basis_points=100
    )
    key = api_keys.create_api_key(application.uow(), clock, name="kiosk 3", role="kiosk", agent_id=registered.id)[1]
    server = LoopbackServer(lambda _base: create_app(application)).start()
    client = HttpKioskServer(server.base_url, api_key=key, timeout_seconds=5)
    terminal = Terminal(clock, SqliteTerminalStore(tmp_path / "kiosk.db"), SimulatedBillAcceptor(), client)
    yield Kiosk(terminal, server, registered.id)
    client.close()
    if server.running:
        server.stop()


def balance(application: Application, number: str) -> int:
    return lines.balance(application.uow(), application.clock, number=number).main_qepik


def take_payment(terminal: Terminal, number: str, notes: list[int]) -> QueuedPayment:
    visit = kiosk_terminal.start_visit(terminal, number=number, language="az")
    for note in notes:
        kiosk_terminal.insert(terminal, visit_id=visit.id, note_azn=note)
    return kiosk_terminal.pay(terminal, visit_id=visit.id)


def test_online_a_payment_is_credited_at_once_with_a_verification_code(application: Application, kiosk: Kiosk) -> None:
    number = make_line(application).msisdn.e164

    paid = take_payment(kiosk.terminal, number, [10, 5])

    assert (paid.state, paid.credited_qepik, paid.attempts) == (ForwardState.CREDITED, 1485, 1)
    assert paid.verification_code is not None
    assert len(paid.verification_code) == 11
    assert balance(application, number) == 1485


def test_offline_payments_wait_in_the_queue_and_are_credited_once_when_the_server_is_back(
    application: Application, kiosk: Kiosk
) -> None:
    number = make_line(application).msisdn.e164
    take_payment(kiosk.terminal, number, [5])  # online once: the kiosk learns the fee and the minimum
    kiosk.server.stop()

    first = take_payment(kiosk.terminal, number, [20])
    second = take_payment(kiosk.terminal, number, [5, 5])

    assert (first.state, second.state) == (ForwardState.QUEUED, ForwardState.QUEUED)
    assert kiosk_terminal.forward_pending(kiosk.terminal) == 0
    assert balance(application, number) == 495

    kiosk.server.start()
    assert kiosk_terminal.forward_pending(kiosk.terminal) == 2
    assert kiosk_terminal.forward_pending(kiosk.terminal) == 0

    assert balance(application, number) == 495 + 1980 + 990
    stored = [kiosk_terminal.payment_of(kiosk.terminal, local_id=p.local_id) for p in (first, second)]
    assert [(p.state, p.credited_qepik) for p in stored] == [
        (ForwardState.CREDITED, 1980),
        (ForwardState.CREDITED, 990),
    ]
    assert kiosks.encashment(application.uow(), kiosk_id=kiosk.kiosk_id).expected_qepik == 3500


class LosesTheAnswerOnce:
    """The server acts on the forward, then the connection drops before its answer reaches the kiosk."""

    def __init__(self, real: HttpKioskServer) -> None:
        self.real = real
        self.lost = False

    def quote(self, *, number: str, inserted_qepik: int):  # type: ignore[no-untyped-def]
        return self.real.quote(number=number, inserted_qepik=inserted_qepik)

    def forward(self, payment: QueuedPayment) -> ServerAnswer:
        answer = self.real.forward(payment)
        if not self.lost:
            self.lost = True
            raise ServerUnreachable("connection reset by peer")
        return answer


def test_a_forward_interrupted_after_the_server_acted_is_credited_once(application: Application, kiosk: Kiosk) -> None:
    number = make_line(application).msisdn.e164
    flaky = LosesTheAnswerOnce(kiosk.terminal.server)  # type: ignore[arg-type]
    terminal = Terminal(kiosk.terminal.clock, kiosk.terminal.store, kiosk.terminal.acceptor, flaky)

    paid = take_payment(terminal, number, [50])

    assert paid.state is ForwardState.QUEUED  # the kiosk never heard back
    assert balance(application, number) == 4950  # but the server credited it
    assert kiosk_terminal.forward_pending(terminal) == 1
    again = kiosk_terminal.payment_of(terminal, local_id=paid.local_id)
    assert (again.state, again.attempts) == (ForwardState.CREDITED, 2)
    assert balance(application, number) == 4950


def test_cash_left_without_pressing_pay_is_paid_in_for_the_customer(
    application: Application, kiosk: Kiosk, clock: FixedClock
) -> None:
    number = make_line(application).msisdn.e164
    visit = kiosk_terminal.start_visit(kiosk.terminal, number=number, language="en")
    kiosk_terminal.insert(kiosk.terminal, visit_id=visit.id, note_azn=5)

    clock.advance(timedelta(minutes=11))
    kiosk_terminal.forward_pending(kiosk.terminal)

    assert kiosk_terminal.payment_of(kiosk.terminal, local_id=visit.id).state is ForwardState.CREDITED
    assert balance(application, number) == 495


def test_the_touch_pages_take_a_customer_from_the_number_to_the_receipt(application: Application, kiosk: Kiosk) -> None:
    line = make_line(application, language="ru")
    digits = line.msisdn.national.replace(" ", "")
    with TestClient(create_kiosk_app(kiosk.terminal, forward_every_seconds=3600)) as screen:
        assert "Пополните мобильный номер" in screen.get("/?lang=ru").text
        page = screen.get(f"/number?lang=ru&prefix={digits[:3]}")
        assert digits[:3] in page.text
        typed = digits[:3]
        for key in digits[3:]:  # the page keeps what is typed in the form: the kiosk keeps no state per key
            page = screen.post("/number", data={"lang": "ru", "typed": typed, "key": key})
            typed += key
        assert line.msisdn.national in page.text
        erased = screen.post("/number", data={"lang": "ru", "typed": typed, "key": "erase"})
        assert f'value="{typed[:-1]}"' in erased.text
        confirm = screen.post("/number", data={"lang": "ru", "typed": digits, "key": "next"}, follow_redirects=False)
        visit_path = confirm.headers["location"].split("?")[0]
        assert "Azercell" in screen.get(confirm.headers["location"]).text
        cash = screen.get(f"{visit_path}/cash?lang=ru")
        assert "disabled>Оплатить" in cash.text.replace("\n", "")
        rejected = screen.post(f"{visit_path}/notes", data={"note": "200", "lang": "ru"})
        assert "Купюра не распознана и возвращена." in rejected.text
        screen.post(f"{visit_path}/notes", data={"note": "10", "lang": "ru"})
        receipt = screen.post(f"{visit_path}/pay", data={"lang": "ru"})
        again = screen.post(f"{visit_path}/pay", data={"lang": "ru"})

    assert receipt.status_code == 200
    assert "зачислено на баланс номера" in receipt.text
    assert again.text == receipt.text  # a second tap on "Pay" shows the same receipt: nothing paid twice
    assert balance(application, line.msisdn.e164) == 990
