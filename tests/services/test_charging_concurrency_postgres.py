"""Online charging under real concurrency on PostgreSQL: threads released together by a barrier, each with its own
connection. A line's balance is never promised twice, and every qəpik is either on the line, on hold or charged."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from tests.conftest import START, make_application
from tests.factories import make_line
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.charging import Service
from topup.domain.errors import DomainError
from topup.domain.ledger import Unit
from topup.domain.lines import Line
from topup.services import bundles, charging, history, ledger, lines
from topup.services.charging import RESERVED_ACCOUNT

THREADS = 32
START_QEPIK = 1000  # 10.00 AZN
REQUESTED_KB = 5000  # 50 qəpik at 1 qəpik per 100 KB: more than a 32nd of the balance, so not all can be served
STEP_KB = 100
Result = TypeVar("Result")


@pytest.fixture
def pg_application(postgres_url: str, clock: FixedClock) -> Iterator[Application]:
    application = make_application(postgres_url, clock)
    yield application
    application.close()


def together(task: Callable[[int], Result], count: int = THREADS) -> list[Result | DomainError]:
    barrier = threading.Barrier(count)

    def run(index: int) -> Result | DomainError:
        barrier.wait()
        try:
            return task(index)
        except DomainError as error:
            return error

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


class MoneyWatcher:
    """Samples, in one statement (one snapshot), the line's main balance, the money on hold for the operator and
    the money charged from holds so far, while the threads run."""

    QUERY = text(
        """
        WITH reserved AS (SELECT id FROM accounts WHERE code = :reserved)
        SELECT
            (SELECT balance FROM accounts WHERE id = :main),
            COALESCE((SELECT SUM(CASE WHEN t.credit_account_id = r.id THEN t.amount ELSE -t.amount END)
                      FROM transfers t JOIN reserved r ON r.id IN (t.credit_account_id, t.debit_account_id)), 0),
            COALESCE((SELECT SUM(t.amount) FROM transfers t JOIN reserved r ON t.debit_account_id = r.id
                      WHERE t.credit_account_id <> :main), 0)
        """
    )

    def __init__(self, application: Application, main_account_id: int, operator: str) -> None:
        self._application = application
        self._params = {
            "main": main_account_id,
            "reserved": RESERVED_ACCOUNT.format(operator=operator, unit=Unit.QEPIK),
        }
        self.samples: list[tuple[int, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> tuple[int, int, int]:
        with self._application.engine.connect() as connection:
            main, held, charged = connection.execute(self.QUERY, self._params).one()
        return int(main), int(held), int(charged)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.sample())

    def __enter__(self) -> MoneyWatcher:
        self._thread.start()
        return self

    def __exit__(self, *args: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.samples.append(self.sample())


def watcher_for(application: Application, line: Line) -> MoneyWatcher:
    return MoneyWatcher(application, line.main_account_id, line.operator)


def price(used_kb: int) -> int:
    return -(-used_kb // STEP_KB)  # whole 100 KB steps, a qəpik each


def test_a_line_is_never_promised_more_than_its_balance(pg_application: Application) -> None:
    application = pg_application
    line = make_line(application, balance_qepik=START_QEPIK)
    number = line.msisdn.e164
    with watcher_for(application, line) as watcher:
        opened = together(
            lambda _: charging.open_session(
                application.uow(), application.charging, number=number, service=Service.DATA, requested=REQUESTED_KB
            )
        )

    grants = [o for o in opened if not isinstance(o, DomainError)]
    refused = [o.code for o in opened if isinstance(o, DomainError)]
    affordable = START_QEPIK // price(REQUESTED_KB)
    assert [g["granted_units"] for g in grants] == [REQUESTED_KB] * affordable
    assert refused == ["no_balance"] * (THREADS - affordable)
    held_qepik = sum(price(g["granted_units"]) for g in grants)
    assert held_qepik <= START_QEPIK
    main_now = lines.balance(application.uow(), application.clock, number=number).main_qepik
    assert main_now == START_QEPIK - held_qepik == 0
    assert len(watcher.samples) > 1
    for main, held, charged_so_far in watcher.samples:
        assert main >= 0
        assert 0 <= held <= START_QEPIK
        assert (main + held, charged_so_far) == (START_QEPIK, 0)

    dice = random.Random(20261123)
    used = [dice.randint(0, REQUESTED_KB) for _ in grants]

    with watcher_for(application, line) as watcher:
        ended = together(
            lambda index: charging.terminate_session(
                application.uow(),
                application.charging,
                session_id=grants[index]["session_id"],
                request_number=1,
                used=used[index],
            ),
            count=len(grants),
        )

    assert all(not isinstance(e, DomainError) for e in ended), ended
    charged = [e["charged_qepik"] for e in ended if not isinstance(e, DomainError)]
    assert charged == [price(u) for u in used]
    assert [e["state"] for e in ended if not isinstance(e, DomainError)] == ["terminated"] * len(grants)
    final = lines.balance(application.uow(), application.clock, number=number).main_qepik
    assert final == START_QEPIK - sum(charged)
    assert watcher.samples[-1] == (final, 0, sum(charged))
    for main, held, charged_so_far in watcher.samples:
        assert main >= 0
        assert 0 <= held <= START_QEPIK
        assert main + held + charged_so_far == START_QEPIK
    usage = history.transactions(application.uow(), number=number, kinds=["usage"]).items
    assert sorted(r.amount_qepik for r in usage) == sorted(charged)
    audit = ledger.audit_ledger(application.uow())
    assert audit.ok, audit


def test_sessions_opening_and_ending_at_once_keep_every_qepik(pg_application: Application) -> None:
    """Half the threads end sessions opened before, half open new ones, on the same line at the same moment: the
    new ones may use money the old ones give back, never more."""
    application = pg_application
    line = make_line(application, balance_qepik=START_QEPIK)
    number = line.msisdn.e164
    half = THREADS // 2
    first = [
        charging.open_session(
            application.uow(), application.charging, number=number, service=Service.DATA, requested=3000
        )
        for _ in range(half)
    ]
    assert [f["granted_units"] for f in first] == [3000] * half  # 16 x 30 qəpik held, 5.20 AZN left

    def step(index: int) -> dict[str, Any]:
        if index < half:
            return charging.terminate_session(
                application.uow(),
                application.charging,
                session_id=first[index]["session_id"],
                request_number=1,
                used=1500,
            )
        return charging.open_session(
            application.uow(), application.charging, number=number, service=Service.DATA, requested=REQUESTED_KB
        )

    with watcher_for(application, line) as watcher:
        outcomes = together(step)

    ends, opens = outcomes[:half], outcomes[half:]
    assert [e["charged_qepik"] for e in ends if not isinstance(e, DomainError)] == [15] * half
    assert {o.code for o in opens if isinstance(o, DomainError)} <= {"no_balance"}
    new_grants = [o["granted_units"] for o in opens if not isinstance(o, DomainError)]
    assert all(0 < units <= REQUESTED_KB and units % STEP_KB == 0 for units in new_grants)
    still_held = sum(price(units) for units in new_grants)
    assert still_held <= START_QEPIK - 15 * half
    final = lines.balance(application.uow(), application.clock, number=number).main_qepik
    assert final == START_QEPIK - 15 * half - still_held >= 0
    assert watcher.samples[-1] == (final, still_held, 15 * half)
    for main, held, charged_so_far in watcher.samples:
        assert main >= 0
        assert main + held + charged_so_far == START_QEPIK
    assert ledger.audit_ledger(application.uow()).ok


def test_retries_of_one_request_number_reserve_and_charge_once(pg_application: Application) -> None:
    application = pg_application
    line = make_line(application, balance_qepik=START_QEPIK)
    number = line.msisdn.e164
    session_id = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=1000
    )["session_id"]

    updates = together(
        lambda _: charging.update_session(
            application.uow(),
            application.charging,
            session_id=session_id,
            request_number=1,
            used=400,
            requested=2000,
        ),
        count=8,
    )
    assert all(not isinstance(u, DomainError) for u in updates), updates
    assert len({repr(sorted(u.items())) for u in updates if not isinstance(u, DomainError)}) == 1
    assert lines.balance(application.uow(), application.clock, number=number).main_qepik == START_QEPIK - 30

    ends = together(
        lambda _: charging.terminate_session(
            application.uow(), application.charging, session_id=session_id, request_number=2, used=350
        ),
        count=8,
    )
    assert all(not isinstance(e, DomainError) for e in ends), ends
    assert len({repr(sorted(e.items())) for e in ends if not isinstance(e, DomainError)}) == 1
    assert lines.balance(application.uow(), application.clock, number=number).main_qepik == START_QEPIK - 8
    assert len(history.transactions(application.uow(), number=number, kinds=["usage"]).items) == 1
    assert ledger.audit_ledger(application.uow()).ok


def test_the_worker_and_the_network_ending_a_session_at_once_charge_it_once(
    pg_application: Application, clock: FixedClock
) -> None:
    application = pg_application
    line = make_line(application, balance_qepik=START_QEPIK)
    number = line.msisdn.e164
    sessions = [
        charging.open_session(
            application.uow(), application.charging, number=number, service=Service.DATA, requested=1000
        )["session_id"]
        for _ in range(8)
    ]
    for session_id in sessions:
        charging.update_session(
            application.uow(), application.charging, session_id=session_id, request_number=1, used=250
        )
    clock.advance(application.charging.validity)

    def step(index: int) -> int | dict[str, Any]:
        if index % 2:
            return charging.end_expired(application.uow(), application.charging)
        return charging.terminate_session(
            application.uow(), application.charging, session_id=sessions[index // 2], request_number=2, used=0
        )

    outcomes = together(step, count=len(sessions))

    assert all(not isinstance(o, DomainError) for o in outcomes), outcomes
    final = [charging.get_session(application.uow(), session_id=s) for s in sessions]
    assert [(f["state"], f["charged_qepik"]) for f in final] == [("terminated", 3)] * len(sessions)
    assert lines.balance(application.uow(), application.clock, number=number).main_qepik == START_QEPIK - 3 * 8
    assert len(history.transactions(application.uow(), number=number, kinds=["usage"]).items) == len(sessions)
    assert ledger.audit_ledger(application.uow()).ok


def test_an_update_landing_while_the_worker_looks_keeps_the_session_open(
    pg_application: Application, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker lists expired sessions, then ends them one by one under their row lock. An update that lands
    in between refreshes the session; under the lock the worker must see that and leave it alone (only
    PostgreSQL can interleave them: on SQLite the worker's unit of work holds the write lock from its start)."""
    application = pg_application
    line = make_line(application, balance_qepik=START_QEPIK)
    number = line.msisdn.e164
    session_id = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=1000
    )["session_id"]
    clock.advance(application.charging.validity)
    original = charging._locked
    landed: list[dict[str, Any]] = []

    def update_lands_first(uow: Any, locked_id: str) -> Any:
        if threading.current_thread().name != "network" and not landed:
            network = threading.Thread(
                target=lambda: landed.append(
                    charging.update_session(
                        application.uow(), application.charging, session_id=session_id, request_number=1, used=100
                    )
                ),
                name="network",
            )
            network.start()
            network.join(timeout=30)
        return original(uow, locked_id)

    monkeypatch.setattr(charging, "_locked", update_lands_first)
    charging.end_expired(application.uow(), application.charging)
    monkeypatch.setattr(charging, "_locked", original)

    assert len(landed) == 1
    assert landed[0]["expires_at"] == (START + 2 * application.charging.validity).isoformat()
    shown = charging.get_session(application.uow(), session_id=session_id)
    assert (shown["state"], shown["request_number"], shown["used_units"]) == ("open", 1, 100)
    assert lines.balance(application.uow(), application.clock, number=number).main_qepik == START_QEPIK - 10


