"""Double-entry rules: transfers, postings, and drawing allowances from expiring buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from topup.domain.errors import InsufficientBalance, LedgerInvariantBroken
from topup.domain.ledger import (
    AccountState,
    Bucket,
    Transfer,
    Unit,
    balance_changes,
    check_posting,
    draw_from_buckets,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

FUNDING = 1  # system account, money
MAIN = 2  # a line's main balance, money
REVENUE = 3  # system account, money
DATA_BUCKET = 4  # a bundle bucket, data
DATA_ISSUED = 5  # system account, data
OTHER_MAIN = 6  # another line's main balance, money


def accounts(*, main_balance: int = 0, other_main_balance: int = 0, bucket_balance: int = 0) -> dict[int, AccountState]:
    return {
        FUNDING: AccountState(FUNDING, Unit.QEPIK, balance=0, tracks_balance=False),
        MAIN: AccountState(MAIN, Unit.QEPIK, balance=main_balance, tracks_balance=True),
        REVENUE: AccountState(REVENUE, Unit.QEPIK, balance=0, tracks_balance=False),
        DATA_BUCKET: AccountState(DATA_BUCKET, Unit.DATA_KB, balance=bucket_balance, tracks_balance=True),
        DATA_ISSUED: AccountState(DATA_ISSUED, Unit.DATA_KB, balance=0, tracks_balance=False),
        OTHER_MAIN: AccountState(OTHER_MAIN, Unit.QEPIK, balance=other_main_balance, tracks_balance=True),
    }


# Transfer


@pytest.mark.parametrize("amount", [0, -1, -500])
def test_transfer_refuses_a_non_positive_amount(amount: int) -> None:
    with pytest.raises(LedgerInvariantBroken) as excinfo:
        Transfer(FUNDING, MAIN, amount, Unit.QEPIK)
    assert excinfo.value.code == "ledger_invariant_broken"


def test_transfer_refuses_the_same_account_on_both_sides() -> None:
    with pytest.raises(LedgerInvariantBroken) as excinfo:
        Transfer(MAIN, MAIN, 500, Unit.QEPIK)
    assert excinfo.value.code == "ledger_invariant_broken"


def test_transfer_keeps_its_fields() -> None:
    transfer = Transfer(FUNDING, MAIN, 500, Unit.QEPIK)
    assert (transfer.debit_account_id, transfer.credit_account_id, transfer.amount, transfer.unit) == (
        FUNDING,
        MAIN,
        500,
        Unit.QEPIK,
    )


# balance_changes


def test_balance_changes_of_nothing_is_empty() -> None:
    assert balance_changes([]) == {}


def test_balance_changes_sums_per_account() -> None:
    transfers = [
        Transfer(FUNDING, MAIN, 500, Unit.QEPIK),
        Transfer(MAIN, REVENUE, 300, Unit.QEPIK),
        Transfer(FUNDING, MAIN, 200, Unit.QEPIK),
        Transfer(MAIN, OTHER_MAIN, 50, Unit.QEPIK),
    ]
    assert balance_changes(transfers) == {FUNDING: -700, MAIN: 350, REVENUE: 300, OTHER_MAIN: 50}


def test_balance_changes_keeps_accounts_that_net_to_zero() -> None:
    transfers = [Transfer(FUNDING, MAIN, 500, Unit.QEPIK), Transfer(MAIN, FUNDING, 500, Unit.QEPIK)]
    assert balance_changes(transfers) == {FUNDING: 0, MAIN: 0}


# check_posting


def test_check_posting_returns_new_balances_of_tracked_accounts_only() -> None:
    transfers = [Transfer(FUNDING, MAIN, 500, Unit.QEPIK), Transfer(MAIN, REVENUE, 200, Unit.QEPIK)]
    assert check_posting(transfers, accounts(main_balance=100)) == {MAIN: 400}


def test_check_posting_lets_untracked_system_accounts_go_negative() -> None:
    # FUNDING starts at 0 and ends at -100_000: system balances are derived, not guarded.
    transfers = [Transfer(FUNDING, MAIN, 100_000, Unit.QEPIK)]
    assert check_posting(transfers, accounts()) == {MAIN: 100_000}


def test_check_posting_allows_a_tracked_balance_to_reach_exactly_zero() -> None:
    transfers = [Transfer(MAIN, REVENUE, 700, Unit.QEPIK)]
    assert check_posting(transfers, accounts(main_balance=700)) == {MAIN: 0}


def test_check_posting_refuses_to_take_a_tracked_balance_below_zero() -> None:
    transfers = [Transfer(MAIN, REVENUE, 701, Unit.QEPIK)]
    with pytest.raises(InsufficientBalance) as excinfo:
        check_posting(transfers, accounts(main_balance=700))
    assert excinfo.value.code == "insufficient_balance"
    assert excinfo.value.details == {"unit": "qepik", "balance": 700, "needed": 701}


def test_check_posting_judges_the_net_change_of_the_whole_posting() -> None:
    # Credited 500 then debited 600 from a balance of 100: the net is -100, which 100 covers.
    transfers = [Transfer(FUNDING, MAIN, 500, Unit.QEPIK), Transfer(MAIN, REVENUE, 600, Unit.QEPIK)]
    assert check_posting(transfers, accounts(main_balance=100)) == {MAIN: 0}


def test_check_posting_covers_data_buckets_too() -> None:
    transfers = [Transfer(DATA_BUCKET, DATA_ISSUED, 1_001, Unit.DATA_KB)]
    with pytest.raises(InsufficientBalance) as excinfo:
        check_posting(transfers, accounts(bucket_balance=1_000))
    assert excinfo.value.code == "insufficient_balance"
    assert check_posting([Transfer(DATA_BUCKET, DATA_ISSUED, 1_000, Unit.DATA_KB)], accounts(bucket_balance=1_000)) == {
        DATA_BUCKET: 0
    }


def test_check_posting_refuses_an_empty_posting() -> None:
    with pytest.raises(LedgerInvariantBroken) as excinfo:
        check_posting([], accounts())
    assert excinfo.value.code == "ledger_invariant_broken"


def test_check_posting_refuses_an_unknown_account() -> None:
    with pytest.raises(LedgerInvariantBroken) as excinfo:
        check_posting([Transfer(FUNDING, 999, 500, Unit.QEPIK)], accounts())
    assert excinfo.value.code == "ledger_invariant_broken"
    assert excinfo.value.details == {"account_id": 999}


def test_check_posting_refuses_a_transfer_whose_unit_differs_from_an_account() -> None:
    # Both accounts hold money; the transfer claims to move data.
    with pytest.raises(LedgerInvariantBroken) as excinfo:
        check_posting([Transfer(FUNDING, MAIN, 500, Unit.DATA_KB)], accounts())
    assert excinfo.value.code == "ledger_invariant_broken"


def test_check_posting_refuses_a_transfer_between_accounts_of_different_units() -> None:
    with pytest.raises(LedgerInvariantBroken) as excinfo:
        check_posting([Transfer(MAIN, DATA_BUCKET, 100, Unit.QEPIK)], accounts(main_balance=1_000))
    assert excinfo.value.code == "ledger_invariant_broken"
    assert excinfo.value.details["account_id"] == DATA_BUCKET


# draw_from_buckets


def bucket(account_id: int, balance: int, *, expires_in_days: float, unit: Unit = Unit.DATA_KB) -> Bucket:
    return Bucket(account_id, unit, balance, NOW + timedelta(days=expires_in_days))


def test_draw_takes_from_the_earliest_expiry_first() -> None:
    late = bucket(10, 1_000, expires_in_days=20)
    early = bucket(11, 300, expires_in_days=5)
    middle = bucket(12, 500, expires_in_days=10)
    draws, remainder = draw_from_buckets([late, early, middle], Unit.DATA_KB, 1_000, now=NOW)
    assert draws == [(early, 300), (middle, 500), (late, 200)]
    assert remainder == 0


def test_draw_returns_what_the_buckets_cannot_cover() -> None:
    only = bucket(10, 300, expires_in_days=5)
    draws, remainder = draw_from_buckets([only], Unit.DATA_KB, 1_000, now=NOW)
    assert draws == [(only, 300)]
    assert remainder == 700


def test_draw_skips_expired_buckets_including_those_expiring_right_now() -> None:
    expired = bucket(10, 1_000, expires_in_days=-1)
    expiring_now = Bucket(11, Unit.DATA_KB, 1_000, NOW)
    live = bucket(12, 1_000, expires_in_days=1)
    draws, remainder = draw_from_buckets([expired, expiring_now, live], Unit.DATA_KB, 1_500, now=NOW)
    assert draws == [(live, 1_000)]
    assert remainder == 500


def test_draw_skips_empty_buckets_and_buckets_of_other_units() -> None:
    empty = bucket(10, 0, expires_in_days=1)
    voice = bucket(11, 1_000, expires_in_days=1, unit=Unit.VOICE_SECONDS)
    data = bucket(12, 1_000, expires_in_days=2)
    draws, remainder = draw_from_buckets([empty, voice, data], Unit.DATA_KB, 400, now=NOW)
    assert draws == [(data, 400)]
    assert remainder == 0


def test_draw_breaks_expiry_ties_by_account_id() -> None:
    second = bucket(21, 500, expires_in_days=3)
    first = bucket(20, 500, expires_in_days=3)
    draws, remainder = draw_from_buckets([second, first], Unit.DATA_KB, 600, now=NOW)
    assert draws == [(first, 500), (second, 100)]
    assert remainder == 0


def test_draw_of_zero_takes_nothing() -> None:
    draws, remainder = draw_from_buckets([bucket(10, 500, expires_in_days=1)], Unit.DATA_KB, 0, now=NOW)
    assert draws == []
    assert remainder == 0


def test_draw_stops_once_covered() -> None:
    first = bucket(10, 500, expires_in_days=1)
    second = bucket(11, 500, expires_in_days=2)
    draws, remainder = draw_from_buckets([first, second], Unit.DATA_KB, 500, now=NOW)
    assert draws == [(first, 500)]
    assert remainder == 0


def test_draw_from_no_buckets_leaves_everything_to_the_main_balance() -> None:
    assert draw_from_buckets([], Unit.SMS, 3, now=NOW) == ([], 3)


def test_draw_refuses_a_negative_amount() -> None:
    with pytest.raises(LedgerInvariantBroken) as excinfo:
        draw_from_buckets([bucket(10, 500, expires_in_days=1)], Unit.DATA_KB, -1, now=NOW)
    assert excinfo.value.code == "ledger_invariant_broken"


# Properties

ACCOUNT_IDS = (1, 2, 3, 4, 5)


@st.composite
def transfers_between_a_few_accounts(draw: st.DrawFn) -> Transfer:
    debit = draw(st.sampled_from(ACCOUNT_IDS))
    credit = draw(st.sampled_from([a for a in ACCOUNT_IDS if a != debit]))
    amount = draw(st.integers(min_value=1, max_value=10**9))
    return Transfer(debit, credit, amount, Unit.QEPIK)


@given(st.lists(transfers_between_a_few_accounts(), max_size=30))
def test_balance_changes_conserve_value(transfers: list[Transfer]) -> None:
    changes = balance_changes(transfers)
    assert sum(changes.values()) == 0
    assert set(changes) == {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}


@given(
    st.lists(transfers_between_a_few_accounts(), min_size=1, max_size=30),
    st.lists(st.integers(min_value=0, max_value=10**10), min_size=len(ACCOUNT_IDS), max_size=len(ACCOUNT_IDS)),
    st.lists(st.booleans(), min_size=len(ACCOUNT_IDS), max_size=len(ACCOUNT_IDS)),
)
def test_check_posting_never_leaves_a_tracked_balance_negative(
    transfers: list[Transfer], balances: list[int], tracked: list[bool]
) -> None:
    states = {
        account_id: AccountState(account_id, Unit.QEPIK, balance, tracks)
        for account_id, balance, tracks in zip(ACCOUNT_IDS, balances, tracked, strict=True)
    }
    changes = balance_changes(transfers)
    would_go_negative = any(
        states[a].tracks_balance and states[a].balance + change < 0 for a, change in changes.items()
    )
    if would_go_negative:
        with pytest.raises(InsufficientBalance):
            check_posting(transfers, states)
        return
    new_balances = check_posting(transfers, states)
    assert new_balances == {a: states[a].balance + change for a, change in changes.items() if states[a].tracks_balance}


@st.composite
def buckets_of_mixed_units_and_expiries(draw: st.DrawFn) -> list[Bucket]:
    count = draw(st.integers(min_value=0, max_value=8))
    account_ids = draw(st.lists(st.integers(min_value=1, max_value=1_000), min_size=count, max_size=count, unique=True))
    return [
        Bucket(
            account_id,
            draw(st.sampled_from([Unit.DATA_KB, Unit.DATA_KB, Unit.VOICE_SECONDS])),
            draw(st.integers(min_value=0, max_value=10_000)),
            NOW + timedelta(hours=draw(st.integers(min_value=-48, max_value=48))),
        )
        for account_id in account_ids
    ]


@given(buckets_of_mixed_units_and_expiries(), st.integers(min_value=0, max_value=50_000))
def test_draw_conserves_the_amount_and_takes_only_from_live_buckets(buckets: list[Bucket], amount: int) -> None:
    draws, remainder = draw_from_buckets(buckets, Unit.DATA_KB, amount, now=NOW)
    assert sum(take for _, take in draws) + remainder == amount
    assert remainder >= 0
    for drawn, take in draws:
        assert drawn in buckets
        assert drawn.unit is Unit.DATA_KB
        assert drawn.expires_at > NOW
        assert 0 < take <= drawn.balance
    assert len({drawn.account_id for drawn, _ in draws}) == len(draws)
    # Earliest expiry first, ties by account id.
    order = [(drawn.expires_at, drawn.account_id) for drawn, _ in draws]
    assert order == sorted(order)
    live_total = sum(b.balance for b in buckets if b.unit is Unit.DATA_KB and b.expires_at > NOW)
    # A remainder is left only when every live bucket was emptied; only the last bucket drawn is partly used.
    assert remainder == max(0, amount - live_total)
    assert all(take == drawn.balance for drawn, take in draws[:-1])
