"""Cash kiosks, server side (see `topup.domain.kiosks`): the fee a kiosk shows before the customer confirms,
the payments kiosks forward (store and forward: each credited once, whatever the retries), and encashment.

A forwarded payment has already happened: the customer's cash is in the box. If the line cannot take it when
it arrives (barred since, or never ours), the payment is still recorded, as refused, so the cash is accounted
for at encashment and given back by staff; the kiosk is told, and shows nothing more to anyone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from topup.domain.agents import Agent, AgentKind, MovementKind, NotAKiosk, commission_of
from topup.domain.errors import DomainError, InvalidInput
from topup.domain.kiosks import (
    Collection,
    KioskPayment,
    KioskPaymentState,
    KioskReplayConflict,
    check_banknotes,
    check_local_id,
)
from topup.domain.ledger import Transfer, Unit
from topup.domain.money import AMOUNT_MAX_QEPIK
from topup.domain.numbers import parse_msisdn
from topup.services import topups
from topup.services.agents import record_movement, require_agent
from topup.services.lines import require_line
from topup.services.numbers import current_operator
from topup.services.ports import Clock, ReceiptCodes, UnitOfWork
from topup.services.topups import funding_account_code

KIOSK_CHANNEL = "kiosk"
COLLECTIONS_SHOWN_MAX = 100


@dataclass(frozen=True, slots=True)
class KioskQuote:
    msisdn: str
    operator: str
    national: str
    inserted_qepik: int
    fee_qepik: int
    credited_qepik: int
    fee_basis_points: int


@dataclass(frozen=True, slots=True)
class Encashment:
    """What the box should hold now: the payments since the last collection."""

    kiosk: Agent
    payments: list[KioskPayment]

    @property
    def expected_qepik(self) -> int:
        return sum(p.inserted_qepik for p in self.payments)

    @property
    def refused(self) -> list[KioskPayment]:
        return [p for p in self.payments if p.state is KioskPaymentState.REFUSED]


def quote(uow: UnitOfWork, *, kiosk_id: str, number: str, inserted_qepik: int) -> KioskQuote:
    """The fee and what the line gets, for the kiosk's confirmation screen."""
    msisdn = parse_msisdn(number)
    if not 0 < inserted_qepik <= AMOUNT_MAX_QEPIK:
        raise InvalidInput("The inserted amount must be positive.", field="inserted")
    with uow:
        _kiosk(uow, kiosk_id)
        line = require_line(uow, msisdn)
        line.ensure_open()
        rate = uow.agents.commission_rate(AgentKind.KIOSK, line.operator)
    fee = commission_of(inserted_qepik, rate)
    return KioskQuote(msisdn.e164, line.operator, msisdn.national, inserted_qepik, fee, inserted_qepik - fee, rate)


def accept_payment(
    uow: UnitOfWork,
    clock: Clock,
    codes: ReceiptCodes,
    *,
    kiosk_id: str,
    local_id: str,
    number: str,
    banknotes: Sequence[int],
    paid_at: datetime,
) -> KioskPayment:
    """A payment the kiosk took (now, or earlier while it was offline). The same `local_id` again returns the
    payment as first recorded; with other figures it is refused (`kiosk_payment_conflict`)."""
    local_id = check_local_id(local_id)
    inserted = check_banknotes(banknotes)
    paid_at = paid_at.astimezone(UTC)  # stored in UTC: a replay reads back the same moment, the same way
    msisdn = parse_msisdn(number).e164
    now = clock.now()
    with uow:
        kiosk = _kiosk(uow, kiosk_id)
        earlier = uow.kiosks.payment(kiosk.id, local_id)
    if earlier is not None:
        return _replay(earlier, msisdn, banknotes)
    try:
        return _credit(uow, clock, codes, kiosk, local_id, msisdn, tuple(banknotes), inserted, paid_at)
    except _AlreadyRecorded:
        return _recorded(uow, kiosk.id, local_id, msisdn, banknotes)
    except DomainError as refused:  # the cash is in the box all the same: keep it on the books, refused
        payment = KioskPayment(
            id=uuid.uuid4().hex,
            kiosk_id=kiosk.id,
            local_id=local_id,
            msisdn=msisdn,
            operator=_operator_or_unknown(uow, msisdn),
            inserted_qepik=inserted,
            fee_qepik=0,
            credited_qepik=0,
            banknotes=tuple(banknotes),
            paid_at=paid_at,
            received_at=now,
            state=KioskPaymentState.REFUSED,
            failure_code=refused.code,
        )
        with uow:
            recorded = uow.kiosks.add_payment(payment)
            uow.commit()
        if not recorded:  # a concurrent forward of the same payment got there first
            return _recorded(uow, kiosk.id, local_id, msisdn, banknotes)
        return payment


def _recorded(uow: UnitOfWork, kiosk_id: str, local_id: str, msisdn: str, banknotes: Sequence[int]) -> KioskPayment:
    with uow:
        first = uow.kiosks.payment(kiosk_id, local_id)
    assert first is not None  # it was recorded by the forward that won the race
    return _replay(first, msisdn, banknotes)


