"""A customer's orders, newest first, a page at a time (the portal's history)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

from topup.domain.errors import InvalidCursor, InvalidInput
from topup.domain.orders import Order, OrderState
from topup.services.orders import LIST_LIMIT_MAX
from topup.services.ports import UnitOfWork

PAGE_SIZE_MAX = 100
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class OrdersPage:
    items: list[Order]
    next_cursor: str | None


def encode_cursor(order: Order) -> str:
    raw = f"{order.created_at.isoformat()}|{order.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, order_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(moment)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("This cursor is not one we gave out.") from None
    if created_at.tzinfo is None or not order_id.isalnum():
        raise InvalidCursor("This cursor is not one we gave out.")
    return created_at, order_id


def orders_page(
    uow: UnitOfWork,
    *,
    scope: str,
    state: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    cursor: str | None = None,
    limit: int = 20,
) -> OrdersPage:
    """Orders placed by `scope`, after `cursor` (newest first). Orders share a creation time only when placed
    in the same microsecond; the page reads past up to `LIST_LIMIT_MAX` of those."""
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise InvalidInput(f"limit must be between 1 and {PAGE_SIZE_MAX}.", field="limit")
    if state is not None and state not in {s.value for s in OrderState}:
        raise InvalidInput("Unknown order status.", field="status")
    after = decode_cursor(cursor) if cursor else None
    upper = created_to
    if after is not None:
        upper = after[0] + _TICK if upper is None else min(upper, after[0] + _TICK)
    with uow:
        rows = uow.orders.list(
            scope=scope,
            msisdn=None,
            state=state,
            created_from=created_from,
            created_to=upper,
            limit=LIST_LIMIT_MAX if after is not None else limit + 1,
        )
    if after is not None:
        rows = [order for order in rows if (order.created_at, order.id) < after]
    items = rows[:limit]
    return OrdersPage(items, encode_cursor(items[-1]) if len(rows) > limit else None)
