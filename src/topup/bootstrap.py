"""The composition root: reads settings once and wires the adapters the use cases run on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from topup.adapters.clock import SystemClock
from topup.adapters.db.catalogue_store import CatalogueCache
from topup.adapters.db.engine import make_engine
from topup.adapters.db.migrate import current_revision, head_revision, upgrade
from topup.adapters.db.unit_of_work import ProcessCaches, SqlUnitOfWork
from topup.adapters.payments.card_acquirer import HttpCardAcquirer
from topup.adapters.receipt_codes import HmacFingerprints, HmacReceiptCodes
from topup.adapters.webhook_sender import HttpWebhookSender
from topup.config import Settings
from topup.domain.money import parse_amount
from topup.services.orders import CHECK_DELAYS, OrderLimits, Saga
from topup.services.payments import CardAcquirer
from topup.services.ports import Clock, ReceiptCodes
from topup.services.webhooks import WebhookSender


@dataclass
class Application:
    settings: Settings
    engine: Engine
    clock: Clock
    codes: ReceiptCodes
    caches: ProcessCaches = field(default_factory=ProcessCaches)
    acquirer: CardAcquirer | None = None
    webhook_sender: WebhookSender = field(default_factory=HttpWebhookSender)

    @property
    def saga(self) -> Saga:
        if self.acquirer is None:
            self.acquirer = HttpCardAcquirer(
                self.settings.acquirer_url,
                secret=self.settings.card_acquirer_secret,
                timeout_seconds=self.settings.card_acquirer_timeout_seconds,
            )
        settings = self.settings
        return Saga(
            self.clock,
            self.codes,
            self.acquirer,
            HmacFingerprints(settings.secret_key),
            OrderLimits(
                number_count_max=settings.order_number_daily_count_max,
                number_amount_max_qepik=parse_amount(settings.order_number_daily_amount_max),
                card_count_max=settings.order_card_daily_count_max,
                card_amount_max_qepik=parse_amount(settings.order_card_daily_amount_max),
            ),
            check_delays=tuple(timedelta(seconds=s) for s in settings.order_check_delays_seconds) or CHECK_DELAYS,
            created_grace=timedelta(seconds=settings.order_created_grace_seconds),
            challenge_timeout=timedelta(seconds=settings.order_challenge_timeout_seconds),
        )

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.caches, self.clock)

    def migrate(self) -> None:
        upgrade(self.engine)

    def schema_is_current(self) -> bool:
        return current_revision(self.engine) == head_revision()

    def close(self) -> None:
        for client in (self.acquirer, self.webhook_sender):
            close = getattr(client, "close", None)  # HTTP adapters hold connection pools
            if callable(close):
                close()
        self.engine.dispose()


def bootstrap(
    settings: Settings | None = None, *, clock: Clock | None = None, acquirer: CardAcquirer | None = None
) -> Application:
    settings = settings or Settings()
    caches = ProcessCaches(catalogue=CatalogueCache(recheck_seconds=settings.catalogue_recheck_seconds))
    return Application(
        settings=settings,
        engine=make_engine(settings.database_url, pool_size=settings.database_pool_size),
        clock=clock or SystemClock(),
        codes=HmacReceiptCodes(settings.secret_key),
        caches=caches,
        acquirer=acquirer,
    )
