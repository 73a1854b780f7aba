"""An agent's daily statement and end-of-day report (a Baku day): what it sold, what it earned, how its float
and credit moved, from the statement lines (which carry what each movement left)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from topup.domain.agents import Agent, FloatPosition, Movement, MovementKind
from topup.domain.calendar import BAKU
from topup.services.agents import require_agent
from topup.services.ports import UnitOfWork

MOVEMENTS_PER_DAY_MAX = 100_000


@dataclass(frozen=True, slots=True)
class Balances:
    float_qepik: int
    credit_available_qepik: int
    commission_qepik: int


@dataclass(frozen=True, slots=True)
class DailyReport:
    agent: Agent
    day: date
    opening: Balances
    closing: Balances
    movements: list[Movement]
    sales_count: int
    sales_qepik: int
    commission_qepik: int
    deposits_qepik: int
    payouts_qepik: int
    kiosk_cash_qepik: int
    sales_by_operator: dict[str, tuple[int, int]] = field(default_factory=dict)  # operator: (count, amount)

    @property
    def credit_used_closing_qepik(self) -> int:
        return FloatPosition(0, self.closing.credit_available_qepik, self.agent.credit_limit_qepik).credit_used_qepik


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=BAKU)
    return start, start + timedelta(days=1)


def daily_report(uow: UnitOfWork, *, agent_id: str, day: date) -> DailyReport:
    start, end = day_bounds(day)
    with uow:
        agent = require_agent(uow, agent_id)
        before = uow.agents.last_movement_before(agent_id, start)
        movements = uow.agents.movements(agent_id, created_from=start, created_to=end, limit=MOVEMENTS_PER_DAY_MAX)
    opening = _balances(before)
    closing = _balances(movements[-1]) if movements else opening
    sales = [m for m in movements if m.kind is MovementKind.SALE]
    by_operator: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for sale in sales:
        by_operator[sale.operator or ""] += -sale.amount_qepik
        counts[sale.operator or ""] += 1
    return DailyReport(
        agent=agent,
        day=day,
        opening=opening,
        closing=closing,
        movements=movements,
        sales_count=len(sales) + sum(1 for m in movements if m.kind is MovementKind.KIOSK_PAYMENT),
        sales_qepik=sum(-m.amount_qepik for m in sales),
        commission_qepik=sum(m.amount_qepik for m in movements if m.kind is MovementKind.COMMISSION),
        deposits_qepik=sum(m.amount_qepik for m in movements if m.kind is MovementKind.DEPOSIT),
        payouts_qepik=sum(-m.amount_qepik for m in movements if m.kind is MovementKind.COMMISSION_PAYOUT),
        kiosk_cash_qepik=sum(m.amount_qepik for m in movements if m.kind is MovementKind.KIOSK_PAYMENT),
        sales_by_operator={operator: (counts[operator], by_operator[operator]) for operator in sorted(counts)},
    )


def _balances(movement: Movement | None) -> Balances:
    if movement is None:
        return Balances(0, 0, 0)
    return Balances(movement.float_after_qepik, movement.credit_after_qepik, movement.commission_after_qepik)
