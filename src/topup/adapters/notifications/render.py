"""A notification in words, in az, en, ru or zh: money, dates and numbers formatted by Babel for the language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from topup.domain.notifications import Notification, NotificationKind

LOCALES = {"az": "az", "en": "en", "ru": "ru", "zh": "zh_Hans_CN"}
K = NotificationKind
# {amount}, {balance}: money; {date}: a date; {bundle}: the bundle's name; {percent}: a number. Russian long dates
# end in "г." (2026 г.), so no Russian sentence puts its own full stop right after {date}.
TEMPLATES: dict[str, dict[NotificationKind, str]] = {
    "az": {
        K.TOPUP_DONE: "Balansınız {amount} artırıldı. Balans: {balance}. İstifadə müddəti: {date}.",
        K.BALANCE_LOW: "Balansınız azdır: {balance}. Xidmətsiz qalmamaq üçün balansı artırın.",
        K.DATA_75: "{bundle} paketinin internet həcminin {percent}%-i istifadə olunub.",
        K.DATA_90: "{bundle} paketinin internet həcminin {percent}%-i istifadə olunub.",
        K.BUNDLE_EXPIRING_3D: "{bundle} paketinin müddəti {date} tarixində bitir.",
        K.BUNDLE_EXPIRING_1D: "{bundle} paketinin müddəti sabah, {date} tarixində bitir.",
        K.RENEWAL_DONE: "{bundle} paketi yeniləndi ({amount}).",
        K.RENEWAL_FAILED: (
            "{bundle} paketini yeniləmək üçün balans kifayət etmir ({amount}). Hər gün yenidən cəhd edəcəyik."
        ),
        K.VALIDITY_ENDING: (
            "Balansınızın istifadə müddəti {date} tarixində bitir. Müddəti uzatmaq üçün balansı artırın."
        ),
    },
    "en": {
        K.TOPUP_DONE: "Your balance was topped up by {amount}. Balance: {balance}. Valid until {date}.",
        K.BALANCE_LOW: "Your balance is low: {balance}. Top up to stay connected.",
        K.DATA_75: "You have used {percent}% of the data in {bundle}.",
        K.DATA_90: "You have used {percent}% of the data in {bundle}.",
        K.BUNDLE_EXPIRING_3D: "{bundle} ends on {date}.",
        K.BUNDLE_EXPIRING_1D: "{bundle} ends tomorrow, {date}.",
        K.RENEWAL_DONE: "{bundle} was renewed ({amount}).",
        K.RENEWAL_FAILED: "Your balance is too low to renew {bundle} ({amount}). We will try again every day.",
        K.VALIDITY_ENDING: "Your balance's usage period ends on {date}. Top up to extend it.",
    },
    "ru": {
        K.TOPUP_DONE: "Ваш баланс пополнен на {amount}. Баланс: {balance}. Срок действия — до {date}",
        K.BALANCE_LOW: "На вашем балансе мало средств: {balance}. Пополните баланс, чтобы оставаться на связи.",
        K.DATA_75: "Использовано {percent}% интернет-трафика пакета «{bundle}».",
        K.DATA_90: "Использовано {percent}% интернет-трафика пакета «{bundle}».",
        K.BUNDLE_EXPIRING_3D: "Пакет «{bundle}» действует до {date}",
        K.BUNDLE_EXPIRING_1D: "Пакет «{bundle}» заканчивается завтра, {date}",
        K.RENEWAL_DONE: "Пакет «{bundle}» продлён ({amount}).",
        K.RENEWAL_FAILED: (
            "Недостаточно средств для продления пакета «{bundle}» ({amount}). Мы будем пробовать каждый день."
        ),
        K.VALIDITY_ENDING: "Срок действия баланса заканчивается {date} — пополните баланс, чтобы продлить его.",
    },
    "zh": {
        K.TOPUP_DONE: "您的余额已充值 {amount}。当前余额：{balance}。有效期至 {date}。",
        K.BALANCE_LOW: "您的余额不足：{balance}。请及时充值以保持通信畅通。",
        K.DATA_75: "您已使用套餐“{bundle}”中 {percent}% 的流量。",
        K.DATA_90: "您已使用套餐“{bundle}”中 {percent}% 的流量。",
        K.BUNDLE_EXPIRING_3D: "套餐“{bundle}”将于 {date} 到期。",
        K.BUNDLE_EXPIRING_1D: "套餐“{bundle}”将于明天（{date}）到期。",
        K.RENEWAL_DONE: "套餐“{bundle}”已续订（{amount}）。",
        K.RENEWAL_FAILED: "余额不足，无法续订套餐“{bundle}”（{amount}）。我们将每天重试。",
        K.VALIDITY_ENDING: "您的余额有效期将于 {date} 结束。请充值以延长有效期。",
    },
}


@dataclass(frozen=True, slots=True)
class Rendered:
    language: str
    text: str


def render(notification: Notification) -> Rendered:
    """The notification's text in its language (English for a language without templates)."""
    language = notification.language if notification.language in TEMPLATES else "en"
    locale = LOCALES[language]
    params = notification.params
    values = {
        "amount": _money(params.get("amount_qepik"), locale),
        "balance": _money(params.get("balance_qepik"), locale),
        "date": format_date(date.fromisoformat(params["date"]), format="long", locale=locale)
        if "date" in params
        else "",
        "bundle": params.get(f"bundle_{language}") or params.get("bundle_en", ""),
        "percent": format_decimal(int(params.get("percent", "0")), locale=locale),
    }
    return Rendered(language, TEMPLATES[language][notification.kind].format(**values))


def _money(qepik: str | None, locale: str) -> str:
    if qepik is None:
        return ""
    return format_currency(Decimal(int(qepik)) / 100, "AZN", locale=locale)


def _date(iso: str | None, locale: str) -> str:
    return "" if iso is None else format_date(date.fromisoformat(iso), format="long", locale=locale)
