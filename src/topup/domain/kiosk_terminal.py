"""The kiosk's own side (the terminal in a mall or a metro station), which must keep working offline.

A **visit** is one customer at the screen: the number (and the operator detected for it), the banknotes the
acceptor took, the fee. The kiosk gives no change, so what is inserted is paid: fee = the kiosk's commission
rate of it, the rest is credited, and the customer confirms only once the credited amount reaches the
operator's minimum. A confirmed visit becomes a **queued payment** in the kiosk's durable local store, in the
same local transaction; a forwarder sends queued payments to the server, oldest first, until each is answered.
The kiosk's payment id (the visit's id) makes forwarding exactly once: the server credits an id once, however
often it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from topup.domain.agents import commission_of
from topup.domain.errors import DomainError, ErrorKind

ABANDONED_AFTER = timedelta(minutes=10)  # cash in, no confirmation: the kiosk pays it in for the customer
FORWARD_EVERY = timedelta(seconds=15)


class VisitState(StrEnum):
    OPEN = "open"
    PAID = "paid"  # confirmed: its payment is queued (or forwarded)


class ForwardState(StrEnum):
    QUEUED = "queued"  # not answered by the server yet
    CREDITED = "credited"
    REFUSED = "refused"  # the server took it but could not credit the line: staff give the cash back
    CONFLICT = "conflict"  # the server knows this id with other figures: the kiosk needs a technician


class BelowMinimum(DomainError):
    code = "below_minimum"


class VisitClosed(DomainError):
    code = "visit_closed"
    kind = ErrorKind.CONFLICT


class VisitNotFound(DomainError):
    code = "visit_not_found"
    kind = ErrorKind.NOT_FOUND


@dataclass
class Visit:
    id: str  # also the payment's id at the server
    msisdn: str
    national: str
    operator: str
    language: str
    fee_basis_points: int
    minimum_qepik: int
    maximum_qepik: int
    created_at: datetime
    offline: bool  # the operator and fee were worked out without the server (prefix, last known rates)
    banknotes: list[int] = field(default_factory=list)
    state: VisitState = VisitState.OPEN
    paid_at: datetime | None = None

    @property
    def inserted_qepik(self) -> int:
        return sum(self.banknotes) * 100

    @property
    def fee_qepik(self) -> int:
        return commission_of(self.inserted_qepik, self.fee_basis_points)

    @property
    def credited_qepik(self) -> int:
        return self.inserted_qepik - self.fee_qepik

    @property
    def can_pay(self) -> bool:
        return self.state is VisitState.OPEN and self.minimum_qepik <= self.credited_qepik

    def ensure_open(self) -> None:
        if self.state is not VisitState.OPEN:
            raise VisitClosed("This payment is done already.", visit=self.id)

    def pay(self, *, now: datetime) -> None:
        self.ensure_open()
        if self.credited_qepik < self.minimum_qepik:
            raise BelowMinimum("Insert more: the amount credited must reach the operator's minimum.")
        self.state, self.paid_at = VisitState.PAID, now

    def room_for(self, note_azn: int) -> bool:
        """Whether one more note keeps the credited amount within the operator's maximum."""
        inserted = (sum(self.banknotes) + note_azn) * 100
        return inserted - commission_of(inserted, self.fee_basis_points) <= self.maximum_qepik


@dataclass
class QueuedPayment:
    local_id: str
    msisdn: str
    banknotes: list[int]
    paid_at: datetime
    state: ForwardState = ForwardState.QUEUED
    attempts: int = 0
    forwarded_at: datetime | None = None
    credited_qepik: int | None = None
    verification_code: str | None = None
    failure_code: str | None = None
