"""Online charging sessions (see `topup.domain.charging`): open with a reservation, update (report usage, ask for
more), terminate (charge what was used, release the rest), single SMS events, and the worker's time-out job.

Ledger shape. A reservation moves units from the line's buckets and money from its main balance to the
operator's reservation accounts (system accounts: no hot row). The end of a session moves the used units on to
"allowances used", the used money on to usage revenue and VAT, and everything else back where it came from.
So at every moment the line's balances show what it can still spend, and conservation holds per unit.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from topup.domain.calendar import BAKU, baku_date
from topup.domain.catalogue import Tariff
from topup.domain.charging import (
    ChargingSession,
    Grant,
    Hold,
    NoBalance,
    Service,
    SessionNotFound,
    SessionState,
    check_units,
    plan_grant,
)
from topup.domain.errors import DomainError, InvalidInput, LineBarred, LineClosed, LineNotPrepaid
from topup.domain.history import TransactionRecord
from topup.domain.ledger import TransactionKind, Transfer, Unit, check_posting
from topup.domain.lines import Line, LineType
from topup.domain.money import included_vat
from topup.domain.notifications import NotificationKind, data_threshold_crossed
from topup.domain.numbers import parse_msisdn
from topup.services import balance_watch, notifications
from topup.services.bundles import VAT_ACCOUNT
from topup.services.lines import require_line
from topup.services.ports import Clock, ReceiptCodes, UnitOfWork

CHANNEL = "charging"
RESERVED_ACCOUNT = "reserved:{operator}:{unit}"
EXPIRED_ACCOUNT = "allowances_expired:{operator}:{unit}"  # as the expiry job uses
USED_ACCOUNT = "allowances_used:{operator}:{unit}"
USAGE_REVENUE_ACCOUNT = "revenue:usage:{operator}"
# How long a session may go unheard before the worker ends it (Gy's validity time is minutes).
SESSION_VALIDITY = timedelta(minutes=5)
EXPIRY_BATCH = 100


@dataclass(frozen=True, slots=True)
class Charging:
    clock: Clock
    codes: ReceiptCodes
    validity: timedelta = SESSION_VALIDITY


def open_session(
    uow: UnitOfWork,
    charging: Charging,
    *,
    number: str,
    service: Service,
    requested: int,
    roaming: bool = False,
) -> dict[str, Any]:
    """Request 0: reserve up to `requested` units. Refused (`no_balance`, `line_barred`, ...) when none can be."""
    check_units(requested, field_name="requested_units", positive=True)
    msisdn = parse_msisdn(number)
    now = charging.clock.now()
    with uow:
        line = _chargeable_line(uow, msisdn.e164)
        session = ChargingSession(
            id=uuid.uuid4().hex,
            msisdn=msisdn.e164,
            operator=line.operator,
            service=service,
            roaming=roaming,
            created_at=now,
            expires_at=now + charging.validity,
            updated_at=now,
        )
        granted = _reserve(uow, charging, session, line, requested)
        answer = _answer(session, granted=granted)
        session.last_answer = json.dumps(answer)
        uow.charging.add(session)
        uow.commit()
    return answer


def update_session(
    uow: UnitOfWork,
    charging: Charging,
    *,
    session_id: str,
    request_number: int,
    used: int,
    requested: int = 0,
) -> dict[str, Any]:
    """Report `used` units (since the last report) and ask for `requested` more. Running dry is not an error
    here: the answer grants what it can (0 when nothing is left), and the network ends the session."""
    check_units(used, field_name="used_units")
    check_units(requested, field_name="requested_units")
    with uow:
        session = _locked(uow, session_id)
        if session.check_request(request_number):
            return dict(json.loads(session.last_answer))
        session.report(used)
        granted = 0
        if requested:
            try:  # a line barred or run dry mid-session gets no more, but its usage report still counts
                granted = _reserve(uow, charging, session, _chargeable_line(uow, session.msisdn), requested)
            except (NoBalance, LineBarred, LineClosed):
                granted = 0
        now = charging.clock.now()
        session.request_number = request_number
        session.expires_at = now + charging.validity
        session.updated_at = now
        answer = _answer(session, granted=granted)
        session.last_answer = json.dumps(answer)
        uow.charging.save(session)
        uow.commit()
    return answer


def terminate_session(
    uow: UnitOfWork, charging: Charging, *, session_id: str, request_number: int, used: int
) -> dict[str, Any]:
    """The final report: charge what was used, release the rest. A repeat of this request gets the same answer;
    anything after it is refused (`session_terminated`)."""
    check_units(used, field_name="used_units")
    with uow:
        session = _locked(uow, session_id)
        if session.check_request(request_number):
            return dict(json.loads(session.last_answer))
        session.report(used)
        session.request_number = request_number
        answer = _end(uow, charging, session)
        uow.commit()
    return answer


def charge_event(
    uow: UnitOfWork, charging: Charging, *, number: str, units: int = 1, roaming: bool = False
) -> dict[str, Any]:
    """An SMS: reserved and charged at once, all or nothing (one message cannot be half sent)."""
    check_units(units, field_name="units", positive=True)
    with uow:
        answer = open_session(uow, charging, number=number, service=Service.SMS, requested=units, roaming=roaming)
        if answer["granted_units"] < units:
            raise NoBalance("Not enough allowance or balance for this message.", service=Service.SMS.value)
        session = _locked(uow, answer["session_id"])
        session.report(units)
        session.request_number = 1
        ended = _end(uow, charging, session)
        uow.commit()
    return ended


def get_session(uow: UnitOfWork, *, session_id: str) -> dict[str, Any]:
    with uow:
        session = uow.charging.get(session_id) if session_id.isalnum() else None
    if session is None:
        raise SessionNotFound("There is no charging session with this id.", session_id=session_id[:64])
    if session.state is SessionState.TERMINATED:
        return dict(json.loads(session.last_answer))  # the final answer, with why it ended
    return _answer(session, granted=0)


def end_expired(uow: UnitOfWork, charging: Charging, *, limit: int = EXPIRY_BATCH) -> int:
    """The worker's job: end sessions not heard from within their validity, charging what they reported."""
    with uow:
        expired = uow.charging.expired(now=charging.clock.now(), limit=limit)
    for session_id in expired:
        with uow:
            session = _locked(uow, session_id)
            # Listed, then locked: an update may have landed in between and given it more time.
            if session.state is SessionState.OPEN and session.expires_at <= charging.clock.now():
                session.request_number += 1
                _end(uow, charging, session, reason="timed out")
            uow.commit()
    return len(expired)


