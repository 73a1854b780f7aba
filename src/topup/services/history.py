"""A line's transactions, newest first, with filters and an opaque cursor; receipts."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from topup.domain.catalogue import Bundle, Operator
from topup.domain.errors import InvalidCursor, InvalidInput, ReceiptNotFound, TransactionNotFound
from topup.domain.history import HistoryPage, TransactionRecord
from topup.domain.ledger import TransactionKind
from topup.domain.numbers import parse_msisdn
from topup.domain.orders import Order
from topup.services.lines import require_line
from topup.services.ports import UnitOfWork

PAGE_SIZE_MAX = 200


def encode_cursor(record: TransactionRecord) -> str:
    raw = f"{record.created_at.isoformat()}|{record.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, transaction_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(moment)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("This cursor is not one we gave out.") from None
    if created_at.tzinfo is None or not transaction_id.isalnum() or not _representable(created_at):
        raise InvalidCursor("This cursor is not one we gave out.")
    return created_at, transaction_id


def _representable(moment: datetime) -> bool:
    """Dates at the calendar's edge (year 1, year 9999) cannot be moved to UTC for the query."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


def transactions(
    uow: UnitOfWork,
    *,
    number: str,
    kinds: list[str] | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> HistoryPage:
    msisdn = parse_msisdn(number)
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise InvalidInput(f"limit must be between 1 and {PAGE_SIZE_MAX}.", field="limit")
    known = {kind.value for kind in TransactionKind}
    if kinds and not set(kinds) <= known:
        raise InvalidInput(f"kind must be one of {', '.join(sorted(known))}.", field="kind")
    for moment in (created_from, created_to):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput("Dates need a time zone, such as 2026-11-23T00:00:00+04:00.", field="from/to")
        if moment is not None and not _representable(moment):
            raise InvalidInput("Dates must lie between the years 2 and 9998.", field="from/to")
    after = decode_cursor(cursor) if cursor else None
    with uow:
        require_line(uow, msisdn)
        rows = uow.transactions.page(
            msisdn,
            kinds=kinds or [],
            created_from=created_from,
            created_to=created_to,
            after=after,
            limit=limit + 1,
        )
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1]) if len(rows) > limit else None
    return HistoryPage(items, next_cursor)


@dataclass(frozen=True, slots=True)
class Receipt:
    record: TransactionRecord
    operator: Operator
    bundle: Bundle | None
    language: str
    vat_rate_basis_points: int
    order: Order | None = None  # the paid order this transaction delivered, if any


def receipt(uow: UnitOfWork, *, transaction_id: str) -> Receipt:
    with uow:
        record = uow.transactions.get(transaction_id) if transaction_id.isalnum() else None
        if record is None:
            raise TransactionNotFound("There is no transaction with this id.", transaction_id=transaction_id[:64])
        catalogue = uow.catalogue.current()
        operator = catalogue.operator(record.operator)
        bundle = operator.bundles.get(record.bundle_code) if record.bundle_code else None
        line = require_line(uow, parse_msisdn(record.msisdn))
        order = uow.orders.by_delivered_transaction(record.id) if record.channel == "order" else None
    return Receipt(record, operator, bundle, line.language, catalogue.vat_rate_basis_points, order)


_CODE_PATTERN = re.compile(r"[0-9A-Z]{5}-[0-9A-Z]{5}")


def verify_receipt(uow: UnitOfWork, *, code: str) -> TransactionRecord:
    """The transaction a receipt's verification code belongs to; anyone may ask (shops, their customers)."""
    normalised = code.strip().upper().replace(" ", "")
    if len(normalised) == 10:
        normalised = f"{normalised[:5]}-{normalised[5:]}"
    record = None
    if _CODE_PATTERN.fullmatch(normalised):
        with uow:
            record = uow.transactions.by_verification_code(normalised)
    if record is None:
        raise ReceiptNotFound("No receipt has this verification code: it is not genuine, or mistyped.")
    return record


def receipt_for(uow: UnitOfWork, *, transaction_id: str, msisdn: str, order_scope: str) -> Receipt:
    """A receipt a subscriber may see: a transaction of their own line, or one an order of theirs delivered
    (a top-up they paid for another number). Anything else does not exist for them."""
    found = receipt(uow, transaction_id=transaction_id)
    if found.record.msisdn == msisdn or (found.order is not None and found.order.scope == order_scope):
        return found
    raise TransactionNotFound("There is no transaction with this id.", transaction_id=transaction_id[:64])
