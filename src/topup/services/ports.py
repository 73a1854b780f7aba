"""Ports: what the use cases need from the outside world, as Protocols the adapters implement."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, Self

from topup.domain.agents import Agent, AgentKind, AgentUser, Movement
from topup.domain.auto_recharge import AutoRecharge
from topup.domain.catalogue import Catalogue
from topup.domain.charging import ChargingSession
from topup.domain.history import TransactionRecord
from topup.domain.kiosks import Collection, KioskPayment
from topup.domain.ledger import AccountKind, AccountState, Bucket, Transfer, Unit
from topup.domain.lifecycle import ExpiredBucket, Renewal
from topup.domain.limits import Usage
from topup.domain.lines import Line
from topup.domain.notifications import Notification, NotificationSettings
from topup.domain.numbers import Msisdn
from topup.domain.orders import Order, PaymentMethod, Transition
from topup.domain.payment_methods import SavedCard
from topup.domain.quotes import Quote
from topup.domain.sign_in import SignInState, WebSession
from topup.domain.ussd import UssdSession
from topup.domain.vouchers import Batch, Voucher, VoucherEvent, VoucherState

if TYPE_CHECKING:  # the webhook service defines its records; importing them at run time would be circular
    from topup.services.webhooks import DeliveryAttempt, PendingEvent, Webhook


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class Digests(Protocol):
    def digest(self, purpose: str, value: str) -> str:
        """A keyed hash of `value` for `purpose` (a sign-in code, a session token, a voucher PIN): stored in
        place of the secret itself, and useless without the server's key."""
        ...


class Fingerprints(Protocol):
    def card(self, number: str) -> str:
        """A stable keyed hash of a card number (never the number itself)."""
        ...


class ReceiptCodes(Protocol):
    def code_for(self, transaction_id: str) -> str:
        """A short code, derived with a secret key, that proves a receipt was issued by us."""
        ...


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: str
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    agent_id: str | None = None  # an agent's or kiosk's key acts for that agent only


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int | None  # None: claimed, still being worked on (body then names the resource)
    body: str


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    scope: str  # whose key space: the API key's id
    key: str
    fingerprint: str  # hash of method, path and body: the same key with another request is refused


@dataclass(frozen=True, slots=True)
class BucketView:
    bucket: Bucket
    bundle_code: str
    transaction_id: str
    initial: int


@dataclass(frozen=True, slots=True)
class UnitTotals:
    unit: Unit
    debits: int
    credits: int
    transfers: int


@dataclass(frozen=True, slots=True)
class LedgerAudit:
    """What `topup ledger check` reports."""

    totals: list[UnitTotals]
    balance_mismatches: list[tuple[int, int, int]]  # account id, stored balance, sum of its transfers
    unit_mismatches: int  # transfers whose unit differs from an account's
    negative_balances: int
    accounts: int

    @property
    def ok(self) -> bool:
        return (
            all(t.debits == t.credits for t in self.totals)
            and not self.balance_mismatches
            and self.unit_mismatches == 0
            and self.negative_balances == 0
        )


@dataclass(frozen=True, slots=True)
class FxRate:
    currency: str
    rate_micros: int
    set_at: datetime
    set_by: str


class FxRateRepository(Protocol):
    def add(self, rate: FxRate) -> None: ...

    def latest(self, currency: str) -> FxRate | None: ...

    def current(self) -> list[FxRate]:
        """The latest rate of every currency that has one."""
        ...


class QuoteRepository(Protocol):
    def add(self, quote: Quote) -> None: ...

    def get(self, quote_id: str) -> Quote | None: ...


class OrderRepository(Protocol):
    def add(self, order: Order) -> None: ...

    def get(self, order_id: str, *, for_update: bool = False) -> Order | None: ...

    def by_delivered_transaction(self, transaction_id: str) -> Order | None: ...

    def by_provider_reference(self, payment_method: PaymentMethod, provider_reference: str) -> Order | None:
        """The (newest) order a provider knows by this reference."""
        ...

    def save(self, order: Order) -> Sequence[Transition]:
        """Write the order's changed fields and its new transitions; returns those transitions."""
        ...

    def due_for_check(self, *, now: datetime, limit: int) -> list[str]: ...

    def usage(self, *, msisdn: str | None, card_fingerprint: str | None, since: datetime) -> Usage: ...

    def auto_recharge_runs(self, rule_id: str, *, since: datetime) -> int: ...

    def list(
        self,
        *,
        scope: str | None,
        msisdn: str | None,
        state: str | None,
        created_from: datetime | None,
        created_to: datetime | None,
        limit: int,
    ) -> list[Order]: ...


