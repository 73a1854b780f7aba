"""The worker's lifecycle jobs (see `topup.domain.lifecycle`): bundle expiry, renewal with retries, and the
main balance forfeited (breakage) once a line's usage period and grace have ended.

Both are bounded batches, safe with several workers on PostgreSQL: expiry takes a line's lock before its
buckets' (the order every posting uses, so no deadlock with charging), and re-reads what is still unsettled
under it; renewals are taken with SKIP LOCKED and each is one row that moves once from pending. A worker that
was down catches up on its next pass: the queues are "expired and not settled" and "pending and due".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from topup.domain.calendar import baku_date
from topup.domain.errors import DomainError
from topup.domain.history import TransactionRecord
from topup.domain.ledger import TransactionKind, Transfer, Unit, check_posting
from topup.domain.lifecycle import ExpiredBucket, Renewal, RenewalState
from topup.domain.lines import Line
from topup.domain.notifications import NotificationKind
from topup.domain.numbers import parse_msisdn
from topup.services import bundles, notifications
from topup.services.charging import EXPIRED_ACCOUNT
from topup.services.lines import require_line
from topup.services.ports import Clock, ReceiptCodes, UnitOfWork

RENEWAL_CHANNEL = "auto"
BREAKAGE_ACCOUNT = "breakage:{operator}"
BATCH = 200
# Failures that retrying cannot mend: the renewal is given up at once.
_FINAL_FAILURES = frozenset(
    {"line_closed", "bundle_not_found", "bundle_of_another_operator", "operator_closed", "catalogue_not_loaded"}
)


@dataclass(frozen=True, slots=True)
class Lifecycle:
    clock: Clock
    codes: ReceiptCodes
    renewal_retry: timedelta = timedelta(days=1)
    renewal_period: timedelta = timedelta(days=90)  # how long a short balance is retried (Azercell: 90 days)


def expire_bundles(uow: UnitOfWork, lifecycle: Lifecycle, *, limit: int = BATCH) -> int:
    """Settle up to about `limit` expired buckets: their remaining units leave the line, and purchases of
    auto-renewing bundles are queued for renewal. Returns how many buckets were settled."""
    now = lifecycle.clock.now()
    with uow:
        numbers = uow.lifecycle.lines_with_expired_buckets(now=now, limit=limit)
    settled = 0
    for number in numbers:
        with uow:
            line = require_line(uow, parse_msisdn(number), for_update=True)
            expired = uow.lifecycle.expired_buckets(number, now=now)  # another worker may have settled them
            if expired:
                _settle(uow, lifecycle, line, expired, now=now)
                settled += len(expired)
            uow.commit()
    return settled


def renew_due(uow: UnitOfWork, lifecycle: Lifecycle, *, limit: int = BATCH) -> int:
    """Try each due renewal: buy the bundle again from the main balance, or schedule the next try."""
    now = lifecycle.clock.now()
    with uow:
        due = uow.lifecycle.due_renewals(now=now, limit=limit)
    for source_id in due:
        try:
            with uow:
                renewal = uow.lifecycle.renewal(source_id, for_update=True)
                if renewal is None or renewal.state is not RenewalState.PENDING:
                    continue
                record = bundles.buy_bundle(
                    uow,
                    lifecycle.clock,
                    lifecycle.codes,
                    number=renewal.msisdn,
                    bundle_code=renewal.bundle_code,
                    channel=RENEWAL_CHANNEL,
                )
                renewal.state, renewal.renewed_transaction_id = RenewalState.RENEWED, record.id
                renewal.attempts += 1
                renewal.next_attempt_at, renewal.last_failure, renewal.updated_at = None, None, now
                uow.lifecycle.save_renewal(renewal)
                _tell(uow, renewal, NotificationKind.RENEWAL_DONE, now=now)
                uow.commit()
        except DomainError as failure:  # nothing was bought: the transaction rolled back
            _failed(uow, lifecycle, source_id, failure.code, now=now)
    return len(due)


def forfeit_balances(uow: UnitOfWork, lifecycle: Lifecycle, *, limit: int = BATCH) -> int:
    """Money on lines whose usage period and grace days have ended goes to the operator's breakage account
    (recorded as a `breakage` transaction). The line itself stays as it is: what the operator does with such
    numbers (recycling them) is its own process. Returns how many lines were looked at."""
    now = lifecycle.clock.now()
    today = baku_date(now)
    with uow:
        catalogue = uow.catalogue.current()
        due = [
            number
            for operator in catalogue.operators.values()
            for number in uow.lifecycle.lines_past_grace(
                operator.code, valid_before=today - timedelta(days=operator.topup.grace_days), limit=limit
            )
        ]
    for number in due:
        with uow:
            line = require_line(uow, parse_msisdn(number), for_update=True)
            grace = uow.catalogue.current().operator(line.operator).topup.grace_days
            main = uow.ledger.states([line.main_account_id])[line.main_account_id]
            if line.valid_until is not None and line.valid_until + timedelta(days=grace) < today and main.balance > 0:
                _forfeit(uow, lifecycle, line, main.balance, now=now)
            uow.commit()
    return len(due)


WARN_BUNDLE_BEFORE = timedelta(days=3)
WARN_VALIDITY_DAYS = 3


def warn_upcoming(uow: UnitOfWork, lifecycle: Lifecycle, *, limit: int = 1000) -> None:
    """Queue the warnings due now: bundles ending within 3 days (and again within 1 day), and usage periods
    ending in 3 days. Each is told once (its key is the purchase, or the line and date), so scanning again
    on the next pass repeats nothing."""
    now = lifecycle.clock.now()
    with uow:
        catalogue = uow.catalogue.current()
        told: set[str] = set()  # a purchase's buckets (data, minutes, SMS) end together: one warning
        for bucket in uow.lifecycle.buckets_expiring(after=now, until=now + WARN_BUNDLE_BEFORE, limit=limit):
            if not bucket.purchase_id or not bucket.bundle_code or bucket.purchase_id in told:
                continue
            told.add(bucket.purchase_id)
            line = require_line(uow, parse_msisdn(bucket.msisdn))
            try:
                bundle = catalogue.bundle(bucket.bundle_code, operator=line.operator)
            except DomainError:
                continue
            soon = bucket.expires_at - now <= timedelta(days=1)
            kind = NotificationKind.BUNDLE_EXPIRING_1D if soon else NotificationKind.BUNDLE_EXPIRING_3D
            params = {"date": baku_date(bucket.expires_at).isoformat(), **notifications.bundle_names(bundle)}
            notifications.queue(uow, line=line, kind=kind, key=bucket.purchase_id, params=params, now=now)
        ending = baku_date(now) + timedelta(days=WARN_VALIDITY_DAYS)
        for operator in catalogue.operators.values():
            for number in uow.lifecycle.lines_valid_until(operator.code, ending, limit=limit):
                line = require_line(uow, parse_msisdn(number))
                key = f"{number}:{ending.isoformat()}"
                notifications.queue(
                    uow,
                    line=line,
                    kind=NotificationKind.VALIDITY_ENDING,
                    key=key,
                    params={"date": ending.isoformat()},
                    now=now,
                )
        uow.commit()


def renewals(uow: UnitOfWork, *, number: str) -> list[Renewal]:
    msisdn = parse_msisdn(number)
    with uow:
        return uow.lifecycle.renewals_of(msisdn.e164)


def _settle(uow: UnitOfWork, lifecycle: Lifecycle, line: Line, expired: list[ExpiredBucket], *, now: datetime) -> None:
    ledger = uow.ledger
    transfers = [
        Transfer(
            bucket.account_id,
            ledger.system_account(EXPIRED_ACCOUNT.format(operator=line.operator, unit=bucket.unit), bucket.unit),
            bucket.balance,
            bucket.unit,
        )
        for bucket in expired
        if bucket.balance > 0
    ]
    if transfers:
        touched = {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}
        states = ledger.states(sorted(touched | {line.main_account_id}))
        check_posting(transfers, states)
        transaction_id = uuid.uuid4().hex
        record = TransactionRecord(
            id=transaction_id,
            msisdn=line.msisdn.e164,
            operator=line.operator,
            kind=TransactionKind.EXPIRY,
            channel=RENEWAL_CHANNEL,
            amount_qepik=0,
            vat_qepik=0,
            balance_after_qepik=states[line.main_account_id].balance,
            valid_until=line.valid_until,
            created_at=now,
            verification_code=lifecycle.codes.code_for(transaction_id),
            bundle_code=expired[0].bundle_code,
        )
        ledger.post(record, transfers)
    uow.lifecycle.mark_settled([bucket.account_id for bucket in expired], now=now)
    catalogue = uow.catalogue.current()
    auto_renewing = {code for code, bundle in catalogue.operator(line.operator).bundles.items() if bundle.auto_renew}
    purchases = {(b.purchase_id, b.bundle_code): b.expires_at for b in expired if b.purchase_id and b.bundle_code}
    for (purchase_id, bundle_code), expired_at in purchases.items():
        if bundle_code in auto_renewing:
            uow.lifecycle.add_renewal(
                Renewal(
                    source_transaction_id=purchase_id,
                    msisdn=line.msisdn.e164,
                    bundle_code=bundle_code,
                    give_up_at=expired_at + lifecycle.renewal_period,
                    created_at=now,
                    next_attempt_at=now,
                )
            )


def _failed(uow: UnitOfWork, lifecycle: Lifecycle, source_id: str, code: str, *, now: datetime) -> None:
    with uow:
        renewal = uow.lifecycle.renewal(source_id, for_update=True)
        if renewal is not None and renewal.state is RenewalState.PENDING:
            renewal.attempts += 1
            renewal.last_failure = code[:64]
            renewal.updated_at = now
            retry_at = now + lifecycle.renewal_retry
            if code in _FINAL_FAILURES or retry_at > renewal.give_up_at:
                renewal.state, renewal.next_attempt_at = RenewalState.GIVEN_UP, None
            else:
                renewal.next_attempt_at = retry_at
            uow.lifecycle.save_renewal(renewal)
            _tell(uow, renewal, NotificationKind.RENEWAL_FAILED, now=now)  # once: the key is the renewal
        uow.commit()


def _tell(uow: UnitOfWork, renewal: Renewal, kind: NotificationKind, *, now: datetime) -> None:
    line = require_line(uow, parse_msisdn(renewal.msisdn))
    try:
        bundle = uow.catalogue.current().bundle(renewal.bundle_code, operator=line.operator)
    except DomainError:  # the bundle left the catalogue: nothing to tell about it
        return
    params = {"amount_qepik": str(bundle.price_qepik), **notifications.bundle_names(bundle)}
    notifications.queue(uow, line=line, kind=kind, key=renewal.source_transaction_id, params=params, now=now)


def _forfeit(uow: UnitOfWork, lifecycle: Lifecycle, line: Line, amount_qepik: int, *, now: datetime) -> None:
    breakage = uow.ledger.system_account(BREAKAGE_ACCOUNT.format(operator=line.operator), Unit.QEPIK)
    transfers = [Transfer(line.main_account_id, breakage, amount_qepik, Unit.QEPIK)]
    check_posting(transfers, uow.ledger.states([line.main_account_id, breakage]))
    transaction_id = uuid.uuid4().hex
    record = TransactionRecord(
        id=transaction_id,
        msisdn=line.msisdn.e164,
        operator=line.operator,
        kind=TransactionKind.BREAKAGE,
        channel=RENEWAL_CHANNEL,
        amount_qepik=amount_qepik,
        vat_qepik=0,
        balance_after_qepik=0,
        valid_until=line.valid_until,
        created_at=now,
        verification_code=lifecycle.codes.code_for(transaction_id),
    )
    uow.ledger.post(record, transfers)
