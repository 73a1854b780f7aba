"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; repositories query it.

Per-subscriber rows carry `msisdn` so the data can be distributed by subscriber (Citus) later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite makes only INTEGER PRIMARY KEY auto-increment; PostgreSQL gets a 64-bit identity.
Id64 = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every database (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware datetimes only")
        moment = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


catalogue_versions = Table(
    "catalogue_versions",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("source", Text, nullable=False),
    Column("loaded_at", UtcDateTime, nullable=False),
    Column("activated_at", UtcDateTime, nullable=False, index=True),
)

number_ports = Table(
    "number_ports",
    metadata,
    Column("msisdn", String(16), primary_key=True),
    Column("operator", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id64, primary_key=True, autoincrement=True),
    Column("code", String(128), unique=True),  # system accounts only
    Column("kind", String(16), nullable=False),
    Column("unit", String(16), nullable=False),
    Column("msisdn", String(16)),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("tracks_balance", Boolean, nullable=False),
    Column("initial", BigInteger, nullable=False, server_default="0"),
    Column("expires_at", UtcDateTime),
    Column("bundle_code", String(64)),
    Column("transaction_id", String(32)),
    Column("created_at", UtcDateTime, nullable=False),
    # When the expiry job dealt with an expired bucket (its balance moved out, its renewal queued).
    Column("settled_at", UtcDateTime),
    CheckConstraint("NOT tracks_balance OR balance >= 0", name="tracked_balance_not_negative"),
    CheckConstraint("tracks_balance OR balance = 0", name="system_balance_derived"),
    CheckConstraint("kind IN ('main', 'bucket', 'system', 'agent')", name="kind_known"),
    CheckConstraint("unit IN ('qepik', 'data_kb', 'voice_seconds', 'sms')", name="unit_known"),
    Index("ix_accounts_msisdn_kind_expires_at", "msisdn", "kind", "expires_at"),
    # The expiry job's queue: only buckets not settled yet, so its work grows with the bundles that expire,
    # not with the lines.
    Index(
        "ix_accounts_unsettled_bucket_expires_at",
        "expires_at",
        postgresql_where=text("kind = 'bucket' AND settled_at IS NULL"),
        sqlite_where=text("kind = 'bucket' AND settled_at IS NULL"),
    ),
)

bundle_renewals = Table(
    "bundle_renewals",
    metadata,
    # One renewal per expired purchase: the trigger fires once per condition, however often the job runs.
    Column("source_transaction_id", String(32), primary_key=True),
    Column("msisdn", String(16), nullable=False),
    Column("bundle_code", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("give_up_at", UtcDateTime, nullable=False),
    Column("renewed_transaction_id", String(32)),
    Column("last_failure", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("state IN ('pending', 'renewed', 'given_up')", name="state_known"),
    Index("ix_bundle_renewals_next_attempt_at", "next_attempt_at"),
)

lines = Table(
    "lines",
    metadata,
    Column("msisdn", String(16), primary_key=True),
    Column("operator", String(32), nullable=False),
    Column("type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("language", String(8), nullable=False),
    Column("iccid", String(20), unique=True),
    Column("valid_until", Date),
    Column("main_account_id", Id64, ForeignKey("accounts.id"), nullable=False),
    # The threshold of the line's active threshold auto-recharge, if any: read with the line on every debit, so
    # a fall below it is noticed without a query more (the rule itself is in `auto_recharges`).
    Column("auto_recharge_below_qepik", BigInteger),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("type IN ('prepaid', 'postpaid')", name="type_known"),
    CheckConstraint("status IN ('active', 'barred', 'closed')", name="status_known"),
    # The breakage job's way to the lines whose usage period (and grace) ended.
    Index("ix_lines_operator_valid_until", "operator", "valid_until"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("msisdn", String(16), nullable=False),
    Column("operator", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("amount_qepik", BigInteger, nullable=False),
    Column("vat_qepik", BigInteger, nullable=False),
    Column("balance_after_qepik", BigInteger, nullable=False),
    Column("valid_until", Date),
    Column("bundle_code", String(64)),
    Column("bundle_expires_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("verification_code", String(16), nullable=False, unique=True),
    Index("ix_ledger_transactions_msisdn_created_at_id", "msisdn", "created_at", "id"),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", Id64, primary_key=True, autoincrement=True),
    Column("transaction_id", String(32), nullable=False, index=True),
    Column("debit_account_id", Id64, ForeignKey("accounts.id"), nullable=False),
    Column("credit_account_id", Id64, ForeignKey("accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("msisdn", String(16)),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("agent_id", String(32)),  # an agent's or a kiosk's key: it acts for that agent only
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer),
    Column("body", Text),
    Column("created_at", UtcDateTime, nullable=False),
)

# Staff-set exchange rates, append-only: the current rate of a currency is its latest row.
fx_rates = Table(
    "fx_rates",
    metadata,
    Column("id", Id64, primary_key=True, autoincrement=True),
    Column("currency", String(3), nullable=False),
    Column("rate_micros", BigInteger, nullable=False),
    Column("set_at", UtcDateTime, nullable=False),
    Column("set_by", String(100), nullable=False),
    CheckConstraint("rate_micros > 0", name="rate_positive"),
    Index("ix_fx_rates_currency_set_at", "currency", "set_at"),
)

quotes = Table(
    "quotes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("msisdn", String(16), nullable=False),
    Column("operator", String(32), nullable=False),
    Column("product_type", String(16), nullable=False),
    Column("amount_qepik", BigInteger, nullable=False),
    Column("bundle_code", String(64)),
    Column("vat_qepik", BigInteger, nullable=False),
    Column("fee_qepik", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rate_micros", BigInteger),
    Column("charge_minor", BigInteger, nullable=False),
    Column("validity_days", Integer, nullable=False),
    Column("valid_until", Date),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    CheckConstraint("product_type IN ('topup', 'bundle')", name="product_type_known"),
    CheckConstraint("amount_qepik > 0 AND charge_minor > 0 AND fee_qepik >= 0", name="amounts_positive"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("scope", String(32), nullable=False),
    Column("msisdn", String(16), nullable=False),
    Column("operator", String(32), nullable=False),
    Column("product_type", String(16), nullable=False),
    Column("amount_qepik", BigInteger, nullable=False),
    Column("bundle_code", String(64)),
    Column("vat_qepik", BigInteger, nullable=False),
    Column("fee_qepik", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rate_micros", BigInteger),
    Column("charge_minor", BigInteger, nullable=False),
    Column("payment_method", String(16), nullable=False),
    Column("state", String(20), nullable=False),
    Column("quote_id", String(32)),
    Column("card_brand", String(20)),
    Column("card_last_four", String(4)),
    Column("card_fingerprint", String(64)),
    Column("provider_reference", String(64)),
    Column("redirect_url", Text),
    Column("delivered_transaction_id", String(32), unique=True),
    Column("reversal_transaction_id", String(32), unique=True),
    Column("failure_code", String(64)),
    Column("failure_message", String(200)),
    Column("check_attempts", Integer, nullable=False, server_default="0"),
    Column("next_check_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("payment_method_id", String(32)),  # a saved card paid it (auto-recharge, or a customer's choice)
    Column("auto_recharge_id", String(32)),  # the auto-recharge rule whose run this order is
    CheckConstraint(
        "state IN ('created', 'awaiting_payment', 'paid', 'fulfilled', 'failed', 'cancelled', 'refunded', 'unknown')",
        name="state_known",
    ),
    CheckConstraint("amount_qepik > 0 AND charge_minor > 0", name="amounts_positive"),
    Index("ix_orders_msisdn_created_at", "msisdn", "created_at"),
    Index("ix_orders_next_check_at", "next_check_at"),
    Index("ix_orders_card_fingerprint_created_at", "card_fingerprint", "created_at"),
    # How a provider's notification or return (which carry only its own reference) finds its order.
    Index("ix_orders_payment_method_provider_reference", "payment_method", "provider_reference"),
    # A threshold rule's runs this month (its monthly maximum).
    Index("ix_orders_auto_recharge_id_created_at", "auto_recharge_id", "created_at"),
)

# Cards the acquirer keeps for us (card on file): the token, never the number.
payment_methods = Table(
    "payment_methods",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("scope", String(32), nullable=False),
    Column("msisdn", String(16), nullable=False),
    Column("token", String(128), nullable=False),
    Column("brand", String(20), nullable=False),
    Column("last_four", String(4), nullable=False),
    Column("expiry_month", Integer, nullable=False),
    Column("expiry_year", Integer, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("removed_at", UtcDateTime),
    CheckConstraint("expiry_month BETWEEN 1 AND 12", name="expiry_month_valid"),
    Index("ix_payment_methods_msisdn", "msisdn"),
)

auto_recharges = Table(
    "auto_recharges",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("scope", String(32), nullable=False),
    Column("msisdn", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount_qepik", BigInteger, nullable=False),
    Column("payment_method_id", String(32), ForeignKey("payment_methods.id"), nullable=False),
    Column("threshold_qepik", BigInteger),
    Column("monthly_max", Integer),
    Column("day_of_month", Integer),
    Column("state", String(16), nullable=False),
    Column("due_at", UtcDateTime),
    Column("in_flight_order_id", String(32)),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("last_order_id", String(32)),
    Column("last_outcome", String(64)),
    Column("last_run_at", UtcDateTime),
    Column("suspended_reason", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("kind IN ('threshold', 'schedule')", name="kind_known"),
    CheckConstraint("state IN ('active', 'suspended')", name="state_known"),
    CheckConstraint("amount_qepik > 0", name="amount_positive"),
    CheckConstraint(
        "(kind = 'threshold' AND threshold_qepik > 0 AND monthly_max > 0 AND day_of_month IS NULL)"
        " OR (kind = 'schedule' AND day_of_month BETWEEN 1 AND 31 AND threshold_qepik IS NULL)",
        name="kind_fields",
    ),
    # One rule of each kind per line: setting it again replaces it.
    Index("ix_auto_recharges_msisdn_kind", "msisdn", "kind", unique=True),
    # The job's queue: only rules due at some time (a threshold rule waiting for a fall has none).
    Index(
        "ix_auto_recharges_due_at",
        "due_at",
        postgresql_where=text("due_at IS NOT NULL"),
        sqlite_where=text("due_at IS NOT NULL"),
    ),
)

# How a line wants to be told; a line without a row gets SMS only.
notification_settings = Table(
    "notification_settings",
    metadata,
    Column("msisdn", String(16), primary_key=True),
    Column("sms", Boolean, nullable=False),
    Column("email_address", String(254)),
    Column("webhook_url", String(2000)),
    Column("webhook_secret", String(64)),
    Column("muted_kinds", String(400), nullable=False, server_default=""),  # comma-separated kinds
    Column("updated_at", UtcDateTime, nullable=False),
)

order_transitions = Table(
    "order_transitions",
    metadata,
    Column("id", Id64, primary_key=True, autoincrement=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False, index=True),
    Column("source", String(20), nullable=False),
    Column("target", String(20), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

charging_sessions = Table(
    "charging_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("msisdn", String(16), nullable=False, index=True),
    Column("operator", String(32), nullable=False),
    Column("service", String(8), nullable=False),
    Column("roaming", Boolean, nullable=False),
    Column("state", String(16), nullable=False),
    Column("request_number", Integer, nullable=False),
    Column("holds", Text, nullable=False),  # JSON [[bucket account id, units], ...]
    Column("money_units", BigInteger, nullable=False),
    Column("money_qepik", BigInteger, nullable=False),
    Column("throttled_units", BigInteger, nullable=False, server_default="0"),
    Column("throttle_kbps", Integer, nullable=False, server_default="0"),
    Column("used_units", BigInteger, nullable=False),
    Column("charged_qepik", BigInteger, nullable=False),
    Column("last_answer", Text, nullable=False),
    Column("transaction_id", String(32)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    CheckConstraint("service IN ('data', 'voice', 'sms')", name="service_known"),
    CheckConstraint("state IN ('open', 'terminated')", name="state_known"),
    CheckConstraint("used_units >= 0 AND money_units >= 0 AND money_qepik >= 0", name="units_not_negative"),
    Index("ix_charging_sessions_state_expires_at", "state", "expires_at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("msisdn", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("dedupe_key", String(200), nullable=False, unique=True),  # one notification per event
    Column("language", String(8), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),  # every channel done (sent, or given up)
    # Channels still to send by, comma-separated; NULL until the sender first routes it by the line's settings.
    Column("pending_channels", String(64)),
    Column("deliveries", Text),  # JSON {channel: "sent <id>" | "failed <why>"}: what each channel did
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime),  # after a channel failed: not before then
    Index("ix_notifications_msisdn_created_at", "msisdn", "created_at"),
    Index(
        "ix_notifications_unsent_created_at",
        "created_at",
        postgresql_where=text("sent_at IS NULL"),
        sqlite_where=text("sent_at IS NULL"),
    ),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("scope", String(32), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    # Signing needs the secret itself (like every webhook sender); it is shown to the integrator once.
    Column("secret", String(64), nullable=False),
    Column("events", String(200), nullable=False),  # comma-separated event types
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime),
)

# The outbox: written in the same transaction as the order change it reports, delivered after commit.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("webhook_id", String(32), ForeignKey("webhooks.id"), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime),
    Column("delivered_at", UtcDateTime),
    Column("last_status_code", Integer),
    Column("last_error", String(200)),
    Index("ix_webhook_events_next_attempt_at", "next_attempt_at"),
    Index("ix_webhook_events_webhook_id_created_at", "webhook_id", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Id64, primary_key=True, autoincrement=True),
    Column("event_id", String(32), ForeignKey("webhook_events.id"), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", String(200)),
)

# The portal's sign-in by SMS code: one row per number (its current code as a keyed hash, wrong tries, lock).
sign_in_states = Table(
    "sign_in_states",
    metadata,
    Column("msisdn", String(16), primary_key=True),
    Column("code_hash", String(64)),
    Column("code_expires_at", UtcDateTime),
    Column("wrong_codes", Integer, nullable=False, server_default="0"),
    Column("locked_until", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Portal sessions; the id is the keyed hash of the cookie's token (a stolen table signs nobody in).
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("msisdn", String(16), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# Fixed-window rate limits (sign-in codes per number and per address, voucher tries, ...): one row per key and
# window, counted up atomically.
rate_counters = Table(
    "rate_counters",
    metadata,
    Column("key", String(120), primary_key=True),
    Column("window_start", UtcDateTime, primary_key=True),
    Column("count", Integer, nullable=False),
)

# --- offline channels: agents, kiosks, vouchers, USSD ------------------------------------------------------------

agents = Table(
    "agents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("licence_number", String(40), nullable=False, unique=True),
    Column("address", String(300), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("credit_limit_qepik", BigInteger, nullable=False, server_default="0"),
    Column("float_account_id", Id64, ForeignKey("accounts.id"), nullable=False),
    Column("credit_account_id", Id64, ForeignKey("accounts.id"), nullable=False),
    Column("commission_account_id", Id64, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "kind IN ('shop', 'supermarket', 'post_office', 'bank_branch', 'street_vendor', 'operator_store', 'kiosk')",
        name="kind_known",
    ),
    CheckConstraint("status IN ('active', 'suspended', 'closed')", name="status_known"),
    CheckConstraint("credit_limit_qepik >= 0", name="credit_limit_not_negative"),
)

agent_users = Table(
    "agent_users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("agent_id", String(32), ForeignKey("agents.id"), nullable=False, index=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),  # scrypt, with its salt and parameters
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("role IN ('cashier', 'manager')", name="role_known"),
)

# The agent POS page's sessions, like the portal's: the id is the keyed hash of the cookie's token.
agent_sessions = Table(
    "agent_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("agent_users.id"), nullable=False, index=True),
    Column("agent_id", String(32), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# An agent's statement: every movement of its float, credit and commission, with what it left.
agent_movements = Table(
    "agent_movements",
    metadata,
    Column("seq", Id64, primary_key=True, autoincrement=True),  # the statement's order, whatever the clock says
    Column("id", String(32), nullable=False, unique=True),
    Column("agent_id", String(32), ForeignKey("agents.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("amount_qepik", BigInteger, nullable=False),
    Column("float_after_qepik", BigInteger, nullable=False),
    Column("credit_after_qepik", BigInteger, nullable=False),
    Column("commission_after_qepik", BigInteger, nullable=False),
    Column("msisdn", String(16)),
    Column("transaction_id", String(32)),
    Column("operator", String(32)),
    Column("product", String(64)),
    Column("user_id", String(32)),
    Column("note", String(200)),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "kind IN ('deposit', 'credit_limit', 'sale', 'commission', 'commission_payout', 'kiosk_payment')",
        name="kind_known",
    ),
    Index("ix_agent_movements_agent_id_created_at", "agent_id", "created_at"),
    Index("ix_agent_movements_agent_id_seq", "agent_id", "seq"),
)

commission_rates = Table(
    "commission_rates",
    metadata,
    Column("agent_kind", String(20), primary_key=True),
    Column("operator", String(32), primary_key=True),
    Column("rate_basis_points", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("rate_basis_points BETWEEN 0 AND 2000", name="rate_sane"),
)

# Cash a kiosk took, forwarded by the kiosk (store and forward): one row per kiosk payment, whatever the retries.
kiosk_payments = Table(
    "kiosk_payments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kiosk_id", String(32), ForeignKey("agents.id"), nullable=False),
    Column("local_id", String(64), nullable=False),  # the kiosk's own id of the payment: its idempotency key
    Column("msisdn", String(16), nullable=False),
    Column("operator", String(32), nullable=False),
    Column("inserted_qepik", BigInteger, nullable=False),
    Column("fee_qepik", BigInteger, nullable=False),
    Column("credited_qepik", BigInteger, nullable=False),
    Column("banknotes", String(200), nullable=False),  # what went into the box, e.g. "5,5,1"
    Column("paid_at", UtcDateTime, nullable=False),  # on the kiosk's clock
    Column("received_at", UtcDateTime, nullable=False),
    # credited; or refused (the line could not take it when the payment arrived): the cash is in the box all the
    # same and is given back by staff, so it stays on the encashment report.
    Column("state", String(16), nullable=False),
    Column("failure_code", String(64)),
    Column("transaction_id", String(32), unique=True),
    Column("collection_id", String(32)),  # the encashment that emptied the box it was in
    CheckConstraint("inserted_qepik > 0 AND fee_qepik >= 0 AND credited_qepik >= 0", name="amounts_positive"),
    CheckConstraint("state IN ('credited', 'refused')", name="state_known"),
    Index("ix_kiosk_payments_kiosk_id_local_id", "kiosk_id", "local_id", unique=True),
    Index("ix_kiosk_payments_kiosk_id_collection_id", "kiosk_id", "collection_id"),
)

kiosk_collections = Table(
    "kiosk_collections",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kiosk_id", String(32), ForeignKey("agents.id"), nullable=False, index=True),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("expected_qepik", BigInteger, nullable=False),
    Column("counted_qepik", BigInteger, nullable=False),
    Column("payments", Integer, nullable=False),
    Column("collected_by", String(100), nullable=False),
    Column("note", String(200)),
)

voucher_batches = Table(
    "voucher_batches",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("operator", String(32), nullable=False),
    Column("nominal_qepik", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
)

# Scratch cards: a 10-digit serial printed on the card, a 13-digit PIN under the scratch panel (kept only as a
# keyed hash: the plain PINs exist only in the encrypted export for the printer).
vouchers = Table(
    "vouchers",
    metadata,
    Column("serial", String(10), primary_key=True),
    Column("batch_id", String(32), ForeignKey("voucher_batches.id"), nullable=False, index=True),
    Column("operator", String(32), nullable=False),
    Column("nominal_qepik", BigInteger, nullable=False),
    Column("pin_hash", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("agent_id", String(32), ForeignKey("agents.id"), index=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("redeemed_at", UtcDateTime),
    Column("redeemed_msisdn", String(16)),
    Column("redeemed_transaction_id", String(32), unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "state IN ('generated', 'distributed', 'active', 'redeemed', 'void', 'expired')", name="state_known"
    ),
    CheckConstraint("nominal_qepik > 0", name="nominal_positive"),
)

# Every change of a voucher's state, with who made it and why: the audit trail.
voucher_events = Table(
    "voucher_events",
    metadata,
    Column("id", Id64, primary_key=True, autoincrement=True),
    Column("serial", String(10), ForeignKey("vouchers.serial"), nullable=False, index=True),
    Column("source", String(16), nullable=False),
    Column("target", String(16), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

# Failures that lock something for a while (wrong voucher PINs from one number: 3 lock it for 24 hours).
lockouts = Table(
    "lockouts",
    metadata,
    Column("key", String(120), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime),
)

ussd_sessions = Table(
    "ussd_sessions",
    metadata,
    Column("id", String(100), primary_key=True),  # the gateway's session id
    Column("msisdn", String(16), nullable=False),
    Column("service_code", String(40), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("last_text", String(200), nullable=False),  # what the subscriber had typed at the last answer
    Column("last_answer", String(400), nullable=False),  # that answer: a gateway's retry gets it again
    Column("transaction_id", String(32)),  # what the session bought or redeemed, once
)
