"""Typed settings from environment variables prefixed TOPUP_ (e.g. TOPUP_DATABASE_URL)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")
DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - refused in production below


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOPUP_", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = Field(default=f"sqlite:///{DEFAULT_DATA_DIR / 'topup.db'}")
    # Signs receipt verification codes. Must be set (and kept) in production: changing it makes old receipts'
    # codes unverifiable.
    secret_key: str = DEVELOPMENT_SECRET
    database_pool_size: int = Field(default=10, ge=1, le=100)
    catalogue_recheck_seconds: float = Field(default=2.0, ge=0, le=300)
    api_key_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    public_base_url: str = "http://127.0.0.1:8000"
    # The portal's cookies are Secure: browsers send them only over HTTPS (and to http://127.0.0.1 and
    # localhost, which they count as secure). False only behind a plain-HTTP address other than those.
    cookie_secure: bool = True
    # The card acquirer. By default the sandbox that ships in the product, served by the same server under
    # /sandbox/card (see README: magic cards); point these at a real acquirer's endpoint in production.
    card_acquirer_url: str | None = None
    card_acquirer_secret: str = "sandbox-secret"  # noqa: S105 - the sandbox's; set a real one in production
    card_acquirer_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    sandbox_enabled: bool = True
    sandbox_database_path: str = str(DEFAULT_DATA_DIR / "sandbox-card.db")
    # Wallets and GoldenPay. Unset URLs mean the sandboxes served under /sandbox/<name> (development); a method
    # whose URL and credentials are not set in production is simply not offered.
    paypal_url: str | None = None
    paypal_client_id: str = "sandbox-paypal-client"
    paypal_client_secret: str = "sandbox-paypal-secret"  # noqa: S105 - the sandbox's
    webmoney_url: str | None = None
    # Our purses by currency, "USD=Z…,EUR=E…" (WebMoney purses are per currency).
    webmoney_purses: str = "USD=Z100000000001,EUR=E100000000001,RUB=R100000000001"
    webmoney_secret_key: str = "sandbox-webmoney-secret"  # noqa: S105 - the sandbox's
    webmoney_test_mode: bool = True
    goldenpay_url: str | None = None
    goldenpay_merchant_name: str = "topup-sandbox"
    goldenpay_auth_key: str = "sandbox-goldenpay-key"
    # Where the customer's browser gets a Google Pay token; in production the portal runs Google's own sheet.
    google_pay_sheet_url: str | None = None
    google_pay_gateway_id: str = "topupsandbox"
    google_pay_gateway_merchant_id: str = "topup-merchant"
    # The recovery worker that `topup serve` runs in-process: how often it looks for unsettled orders.
    worker_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    worker_in_process: bool = True
    # When the worker asks a provider again about an unsettled order (5 min, 1 h, then daily), how long a new
    # order is left to its own request, and how long a customer has for 3-D Secure.
    order_check_delays_seconds: tuple[int, ...] = (300, 3600, 86_400)
    order_created_grace_seconds: int = Field(default=120, ge=0)
    order_challenge_timeout_seconds: int = Field(default=1800, ge=0)
    # Daily limits on paid orders (Baku day), per number and per card, in AZN.
    order_number_daily_count_max: int = Field(default=10, ge=1)
    order_number_daily_amount_max: str = "1000.00"
    order_card_daily_count_max: int = Field(default=20, ge=1)
    order_card_daily_amount_max: str = "2000.00"
    # How long a charging session may go unheard before the worker ends it, charging what it reported.
    charging_session_seconds: int = Field(default=300, ge=10, le=86_400)
    # How many days after an auto-renewing bundle expired its renewal is retried (daily) while the balance is
    # short (Azercell: 90).
    renewal_retry_days: int = Field(default=90, ge=0, le=365)
    # How long a quote's exchange rate stays locked.
    quote_lock_seconds: int = Field(default=900, ge=30, le=86_400)
    # Notifications by SMS go to an SMSC over SMPP 3.4 when a host is set; otherwise (development) they are only
    # logged, and the outbox is the development inbox.
    smpp_host: str | None = None
    smpp_port: int = Field(default=2775, ge=1, le=65_535)
    smpp_system_id: str = "topup"
    smpp_password: str = ""
    smpp_source_addr: str = "Topup"  # the sender subscribers see (alphanumeric, at most 11 characters)
    # Notifications by e-mail go to an SMTP server when a host is set; otherwise they are only logged.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    smtp_security: Literal["none", "starttls", "tls"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "no-reply@topup.example"  # the From address (a bare address)
    notification_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # A worker leases a batch of notifications for this long; if it dies, another sends them after the lease.
    notification_lease_seconds: int = Field(default=300, ge=0, le=86_400)

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.environment is Environment.PRODUCTION and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("TOPUP_SECRET_KEY must be set to a secret value in production")
        if self.environment is Environment.PRODUCTION and self.sandbox_enabled:
            raise ValueError("TOPUP_SANDBOX_ENABLED must be false in production: the sandbox takes fake cards")
        if self.environment is Environment.PRODUCTION and len(self.secret_key) < 32:
            raise ValueError("TOPUP_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def acquirer_url(self) -> str:
        return self.card_acquirer_url or f"{self.public_base_url}/sandbox/card"

    def provider_url(self, name: str) -> str:
        """A wallet's or gateway's base URL: the configured one, or its sandbox on this server."""
        configured: str | None = getattr(self, f"{name}_url", None)
        return configured or f"{self.public_base_url}/sandbox/{name}"

    @property
    def webmoney_purse_map(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.webmoney_purses.split(",") if "=" in item)
        return {currency.strip().upper(): purse.strip() for currency, purse in pairs}
