"""The kiosk's touch pages, served by the kiosk itself on loopback: home (operator or number) -> keypad ->
"is this right?" -> banknotes -> pay -> receipt. Plain forms, no JavaScript needed: every key is a button. A
forwarder thread sends the queued payments to the server every 15 seconds (and at once after each payment).

The pages call `services.kiosk_terminal` only; what they show in words is in `texts`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from babel.dates import format_datetime
from babel.numbers import format_currency
from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from topup.domain.calendar import BAKU
from topup.domain.errors import DomainError
from topup.domain.kiosk_terminal import FORWARD_EVERY, ForwardState, QueuedPayment, Visit, VisitState
from topup.domain.kiosks import BANKNOTES_AZN, BanknoteRejected
from topup.entrypoints.kiosk.texts import LANGUAGES, words
from topup.services import kiosk_terminal
from topup.services.kiosk_terminal import Terminal

logger = logging.getLogger("topup.kiosk")
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(), auto_reload=False
)
LOCALES = {"az": "az", "en": "en", "ru": "ru", "zh": "zh_Hans_CN"}


@dataclass(frozen=True, slots=True)
class OperatorButton:
    code: str
    name: str
    prefixes: tuple[str, ...]


OPERATORS = (
    OperatorButton("azercell", "Azercell", ("050", "051", "010")),
    OperatorButton("bakcell", "Bakcell", ("055", "099")),
    OperatorButton("nar", "Nar", ("070", "077")),
)
NUMBER_DIGITS = 10  # 0XX XXX XX XX
Language = Annotated[str, Query(alias="lang", max_length=5)]


def create_kiosk_app(terminal: Terminal, *, forward_every_seconds: float | None = None) -> FastAPI:
    every = FORWARD_EVERY.total_seconds() if forward_every_seconds is None else forward_every_seconds

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = threading.Thread(target=_forwarder, args=(terminal, stop, every), name="kiosk-forwarder", daemon=True)
        thread.start()
        yield
        stop.set()
        thread.join(timeout=10)

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None, title="Topup kiosk")
    app.include_router(_number_pages(terminal))
    app.include_router(_payment_pages(terminal))

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> HTMLResponse:
        lang = request.query_params.get("lang", "az")
        return _page(request, "home.html", lang, operators=OPERATORS, error=words(lang)["error"], status_code=404)

    return app


def _number_pages(terminal: Terminal) -> APIRouter:
    """Home, the keypad, and starting a visit once the number is typed."""
    app = APIRouter()

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request, lang: Language = "az") -> HTMLResponse:
        return _page(request, "home.html", lang, operators=OPERATORS)

    @app.get("/number", response_class=HTMLResponse)
    def keypad(
        request: Request,
        lang: Language = "az",
        prefix: Annotated[str, Query(max_length=3)] = "",
        typed: Annotated[str, Query(max_length=NUMBER_DIGITS)] = "",
    ) -> HTMLResponse:
        digits = "".join(c for c in (typed or prefix) if c.isdigit())[:NUMBER_DIGITS]
        return _keypad(request, lang, digits)

    @app.post("/number", response_model=None)
    def key(
        request: Request,
        lang: Annotated[str, Form(max_length=5)] = "az",
        typed: Annotated[str, Form(max_length=NUMBER_DIGITS)] = "",
        key: Annotated[str, Form(max_length=5)] = "",
    ) -> Response:
        digits = "".join(c for c in typed if c.isdigit())[:NUMBER_DIGITS]
        if key.isdigit() and len(key) == 1 and len(digits) < NUMBER_DIGITS:
            digits += key
        elif key == "erase":
            digits = digits[:-1]
        elif key == "clear":
            digits = ""
        elif key == "next":
            return _start(request, lang, digits)
        return _keypad(request, lang, digits)

    def _start(request: Request, lang: str, digits: str) -> Response:
        try:
            visit = kiosk_terminal.start_visit(terminal, number=digits, language=lang)
        except kiosk_terminal.NumberRefused:
            return _keypad(request, lang, digits, error=words(lang)["number_refused"])
        except DomainError:
            return _keypad(request, lang, digits, error=words(lang)["number_invalid"])
        return RedirectResponse(f"/visits/{visit.id}?lang={lang}", status_code=303)

    return app


def _payment_pages(terminal: Terminal) -> APIRouter:
    """Confirming the operator, banknotes, paying, the receipt, and the technician's status."""
    app = APIRouter()

    @app.get("/visits/{visit_id}", response_class=HTMLResponse)
    def confirm(request: Request, visit_id: str, lang: Language = "az") -> HTMLResponse:
        visit = kiosk_terminal.current_visit(terminal, visit_id=visit_id)
        return _page(request, "confirm.html", lang, visit=visit, operator_name=_operator_name(visit.operator))

    @app.get("/visits/{visit_id}/cash", response_class=HTMLResponse)
    def cash(request: Request, visit_id: str, lang: Language = "az") -> Response:
        visit = kiosk_terminal.current_visit(terminal, visit_id=visit_id)
        if visit.state is VisitState.PAID:
            return RedirectResponse(f"/receipts/{visit.id}?lang={lang}", status_code=303)
        return _cash(request, lang, visit)

    @app.post("/visits/{visit_id}/notes", response_class=HTMLResponse)
    def note(
        request: Request,
        visit_id: str,
        note: Annotated[int, Form(ge=0, le=1000)],
        lang: Annotated[str, Form(max_length=5)] = "az",
    ) -> HTMLResponse:
        try:
            visit = kiosk_terminal.insert(terminal, visit_id=visit_id, note_azn=note)
        except BanknoteRejected:
            visit = kiosk_terminal.current_visit(terminal, visit_id=visit_id)
            return _cash(request, lang, visit, error=words(lang)["note_rejected"])
        except DomainError as refused:
            visit = kiosk_terminal.current_visit(terminal, visit_id=visit_id)
            key = "above_maximum" if refused.details.get("field") == "note" else "error"
            return _cash(request, lang, visit, error=words(lang)[key])
        return _cash(request, lang, visit)

    @app.post("/visits/{visit_id}/pay", response_model=None)
    def pay(request: Request, visit_id: str, lang: Annotated[str, Form(max_length=5)] = "az") -> Response:
        visit = kiosk_terminal.current_visit(terminal, visit_id=visit_id)
        if visit.state is VisitState.PAID:  # a second tap on "Pay": the first one counts
            return RedirectResponse(f"/receipts/{visit.id}?lang={lang}", status_code=303)
        try:
            kiosk_terminal.pay(terminal, visit_id=visit_id)
        except DomainError:
            return _cash(request, lang, visit, error=words(lang)["below_minimum"])
        return RedirectResponse(f"/receipts/{visit.id}?lang={lang}", status_code=303)

    @app.get("/receipts/{local_id}", response_class=HTMLResponse)
    def receipt(request: Request, local_id: str, lang: Language = "az") -> HTMLResponse:
        payment = kiosk_terminal.payment_of(terminal, local_id=local_id)
        visit = kiosk_terminal.current_visit(terminal, visit_id=local_id)
        return _receipt(request, lang, visit, payment)

    @app.get("/status")
    def status() -> dict[str, Any]:
        """For the technician: what the queue holds."""
        return {"payments": terminal.store.counts()}

    return app


