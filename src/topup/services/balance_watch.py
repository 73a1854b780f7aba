"""What a fall of a line's main balance sets off, wherever the money went (usage, a bundle bought from the
balance, a renewal, a refund taken back): the low-balance warning, and a threshold auto-recharge. Each fires
once per fall, from at-or-above its mark to below it, never on every debit."""

from __future__ import annotations

from datetime import datetime

from topup.domain.auto_recharge import fell_below
from topup.domain.lines import Line
from topup.domain.notifications import BALANCE_LOW_QEPIK, NotificationKind
from topup.services import notifications
from topup.services.ports import UnitOfWork


def main_balance_fell(
    uow: UnitOfWork, line: Line, *, before_qepik: int, after_qepik: int, key: str, now: datetime
) -> None:
    """Inside the transaction that moved the money; `key` names the movement (its transaction id)."""
    if after_qepik < BALANCE_LOW_QEPIK <= before_qepik:
        notifications.queue(
            uow,
            line=line,
            kind=NotificationKind.BALANCE_LOW,
            key=key,
            params={"balance_qepik": str(after_qepik)},
            now=now,
        )
    if fell_below(line.auto_recharge_below_qepik, before_qepik=before_qepik, after_qepik=after_qepik):
        uow.auto_recharges.mark_fall(line.msisdn.e164, now=now)
