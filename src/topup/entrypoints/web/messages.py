"""The one place where an error's stable code becomes words a visitor reads, in the page's language, and where
it is shown: next to which field of the form.

The services speak English to developers; the portal never shows those messages. Each code the portal can
meet has a translated message here (a test checks every `DomainError` code is either here or listed in
`NOT_MET_IN_THE_PORTAL`); order failures (the provider's decline codes) have their own plain words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from topup.domain.errors import DomainError
from topup.domain.money import parse_amount
from topup.entrypoints.web.i18n import Formats


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name: marks a string for extraction only
    return message


Gettext = Callable[[str], str]

# Codes of errors the portal itself raises (not the services).
FORM_EXPIRED = "form_expired"  # missing or wrong CSRF token
FORM_TAMPERED = "form_tampered"  # a signed hidden field that does not verify
REQUIRED = "required"
NOT_FOUND = "not_found"

ERRORS: Mapping[str, str] = {
    # the portal's own
    FORM_EXPIRED: N_("This form has expired. Reload the page and try again."),
    FORM_TAMPERED: N_("This form was changed after we sent it. Please start again."),
    REQUIRED: N_("Please fill this in."),
    NOT_FOUND: N_("We could not find this page."),
    "choice_invalid": N_("Please choose one of the options."),
    "number_required": N_("Enter a number, such as 5 or 7.50."),
    # numbers and operators
    "number_malformed": N_("This is not a phone number. Use digits, such as 050 123 45 67."),
    "number_invalid": N_("This number does not exist. A mobile number has 9 digits after 0, such as 050 123 45 67."),
    "number_not_mobile": N_("This is a landline or service number, not a mobile line."),
    "number_foreign": N_("Only Azerbaijani mobile numbers (+994) can be topped up here."),
    "operator_not_supported": N_("No operator we work with serves this number."),
    "operator_closed": N_("This operator has closed; its numbers moved to other operators."),
    "operator_unknown": N_("Please choose an operator from the list."),
    "wrong_operator": N_("This number is served by %(operator_name)s now. Choose %(operator_name)s to continue."),
    # money and amounts
    "invalid_amount": N_("Enter an amount in manat, such as 5 or 7.50 (at most two decimals)."),
    "unsupported_currency": N_("This currency is not accepted here."),
    "amount_out_of_range": N_("The amount must be between %(minimum)s and %(maximum)s."),
    "amount_not_a_denomination": N_("This operator accepts only these amounts: %(allowed)s."),
    "insufficient_balance": N_("Your balance is not enough for this. Top up first, or pay by card."),
    # lines
    "line_not_found": N_("We do not serve this number yet. Check the digits."),
    "line_barred": N_("This line is barred: it cannot be topped up now. Please contact the operator."),
    "line_closed": N_("This line is closed."),
    "line_not_prepaid": N_("This is a postpaid line: the operator bills it, so it has no balance to top up."),
    "line_validity_expired": N_("This number's usage period has ended. Top it up before buying a bundle."),
    # catalogue
    "catalogue_not_loaded": N_("Top-ups are not available right now. Please try again later."),
    "bundle_not_found": N_("There is no such bundle."),
    "bundle_of_another_operator": N_("This bundle belongs to another operator."),
    "bundle_already_active": N_("You already have this bundle. Buy it again when it ends."),
    # history and receipts
    "transaction_not_found": N_("We could not find this page."),
    "receipt_not_found": N_("No receipt has this verification code: it is not genuine, or it was mistyped."),
    "invalid_cursor": N_("This page of the list is no longer available. Start from the first page."),
    # quotes, currencies, limits
    "rate_unavailable": N_("We cannot price in this currency right now. Choose another one."),
    "quote_expired": N_("This price has expired. Here is a fresh one: please check it and pay again."),
    "quote_not_found": N_("This price has expired. Please start again."),
    "quote_mismatch": N_("This form was changed after we sent it. Please start again."),
    "currency_not_supported_by_method": N_("This way of paying cannot charge in %(currency)s."),
    "limit_exceeded": N_("The daily limit for this number or card is reached. Please try again tomorrow."),
    "too_many_top_ups": N_("This number was topped up a moment ago. Please wait a little before the next top-up."),
    # orders and payments
    "order_not_found": N_("We could not find this page."),
    "order_not_cancellable": N_("This payment is already finished."),
    "order_transition_not_allowed": N_("This payment is already finished."),
    "payment_not_accepted": N_("The payment provider did not accept this payment. Please try another way of paying."),
    "payment_method_unavailable": N_("This way of paying is not available right now. Please choose another one."),
    "payment_provider_unavailable": N_("The bank did not answer. Nothing was charged. Please try again."),
    "idempotency_key_missing": N_("This form has expired. Reload the page and try again."),
    "idempotency_key_invalid": N_("This form has expired. Reload the page and try again."),
    "idempotency_key_reused": N_("This form was already sent with other details. Reload the page and try again."),
    "idempotency_request_in_progress": N_("We are still working on this payment. Please wait a moment and reload."),
    # cards
    "card_invalid": N_("Check the card details."),
    "card_expired": N_("This card has expired."),
    "card_not_accepted": N_("The bank declined this card, so it was not saved."),
    "payment_method_not_found": N_("Please choose one of your saved cards."),
    "payment_method_expired": N_("This saved card has expired. Add your new card."),
    "too_many_payment_methods": N_("You can keep at most %(limit)s cards. Remove one first."),
    # auto-recharge and notifications
    "auto_recharge_not_found": N_("This auto-recharge is already off."),
    # scratch cards
    "voucher_invalid": N_("This card code is not valid. Check the 13 digits under the silver layer."),
    "voucher_expired": N_("This card has expired: it can no longer be used."),
    "voucher_already_redeemed": N_("This card was used already."),
    "voucher_wrong_operator": N_("This card is for another operator's numbers. Use a card of the number's operator."),
    "voucher_redemption_locked": N_(
        "Too many wrong card codes for this number. Card top-ups for it are locked until %(retry_at)s."
    ),
    # signing in
    "code_expired": N_("This code has expired or was already used. Ask for a new one."),
    "code_invalid": N_("The code has 6 digits."),
    "code_wrong": N_("This code is not right. Tries left: %(tries_left)s."),
    "sign_in_locked": N_("Too many wrong codes. Signing in with this number is locked until %(retry_at)s."),
    "too_many_requests": N_("Too many tries. Please try again after %(retry_at)s."),
}

# InvalidInput carries the field it is about: its message depends on the field.
INVALID_FIELDS: Mapping[str, str] = {
    "threshold": N_("The threshold must be more than 0 and at most ten times the top-up amount."),
    "monthly_max": N_("Choose from 1 to 31 top-ups a month."),
    "day_of_month": N_("Choose a day from 1 to 31."),
    "email": N_("This is not an e-mail address."),
    "url": N_("A webhook address starts with https://."),
    "muted": N_("Please choose from the list."),
    "status": N_("Please choose from the list."),
    "kind": N_("Please choose from the list."),
    "sort": N_("Please choose from the list."),
    "from/to": N_("Enter a date such as 2026-11-23."),
    "pin": N_("A card code has 13 digits."),
}
GENERIC = N_("Something went wrong. Nothing was charged. Please try again.")
INVALID_GENERIC = N_("Please check this field.")

# Why a payment did not go through, in plain words (an order's failure code).
FAILURES: Mapping[str, str] = {
    "card_declined": N_("Your bank declined the card. Try another card, or ask your bank why."),
    "insufficient_funds": N_("There is not enough money on the card."),
    "expired_card": N_("The bank says this card has expired."),
    "incorrect_cvc": N_("The security code (CVC) is not right."),
    "processing_error": N_("The bank could not process the payment. Please try again in a few minutes."),
    "authentication_failed": N_("The bank's security check (3-D Secure) was not passed."),
    "authentication_cancelled": N_("The bank's security check (3-D Secure) was cancelled."),
    "payment_cancelled": N_("The payment was cancelled. Nothing was charged."),
    "payment_timed_out": N_("The payment was not finished in time. Nothing was charged."),
    "provider_unavailable": N_("The payment service did not answer. Nothing was charged."),
    "payment_not_received": N_("The payment service never received this payment. Nothing was charged."),
    "payment_rejected": N_("The payment service refused the payment."),
    "invalid_token": N_("Google Pay could not pay this. Try a card instead."),
    "payment_method_removed": N_("This saved card was removed."),
    "saved_card_not_found": N_("This saved card is no longer known to the bank. Add it again."),
    "declined": N_("The payment was declined."),
}
FAILURE_GENERIC = N_("The payment did not go through. Nothing was charged.")

# Codes of DomainError subclasses that no portal page can meet (staff's and the catalogue's). The other
# channels' errors (agents, kiosks, USSD, charging) come from services the portal never calls.
NOT_MET_IN_THE_PORTAL = frozenset(
    {
        "domain_error",
        "invalid_input",
        "catalogue_invalid",
        "ledger_invariant_broken",
        "port_not_found",
        "line_exists",
        "iccid_in_use",
        "invalid_iccid",
        "api_key_missing",
        "api_key_invalid",
        "api_key_not_found",
        "forbidden",
        "invalid_rate",
        "refund_not_possible",
        "webhook_not_found",
        "voucher_not_found",  # a card's status by serial: staff's and agents'
        "voucher_transition_not_allowed",
    }
)

# Where an error shows: the field of the form it is about (else at the top of the form).
FIELDS: Mapping[str, str] = {
    "number_malformed": "number",
    "number_invalid": "number",
    "number_not_mobile": "number",
    "number_foreign": "number",
    "operator_not_supported": "number",
    "operator_closed": "number",
    "line_not_found": "number",
    "line_barred": "number",
    "line_closed": "number",
    "line_not_prepaid": "number",
    "wrong_operator": "operator",
    "operator_unknown": "operator",
    "invalid_amount": "amount",
    "amount_out_of_range": "amount",
    "amount_not_a_denomination": "amount",
    "card_expired": "card_expiry",
    "card_not_accepted": "card_number",
    "payment_method_not_found": "saved_card",
    "payment_method_expired": "saved_card",
    "code_expired": "code",
    "code_invalid": "code",
    "code_wrong": "code",
    "sign_in_locked": "code",
    "voucher_invalid": "pin",
    "voucher_expired": "pin",
    "voucher_already_redeemed": "pin",
    "voucher_wrong_operator": "pin",
    "voucher_redemption_locked": "pin",
    "currency_not_supported_by_method": "method",
    "payment_method_unavailable": "method",
    "unsupported_currency": "currency",
    "rate_unavailable": "currency",
}
# card_invalid says which part of the card is wrong.
_CARD_FIELDS = {"number": "card_number", "expiry_month": "card_expiry", "expiry_year": "card_expiry", "cvc": "cvc"}
CARD_MESSAGES = {
    "card_number": N_("This card number is not valid. Check the digits."),
    "card_expiry": N_("Enter the expiry date as MM/YY, such as 08/29."),
    "cvc": N_("The security code has 3 digits (4 on American Express), on the back of the card."),
}


def field_of(error: DomainError) -> str | None:
    if error.code == "card_invalid":
        return _CARD_FIELDS.get(str(error.details.get("field", "")), "card_number")
    if error.code == "invalid_input":
        return str(error.details.get("field", "")) or None
    return FIELDS.get(error.code)


def error_text(error: DomainError, gettext: Gettext, formats: Formats) -> str:
    """The error in the reader's words, with its details (amounts as money, times in Baku) filled in."""
    if error.code == "card_invalid":
        wrong_part = field_of(error) or "card_number"
        return gettext(CARD_MESSAGES[wrong_part])
    if error.code == "invalid_input":
        field = str(error.details.get("field", ""))
        return gettext(INVALID_FIELDS.get(field, INVALID_GENERIC))
    message = ERRORS.get(error.code)
    if message is None:
        return gettext(GENERIC)
    return gettext(message) % _values(error.details, formats)


