"""Charging sessions through the service layer on SQLite and PostgreSQL: holds in the ledger, settlement,
roaming, the worker's time-out, and conservation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.factories import buy_bundle, make_line, snapshot
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.calendar import baku_date
from topup.domain.charging import NoBalance, Service
from topup.domain.errors import InvalidInput
from topup.services import charging, history, ledger, lines

# Azercell in the sample catalogue: data 0.10 AZN per MB in 100 KB steps.


def balance(application: Application, number: str) -> lines.Balance:
    return lines.balance(application.uow(), application.clock, number=number)


def bucket_left(application: Application, number: str) -> list[int]:
    return [view.bucket.balance for view in balance(application, number).buckets]


def test_money_is_held_while_the_session_runs_and_only_what_was_used_is_charged(application: Application) -> None:
    line = make_line(application, balance_qepik=1000)
    number = line.msisdn.e164

    opened = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=1000
    )
    assert (opened["granted_units"], opened["request_number"], opened["state"]) == (1000, 0, "open")
    assert balance(application, number).main_qepik == 990  # 1000 KB = 10 qəpik held

    updated = charging.update_session(
        application.uow(),
        application.charging,
        session_id=opened["session_id"],
        request_number=1,
        used=150,
        requested=500,
    )
    assert (updated["granted_units"], updated["granted_total_units"], updated["used_units"]) == (500, 1500, 150)
    assert balance(application, number).main_qepik == 985

    ended = charging.terminate_session(
        application.uow(), application.charging, session_id=opened["session_id"], request_number=2, used=100
    )

    assert (ended["state"], ended["used_units"], ended["charged_qepik"]) == ("terminated", 250, 3)
    assert balance(application, number).main_qepik == 997
    kinds = [item.kind.value for item in history.transactions(application.uow(), number=number).items]
    assert sorted(kinds) == ["topup", "usage"]  # the holds are not shown
    assert ledger.audit_ledger(application.uow()).ok


def test_a_bundle_serves_first_and_gets_back_what_was_not_used(application: Application) -> None:
    line = make_line(application, balance_qepik=1000)
    number = line.msisdn.e164
    buy_bundle(application, number, "azercell-1gb-1d")
    before_money = balance(application, number).main_qepik

    opened = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=300_000
    )
    assert bucket_left(application, number) == [700_000]
    charging.terminate_session(
        application.uow(), application.charging, session_id=opened["session_id"], request_number=1, used=120_000
    )

    assert bucket_left(application, number) == [880_000]
    assert balance(application, number).main_qepik == before_money
    assert ledger.audit_ledger(application.uow()).ok


def test_roaming_without_roaming_prices_uses_only_roaming_bundles(application: Application) -> None:
    line = make_line(application, prefix="55", balance_qepik=50_000)  # Bakcell: no roaming tariff in the sample
    number = line.msisdn.e164
    buy_bundle(application, number, "bakcell-5gb-30d")
    before = snapshot(application)

    with pytest.raises(NoBalance):
        charging.open_session(
            application.uow(), application.charging, number=number, service=Service.DATA, requested=10, roaming=True
        )
    assert snapshot(application) == before


def test_roaming_uses_roaming_bundles_then_the_roaming_tariff_never_home_bundles(application: Application) -> None:
    line = make_line(application, balance_qepik=1000)
    number = line.msisdn.e164
    buy_bundle(application, number, "azercell-1gb-1d")  # 1 AZN of the 10: a home bundle, of no use abroad

    opened = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=1000, roaming=True
    )
    ended = charging.terminate_session(
        application.uow(), application.charging, session_id=str(opened["session_id"]), request_number=1, used=1000
    )

    assert opened["granted_units"] == 1000
    assert ended["charged_qepik"] == 150  # 10 steps of 100 KB at 1.50 AZN per MB
    assert balance(application, number).main_qepik == 900 - 150
    assert bucket_left(application, number) == [1_000_000]
    assert ledger.audit_ledger(application.uow()).ok


def test_a_silent_session_is_ended_by_the_worker_charging_what_it_reported(
    application: Application, clock: FixedClock
) -> None:
    line = make_line(application, balance_qepik=1000)
    number = line.msisdn.e164
    opened = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.VOICE, requested=300
    )
    charging.update_session(
        application.uow(), application.charging, session_id=opened["session_id"], request_number=1, used=61
    )
    assert charging.end_expired(application.uow(), application.charging) == 0  # still within its validity

    clock.advance(application.charging.validity)
    assert charging.end_expired(application.uow(), application.charging) == 1

    ended = charging.get_session(application.uow(), session_id=opened["session_id"])
    assert (ended["state"], ended["charged_qepik"], ended["ended_because"]) == ("terminated", 20, "timed out")
    assert balance(application, number).main_qepik == 980  # 61 s -> two started minutes
    assert charging.end_expired(application.uow(), application.charging) == 0


def test_an_sms_is_charged_whole_or_not_at_all(application: Application, clock: FixedClock) -> None:
    rich = make_line(application, balance_qepik=100).msisdn.e164
    poor = make_line(application).msisdn.e164

    sent = charging.charge_event(application.uow(), application.charging, number=rich)
    before = snapshot(application)
    with pytest.raises(NoBalance):
        charging.charge_event(application.uow(), application.charging, number=poor)

    assert (sent["state"], sent["charged_qepik"]) == ("terminated", 5)
    assert balance(application, rich).main_qepik == 95
    assert snapshot(application) == before
    clock.advance(timedelta(seconds=1))
    assert ledger.audit_ledger(application.uow()).ok


def test_a_line_barred_mid_session_gets_no_more_units_but_its_usage_still_counts(application: Application) -> None:
    line = make_line(application, balance_qepik=1000)
    number = line.msisdn.e164
    opened = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=1000
    )
    with application.engine.begin() as connection:
        connection.execute(text("UPDATE lines SET status = 'barred' WHERE msisdn = :m"), {"m": number})

    updated = charging.update_session(
        application.uow(),
        application.charging,
        session_id=opened["session_id"],
        request_number=1,
        used=400,
        requested=500,
    )
    ended = charging.terminate_session(
        application.uow(), application.charging, session_id=opened["session_id"], request_number=2, used=0
    )

    assert (updated["granted_units"], updated["used_units"]) == (0, 400)
    assert (ended["charged_qepik"], balance(application, number).main_qepik) == (4, 996)


def test_usage_is_summed_per_baku_day_with_a_row_for_every_day(application: Application, clock: FixedClock) -> None:
    number = make_line(application, balance_qepik=5000).msisdn.e164

    def session(service: Service, used: int) -> None:
        opened = charging.open_session(
            application.uow(), application.charging, number=number, service=service, requested=used
        )
        charging.terminate_session(
            application.uow(), application.charging, session_id=opened["session_id"], request_number=1, used=used
        )

    session(Service.DATA, 1000)
    session(Service.VOICE, 90)
    clock.advance(timedelta(days=1))
    session(Service.DATA, 250)
    charging.charge_event(application.uow(), application.charging, number=number)

    days = charging.usage_by_day(application.uow(), application.clock, number=number, days=3)

    assert [(d.data_kb, d.voice_seconds, d.sms, d.charged_qepik) for d in days] == [
        (0, 0, 0, 0),
        (1000, 90, 0, 30),  # 10 qəpik of data, 20 of voice (two started minutes)
        (250, 0, 1, 8),  # 3 qəpik of data, 5 for the SMS
    ]
    assert days[-1].day == baku_date(clock.now())
    with pytest.raises(InvalidInput):
        charging.usage_by_day(application.uow(), application.clock, number=number, days=91)


def test_a_throttling_bundle_keeps_data_going_free_once_used_up(application: Application) -> None:
    line = make_line(application, prefix="55", balance_qepik=1000)  # Bakcell: its 5 GB pack throttles to 128 kbit/s
    number = line.msisdn.e164
    buy_bundle(application, number, "bakcell-5gb-30d")
    before_money = balance(application, number).main_qepik
    data_session_used = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=5_000_000
    )
    charging.terminate_session(
        application.uow(),
        application.charging,
        session_id=data_session_used["session_id"],
        request_number=1,
        used=5_000_000,
    )

    opened = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=50_000
    )
    ended = charging.terminate_session(
        application.uow(), application.charging, session_id=opened["session_id"], request_number=1, used=50_000
    )

    assert (opened["granted_units"], opened["throttled_kbps"]) == (50_000, 128)
    assert (ended["charged_qepik"], balance(application, number).main_qepik) == (0, before_money)
    assert ledger.audit_ledger(application.uow()).ok
