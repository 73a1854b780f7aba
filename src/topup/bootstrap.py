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
from topup.adapters.notifications.inbox import DevInboxEmail, DevInboxSms
from topup.adapters.notifications.render import NotificationTexts
from topup.adapters.passwords import ScryptPasswords
from topup.adapters.payments.card_acquirer import HttpCardAcquirer
from topup.adapters.payments.goldenpay import HttpGoldenPay
from topup.adapters.payments.google_pay import GooglePaySheet
from topup.adapters.payments.paypal import HttpPayPal
from topup.adapters.payments.webmoney import WebMoneyMerchant
from topup.adapters.receipt_codes import HmacDigests, HmacFingerprints, HmacReceiptCodes
from topup.adapters.webhook_sender import HttpWebhookSender
from topup.config import Settings
from topup.domain.money import parse_amount
from topup.domain.orders import PaymentMethod
from topup.services.agent_users import AgentAccess
from topup.services.channels import EmailSender, SmsSender
from topup.services.charging import Charging
from topup.services.lifecycle import Lifecycle
from topup.services.notifications import Notifier
from topup.services.order_saga import CHECK_DELAYS, OrderLimits, Saga
from topup.services.payments import CardAcquirer, RedirectProvider
from topup.services.ports import Clock, ReceiptCodes
from topup.services.sign_in import SignIn
from topup.services.ussd import Ussd
from topup.services.vouchers import Vouchers
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
    sms_sender: SmsSender = field(default_factory=DevInboxSms)
    email_sender: EmailSender = field(default_factory=DevInboxEmail)
    # Wallets and GoldenPay by method; None until first needed (then built from the settings).
    providers: dict[PaymentMethod, RedirectProvider] | None = None
    webmoney: WebMoneyMerchant | None = None

    @property
    def saga(self) -> Saga:
        if self.acquirer is None:
            self.acquirer = HttpCardAcquirer(
                self.settings.acquirer_url,
                secret=self.settings.card_acquirer_secret,
                timeout_seconds=self.settings.card_acquirer_timeout_seconds,
            )
        if self.providers is None:
            self.providers = self._build_providers(self.acquirer)
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
            providers=self.providers,
            merchant_url=settings.public_base_url,
        )

    def _build_providers(self, acquirer: CardAcquirer) -> dict[PaymentMethod, RedirectProvider]:
        """Every method whose provider is configured: all of them with the sandboxes (development); in
        production only those given a URL."""
        settings = self.settings
        timeout = settings.card_acquirer_timeout_seconds
        offered = {
            name
            for name in ("paypal", "webmoney", "goldenpay", "google_pay_sheet")
            if settings.sandbox_enabled or getattr(settings, f"{name}_url")
        }
        providers: dict[PaymentMethod, RedirectProvider] = {}
        if "paypal" in offered:
            providers[PaymentMethod.PAYPAL] = HttpPayPal(
                settings.provider_url("paypal"),
                client_id=settings.paypal_client_id,
                client_secret=settings.paypal_client_secret,
                timeout_seconds=timeout,
            )
        if "webmoney" in offered:
            self.webmoney = WebMoneyMerchant(
                settings.provider_url("webmoney"),
                purses=settings.webmoney_purse_map,
                secret_key=settings.webmoney_secret_key,
                result_url=f"{settings.public_base_url}/v1/payments/webmoney/result",
                test_mode=settings.webmoney_test_mode,
                timeout_seconds=timeout,
            )
            providers[PaymentMethod.WEBMONEY] = self.webmoney
        if "goldenpay" in offered:
            providers[PaymentMethod.GOLDENPAY] = HttpGoldenPay(
                settings.provider_url("goldenpay"),
                merchant_name=settings.goldenpay_merchant_name,
                auth_key=settings.goldenpay_auth_key,
                timeout_seconds=timeout,
            )
        if "google_pay_sheet" in offered:
            sheet_url = settings.google_pay_sheet_url or f"{settings.public_base_url}/sandbox/googlepay"
            providers[PaymentMethod.GOOGLE_PAY] = GooglePaySheet(sheet_url, acquirer)
        return providers

    @property
    def notifier(self) -> Notifier:
        return Notifier(
            self.clock,
            NotificationTexts(),
            self.sms_sender,
            self.email_sender,
            self.webhook_sender,
            lease=timedelta(seconds=self.settings.notification_lease_seconds),
        )

    @property
    def sign_in(self) -> SignIn:
        return SignIn(self.clock, HmacDigests(self.settings.secret_key))

    @property
    def agent_access(self) -> AgentAccess:
        return AgentAccess(self.clock, HmacDigests(self.settings.secret_key), ScryptPasswords())

    @property
    def vouchers(self) -> Vouchers:
        return Vouchers(self.clock, self.codes, HmacDigests(self.settings.secret_key))

    @property
    def ussd(self) -> Ussd:
        return Ussd(self.vouchers)

    @property
    def lifecycle(self) -> Lifecycle:
        return Lifecycle(self.clock, self.codes, renewal_period=timedelta(days=self.settings.renewal_retry_days))

    @property
    def charging(self) -> Charging:
        return Charging(self.clock, self.codes, validity=timedelta(seconds=self.settings.charging_session_seconds))

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.caches, self.clock)

    def migrate(self) -> None:
        upgrade(self.engine)

    def schema_is_current(self) -> bool:
        return current_revision(self.engine) == head_revision()

    def close(self) -> None:
        clients = (self.acquirer, self.webhook_sender, self.sms_sender, *(self.providers or {}).values())
        for client in clients:
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
        sms_sender=_sms_sender(settings),
        email_sender=_email_sender(settings),
    )


def _sms_sender(settings: Settings) -> SmsSender:
    if settings.smpp_host is None:
        return DevInboxSms()
    from topup.adapters.notifications.smpp import SmppSmsSender

    return SmppSmsSender(
        settings.smpp_host,
        settings.smpp_port,
        system_id=settings.smpp_system_id,
        password=settings.smpp_password,
        source_addr=settings.smpp_source_addr,
        timeout_seconds=settings.notification_timeout_seconds,
    )


def _email_sender(settings: Settings) -> EmailSender:
    if settings.smtp_host is None:
        return DevInboxEmail()
    from topup.adapters.notifications.smtp import SmtpEmailSender

    return SmtpEmailSender(
        settings.smtp_host,
        settings.smtp_port,
        sender_address=settings.smtp_sender,
        username=settings.smtp_username,
        password=settings.smtp_password,
        security=settings.smtp_security,
        timeout_seconds=settings.notification_timeout_seconds,
    )
