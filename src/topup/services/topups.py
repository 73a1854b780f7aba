"""Top up a line: credit the main balance, extend the usage period, leave a receipt."""

from __future__ import annotations

import uuid

from topup.domain.calendar import baku_date
from topup.domain.history import TransactionRecord
from topup.domain.ledger import TransactionKind, Transfer, Unit, check_posting
from topup.domain.notifications import NotificationKind
from topup.domain.numbers import parse_msisdn
from topup.services import notifications
from topup.services.lines import require_line
from topup.services.ports import Clock, ReceiptCodes, UnitOfWork

CHANNELS = ("api", "cli", "portal", "agent", "kiosk", "voucher", "ussd", "auto", "demo", "order")


def funding_account_code(operator: str, channel: str) -> str:
    """Money enters through a channel: one funding account per operator and channel (no running balance)."""
    return f"funding:{operator}:{channel}"


def top_up(
    uow: UnitOfWork,
    clock: Clock,
    codes: ReceiptCodes,
    *,
    number: str,
    amount_qepik: int,
    channel: str,
    notify: bool = True,
    funding_account_id: int | None = None,
) -> TransactionRecord:
    """`notify` False: the caller tells the subscriber itself (an auto-recharge says more than "topped up").
    `funding_account_id`: where the money comes from when not the channel's funding account (an agent's float,
    whose guarded balance then refuses a sale it cannot cover)."""
    msisdn = parse_msisdn(number)
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    with uow:
        line = require_line(uow, msisdn, for_update=True)
        catalogue = uow.catalogue.current()
        now = clock.now()
        plan = line.plan_top_up(
            catalogue.operator(line.operator),
            amount_qepik,
            today=baku_date(now),
            vat_bp=catalogue.vat_rate_basis_points,
        )
        funding = funding_account_id or uow.ledger.system_account(
            funding_account_code(line.operator, channel), Unit.QEPIK
        )
        transfers = [Transfer(funding, line.main_account_id, amount_qepik, Unit.QEPIK)]
        balances = check_posting(transfers, uow.ledger.states([funding, line.main_account_id]))
        transaction_id = uuid.uuid4().hex
        record = TransactionRecord(
            id=transaction_id,
            msisdn=msisdn.e164,
            operator=line.operator,
            kind=TransactionKind.TOPUP,
            channel=channel,
            amount_qepik=amount_qepik,
            vat_qepik=plan.vat_qepik,
            balance_after_qepik=balances[line.main_account_id],
            valid_until=plan.valid_until,
            created_at=now,
            verification_code=codes.code_for(transaction_id),
        )
        uow.ledger.post(record, transfers)
        if plan.valid_until != line.valid_until:
            uow.lines.set_valid_until(msisdn, plan.valid_until, now=now)
        if notify:
            told = {"amount_qepik": str(amount_qepik), "balance_qepik": str(record.balance_after_qepik)}
            if plan.valid_until is not None:
                told["date"] = plan.valid_until.isoformat()
            notifications.queue(
                uow, line=line, kind=NotificationKind.TOPUP_DONE, key=transaction_id, params=told, now=now
            )
        uow.commit()
    return record