class ChargingRepository(Protocol):
    def add(self, session: ChargingSession) -> None: ...

    def get(self, session_id: str, *, for_update: bool = False) -> ChargingSession | None: ...

    def save(self, session: ChargingSession) -> None: ...

    def ended_since(self, msisdn: str, *, since: datetime) -> list[ChargingSession]: ...

    def expired(self, *, now: datetime, limit: int) -> list[str]:
        """Ids of open sessions not heard from by `now`, oldest first."""
        ...


class LifecycleRepository(Protocol):
    def lines_with_expired_buckets(self, *, now: datetime, limit: int) -> list[str]: ...

    def expired_buckets(self, msisdn: str, *, now: datetime) -> list[ExpiredBucket]: ...

    def mark_settled(self, account_ids: Sequence[int], *, now: datetime) -> None: ...

    def lines_past_grace(self, operator: str, *, valid_before: date, limit: int) -> list[str]: ...

    def buckets_expiring(self, *, after: datetime, until: datetime, limit: int) -> list[ExpiredBucket]: ...

    def lines_valid_until(self, operator: str, day: date, *, limit: int) -> list[str]: ...

    def add_renewal(self, renewal: Renewal) -> None: ...

    def due_renewals(self, *, now: datetime, limit: int) -> list[str]: ...

    def renewal(self, source_transaction_id: str, *, for_update: bool = False) -> Renewal | None: ...

    def renewals_of(self, msisdn: str) -> list[Renewal]: ...

    def save_renewal(self, renewal: Renewal) -> None: ...


class NotificationRepository(Protocol):
    def queue(self, notification: Notification) -> None:
        """Add it unless one with its de-duplication key exists."""
        ...

    def lease_unsent(self, *, now: datetime, lease_until: datetime, limit: int) -> list[Notification]:
        """Unsent notifications due by `now` (a simulator's clock runs behind the wall clock), leased to the
        caller until `lease_until`."""
        ...

    def lease(self, notification_id: str, *, now: datetime, lease_until: datetime) -> Notification | None: ...

    def record_deliveries(self, progress: Sequence[tuple[Notification, datetime | None]]) -> None:
        """Store each one's channels' progress (`pending_channels`, `deliveries`, `attempts`, `sent_at`) and when
        to try it again (None: not by the clock)."""
        ...

    def latest(self, *, msisdn: str | None, limit: int) -> list[Notification]: ...


class NotificationSettingsRepository(Protocol):
    def get(self, msisdn: str) -> NotificationSettings | None: ...

    def get_many(self, msisdns: Iterable[str]) -> dict[str, NotificationSettings]:
        """The settings of those of `msisdns` that have any."""
        ...

    def put(self, settings: NotificationSettings) -> None: ...


class PaymentMethodRepository(Protocol):
    def add(self, card: SavedCard) -> None: ...

    def get(self, method_id: str) -> SavedCard | None: ...

    def of_line(self, msisdn: str, *, scope: str | None) -> list[SavedCard]: ...

    def remove(self, method_id: str, *, now: datetime) -> None: ...


class AutoRechargeRepository(Protocol):
    def put(self, rule: AutoRecharge) -> None:
        """Add the rule, replacing the line's rule of the same kind."""
        ...

    def save(self, rule: AutoRecharge) -> None: ...

    def get(self, rule_id: str, *, for_update: bool = False) -> AutoRecharge | None: ...

    def of_line(self, msisdn: str) -> list[AutoRecharge]: ...

    def remove(self, rule_id: str) -> None: ...

    def using(self, payment_method_id: str) -> list[AutoRecharge]: ...

    def due(self, *, now: datetime, limit: int) -> list[str]: ...

    def mark_fall(self, msisdn: str, *, now: datetime) -> None:
        """The line's balance fell below its threshold rule's threshold: make that rule due now."""
        ...


