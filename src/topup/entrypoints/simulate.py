"""The usage simulator: `topup simulate --lines N --days D` plays D days of a network's traffic for N lines through
the charging service, ending now, so that balances drain, bundles run out, expire and renew, and notifications
arrive in the development inbox, as they would after D days of real use.

Its clock starts D days ago and moves forward event by event: every charge, top-up and lifecycle job is
recorded at its simulated time (so history and usage per day look as they would). Each Baku midnight the
worker's jobs run (bundle expiry and renewal, breakage, warnings, sending notifications). Traffic follows a
daily pattern (quiet nights, busier evenings); the same --seed gives the same traffic.

The simulation lines are +994 50/55/70 9xxxxxx (one operator each in turn, languages az, en, ru, zh); they are
provisioned, topped up and given a bundle the first time. Running the simulator again plays more days on them.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from topup.adapters.clock import FixedClock
from topup.adapters.notifications.inbox import DevInboxEmail, DevInboxSms
from topup.adapters.notifications.render import NotificationTexts
from topup.bootstrap import Application
from topup.domain.calendar import BAKU
from topup.domain.charging import NoBalance, Service
from topup.domain.errors import DomainError, LineNotFound
from topup.services import auto_recharge, bundles, charging, lifecycle, lines, notifications, orders, topups

PREFIXES = ("50", "55", "70")  # Azercell, Bakcell, Nar
LANGUAGES = ("az", "en", "ru", "zh")
CHANNEL = "demo"
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 8, 8, 7, 7, 7, 8, 9, 10, 10, 9, 6, 3)  # Baku hours 0-23
TOP_UP_CHOICES_QEPIK = (300, 500, 1000, 2000)
LINES_MAX = 10_000
DAYS_MAX = 90


@dataclass
class SimulationReport:
    lines: int
    days: int
    sessions: int = 0
    data_kb: int = 0
    voice_seconds: int = 0
    sms: int = 0
    charged_qepik: int = 0
    refused_no_balance: int = 0
    top_ups: int = 0
    bundles_expired: int = 0
    bundles_exhausted: int = 0  # buckets used up by the simulated traffic
    renewals_tried: int = 0
    auto_recharges_tried: int = 0
    notifications_sent: int = 0


@dataclass(frozen=True, slots=True)
class _Event:
    at: datetime
    number: str
    service: Service


def number_of(index: int) -> str:
    return f"+994{PREFIXES[index % len(PREFIXES)]}9{index:06d}"


def simulate(
    application: Application,
    *,
    line_count: int,
    days: int,
    seed: int = 1,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
    numbers: list[str] | None = None,
) -> SimulationReport:
    """Play `days` days ending now (`application.clock` must be a FixedClock set `days` ago: `start_clock`), on
    the simulation lines, or on `numbers` (lines that exist already: the demo's)."""
    if not 1 <= line_count <= LINES_MAX or not 1 <= days <= DAYS_MAX:
        raise ValueError(f"lines must be 1..{LINES_MAX} and days 1..{DAYS_MAX}")
    clock = application.clock
    if not isinstance(clock, FixedClock):
        raise TypeError("the simulator drives its own clock: use start_clock()")
    rng = random.Random(seed)  # noqa: S311 - traffic patterns, not secrets
    report = SimulationReport(lines=len(numbers) if numbers else line_count, days=days)
    if numbers is None:
        numbers = [number_of(index) for index in range(line_count)]
        for index, number in enumerate(numbers):
            _prepare(application, number, LANGUAGES[index % len(LANGUAGES)], rng)
    first_day = clock.now().astimezone(BAKU).date()
    for day_index in range(days):
        day = first_day + timedelta(days=day_index)
        midnight = datetime.combine(day, time(0), tzinfo=BAKU)
        for event in sorted(_events_of_day(numbers, midnight, rng), key=lambda e: e.at):
            if event.at > clock.now():
                clock.advance(event.at - clock.now())
            _play(application, event, rng, report)
        clock.advance(midnight + timedelta(days=1) - clock.now())
        _run_jobs(application, report)
        progress(day_index + 1, days)
    report.bundles_exhausted = sum(_exhausted(application, number) for number in numbers)
    return report


def _exhausted(application: Application, number: str) -> int:
    held = lines.balance(application.uow(), application.clock, number=number)
    with application.uow() as uow:
        views = uow.ledger.buckets(held.line.msisdn, now=application.clock.now(), include_empty=True)
    return sum(1 for view in views if view.bucket.balance == 0)


def start_clock(days: int) -> FixedClock:
    """A clock `days` days before now, at the start of that Baku day."""
    start = (datetime.now(BAKU) - timedelta(days=days)).date()
    return FixedClock(datetime.combine(start, time(0), tzinfo=BAKU))


def _prepare(application: Application, number: str, language: str, rng: random.Random) -> None:
    clock, codes = application.clock, application.codes
    try:
        lines.get_line(application.uow(), number=number)
        return
    except LineNotFound:
        pass
    line = lines.provision_line(application.uow(), clock, number=number, language=language)
    topups.top_up(application.uow(), clock, codes, number=number, amount_qepik=3000, channel=CHANNEL)
    with application.uow() as uow:
        operator = uow.catalogue.current().operator(line.operator)
    offers = sorted((b for b in operator.bundles.values() if b.data_kb and not b.roaming), key=lambda b: b.price_qepik)
    if offers:
        choice = rng.choice(offers[:3])
        with contextlib.suppress(DomainError):  # too dear for the balance: the line lives on its main balance
            bundles.buy_bundle(application.uow(), clock, codes, number=number, bundle_code=choice.code, channel=CHANNEL)


def _events_of_day(numbers: list[str], midnight: datetime, rng: random.Random) -> list[_Event]:
    events = []
    for number in numbers:
        counts = {Service.DATA: rng.randint(1, 5), Service.VOICE: rng.randint(0, 4), Service.SMS: rng.randint(0, 3)}
        for service, count in counts.items():
            for _ in range(count):
                hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
                at = midnight + timedelta(hours=hour, seconds=rng.randrange(3600))
                events.append(_Event(at, number, service))
    return events


def _play(application: Application, event: _Event, rng: random.Random, report: SimulationReport) -> None:
    uow, config = application.uow, application.charging
    try:
        if event.service is Service.SMS:
            answer = charging.charge_event(uow(), config, number=event.number)
            _count(report, answer)
            return
        wanted = rng.randint(5_000, 80_000) if event.service is Service.DATA else rng.randint(20, 600)
        opened = charging.open_session(uow(), config, number=event.number, service=event.service, requested=wanted)
        used_first = min(opened["granted_units"], wanted // 2)
        updated = charging.update_session(
            uow(),
            config,
            session_id=opened["session_id"],
            request_number=1,
            used=used_first,
            requested=wanted - opened["granted_units"],
        )
        left = updated["granted_total_units"] - used_first
        answer = charging.terminate_session(
            uow(), config, session_id=opened["session_id"], request_number=2, used=min(left, wanted - used_first)
        )
        _count(report, answer)
    except NoBalance:
        report.refused_no_balance += 1
        if rng.random() < 0.7:  # most people top up when they run dry
            amount = rng.choice(TOP_UP_CHOICES_QEPIK)
            topups.top_up(
                uow(), application.clock, application.codes, number=event.number, amount_qepik=amount, channel=CHANNEL
            )
            report.top_ups += 1
    except DomainError:
        pass  # a line barred or past its period: the network would refuse it too


def _count(report: SimulationReport, answer: dict[str, object]) -> None:
    used = int(str(answer["used_units"]))
    service = str(answer["service"])
    report.sessions += 1
    report.charged_qepik += int(str(answer["charged_qepik"]))
    if service == Service.DATA.value:
        report.data_kb += used
    elif service == Service.VOICE.value:
        report.voice_seconds += used
    else:
        report.sms += used


def _run_jobs(application: Application, report: SimulationReport) -> None:
    jobs = application.lifecycle
    while (expired := lifecycle.expire_bundles(application.uow(), jobs)) > 0:
        report.bundles_expired += expired
    while (tried := lifecycle.renew_due(application.uow(), jobs)) > 0:
        report.renewals_tried += tried
    while lifecycle.forfeit_balances(application.uow(), jobs) > 0:
        pass
    # Auto-recharges pay through the card acquirer: with the server (and its sandbox) up they go through; if it
    # is not reachable they fail as they would in life, and are retried later.
    while (ran := auto_recharge.run_due(application.uow(), application.saga)) > 0:
        report.auto_recharges_tried += ran
    orders.settle_due(application.uow(), application.saga)
    lifecycle.warn_upcoming(application.uow(), jobs)
    # Replayed days are told to the development inbox only, never by a real SMSC or mail server.
    notifier = notifications.Notifier(
        application.clock, NotificationTexts(), DevInboxSms(), DevInboxEmail(), application.webhook_sender
    )
    while (sent := notifications.deliver_due(application.uow(), notifier)) > 0:
        report.notifications_sent += sent
