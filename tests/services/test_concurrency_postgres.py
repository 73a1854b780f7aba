"""Real concurrency on PostgreSQL: threads released together by a barrier, each with its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from tests.conftest import make_application
from tests.factories import buy_bundle, make_line
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.errors import DomainError
from topup.services import history, ledger, lines, topups
from topup.services.idempotency import idempotent_request, run_once
from topup.services.ports import StoredResponse

THREADS = 8
Result = TypeVar("Result")


@pytest.fixture
def pg_application(postgres_url: str, clock: FixedClock) -> Application:
    application = make_application(postgres_url, clock)
    yield application  # type: ignore[misc]
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


def test_a_line_with_money_for_n_bundles_sells_exactly_n(pg_application: Application) -> None:
    application = pg_application
    line = make_line(application, prefix="70", balance_qepik=3 * 677 + 500)  # three 3.5 GB packs and change

    outcomes = together(lambda _: buy_bundle(application, line.msisdn.e164, "nar-3-5gb-14d"))

    sold = [o for o in outcomes if not isinstance(o, DomainError)]
    refused = [o.code for o in outcomes if isinstance(o, DomainError)]
    assert len(sold) == 3
    assert refused == ["insufficient_balance"] * (THREADS - 3)
    assert lines.balance(application.uow(), application.clock, number=line.msisdn.e164).main_qepik == 500
    assert ledger.audit_ledger(application.uow()).ok


def test_concurrent_duplicates_with_one_key_move_money_once(pg_application: Application) -> None:
    application = pg_application
    line = make_line(application)
    request = idempotent_request("scope", "same-key", "POST", "/v1/topups", b"500")

    def attempt(_: int) -> tuple[StoredResponse, bool]:
        uow = application.uow()

        def operation() -> StoredResponse:
            record = topups.top_up(
                uow, application.clock, application.codes, number=line.msisdn.e164, amount_qepik=500, channel="api"
            )
            return StoredResponse(201, record.id)

        return run_once(uow, application.clock, request, operation)

    outcomes = together(attempt)

    assert all(not isinstance(o, DomainError) for o in outcomes)
    responses = {o[0] for o in outcomes if not isinstance(o, DomainError)}
    replays = sorted(o[1] for o in outcomes if not isinstance(o, DomainError))
    assert len(responses) == 1
    assert replays == [False] + [True] * (THREADS - 1)
    assert len(history.transactions(application.uow(), number=line.msisdn.e164).items) == 1
    assert lines.balance(application.uow(), application.clock, number=line.msisdn.e164).main_qepik == 500


def test_top_ups_to_different_lines_run_side_by_side(pg_application: Application) -> None:
    application = pg_application
    numbers = [make_line(application).msisdn.e164 for _ in range(THREADS)]

    def top_up_many(index: int) -> int:
        for _ in range(10):
            topups.top_up(
                application.uow(),
                application.clock,
                application.codes,
                number=numbers[index],
                amount_qepik=100,
                channel="api",
            )
        return index

    assert together(top_up_many) == list(range(THREADS))
    balances = [lines.balance(application.uow(), application.clock, number=n).main_qepik for n in numbers]
    assert balances == [1000] * THREADS
    audit = ledger.audit_ledger(application.uow())
    assert audit.ok
    assert next(t for t in audit.totals if t.unit.value == "qepik").credits == 1000 * THREADS


def test_several_workers_expire_and_renew_each_bundle_once(pg_application: Application, clock: FixedClock) -> None:
    from datetime import timedelta

    from sqlalchemy import text

    from topup.domain.lifecycle import RenewalState
    from topup.services import lifecycle

    application = pg_application
    numbers = [make_line(application, balance_qepik=3000).msisdn.e164 for _ in range(6)]
    for number in numbers:
        buy_bundle(application, number, "azercell-10gb-30d")
    clock.advance(timedelta(days=30, seconds=1))

    settled = together(lambda _: lifecycle.expire_bundles(application.uow(), application.lifecycle, limit=4), count=4)
    while lifecycle.expire_bundles(application.uow(), application.lifecycle, limit=4):
        pass
    together(lambda _: lifecycle.renew_due(application.uow(), application.lifecycle, limit=4), count=4)
    while lifecycle.renew_due(application.uow(), application.lifecycle, limit=4):
        pass

    assert sum(s for s in settled if isinstance(s, int)) <= len(numbers)
    with application.engine.connect() as connection:
        expiries = connection.execute(text("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'expiry'")).scalar()
        renewed = connection.execute(
            text("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'bundle_purchase' AND channel = 'auto'")
        ).scalar()
    assert (expiries, renewed) == (len(numbers), len(numbers))
    for number in numbers:
        [renewal] = lifecycle.renewals(application.uow(), number=number)
        assert renewal.state is RenewalState.RENEWED
        assert lines.balance(application.uow(), application.clock, number=number).main_qepik == 0
    assert ledger.audit_ledger(application.uow()).ok
