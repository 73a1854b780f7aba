"""Look up a number: E.164, national form, and the operator that serves it now (ports override prefixes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from topup.domain.catalogue import Operator
from topup.domain.errors import DomainError, OperatorNotSupported, PortNotFound
from topup.domain.numbers import Msisdn, operator_by_prefix, parse_msisdn
from topup.services.ports import Clock, UnitOfWork


@dataclass(frozen=True, slots=True)
class NumberInfo:
    msisdn: Msisdn
    national: str
    operator: str
    original_operator: str | None
    ported: bool


def current_operator(uow: UnitOfWork, msisdn: Msisdn) -> tuple[str, str | None, bool]:
    """(operator now, operator by prefix, ported?) — refuses numbers no operator of ours serves."""
    original = operator_by_prefix(msisdn)
    ported_to = uow.ports.operator_for(msisdn)
    if ported_to is not None:
        return ported_to, original, ported_to != original
    if original is None:
        raise OperatorNotSupported(
            "No operator we serve owns this number's prefix.", msisdn=msisdn.e164, national=msisdn.national
        )
    uow.catalogue.current().operator(original).ensure_open()
    return original, original, False


def look_up(uow: UnitOfWork, number: str) -> NumberInfo:
    msisdn = parse_msisdn(number)
    with uow:
        operator, original, ported = current_operator(uow, msisdn)
    return NumberInfo(msisdn, msisdn.national, operator, original, ported)


def _open_operator(uow: UnitOfWork, code: str) -> Operator:
    operator = uow.catalogue.current().operator(code)
    operator.ensure_open()
    return operator


def add_port(uow: UnitOfWork, clock: Clock, *, number: str, operator: str) -> NumberInfo:
    """Record that `number` now belongs to `operator`; a provisioned line follows it."""
    msisdn = parse_msisdn(number)
    with uow:
        _open_operator(uow, operator)
        now = clock.now()
        uow.ports.put(msisdn, operator, now=now)
        if uow.lines.get(msisdn, for_update=True) is not None:
            uow.lines.set_operator(msisdn, operator, now=now)
        original = operator_by_prefix(msisdn)
        uow.commit()
    return NumberInfo(msisdn, msisdn.national, operator, original, operator != original)


def remove_port(uow: UnitOfWork, clock: Clock, *, number: str) -> NumberInfo:
    """Forget a port: the number belongs to its prefix's operator again."""
    msisdn = parse_msisdn(number)
    with uow:
        if not uow.ports.remove(msisdn):
            raise PortNotFound("This number has no port record.", msisdn=msisdn.e164)
        operator, original, ported = current_operator(uow, msisdn)
        if uow.lines.get(msisdn, for_update=True) is not None:
            uow.lines.set_operator(msisdn, operator, now=clock.now())
        uow.commit()
    return NumberInfo(msisdn, msisdn.national, operator, original, ported)


PORTS_LISTED_MAX = 10_000


def list_ports(uow: UnitOfWork, *, limit: int = PORTS_LISTED_MAX) -> list[tuple[Msisdn, str, datetime]]:
    """Ported numbers, by number."""
    with uow:
        return uow.ports.list(limit=min(limit, PORTS_LISTED_MAX))


class WrongOperator(DomainError):
    """The caller named an operator that does not serve the number now (DOMAIN.md: a distinct error, since
    portability means a prefix does not tell the operator)."""

    code = "wrong_operator"


def check_operator(uow: UnitOfWork, *, number: str, operator: str) -> NumberInfo:
    """The number, if `operator` is the one that serves it now; `wrong_operator` (naming the right one)
    otherwise. A visitor who knows the number was ported picks the operator; we hold them to our records."""
    info = look_up(uow, number)
    if operator != info.operator:
        with uow:
            name = uow.catalogue.current().operator(info.operator).name
        raise WrongOperator(
            f"This number is served by {name}.",
            operator=info.operator,
            operator_name=name,
            chosen=operator[:40],
            ported=info.ported,
        )
    return info
