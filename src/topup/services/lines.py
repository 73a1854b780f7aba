"""Provision lines and read their balances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from topup.domain.errors import IccidInUse, LineExists, LineNotFound
from topup.domain.ledger import AccountKind, Unit
from topup.domain.lines import Line, LineStatus, LineType, check_iccid, check_language
from topup.domain.numbers import Msisdn, parse_msisdn
from topup.services.numbers import current_operator
from topup.services.ports import BucketView, Clock, UnitOfWork


@dataclass(frozen=True, slots=True)
class Balance:
    line: Line
    main_qepik: int
    buckets: list[BucketView]


def provision_line(
    uow: UnitOfWork,
    clock: Clock,
    *,
    number: str,
    line_type: LineType = LineType.PREPAID,
    iccid: str | None = None,
    language: str = "az",
    status: LineStatus = LineStatus.ACTIVE,
    valid_until: date | None = None,
) -> Line:
    """Open a line on the operator that serves the number now, with an empty main balance."""
    msisdn = parse_msisdn(number)
    check_language(language)
    if iccid is not None:
        check_iccid(iccid)
    with uow:
        operator, _, _ = current_operator(uow, msisdn)
        if uow.lines.get(msisdn) is not None:
            raise LineExists("This line is already provisioned.", msisdn=msisdn.e164)
        if iccid is not None and uow.lines.iccid_taken(iccid):
            raise IccidInUse("This ICCID belongs to another line.", iccid=iccid)
        now = clock.now()
        main_account_id = uow.ledger.open_account(kind=AccountKind.MAIN, unit=Unit.QEPIK, msisdn=msisdn, now=now)
        line = Line(
            msisdn=msisdn,
            operator=operator,
            type=line_type,
            status=status,
            language=language,
            main_account_id=main_account_id,
            iccid=iccid,
            valid_until=valid_until if line_type is LineType.PREPAID else None,
        )
        uow.lines.add(line, now=now)
        uow.commit()
    return line


def require_line(uow: UnitOfWork, msisdn: Msisdn, *, for_update: bool = False) -> Line:
    line = uow.lines.get(msisdn, for_update=for_update)
    if line is None:
        current_operator(uow, msisdn)  # a number nobody serves says so, rather than "no such line"
        raise LineNotFound("No line is provisioned with this number.", msisdn=msisdn.e164)
    return line


def get_line(uow: UnitOfWork, *, number: str) -> Line:
    msisdn = parse_msisdn(number)
    with uow:
        return require_line(uow, msisdn)


def balance(uow: UnitOfWork, clock: Clock, *, number: str) -> Balance:
    msisdn = parse_msisdn(number)
    with uow:
        line = require_line(uow, msisdn)
        main = uow.ledger.states([line.main_account_id])[line.main_account_id]
        buckets = uow.ledger.buckets(msisdn, now=clock.now())
    return Balance(line, main.balance, buckets)
