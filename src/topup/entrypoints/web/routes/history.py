"""The subscriber's history: the line's transactions and the orders they placed, filtered, a page at a time,
each with its receipt (view, print, PDF); and the same lists as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from topup.adapters.receipts.content import receipt_content
from topup.domain.calendar import BAKU
from topup.domain.errors import DomainError
from topup.domain.history import TransactionRecord
from topup.domain.ledger import TransactionKind
from topup.domain.money import format_amount
from topup.domain.orders import Order, OrderState
from topup.domain.sign_in import WebSession
from topup.entrypoints.web import messages
from topup.entrypoints.web.forms import PortalRefusal, Problems
from topup.entrypoints.web.messages import NOT_FOUND
from topup.entrypoints.web.portal import Portal, PortalDep, SignedInDep, subscriber_scope
from topup.entrypoints.web.rendering import HEADERS
from topup.entrypoints.web.routes.orders import order_url, receipt_page, receipt_pdf
from topup.entrypoints.web.words import Words, words_of
from topup.services import history, order_history
from topup.services.history import Receipt

router = APIRouter()
PAGE_SIZE = 20
CSV_ROWS_MAX = 2_000  # a year of a busy line; more is a matter for the API
CSV_PAGE = 200
LISTS = ("transactions", "orders")
ParamQuery = Annotated[str, Query(max_length=300)]


@dataclass(frozen=True, slots=True)
class HistoryFilters:
    list: str = "transactions"
    kind: str = ""
    status: str = ""
    date_from: str = ""
    date_to: str = ""

    def query(self, **extra: str) -> str:
        values = {"list": self.list, "kind": self.kind, "status": self.status, "from": self.date_from}
        values["to"] = self.date_to
        return urlencode({k: v for k, v in {**values, **extra}.items() if v})


def _day(text: str, name: str, words: Words, problems: Problems) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.add(name, words.translate(messages.INVALID_FIELDS["from/to"]))
        return None


def _bounds(filters: HistoryFilters, words: Words, problems: Problems) -> tuple[datetime | None, datetime | None]:
    """Baku days, both included: from the first day's midnight to the midnight after the last."""
    first, last = _day(filters.date_from, "from", words, problems), _day(filters.date_to, "to", words, problems)
    start = datetime.combine(first, time(0), tzinfo=BAKU) if first else None
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=BAKU) if last and last < date.max else None
    return start, end


def _filters(
    listed: str, kind: str, status: str, date_from: str, date_to: str, words: Words, problems: Problems
) -> HistoryFilters:
    if listed not in LISTS:
        listed = "transactions"
    if kind and kind not in {k.value for k in TransactionKind}:
        words.add_code(problems, "kind", "choice_invalid")
        kind = ""
    if status and status not in {s.value for s in OrderState}:
        words.add_code(problems, "status", "choice_invalid")
        status = ""
    return HistoryFilters(listed, kind, status, date_from[:10], date_to[:10])


@router.get("/account/history", response_class=HTMLResponse)
def history_page(
    request: Request,
    portal: PortalDep,
    session: SignedInDep,
    listed: Annotated[str, Query(alias="list", max_length=20)] = "transactions",
    kind: Annotated[str, Query(max_length=30)] = "",
    status: Annotated[str, Query(max_length=30)] = "",
    date_from: Annotated[str, Query(alias="from", max_length=30)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=30)] = "",
    cursor: ParamQuery = "",
) -> Response:
    words, problems = words_of(request), Problems()
    filters = _filters(listed, kind, status, date_from, date_to, words, problems)
    start, end = _bounds(filters, words, problems)
    transactions: list[TransactionRecord] = []
    placed: list[Order] = []
    next_cursor = None
    application = portal.application
    try:
        if filters.list == "transactions":
            page = history.transactions(
                application.uow(),
                number=session.msisdn,
                kinds=[filters.kind] if filters.kind else None,
                created_from=start,
                created_to=end,
                cursor=cursor or None,
                limit=PAGE_SIZE,
            )
            transactions, next_cursor = page.items, page.next_cursor
        else:
            listed_orders = order_history.orders_page(
                application.uow(),
                scope=subscriber_scope(session),
                state=filters.status or None,
                created_from=start,
                created_to=end,
                cursor=cursor or None,
                limit=PAGE_SIZE,
            )
            placed, next_cursor = listed_orders.items, listed_orders.next_cursor
    except DomainError as error:
        words.add(problems, error, field="")
    return portal.pages.render(
        request,
        "history.html",
        filters=filters,
        problems=problems,
        transactions=transactions,
        orders=placed,
        next_url=f"/account/history?{filters.query(cursor=next_cursor)}" if next_cursor else None,
        first_url=f"/account/history?{filters.query()}" if cursor else None,
        csv_url=f"/account/history.csv?{filters.query()}",
        kinds=[k.value for k in TransactionKind],
        states=[s.value for s in OrderState],
        order_link=lambda order_id: order_url(portal, order_id),
    )


