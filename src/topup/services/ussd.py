"""The USSD dialogue (see `topup.domain.ussd`): one call per step, the whole path typed so far each time.

Menus are rebuilt from the path on every call; the session row only remembers when the session began (its
time limit), the last step and its answer (a gateway's repeat gets the same answer), and the purchase or card
top-up it made (never twice). A purchase happens inside the transaction that holds the session's row; a card
top-up runs on its own (its wrong-PIN count must stand even when it fails), after which the answer is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from topup.domain.calendar import BAKU
from topup.domain.catalogue import Bundle
from topup.domain.errors import DomainError, InsufficientBalance
from topup.domain.ledger import Unit
from topup.domain.lines import Line
from topup.domain.money import format_amount
from topup.domain.numbers import parse_msisdn
from topup.domain.ussd import SCREEN_LENGTH_MAX, Screen, UssdEntry, UssdSession, check_request, normalise_code
from topup.domain.ussd_texts import text
from topup.services import bundles, lines, vouchers
from topup.services.ports import BucketView, UnitOfWork
from topup.services.vouchers import Vouchers

USSD_CHANNEL = "ussd"
BUNDLES_SHOWN_MAX = 6


@dataclass(frozen=True, slots=True)
class Ussd:
    vouchers: Vouchers


def split_dialled(uow: UnitOfWork, *, number: str, dialled: str) -> tuple[str, str]:
    """A whole dialled string ("*101*1234567890123#") as the service code the operator configured and what
    follows it ("*101#", "1234567890123"): the longest configured code that starts the string wins. For a
    gateway (or a terminal) that passes the whole string."""
    body = normalise_code(dialled).removesuffix("#")
    with uow:
        line = uow.lines.get(parse_msisdn(number))
        codes = uow.catalogue.current().operator(line.operator).ussd_codes if line is not None else {}
    for code in sorted(codes, key=len, reverse=True):
        stem = code.removesuffix("#")
        if body == stem:
            return code, ""
        if body.startswith(f"{stem}*"):
            return code, body[len(stem) + 1 :]
    return f"{body}#", ""


def answer(uow: UnitOfWork, ussd: Ussd, *, session_id: str, number: str, service_code: str, typed: str) -> Screen:
    """The screen for this step. Bad requests raise `InvalidInput` (the gateway's fault, a 4xx)."""
    session_id, code, steps = check_request(session_id, service_code, typed)
    msisdn = parse_msisdn(number).e164
    now = ussd.vouchers.clock.now()
    with uow:
        session = uow.ussd.begin(UssdSession(session_id, msisdn, normalise_code(code), now, now))
        line = uow.lines.get(parse_msisdn(msisdn))
        if session.last_answer and session.last_text == typed and session.msisdn == msisdn:
            return _stored(session.last_answer)  # the gateway asked again: the same answer, nothing done twice
        language = line.language if line is not None else "en"
        screen: Screen | None
        if session.msisdn != msisdn:
            screen = Screen(text(language, "invalid_input"), ends=True)
        elif session.timed_out(now):
            screen = Screen(text(language, "timeout"), ends=True)
        elif line is None:
            screen = Screen(text(language, "line_not_found"), ends=True)
        else:
            step = _step(uow, ussd, session, line, steps, now=now)
            if isinstance(step, _Redemption):
                uow.commit()  # the session is recorded; the card top-up runs on its own, below
                pending, screen = step, None
            else:
                screen = step
        if screen is not None:
            _remember(uow, session, typed, screen, now=now)
            uow.commit()
            return screen
    assert line is not None
    return _redeem(uow, ussd, session, line, pending, typed=typed, now=now)


@dataclass(frozen=True, slots=True)
class _Redemption:
    """Everything of a card top-up is typed: the number to top up and the card's PIN."""

    number: str
    pin: str


def _step(
    uow: UnitOfWork, ussd: Ussd, session: UssdSession, line: Line, steps: list[str], *, now: datetime
) -> Screen | _Redemption:
    language = line.language
    entry = uow.catalogue.current().operator(line.operator).ussd_codes.get(session.service_code)
    if entry is None:
        return Screen(text(language, "unknown_code"), ends=True)
    kind = UssdEntry(entry)
    if kind is UssdEntry.BALANCE:
        return _balance(uow, ussd, line)
    if kind is UssdEntry.DATA:
        return _data(uow, ussd, line)
    if kind in (UssdEntry.VOUCHER, UssdEntry.VOUCHER_OTHER):
        return _voucher_step(line, steps, other=kind is UssdEntry.VOUCHER_OTHER)
    return _menu(uow, ussd, session, line, steps, now=now)


def _menu(
    uow: UnitOfWork, ussd: Ussd, session: UssdSession, line: Line, steps: list[str], *, now: datetime
) -> Screen | _Redemption:
    if not steps:
        return _main_menu(uow, line)
    choice, rest = steps[0], steps[1:]
    choices: dict[str, Callable[[], Screen | _Redemption]] = {
        "0": lambda: Screen(text(line.language, "bye"), ends=True),
        "1": lambda: _balance(uow, ussd, line),
        "2": lambda: _data(uow, ussd, line),
        "3": lambda: _bundle_step(uow, ussd, session, line, rest),
        "4": lambda: _voucher_step(line, rest, other=False),
        "5": lambda: _voucher_step(line, rest, other=True),
    }
    chosen = choices.get(choice)
    return Screen(text(line.language, "wrong_choice"), ends=True) if chosen is None else chosen()


def _main_menu(uow: UnitOfWork, line: Line) -> Screen:
    operator = uow.catalogue.current().operator(line.operator).name
    return Screen(text(line.language, "menu", operator=operator), ends=False)


def _bundle_step(uow: UnitOfWork, ussd: Ussd, session: UssdSession, line: Line, steps: list[str]) -> Screen:
    """3: the list; 3*k: confirm bundle k; 3*k*1: buy it (3*k*2: cancel); 3*0: back to the menu."""
    language = line.language
    offered = _offered(uow, line)
    if not steps:
        return _bundle_menu(language, offered)
    if steps[0] == "0":
        return _main_menu(uow, line)
    index = int(steps[0]) - 1 if steps[0].isdigit() else -1
    if not 0 <= index < len(offered):
        return Screen(text(language, "wrong_choice"), ends=True)
    bundle = offered[index]
    if len(steps) == 1:
        price = format_amount(bundle.price_qepik)
        return Screen(text(language, "confirm", bundle=bundle.name(language), price=price), ends=False)
    if steps[1] != "1":
        return Screen(text(language, "cancelled"), ends=True)
    return _buy(uow, ussd, session, line, bundle)


def _buy(uow: UnitOfWork, ussd: Ussd, session: UssdSession, line: Line, bundle: Bundle) -> Screen:
    language = line.language
    if session.transaction_id is not None:  # bought in this session already (a repeat with other typing)
        return Screen(text(language, "error"), ends=True)
    try:
        record = bundles.buy_bundle(
            uow,
            ussd.vouchers.clock,
            ussd.vouchers.codes,
            number=line.msisdn.e164,
            bundle_code=bundle.code,
            channel=USSD_CHANNEL,
        )
    except InsufficientBalance:
        held = lines.balance(uow, ussd.vouchers.clock, number=line.msisdn.e164).main_qepik
        return Screen(text(language, "insufficient_balance", balance=format_amount(held)), ends=True)
    except DomainError as refused:
        return Screen(text(language, refused.code), ends=True)
    session.transaction_id = record.id
    until = _date(record.bundle_expires_at) if record.bundle_expires_at else ""
    balance = format_amount(record.balance_after_qepik)
    return Screen(text(language, "bought", bundle=bundle.name(language), until=until, balance=balance), ends=True)


def _bundle_menu(language: str, offered: list[Bundle]) -> Screen:
    lines_shown = [text(language, "bundles_title")]
    back = text(language, "back")
    for position, bundle in enumerate(offered, start=1):
        item = f"{position} {bundle.name(language)} {format_amount(bundle.price_qepik)}"
        if len("\n".join([*lines_shown, item, back])) > SCREEN_LENGTH_MAX:
            break
        lines_shown.append(item)
    return Screen("\n".join([*lines_shown, back]), ends=False)


def _offered(uow: UnitOfWork, line: Line) -> list[Bundle]:
    """The bundles a phone can buy by USSD: the operator's home bundles, cheapest first (a stable order, so a
    number typed on one screen means the same bundle on the next)."""
    catalogue = uow.catalogue.current().operator(line.operator)
    home = [b for b in catalogue.bundles.values() if not b.roaming]
    return sorted(home, key=lambda b: (b.price_qepik, b.code))[:BUNDLES_SHOWN_MAX]


def _voucher_step(line: Line, steps: list[str], *, other: bool) -> Screen | _Redemption:
    """The next prompt of a card top-up, or the top-up itself once the number (for another line) and the PIN
    are typed."""
    if other and not steps:
        return Screen(text(line.language, "enter_number"), ends=False)
    typed = steps[1:] if other else steps
    if not typed:
        return Screen(text(line.language, "enter_pin"), ends=False)
    return _Redemption(steps[0] if other else line.msisdn.e164, typed[0])


def _redeem(
    uow: UnitOfWork, ussd: Ussd, session: UssdSession, line: Line, wanted: _Redemption, *, typed: str, now: datetime
) -> Screen:
    language = line.language
    try:
        record = vouchers.redeem(
            uow, ussd.vouchers, pin=wanted.pin, number=wanted.number, client=f"ussd:{line.msisdn.e164}"
        )
        amount = format_amount(record.amount_qepik)
        if record.msisdn == line.msisdn.e164:
            balance = format_amount(record.balance_after_qepik)
            screen = Screen(text(language, "topped_up", amount=amount, balance=balance), ends=True)
        else:
            national = parse_msisdn(record.msisdn).national
            screen = Screen(text(language, "topped_up_other", number=national, amount=amount), ends=True)
        done: str | None = record.id
    except DomainError as refused:
        screen, done = Screen(text(language, refused.code), ends=True), None
    with uow:
        session = uow.ussd.begin(session)
        session.transaction_id = done or session.transaction_id
        _remember(uow, session, typed, screen, now=now)
        uow.commit()
    return screen


def _balance(uow: UnitOfWork, ussd: Ussd, line: Line) -> Screen:
    language = line.language
    held = lines.balance(uow, ussd.vouchers.clock, number=line.msisdn.e164)
    balance = format_amount(held.main_qepik)
    shown = [
        text(language, "balance", balance=balance, valid_until=line.valid_until.strftime("%d.%m.%Y"))
        if line.valid_until
        else text(language, "balance_no_validity", balance=balance)
    ]
    return Screen(_fit(shown, _bucket_lines(uow, language, line, held.buckets, units=None)), ends=True)


def _data(uow: UnitOfWork, ussd: Ussd, line: Line) -> Screen:
    language = line.language
    held = lines.balance(uow, ussd.vouchers.clock, number=line.msisdn.e164)
    data = _bucket_lines(uow, language, line, held.buckets, units=Unit.DATA_KB)
    if not data:
        return Screen(text(language, "no_data"), ends=True)
    return Screen(_fit([text(language, "data_title")], data), ends=True)


def _bucket_lines(
    uow: UnitOfWork, language: str, line: Line, buckets: list[BucketView], *, units: Unit | None
) -> list[str]:
    offered = uow.catalogue.current().operator(line.operator).bundles
    shown = []
    for view in buckets:
        if units is not None and view.bucket.unit is not units:
            continue
        bundle = offered.get(view.bundle_code)
        name = bundle.name(language) if bundle is not None else view.bundle_code
        left = _amount_left(view.bucket.unit, view.bucket.balance)
        shown.append(text(language, "bucket", bundle=name, left=left, until=_date(view.bucket.expires_at)))
    return shown


def _amount_left(unit: Unit, amount: int) -> str:
    if unit is Unit.DATA_KB:
        return f"{amount / 1_000_000:.2f} GB" if amount >= 100_000 else f"{amount // 1000} MB"
    if unit is Unit.VOICE_SECONDS:
        return f"{amount // 60} min"
    return f"{amount} SMS"


def _fit(head: list[str], more: list[str]) -> str:
    """As many lines as fit one screen."""
    shown = list(head)
    for line in more:
        if len("\n".join([*shown, line])) > SCREEN_LENGTH_MAX:
            break
        shown.append(line)
    return "\n".join(shown)[:SCREEN_LENGTH_MAX]


def _date(moment: datetime) -> str:
    return moment.astimezone(BAKU).strftime("%d.%m.%Y")


def _remember(uow: UnitOfWork, session: UssdSession, typed: str, screen: Screen, *, now: datetime) -> None:
    session.last_text, session.last_answer = typed, screen.render()
    uow.ussd.save(session, now=now)


def _stored(rendered: str) -> Screen:
    kind, _, shown = rendered.partition(" ")
    return Screen(shown, ends=kind == "END")