class WebhookRepository(Protocol):
    def add(self, webhook: Webhook) -> None: ...

    def get(self, webhook_id: str) -> Webhook | None: ...

    def subscribed(self, scope: str, event_type: str) -> list[Webhook]: ...

    def queue(self, event_id: str, webhook_id: str, event_type: str, payload: str, *, now: datetime) -> None: ...

    def due(self, *, now: datetime, limit: int) -> list[PendingEvent]: ...

    def book_attempt(self, event_id: str, *, attempts: int, now: datetime, delay: timedelta | None) -> None: ...

    def record_attempt(
        self, event_id: str, *, attempt: int, at: datetime, status_code: int | None, error: str | None, delivered: bool
    ) -> None: ...

    def attempts(self, webhook_id: str, *, limit: int) -> list[DeliveryAttempt]: ...


class CatalogueStore(Protocol):
    def current(self) -> Catalogue:
        """The catalogue in force; raises CatalogueNotLoaded before the first load."""
        ...

    def current_version(self) -> str | None: ...

    def save(self, catalogue: Catalogue, source: str, *, now: datetime) -> bool:
        """Make `catalogue` current. False when that version was already current (nothing to do)."""
        ...


class LineRepository(Protocol):
    def get(self, msisdn: Msisdn, *, for_update: bool = False) -> Line | None: ...

    def add(self, line: Line, *, now: datetime) -> None: ...

    def set_valid_until(self, msisdn: Msisdn, valid_until: date | None, *, now: datetime) -> None: ...

    def set_operator(self, msisdn: Msisdn, operator: str, *, now: datetime) -> None: ...

    def set_auto_recharge_below(self, msisdn: Msisdn, threshold_qepik: int | None, *, now: datetime) -> None:
        """Remember the threshold of the line's active threshold auto-recharge (None: it has none)."""
        ...

    def iccid_taken(self, iccid: str) -> bool: ...


class PortRepository(Protocol):
    def operator_for(self, msisdn: Msisdn) -> str | None: ...

    def put(self, msisdn: Msisdn, operator: str, *, now: datetime) -> None: ...

    def remove(self, msisdn: Msisdn) -> bool: ...

    def list(self, *, limit: int) -> list[tuple[Msisdn, str, datetime]]: ...


class Ledger(Protocol):
    def open_account(
        self,
        *,
        kind: AccountKind,
        unit: Unit,
        msisdn: Msisdn | None,
        now: datetime,
        expires_at: datetime | None = None,
        bundle_code: str | None = None,
        transaction_id: str | None = None,
        initial: int = 0,
    ) -> int: ...

    def system_account(self, code: str, unit: Unit) -> int:
        """The id of the system account `code` (created on first use)."""
        ...

    def states(self, account_ids: Sequence[int]) -> dict[int, AccountState]: ...

    def post(self, record: TransactionRecord, transfers: Sequence[Transfer]) -> dict[int, int]:
        """Write a business transaction: its record, its transfers and the tracked balances they move, together.

        Returns the new balances. The adapter applies each change as an atomic guarded increment, so a balance
        can never go below zero even if a caller forgot to check; the database CHECK constraint stands behind
        that too.
        """
        ...

    def post_movement(
        self, transaction_id: str, transfers: Sequence[Transfer], *, msisdn: str | None, created_at: datetime
    ) -> dict[int, int]:
        """Like `post`, for money that moves outside any line's history (an agent's deposit or commission):
        its transfers and balances only; the caller keeps its own record under `transaction_id`."""
        ...

    def transfers_of(self, transaction_id: str) -> list[Transfer]: ...

    def buckets(self, msisdn: Msisdn, *, now: datetime, include_empty: bool = False) -> list[BucketView]:
        """Live buckets (not expired; not empty unless asked), earliest expiry first."""
        ...

    def audit(self) -> LedgerAudit: ...


