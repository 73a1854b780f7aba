"""Writes held back for the next statement (PostgreSQL) behave as if executed at once (as on SQLite)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from tests.factories import make_line
from topup.bootstrap import Application
from topup.domain.notifications import Notification, NotificationKind
from topup.services import lines
from topup.services.ports import IdempotentRequest, StoredResponse


def _notification(application: Application, msisdn: str, key: str) -> Notification:
    return Notification(
        id=f"n{key}",
        msisdn=msisdn,
        kind=NotificationKind.TOPUP_DONE,
        dedupe_key=f"topup_done:{key}",
        language="az",
        params={},
        created_at=application.clock.now(),
    )


def _notifications(application: Application, *, msisdn: str) -> list[str]:
    with application.engine.connect() as connection:
        rows = connection.execute(text("SELECT dedupe_key FROM notifications WHERE msisdn = :m"), {"m": msisdn})
        return sorted(row.dedupe_key for row in rows)


def test_a_held_back_write_is_seen_by_the_next_read_and_goes_with_a_rollback(application: Application) -> None:
    line = make_line(application)
    later = date(2027, 1, 31)
    uow = application.uow()

    with uow:
        uow.lines.set_valid_until(line.msisdn, later, now=application.clock.now())
        seen = uow.lines.get(line.msisdn)
        # no commit

    assert seen is not None
    assert seen.valid_until == later
    assert lines.get_line(application.uow(), number=line.msisdn.e164).valid_until == line.valid_until


def test_writes_to_one_table_in_one_transaction_all_land(application: Application) -> None:
    line = make_line(application)
    e164 = line.msisdn.e164
    uow = application.uow()

    with uow:
        for key in ("a", "b", "a"):  # the repeated event is told once
            uow.notifications.queue(_notification(application, e164, key))
        uow.lines.set_valid_until(line.msisdn, date(2027, 1, 1), now=application.clock.now())
        uow.lines.set_valid_until(line.msisdn, date(2027, 2, 1), now=application.clock.now())
        uow.commit()

    assert _notifications(application, msisdn=e164) == ["topup_done:a", "topup_done:b"]
    assert lines.get_line(application.uow(), number=e164).valid_until == date(2027, 2, 1)


def test_a_statement_carrying_held_back_writes_returns_its_own_answer(application: Application) -> None:
    line = make_line(application)
    request = IdempotentRequest(scope="s", key="k", fingerprint="f")
    answer = StoredResponse(201, "{}")
    uow = application.uow()
    now = application.clock.now()

    with uow:
        uow.notifications.queue(_notification(application, line.msisdn.e164, "c"))
        assert uow.idempotency.record(request, answer, now=now)
        uow.commit()
    with uow:
        uow.lines.set_valid_until(line.msisdn, line.valid_until or now.date() + timedelta(days=1), now=now)
        assert not uow.idempotency.record(request, answer, now=now)
        assert uow.idempotency.stored(request) == answer

    assert _notifications(application, msisdn=line.msisdn.e164) == ["topup_done:c"]
