"""Quick top-up without an account: the number (any format) and its operator, an amount within the operator's
limits (and the validity it gives), then a quote to pay on the checkout page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from topup.domain.errors import DomainError
from topup.domain.quotes import ProductType
from topup.entrypoints.web.forms import Form, Problems, amount_field
from topup.entrypoints.web.messages import REQUIRED
from topup.entrypoints.web.portal import FormDep, Portal, PortalDep, SessionDep
from topup.entrypoints.web.rendering import redirect
from topup.entrypoints.web.visitor import visitor_id
from topup.entrypoints.web.words import Words, words_of
from topup.services import checkout, numbers, quotes, top_up_terms
from topup.services.top_up_terms import TopUpTerms

router = APIRouter()
OTHER = "other"  # the amount radio that means "the amount I type"
FIELD_LENGTH_MAX = 40


@dataclass(frozen=True, slots=True)
class TopUpForm:
    """What the visitor typed, as typed (shown again beside the problems)."""

    number: str = ""
    operator: str = ""
    amount: str = ""  # a preset's value in qəpik, or OTHER
    amount_other: str = ""
    currency: str = "AZN"

    @classmethod
    def of(cls, form: Form) -> TopUpForm:
        return cls(
            form.get("number")[:FIELD_LENGTH_MAX],
            form.get("operator")[:FIELD_LENGTH_MAX],
            form.get("amount")[:FIELD_LENGTH_MAX],
            form.get("amount_other")[:FIELD_LENGTH_MAX],
            form.get("currency", "AZN")[:8],
        )

    @property
    def uses_preset(self) -> bool:
        """A preset, unless the visitor typed an amount of their own (without JavaScript the radio may still
        be on a preset while they type)."""
        return self.amount not in ("", OTHER) and not self.amount_other

    @property
    def amount_text(self) -> str:
        return self.amount if self.uses_preset else self.amount_other


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    portal: PortalDep,
    session: SessionDep,
    number: Annotated[str, Query(max_length=FIELD_LENGTH_MAX)] = "",
    amount: Annotated[str, Query(max_length=FIELD_LENGTH_MAX)] = "",
) -> Response:
    """The quick top-up form; `number` and `amount` fill it in again (a failed payment's "try again")."""
    if not number and session is not None:
        number = session.msisdn
    preset = amount if amount.isdigit() and int(amount) in top_up_terms.PRESETS_QEPIK else ""
    typed = TopUpForm(
        number=number, amount=preset or (OTHER if amount else "500"), amount_other="" if preset else amount
    )
    return _page(request, portal, typed, Problems())


@router.post("/topup", response_class=HTMLResponse)
def ask_for_quote(request: Request, portal: PortalDep, form: FormDep) -> Response:
    typed = TopUpForm.of(form)
    words = words_of(request)
    problems = Problems()
    application = portal.application
    terms = _number_terms(portal, typed, words, problems)
    amount_qepik = _amount(typed, words, problems)
    if terms is not None and amount_qepik is not None:
        try:
            top_up_terms.terms_for(application.uow(), application.clock, number=typed.number, amount_qepik=amount_qepik)
        except DomainError as error:
            words.add(problems, error, field="amount")
    if typed.currency not in checkout.currencies_offered(application.uow()):
        words.add_code(problems, "currency", "choice_invalid")
    if problems or terms is None or amount_qepik is None:
        return _page(request, portal, typed, problems, status=422)
    try:
        quote = quotes.quote(
            application.uow(),
            application.clock,
            number=terms.number.msisdn.e164,
            product_type=ProductType.TOPUP,
            amount_qepik=amount_qepik,
            currency=typed.currency,
            lock_seconds=application.settings.quote_lock_seconds,
        )
    except DomainError as error:
        words.add(problems, error, field="currency")
        return _page(request, portal, typed, problems, status=422)
    return redirect(f"/checkout/{portal.signer.quote_reference(visitor_id(request), quote.id)}")


@router.get("/topup/check", response_class=HTMLResponse)
def check(
    request: Request,
    portal: PortalDep,
    number: Annotated[str, Query(max_length=FIELD_LENGTH_MAX)] = "",
    operator: Annotated[str, Query(max_length=FIELD_LENGTH_MAX)] = "",
    amount: Annotated[str, Query(max_length=FIELD_LENGTH_MAX)] = "",
) -> Response:
    """What the form says as the visitor types (the same checks as on submit): a fragment for the page's
    script to put in place."""
    words = words_of(request)
    problems = Problems()
    typed = TopUpForm(number=number, operator=operator, amount=OTHER, amount_other=amount)
    terms = _number_terms(portal, typed, words, problems) if number else None
    amount_qepik = _amount(typed, words, problems) if amount else None
    if terms is not None and amount_qepik is not None:
        try:
            terms = top_up_terms.terms_for(
                portal.application.uow(), portal.application.clock, number=number, amount_qepik=amount_qepik
            )
        except DomainError as error:
            words.add(problems, error, field="amount")
    return portal.pages.render(request, "_check.html", terms=terms, problems=problems, typed=typed)


def _number_terms(portal: Portal, typed: TopUpForm, words: Words, problems: Problems) -> TopUpTerms | None:
    if not typed.number:
        words.add_code(problems, "number", REQUIRED)
        return None
    application = portal.application
    try:
        terms = top_up_terms.terms_for(application.uow(), application.clock, number=typed.number)
        if typed.operator:
            numbers.check_operator(application.uow(), number=typed.number, operator=typed.operator)
    except DomainError as error:
        words.add(problems, error, field="number")
        return None
    if not terms.line_known:
        words.add_code(problems, "number", "line_not_found")
        return None
    return terms


def _amount(typed: TopUpForm, words: Words, problems: Problems) -> int | None:
    text = typed.amount_text
    if not text:
        words.add_code(problems, "amount", REQUIRED)
        return None
    if typed.uses_preset:  # a preset: its value is in qəpik
        if not text.isdigit() or len(text) > 9:
            words.add_code(problems, "amount", "choice_invalid")
            return None
        return int(text)
    try:
        return amount_field(text)
    except DomainError as error:
        words.add(problems, error, field="amount")
        return None


def _page(request: Request, portal: Portal, typed: TopUpForm, problems: Problems, *, status: int = 200) -> Response:
    application = portal.application
    operators = top_up_terms.operators(application.uow())
    currencies = checkout.currencies_offered(application.uow())
    terms = None
    if typed.number and not problems.of("number"):
        try:
            terms = top_up_terms.terms_for(application.uow(), application.clock, number=typed.number)
        except DomainError:
            terms = None
    presets = terms.presets_qepik if terms is not None else top_up_terms.PRESETS_QEPIK
    return portal.pages.render(
        request,
        "home.html",
        status=status,
        typed=typed,
        problems=problems,
        operators=operators,
        currencies=currencies,
        presets=presets,
        terms=terms,
        other=OTHER,
    )
