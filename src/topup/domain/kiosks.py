"""Self-service cash kiosks: banknotes in, a top-up out, no change given.

The bill acceptor takes 1, 5, 10, 20, 50 and 100 AZN notes and rejects anything else. The whole inserted
amount is credited minus the kiosk's fee (its commission rate for the operator), which the kiosk shows before
the customer confirms. A kiosk that cannot reach the server keeps each paid transaction in its own durable
queue and forwards it later; the server knows a payment by the kiosk's own id for it, so a payment forwarded
twice is credited once, and one forwarded again with other figures is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from topup.domain.errors import DomainError, ErrorKind, InvalidInput
from topup.domain.money import QEPIK_PER_MANAT

BANKNOTES_AZN = (1, 5, 10, 20, 50, 100)
BANKNOTES_PER_PAYMENT_MAX = 30
LOCAL_ID_LENGTH_MAX = 64


class BanknoteRejected(DomainError):
    code = "banknote_rejected"
    kind = ErrorKind.INVALID


class KioskReplayConflict(DomainError):
    """The kiosk forwarded a payment id it forwarded before, with other figures: a tampered or broken kiosk."""

    code = "kiosk_payment_conflict"
    kind = ErrorKind.CONFLICT


class KioskPaymentState(StrEnum):
    CREDITED = "credited"
    REFUSED = "refused"  # the line could not take it; the cash is in the box and is given back by staff


def check_banknotes(banknotes: Sequence[int]) -> int:
    """The inserted amount in qəpik; refuses an unknown note (the acceptor would have spat it out)."""
    if not 1 <= len(banknotes) <= BANKNOTES_PER_PAYMENT_MAX:
        raise InvalidInput(f"A payment has 1 to {BANKNOTES_PER_PAYMENT_MAX} banknotes.", field="banknotes")
    for note in banknotes:
        if isinstance(note, bool) or note not in BANKNOTES_AZN:
            raise BanknoteRejected("The kiosk takes 1, 5, 10, 20, 50 and 100 AZN notes only.", banknote=str(note)[:10])
    return sum(banknotes) * QEPIK_PER_MANAT


def check_local_id(local_id: str) -> str:
    if not 8 <= len(local_id) <= LOCAL_ID_LENGTH_MAX or not all(c.isalnum() or c in "-_" for c in local_id):
        raise InvalidInput("A kiosk payment id is 8 to 64 letters, digits, '-' or '_'.", field="local_id")
    return local_id


@dataclass(frozen=True, slots=True)
class KioskPayment:
    id: str
    kiosk_id: str
    local_id: str
    msisdn: str
    operator: str
    inserted_qepik: int
    fee_qepik: int
    credited_qepik: int
    banknotes: tuple[int, ...]
    paid_at: datetime
    received_at: datetime
    state: KioskPaymentState
    failure_code: str | None = None
    transaction_id: str | None = None
    collection_id: str | None = None

    def same_as(self, msisdn: str, banknotes: Sequence[int]) -> bool:
        return self.msisdn == msisdn and self.banknotes == tuple(banknotes)


@dataclass(frozen=True, slots=True)
class Collection:
    """An encashment: the kiosk's box emptied and counted against what its payments say was put in."""

    id: str
    kiosk_id: str
    collected_at: datetime
    expected_qepik: int
    counted_qepik: int
    payments: int
    collected_by: str
    note: str | None = None

    @property
    def difference_qepik(self) -> int:
        return self.counted_qepik - self.expected_qepik
