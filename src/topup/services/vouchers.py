"""Scratch-card vouchers (see `topup.domain.vouchers`): batches, distribution, activation, redemption.

Redemption is exactly once: the card's row is locked, checked, and moved from active to redeemed by a
conditional UPDATE in the same transaction as the top-up; a second redemption racing the first waits for the
row and then finds it redeemed. A wrong PIN counts against the number (3 lock voucher redemption for it for
24 hours) and against the client (an API key or an address), and the count is committed even though the
answer is an error.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from topup.domain.errors import InvalidInput
from topup.domain.history import TransactionRecord
from topup.domain.numbers import parse_msisdn
from topup.domain.vouchers import (
    CLIENT_WINDOW,
    PIN_DIGITS,
    REDEMPTIONS_PER_CLIENT_MAX,
    SERIAL_DIGITS,
    VALIDITY_DAYS_DEFAULT,
    WRONG_PIN_LOCK,
    WRONG_PINS_MAX,
    Batch,
    Voucher,
    VoucherEvent,
    VoucherExpired,
    VoucherInvalid,
    VoucherLocked,
    VoucherNotFound,
    VoucherState,
    VoucherTransitionNotAllowed,
    VoucherUsed,
    VoucherWrongOperator,
    can_move,
    check_batch_size,
    check_pin,
    check_serial,
)
from topup.services import rate_limits, topups
from topup.services.agents import require_agent
from topup.services.lines import require_line
from topup.services.ports import Clock, Digests, ReceiptCodes, UnitOfWork

VOUCHER_CHANNEL = "voucher"
_PIN_PURPOSE = "voucher-pin"
_GENERATE_CHUNK = 2000  # cards per transaction while a batch is generated
MOVE_MAX = 100_000


@dataclass(frozen=True, slots=True)
class Vouchers:
    clock: Clock
    codes: ReceiptCodes
    digests: Digests


@dataclass(frozen=True, slots=True)
class PrintedCard:
    """What the printer needs: the only place a plain PIN ever exists."""

    serial: str
    pin: str
    nominal_qepik: int
    operator: str
    expires_at: datetime


def generate(
    uow: UnitOfWork,
    vouchers: Vouchers,
    *,
    operator: str,
    nominal_qepik: int,
    count: int,
    actor: str,
    validity_days: int = VALIDITY_DAYS_DEFAULT,
    progress: Callable[[int], None] | None = None,
) -> tuple[Batch, list[PrintedCard]]:
    """A batch of `count` cards of `nominal_qepik` for `operator`. The PINs are returned (for the encrypted
    export) and stored only as keyed hashes. Cards are written in chunks; `progress` hears how many so far."""
    check_batch_size(count)
    if not 1 <= validity_days <= 3650:
        raise InvalidInput("A batch is valid for 1 to 3650 days.", field="validity_days")
    now = vouchers.clock.now()
    with uow:
        rules = uow.catalogue.current().operator(operator)
        rules.ensure_open()
        rules.topup.check_amount(nominal_qepik)  # a card is a top-up: it must be one the operator accepts
        batch = Batch(
            id=uuid.uuid4().hex,
            operator=operator,
            nominal_qepik=nominal_qepik,
            count=count,
            expires_at=now + timedelta(days=validity_days),
            created_at=now,
            created_by=actor[:100],
        )
        uow.vouchers.add_batch(batch)
        uow.commit()
    printed: list[PrintedCard] = []
    while len(printed) < count:
        printed += _generate_chunk(uow, vouchers, batch, min(_GENERATE_CHUNK, count - len(printed)), actor=actor)
        if progress is not None:
            progress(len(printed))
    return batch, printed


def _generate_chunk(uow: UnitOfWork, vouchers: Vouchers, batch: Batch, size: int, *, actor: str) -> list[PrintedCard]:
    with uow:
        cards: dict[str, tuple[str, str]] = {}  # serial -> (pin, pin hash)
        hashes: set[str] = set()
        while len(cards) < size:
            wanted = size - len(cards)
            candidates = {_digits(SERIAL_DIGITS): _digits(PIN_DIGITS) for _ in range(wanted)}
            with_hashes = {
                serial: (pin, vouchers.digests.digest(_PIN_PURPOSE, pin)) for serial, pin in candidates.items()
            }
            taken_serials, taken_pins = uow.vouchers.taken(
                list(with_hashes), [pin_hash for _, pin_hash in with_hashes.values()]
            )
            for serial, (pin, pin_hash) in with_hashes.items():
                if serial in taken_serials or pin_hash in taken_pins or serial in cards or pin_hash in hashes:
                    continue  # astronomically rare; drawn again
                cards[serial] = (pin, pin_hash)
                hashes.add(pin_hash)
        now = vouchers.clock.now()
        rows = [
            (
                Voucher(
                    serial=serial,
                    batch_id=batch.id,
                    operator=batch.operator,
                    nominal_qepik=batch.nominal_qepik,
                    state=VoucherState.GENERATED,
                    expires_at=batch.expires_at,
                    created_at=now,
                    updated_at=now,
                ),
                pin_hash,
            )
            for serial, (_, pin_hash) in cards.items()
        ]
        uow.vouchers.add_cards(rows, actor=actor)
        uow.commit()
    return [
        PrintedCard(serial, pin, batch.nominal_qepik, batch.operator, batch.expires_at)
        for serial, (pin, _) in sorted(cards.items())
    ]


def _digits(count: int) -> str:
    first = str(secrets.randbelow(9) + 1)  # no leading zero: a card reads the same however it is typed
    return first + "".join(str(secrets.randbelow(10)) for _ in range(count - 1))


def distribute(uow: UnitOfWork, clock: Clock, *, serials: list[str], agent_id: str, actor: str) -> list[str]:
    """Hand printed cards to an agent (generated -> distributed); returns the serials moved."""
    return _move(uow, clock, serials, VoucherState.GENERATED, VoucherState.DISTRIBUTED, actor, agent_id=agent_id)


def activate(
    uow: UnitOfWork, clock: Clock, *, serials: list[str], actor: str, agent_id: str | None = None
) -> list[str]:
    """Put distributed cards on sale (distributed -> active). An agent activates only its own cards."""
    return _move(uow, clock, serials, VoucherState.DISTRIBUTED, VoucherState.ACTIVE, actor, owner=agent_id)


def void(uow: UnitOfWork, clock: Clock, *, serials: list[str], actor: str, reason: str) -> list[str]:
    """Withdraw cards that are not redeemed (stolen, misprinted); each moved from wherever it was."""
    moved: list[str] = []
    for source in (VoucherState.GENERATED, VoucherState.DISTRIBUTED, VoucherState.ACTIVE):
        moved += _move(uow, clock, serials, source, VoucherState.VOID, actor, reason=reason or "voided")
    return sorted(moved)


def expire_due(uow: UnitOfWork, clock: Clock, *, limit: int = 500) -> int:
    """The worker's job: cards past their expiry that were never redeemed become expired."""
    now = clock.now()
    with uow:
        serials = uow.vouchers.expired_serials(now=now, limit=limit)
        for source in (VoucherState.GENERATED, VoucherState.DISTRIBUTED, VoucherState.ACTIVE):
            uow.vouchers.move(
                serials, source=source, target=VoucherState.EXPIRED, actor="worker", reason="expired", now=now
            )
        uow.commit()
    return len(serials)