@router.get("/account/history.csv")
def history_csv(
    request: Request,
    portal: PortalDep,
    session: SignedInDep,
    listed: Annotated[str, Query(alias="list", max_length=20)] = "transactions",
    kind: Annotated[str, Query(max_length=30)] = "",
    status: Annotated[str, Query(max_length=30)] = "",
    date_from: Annotated[str, Query(alias="from", max_length=30)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=30)] = "",
) -> Response:
    """Plain values (ISO times in Baku, amounts as "5.00") so a spreadsheet in any language reads them."""
    words, problems = words_of(request), Problems()
    filters = _filters(listed, kind, status, date_from, date_to, words, problems)
    start, end = _bounds(filters, words, problems)
    if problems:
        raise PortalRefusal("choice_invalid", 422)
    out = io.StringIO()
    writer = csv.writer(out)
    if filters.list == "transactions":
        writer.writerow(
            [
                "created_at",
                "kind",
                "channel",
                "amount_azn",
                "vat_azn",
                "balance_after_azn",
                "bundle",
                "transaction_id",
                "verification_code",
            ]
        )
        for record in _all_transactions(portal, session, filters, start, end):
            writer.writerow(
                [
                    record.created_at.astimezone(BAKU).isoformat(timespec="seconds"),
                    record.kind.value,
                    record.channel,
                    format_amount(record.amount_qepik),
                    format_amount(record.vat_qepik),
                    format_amount(record.balance_after_qepik),
                    record.bundle_code or "",
                    record.id,
                    record.verification_code,
                ]
            )
    else:
        writer.writerow(
            ["created_at", "status", "number", "product", "amount_azn", "charged", "currency", "method", "order_id"]
        )
        for order in _all_orders(portal, session, filters, start, end):
            writer.writerow(
                [
                    order.created_at.astimezone(BAKU).isoformat(timespec="seconds"),
                    order.state.value,
                    order.msisdn,
                    order.bundle_code or order.product_type,
                    format_amount(order.amount_qepik),
                    order.charge_minor,
                    order.currency,
                    order.payment_method.value,
                    order.id,
                ]
            )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="topup-{filters.list}.csv"'},
    )


def _all_transactions(
    portal: Portal, session: WebSession, filters: HistoryFilters, start: datetime | None, end: datetime | None
) -> list[TransactionRecord]:
    rows: list[TransactionRecord] = []
    cursor = None
    while len(rows) < CSV_ROWS_MAX:
        page = history.transactions(
            portal.application.uow(),
            number=session.msisdn,
            kinds=[filters.kind] if filters.kind else None,
            created_from=start,
            created_to=end,
            cursor=cursor,
            limit=CSV_PAGE,
        )
        rows += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    return rows[:CSV_ROWS_MAX]


def _all_orders(
    portal: Portal, session: WebSession, filters: HistoryFilters, start: datetime | None, end: datetime | None
) -> list[Order]:
    rows: list[Order] = []
    cursor = None
    while len(rows) < CSV_ROWS_MAX:
        page = order_history.orders_page(
            portal.application.uow(),
            scope=subscriber_scope(session),
            state=filters.status or None,
            created_from=start,
            created_to=end,
            cursor=cursor,
            limit=order_history.PAGE_SIZE_MAX,
        )
        rows += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    return rows[:CSV_ROWS_MAX]


def _receipt(portal: Portal, request: Request, session: WebSession, transaction_id: str) -> Receipt:
    try:
        found = history.receipt_for(
            portal.application.uow(),
            transaction_id=transaction_id,
            msisdn=session.msisdn,
            order_scope=subscriber_scope(session),
        )
    except DomainError:
        raise PortalRefusal(NOT_FOUND, 404) from None
    return replace(found, language=words_of(request).language)


# The PDF's route comes first: "{transaction_id}" would also match "<id>.pdf".
@router.get("/account/receipts/{transaction_id}.pdf")
def receipt_download(transaction_id: str, request: Request, portal: PortalDep, session: SignedInDep) -> Response:
    return receipt_pdf(_receipt(portal, request, session, transaction_id))


@router.get("/account/receipts/{transaction_id}", response_class=HTMLResponse)
def receipt_view(
    transaction_id: str,
    request: Request,
    portal: PortalDep,
    session: SignedInDep,
    bought: Annotated[str, Query(max_length=2)] = "",
) -> Response:
    receipt = _receipt(portal, request, session, transaction_id)
    return portal.pages.render(
        request,
        "receipt.html",
        receipt=receipt_content(receipt),
        bought=bool(bought),
        links={
            "print": f"/account/receipts/{transaction_id}/print",
            "pdf": f"/account/receipts/{transaction_id}.pdf",
        },
    )


@router.get("/account/receipts/{transaction_id}/print", response_class=HTMLResponse)
def receipt_print(transaction_id: str, request: Request, portal: PortalDep, session: SignedInDep) -> Response:
    return receipt_page(portal, _receipt(portal, request, session, transaction_id))
