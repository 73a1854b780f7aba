"""Scratch-card vouchers: a 10-digit serial printed on the card, a 13-digit PIN under the scratch panel.

Life of a card: generated (printed) -> distributed (handed to an agent) -> active (on sale) -> redeemed; or void
(withdrawn by staff) or expired (not redeemed in time). Every change is audited. A PIN is kept only as a keyed
hash; the plain PINs exist only in the encrypted export for the card printer. A PIN redeems exactly once.

Guessing: 3 wrong PINs from one number lock voucher redemption for that number for 24 hours (Azercell's
rule); each client (an API key, an address, a USSD gateway) is rate-limited too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from topup.domain.errors import DomainError, ErrorKind, InvalidInput

PIN_DIGITS = 13
SERIAL_DIGITS = 10
WRONG_PINS_MAX = 3
WRONG_PIN_LOCK = timedelta(hours=24)
REDEMPTIONS_PER_CLIENT_MAX = 60  # an hour, per API key or address: above this someone is guessing
CLIENT_WINDOW = timedelta(hours=1)
BATCH_SIZE_MAX = 100_000
VALIDITY_DAYS_DEFAULT = 730


class VoucherState(StrEnum):
    GENERATED = "generated"
    DISTRIBUTED = "distributed"
    ACTIVE = "active"
    REDEEMED = "redeemed"
    VOID = "void"
    EXPIRED = "expired"


_ALLOWED: dict[VoucherState, frozenset[VoucherState]] = {
    VoucherState.GENERATED: frozenset({VoucherState.DISTRIBUTED, VoucherState.VOID, VoucherState.EXPIRED}),
    VoucherState.DISTRIBUTED: frozenset({VoucherState.ACTIVE, VoucherState.VOID, VoucherState.EXPIRED}),
    VoucherState.ACTIVE: frozenset({VoucherState.REDEEMED, VoucherState.VOID, VoucherState.EXPIRED}),
    VoucherState.REDEEMED: frozenset(),
    VoucherState.VOID: frozenset(),
    VoucherState.EXPIRED: frozenset(),
}


class VoucherInvalid(DomainError):
    """No card has this PIN, or it cannot be redeemed (the same answer either way: a guesser learns nothing)."""

    code = "voucher_invalid"


class VoucherExpired(DomainError):
    code = "voucher_expired"


class VoucherUsed(DomainError):
    code = "voucher_already_redeemed"
    kind = ErrorKind.CONFLICT


class VoucherWrongOperator(DomainError):
    code = "voucher_wrong_operator"


class VoucherLocked(DomainError):
    code = "voucher_redemption_locked"
    kind = ErrorKind.CONFLICT


class VoucherNotFound(DomainError):
    code = "voucher_not_found"
    kind = ErrorKind.NOT_FOUND


class VoucherTransitionNotAllowed(DomainError):
    code = "voucher_transition_not_allowed"
    kind = ErrorKind.CONFLICT


def can_move(source: VoucherState, target: VoucherState) -> bool:
    return target in _ALLOWED[source]


def check_pin(pin: str) -> str:
    """A PIN as typed (spaces and dashes allowed between digits) -> its 13 digits."""
    digits = pin.replace(" ", "").replace("-", "")
    if len(digits) != PIN_DIGITS or not digits.isdigit() or not digits.isascii():
        raise InvalidInput(f"A voucher PIN has {PIN_DIGITS} digits.", field="pin")
    return digits


def check_serial(serial: str) -> str:
    digits = serial.replace(" ", "")
    if len(digits) != SERIAL_DIGITS or not digits.isdigit() or not digits.isascii():
        raise InvalidInput(f"A voucher serial has {SERIAL_DIGITS} digits.", field="serial")
    return digits


def check_batch_size(count: int) -> int:
    if not 1 <= count <= BATCH_SIZE_MAX:
        raise InvalidInput(f"A batch has 1 to {BATCH_SIZE_MAX} cards.", field="count")
    return count


@dataclass(frozen=True, slots=True)
class Voucher:
    serial: str
    batch_id: str
    operator: str
    nominal_qepik: int
    state: VoucherState
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    agent_id: str | None = None
    redeemed_at: datetime | None = None
    redeemed_msisdn: str | None = None
    redeemed_transaction_id: str | None = None


@dataclass(frozen=True, slots=True)
class VoucherEvent:
    serial: str
    source: VoucherState
    target: VoucherState
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Batch:
    id: str
    operator: str
    nominal_qepik: int
    count: int
    expires_at: datetime
    created_at: datetime
    created_by: str