def serials_of_batch(uow: UnitOfWork, *, batch_id: str, state: VoucherState | None = None) -> list[str]:
    with uow:
        if uow.vouchers.batch(batch_id) is None:
            raise VoucherNotFound("There is no batch with this id.", batch_id=batch_id[:64])
        return uow.vouchers.serials_in(batch_id, state=state, limit=MOVE_MAX)


def status(uow: UnitOfWork, *, serial: str, agent_id: str | None = None) -> tuple[Voucher, list[VoucherEvent]]:
    """A card's state by its serial, with its history (never its PIN). For an agent (`agent_id`), only the cards
    handed to it exist."""
    serial = check_serial(serial)
    with uow:
        voucher = uow.vouchers.get(serial)
        if voucher is None or agent_id not in (None, voucher.agent_id):
            raise VoucherNotFound("There is no card with this serial.", serial=serial)
        return voucher, uow.vouchers.events(serial)


def redeem(
    uow: UnitOfWork,
    vouchers: Vouchers,
    *,
    pin: str,
    number: str,
    client: str,
    channel: str = VOUCHER_CHANNEL,
) -> TransactionRecord:
    """Top up `number` with the card whose PIN this is (one's own number or anyone's). `client` names who is
    asking (an API key, an address, the USSD gateway) for the rate limit."""
    msisdn = parse_msisdn(number)
    now = vouchers.clock.now()
    lock_key = f"voucher-pin:{msisdn.e164}"
    with uow:
        rate_limits.hit(
            uow,
            f"voucher-client:{client}",
            limit=REDEMPTIONS_PER_CLIENT_MAX,
            window=CLIENT_WINDOW,
            now=now,
            what="card redemptions from this client",
        )
        locked_until = uow.lockouts.locked_until(lock_key)
        if locked_until is not None and now < locked_until:
            raise VoucherLocked(
                "Too many wrong card codes for this number: card top-ups are locked for 24 hours.",
                retry_at=locked_until.isoformat(),
            )
        uow.commit()  # the client's count stands whatever happens next
    try:
        digits = check_pin(pin)
    except InvalidInput:
        _wrong_pin(uow, lock_key, now=now)
        raise
    pin_hash = vouchers.digests.digest(_PIN_PURPOSE, digits)
    try:
        return _redeem(uow, vouchers, pin_hash, msisdn.e164, channel=channel, now=now)
    except VoucherInvalid:
        _wrong_pin(uow, lock_key, now=now)
        raise