def test_held_money_cannot_also_pay_for_a_bundle(pg_application: Application) -> None:
    """A bundle bought while SMS sessions reserve on the same line: either the bundle is paid first and the
    sessions share what is left, or the holds came first and the bundle is refused. Never both."""
    application = pg_application
    line = make_line(application, balance_qepik=600)
    number = line.msisdn.e164

    def step(index: int) -> Any:
        if index == 0:
            return bundles.buy_bundle(
                application.uow(),
                application.clock,
                application.codes,
                number=number,
                bundle_code="azercell-3gb-7d",  # 5.00 AZN, data only
                channel="api",
            )
        return charging.open_session(
            application.uow(), application.charging, number=number, service=Service.SMS, requested=5
        )

    outcomes = together(step, count=8)

    purchase, opened = outcomes[0], outcomes[1:]
    bought = not isinstance(purchase, DomainError)
    if isinstance(purchase, DomainError):
        assert purchase.code == "insufficient_balance"
    assert {o.code for o in opened if isinstance(o, DomainError)} <= {"no_balance"}
    held = sum(5 * o["granted_units"] for o in opened if not isinstance(o, DomainError))
    main_now = lines.balance(application.uow(), application.clock, number=number).main_qepik
    assert main_now == 600 - (500 if bought else 0) - held >= 0
    if not bought:
        assert held > 100  # refused only because more than 1.00 AZN was already on hold
    assert ledger.audit_ledger(application.uow()).ok
