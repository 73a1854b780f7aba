"""What a subscriber sees first: the main balance and its validity, what is left of each bundle, and what the
line used day by day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from topup.domain.catalogue import Bundle
from topup.domain.ledger import Unit
from topup.domain.numbers import parse_msisdn
from topup.services.charging import DayOfUse, usage_by_day
from topup.services.lines import Balance, require_line
from topup.services.ports import Clock, UnitOfWork

USAGE_DAYS = 30


@dataclass(frozen=True, slots=True)
class Allowance:
    unit: Unit
    left: int
    initial: int


@dataclass(frozen=True, slots=True)
class BundleLeft:
    """One purchase of a bundle that has not expired, used up or not."""

    bundle_code: str
    bundle: Bundle | None  # None when the bundle has since left the catalogue
    transaction_id: str
    expires_at: datetime
    allowances: tuple[Allowance, ...]


@dataclass(frozen=True, slots=True)
class Overview:
    balance: Balance
    bundles: list[BundleLeft]
    usage: list[DayOfUse]


def overview(uow: UnitOfWork, clock: Clock, *, number: str, days: int = USAGE_DAYS) -> Overview:
    msisdn = parse_msisdn(number)
    now = clock.now()
    with uow:
        line = require_line(uow, msisdn)
        main = uow.ledger.states([line.main_account_id])[line.main_account_id]
        views = uow.ledger.buckets(msisdn, now=now, include_empty=True)
        bundles = uow.catalogue.current().operator(line.operator).bundles
    purchases: dict[str, list[Allowance]] = {}
    facts: dict[str, tuple[str, datetime]] = {}
    for view in views:  # a purchase is one bucket per allowance, all with the purchase's expiry
        purchases.setdefault(view.transaction_id, []).append(
            Allowance(view.bucket.unit, view.bucket.balance, view.initial)
        )
        facts[view.transaction_id] = (view.bundle_code, view.bucket.expires_at)
    left = [
        BundleLeft(code, bundles.get(code), transaction_id, expires_at, tuple(purchases[transaction_id]))
        for transaction_id, (code, expires_at) in facts.items()
    ]
    left.sort(key=lambda item: (item.expires_at, item.transaction_id))
    live = [view for view in views if view.bucket.balance > 0]
    balance = Balance(line, main.balance, live)
    return Overview(balance, left, usage_by_day(uow, clock, number=msisdn.e164, days=days))
