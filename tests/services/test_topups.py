from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.factories import make_line, new_number, snapshot
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.errors import DomainError
from topup.domain.lines import LineStatus, LineType
from topup.services import ledger, lines, topups


def top_up(application: Application, number: str, amount_qepik: int, channel: str = "api"):  # type: ignore[no-untyped-def]
    return topups.top_up(
        application.uow(),
        application.clock,
        application.codes,
        number=number,
        amount_qepik=amount_qepik,
        channel=channel,
    )


def test_top_up_credits_the_balance_and_sets_the_usage_period(application: Application) -> None:
    line = make_line(application)

    record = top_up(application, line.msisdn.national, 500)

    assert record.amount_qepik == 500
    assert record.vat_qepik == 76
    assert record.balance_after_qepik == 500
    assert record.valid_until == date(2026, 12, 23)  # 5.00 AZN gives 30 days from today (Baku)
    assert record.operator == "azercell"
    assert len(record.verification_code) == 11
    balance = lines.balance(application.uow(), application.clock, number=line.msisdn.e164)
    assert balance.main_qepik == 500
    assert balance.line.valid_until == date(2026, 12, 23)
    assert ledger.audit_ledger(application.uow()).ok


def test_a_second_top_up_extends_the_unused_remainder(application: Application, clock: FixedClock) -> None:
    line = make_line(application)
    top_up(application, line.msisdn.e164, 500)  # until 2026-12-23
    clock.advance(timedelta(days=10))

    record = top_up(application, line.msisdn.e164, 1000)  # +60 days on top of what is left

    assert record.valid_until == date(2027, 2, 21)
    assert record.balance_after_qepik == 1500


@pytest.mark.parametrize(
    ("amount_qepik", "code"),
    [(99, "amount_out_of_range"), (50001, "amount_out_of_range")],
)
def test_amount_outside_the_operator_rules_changes_nothing(
    application: Application, amount_qepik: int, code: str
) -> None:
    line = make_line(application, balance_qepik=300)
    before = snapshot(application)

    with pytest.raises(DomainError) as refused:
        top_up(application, line.msisdn.e164, amount_qepik)

    assert refused.value.code == code
    assert snapshot(application) == before


@pytest.mark.parametrize(("status", "code"), [(LineStatus.BARRED, "line_barred"), (LineStatus.CLOSED, "line_closed")])
def test_barred_and_closed_lines_are_refused(application: Application, status: LineStatus, code: str) -> None:
    line = make_line(application, status=status)
    before = snapshot(application)

    with pytest.raises(DomainError) as refused:
        top_up(application, line.msisdn.e164, 500)

    assert refused.value.code == code
    assert snapshot(application) == before


def test_unknown_line_is_refused(application: Application) -> None:
    before = snapshot(application)
    with pytest.raises(DomainError) as refused:
        top_up(application, new_number(), 500)
    assert refused.value.code == "line_not_found"
    assert snapshot(application) == before


def test_a_line_past_its_grace_period_cannot_be_topped_up(application: Application, clock: FixedClock) -> None:
    line = make_line(application, balance_qepik=100)  # 5 days of usage period, then 180 days of grace
    clock.advance(timedelta(days=5 + 180 + 1))
    before = snapshot(application)

    with pytest.raises(DomainError) as refused:
        top_up(application, line.msisdn.e164, 500)

    assert refused.value.code == "line_validity_expired"
    assert snapshot(application) == before


def test_postpaid_lines_take_payments_without_a_usage_period(application: Application) -> None:
    line = make_line(application, line_type=LineType.POSTPAID)
    record = top_up(application, line.msisdn.e164, 2000)
    assert record.valid_until is None
    assert record.balance_after_qepik == 2000


def test_each_channel_funds_through_its_own_system_account(application: Application) -> None:
    line = make_line(application)
    top_up(application, line.msisdn.e164, 500, channel="api")
    top_up(application, line.msisdn.e164, 700, channel="kiosk")
    with application.uow() as uow:
        api_account = uow.ledger.system_account("funding:azercell:api", topups.Unit.QEPIK)
        kiosk_account = uow.ledger.system_account("funding:azercell:kiosk", topups.Unit.QEPIK)
    assert api_account != kiosk_account
    audit = ledger.audit_ledger(application.uow())
    money = next(t for t in audit.totals if t.unit.value == "qepik")
    assert (money.debits, money.credits, money.transfers) == (1200, 1200, 2)
    assert audit.ok