def _locked(uow: UnitOfWork, session_id: str) -> ChargingSession:
    session = uow.charging.get(session_id, for_update=True) if session_id.isalnum() else None
    if session is None:
        raise SessionNotFound("There is no charging session with this id.", session_id=session_id[:64])
    return session


def _chargeable_line(uow: UnitOfWork, e164: str) -> Line:
    line = require_line(uow, parse_msisdn(e164), for_update=True)  # one posting at a time per line
    line.ensure_open()
    if line.type is not LineType.PREPAID:
        raise LineNotPrepaid("Postpaid lines are billed by the operator, not charged online.", msisdn=e164)
    return line


def _tariff(uow: UnitOfWork, line: Line, *, roaming: bool, now: datetime) -> Tariff | None:
    """The out-of-bundle tariff (abroad: the operator's roaming tariff), or None where the main balance may not
    be used: abroad when the catalogue gives the operator no roaming prices (then only roaming bundles serve),
    or after the line's usage period has ended."""
    if line.valid_until is not None and baku_date(now) > line.valid_until:
        return None
    operator = uow.catalogue.current().operator(line.operator)
    return operator.roaming_tariff if roaming else operator.tariff


def _reserve(uow: UnitOfWork, charging: Charging, session: ChargingSession, line: Line, requested: int) -> int:
    now = charging.clock.now()
    unit = session.service.unit
    catalogue = uow.catalogue.current()
    roaming_bundles = {b.code for b in catalogue.operator(line.operator).bundles.values() if b.roaming}
    views = [
        view
        for view in uow.ledger.buckets(line.msisdn, now=now, include_empty=True)
        if view.bucket.unit is unit and (not session.roaming or view.bundle_code in roaming_bundles)
    ]
    buckets = [view.bucket for view in views if view.bucket.balance > 0]
    operator_bundles = catalogue.operator(line.operator).bundles
    throttle_kbps = max(
        (operator_bundles[v.bundle_code].throttle_kbps for v in views if v.bundle_code in operator_bundles),
        default=0,
    )
    main = uow.ledger.states([line.main_account_id])[line.main_account_id]
    grant = plan_grant(
        session.service,
        requested,
        buckets=buckets,
        main_balance_qepik=main.balance,
        tariff=_tariff(uow, line, roaming=session.roaming, now=now),
        now=now,
        throttled=throttle_kbps > 0,
    )
    if grant.throttled_units:
        session.throttle_kbps = throttle_kbps
    _post_reservation(uow, charging, session, line, grant)
    session.add(grant)
    return grant.units


