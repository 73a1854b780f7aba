"""Buy a bundle from the main balance: the price leaves the balance, the allowances arrive as buckets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from topup.domain.calendar import baku_date
from topup.domain.catalogue import Bundle
from topup.domain.errors import InvalidInput
from topup.domain.history import TransactionRecord
from topup.domain.ledger import AccountKind, TransactionKind, Transfer, Unit, check_posting
from topup.domain.numbers import parse_msisdn
from topup.services import balance_watch
from topup.services.lines import require_line
from topup.services.ports import Clock, ReceiptCodes, UnitOfWork
from topup.services.topups import funding_account_code

REVENUE_ACCOUNT = "revenue:bundles:{operator}"
VAT_ACCOUNT = "vat_payable:{operator}"
ALLOWANCES_ACCOUNT = "allowances_issued:{operator}:{unit}"


def list_bundles(uow: UnitOfWork, *, operator: str) -> list[Bundle]:
    with uow:
        return sorted(
            uow.catalogue.current().operator(operator).bundles.values(), key=lambda b: (b.price_qepik, b.code)
        )


@dataclass(frozen=True, slots=True)
class BundleFilter:
    """What a subscriber asks of a bundle; None: any. Each bound is inclusive."""

    data_kb_min: int | None = None
    voice_seconds_min: int | None = None
    price_qepik_max: int | None = None
    validity_days_min: int | None = None
    validity_days_max: int | None = None

    def accepts(self, bundle: Bundle) -> bool:
        return (
            (self.data_kb_min is None or bundle.data_kb >= self.data_kb_min)
            and (self.voice_seconds_min is None or bundle.voice_seconds >= self.voice_seconds_min)
            and (self.price_qepik_max is None or bundle.price_qepik <= self.price_qepik_max)
            and (self.validity_days_min is None or bundle.validity_days >= self.validity_days_min)
            and (self.validity_days_max is None or bundle.validity_days <= self.validity_days_max)
        )


BUNDLE_SORTS = ("price", "data", "validity")


def find_bundles(uow: UnitOfWork, *, operator: str, wanted: BundleFilter, sort: str = "price") -> list[Bundle]:
    """The operator's bundles that meet `wanted`, cheapest first (or most data, or longest validity first)."""
    if sort not in BUNDLE_SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(BUNDLE_SORTS)}.", field="sort")
    found = [bundle for bundle in list_bundles(uow, operator=operator) if wanted.accepts(bundle)]
    if sort == "data":
        return sorted(found, key=lambda b: (-b.data_kb, b.price_qepik, b.code))
    if sort == "validity":
        return sorted(found, key=lambda b: (-b.validity_days, b.price_qepik, b.code))
    return found


def buy_bundle(
    uow: UnitOfWork,
    clock: Clock,
    codes: ReceiptCodes,
    *,
    number: str,
    bundle_code: str,
    channel: str,
    paid_through_channel: bool = False,
    payer_account_id: int | None = None,
) -> TransactionRecord:
    """Pay from the line's main balance, or — `paid_through_channel` — with money that arrived through the
    channel (an order paid by card): then the price comes from the channel's funding account; or from
    `payer_account_id` (an agent's float)."""
    msisdn = parse_msisdn(number)
    with uow:
        line = require_line(uow, msisdn, for_update=True)
        catalogue = uow.catalogue.current()
        bundle = catalogue.bundle(bundle_code, operator=line.operator)
        now = clock.now()
        same_active = any(view.bundle_code == bundle.code for view in uow.ledger.buckets(msisdn, now=now))
        plan = line.plan_bundle_purchase(
            bundle,
            now=now,
            today=baku_date(now),
            vat_bp=catalogue.vat_rate_basis_points,
            same_bundle_active=same_active,
        )
        transaction_id = uuid.uuid4().hex
        ledger = uow.ledger
        revenue = ledger.system_account(REVENUE_ACCOUNT.format(operator=line.operator), Unit.QEPIK)
        vat = ledger.system_account(VAT_ACCOUNT.format(operator=line.operator), Unit.QEPIK)
        payer = payer_account_id or (
            ledger.system_account(funding_account_code(line.operator, channel), Unit.QEPIK)
            if paid_through_channel
            else line.main_account_id
        )
        transfers = [Transfer(payer, revenue, plan.price_qepik - plan.vat_qepik, Unit.QEPIK)]
        if plan.vat_qepik:
            transfers.append(Transfer(payer, vat, plan.vat_qepik, Unit.QEPIK))
        for unit, amount in plan.allowances:
            issued = ledger.system_account(ALLOWANCES_ACCOUNT.format(operator=line.operator, unit=unit), unit)
            bucket = ledger.open_account(
                kind=AccountKind.BUCKET,
                unit=unit,
                msisdn=msisdn,
                now=now,
                expires_at=plan.expires_at,
                bundle_code=bundle.code,
                transaction_id=transaction_id,
                initial=amount,
            )
            transfers.append(Transfer(issued, bucket, amount, unit))
        touched = {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}
        touched.add(line.main_account_id)
        states = ledger.states(sorted(touched))
        balances = check_posting(transfers, states)
        balances.setdefault(line.main_account_id, states[line.main_account_id].balance)
        record = TransactionRecord(
            id=transaction_id,
            msisdn=msisdn.e164,
            operator=line.operator,
            kind=TransactionKind.BUNDLE_PURCHASE,
            channel=channel,
            amount_qepik=plan.price_qepik,
            vat_qepik=plan.vat_qepik,
            balance_after_qepik=balances[line.main_account_id],
            valid_until=line.valid_until,
            created_at=now,
            verification_code=codes.code_for(transaction_id),
            bundle_code=bundle.code,
            bundle_expires_at=plan.expires_at,
        )
        ledger.post(record, transfers)
        if payer == line.main_account_id:
            balance_watch.main_balance_fell(
                uow,
                line,
                before_qepik=states[line.main_account_id].balance,
                after_qepik=record.balance_after_qepik,
                key=transaction_id,
                now=now,
            )
        uow.commit()
    return record
