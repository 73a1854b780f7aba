"""A unit of work is one database transaction on one pooled connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from sqlalchemy import Connection, Engine, RootTransaction

from topup.adapters.db.access_store import SqlApiKeyRepository, SqlIdempotencyStore
from topup.adapters.db.agent_store import SqlAgentRepository
from topup.adapters.db.auto_recharge_store import SqlAutoRechargeRepository, SqlPaymentMethodRepository
from topup.adapters.db.catalogue_store import CatalogueCache, SqlCatalogueStore
from topup.adapters.db.charging_store import SqlChargingRepository
from topup.adapters.db.handle import ConnectionHandle
from topup.adapters.db.kiosk_store import SqlKioskRepository
from topup.adapters.db.ledger_store import SqlLedger, SystemAccountCache
from topup.adapters.db.lifecycle_store import SqlLifecycleRepository
from topup.adapters.db.line_repository import SqlLineRepository, SqlPortRepository
from topup.adapters.db.notification_store import SqlNotificationRepository, SqlNotificationSettingsRepository
from topup.adapters.db.order_repository import SqlOrderRepository
from topup.adapters.db.quote_store import SqlFxRateRepository, SqlQuoteRepository
from topup.adapters.db.sign_in_store import SqlRateCounters, SqlSignInRepository
from topup.adapters.db.transaction_repository import SqlTransactionRepository
from topup.adapters.db.ussd_store import SqlUssdRepository
from topup.adapters.db.voucher_store import SqlLockouts, SqlVoucherRepository
from topup.adapters.db.webhook_store import SqlWebhookRepository
from topup.domain.ledger import AccountState
from topup.services.ports import Clock


@dataclass
class ProcessCaches:
    """What a process remembers between units of work (read-mostly, safe to share between threads)."""

    catalogue: CatalogueCache = field(default_factory=lambda: CatalogueCache(recheck_seconds=2.0))
    system_accounts: SystemAccountCache = field(default_factory=SystemAccountCache)


class SqlUnitOfWork:
    def __init__(self, engine: Engine, caches: ProcessCaches, clock: Clock) -> None:
        self._engine = engine
        self._caches = caches
        self._handle = ConnectionHandle()
        self._depth = 0
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._known_states: dict[int, AccountState] = {}
        self.catalogue = SqlCatalogueStore(self._handle, caches.catalogue)
        self.lines = SqlLineRepository(self._handle, self._known_states)
        self.ports = SqlPortRepository(self._handle)
        self.ledger = SqlLedger(self._handle, caches.system_accounts, clock, self._known_states)
        self.transactions = SqlTransactionRepository(self._handle)
        self.api_keys = SqlApiKeyRepository(self._handle)
        self.idempotency = SqlIdempotencyStore(self._handle)
        self.fx_rates = SqlFxRateRepository(self._handle)
        self.quotes = SqlQuoteRepository(self._handle)
        self.orders = SqlOrderRepository(self._handle)
        self.webhooks = SqlWebhookRepository(self._handle)
        self.charging = SqlChargingRepository(self._handle)
        self.lifecycle = SqlLifecycleRepository(self._handle)
        self.notifications = SqlNotificationRepository(self._handle)
        self.notification_settings = SqlNotificationSettingsRepository(self._handle)
        self.payment_methods = SqlPaymentMethodRepository(self._handle)
        self.auto_recharges = SqlAutoRechargeRepository(self._handle)
        self.sign_in = SqlSignInRepository(self._handle)
        self.rate_counters = SqlRateCounters(self._handle)
        self.agents = SqlAgentRepository(self._handle)
        self.kiosks = SqlKioskRepository(self._handle)
        self.vouchers = SqlVoucherRepository(self._handle)
        self.lockouts = SqlLockouts(self._handle)
        self.ussd = SqlUssdRepository(self._handle)

    def __enter__(self) -> Self:
        if self._depth == 0:
            self._connection = self._engine.connect()
            self._transaction = self._connection.begin()
            self._handle.bind(self._connection)
            self.ledger.pending_system_accounts = {}
            self._known_states.clear()
        self._depth += 1
        return self

    def __exit__(self, *args: object) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        try:
            if self._transaction is not None and self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._handle.bind(None)
            if self._connection is not None:
                self._connection.close()
            self._connection = self._transaction = None

    def commit(self) -> None:
        """Commit, unless this unit of work is nested in an outer one, which then decides."""
        if self._depth > 1:
            return
        if self._transaction is None:
            raise RuntimeError("commit() outside `with uow:`")
        self._handle.flush()  # the writes held back for a next statement: there is none
        self._transaction.commit()
        self._caches.system_accounts.publish(self.ledger.pending_system_accounts)
        self.ledger.pending_system_accounts = {}