def _post_reservation(uow: UnitOfWork, charging: Charging, session: ChargingSession, line: Line, grant: Grant) -> None:
    ledger = uow.ledger
    unit = session.service.unit
    transfers = []
    if grant.holds:
        reserved_units = ledger.system_account(RESERVED_ACCOUNT.format(operator=line.operator, unit=unit), unit)
        transfers += [Transfer(hold.account_id, reserved_units, hold.units, unit) for hold in grant.holds]
    if grant.money_qepik:
        reserved_money = ledger.system_account(
            RESERVED_ACCOUNT.format(operator=line.operator, unit=Unit.QEPIK), Unit.QEPIK
        )
        transfers.append(Transfer(line.main_account_id, reserved_money, grant.money_qepik, Unit.QEPIK))
    if transfers:
        _post(uow, charging, session, line, TransactionKind.RESERVATION, transfers, amount_qepik=grant.money_qepik)


def _end(
    uow: UnitOfWork, charging: Charging, session: ChargingSession, *, reason: str = "terminated"
) -> dict[str, Any]:
    line = require_line(uow, parse_msisdn(session.msisdn), for_update=True)
    now = charging.clock.now()
    # Money held was priced at the operator's tariff (abroad, its roaming tariff): what is used of it is charged
    # at that tariff.
    rates = uow.catalogue.current().operator(line.operator)
    tariff = (rates.roaming_tariff if session.roaming else rates.tariff) if session.money_qepik else None
    settlement = session.settle(tariff)
    ledger = uow.ledger
    unit = session.service.unit
    operator = line.operator
    transfers: list[Transfer] = []
    if settlement.bucket_used or settlement.bucket_returned:
        reserved_units = ledger.system_account(RESERVED_ACCOUNT.format(operator=operator, unit=unit), unit)
        used_units = ledger.system_account(USED_ACCOUNT.format(operator=operator, unit=unit), unit)
        transfers += [Transfer(reserved_units, used_units, hold.units, unit) for hold in settlement.bucket_used]
        # Units go back to their bucket, unless it expired meanwhile: then they expire with it. A bucket whose
        # every unit this session held stands at zero now, and is live all the same (include_empty).
        live = {view.bucket.account_id for view in ledger.buckets(line.msisdn, now=now, include_empty=True)}
        expired = ledger.system_account(EXPIRED_ACCOUNT.format(operator=operator, unit=unit), unit)
        transfers += [
            Transfer(reserved_units, h.account_id if h.account_id in live else expired, h.units, unit)
            for h in settlement.bucket_returned
        ]
    vat_qepik = 0
    if session.money_qepik:
        reserved_money = ledger.system_account(RESERVED_ACCOUNT.format(operator=operator, unit=Unit.QEPIK), Unit.QEPIK)
        charged = settlement.money_charged_qepik
        vat_qepik = included_vat(charged, uow.catalogue.current().vat_rate_basis_points)
        if charged - vat_qepik:
            revenue = ledger.system_account(USAGE_REVENUE_ACCOUNT.format(operator=operator), Unit.QEPIK)
            transfers.append(Transfer(reserved_money, revenue, charged - vat_qepik, Unit.QEPIK))
        if vat_qepik:
            vat = ledger.system_account(VAT_ACCOUNT.format(operator=operator), Unit.QEPIK)
            transfers.append(Transfer(reserved_money, vat, vat_qepik, Unit.QEPIK))
        if settlement.money_returned_qepik:
            transfers.append(
                Transfer(reserved_money, line.main_account_id, settlement.money_returned_qepik, Unit.QEPIK)
            )
    session.state = SessionState.TERMINATED
    session.charged_qepik = settlement.money_charged_qepik
    session.updated_at = now
    if transfers:
        record = _post(
            uow,
            charging,
            session,
            line,
            TransactionKind.USAGE,
            transfers,
            amount_qepik=session.charged_qepik,
            vat_qepik=vat_qepik,
        )
        session.transaction_id = record.id
        _tell(uow, session, line, settlement.bucket_used, record, now=now)
    answer = _answer(session, granted=0, reason=reason)
    session.last_answer = json.dumps(answer)
    uow.charging.save(session)
    return answer


