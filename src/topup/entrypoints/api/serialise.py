"""Domain objects -> JSON-ready dicts. Money as decimal strings, times as ISO 8601 with zone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from topup.adapters.notifications.render import render
from topup.domain.catalogue import Bundle, Operator
from topup.domain.fx import format_minor, format_rate
from topup.domain.history import TransactionRecord
from topup.domain.lines import Line
from topup.domain.money import CURRENCY, format_amount
from topup.domain.notifications import Notification, NotificationSettings
from topup.domain.orders import Order, OrderState
from topup.domain.payment_methods import SavedCard
from topup.domain.quotes import ProductType, Quote
from topup.services.auto_recharge import RuleView
from topup.services.lines import Balance
from topup.services.numbers import NumberInfo
from topup.services.ports import FxRate
from topup.services.reconciliation import Reconciliation


def money(qepik: int) -> dict[str, str]:
    return {"amount": format_amount(qepik), "currency": CURRENCY}


def number_info(info: NumberInfo) -> dict[str, Any]:
    return {
        "msisdn": info.msisdn.e164,
        "national": info.national,
        "operator": info.operator,
        "original_operator": info.original_operator,
        "ported": info.ported,
    }


def line(value: Line) -> dict[str, Any]:
    return {
        "msisdn": value.msisdn.e164,
        "national": value.msisdn.national,
        "operator": value.operator,
        "type": value.type.value,
        "status": value.status.value,
        "language": value.language,
        "iccid": value.iccid,
        "valid_until": value.valid_until.isoformat() if value.valid_until else None,
    }


def balance(value: Balance) -> dict[str, Any]:
    return {
        "msisdn": value.line.msisdn.e164,
        "operator": value.line.operator,
        "status": value.line.status.value,
        "main": money(value.main_qepik),
        "valid_until": value.line.valid_until.isoformat() if value.line.valid_until else None,
        "buckets": [
            {
                "id": view.bucket.account_id,
                "bundle": view.bundle_code,
                "unit": view.bucket.unit.value,
                "remaining": view.bucket.balance,
                "initial": view.initial,
                "expires_at": view.bucket.expires_at.isoformat(),
            }
            for view in value.buckets
        ],
    }


def transaction(record: TransactionRecord, *, base_url: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": record.id,
        "kind": record.kind.value,
        "status": "completed",
        "msisdn": record.msisdn,
        "operator": record.operator,
        "channel": record.channel,
        "amount": format_amount(record.amount_qepik),
        "currency": CURRENCY,
        "vat": format_amount(record.vat_qepik),
        "balance_after": format_amount(record.balance_after_qepik),
        "valid_until": record.valid_until.isoformat() if record.valid_until else None,
        "created_at": record.created_at.isoformat(),
        "verification_code": record.verification_code,
        "receipt_url": f"{base_url}/v1/transactions/{record.id}/receipt",
    }
    if record.bundle_code:
        body["bundle"] = record.bundle_code
        body["bundle_expires_at"] = record.bundle_expires_at.isoformat() if record.bundle_expires_at else None
    return body


def bundle(value: Bundle) -> dict[str, Any]:
    return {
        "code": value.code,
        "operator": value.operator,
        "names": value.names,
        "price": format_amount(value.price_qepik),
        "currency": CURRENCY,
        "validity_days": value.validity_days,
        "data_kb": value.data_kb,
        "voice_seconds": value.voice_seconds,
        "sms": value.sms_count,
        "auto_renew": value.auto_renew,
        "stacking": value.stacking.value,
        "roaming": value.roaming,
    }


def operator(value: Operator, *, with_catalogue: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": value.code,
        "name": value.name,
        "status": value.status.value,
        "closed_on": value.closed_on.isoformat() if value.closed_on else None,
    }
    if with_catalogue:
        rules, tariff = value.topup, value.tariff
        body["topup"] = {
            "min": format_amount(rules.amount_min_qepik),
            "max": format_amount(rules.amount_max_qepik),
            "denominations": [format_amount(d) for d in rules.denominations_qepik],
            "validity_tiers": [
                {"from": format_amount(t.amount_min_qepik), "days": t.validity_days} for t in rules.validity_tiers
            ],
            "grace_days": rules.grace_days,
        }
        body["tariff"] = {
            "data_per_mb": format_amount(tariff.data_qepik_per_mb),
            "data_increment_kb": tariff.data_increment_kb,
            "voice_per_minute": format_amount(tariff.voice_qepik_per_minute),
            "voice_increment_seconds": tariff.voice_increment_seconds,
            "sms": format_amount(tariff.sms_qepik),
        }
        body["bundles"] = [bundle(b) for b in sorted(value.bundles.values(), key=lambda b: (b.price_qepik, b.code))]
    return body


def _priced(value: Quote | Order) -> dict[str, Any]:
    """What a quote and an order both say: the product, its price with VAT and fee, and what is charged."""
    product: dict[str, Any] = (
        {"type": "topup", "amount": format_amount(value.amount_qepik)}
        if value.product_type == ProductType.TOPUP
        else {"type": "bundle", "code": value.bundle_code}
    )
    return {
        "product": product,
        "price": money(value.amount_qepik),
        "vat": money(value.vat_qepik),
        "fee": money(value.fee_qepik),
        "charge": {"amount": format_minor(value.currency, value.charge_minor), "currency": value.currency},
        "rate": format_rate(value.rate_micros) if value.rate_micros else None,
    }


def quote(value: Quote) -> dict[str, Any]:
    return {
        "id": value.id,
        "msisdn": value.msisdn,
        "operator": value.operator,
        **_priced(value),
        "validity_days": value.validity_days,
        "valid_until": value.valid_until.isoformat() if value.valid_until else None,
        "bonus": None,
        "created_at": value.created_at.isoformat(),
        "expires_at": value.expires_at.isoformat(),
    }


def fx_rate(value: FxRate) -> dict[str, Any]:
    return {
        "currency": value.currency,
        "rate": format_rate(value.rate_micros),
        "per": f"1 {value.currency} in AZN",
        "set_at": value.set_at.isoformat(),
        "set_by": value.set_by,
    }


def order(value: Order, *, base_url: str = "") -> dict[str, Any]:
    return {
        "id": value.id,
        "status": value.state.value,
        "msisdn": value.msisdn,
        "operator": value.operator,
        **_priced(value),
        "quote_id": value.quote_id,
        "payment": {
            "method": value.payment_method.value,
            "brand": value.card_brand,
            "last_four": value.card_last_four,
            "saved_card_id": value.payment_method_id,
        },
        "auto_recharge_id": value.auto_recharge_id,
        "next_action": (
            {"redirect_url": value.redirect_url}
            if value.state is OrderState.AWAITING_PAYMENT and value.redirect_url
            else None
        ),
        "delivered": (
            {
                "transaction_id": value.delivered_transaction_id,
                "receipt_url": f"{base_url}/v1/transactions/{value.delivered_transaction_id}/receipt",
            }
            if value.delivered_transaction_id
            else None
        ),
        "failure": {"code": value.failure_code, "message": value.failure_message} if value.failure_code else None,
        "created_at": value.created_at.isoformat(),
        "updated_at": (value.updated_at or value.created_at).isoformat(),
        "transitions": [
            {"from": t.source.value, "to": t.target.value, "reason": t.reason, "at": t.at.isoformat()}
            for t in value.status.history
        ],
    }


def reconciliation(report: Reconciliation) -> dict[str, Any]:
    return {
        "date": report.day.isoformat(),
        "ok": report.ok,
        "orders": report.orders,
        "captured": {
            currency: format_minor(currency, minor) for currency, minor in sorted(report.captured_minor.items())
        },
        "refunded": {
            currency: format_minor(currency, minor) for currency, minor in sorted(report.refunded_minor.items())
        },
        "delivered": money(report.delivered_qepik),
        "mismatches": [{"order_id": m.order_id, "status": m.state, "problem": m.problem} for m in report.mismatches],
    }


def _by_currency(minor_by_currency: Mapping[str, int]) -> dict[str, str]:
    return {currency: format_minor(currency, minor) for currency, minor in sorted(minor_by_currency.items())}


def notification(value: Notification) -> dict[str, Any]:
    """A notification as the subscriber reads it, in their language, with what each channel did."""
    rendered = render(value)
    return {
        "id": value.id,
        "msisdn": value.msisdn,
        "kind": value.kind.value,
        "language": rendered.language,
        "subject": rendered.subject,
        "text": rendered.text,
        "created_at": value.created_at.isoformat() if value.created_at else None,
        "sent_at": value.sent_at.isoformat() if value.sent_at else None,
        "deliveries": value.deliveries,
    }


def saved_card(value: SavedCard) -> dict[str, Any]:
    return {
        "id": value.id,
        "type": "card",
        "brand": value.brand,
        "last_four": value.last_four,
        "display": value.summary.display,
        "expiry_month": value.expiry_month,
        "expiry_year": value.expiry_year,
        "created_at": value.created_at.isoformat(),
    }


def auto_recharge(view: RuleView) -> dict[str, Any]:
    rule = view.rule
    return {
        "id": rule.id,
        "kind": rule.kind.value,
        "state": rule.state.value,
        "amount": money(rule.amount_qepik),
        "threshold": money(rule.threshold_qepik) if rule.threshold_qepik is not None else None,
        "monthly_max": rule.monthly_max,
        "day_of_month": rule.day_of_month,
        "payment_method": saved_card(view.card) if view.card is not None else None,
        "next_run_at": rule.due_at.isoformat() if rule.due_at else None,
        "running_order_id": rule.in_flight_order_id,
        "runs_this_month": view.runs_this_month,
        "last_run": (
            {"at": rule.last_run_at.isoformat(), "order_id": rule.last_order_id, "outcome": rule.last_outcome}
            if rule.last_run_at
            else None
        ),
        "consecutive_failures": rule.consecutive_failures,
        "suspended_reason": rule.suspended_reason,
    }


def notification_settings(value: NotificationSettings, *, show_secret: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "msisdn": value.msisdn,
        "sms": value.sms,
        "email": value.email_address,
        "webhook_url": value.webhook_url,
        "muted": sorted(kind.value for kind in value.muted_kinds),
        "updated_at": value.updated_at.isoformat() if value.updated_at else None,
    }
    if show_secret and value.webhook_secret:
        answer["webhook_secret"] = value.webhook_secret
    return answer
