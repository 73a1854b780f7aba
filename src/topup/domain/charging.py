"""Online charging, credit-control style (the network's Gy interface, over HTTP/JSON).

A session reserves units before they are used: first from the line's live bundle buckets of the service's unit
(earliest expiry first; only roaming bundles while roaming), then from the main balance at the operator's
out-of-bundle tariff, rounded up to the billing increment. The network reports what was used; at the end the
used part is charged and the rest released. Reservations are holds in the ledger (units moved to a reservation
account), so a balance is never promised twice.

Request numbers follow Gy: the opening request is 0, each update and the final report take the next number; a
repeated number gets the same answer again, a number out of sequence is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from topup.domain.catalogue import Tariff
from topup.domain.errors import DomainError, ErrorKind, InvalidInput
from topup.domain.ledger import Bucket, Unit

KB_PER_MB = 1000
SECONDS_PER_MINUTE = 60
UNITS_MAX = 10**12  # far above any real request (a petabyte in KB); refuses absurd numbers before arithmetic


class Service(StrEnum):
    DATA = "data"  # units: KB
    VOICE = "voice"  # units: seconds
    SMS = "sms"  # units: messages

    @property
    def unit(self) -> Unit:
        return {Service.DATA: Unit.DATA_KB, Service.VOICE: Unit.VOICE_SECONDS, Service.SMS: Unit.SMS}[self]


class SessionState(StrEnum):
    OPEN = "open"
    TERMINATED = "terminated"


class NoBalance(DomainError):
    code = "no_balance"


class SessionNotFound(DomainError):
    code = "session_not_found"
    kind = ErrorKind.NOT_FOUND


class SessionClosed(DomainError):
    code = "session_terminated"
    kind = ErrorKind.CONFLICT


class RequestOutOfOrder(DomainError):
    code = "request_out_of_order"
    kind = ErrorKind.CONFLICT


class UsedExceedsGranted(DomainError):
    code = "used_exceeds_granted"


def check_units(value: int, *, field_name: str, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UNITS_MAX or (positive and not value):
        raise InvalidInput(
            f"{field_name} must be a whole number from {1 if positive else 0} to {UNITS_MAX}.", field=field_name
        )
    return value


def increment_of(service: Service, tariff: Tariff) -> int:
    """The billing step in the service's units: data in KB steps, voice in seconds steps, SMS one by one."""
    return {Service.DATA: tariff.data_increment_kb, Service.VOICE: tariff.voice_increment_seconds, Service.SMS: 1}[
        service
    ]


