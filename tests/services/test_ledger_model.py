"""The prepaid core against a model (issue 4): random top-ups, bundle purchases, charging sessions and SMS, saved
cards and auto-recharge rules on a few lines of the three operators, with time passing and the worker's jobs
run, through the service layer on SQLite and PostgreSQL.

A plain-Python model works out, from the sample catalogue's prices, tariffs, billing steps and validity tiers,
what every main balance and every bucket must hold after each step, and what the renewals and auto-recharge
rules must be doing. After every step the service must agree with it to the qəpik (and the kilobyte), the
ledger must balance per unit with no negative balance, and every auto-recharge rule must have fired exactly
once per fall below its threshold and never beyond its monthly maximum.

Where the service leaves an order undefined, the model keeps out of its way instead of guessing:
- a line has at most one auto-renewing bundle on the go: two renewals of one line due at the same moment are
  taken in no defined order, and which goes first decides which one the balance still pays for;
- a line has at most one charging session left open for the worker to end (sessions that time out together
  are ended in no defined order, and the order decides which end crosses an auto-recharge threshold);
- time moves by whole hours or days plus a second, so a fall below a threshold never lands on the very moment
  of a scheduled run (10:00 Baku), which would leave the order of the two runs undefined.
The grant from the main balance is modelled as the README says it: the most whole billing steps the balance
can pay for (with the sample catalogue's tariffs every step costs the same whole number of qəpik).
"""

from __future__ import annotations

import calendar
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import select, text

from tests.conftest import SAMPLE_CATALOGUE, START, _empty_postgres, make_application
from tests.factories import buy_bundle, make_line, snapshot
from tests.fakes import DECLINED, ScriptedAcquirer
from topup.adapters.clock import FixedClock
from topup.adapters.db.tables import accounts
from topup.bootstrap import Application
from topup.domain.auto_recharge import RuleKind
from topup.domain.charging import Service
from topup.domain.errors import DomainError
from topup.domain.ledger import Unit
from topup.domain.orders import OrderState
from topup.services import (
    auto_recharge,
    bundles,
    charging,
    ledger,
    lifecycle,
    lines,
    orders,
    payment_methods,
    topups,
)
from topup.services.payments import CardDetails

BAKU = ZoneInfo("Asia/Baku")
OPERATOR_OF_PREFIX = {"50": "azercell", "55": "bakcell", "70": "nar", "77": "nar"}
# One card per line: the per-card daily limits then never meet (each line's own runs stay far below them).
CARDS = (
    CardDetails("4242424242424242", 12, 2030, "123"),
    CardDetails("5555555555554444", 12, 2030, "123"),
    CardDetails("4000056655665556", 12, 2030, "123"),
    CardDetails("5200828282828210", 12, 2030, "123"),
)
SAVED_CARDS_MAX = 5
RENEWAL_RETRY = timedelta(days=1)
RENEWAL_PERIOD = timedelta(days=90)  # TOPUP_RENEWAL_RETRY_DAYS, left at its default
ORDERS_PER_NUMBER_DAY_MAX = 10  # TOPUP_ORDER_NUMBER_DAILY_COUNT_MAX, left at its default
THRESHOLD_TIMES_AMOUNT_MAX = 10
MONTHLY_MAX_LIMIT = 31
SCHEDULE_TIME = time(10, 0)  # Baku
SCOPE = "model"


# --- the sample catalogue, read on its own (not through the domain's parser) ---------------------------------


def qepik(amount: str) -> int:
    value = Decimal(amount) * 100
    assert value == value.to_integral_value(), amount
    return int(value)