class TransactionRepository(Protocol):
    def by_verification_code(self, code: str) -> TransactionRecord | None: ...

    def get(self, transaction_id: str) -> TransactionRecord | None: ...

    def page(
        self,
        msisdn: Msisdn,
        *,
        kinds: Sequence[str],
        created_from: datetime | None,
        created_to: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[TransactionRecord]:
        """Newest first; `after` is the (created_at, id) of the last item of the previous page."""
        ...


class ApiKeyRepository(Protocol):
    def add(self, record: ApiKeyRecord, key_hash: str) -> None: ...

    def by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...

    def list(self) -> list[ApiKeyRecord]: ...

    def revoke(self, key_id: str, *, now: datetime) -> bool: ...


class IdempotencyStore(Protocol):
    def claim(
        self, request: IdempotentRequest, *, now: datetime, pending_body: str | None = None
    ) -> StoredResponse | None:
        """Claim the key inside the current transaction. None: it is ours, go on. A stored response: the
        request was done before, replay it. Raises IdempotencyKeyReused for the same key with another request.
        A concurrent claim of the same key waits until the first transaction ends."""
        ...

    def complete(self, request: IdempotentRequest, response: StoredResponse) -> None: ...

    def record(self, request: IdempotentRequest, response: StoredResponse, *, now: datetime) -> bool:
        """Claim the key and store its answer in one write, at the end of the request's transaction. False: the
        key is another request's (done before, or by a concurrent transaction, which this one waited for)."""
        ...

    def stored(self, request: IdempotentRequest) -> StoredResponse | None:
        """The answer stored for the key, if any. Raises IdempotencyKeyReused for the same key with another
        request."""
        ...

    def release(self, request: IdempotentRequest) -> None:
        """Forget a claim that is still pending (its request failed before doing anything)."""
        ...


class SignInRepository(Protocol):
    def state(self, msisdn: str, *, now: datetime) -> SignInState:
        """The number's sign-in state, locked for the caller's transaction."""
        ...

    def save(self, state: SignInState) -> None: ...

    def add_session(self, session: WebSession) -> None: ...

    def session(self, session_id: str) -> WebSession | None: ...

    def touch(self, session_id: str, *, now: datetime) -> None: ...

    def end_session(self, session_id: str) -> None: ...

    def end_sessions_before(self, moment: datetime, *, limit: int) -> int: ...


class RateCounters(Protocol):
    def hit(self, key: str, *, window_start: datetime) -> int:
        """Count one more in the window; returns the count including this one."""
        ...

    def count(self, key: str, *, window_start: datetime) -> int: ...

    def forget_before(self, moment: datetime) -> None: ...


class AgentRepository(Protocol):
    def add(self, agent: Agent) -> None: ...

    def get(self, agent_id: str, *, for_update: bool = False) -> Agent | None: ...

    def licence_taken(self, licence_number: str) -> bool: ...

    def listed(self, *, kind: str | None, limit: int) -> list[Agent]: ...

    def save(self, agent: Agent) -> None: ...

    def add_user(self, user: AgentUser, password_hash: str) -> None: ...

    def user_by_username(self, username: str) -> tuple[AgentUser, str] | None: ...

    def user(self, user_id: str) -> AgentUser | None: ...

    def users_of(self, agent_id: str) -> list[AgentUser]: ...

    def set_user_active(self, user_id: str, active: bool, *, now: datetime) -> None: ...

    def add_session(self, session_id: str, user: AgentUser, *, now: datetime, expires_at: datetime) -> None: ...

    def session(self, session_id: str) -> tuple[str, datetime, datetime] | None: ...

    def touch_session(self, session_id: str, *, now: datetime) -> None: ...

    def end_session(self, session_id: str) -> None: ...

    def end_sessions_of(self, user_id: str) -> None: ...

    def add_movement(self, movement: Movement) -> None: ...

    def movements(
        self, agent_id: str, *, created_from: datetime | None, created_to: datetime | None, limit: int
    ) -> list[Movement]: ...

    def last_movement_before(self, agent_id: str, moment: datetime) -> Movement | None: ...

    def sale(self, agent_id: str, transaction_id: str) -> Movement | None: ...

    def count_movements(self, agent_id: str) -> int: ...

    def commission_rate(self, kind: AgentKind, operator: str) -> int: ...

    def set_commission_rate(self, kind: AgentKind, operator: str, rate_basis_points: int, *, now: datetime) -> None: ...

    def commission_rates(self) -> list[tuple[AgentKind, str, int]]: ...


class KioskRepository(Protocol):
    def add_payment(self, payment: KioskPayment) -> bool: ...

    def payment(self, kiosk_id: str, local_id: str) -> KioskPayment | None: ...

    def uncollected(self, kiosk_id: str) -> list[KioskPayment]: ...

    def payments_between(self, kiosk_id: str, start: datetime, end: datetime) -> list[KioskPayment]: ...

    def add_collection(self, collection: Collection, payment_ids: list[str]) -> None: ...

    def collections(self, kiosk_id: str, *, limit: int) -> list[Collection]: ...

    def count_payments(self, kiosk_id: str) -> int: ...


class VoucherRepository(Protocol):
    def add_batch(self, batch: Batch) -> None: ...

    def add_cards(self, cards: Sequence[tuple[Voucher, str]], *, actor: str) -> None: ...

    def taken(self, serials: Sequence[str], pin_hashes: Sequence[str]) -> tuple[set[str], set[str]]: ...

    def get(self, serial: str, *, for_update: bool = False) -> Voucher | None: ...

    def by_pin_hash(self, pin_hash: str, *, for_update: bool = False) -> Voucher | None: ...

    def move(
        self,
        serials: Sequence[str],
        *,
        source: VoucherState,
        target: VoucherState,
        actor: str,
        reason: str,
        now: datetime,
        agent_id: str | None = None,
    ) -> list[str]: ...

    def redeem(self, serial: str, *, msisdn: str, transaction_id: str, actor: str, now: datetime) -> bool: ...

    def serials_in(self, batch_id: str, *, state: VoucherState | None, limit: int) -> list[str]: ...

    def expired_serials(self, *, now: datetime, limit: int) -> list[str]: ...

    def events(self, serial: str) -> list[VoucherEvent]: ...

    def counts(self, batch_id: str) -> dict[str, int]: ...

    def batch(self, batch_id: str) -> Batch | None: ...


class Lockouts(Protocol):
    def locked_until(self, key: str) -> datetime | None: ...

    def fail(self, key: str, *, now: datetime, window_start_after: datetime) -> int: ...

    def lock(self, key: str, *, until: datetime) -> None: ...

    def clear(self, key: str) -> None: ...


class UssdRepository(Protocol):
    def begin(self, session: UssdSession) -> UssdSession: ...

    def save(self, session: UssdSession, *, now: datetime) -> None: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password: str, stored: str) -> bool: ...


