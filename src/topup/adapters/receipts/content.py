"""What both receipt formats print, already in words: labels in the receipt's language, values formatted.

HTML and PDF differ only in layout, so the wording and the formatting live here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from topup.adapters.receipts.labels import channel_name, labels_for
from topup.domain.calendar import BAKU
from topup.domain.cards import CardSummary
from topup.domain.catalogue import KB_PER_MB, Bundle
from topup.domain.fx import format_minor, format_rate
from topup.domain.money import CURRENCY, format_amount
from topup.domain.numbers import Msisdn
from topup.domain.orders import Order, PaymentMethod
from topup.services.history import Receipt

KB_PER_GB = 1_000 * KB_PER_MB
SECONDS_PER_MINUTE = 60
BASIS_POINTS_PER_PERCENT = 100


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    label: str
    value: str
    emphasis: bool = False


@dataclass(frozen=True, slots=True)
class ReceiptContent:
    language: str
    title: str
    operator_name: str
    transaction_id: str
    lines: tuple[ReceiptLine, ...]
    verification_label: str
    verification_code: str
    verify_label: str
    footer: str


def receipt_content(receipt: Receipt, *, language: str | None = None) -> ReceiptContent:
    """The receipt in words; `language` overrides the line's own (the PDF cannot draw Chinese)."""
    language = language or receipt.language
    labels = labels_for(language)
    record = receipt.record
    lines = [
        ReceiptLine(labels["operator"], receipt.operator.name),
        ReceiptLine(labels["number"], Msisdn(record.msisdn).masked),
        ReceiptLine(labels["kind"], labels[f"kind_{record.kind.value}"]),
    ]
    if receipt.bundle is not None:
        lines.append(ReceiptLine(labels["bundle"], receipt.bundle.name(language)))
        lines.append(ReceiptLine(labels["allowances"], allowances(receipt.bundle, labels)))
    elif record.bundle_code:  # the bundle has left the catalogue since: its code still identifies it
        lines.append(ReceiptLine(labels["bundle"], record.bundle_code))
    vat_label = labels["vat"].format(rate=percent(receipt.vat_rate_basis_points))
    lines += [
        ReceiptLine(labels["amount"], f"{format_amount(record.amount_qepik)} {CURRENCY}", emphasis=True),
        ReceiptLine(vat_label, f"{format_amount(record.vat_qepik)} {CURRENCY}"),
        ReceiptLine(labels["balance_after"], f"{format_amount(record.balance_after_qepik)} {CURRENCY}"),
    ]
    if record.valid_until is not None:
        lines.append(ReceiptLine(labels["valid_until"], record.valid_until.isoformat()))
    if record.bundle_expires_at is not None:
        lines.append(ReceiptLine(labels["bundle_valid_until"], baku_time(record.bundle_expires_at)))
    lines += [
        ReceiptLine(labels["created_at"], baku_time(record.created_at)),
        ReceiptLine(labels["channel"], channel_name(record.channel, language)),
        ReceiptLine(labels["transaction_id"], record.id),
    ]
    if receipt.order is not None:
        lines += _payment_lines(receipt.order, labels)
    return ReceiptContent(
        language=language,
        title=labels["title"],
        operator_name=receipt.operator.name,
        transaction_id=record.id,
        lines=tuple(lines),
        verification_label=labels["verification_code"],
        verification_code=record.verification_code,
        verify_label=labels["verify_at"],
        footer=labels["footer"],
    )


def _payment_lines(order: Order, labels: dict[str, str]) -> list[ReceiptLine]:
    """How a paid order was paid: method, what was charged in which currency at which rate, the fee."""
    lines = [ReceiptLine(labels["order_id"], order.id)]
    lines.append(ReceiptLine(labels["paid_by"], paid_by(order)))
    lines.append(ReceiptLine(labels["charged"], f"{format_minor(order.currency, order.charge_minor)} {order.currency}"))
    if order.rate_micros:
        lines.append(ReceiptLine(labels["rate"], f"1 {order.currency} = {format_rate(order.rate_micros)} {CURRENCY}"))
    lines.append(ReceiptLine(labels["fee"], f"{format_amount(order.fee_qepik)} {CURRENCY}"))
    if order.provider_reference:
        lines.append(ReceiptLine(labels["payment_reference"], order.provider_reference))
    return lines


# Names of the ways of paying: brand names, the same in every language.
_METHOD_NAMES = {
    PaymentMethod.GOOGLE_PAY: "Google Pay",
    PaymentMethod.PAYPAL: "PayPal",
    PaymentMethod.WEBMONEY: "WebMoney",
    PaymentMethod.GOLDENPAY: "GoldenPay",
}


def paid_by(order: Order) -> str:
    """ "Visa •••• 4242", "Google Pay · Visa •••• 4242", "PayPal": the method, and the card where one is known."""
    card = (
        CardSummary(order.card_brand, order.card_last_four, 1, 2000).display
        if order.card_brand and order.card_last_four
        else None
    )
    method = _METHOD_NAMES.get(order.payment_method)
    return " · ".join(part for part in (method, card) if part) or order.payment_method.value


def baku_time(moment: datetime) -> str:
    """ "2026-11-23 14:00 +04:00": Baku wall-clock time with its offset, so the moment is unambiguous."""
    local = moment.astimezone(BAKU)
    offset = local.isoformat(timespec="minutes")[-6:]
    return f"{local:%Y-%m-%d %H:%M} {offset}"


def percent(basis_points: int) -> str:
    """1800 -> "18%", 1850 -> "18.5%"."""
    whole, fraction = divmod(basis_points, BASIS_POINTS_PER_PERCENT)
    decimals = f".{fraction:02d}".rstrip("0") if fraction else ""
    return f"{whole}{decimals}%"


def allowances(bundle: Bundle, labels: dict[str, str]) -> str:
    """ "5 GB · 100 min · 50 SMS": only the allowances the bundle has."""
    parts = []
    if bundle.data_kb:
        parts.append(data_size(bundle.data_kb))
    if bundle.voice_seconds:
        parts.append(f"{bundle.voice_seconds // SECONDS_PER_MINUTE} {labels['minutes']}")
    if bundle.sms_count:
        parts.append(f"{bundle.sms_count} {labels['sms']}")
    return " · ".join(parts)


def data_size(data_kb: int) -> str:
    """Operators' decimal units: 5_000_000 -> "5 GB", 1_500_000 -> "1.5 GB", 500_000 -> "500 MB".

    A larger unit is used only when two decimals say the size exactly: a receipt never rounds an allowance.
    """
    for unit, kb_per_unit in (("GB", KB_PER_GB), ("MB", KB_PER_MB)):
        hundredth_kb = kb_per_unit // 100
        if data_kb >= kb_per_unit and data_kb % hundredth_kb == 0:
            whole, hundredths = divmod(data_kb // hundredth_kb, 100)
            decimals = f".{hundredths:02d}".rstrip("0") if hundredths else ""
            return f"{whole}{decimals} {unit}"
    return f"{data_kb} KB"
