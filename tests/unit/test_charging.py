"""Rating and reservation arithmetic of online charging (pure domain, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from topup.domain.catalogue import Tariff
from topup.domain.charging import (
    ChargingSession,
    Grant,
    Hold,
    NoBalance,
    RequestOutOfOrder,
    Service,
    SessionClosed,
    SessionState,
    UsedExceedsGranted,
    plan_grant,
    price_qepik,
)
from topup.domain.errors import InvalidInput
from topup.domain.ledger import Bucket, Unit

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
# 0.10 AZN per MB in 100 KB steps, 0.10 AZN per minute in whole minutes, 0.05 AZN per SMS.
TARIFF = Tariff(
    data_qepik_per_mb=10, data_increment_kb=100, voice_qepik_per_minute=10, voice_increment_seconds=60, sms_qepik=5
)


def bucket(account_id: int, balance: int, *, days: int = 1, unit: Unit = Unit.DATA_KB) -> Bucket:
    return Bucket(account_id, unit, balance, NOW + timedelta(days=days))


def session(grant: Grant, service: Service = Service.DATA) -> ChargingSession:
    opened = ChargingSession(
        id="s1",
        msisdn="+994501234567",
        operator="azercell",
        service=service,
        roaming=False,
        created_at=NOW,
        expires_at=NOW,
    )
    opened.add(grant)
    return opened


@pytest.mark.parametrize(
    ("service", "units", "qepik"),
    [
        (Service.DATA, 1, 1),  # one 100 KB step: 1 qəpik
        (Service.DATA, 100, 1),
        (Service.DATA, 101, 2),
        (Service.DATA, 1000, 10),
        (Service.VOICE, 1, 10),  # a started minute is a minute
        (Service.VOICE, 60, 10),
        (Service.VOICE, 61, 20),
        (Service.SMS, 3, 15),
        (Service.DATA, 0, 0),
    ],
)
def test_out_of_bundle_prices_round_up_to_the_billing_step(service: Service, units: int, qepik: int) -> None:
    assert price_qepik(service, units, TARIFF) == qepik


def test_buckets_are_used_first_earliest_expiry_first_then_the_main_balance() -> None:
    later, sooner = bucket(1, 500, days=5), bucket(2, 300, days=1)

    grant = plan_grant(Service.DATA, 1000, buckets=[later, sooner], main_balance_qepik=100, tariff=TARIFF, now=NOW)

    assert grant.holds == (Hold(2, 300), Hold(1, 500))
    assert (grant.money_units, grant.money_qepik, grant.units) == (200, 2, 1000)


def test_a_bucket_of_another_unit_or_an_expired_one_is_not_used() -> None:
    buckets = [bucket(1, 500, unit=Unit.VOICE_SECONDS), bucket(2, 500, days=-1)]

    grant = plan_grant(Service.DATA, 300, buckets=buckets, main_balance_qepik=100, tariff=TARIFF, now=NOW)

    assert (grant.holds, grant.money_units, grant.money_qepik) == ((), 300, 3)


def test_the_main_balance_grants_only_whole_steps_it_can_afford() -> None:
    grant = plan_grant(Service.VOICE, 600, buckets=[], main_balance_qepik=25, tariff=TARIFF, now=NOW)

    assert (grant.money_units, grant.money_qepik) == (120, 20)  # two minutes; a third would need 30 qəpik


def test_nothing_to_grant_is_refused() -> None:
    with pytest.raises(NoBalance):
        plan_grant(Service.SMS, 1, buckets=[], main_balance_qepik=4, tariff=TARIFF, now=NOW)
    with pytest.raises(NoBalance):  # roaming: no tariff, so only (roaming) buckets serve
        plan_grant(Service.DATA, 1, buckets=[], main_balance_qepik=10_000, tariff=None, now=NOW)


def test_the_end_charges_used_units_from_buckets_first_and_the_rest_at_the_tariff() -> None:
    grant = plan_grant(Service.DATA, 1000, buckets=[bucket(7, 400)], main_balance_qepik=100, tariff=TARIFF, now=NOW)
    charged = session(grant)
    charged.report(450)
    charged.report(100)

    settlement = charged.settle(TARIFF)

    assert settlement.bucket_used == (Hold(7, 400),)
    assert settlement.bucket_returned == ()
    assert (settlement.money_charged_qepik, settlement.money_returned_qepik) == (2, 4)  # 150 KB -> 200 KB -> 2


def test_unused_bucket_units_go_back() -> None:
    charged = session(Grant((Hold(7, 400), Hold(8, 100)), 0, 0))
    charged.report(250)

    settlement = charged.settle(None)

    assert settlement.bucket_used == (Hold(7, 250),)
    assert settlement.bucket_returned == (Hold(7, 150), Hold(8, 100))
    assert (settlement.money_charged_qepik, settlement.money_returned_qepik) == (0, 0)


def test_reports_beyond_the_grant_and_requests_out_of_sequence_are_refused() -> None:
    charged = session(Grant((Hold(7, 100),), 0, 0))
    with pytest.raises(UsedExceedsGranted):
        charged.report(101)
    assert charged.used_units == 0
    assert charged.check_request(0) is True  # a repeat of the opening request
    assert charged.check_request(1) is False
    with pytest.raises(RequestOutOfOrder):
        charged.check_request(2)
    charged.state = SessionState.TERMINATED
    with pytest.raises(SessionClosed):
        charged.check_request(1)


@pytest.mark.parametrize("units", [-1, 10**13, True])
def test_units_outside_the_range_are_refused(units: int) -> None:
    from topup.domain.charging import check_units

    with pytest.raises(InvalidInput):
        check_units(units, field_name="used_units")


@given(
    requested=st.integers(min_value=1, max_value=5_000_000),
    balance=st.integers(min_value=0, max_value=100_000),
    bucket_units=st.lists(st.integers(min_value=0, max_value=2_000_000), max_size=4),
    used_share=st.floats(min_value=0, max_value=1),
    service=st.sampled_from(list(Service)),
)
def test_a_grant_never_spends_more_than_there_is_and_the_end_balances_exactly(
    requested: int, balance: int, bucket_units: list[int], used_share: float, service: Service
) -> None:
    buckets = [bucket(index + 1, units, unit=service.unit) for index, units in enumerate(bucket_units)]
    try:
        grant = plan_grant(service, requested, buckets=buckets, main_balance_qepik=balance, tariff=TARIFF, now=NOW)
    except NoBalance:
        assert sum(bucket_units) == 0
        assert balance < price_qepik(service, 1, TARIFF)
        return
    step = {Service.DATA: 100, Service.VOICE: 60, Service.SMS: 1}[service]
    assert 0 < grant.units < requested + step  # the main balance's part is rounded up to whole steps
    assert grant.money_qepik <= balance
    assert grant.money_qepik == price_qepik(service, grant.money_units, TARIFF)
    for hold in grant.holds:
        assert 0 < hold.units <= bucket_units[hold.account_id - 1]
    charged = session(grant, service)
    charged.report(int(grant.units * used_share))

    settlement = charged.settle(TARIFF)

    held = sum(h.units for h in grant.holds)
    assert sum(h.units for h in settlement.bucket_used) + sum(h.units for h in settlement.bucket_returned) == held
    assert settlement.money_charged_qepik + settlement.money_returned_qepik == grant.money_qepik
    assert settlement.money_charged_qepik >= 0


def test_a_throttled_bundle_grants_the_rest_free_and_nothing_from_the_balance() -> None:
    grant = plan_grant(
        Service.DATA, 1000, buckets=[bucket(1, 300)], main_balance_qepik=100, tariff=TARIFF, now=NOW, throttled=True
    )
    charged = session(grant)
    charged.report(900)

    assert (grant.holds, grant.throttled_units, grant.money_qepik) == ((Hold(1, 300),), 700, 0)
    assert charged.settle(TARIFF).money_charged_qepik == 0