def code_text(code: str, gettext: Gettext) -> str:
    """A message for a code the portal raises itself (no details)."""
    return gettext(ERRORS.get(code, GENERIC))


def failure_text(code: str | None, gettext: Gettext, formats: Formats) -> str:
    """Why an order failed: a provider's decline, or the reason delivery was refused (a line barred...)."""
    if code is not None and code in FAILURES:
        return gettext(FAILURES[code])
    if code is not None and code in ERRORS and code not in {FORM_EXPIRED, FORM_TAMPERED}:
        return gettext(ERRORS[code]) % _values({}, formats)
    return gettext(FAILURE_GENERIC)


def _values(details: Mapping[str, Any], formats: Formats) -> _Details:
    return _Details(details, formats)


class _Details(dict[str, str]):
    """Details as text for %-formatting; a detail the message names but the error lacks prints as nothing."""

    def __init__(self, details: Mapping[str, Any], formats: Formats) -> None:
        super().__init__()
        self._details = details
        self._formats = formats

    def __missing__(self, key: str) -> str:
        value = self._details.get(key)
        if value is None:
            return ""
        if key in ("minimum", "maximum"):
            return self._formats.money(parse_amount(str(value)))
        if key == "allowed" and isinstance(value, list):
            return ", ".join(self._formats.money(parse_amount(str(item))) for item in value)
        if key == "retry_at":
            return self._formats.datetime(datetime.fromisoformat(str(value)), "short")
        return str(value)
