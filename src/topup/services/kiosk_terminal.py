"""What the kiosk terminal does (see `topup.domain.kiosk_terminal`): start a visit for a number, take banknotes,
pay, and forward the queued payments to the server — the whole flow working when the server cannot be reached.

Offline, the operator is the number's original one by prefix (a ported number is then credited on the
operator the server knows; the kiosk's guess only changes the screen) and the fee is the last rate the server
gave for that operator (kept in the kiosk's store).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from topup.domain.errors import DomainError, InvalidInput
from topup.domain.kiosk_terminal import (
    ABANDONED_AFTER,
    ForwardState,
    QueuedPayment,
    Visit,
    VisitNotFound,
    VisitState,
)
from topup.domain.kiosks import BANKNOTES_AZN
from topup.domain.numbers import operator_by_prefix, parse_msisdn
from topup.services.ports import Clock

LANGUAGES = ("az", "en", "ru", "zh")
FORWARD_BATCH = 20


class NumberRefused(DomainError):
    """The server will not take payments for this number (`reason`: its error code, e.g. line_barred)."""

    code = "number_refused"


class ServerUnreachable(Exception):
    """The server did not answer (or answered 5xx): try again later; the payment may or may not have arrived,
    which is why it is sent again with the same id."""


class ForwardRefused(Exception):
    """The server refused the request itself (4xx): `code` says why."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ServerQuote:
    operator: str
    national: str
    fee_basis_points: int
    minimum_qepik: int
    maximum_qepik: int


@dataclass(frozen=True, slots=True)
class ServerAnswer:
    state: str  # "credited" or "refused"
    credited_qepik: int
    verification_code: str | None
    failure_code: str | None


class KioskServer(Protocol):
    def quote(self, *, number: str, inserted_qepik: int) -> ServerQuote: ...

    def forward(self, payment: QueuedPayment) -> ServerAnswer: ...


class BillAcceptor(Protocol):
    def take(self, note_azn: int) -> int:
        """The note the device took (its value in AZN), or `BanknoteRejected`: it gave it back."""
        ...


@dataclass(frozen=True, slots=True)
class Rates:
    fee_basis_points: int
    minimum_qepik: int
    maximum_qepik: int


class TerminalStore(Protocol):
    """The kiosk's durable local memory (survives power cuts and restarts)."""

    def add_visit(self, visit: Visit) -> None: ...

    def visit(self, visit_id: str) -> Visit | None: ...

    def save_visit(self, visit: Visit) -> None: ...

    def pay(self, visit: Visit, payment: QueuedPayment) -> None:
        """Mark the visit paid and queue its payment, in one local transaction."""
        ...

    def queued(self, *, limit: int) -> list[QueuedPayment]: ...

    def payment(self, local_id: str) -> QueuedPayment | None: ...

    def save_payment(self, payment: QueuedPayment) -> None: ...

    def abandoned(self, *, before: datetime) -> list[Visit]: ...

    def remember_rates(self, operator: str, rates: Rates) -> None: ...

    def rates(self, operator: str) -> Rates | None: ...

    def counts(self) -> dict[str, int]:
        """Payments by forwarding state (for the technician's status page)."""
        ...


@dataclass(frozen=True, slots=True)
class Terminal:
    clock: Clock
    store: TerminalStore
    acceptor: BillAcceptor
    server: KioskServer


def start_visit(terminal: Terminal, *, number: str, language: str) -> Visit:
    msisdn = parse_msisdn(number)
    if language not in LANGUAGES:
        language = "az"
    now = terminal.clock.now()
    try:
        quote = terminal.server.quote(number=msisdn.e164, inserted_qepik=100)
        rates = Rates(quote.fee_basis_points, quote.minimum_qepik, quote.maximum_qepik)
        terminal.store.remember_rates(quote.operator, rates)
        operator, offline = quote.operator, False
    except ServerUnreachable:
        operator = operator_by_prefix(msisdn) or "unknown"
        known = terminal.store.rates(operator)
        rates = known or Rates(0, 100, 50_000)  # never online yet: no fee, the usual 1 AZN minimum
        offline = True
    except ForwardRefused as refused:  # the server says no to this number (barred, not ours, ...)
        raise NumberRefused("This number cannot be topped up here.", reason=refused.code) from None
    visit = Visit(
        id=f"k-{secrets.token_hex(12)}",
        msisdn=msisdn.e164,
        national=msisdn.national,
        operator=operator,
        language=language,
        fee_basis_points=rates.fee_basis_points,
        minimum_qepik=rates.minimum_qepik,
        maximum_qepik=rates.maximum_qepik,
        created_at=now,
        offline=offline,
    )
    terminal.store.add_visit(visit)
    return visit


