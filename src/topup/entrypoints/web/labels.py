"""Names of the things pages list — transaction kinds, order states, ways of paying, notification kinds — as
messages for the catalogues (`N_` marks them; templates translate them with `_`)."""

from __future__ import annotations

from collections.abc import Mapping

from topup.entrypoints.web.messages import N_

TRANSACTION_KINDS: Mapping[str, str] = {
    "topup": N_("Top-up"),
    "bundle_purchase": N_("Bundle purchase"),
    "reversal": N_("Refund"),
    "usage": N_("Usage"),
    "reservation": N_("Reservation"),
    "breakage": N_("Balance forfeited"),
    "expiry": N_("Bundle ended"),
}
ORDER_STATES: Mapping[str, str] = {
    "created": N_("Started"),
    "awaiting_payment": N_("Waiting for payment"),
    "paid": N_("Paid, delivering"),
    "fulfilled": N_("Done"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled"),
    "refunded": N_("Refunded"),
    "unknown": N_("Being confirmed"),
}
# Brand names stay as they are in every language; only the card is a word.
METHODS: Mapping[str, str] = {
    "card": N_("Bank card"),
    "googlepay": "Google Pay",
    "paypal": "PayPal",
    "webmoney": "WebMoney",
    "goldenpay": "GoldenPay",
}
METHOD_HINTS: Mapping[str, str] = {
    "card": N_("Visa, Mastercard and others. Your bank may ask you to confirm."),
    "googlepay": N_("Pay with a card saved in Google Pay."),
    "paypal": N_("Pay from your PayPal account."),
    "webmoney": N_("Pay from your WebMoney purse."),
    "goldenpay": N_("Azerbaijani bank cards, on GoldenPay's secure page."),
}
# Rendered by newstyle gettext, which always %-formats: a literal percent sign is written "%%".
NOTIFICATION_KINDS: Mapping[str, str] = {
    "topup_done": N_("Top-up done"),
    "balance_low": N_("Balance is low"),
    "data_75": N_("75%% of a bundle's data used"),
    "data_90": N_("90%% of a bundle's data used"),
    "bundle_expiring_3d": N_("Bundle ends in 3 days"),
    "bundle_expiring_1d": N_("Bundle ends tomorrow"),
    "renewal_done": N_("Bundle renewed"),
    "renewal_failed": N_("Bundle could not be renewed"),
    "validity_ending": N_("Usage period ends soon"),
    "auto_recharge_done": N_("Auto-recharge done"),
    "auto_recharge_failed": N_("Auto-recharge failed"),
    "auto_recharge_suspended": N_("Auto-recharge paused"),
}
SORTS: Mapping[str, str] = {
    "price": N_("Cheapest first"),
    "data": N_("Most data first"),
    "validity": N_("Longest first"),
}