def _forwarder(terminal: Terminal, stop: threading.Event, every_seconds: float) -> None:
    while not stop.is_set():
        try:
            kiosk_terminal.forward_pending(terminal)
        except Exception:  # the forwarder must outlive any one bad answer
            logger.exception("forwarding failed; trying again later")
        stop.wait(every_seconds)


def _keypad(request: Request, lang: str, digits: str, *, error: str | None = None) -> HTMLResponse:
    shown = " ".join(part for part in (digits[:3], digits[3:6], digits[6:8], digits[8:10]) if part)
    here = f"/number?typed={digits}" if digits else "/number"  # also in answer to a key: the GET keeps the digits
    return _page(request, "keypad.html", lang, here=here, typed=digits, shown=shown, error=error)


def _cash(request: Request, lang: str, visit: Visit, *, error: str | None = None) -> HTMLResponse:
    t = words(lang)
    credited = _money(visit.credited_qepik, lang)
    return _page(
        request,
        "cash.html",
        lang,
        here=f"/visits/{visit.id}/cash",  # also in answer to a note or to "Pay", which are POSTs
        visit=visit,
        operator_name=_operator_name(visit.operator),
        notes=BANKNOTES_AZN,
        inserted=_money(visit.inserted_qepik, lang),
        fee=_money(visit.fee_qepik, lang),
        fee_percent=f"{visit.fee_basis_points / 100:.2f}",
        credited=credited,
        minimum_notice=t["minimum"].format(minimum=_money(visit.minimum_qepik, lang)),
        pay_label=t["pay"].format(amount=_money(visit.inserted_qepik, lang)),
        error=error,
    )


def _receipt(request: Request, lang: str, visit: Visit, payment: QueuedPayment) -> HTMLResponse:
    t = words(lang)
    amount = _money(visit.credited_qepik if payment.credited_qepik is None else payment.credited_qepik, lang)
    message = {
        ForwardState.CREDITED: t["credited_now"],
        ForwardState.QUEUED: t["queued"],
    }.get(payment.state, t["refused"]).format(amount=amount, number=visit.national)
    return _page(
        request,
        "receipt.html",
        lang,
        visit=visit,
        payment=payment,
        message=message,
        inserted=_money(visit.inserted_qepik, lang),
        fee=_money(visit.fee_qepik, lang),
        credited=amount,
        paid_at=format_datetime(payment.paid_at.astimezone(BAKU), format="medium", locale=_locale(lang)),
    )


def _page(
    request: Request, template: str, lang: str, *, status_code: int = 200, here: str | None = None, **values: Any
) -> HTMLResponse:
    """`here`: the page's own address (a GET) for the language links, when it is not the request's."""
    language = lang if lang in LANGUAGES else "az"
    if here is None:
        query = urlencode([(name, value) for name, value in request.query_params.multi_items() if name != "lang"])
        here = request.url.path + (f"?{query}" if query else "")
    body = TEMPLATES.get_template(template).render(
        t=words(language), language=language, languages=LANGUAGES, here=here, error=values.pop("error", None), **values
    )
    return HTMLResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})


def _money(qepik: int, lang: str) -> str:
    return format_currency(Decimal(qepik) / 100, "AZN", locale=_locale(lang))


def _locale(lang: str) -> str:
    return LOCALES.get(lang, "az")


def _operator_name(code: str) -> str:
    return next((o.name for o in OPERATORS if o.code == code), code.title())