def _tell(
    uow: UnitOfWork,
    session: ChargingSession,
    line: Line,
    used: tuple[Hold, ...],
    record: TransactionRecord,
    *,
    now: datetime,
) -> None:
    """Thresholds this session's use crossed: 75 % and 90 % of a bundle's data, and a low main balance. Each is
    told once: crossing happens once per bucket, and once per fall below the low mark."""
    catalogue = uow.catalogue.current()
    if session.service is Service.DATA and used:
        live = {view.bucket.account_id: view for view in uow.ledger.buckets(line.msisdn, now=now)}
        for hold in used:
            view = live.get(hold.account_id)
            if view is None:
                continue
            after = view.bucket.balance
            crossed = data_threshold_crossed(view.initial, after + hold.units, after)
            if crossed is None:
                continue
            try:
                bundle = catalogue.bundle(view.bundle_code, operator=line.operator)
            except DomainError:
                continue
            percent = "90" if crossed is NotificationKind.DATA_90 else "75"
            params = {"percent": percent, **notifications.bundle_names(bundle)}
            notifications.queue(uow, line=line, kind=crossed, key=f"{hold.account_id}", params=params, now=now)
    after_qepik = record.balance_after_qepik
    balance_watch.main_balance_fell(
        uow, line, before_qepik=after_qepik + session.charged_qepik, after_qepik=after_qepik, key=record.id, now=now
    )


def _post(
    uow: UnitOfWork,
    charging: Charging,
    session: ChargingSession,
    line: Line,
    kind: TransactionKind,
    transfers: list[Transfer],
    *,
    amount_qepik: int,
    vat_qepik: int = 0,
) -> TransactionRecord:
    touched = {t.debit_account_id for t in transfers} | {t.credit_account_id for t in transfers}
    states = uow.ledger.states(sorted(touched | {line.main_account_id}))
    balances = check_posting(transfers, states)
    transaction_id = uuid.uuid4().hex
    record = TransactionRecord(
        id=transaction_id,
        msisdn=session.msisdn,
        operator=line.operator,
        kind=kind,
        channel=CHANNEL,
        amount_qepik=amount_qepik,
        vat_qepik=vat_qepik,
        balance_after_qepik=balances.get(line.main_account_id, states[line.main_account_id].balance),
        valid_until=line.valid_until,
        created_at=charging.clock.now(),
        verification_code=charging.codes.code_for(transaction_id),
    )
    uow.ledger.post(record, transfers)
    return record


def _answer(session: ChargingSession, *, granted: int, reason: str | None = None) -> dict[str, Any]:
    """The answer to the network, kept with the session so that a repeated request gets it again."""
    return {
        "session_id": session.id,
        "request_number": session.request_number,
        "state": session.state.value,
        "msisdn": session.msisdn,
        "service": session.service.value,
        "roaming": session.roaming,
        "granted_units": granted,
        "granted_total_units": session.granted_units,
        "throttled_kbps": session.throttle_kbps or None,  # part of the grant is at this slow speed, free
        "used_units": session.used_units,
        "charged_qepik": session.charged_qepik,
        "expires_at": session.expires_at.isoformat(),
        "ended_because": reason if session.state is SessionState.TERMINATED else None,
    }


@dataclass(frozen=True, slots=True)
class DayOfUse:
    day: date  # in Baku
    data_kb: int = 0
    voice_seconds: int = 0
    sms: int = 0
    charged_qepik: int = 0


USAGE_DAYS_MAX = 90


def usage_by_day(uow: UnitOfWork, clock: Clock, *, number: str, days: int = 30) -> list[DayOfUse]:
    """What the line used and was charged, per Baku day, for the last `days` days (today included), oldest
    first, a row for every day (zeros where nothing was used). A session counts on the day it ended."""
    if not 1 <= days <= USAGE_DAYS_MAX:
        raise InvalidInput(f"days must be between 1 and {USAGE_DAYS_MAX}.", field="days")
    msisdn = parse_msisdn(number)
    today = baku_date(clock.now())
    first = today - timedelta(days=days - 1)
    with uow:
        require_line(uow, msisdn)
        ended = uow.charging.ended_since(msisdn.e164, since=datetime.combine(first, time(0), tzinfo=BAKU))
    totals: dict[date, dict[str, int]] = {first + timedelta(days=n): {} for n in range(days)}
    for session in ended:
        day = totals.get(baku_date(session.updated_at or session.created_at))
        if day is None:
            continue
        field_name = {Service.DATA: "data_kb", Service.VOICE: "voice_seconds", Service.SMS: "sms"}[session.service]
        day[field_name] = day.get(field_name, 0) + session.used_units
        day["charged_qepik"] = day.get("charged_qepik", 0) + session.charged_qepik
    return [DayOfUse(day, **values) for day, values in totals.items()]


def parse_service(value: str) -> Service:
    try:
        return Service(value)
    except ValueError:
        raise InvalidInput("service must be data, voice or sms.", field="service") from None
