"""The order state machine: the table of allowed moves, the history it writes, and what it refuses."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from topup.domain.orders import (
    FINAL_STATES,
    IllegalTransition,
    OrderState,
    OrderStatus,
    Transition,
    can_move,
)

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
S = OrderState

# The table, written out by hand from the design (not imported), so a change to the module shows up here.
ALLOWED: dict[OrderState, set[OrderState]] = {
    S.CREATED: {S.AWAITING_PAYMENT, S.PAID, S.FAILED, S.CANCELLED, S.UNKNOWN},
    S.AWAITING_PAYMENT: {S.PAID, S.FAILED, S.CANCELLED, S.UNKNOWN},
    S.UNKNOWN: {S.AWAITING_PAYMENT, S.PAID, S.FULFILLED, S.FAILED, S.CANCELLED, S.REFUNDED},
    S.PAID: {S.FULFILLED, S.FAILED, S.REFUNDED, S.UNKNOWN},
    S.FULFILLED: {S.REFUNDED, S.UNKNOWN},  # a refund whose answer was lost
    S.FAILED: set(),
    S.CANCELLED: set(),
    S.REFUNDED: set(),
}
ALLOWED_PAIRS = [(source, target) for source, targets in ALLOWED.items() for target in sorted(targets)]
DISALLOWED_PAIRS = [
    (source, target) for source, target in itertools.product(OrderState, repeat=2) if target not in ALLOWED[source]
]
DEAD_ENDS = (S.FAILED, S.CANCELLED, S.REFUNDED)
# A shortest path from `created` to each state, to put an order where a test needs it.
PATH_TO: dict[OrderState, tuple[OrderState, ...]] = {
    S.CREATED: (),
    S.AWAITING_PAYMENT: (S.AWAITING_PAYMENT,),
    S.PAID: (S.PAID,),
    S.UNKNOWN: (S.UNKNOWN,),
    S.FAILED: (S.FAILED,),
    S.CANCELLED: (S.CANCELLED,),
    S.FULFILLED: (S.PAID, S.FULFILLED),
    S.REFUNDED: (S.PAID, S.REFUNDED),
}


def status_in(state: OrderState) -> OrderStatus:
    status = OrderStatus()
    for step, target in enumerate(PATH_TO[state]):
        status.move(target, reason=f"setup {step}", at=START + timedelta(seconds=step))
    assert status.state is state
    return status


def test_the_hand_written_table_covers_every_state() -> None:
    assert set(ALLOWED) == set(OrderState)
    assert len(ALLOWED_PAIRS) + len(DISALLOWED_PAIRS) == len(OrderState) ** 2 == 64
    assert len(ALLOWED_PAIRS) == 21


def test_a_new_order_is_created_with_no_history() -> None:
    status = OrderStatus()
    assert status.state is S.CREATED
    assert status.history == []
    assert status.is_final is False


@pytest.mark.parametrize(("source", "target"), ALLOWED_PAIRS)
def test_every_allowed_transition_succeeds_and_is_recorded(source: OrderState, target: OrderState) -> None:
    status = status_in(source)
    history_before = list(status.history)
    at = START + timedelta(hours=1)

    transition = status.move(target, reason="provider said so", at=at)

    assert transition == Transition(source, target, "provider said so", at)
    assert status.state is target
    assert status.history == [*history_before, transition]
    assert can_move(source, target) is True


@pytest.mark.parametrize(("source", "target"), DISALLOWED_PAIRS)
def test_every_disallowed_transition_is_refused_and_changes_nothing(source: OrderState, target: OrderState) -> None:
    status = status_in(source)
    history_before = list(status.history)

    with pytest.raises(IllegalTransition) as excinfo:
        status.move(target, reason="try anyway", at=START + timedelta(hours=1))

    assert excinfo.value.code == "order_transition_not_allowed"
    assert excinfo.value.details == {"state": source.value, "target": target.value}
    assert status.state is source
    assert status.history == history_before
    assert can_move(source, target) is False


def test_no_state_may_move_to_itself() -> None:
    for state in OrderState:
        assert can_move(state, state) is False


def test_final_states() -> None:
    assert frozenset({S.FULFILLED, S.FAILED, S.CANCELLED, S.REFUNDED}) == FINAL_STATES


@pytest.mark.parametrize("state", list(OrderState))
def test_is_final_follows_the_final_states(state: OrderState) -> None:
    expected = state in {S.FULFILLED, S.FAILED, S.CANCELLED, S.REFUNDED}
    assert status_in(state).is_final is expected


def test_fulfilled_is_final_yet_may_still_be_refunded() -> None:
    status = status_in(S.FULFILLED)
    assert status.is_final is True
    status.move(S.REFUNDED, reason="staff refund", at=START + timedelta(days=1))
    assert status.state is S.REFUNDED
    assert status.is_final is True


@pytest.mark.parametrize("state", DEAD_ENDS)
def test_dead_ends_have_no_way_out(state: OrderState) -> None:
    assert not any(can_move(state, target) for target in OrderState)


def test_a_reason_is_trimmed_to_two_hundred_characters() -> None:
    status = OrderStatus()
    transition = status.move(S.PAID, reason="x" * 500, at=START)
    assert transition.reason == "x" * 200


def test_a_reason_of_exactly_two_hundred_characters_is_kept_whole() -> None:
    reason = "a" * 199 + "b"
    assert OrderStatus().move(S.PAID, reason=reason, at=START).reason == reason


def test_surrounding_whitespace_is_stripped_from_a_reason() -> None:
    assert OrderStatus().move(S.PAID, reason="  authorised \n", at=START).reason == "authorised"


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_an_empty_reason_becomes_the_target_state(reason: str) -> None:
    transition = OrderStatus().move(S.AWAITING_PAYMENT, reason=reason, at=START)
    assert transition.reason == "awaiting_payment"


@pytest.mark.parametrize("target", [S.PAID, S.FULFILLED])  # one allowed from created, one not
def test_a_naive_datetime_is_refused_and_changes_nothing(target: OrderState) -> None:
    status = OrderStatus()
    naive = START.replace(tzinfo=None)
    with pytest.raises(ValueError, match="aware datetimes"):
        status.move(target, reason="naive", at=naive)
    assert status.state is S.CREATED
    assert status.history == []


def test_the_time_zone_of_the_stamp_is_kept() -> None:
    baku = START.astimezone(ZoneInfo("Asia/Baku"))
    transition = OrderStatus().move(S.PAID, reason="ok", at=baku)
    assert transition.at == START
    assert transition.at.tzinfo == baku.tzinfo


def assert_history_is_consistent(status: OrderStatus) -> None:
    expected_source = S.CREATED
    for transition in status.history:
        assert transition.source is expected_source
        assert transition.target in ALLOWED[transition.source]
        expected_source = transition.target
    assert status.state is expected_source


@given(st.lists(st.sampled_from(list(OrderState)), max_size=40))
def test_a_random_walk_keeps_history_consistent_and_dead_ends_dead(attempts: list[OrderState]) -> None:
    status = OrderStatus()
    for step, target in enumerate(attempts):
        source, history_before = status.state, list(status.history)
        at = START + timedelta(minutes=step)
        if target in ALLOWED[source]:
            assert status.move(target, reason=f"step {step}", at=at) == Transition(source, target, f"step {step}", at)
            assert status.history == [*history_before, Transition(source, target, f"step {step}", at)]
        else:
            with pytest.raises(IllegalTransition) as excinfo:
                status.move(target, reason=f"step {step}", at=at)
            assert excinfo.value.code == "order_transition_not_allowed"
            assert status.state is source
            assert status.history == history_before
        if source in DEAD_ENDS:
            assert status.state is source
        assert_history_is_consistent(status)


class OrderMachine(RuleBasedStateMachine):
    """Hypothesis drives any sequence of attempted moves; the invariants hold after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.status = OrderStatus()
        self.model = S.CREATED  # the state the hand-written table predicts
        self.moves = 0
        self.dead_at: OrderState | None = None

    @rule(wanted=st.sampled_from(list(OrderState)), reason=st.text(max_size=300))
    def attempt(self, wanted: OrderState, reason: str) -> None:
        at = START + timedelta(seconds=self.moves)
        if wanted in ALLOWED[self.model]:
            transition = self.status.move(wanted, reason=reason, at=at)
            assert transition.reason == (reason.strip()[:200] or wanted.value)
            assert len(transition.reason) <= 200
            self.model = wanted
            self.moves += 1
        else:
            length_before = len(self.status.history)
            with pytest.raises(IllegalTransition) as excinfo:
                self.status.move(wanted, reason=reason, at=at)
            assert excinfo.value.code == "order_transition_not_allowed"
            assert len(self.status.history) == length_before
        if self.model in DEAD_ENDS and self.dead_at is None:
            self.dead_at = self.model

    @invariant()
    def state_matches_the_table(self) -> None:
        assert self.status.state is self.model
        assert len(self.status.history) == self.moves

    @invariant()
    def history_chains_from_created(self) -> None:
        assert_history_is_consistent(self.status)
        stamps = [transition.at for transition in self.status.history]
        assert stamps == sorted(stamps)

    @invariant()
    def nothing_leaves_a_dead_end(self) -> None:
        if self.dead_at is not None:
            assert self.status.state is self.dead_at
            assert self.status.history[-1].target is self.dead_at


TestOrderMachine = OrderMachine.TestCase