@dataclass(frozen=True, slots=True)
class Tariff:
    data_qepik_per_mb: int
    data_step_kb: int
    voice_qepik_per_minute: int
    voice_step_seconds: int
    sms_qepik: int

    def step(self, service: Service) -> int:
        return {Service.DATA: self.data_step_kb, Service.VOICE: self.voice_step_seconds, Service.SMS: 1}[service]

    def price(self, service: Service, units: int) -> int:
        """Units rounded up to the billing step, then the price rounded up to a whole qəpik."""
        step = self.step(service)
        billed = -(-units // step) * step
        if service is Service.DATA:
            return -(-billed * self.data_qepik_per_mb // 1000)
        if service is Service.VOICE:
            return -(-billed * self.voice_qepik_per_minute // 60)
        return billed * self.sms_qepik


@dataclass(frozen=True, slots=True)
class Terms:
    """An operator's top-up rules and out-of-bundle tariff."""

    minimum_qepik: int
    maximum_qepik: int
    grace_days: int
    tiers: tuple[tuple[int, int], ...]  # (from qəpik, days), increasing
    tariff: Tariff
    roaming_tariff: Tariff | None  # None: abroad, only roaming bundles serve

    def validity_days(self, amount_qepik: int) -> int:
        """The days of the highest tier the amount reaches (0 below every tier)."""
        reached = [days for start, days in self.tiers if amount_qepik >= start]
        return reached[-1] if reached else 0


@dataclass(frozen=True, slots=True)
class Offer:
    """A bundle."""

    code: str
    operator: str
    price_qepik: int
    validity: timedelta
    allowances: dict[Unit, int]
    auto_renew: bool
    exclusive: bool
    roaming: bool
    throttles: bool


def read_tariff(table: dict[str, Any]) -> Tariff:
    return Tariff(
        data_qepik_per_mb=qepik(table["data_per_mb"]),
        data_step_kb=table["data_increment_kb"],
        voice_qepik_per_minute=qepik(table["voice_per_minute"]),
        voice_step_seconds=table["voice_increment_seconds"],
        sms_qepik=qepik(table["sms"]),
    )


def read_catalogue(path: Path) -> tuple[dict[str, Terms], dict[str, Offer]]:
    source = tomllib.loads(path.read_text(encoding="utf-8"))
    terms: dict[str, Terms] = {}
    offers: dict[str, Offer] = {}
    for code, operator in source["operators"].items():
        if operator["status"] != "active":
            continue
        topup = operator["topup"]
        terms[code] = Terms(
            minimum_qepik=qepik(topup["min"]),
            maximum_qepik=qepik(topup["max"]),
            grace_days=topup.get("grace_days", 0),
            tiers=tuple((qepik(tier["from"]), tier["days"]) for tier in topup.get("validity_tiers", [])),
            tariff=read_tariff(operator["tariff"]),
            roaming_tariff=read_tariff(operator["roaming_tariff"]) if "roaming_tariff" in operator else None,
        )
        for bundle in operator.get("bundles", []):
            allowances = {
                Unit.DATA_KB: bundle.get("data_mb", 0) * 1000,
                Unit.VOICE_SECONDS: bundle.get("minutes", 0) * 60,
                Unit.SMS: bundle.get("sms", 0),
            }
            offers[bundle["code"]] = Offer(
                code=bundle["code"],
                operator=code,
                price_qepik=qepik(bundle["price"]),
                validity=timedelta(days=bundle["validity_days"]),
                allowances={unit: amount for unit, amount in allowances.items() if amount},
                auto_renew=bundle.get("auto_renew", False),
                exclusive=bundle.get("stacking", "stack") == "exclusive",
                roaming=bundle.get("roaming", False),
                throttles=bundle.get("throttle_kbps", 0) > 0,
            )
    return terms, offers


TERMS, OFFERS = read_catalogue(SAMPLE_CATALOGUE)
BUNDLE_CODES = (*sorted(OFFERS), "no-such-bundle")


# --- Baku calendar ----------------------------------------------------------------------------------------------


def baku_today(moment: datetime) -> date:
    return moment.astimezone(BAKU).date()


def month_start(moment: datetime) -> datetime:
    local = moment.astimezone(BAKU)
    return datetime(local.year, local.month, 1, tzinfo=BAKU)


def next_month_start(moment: datetime) -> datetime:
    local = moment.astimezone(BAKU)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=BAKU)


def next_scheduled(day_of_month: int, *, after: datetime) -> datetime:
    """10:00 Baku on that day of the month (or the month's last day), the first such moment after `after`."""
    local = after.astimezone(BAKU)
    year, month = local.year, local.month
    while True:
        day = min(day_of_month, calendar.monthrange(year, month)[1])
        moment = datetime.combine(date(year, month, day), SCHEDULE_TIME, tzinfo=BAKU)
        if moment > after:
            return moment
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


# --- the model --------------------------------------------------------------------------------------------------


@dataclass
class Bucket:
    account_id: int
    msisdn: str
    unit: Unit
    balance: int
    expires_at: datetime
    bundle_code: str
    purchase_id: str
    settled: bool = False


@dataclass(frozen=True, slots=True)
class Grant:
    holds: tuple[tuple[int, int], ...]  # (bucket account id, units)
    money_units: int
    money_qepik: int
    throttled_units: int
    tariff: Tariff | None  # what the money held was priced at (at home, or abroad)

    @property
    def units(self) -> int:
        return sum(units for _, units in self.holds) + self.money_units + self.throttled_units


@dataclass
class Session:
    """A session left open for the worker to end."""

    session_id: str
    service: Service
    grant: Grant
    used: int
    expires_at: datetime


@dataclass
class Renewal:
    source_id: str
    msisdn: str
    bundle_code: str
    give_up_at: datetime
    next_attempt_at: datetime | None
    state: str = "pending"
    attempts: int = 0
    last_failure: str | None = None


@dataclass
class Rule:
    id: str
    kind: RuleKind
    amount_qepik: int
    due_at: datetime | None
    threshold_qepik: int | None = None
    monthly_max: int | None = None
    day_of_month: int | None = None
    state: str = "active"
    runs: list[datetime] = field(default_factory=list)  # when each of its runs was fulfilled
    monthly_maxima: list[tuple[datetime, int]] = field(default_factory=list)  # (set at, monthly_max)

    def runs_since(self, moment: datetime) -> int:
        return sum(run >= moment for run in self.runs)


@dataclass
class Line:
    msisdn: str
    operator: str
    card: CardDetails
    main_qepik: int = 0
    valid_until: date | None = None
    below_qepik: int | None = None  # the line's mark for its threshold rule (None: no active one)
    cards: list[str] = field(default_factory=list)
    rules: dict[RuleKind, Rule] = field(default_factory=dict)
    session: Session | None = None

    @property
    def terms(self) -> Terms:
        return TERMS[self.operator]


def refused(code: str, application_snapshot: Callable[[], dict[str, object]], call: Callable[[], object]) -> None:
    """`call` is refused with `code`, and nothing at all changed."""
    event(f"refused: {code}")
    before = application_snapshot()
    with pytest.raises(DomainError) as refusal:
        call()
    assert refusal.value.code == code
    assert application_snapshot() == before


# Mostly valid values, sometimes not: a refused request must change nothing.
AMOUNTS = st.one_of(
    st.integers(100, 1_500),
    st.integers(1_500, 8_000),
    st.sampled_from([10_000, 25_000, 50_000]),
    st.sampled_from([0, -500, 1, 99, 50_001, 1_000_000]),
)
LINE = st.integers(0, 3)  # an index, taken modulo the number of lines
# Units asked for: mostly a little, sometimes more than every bucket and the balance could give.
REQUESTS = st.one_of(st.integers(1, 400_000), st.integers(1, 400_000), st.integers(400_000, 30_000_000))
SHARE = st.sampled_from([100, 0, 1, 37, 50, 99])  # percent of the grant used
# What spoils a rule's set-up, if anything (most of the time nothing).
SPOILERS = st.sampled_from(["none"] * 9 + ["threshold", "amount", "monthly_max", "day", "card"])


class LedgerModel(RuleBasedStateMachine):
    """Subclassed by the test with `new_database`, which gives the URL of an empty, migrated database."""

    @staticmethod
    def new_database() -> str:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(START)
        self.application = make_application(self.new_database(), self.clock)
        self.saga = replace(self.application.saga, acquirer=ScriptedAcquirer())
        self.lines: list[Line] = []
        self.buckets: dict[int, Bucket] = {}
        self.renewals: dict[str, Renewal] = {}

    def teardown(self) -> None:
        self.application.close()

    # --- helpers ------------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def line(self, index: int) -> Line:
        return self.lines[index % len(self.lines)]

    def snapshot(self) -> dict[str, object]:
        return snapshot(self.application)

    def live_buckets(self, line: Line, unit: Unit) -> list[Bucket]:
        now = self.now()
        found = [b for b in self.buckets.values() if b.msisdn == line.msisdn and b.unit is unit and b.expires_at > now]
        return sorted(found, key=lambda b: (b.expires_at, b.account_id))

    def usage_period_over(self, line: Line) -> bool:
        return line.valid_until is not None and baku_today(self.now()) > line.valid_until

    def top_up_refusal(self, line: Line, amount_qepik: int) -> str | None:
        terms = line.terms
        if not terms.minimum_qepik <= amount_qepik <= terms.maximum_qepik:
            return "amount_out_of_range"
        grace_end = None if line.valid_until is None else line.valid_until + timedelta(days=terms.grace_days)
        if grace_end is not None and baku_today(self.now()) > grace_end:
            return "line_validity_expired"
        return None

    def credit(self, line: Line, amount_qepik: int) -> None:
        """A top-up: the money, and the usage period extended from the end of what is left of it."""
        line.main_qepik += amount_qepik
        days = line.terms.validity_days(amount_qepik)
        if days:
            today = baku_today(self.now())
            start = max(line.valid_until, today) if line.valid_until is not None else today
            line.valid_until = start + timedelta(days=days)

    def fell(self, line: Line, *, before_qepik: int, after_qepik: int) -> None:
        """A debit of the main balance: a crossing of the line's threshold makes its rule due (once)."""
        mark = line.below_qepik
        rule_ = line.rules.get(RuleKind.THRESHOLD)
        if mark is None or not after_qepik < mark <= before_qepik or rule_ is None:
            return
        event("a fall below the threshold")
        if rule_.state == "active" and rule_.due_at is None:
            rule_.due_at = self.now()

    def renewing(self, line: Line) -> bool:
        """The line has an auto-renewing bundle on the go: live or unsettled, or waiting for its renewal."""
        return any(
            b.msisdn == line.msisdn and not b.settled and OFFERS[b.bundle_code].auto_renew
            for b in self.buckets.values()
        ) or any(r.msisdn == line.msisdn and r.state == "pending" for r in self.renewals.values())

    def purchase_refusal(self, line: Line, code: str) -> str | None:
        offer = OFFERS.get(code)
        if offer is None:
            return "bundle_not_found"
        if offer.operator != line.operator:
            return "bundle_of_another_operator"
        if self.usage_period_over(line):
            return "line_validity_expired"
        if offer.exclusive and any(
            b.bundle_code == code and b.balance > 0 for unit in Unit for b in self.live_buckets(line, unit)
        ):
            return "bundle_already_active"
        if offer.price_qepik > line.main_qepik:
            return "insufficient_balance"
        return None

    def bought(self, line: Line, offer: Offer, purchase_id: str) -> None:
        """The price leaves the main balance; one bucket per allowance arrives, expiring together. The buckets'
        account ids are read from the database (only their identity: their contents are checked here)."""
        event("a bundle bought")
        before = line.main_qepik
        line.main_qepik -= offer.price_qepik
        self.fell(line, before_qepik=before, after_qepik=line.main_qepik)
        expires_at = self.now() + offer.validity
        with self.application.engine.connect() as connection:
            rows = connection.execute(
                select(
                    accounts.c.id, accounts.c.unit, accounts.c.balance, accounts.c.expires_at, accounts.c.msisdn
                ).where(accounts.c.transaction_id == purchase_id)
            ).all()
        opened = {Unit(row.unit): row for row in rows}
        assert {unit: row.balance for unit, row in opened.items()} == offer.allowances
        for unit, row in opened.items():
            assert (row.msisdn, row.expires_at) == (line.msisdn, expires_at)
            self.buckets[row.id] = Bucket(
                row.id, line.msisdn, unit, row.balance, expires_at, offer.code, purchase_id=purchase_id
            )

    def plan(self, line: Line, service: Service, requested: int, *, roaming: bool) -> Grant | None:
        """Buckets of the unit first (earliest expiry first; only roaming bundles while roaming), then, after a
        throttling bundle, free slow data; otherwise whole billing steps the main balance can afford at the
        tariff (abroad: the roaming tariff, if the operator has one; none after the usage period). None: nothing
        at all to grant."""
        views = [b for b in self.live_buckets(line, service.unit) if not roaming or OFFERS[b.bundle_code].roaming]
        holds: list[tuple[int, int]] = []
        left = requested
        for bucket in views:
            if left == 0:
                break
            if bucket.balance > 0:
                taken = min(bucket.balance, left)
                holds.append((bucket.account_id, taken))
                left -= taken
        money_units = money_qepik = throttled = 0
        tariff = line.terms.roaming_tariff if roaming else line.terms.tariff
        if self.usage_period_over(line):
            tariff = None
        if left and service is Service.DATA and any(OFFERS[b.bundle_code].throttles for b in views):
            event("throttled data")
            throttled = left
        elif left and tariff is not None:
            step = tariff.step(service)
            low, high = 0, -(-left // step)  # the most whole steps the balance affords, up to what was asked
            while low < high:
                middle = (low + high + 1) // 2
                if tariff.price(service, middle * step) <= line.main_qepik:
                    low = middle
                else:
                    high = middle - 1
            money_units = low * step
            money_qepik = tariff.price(service, money_units) if money_units else 0
        grant = Grant(tuple(holds), money_units, money_qepik, throttled, tariff)
        return grant if grant.units else None

    def hold(self, line: Line, grant: Grant) -> None:
        for account_id, units in grant.holds:
            self.buckets[account_id].balance -= units
        line.main_qepik -= grant.money_qepik

    def release(self, line: Line, service: Service, grant: Grant, used: int) -> int:
        """The end of a session: used units out of the holds first, then the free slow data, then what was
        bought from the balance, charged by the tariff; the rest goes back (units only to a bucket still live).
        Returns what was charged."""
        now = self.now()
        left = used
        for account_id, units in grant.holds:
            taken = min(units, left)
            left -= taken
            bucket = self.buckets[account_id]
            if units - taken and bucket.expires_at > now:
                bucket.balance += units - taken
        left -= min(left, grant.throttled_units)
        tariff = grant.tariff
        charged = min(grant.money_qepik, tariff.price(service, left)) if left and grant.money_qepik and tariff else 0
        line.main_qepik += grant.money_qepik - charged
        self.fell(line, before_qepik=line.main_qepik + charged, after_qepik=line.main_qepik)
        return charged

    # --- set-up -------------------------------------------------------------------------------------------------

    @initialize(
        prefixes=st.lists(st.sampled_from(sorted(OPERATOR_OF_PREFIX)), min_size=2, max_size=4, unique=True),
        funds=st.lists(st.integers(100, 10_000), min_size=4, max_size=4),
        first_bundles=st.lists(st.integers(0, 99), max_size=4),
    )
    def provision(self, prefixes: list[str], funds: list[int], first_bundles: list[int]) -> None:
        """The lines, each topped up and given a card; some also buy a bundle of their operator's at once."""
        for index, prefix in enumerate(prefixes):
            provisioned = lines.provision_line(
                self.application.uow(), self.clock, number=f"+994{prefix}{7770000 + index:07d}"
            )
            assert provisioned.operator == OPERATOR_OF_PREFIX[prefix]
            self.lines.append(Line(provisioned.msisdn.e164, provisioned.operator, CARDS[index]))
            self.top_up(index, funds[index])
            self.save_card(index, declined=False)  # a card to set rules with (more are saved by the rule)
        for index, pick in enumerate(first_bundles[: len(self.lines)]):
            self.buy_bundle(index, pick, own=True)

    # --- money in, bundles ------------------------------------------------------------------------------------

    @rule(index=LINE, amount_qepik=AMOUNTS)
    def top_up(self, index: int, amount_qepik: int) -> None:
        line = self.line(index)

        def call() -> Any:
            return topups.top_up(
                self.application.uow(),
                self.clock,
                self.application.codes,
                number=line.msisdn,
                amount_qepik=amount_qepik,
                channel="api",
            )

        refusal = self.top_up_refusal(line, amount_qepik)
        if refusal is not None:
            refused(refusal, self.snapshot, call)
            return
        record = call()
        self.credit(line, amount_qepik)
        assert (record.balance_after_qepik, record.valid_until) == (line.main_qepik, line.valid_until)

    @rule(index=LINE, pick=st.integers(0, 99), own=st.sampled_from([True] * 4 + [False]))
    def buy_bundle(self, index: int, pick: int, own: bool) -> None:
        """One of the line's operator's bundles, or (one time in five) any code at all."""
        line = self.line(index)
        codes = sorted(code for code, offer in OFFERS.items() if offer.operator == line.operator) if own else None
        code = codes[pick % len(codes)] if codes else BUNDLE_CODES[pick % len(BUNDLE_CODES)]
        self.buy(line, code)

    def buy(self, line: Line, code: str) -> None:
        offer = OFFERS.get(code)
        if offer is not None and offer.auto_renew and self.renewing(line):
            return  # one auto-renewing bundle on the go per line (see the module's docstring)

        def call() -> Any:
            return bundles.buy_bundle(
                self.application.uow(),
                self.clock,
                self.application.codes,
                number=line.msisdn,
                bundle_code=code,
                channel="api",
            )

        refusal = self.purchase_refusal(line, code)
        if refusal is not None:
            refused(refusal, self.snapshot, call)
            return
        assert offer is not None
        record = call()
        self.bought(line, offer, record.id)
        assert record.balance_after_qepik == line.main_qepik

    # --- usage --------------------------------------------------------------------------------------------------

    @rule(
        index=LINE,
        service=st.sampled_from([Service.DATA, Service.VOICE]),
        requested=REQUESTS,
        share=SHARE,
        roaming=st.booleans(),
    )
    def use(self, index: int, service: Service, requested: int, share: int, roaming: bool) -> None:
        """A session opened and terminated, having used `share` percent of what it was granted."""
        line = self.line(index)
        requested = requested if service is Service.DATA else requested % 20_000 + 1

        def call() -> Any:
            return charging.open_session(
                self.application.uow(),
                self.application.charging,
                number=line.msisdn,
                service=service,
                requested=requested,
                roaming=roaming,
            )

        grant = self.plan(line, service, requested, roaming=roaming)
        if grant is None:
            refused("no_balance", self.snapshot, call)
            return
        opened = call()
        assert opened["granted_units"] == grant.units
        self.hold(line, grant)
        used = grant.units * share // 100
        ended = charging.terminate_session(
            self.application.uow(),
            self.application.charging,
            session_id=opened["session_id"],
            request_number=1,
            used=used,
        )
        charged = self.release(line, service, grant, used)
        assert (ended["used_units"], ended["charged_qepik"]) == (used, charged)

    @rule(index=LINE, roaming=st.booleans())
    def send_sms(self, index: int, roaming: bool) -> None:
        line = self.line(index)

        def call() -> Any:
            return charging.charge_event(
                self.application.uow(), self.application.charging, number=line.msisdn, roaming=roaming
            )

        grant = self.plan(line, Service.SMS, 1, roaming=roaming)
        if grant is None:
            refused("no_balance", self.snapshot, call)
            return
        ended = call()
        self.hold(line, grant)
        assert ended["charged_qepik"] == self.release(line, Service.SMS, grant, 1)

    @rule(
        index=LINE,
        service=st.sampled_from([Service.DATA, Service.VOICE]),
        requested=REQUESTS,
        share=SHARE,
    )
    def leave_a_session_open(self, index: int, service: Service, requested: int, share: int) -> None:
        """The network reports some use and then goes silent: the worker ends the session after its validity."""
        line = self.line(index)
        if line.session is not None:
            return  # one open session per line (see the module's docstring)
        requested = requested if service is Service.DATA else requested % 20_000 + 1

        def call() -> Any:
            return charging.open_session(
                self.application.uow(),
                self.application.charging,
                number=line.msisdn,
                service=service,
                requested=requested,
            )

        grant = self.plan(line, service, requested, roaming=False)
        if grant is None:
            refused("no_balance", self.snapshot, call)
            return
        opened = call()
        assert opened["granted_units"] == grant.units
        self.hold(line, grant)
        used = grant.units * share // 100
        if used:
            charging.update_session(
                self.application.uow(),
                self.application.charging,
                session_id=opened["session_id"],
                request_number=1,
                used=used,
            )
        line.session = Session(
            opened["session_id"], service, grant, used, self.now() + self.application.charging.validity
        )

    # --- saved cards and auto-recharge ------------------------------------------------------------------------

    @rule(index=LINE, declined=st.sampled_from([False] * 7 + [True]))
    def save_card(self, index: int, declined: bool) -> None:
        line = self.line(index)

        def call() -> Any:
            return payment_methods.save_card(
                self.application.uow(),
                self.saga,
                scope=SCOPE,
                number=line.msisdn,
                card=DECLINED if declined else line.card,
            )

        if len(line.cards) >= SAVED_CARDS_MAX:  # room is checked before the acquirer is asked
            refused("too_many_payment_methods", self.snapshot, call)
        elif declined:
            refused("card_not_accepted", self.snapshot, call)
        else:
            line.cards.append(call().id)

    def card_for_rule(self, line: Line, spoiler: str) -> str:
        return line.cards[-1] if spoiler != "card" and line.cards else "nosuchcard"

    def rule_refusal(self, line: Line, amount_qepik: int, card_id: str) -> str | None:
        if (refusal := self.top_up_refusal(line, amount_qepik)) is not None:
            return refusal
        return None if card_id in line.cards else "payment_method_not_found"

    @rule(
        index=LINE,
        above_balance_qepik=st.integers(-600, 300),
        amount_qepik=st.integers(100, 2_000),
        monthly_max=st.integers(1, 3),
        spoiler=SPOILERS,
    )
    def set_threshold(
        self, index: int, above_balance_qepik: int, amount_qepik: int, monthly_max: int, spoiler: str
    ) -> None:
        """A threshold near the balance (so that usage crosses it), sometimes just above it (due at once)."""
        line = self.line(index)
        card_id = self.card_for_rule(line, spoiler)
        most = amount_qepik * THRESHOLD_TIMES_AMOUNT_MAX
        if spoiler == "threshold":  # not above zero, or too far above what one top-up brings
            threshold_qepik = 0 if above_balance_qepik % 2 else most + 1
        else:
            threshold_qepik = min(max(line.main_qepik + above_balance_qepik, 1), most)
        amount_qepik = {"amount": 50_001}.get(spoiler, amount_qepik)
        monthly_max = {"monthly_max": 32}.get(spoiler, monthly_max)

        def call() -> Any:
            return auto_recharge.set_threshold(
                self.application.uow(),
                self.saga,
                scope=SCOPE,
                card_scope=SCOPE,
                number=line.msisdn,
                threshold_qepik=threshold_qepik,
                amount_qepik=amount_qepik,
                monthly_max=monthly_max,
                payment_method_id=card_id,
            )

        if (
            threshold_qepik <= 0
            or threshold_qepik > amount_qepik * THRESHOLD_TIMES_AMOUNT_MAX
            or not 1 <= monthly_max <= MONTHLY_MAX_LIMIT
        ):
            refused("invalid_input", self.snapshot, call)
            return
        if (refusal := self.rule_refusal(line, amount_qepik, card_id)) is not None:
            refused(refusal, self.snapshot, call)
            return
        made = call()
        before = line.rules.get(RuleKind.THRESHOLD)
        assert before is None or made.id == before.id  # the line's rule, replaced: its runs still count
        line.rules[RuleKind.THRESHOLD] = Rule(
            made.id,
            RuleKind.THRESHOLD,
            amount_qepik,
            due_at=self.now() if line.main_qepik < threshold_qepik else None,
            threshold_qepik=threshold_qepik,
            monthly_max=monthly_max,
            runs=before.runs if before else [],
            monthly_maxima=[*(before.monthly_maxima if before else []), (self.now(), monthly_max)],
        )
        line.below_qepik = threshold_qepik

    @rule(index=LINE, day_of_month=st.integers(1, 31), amount_qepik=st.integers(100, 2_000), spoiler=SPOILERS)
    def set_schedule(self, index: int, day_of_month: int, amount_qepik: int, spoiler: str) -> None:
        line = self.line(index)
        card_id = self.card_for_rule(line, spoiler)
        day_of_month = {"day": 32}.get(spoiler, day_of_month)
        amount_qepik = {"amount": 99}.get(spoiler, amount_qepik)

        def call() -> Any:
            return auto_recharge.set_schedule(
                self.application.uow(),
                self.saga,
                scope=SCOPE,
                card_scope=SCOPE,
                number=line.msisdn,
                day_of_month=day_of_month,
                amount_qepik=amount_qepik,
                payment_method_id=card_id,
            )

        if not 1 <= day_of_month <= 31:
            refused("invalid_input", self.snapshot, call)
            return
        if (refusal := self.rule_refusal(line, amount_qepik, card_id)) is not None:
            refused(refusal, self.snapshot, call)
            return
        made = call()
        before = line.rules.get(RuleKind.SCHEDULE)
        assert before is None or made.id == before.id
        line.rules[RuleKind.SCHEDULE] = Rule(
            made.id,
            RuleKind.SCHEDULE,
            amount_qepik,
            due_at=next_scheduled(day_of_month, after=self.now()),
            day_of_month=day_of_month,
            runs=before.runs if before else [],
        )

    # --- time and the worker ------------------------------------------------------------------------------------

    @rule(
        delta=st.one_of(
            st.integers(0, 23).map(lambda hours: timedelta(hours=hours)),
            st.integers(1, 6).map(lambda days: timedelta(days=days)),
            st.sampled_from([timedelta(days=days) for days in (7, 14, 30, 31)]),
        )
    )
    def time_passes(self, delta: timedelta) -> None:
        """Hours or days pass, then the worker runs its jobs, in the worker's order."""
        self.clock.advance(delta + timedelta(seconds=1))
        if self.now().second == 0:  # never exactly on a minute, so never on a scheduled run's moment
            self.clock.advance(timedelta(seconds=1))
        application = self.application
        assert orders.settle_due(application.uow(), self.saga) == 0  # every run ended in its own job
        self.end_silent_sessions(charging.end_expired(application.uow(), application.charging))
        self.expire(lifecycle.expire_bundles(application.uow(), application.lifecycle))
        self.renew(lifecycle.renew_due(application.uow(), application.lifecycle))
        self.run_auto_recharges(auto_recharge.run_due(application.uow(), self.saga))

    def end_silent_sessions(self, looked_at: int) -> None:
        silent = [line for line in self.lines if line.session and line.session.expires_at <= self.now()]
        assert looked_at == len(silent)
        for line in silent:
            assert line.session is not None
            event("a silent session ended by the worker")
            self.release(line, line.session.service, line.session.grant, line.session.used)
            line.session = None

    def expire(self, settled: int) -> None:
        now = self.now()
        expired = [b for b in self.buckets.values() if not b.settled and b.expires_at <= now]
        assert settled == len(expired)
        for bucket in expired:
            event("a bucket expired" if bucket.balance == 0 else "a bucket expired with units left")
            bucket.balance, bucket.settled = 0, True
            if OFFERS[bucket.bundle_code].auto_renew and bucket.purchase_id not in self.renewals:
                self.renewals[bucket.purchase_id] = Renewal(
                    bucket.purchase_id,
                    bucket.msisdn,
                    bucket.bundle_code,
                    give_up_at=bucket.expires_at + RENEWAL_PERIOD,
                    next_attempt_at=now,
                )

    def renew(self, looked_at: int) -> None:
        now = self.now()
        due = [
            r
            for r in self.renewals.values()
            if r.state == "pending" and r.next_attempt_at is not None and r.next_attempt_at <= now
        ]
        assert looked_at == len(due)
        for renewal in sorted(due, key=lambda r: (r.next_attempt_at or now, r.source_id)):
            line = next(line for line in self.lines if line.msisdn == renewal.msisdn)
            renewal.attempts += 1
            failure = self.purchase_refusal(line, renewal.bundle_code)
            if failure is None:
                [stored] = [
                    r
                    for r in lifecycle.renewals(self.application.uow(), number=line.msisdn)
                    if r.source_transaction_id == renewal.source_id
                ]
                assert stored.renewed_transaction_id is not None, (stored, line)
                event("renewed")
                renewal.state, renewal.next_attempt_at, renewal.last_failure = "renewed", None, None
                self.bought(line, OFFERS[renewal.bundle_code], stored.renewed_transaction_id)
            else:
                event(f"renewal failed: {failure}")
                renewal.last_failure = failure
                retry_at = now + RENEWAL_RETRY
                if retry_at > renewal.give_up_at:
                    event("renewal given up")
                    renewal.state, renewal.next_attempt_at = "given_up", None
                else:
                    renewal.next_attempt_at = retry_at

    def run_auto_recharges(self, looked_at: int) -> None:
        now = self.now()
        due = [
            (rule_.due_at, rule_.kind.value, line, rule_)
            for line in self.lines
            for rule_ in line.rules.values()
            if rule_.due_at is not None and rule_.due_at <= now
        ]
        assert looked_at == len(due)
        for _, _, line, rule_ in sorted(due, key=lambda item: (item[0], item[1], item[2].msisdn)):
            if rule_.kind is RuleKind.THRESHOLD:
                assert rule_.threshold_qepik is not None
                assert rule_.monthly_max is not None
                if line.main_qepik >= rule_.threshold_qepik:  # back above meanwhile: wait for the next fall
                    event("auto-recharge: balance back above")
                    rule_.due_at = None
                    continue
                if rule_.runs_since(month_start(now)) >= rule_.monthly_max:
                    event("auto-recharge: monthly maximum reached")
                    rule_.due_at = next_month_start(now)
                    continue
            if self.top_up_refusal(line, rule_.amount_qepik) is not None:  # a failure no retry mends
                event("auto-recharge: suspended")
                rule_.state, rule_.due_at = "suspended", None
                if rule_.kind is RuleKind.THRESHOLD:
                    line.below_qepik = None
                continue
            today = [run for r in line.rules.values() for run in r.runs if baku_today(run) == baku_today(now)]
            assert len(today) < ORDERS_PER_NUMBER_DAY_MAX, "the model assumes the daily limits never meet"
            event(f"auto-recharge: {rule_.kind.value} ran")
            self.credit(line, rule_.amount_qepik)
            rule_.runs.append(now)
            if rule_.kind is RuleKind.SCHEDULE:
                assert rule_.day_of_month is not None
                rule_.due_at = next_scheduled(rule_.day_of_month, after=now)
            else:
                rule_.due_at = None

    # --- invariants ---------------------------------------------------------------------------------------------

    @invariant()
    def the_ledger_balances(self) -> None:
        audit = ledger.audit_ledger(self.application.uow())
        assert audit.ok, audit

    @invariant()
    def nothing_is_below_zero(self) -> None:
        assert all(line.main_qepik >= 0 for line in self.lines)
        assert all(bucket.balance >= 0 for bucket in self.buckets.values())

    @invariant()
    def balances_are_the_models(self) -> None:
        now = self.now()
        for line in self.lines:
            balance = lines.balance(self.application.uow(), self.clock, number=line.msisdn)
            assert (balance.main_qepik, balance.line.valid_until, balance.line.auto_recharge_below_qepik) == (
                line.main_qepik,
                line.valid_until,
                line.below_qepik,
            ), line.msisdn
            assert {view.bucket.account_id: view.bucket.balance for view in balance.buckets} == {
                b.account_id: b.balance
                for b in self.buckets.values()
                if b.msisdn == line.msisdn and b.expires_at > now and b.balance > 0
            }, line.msisdn
        with self.application.engine.connect() as connection:
            stored = dict(connection.execute(text("SELECT id, balance FROM accounts WHERE kind = 'bucket'")).all())
        assert stored == {b.account_id: b.balance for b in self.buckets.values()}  # expired ones too

    @invariant()
    def renewals_are_the_models(self) -> None:
        for line in self.lines:
            stored = {
                r.source_transaction_id: (
                    r.bundle_code,
                    r.state.value,
                    r.attempts,
                    r.next_attempt_at,
                    r.give_up_at,
                    r.last_failure,
                )
                for r in lifecycle.renewals(self.application.uow(), number=line.msisdn)
            }
            assert stored == {
                r.source_id: (r.bundle_code, r.state, r.attempts, r.next_attempt_at, r.give_up_at, r.last_failure)
                for r in self.renewals.values()
                if r.msisdn == line.msisdn
            }, line.msisdn

    @invariant()
    def auto_recharge_fires_once_per_fall_and_within_its_monthly_maximum(self) -> None:
        since = month_start(self.now())
        for line in self.lines:
            stored = {
                view.rule.kind: (
                    view.rule.state.value,
                    view.rule.due_at,
                    view.rule.amount_qepik,
                    view.rule.threshold_qepik,
                    view.rule.monthly_max,
                    view.rule.day_of_month,
                    view.runs_this_month,
                )
                for view in auto_recharge.rules_of(self.application.uow(), self.saga, number=line.msisdn, scope=None)
            }
            assert stored == {
                kind: (
                    r.state,
                    r.due_at,
                    r.amount_qepik,
                    r.threshold_qepik,
                    r.monthly_max,
                    r.day_of_month,
                    r.runs_since(since),
                )
                for kind, r in line.rules.items()
            }, line.msisdn
            placed = orders.list_orders(self.application.uow(), scope=None, number=line.msisdn, limit=200)
            assert all(order.state is OrderState.FULFILLED and order.auto_recharge_id for order in placed)
            assert len(placed) == sum(len(r.runs) for r in line.rules.values())
            for kind, rule_ in line.rules.items():
                runs = sorted(order.created_at for order in placed if order.auto_recharge_id == rule_.id)
                assert runs == sorted(rule_.runs), (line.msisdn, kind)
                if kind is RuleKind.THRESHOLD:
                    for run in runs:
                        start = month_start(run)
                        in_month = sum(start <= other < next_month_start(run) for other in runs)
                        assert in_month <= allowed_in_month(rule_.monthly_maxima, start, next_month_start(run))


def allowed_in_month(maxima: list[tuple[datetime, int]], start: datetime, end: datetime) -> int:
    """The largest monthly maximum the rule had at any time in [start, end)."""
    in_force = [value for moment, value in maxima if moment < start][-1:]
    set_during = [value for moment, value in maxima if start <= moment < end]
    return max(in_force + set_during, default=0)


SQLITE_RUN = settings(max_examples=25, stateful_step_count=40, deadline=None)
POSTGRES_RUN = settings(max_examples=8, stateful_step_count=25, deadline=None)


def test_balances_renewals_and_auto_recharges_follow_the_model(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        template: Path = request.getfixturevalue("sqlite_template")
        numbers = count()

        def new_database() -> str:  # a fresh copy of the migrated template for every example
            path = tmp_path / f"example-{next(numbers)}.db"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"

        run = SQLITE_RUN
    else:

        def new_database() -> str:  # the same schema, emptied for every example
            _empty_postgres(database_url)
            return database_url

        run = POSTGRES_RUN
    machine = type("LedgerModelRun", (LedgerModel,), {"new_database": staticmethod(new_database)})
    run_state_machine_as_test(machine, settings=run)


def test_what_a_session_held_of_a_whole_bucket_goes_back_to_the_bucket(application: Application) -> None:
    """Found by the model above, kept as a plain example: a session that holds all that is left of a bucket and
    uses only part of it gives the rest back to that bucket, which is still valid for the day."""
    number = make_line(application, balance_qepik=100).msisdn.e164
    buy_bundle(application, number, "azercell-1gb-1d")  # 1.00 AZN: 1,000,000 KB for a day; the balance is now 0
    opened = charging.open_session(
        application.uow(), application.charging, number=number, service=Service.DATA, requested=1_500_000
    )
    assert opened["granted_units"] == 1_000_000  # the whole bucket; the main balance has nothing to add

    ended = charging.terminate_session(
        application.uow(), application.charging, session_id=opened["session_id"], request_number=1, used=400_000
    )

    assert (ended["used_units"], ended["charged_qepik"]) == (400_000, 0)
    left = lines.balance(application.uow(), application.clock, number=number).buckets
    assert [(view.bundle_code, view.bucket.balance) for view in left] == [("azercell-1gb-1d", 600_000)]
    assert ledger.audit_ledger(application.uow()).ok