def insert(terminal: Terminal, *, visit_id: str, note_azn: int) -> Visit:
    visit = current_visit(terminal, visit_id=visit_id)
    visit.ensure_open()
    if note_azn in BANKNOTES_AZN and not visit.room_for(note_azn):
        raise InvalidInput("This note would take the top-up above the operator's maximum.", field="note")
    taken = terminal.acceptor.take(note_azn)  # an unknown note is given back: BanknoteRejected
    visit.banknotes.append(taken)
    terminal.store.save_visit(visit)
    return visit


def pay(terminal: Terminal, *, visit_id: str) -> QueuedPayment:
    """The customer confirms: the payment is queued durably, then forwarded at once if the server answers."""
    visit = current_visit(terminal, visit_id=visit_id)
    payment = _queue(terminal, visit)
    forward(terminal, payment)
    return terminal.store.payment(payment.local_id) or payment


def forward_pending(terminal: Terminal, *, limit: int = FORWARD_BATCH) -> int:
    """The forwarder's pass: pay in visits customers walked away from, then send queued payments oldest first,
    stopping at the first that cannot reach the server. Returns how many were answered."""
    for visit in terminal.store.abandoned(before=terminal.clock.now() - ABANDONED_AFTER):
        if visit.banknotes:
            _queue(terminal, visit, force=True)
    answered = 0
    for payment in terminal.store.queued(limit=limit):
        if not forward(terminal, payment):
            break
        answered += 1
    return answered


def forward(terminal: Terminal, payment: QueuedPayment) -> bool:
    """Send one queued payment; False when the server could not be reached (it stays queued)."""
    payment.attempts += 1
    try:
        answer = terminal.server.forward(payment)
    except ServerUnreachable:
        terminal.store.save_payment(payment)
        return False
    except ForwardRefused as refused:
        payment.state = ForwardState.CONFLICT if refused.code == "kiosk_payment_conflict" else ForwardState.REFUSED
        payment.failure_code, payment.forwarded_at = refused.code, terminal.clock.now()
        terminal.store.save_payment(payment)
        return True
    payment.state = ForwardState.CREDITED if answer.state == "credited" else ForwardState.REFUSED
    payment.credited_qepik, payment.verification_code = answer.credited_qepik, answer.verification_code
    payment.failure_code, payment.forwarded_at = answer.failure_code, terminal.clock.now()
    terminal.store.save_payment(payment)
    return True


def current_visit(terminal: Terminal, *, visit_id: str) -> Visit:
    visit = terminal.store.visit(visit_id) if len(visit_id) <= 64 else None
    if visit is None:
        raise VisitNotFound("There is no such payment at this kiosk.")
    return visit


def payment_of(terminal: Terminal, *, local_id: str) -> QueuedPayment:
    payment = terminal.store.payment(local_id) if len(local_id) <= 64 else None
    if payment is None:
        raise VisitNotFound("There is no such payment at this kiosk.")
    return payment


def _queue(terminal: Terminal, visit: Visit, *, force: bool = False) -> QueuedPayment:
    now = terminal.clock.now()
    if force:  # walked away: whatever is in goes to the number, even below the minimum (the server may refuse)
        visit.state, visit.paid_at = VisitState.PAID, now
    else:
        visit.pay(now=now)
    payment = QueuedPayment(local_id=visit.id, msisdn=visit.msisdn, banknotes=list(visit.banknotes), paid_at=now)
    terminal.store.pay(visit, payment)
    return payment
