"""What happens to bundles with time: an expired bucket's remaining units leave the line (to the operator's
"expired allowances" account), and a bundle marked auto-renew is bought again from the main balance; when the
balance is short, the renewal is retried daily until its period runs out (Azercell retries for 90 days)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from topup.domain.ledger import Unit


@dataclass(frozen=True, slots=True)
class ExpiredBucket:
    account_id: int
    msisdn: str
    unit: Unit
    balance: int
    bundle_code: str | None
    purchase_id: str | None  # the bundle purchase that opened it
    expires_at: datetime


class RenewalState(StrEnum):
    PENDING = "pending"
    RENEWED = "renewed"
    GIVEN_UP = "given_up"


@dataclass
class Renewal:
    """One expired purchase of an auto-renewing bundle, renewed once (or given up on)."""

    source_transaction_id: str
    msisdn: str
    bundle_code: str
    give_up_at: datetime
    created_at: datetime
    state: RenewalState = RenewalState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    renewed_transaction_id: str | None = None
    last_failure: str | None = None
    updated_at: datetime | None = None
