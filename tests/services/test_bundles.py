from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import make_line, snapshot
from topup.adapters.clock import FixedClock
from topup.bootstrap import Application
from topup.domain.errors import DomainError
from topup.domain.ledger import Unit
from topup.services import bundles, ledger, lines


def buy(application: Application, number: str, code: str):  # type: ignore[no-untyped-def]
    return bundles.buy_bundle(
        application.uow(), application.clock, application.codes, number=number, bundle_code=code, channel="api"
    )


def test_buying_a_bundle_pays_from_the_balance_and_creates_buckets(application: Application) -> None:
    line = make_line(application, prefix="70", balance_qepik=1000)

    record = buy(application, line.msisdn.e164, "nar-3-5gb-14d")

    assert record.amount_qepik == 677
    assert record.vat_qepik == 103
    assert record.balance_after_qepik == 323
    assert record.bundle_expires_at == application.clock.now() + timedelta(days=14)
    balance = lines.balance(application.uow(), application.clock, number=line.msisdn.e164)
    assert balance.main_qepik == 323
    assert [(v.bucket.unit, v.bucket.balance, v.initial) for v in balance.buckets] == [
        (Unit.DATA_KB, 3_500_000, 3_500_000),
        (Unit.VOICE_SECONDS, 15_000, 15_000),
        (Unit.SMS, 80, 80),
    ]
    audit = ledger.audit_ledger(application.uow())
    assert audit.ok
    data = next(t for t in audit.totals if t.unit is Unit.DATA_KB)
    assert (data.debits, data.credits) == (3_500_000, 3_500_000)


def test_insufficient_balance_is_refused_and_changes_nothing(application: Application) -> None:
    line = make_line(application, balance_qepik=1000)
    before = snapshot(application)

    with pytest.raises(DomainError) as refused:
        buy(application, line.msisdn.e164, "azercell-10gb-30d")  # 15.00 AZN

    assert refused.value.code == "insufficient_balance"
    assert snapshot(application) == before


def test_a_bundle_of_another_operator_is_refused(application: Application) -> None:
    line = make_line(application, balance_qepik=2000)
    before = snapshot(application)
    with pytest.raises(DomainError) as refused:
        buy(application, line.msisdn.e164, "nar-3-5gb-14d")
    assert refused.value.code == "bundle_of_another_operator"
    assert snapshot(application) == before


def test_an_unknown_bundle_is_refused(application: Application) -> None:
    line = make_line(application, balance_qepik=2000)
    with pytest.raises(DomainError) as refused:
        buy(application, line.msisdn.e164, "no-such-bundle")
    assert refused.value.code == "bundle_not_found"


def test_stacking_bundles_keep_their_own_expiry(application: Application, clock: FixedClock) -> None:
    line = make_line(application, prefix="70", balance_qepik=2000)
    first = buy(application, line.msisdn.e164, "nar-3-5gb-14d")
    clock.advance(timedelta(days=3))
    second = buy(application, line.msisdn.e164, "nar-3-5gb-14d")

    data = [
        v
        for v in lines.balance(application.uow(), clock, number=line.msisdn.e164).buckets
        if v.bucket.unit is Unit.DATA_KB
    ]
    assert [(v.transaction_id, v.bucket.expires_at) for v in data] == [
        (first.id, first.bundle_expires_at),
        (second.id, second.bundle_expires_at),
    ]


def test_an_exclusive_bundle_cannot_be_bought_twice_while_active(application: Application, clock: FixedClock) -> None:
    line = make_line(application, prefix="70", balance_qepik=500)
    buy(application, line.msisdn.e164, "nar-superday-1d")
    before = snapshot(application)

    with pytest.raises(DomainError) as refused:
        buy(application, line.msisdn.e164, "nar-superday-1d")

    assert refused.value.code == "bundle_already_active"
    assert snapshot(application) == before
    clock.advance(timedelta(days=1, seconds=1))  # the first one has expired
    assert buy(application, line.msisdn.e164, "nar-superday-1d").amount_qepik == 100


def test_expired_buckets_are_not_shown(application: Application, clock: FixedClock) -> None:
    line = make_line(application, balance_qepik=2000)
    buy(application, line.msisdn.e164, "azercell-10gb-30d")
    clock.advance(timedelta(days=30))
    assert lines.balance(application.uow(), clock, number=line.msisdn.e164).buckets == []


def test_a_line_whose_usage_period_ended_must_top_up_first(application: Application, clock: FixedClock) -> None:
    line = make_line(application, balance_qepik=100)  # 1.00 AZN: 5 days
    clock.advance(timedelta(days=6))
    with pytest.raises(DomainError) as refused:
        buy(application, line.msisdn.e164, "azercell-1gb-1d")
    assert refused.value.code == "line_validity_expired"
