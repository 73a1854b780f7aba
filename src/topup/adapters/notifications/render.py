"""A notification in words, in az, en, ru or zh: money, dates and numbers formatted by Babel for the language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from string import Formatter

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from topup.domain.notifications import Notification, NotificationKind
from topup.services.notifications import Rendered

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
        K.AUTO_RECHARGE_DONE: "Avtomatik artırma: balansınız {card} kartından {amount} artırıldı. Balans: {balance}.",
        K.AUTO_RECHARGE_FAILED: (
            "Avtomatik artırma ({amount}, {card}) baş tutmadı. Bir qədər sonra yenidən cəhd edəcəyik."
        ),
        K.AUTO_RECHARGE_SUSPENDED: (
            "Avtomatik artırma ({amount}, {card}) dayandırıldı: kartdan ödəniş alınmadı. "
            "Yenidən aktivləşdirmək üçün kartı yeniləyin."
        ),
        K.SIGN_IN_CODE: "Topup giriş kodunuz: {code}. Kod 5 dəqiqə etibarlıdır. Onu heç kimə deməyin.",
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
        K.AUTO_RECHARGE_DONE: "Auto-recharge: your balance was topped up by {amount} from {card}. Balance: {balance}.",
        K.AUTO_RECHARGE_FAILED: "Auto-recharge of {amount} from {card} did not go through. We will try again later.",
        K.AUTO_RECHARGE_SUSPENDED: (
            "Auto-recharge of {amount} from {card} is paused: the card could not be charged. "
            "Update your card to turn it back on."
        ),
        K.SIGN_IN_CODE: "Your Topup sign-in code is {code}. It is valid for 5 minutes. Do not share it with anyone.",
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
        K.AUTO_RECHARGE_DONE: "Автопополнение: баланс пополнен на {amount} с карты {card}. Баланс: {balance}.",
        K.AUTO_RECHARGE_FAILED: "Автопополнение на {amount} с карты {card} не прошло. Мы попробуем ещё раз позже.",
        K.AUTO_RECHARGE_SUSPENDED: (
            "Автопополнение на {amount} с карты {card} приостановлено: списать деньги с карты не удалось. "
            "Обновите карту, чтобы снова включить его."
        ),
        K.SIGN_IN_CODE: "Ваш код для входа в Topup: {code}. Код действует 5 минут. Никому его не сообщайте.",
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
        K.AUTO_RECHARGE_DONE: "自动充值：已从 {card} 为您的余额充值 {amount}。当前余额：{balance}。",
        K.AUTO_RECHARGE_FAILED: "从 {card} 自动充值 {amount} 未成功。我们稍后将再次尝试。",
        K.AUTO_RECHARGE_SUSPENDED: "从 {card} 自动充值 {amount} 已暂停：无法从该卡扣款。请更新银行卡以重新开启。",
        K.SIGN_IN_CODE: "您的 Topup 登录验证码为 {code}，5 分钟内有效。请勿告诉任何人。",
    },
}


# A short title per kind: an e-mail's subject.
SUBJECTS: dict[str, dict[NotificationKind, str]] = {
    "az": {
        K.TOPUP_DONE: "Balans artırıldı",
        K.BALANCE_LOW: "Balans azdır",
        K.DATA_75: "İnternet paketi: 75% istifadə olunub",
        K.DATA_90: "İnternet paketi: 90% istifadə olunub",
        K.BUNDLE_EXPIRING_3D: "Paketin müddəti bitir",
        K.BUNDLE_EXPIRING_1D: "Paketin müddəti sabah bitir",
        K.RENEWAL_DONE: "Paket yeniləndi",
        K.RENEWAL_FAILED: "Paket yenilənmədi",
        K.VALIDITY_ENDING: "İstifadə müddəti bitir",
        K.AUTO_RECHARGE_DONE: "Avtomatik artırma edildi",
        K.AUTO_RECHARGE_FAILED: "Avtomatik artırma baş tutmadı",
        K.AUTO_RECHARGE_SUSPENDED: "Avtomatik artırma dayandırıldı",
        K.SIGN_IN_CODE: "Giriş kodu",
    },
    "en": {
        K.TOPUP_DONE: "Balance topped up",
        K.BALANCE_LOW: "Your balance is low",
        K.DATA_75: "75% of your data used",
        K.DATA_90: "90% of your data used",
        K.BUNDLE_EXPIRING_3D: "Your bundle ends soon",
        K.BUNDLE_EXPIRING_1D: "Your bundle ends tomorrow",
        K.RENEWAL_DONE: "Bundle renewed",
        K.RENEWAL_FAILED: "Bundle not renewed",
        K.VALIDITY_ENDING: "Your usage period ends soon",
        K.AUTO_RECHARGE_DONE: "Auto-recharge done",
        K.AUTO_RECHARGE_FAILED: "Auto-recharge did not go through",
        K.AUTO_RECHARGE_SUSPENDED: "Auto-recharge paused",
        K.SIGN_IN_CODE: "Your sign-in code",
    },
    "ru": {
        K.TOPUP_DONE: "Баланс пополнен",
        K.BALANCE_LOW: "Мало средств на балансе",
        K.DATA_75: "Использовано 75% трафика",
        K.DATA_90: "Использовано 90% трафика",
        K.BUNDLE_EXPIRING_3D: "Пакет скоро закончится",
        K.BUNDLE_EXPIRING_1D: "Пакет заканчивается завтра",
        K.RENEWAL_DONE: "Пакет продлён",
        K.RENEWAL_FAILED: "Пакет не продлён",
        K.VALIDITY_ENDING: "Срок действия баланса заканчивается",
        K.AUTO_RECHARGE_DONE: "Автопополнение выполнено",
        K.AUTO_RECHARGE_FAILED: "Автопополнение не прошло",
        K.AUTO_RECHARGE_SUSPENDED: "Автопополнение приостановлено",
        K.SIGN_IN_CODE: "Код для входа",
    },
    "zh": {
        K.TOPUP_DONE: "充值成功",
        K.BALANCE_LOW: "余额不足",
        K.DATA_75: "流量已使用 75%",
        K.DATA_90: "流量已使用 90%",
        K.BUNDLE_EXPIRING_3D: "套餐即将到期",
        K.BUNDLE_EXPIRING_1D: "套餐明天到期",
        K.RENEWAL_DONE: "套餐已续订",
        K.RENEWAL_FAILED: "套餐未能续订",
        K.VALIDITY_ENDING: "余额有效期即将结束",
        K.AUTO_RECHARGE_DONE: "自动充值成功",
        K.AUTO_RECHARGE_FAILED: "自动充值未成功",
        K.AUTO_RECHARGE_SUSPENDED: "自动充值已暂停",
        K.SIGN_IN_CODE: "登录验证码",
    },
}


class NotificationTexts:
    """The renderer the notification service is given (`services.notifications.NotificationRenderer`)."""

    def render(self, notification: Notification) -> Rendered:
        return render(notification)


def render(notification: Notification) -> Rendered:
    """The notification's text in its language (English for a language without templates). Only the values its
    template shows are formatted, and Babel's work is cached per value and locale: the worker renders one
    message per top-up."""
    language = notification.language if notification.language in TEMPLATES else "en"
    locale = LOCALES[language]
    params = notification.params
    template = TEMPLATES[language][notification.kind]
    formatters: dict[str, Callable[[], str]] = {
        "amount": lambda: _money(params.get("amount_qepik"), locale),
        "balance": lambda: _money(params.get("balance_qepik"), locale),
        "date": lambda: _date(params.get("date"), locale),
        "bundle": lambda: params.get(f"bundle_{language}") or params.get("bundle_en", ""),
        "percent": lambda: _percent(params.get("percent", "0"), locale),
        "card": lambda: params.get("card", ""),
        "code": lambda: params.get("code", ""),
    }
    text = template.format(**{name: formatters[name]() for name in _fields(template)})
    return Rendered(language, f"Topup: {SUBJECTS[language][notification.kind]}", text)


@cache
def _fields(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in Formatter().parse(template) if name)


@lru_cache(maxsize=4096)
def _money(qepik: str | None, locale: str) -> str:
    if qepik is None:
        return ""
    return format_currency(Decimal(int(qepik)) / 100, "AZN", locale=locale)


@lru_cache(maxsize=1024)
def _date(iso: str | None, locale: str) -> str:
    return "" if iso is None else format_date(date.fromisoformat(iso), format="long", locale=locale)


@lru_cache(maxsize=256)
def _percent(percent: str, locale: str) -> str:
    return format_decimal(int(percent), locale=locale)