def round_up(units: int, increment: int) -> int:
    return -(-units // increment) * increment


def price_qepik(service: Service, units: int, tariff: Tariff) -> int:
    """The out-of-bundle price of `units` (rounded up to the increment first), rounded up to a whole qəpik."""
    billed = round_up(units, increment_of(service, tariff))
    if service is Service.DATA:
        return -(-billed * tariff.data_qepik_per_mb // KB_PER_MB)
    if service is Service.VOICE:
        return -(-billed * tariff.voice_qepik_per_minute // SECONDS_PER_MINUTE)
    return billed * tariff.sms_qepik


@dataclass(frozen=True, slots=True)
class Hold:
    """Units held from one bucket."""

    account_id: int
    units: int


@dataclass(frozen=True, slots=True)
class Grant:
    """What one reservation holds: units from buckets, then units bought from the main balance."""

    holds: tuple[Hold, ...]
    money_units: int  # units covered by the main balance
    money_qepik: int  # what those units cost, held from the main balance
    throttled_units: int = 0  # data at a throttled bundle's slow speed: free

    @property
    def units(self) -> int:
        return sum(hold.units for hold in self.holds) + self.money_units + self.throttled_units


def plan_grant(
    service: Service,
    requested: int,
    *,
    buckets: list[Bucket],
    main_balance_qepik: int,
    tariff: Tariff | None,
    now: datetime,
    throttled: bool = False,
) -> Grant:
    """Reserve up to `requested` units: buckets first (earliest expiry), the rest from the main balance in whole
    billing increments it can afford. `tariff` None means no out-of-bundle use (roaming without a tariff).
    `throttled`: a live data bundle goes on at a slow speed once used up, so the rest is granted free instead
    of from the main balance. Refuses with `no_balance` when nothing at all can be granted."""
    unit = service.unit
    holds: list[Hold] = []
    left = requested
    for bucket in sorted(buckets, key=lambda b: (b.expires_at, b.account_id)):
        if left == 0:
            break
        if bucket.unit is not unit or bucket.balance <= 0 or bucket.expires_at <= now:
            continue
        taken = min(bucket.balance, left)
        holds.append(Hold(bucket.account_id, taken))
        left -= taken
    money_units = money_qepik = 0
    if left and throttled and service is Service.DATA:
        return Grant(tuple(holds), 0, 0, throttled_units=left)
    if left and tariff is not None:
        step = increment_of(service, tariff)
        wanted = round_up(left, step)
        step_price = price_qepik(service, step, tariff)
        affordable_steps = main_balance_qepik // step_price if step_price else wanted // step
        money_units = min(wanted, affordable_steps * step)
        money_qepik = price_qepik(service, money_units, tariff) if money_units else 0
        if money_qepik > main_balance_qepik:  # rounding of a partial price: one step fewer
            money_units -= step
            money_qepik = price_qepik(service, money_units, tariff) if money_units else 0
    grant = Grant(tuple(holds), money_units, money_qepik)
    if grant.units == 0:
        raise NoBalance(
            f"The line has no {service.value} allowance and not enough balance for one billing step.",
            service=service.value,
        )
    return grant


@dataclass(frozen=True, slots=True)
class Settlement:
    """What the end of a session moves: per bucket hold, used and returned; money charged and returned."""

    bucket_used: tuple[Hold, ...]
    bucket_returned: tuple[Hold, ...]
    money_charged_qepik: int
    money_returned_qepik: int


@dataclass
class ChargingSession:
    id: str
    msisdn: str
    operator: str
    service: Service
    roaming: bool
    created_at: datetime
    expires_at: datetime  # not heard from by then: the worker ends it, charging what was reported
    state: SessionState = SessionState.OPEN
    request_number: int = 0
    holds: list[Hold] = field(default_factory=list)
    money_units: int = 0
    money_qepik: int = 0
    throttled_units: int = 0
    throttle_kbps: int = 0  # the speed of the throttled part, when there is one
    used_units: int = 0
    charged_qepik: int = 0
    last_answer: str = "{}"  # the answer to `request_number`, replayed when it is repeated
    transaction_id: str | None = None  # the usage posting at the end
    updated_at: datetime | None = None

    @property
    def granted_units(self) -> int:
        return sum(hold.units for hold in self.holds) + self.money_units + self.throttled_units

    def add(self, grant: Grant) -> None:
        self.holds.extend(grant.holds)
        self.money_units += grant.money_units
        self.money_qepik += grant.money_qepik
        self.throttled_units += grant.throttled_units

    def check_request(self, number: int) -> bool:
        """True if `number` repeats the last request (answer it again); refuses anything out of sequence."""
        if number == self.request_number:
            return True
        if self.state is SessionState.TERMINATED:
            raise SessionClosed("This charging session has ended.", session_id=self.id)
        if number != self.request_number + 1:
            raise RequestOutOfOrder(
                f"Expected request number {self.request_number + 1}, got {number}.",
                expected=self.request_number + 1,
                received=number,
            )
        return False

    def report(self, used: int) -> None:
        if self.used_units + used > self.granted_units:
            raise UsedExceedsGranted(
                "More units were reported used than were granted.",
                granted=self.granted_units,
                used=self.used_units + used,
            )
        self.used_units += used

    def settle(self, tariff: Tariff | None) -> Settlement:
        """Used units come out of the bucket holds first, in the order they were held, then out of throttled
        (free) units, then out of the units bought from the main balance, charged at the tariff (rounded up to
        the increment), never above what was held for them."""
        left = self.used_units
        used: list[Hold] = []
        returned: list[Hold] = []
        for hold in self.holds:
            taken = min(hold.units, left)
            left -= taken
            if taken:
                used.append(Hold(hold.account_id, taken))
            if hold.units - taken:
                returned.append(Hold(hold.account_id, hold.units - taken))
        left -= min(left, self.throttled_units)  # throttled data is free
        charged = min(self.money_qepik, price_qepik(self.service, left, tariff)) if left and tariff else 0
        return Settlement(tuple(used), tuple(returned), charged, self.money_qepik - charged)