def _credit(
    uow: UnitOfWork,
    clock: Clock,
    codes: ReceiptCodes,
    kiosk: Agent,
    local_id: str,
    msisdn: str,
    banknotes: tuple[int, ...],
    inserted: int,
    paid_at: datetime,
) -> KioskPayment:
    now = clock.now()
    with uow:
        line = require_line(uow, parse_msisdn(msisdn), for_update=True)
        locked = _kiosk(uow, kiosk.id, for_update=True)
        locked.ensure_may_sell()
        fee = commission_of(inserted, uow.agents.commission_rate(AgentKind.KIOSK, line.operator))
        record = topups.top_up(uow, clock, codes, number=msisdn, amount_qepik=inserted - fee, channel=KIOSK_CHANNEL)
        payment = KioskPayment(
            id=uuid.uuid4().hex,
            kiosk_id=kiosk.id,
            local_id=local_id,
            msisdn=msisdn,
            operator=line.operator,
            inserted_qepik=inserted,
            fee_qepik=fee,
            credited_qepik=inserted - fee,
            banknotes=banknotes,
            paid_at=paid_at,
            received_at=now,
            state=KioskPaymentState.CREDITED,
            transaction_id=record.id,
        )
        if not uow.kiosks.add_payment(payment):  # forwarded twice at once: the other one counts
            raise _AlreadyRecorded("This kiosk payment was recorded by another forward.")
        record_movement(
            uow,
            clock,
            locked,
            MovementKind.KIOSK_PAYMENT,
            inserted,
            [],
            msisdn=msisdn,
            transaction_id=record.id,
            operator=line.operator,
            product="topup",
        )
        if fee:  # the fee withheld from the customer's cash is the kiosk's commission
            funding = uow.ledger.system_account(funding_account_code(line.operator, KIOSK_CHANNEL), Unit.QEPIK)
            record_movement(
                uow,
                clock,
                locked,
                MovementKind.COMMISSION,
                fee,
                [Transfer(funding, locked.commission_account_id, fee, Unit.QEPIK)],
                transaction_id=record.id,
                operator=line.operator,
                product="topup",
            )
        uow.commit()
    return payment


class _AlreadyRecorded(DomainError):
    code = "kiosk_payment_recorded"


def encashment(uow: UnitOfWork, *, kiosk_id: str) -> Encashment:
    with uow:
        kiosk = _kiosk(uow, kiosk_id)
        return Encashment(kiosk, uow.kiosks.uncollected(kiosk.id))


def collect(
    uow: UnitOfWork, clock: Clock, *, kiosk_id: str, counted_qepik: int, collected_by: str, note: str | None = None
) -> Collection:
    """The box is emptied and counted: the collection takes every payment not collected yet, and records the
    difference between what was counted and what the payments say was put in."""
    if counted_qepik < 0:
        raise InvalidInput("The counted amount cannot be negative.", field="counted")
    collected_by = collected_by.strip()[:100]
    if not collected_by:
        raise InvalidInput("Say who collected the cash.", field="collected_by")
    with uow:
        kiosk = _kiosk(uow, kiosk_id, for_update=True)  # one collection at a time per kiosk
        payments = uow.kiosks.uncollected(kiosk.id)
        collection = Collection(
            id=uuid.uuid4().hex,
            kiosk_id=kiosk.id,
            collected_at=clock.now(),
            expected_qepik=sum(p.inserted_qepik for p in payments),
            counted_qepik=counted_qepik,
            payments=len(payments),
            collected_by=collected_by,
            note=(note or "").strip()[:200] or None,
        )
        uow.kiosks.add_collection(collection, [p.id for p in payments])
        uow.commit()
    return collection


def collections(uow: UnitOfWork, *, kiosk_id: str) -> list[Collection]:
    with uow:
        kiosk = _kiosk(uow, kiosk_id)
        return uow.kiosks.collections(kiosk.id, limit=COLLECTIONS_SHOWN_MAX)


def _replay(earlier: KioskPayment, msisdn: str, banknotes: Sequence[int]) -> KioskPayment:
    if not earlier.same_as(msisdn, banknotes):
        raise KioskReplayConflict(
            "This kiosk payment was forwarded before with another number or other banknotes.",
            local_id=earlier.local_id,
        )
    return earlier


def _kiosk(uow: UnitOfWork, kiosk_id: str, *, for_update: bool = False) -> Agent:
    kiosk = require_agent(uow, kiosk_id, for_update=for_update)
    if not kiosk.is_kiosk:
        raise NotAKiosk("This agent is not a kiosk.", agent_id=kiosk_id[:64])
    return kiosk


def _operator_or_unknown(uow: UnitOfWork, msisdn: str) -> str:
    try:
        with uow:
            return current_operator(uow, parse_msisdn(msisdn))[0]
    except DomainError:
        return "unknown"
