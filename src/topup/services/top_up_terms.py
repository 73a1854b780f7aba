"""What a number can be topped up with: its operator (ports included), the operator's limits, the amounts to
offer, and — for an amount — the usage period it gives. Asked as a visitor types, before any quote."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from topup.domain.catalogue import OperatorStatus
from topup.domain.quotes import ProductType
from topup.services.numbers import NumberInfo, look_up
from topup.services.ports import Clock, UnitOfWork
from topup.services.quotes import price

# What most people top up with (AZN): offered first, where the operator's limits allow them.
PRESETS_QEPIK = (100, 300, 500, 1000, 2000)


@dataclass(frozen=True, slots=True)
class OperatorChoice:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class TopUpTerms:
    number: NumberInfo
    operator_name: str
    amount_min_qepik: int
    amount_max_qepik: int
    denominations_qepik: tuple[int, ...]  # empty: any amount between the minimum and the maximum
    presets_qepik: tuple[int, ...]
    line_known: bool  # only provisioned lines can be ordered for
    amount_qepik: int | None = None
    validity_days: int | None = None  # days of usage period the amount gives
    valid_until: date | None = None  # the line's usage period after the top-up


def operators(uow: UnitOfWork) -> list[OperatorChoice]:
    """The open operators, by name: what a visitor may pick when the number was ported."""
    with uow:
        found = uow.catalogue.current().operators.values()
    return sorted(
        (OperatorChoice(op.code, op.name) for op in found if op.status is OperatorStatus.ACTIVE),
        key=lambda choice: choice.name,
    )


def terms_for(uow: UnitOfWork, clock: Clock, *, number: str, amount_qepik: int | None = None) -> TopUpTerms:
    """The number's top-up terms; with `amount_qepik`, checked against the operator's rules and the line
    (`amount_out_of_range`, `line_barred`, ...) and with the validity it gives."""
    info = look_up(uow, number)
    with uow:
        operator = uow.catalogue.current().operator(info.operator)
        line_known = uow.lines.get(info.msisdn) is not None
    rules = operator.topup
    presets = rules.denominations_qepik or tuple(
        amount for amount in PRESETS_QEPIK if rules.amount_min_qepik <= amount <= rules.amount_max_qepik
    )
    terms = TopUpTerms(
        number=info,
        operator_name=operator.name,
        amount_min_qepik=rules.amount_min_qepik,
        amount_max_qepik=rules.amount_max_qepik,
        denominations_qepik=rules.denominations_qepik,
        presets_qepik=presets,
        line_known=line_known,
    )
    if amount_qepik is None:
        return terms
    quoted = price(uow, clock, number=info.msisdn.e164, product_type=ProductType.TOPUP, amount_qepik=amount_qepik)
    return replace(terms, amount_qepik=amount_qepik, validity_days=quoted.validity_days, valid_until=quoted.valid_until)