def _redeem(
    uow: UnitOfWork, vouchers: Vouchers, pin_hash: str, msisdn: str, *, channel: str, now: datetime
) -> TransactionRecord:
    with uow:
        line = require_line(uow, parse_msisdn(msisdn), for_update=True)
        voucher = uow.vouchers.by_pin_hash(pin_hash, for_update=True)
        if voucher is None:
            raise VoucherInvalid("This card code is not valid.")
        if voucher.state is VoucherState.REDEEMED:
            raise VoucherUsed("This card was used already.", serial=voucher.serial)
        if voucher.state is VoucherState.ACTIVE and now >= voucher.expires_at:
            uow.vouchers.move(
                [voucher.serial],
                source=VoucherState.ACTIVE,
                target=VoucherState.EXPIRED,
                actor="redemption",
                reason="expired",
                now=now,
            )
            uow.commit()
            raise VoucherExpired("This card has expired.", serial=voucher.serial)
        if voucher.state is not VoucherState.ACTIVE:
            raise VoucherInvalid("This card code is not valid.")  # not on sale yet, void or expired: all alike
        if voucher.operator != line.operator:
            raise VoucherWrongOperator(
                "This card is for another operator's numbers.",
                card_operator=voucher.operator,
                line_operator=line.operator,
            )
        record = topups.top_up(
            uow, vouchers.clock, vouchers.codes, number=msisdn, amount_qepik=voucher.nominal_qepik, channel=channel
        )
        if not uow.vouchers.redeem(voucher.serial, msisdn=msisdn, transaction_id=record.id, actor=channel, now=now):
            raise VoucherUsed("This card was used already.", serial=voucher.serial)  # rolls the top-up back
        uow.lockouts.clear(f"voucher-pin:{msisdn}")
        uow.commit()
    return record


def _wrong_pin(uow: UnitOfWork, lock_key: str, *, now: datetime) -> None:
    with uow:
        failures = uow.lockouts.fail(lock_key, now=now, window_start_after=now - WRONG_PIN_LOCK)
        if failures >= WRONG_PINS_MAX:
            uow.lockouts.lock(lock_key, until=now + WRONG_PIN_LOCK)
        uow.commit()


def _move(
    uow: UnitOfWork,
    clock: Clock,
    serials: list[str],
    source: VoucherState,
    target: VoucherState,
    actor: str,
    *,
    agent_id: str | None = None,
    owner: str | None = None,
    reason: str | None = None,
) -> list[str]:
    if not can_move(source, target):
        raise VoucherTransitionNotAllowed(f"A card cannot go from {source.value} to {target.value}.")
    if not 1 <= len(serials) <= MOVE_MAX:
        raise InvalidInput(f"Give 1 to {MOVE_MAX} serials.", field="serials")
    checked = [check_serial(serial) for serial in serials]
    with uow:
        if agent_id is not None:
            require_agent(uow, agent_id)
        if owner is not None:
            checked = [s for s in checked if (v := uow.vouchers.get(s)) is not None and v.agent_id == owner]
        moved = uow.vouchers.move(
            checked,
            source=source,
            target=target,
            actor=actor,
            reason=reason or target.value,
            now=clock.now(),
            agent_id=agent_id,
        )
        uow.commit()
    return moved
