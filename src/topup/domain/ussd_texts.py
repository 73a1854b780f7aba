"""What the USSD screens say, in the line's language: Azerbaijani, Russian or English (a Chinese-reading line
gets English: many handsets cannot show Chinese on a USSD screen). Money as "12.50 AZN", dates as 31.12.2026:
plain characters every handset shows."""

from __future__ import annotations

LANGUAGES = ("az", "ru", "en")

TEXTS: dict[str, dict[str, str]] = {
    "az": {
        "menu": ("{operator}\n1 Balans\n2 Internet qalığı\n3 Paket al\n4 Kartla artır\n5 Başqa nömrəyə kart\n0 Çıxış"),
        "balance": "Balans: {balance} AZN\nMüddət: {valid_until}",
        "balance_no_validity": "Balans: {balance} AZN",
        "bucket": "{bundle}: {left} ({until})",
        "data_title": "İnternet qalığı:",
        "no_data": "Aktiv internet paketi yoxdur.",
        "bundles_title": "Paket seçin:",
        "back": "0 Geri",
        "confirm": "{bundle}, {price} AZN balansdan.\n1 Al\n2 İmtina",
        "bought": "Hazırdır: {bundle} {until} tarixinədək aktivdir. Balans: {balance} AZN.",
        "cancelled": "İmtina edildi.",
        "enter_pin": "Kartın 13 rəqəmli kodunu daxil edin:",
        "enter_number": "Nömrəni daxil edin (məs. 0501234567):",
        "topped_up": "Balansınız {amount} AZN artırıldı. Balans: {balance} AZN.",
        "topped_up_other": "{number} nömrəsi {amount} AZN artırıldı.",
        "bye": "Sağ olun!",
        "timeout": "Sessiyanın vaxtı bitdi. Yenidən yığın.",
        "unknown_code": "Bu kod mövcud deyil.",
        "wrong_choice": "Yanlış seçim.",
        "error": "Xəta baş verdi. Bir qədər sonra yenidən cəhd edin.",
        "insufficient_balance": "Balans kifayət etmir: {balance} AZN.",
        "voucher_invalid": "Kartın kodu yanlışdır.",
        "voucher_already_redeemed": "Bu kart artıq istifadə olunub.",
        "voucher_wrong_operator": "Bu kart başqa operatorun nömrələri üçündür.",
        "voucher_redemption_locked": "Çox sayda yanlış kod: kartla artırma 24 saat bağlıdır.",
        "voucher_expired": "Kartın müddəti bitib.",
        "line_barred": "Nömrə bloklanıb.",
        "line_closed": "Nömrə bağlıdır.",
        "line_validity_expired": "Nömrənin müddəti bitib.",
        "number_invalid": "Nömrə yanlışdır.",
        "line_not_found": "Bu nömrə xidmət olunmur.",
        "invalid_input": "Yanlış daxiletmə.",
        "too_many_requests": "Çox sayda sorğu. Bir qədər sonra yenidən cəhd edin.",
        "bundle_already_active": "Bu paket artıq aktivdir.",
    },
    "ru": {
        "menu": (
            "{operator}\n1 Баланс\n2 Остаток интернета\n3 Купить пакет\n4 Пополнить картой\n"
            "5 Карта на другой номер\n0 Выход"
        ),
        "balance": "Баланс: {balance} AZN\nДо: {valid_until}",
        "balance_no_validity": "Баланс: {balance} AZN",
        "bucket": "{bundle}: {left} ({until})",
        "data_title": "Остаток интернета:",
        "no_data": "Нет активного интернет-пакета.",
        "bundles_title": "Выберите пакет:",
        "back": "0 Назад",
        "confirm": "{bundle}, {price} AZN с баланса.\n1 Купить\n2 Отмена",
        "bought": "Готово: {bundle} действует до {until}. Баланс: {balance} AZN.",
        "cancelled": "Отменено.",
        "enter_pin": "Введите 13-значный код карты:",
        "enter_number": "Введите номер (напр. 0501234567):",
        "topped_up": "Баланс пополнен на {amount} AZN. Баланс: {balance} AZN.",
        "topped_up_other": "Номер {number} пополнен на {amount} AZN.",
        "bye": "Спасибо!",
        "timeout": "Время сессии истекло. Наберите код снова.",
        "unknown_code": "Такого кода нет.",
        "wrong_choice": "Неверный выбор.",
        "error": "Произошла ошибка. Попробуйте позже.",
        "insufficient_balance": "Недостаточно средств: {balance} AZN.",
        "voucher_invalid": "Неверный код карты.",
        "voucher_already_redeemed": "Эта карта уже использована.",
        "voucher_wrong_operator": "Эта карта для номеров другого оператора.",
        "voucher_redemption_locked": "Слишком много неверных кодов: пополнение картой закрыто на 24 часа.",
        "voucher_expired": "Срок действия карты истёк.",
        "line_barred": "Номер заблокирован.",
        "line_closed": "Номер закрыт.",
        "line_validity_expired": "Срок действия номера истёк.",
        "number_invalid": "Неверный номер.",
        "line_not_found": "Этот номер не обслуживается.",
        "invalid_input": "Неверный ввод.",
        "too_many_requests": "Слишком много запросов. Попробуйте позже.",
        "bundle_already_active": "Этот пакет уже активен.",
    },
    "en": {
        "menu": (
            "{operator}\n1 Balance\n2 Data left\n3 Buy a bundle\n4 Top up with a card\n"
            "5 Card for another number\n0 Exit"
        ),
        "balance": "Balance: {balance} AZN\nValid until {valid_until}",
        "balance_no_validity": "Balance: {balance} AZN",
        "bucket": "{bundle}: {left} ({until})",
        "data_title": "Data left:",
        "no_data": "No active data bundle.",
        "bundles_title": "Choose a bundle:",
        "back": "0 Back",
        "confirm": "{bundle}, {price} AZN from your balance.\n1 Buy\n2 Cancel",
        "bought": "Done: {bundle} is active until {until}. Balance: {balance} AZN.",
        "cancelled": "Cancelled.",
        "enter_pin": "Enter the 13-digit card code:",
        "enter_number": "Enter the number (e.g. 0501234567):",
        "topped_up": "Your balance was topped up by {amount} AZN. Balance: {balance} AZN.",
        "topped_up_other": "{number} was topped up by {amount} AZN.",
        "bye": "Thank you!",
        "timeout": "The session timed out. Dial again.",
        "unknown_code": "There is no such code.",
        "wrong_choice": "Wrong choice.",
        "error": "Something went wrong. Try again later.",
        "insufficient_balance": "Your balance is too low: {balance} AZN.",
        "voucher_invalid": "The card code is not valid.",
        "voucher_already_redeemed": "This card was used already.",
        "voucher_wrong_operator": "This card is for another operator's numbers.",
        "voucher_redemption_locked": "Too many wrong codes: card top-ups are locked for 24 hours.",
        "voucher_expired": "This card has expired.",
        "line_barred": "This number is barred.",
        "line_closed": "This number is closed.",
        "line_validity_expired": "This number's usage period has ended.",
        "number_invalid": "This number is not valid.",
        "line_not_found": "This number is not served here.",
        "invalid_input": "Invalid input.",
        "too_many_requests": "Too many requests. Try again later.",
        "bundle_already_active": "This bundle is active already.",
    },
}
# Error codes that have no screen of their own read as these.
ALIASES = {
    "number_malformed": "number_invalid",
    "number_not_mobile": "number_invalid",
    "number_foreign": "number_invalid",
    "operator_not_supported": "number_invalid",
    "amount_out_of_range": "error",
    "amount_not_a_denomination": "error",
}


def language_of(line_language: str | None) -> str:
    return line_language if line_language in LANGUAGES else "en"


def text(language: str, key: str, **values: str) -> str:
    table = TEXTS[language_of(language)]
    key = ALIASES.get(key, key)
    return table.get(key, table["error"]).format(**values)