class UnitOfWork(Protocol):
    """One database transaction. Nothing is kept unless `commit()` is called.

    A use case called inside another's `with uow:` joins that transaction: only the outermost commits.
    """

    @property
    def catalogue(self) -> CatalogueStore: ...

    @property
    def lines(self) -> LineRepository: ...

    @property
    def ports(self) -> PortRepository: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def transactions(self) -> TransactionRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def fx_rates(self) -> FxRateRepository: ...

    @property
    def quotes(self) -> QuoteRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def webhooks(self) -> WebhookRepository: ...

    @property
    def charging(self) -> ChargingRepository: ...

    @property
    def lifecycle(self) -> LifecycleRepository: ...

    @property
    def notifications(self) -> NotificationRepository: ...

    @property
    def notification_settings(self) -> NotificationSettingsRepository: ...

    @property
    def payment_methods(self) -> PaymentMethodRepository: ...

    @property
    def auto_recharges(self) -> AutoRechargeRepository: ...

    @property
    def sign_in(self) -> SignInRepository: ...

    @property
    def rate_counters(self) -> RateCounters: ...

    @property
    def agents(self) -> AgentRepository: ...

    @property
    def kiosks(self) -> KioskRepository: ...

    @property
    def vouchers(self) -> VoucherRepository: ...

    @property
    def lockouts(self) -> Lockouts: ...

    @property
    def ussd(self) -> UssdRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *args: object) -> None: ...

    def commit(self) -> None: ...
