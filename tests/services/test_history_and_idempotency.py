from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.factories import make_line, snapshot
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.errors import DomainError
from topup.services import history, ledger, topups
from topup.services.idempotency import idempotent_request, run_once
from topup.services.ports import StoredResponse


def test_history_pages_newest_first_with_filters(application: Application, clock: FixedClock) -> None:
    line = make_line(application)
    ids = []
    for amount_qepik in (100, 200, 300, 400, 500):
        clock.advance(timedelta(hours=1))
        record = topups.top_up(
            application.uow(),
            clock,
            application.codes,
            number=line.msisdn.e164,
            amount_qepik=amount_qepik,
            channel="api",
        )
        ids.append(record.id)

    pages, cursor = [], None
    while True:
        page = history.transactions(application.uow(), number=line.msisdn.e164, cursor=cursor, limit=2)
        pages.append([r.id for r in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]

    window = history.transactions(
        application.uow(),
        number=line.msisdn.e164,
        created_from=application.clock.now() - timedelta(hours=2, minutes=30),
        created_to=application.clock.now(),
    )
    assert [r.id for r in window.items] == [ids[3], ids[2]]
    assert history.transactions(application.uow(), number=line.msisdn.e164, kinds=["bundle_purchase"]).items == []


@pytest.mark.parametrize("cursor", ["nonsense", "MjAyNi0xMS0yMw", "fA"])
def test_a_forged_cursor_is_refused(application: Application, cursor: str) -> None:
    line = make_line(application)
    with pytest.raises(DomainError) as refused:
        history.transactions(application.uow(), number=line.msisdn.e164, cursor=cursor)
    assert refused.value.code == "invalid_cursor"


def test_a_receipt_carries_the_line_language_and_the_catalogue_names(application: Application) -> None:
    line = make_line(application, balance_qepik=500, language="ru")
    record = history.transactions(application.uow(), number=line.msisdn.e164).items[0]
    receipt = history.receipt(application.uow(), transaction_id=record.id)
    assert (receipt.language, receipt.operator.name, receipt.vat_rate_basis_points) == ("ru", "Azercell", 1800)
    assert receipt.record == record
    assert receipt.record.verification_code == application.codes.code_for(record.id)


def _top_up_once(application: Application, key: str, number: str, amount_qepik: int) -> tuple[StoredResponse, bool]:
    request = idempotent_request("scope", key, "POST", "/v1/topups", f"{number}:{amount_qepik}".encode())
    uow = application.uow()

    def operation() -> StoredResponse:
        record = topups.top_up(
            uow, application.clock, application.codes, number=number, amount_qepik=amount_qepik, channel="api"
        )
        return StoredResponse(201, record.id)

    return run_once(uow, application.clock, request, operation)


def test_the_same_key_replays_and_never_moves_money_twice(application: Application) -> None:
    line = make_line(application)
    first, replayed_first = _top_up_once(application, "k-1", line.msisdn.e164, 500)
    second, replayed_second = _top_up_once(application, "k-1", line.msisdn.e164, 500)
    assert (replayed_first, replayed_second) == (False, True)
    assert second == first
    assert history.transactions(application.uow(), number=line.msisdn.e164).items[0].balance_after_qepik == 500

    before = snapshot(application)
    with pytest.raises(DomainError) as reused:
        _top_up_once(application, "k-1", line.msisdn.e164, 700)
    assert reused.value.code == "idempotency_key_reused"
    assert snapshot(application) == before


def test_a_failed_request_leaves_its_key_free_for_a_retry(application: Application) -> None:
    line = make_line(application)
    with pytest.raises(DomainError):
        _top_up_once(application, "k-2", line.msisdn.e164, 99)  # below the minimum
    response, replayed = _top_up_once(application, "k-2", line.msisdn.e164, 99 + 1)
    assert (response.status_code, replayed) == (201, False)


def test_a_retry_replays_its_answer_even_when_the_request_would_now_be_refused(application: Application) -> None:
    line = make_line(application)
    first, _ = _top_up_once(application, "k-3", line.msisdn.e164, 500)
    with application.engine.begin() as connection:
        connection.execute(text("UPDATE lines SET status = 'barred' WHERE msisdn = :m"), {"m": line.msisdn.e164})

    again, replayed = _top_up_once(application, "k-3", line.msisdn.e164, 500)

    assert (again, replayed) == (first, True)
    with pytest.raises(DomainError) as refused:
        _top_up_once(application, "k-4", line.msisdn.e164, 500)
    assert refused.value.code == "line_barred"
    with pytest.raises(DomainError) as reused:  # another request under the key: refused as reused, not barred
        _top_up_once(application, "k-3", line.msisdn.e164, 700)
    assert reused.value.code == "idempotency_key_reused"


def test_the_ledger_audit_finds_a_balance_edited_behind_its_back(application: Application) -> None:
    line = make_line(application, balance_qepik=500)
    assert ledger.audit_ledger(application.uow()).ok
    with application.engine.begin() as connection:
        connection.execute(text("UPDATE accounts SET balance = 9999 WHERE id = :id"), {"id": line.main_account_id})
    audit = ledger.audit_ledger(application.uow())
    assert not audit.ok
    assert audit.balance_mismatches == [(line.main_account_id, 9999, 500)]


def test_the_database_refuses_a_negative_wallet_even_if_code_forgets(application: Application) -> None:
    line = make_line(application, balance_qepik=500)
    with pytest.raises(Exception, match=r"(?i)check"), application.engine.begin() as connection:
        connection.execute(text("UPDATE accounts SET balance = -1 WHERE id = :id"), {"id": line.main_account_id})
