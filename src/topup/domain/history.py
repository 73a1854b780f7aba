"""What a line's history and receipts are made of: immutable records of posted ledger transactions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from topup.domain.ledger import TransactionKind


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """One business event on a line (a top-up, a bundle purchase) and the facts a receipt needs."""

    id: str
    msisdn: str
    operator: str
    kind: TransactionKind
    channel: str
    amount_qepik: int
    vat_qepik: int
    balance_after_qepik: int
    valid_until: date | None
    created_at: datetime
    verification_code: str
    bundle_code: str | None = None
    bundle_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    items: list[TransactionRecord]
    next_cursor: str | None
