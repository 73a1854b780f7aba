"""WebMoney Merchant (Web Merchant Interface) as a `RedirectProvider`.

The payer's browser posts a form to WebMoney (`start` builds it; no server call), pays from a WM Keeper
purse, and WebMoney tells us twice at the Result URL: an unsigned pre-request (`LMI_PREREQUEST=1`: answer
"YES" to let the payment go on) and, once paid, a notification signed with `LMI_HASH`. `read_notification`
checks both; `find` asks WebMoney's X18 interface. A WebMoney payment is a transfer: paid means taken, so
there is nothing to capture or void, only to refund.

References:
- `LMI_PAYMENT_NO` must be an integer: it is `payment_number(reference)`, the first 13 hex digits of our
  order id (32 lower-case hex characters) read as a number, so below 2**52. Deterministic: the same order
  always gets the same number, and WebMoney keeps one payment per number and purse.
- Our provider reference is f"{currency}-{payment_no}" (e.g. "USD-1234567890123"): the currency names the
  purse, so a refund or a capture needs no search over the purses. `read_notification` gives the same form.
- The order id goes along as the custom field `FIELD_REFERENCE` (WebMoney sends it back). It is not covered
  by the hash, so a notification is believed only when it matches the signed `LMI_PAYMENT_NO`.

Errors say what a retry can do, as in `card_acquirer`: `ProviderUnavailable(outcome_unknown=False)` when the
request surely had no effect (nothing sent; WebMoney refused our signature, purse or request),
`ProviderUnavailable(outcome_unknown=True)` when it may have (no answer after sending, 5xx, an unreadable
body, a return code we do not know), `PaymentRefused` when WebMoney understood and said no.

Assumptions beyond PROTOCOLS.md section 3 (marked "assumption" below too):
- X18 (`/conf/xml/XMLTransGet.asp`): request and answer shapes, the sha256 over wmid + purse + payment number
  + secret key, and the return codes are taken from public client code, not from WebMoney's own text.
- Refunds: WebMoney's real return interface (X14, `XMLTransMoneyback.asp`) needs WMSigner keys. This adapter
  speaks a SANDBOX-ONLY interface instead, `/conf/xml/XMLTransRefund.asp`, signed like X18 with the amount
  added; against the real WebMoney a refund fails (`ProviderUnavailable`) and must be made by hand.
- `LMI_SYS_TRANS_DATE` is Moscow time, taken as UTC+3 (Moscow has kept UTC+3 since 2014).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal
from urllib.parse import urlsplit

import httpx

from topup.adapters.payments.http import HttpProvider
from topup.services.payments import (
    Checkout,
    NotificationRejected,
    PaymentForm,
    PaymentRefused,
    PaymentResult,
    PaymentStatus,
    ProviderUnavailable,
)

HashMethod = Literal["sha256", "md5"]

MOSCOW = timezone(timedelta(hours=3), "MSK")  # assumption: LMI_SYS_TRANS_DATE is Moscow time, UTC+3
PAYMENT_PATH = "/lmi/payment_utf.asp"
TRANSACTION_PATH = "/conf/xml/XMLTransGet.asp"
REFUND_PATH = "/conf/xml/XMLTransRefund.asp"  # assumption: sandbox only (the real X14 needs WMSigner keys)
REFERENCE_FIELD = "FIELD_REFERENCE"
TRANS_DATE_FORMAT = "%Y%m%d %H:%M:%S"
PAYMENT_NO_HEX_DIGITS = 13  # 52 bits: below 2**52, 16 decimal digits at most
DESCRIPTION_CHARS_MAX = 255
ANSWER_BYTES_MAX = 65_536
AMOUNT_DIGITS_MAX = 12  # whole units; far above any top-up

# X18 return codes (assumption [M]: meanings from public client code, e.g. pulyavin/wmxml).
RETVAL_OK = "0"
RETVAL_NOT_FOUND = "8"  # no payment with this number in this purse
RETVAL_NOT_PAID = "9"  # found, not paid yet
RETVAL_REFUND_TOO_LARGE = "20"  # assumption: sandbox refund interface only
_NOT_PAID = frozenset({"7", "8", "9", "10", "11", "12"})
_REJECTED = frozenset({"13", "14"})  # found, "already rejected": nothing was taken
# Our signature, WMID, purse or request is wrong: nothing happened, and retrying will not help.
_REFUSED_REQUEST = frozenset({"-100", "-2", "-3", "-6", "-7", "1", "2", "3", "4", "6"})

_REFERENCE = re.compile(r"[0-9a-f]{32}")
_PROVIDER_REFERENCE = re.compile(r"([A-Z]{3})-([1-9][0-9]{0,15}|0)")
PURSE_FORMAT = re.compile(r"[A-Z][0-9]{12}")
WMID_FORMAT = re.compile(r"[0-9]{12}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_NUMBER = re.compile(r"[0-9]{1,20}")
_RETVAL = re.compile(r"-?[0-9]{1,6}")
_AMOUNT = re.compile(rf"(0|[1-9][0-9]{{0,{AMOUNT_DIGITS_MAX - 1}}})(?:\.([0-9]{{1,2}}))?")
XML_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_HASH_METHOD_BY_LENGTH: dict[int, HashMethod] = {32: "md5", 64: "sha256"}
_SIGN_LENGTH = 132  # a WMSigner signature: needs WebMoney's keys, cannot be checked here

# The classic LMI_HASH: these values, in this order, with the secret key between them, no separator.
HASHED_FIELDS_BEFORE_SECRET = (
    "LMI_PAYEE_PURSE",
    "LMI_PAYMENT_AMOUNT",
    "LMI_PAYMENT_NO",
    "LMI_MODE",
    "LMI_SYS_INVS_NO",
    "LMI_SYS_TRANS_NO",
    "LMI_SYS_TRANS_DATE",
)
HASHED_FIELDS_AFTER_SECRET = ("LMI_PAYER_PURSE", "LMI_PAYER_WM")
_PREREQUEST_FIELDS = ("LMI_PAYEE_PURSE", "LMI_PAYMENT_AMOUNT", "LMI_PAYMENT_NO", "LMI_MODE")
_NOTIFICATION_FIELDS = (*HASHED_FIELDS_BEFORE_SECRET, *HASHED_FIELDS_AFTER_SECRET, "LMI_HASH")


@dataclass(frozen=True, slots=True)
class WebMoneyNotification:
    """What WebMoney said at the Result URL, checked. For a pre-request (`prerequest`, unsigned: never record a
    payment from it) the LMI_SYS_* fields and `trans_date` are None and `result` is REQUIRES_ACTION; for the
    notification `result` is CAPTURED. The caller still checks the amount and currency against its order."""

    prerequest: bool
    payment_no: str
    reference: str | None  # FIELD_REFERENCE, our order id; checked against payment_no
    amount_minor: int
    currency: str
    test: bool  # LMI_MODE=1: a test payment, no money moved
    payer_purse: str | None
    payer_wm: str | None
    sys_invs_no: str | None
    sys_trans_no: str | None
    trans_date: datetime | None  # aware, Moscow time
    result: PaymentResult


def payment_number(reference: str) -> int | None:
    """The LMI_PAYMENT_NO of our order `reference` (32 lower-case hex characters), or None if it is not one."""
    if not _REFERENCE.fullmatch(reference):
        return None
    return int(reference[:PAYMENT_NO_HEX_DIGITS], 16)


def format_amount(amount_minor: int) -> str:
    """Integer minor units as WebMoney writes amounts: "10.25" (every WebMoney currency has two decimals)."""
    return f"{amount_minor // 100}.{amount_minor % 100:02d}"


def parse_amount(text: str) -> int | None:
    """Minor units of a WebMoney amount ("10.25", "10.5", "10"), or None if it is not one."""
    match = _AMOUNT.fullmatch(text)
    if match is None:
        return None
    whole, fraction = match.groups()
    return int(whole) * 100 + int((fraction or "0").ljust(2, "0"))


def notification_hash(fields: Mapping[str, str], secret_key: str, method: HashMethod) -> str:
    """The classic LMI_HASH of a notification: upper-case hex of MD5 or SHA256 over the values, no separator."""
    values = [fields.get(name, "") for name in HASHED_FIELDS_BEFORE_SECRET]
    values += [secret_key, *(fields.get(name, "") for name in HASHED_FIELDS_AFTER_SECRET)]
    return hashlib.new(method, "".join(values).encode()).hexdigest().upper()


def request_signature(*parts: str) -> str:
    """X18's <sha256>: upper-case hex SHA256 over the parts, no separator (the secret key last)."""
    return hashlib.sha256("".join(parts).encode()).hexdigest().upper()


class WebMoneyMerchant(HttpProvider):
    _PROVIDER = "WebMoney"
    _UNREACHABLE_SAYS_WHY = True

    def __init__(
        self,
        base_url: str,
        *,
        purses: Mapping[str, str],
        secret_key: str,
        result_url: str,
        test_mode: bool = False,
        hash_method: HashMethod = "sha256",
        wmid: str = "",
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`purses` maps a currency to our purse in it ({"USD": "Z123456789012"}); `secret_key` is the purse's
        Merchant secret key; `hash_method` is what the purse settings choose for LMI_HASH (a hash of the other
        kind is refused: no downgrade to MD5); `wmid` is the WMID owning the purses (X18 signs it; the sandbox
        accepts it empty). `test_mode` adds LMI_SIM_MODE=0 to the form and accepts LMI_MODE=1 notifications."""
        if not purses:
            raise ValueError("WebMoney needs at least one purse")
        for currency, purse in purses.items():
            if not _CURRENCY.fullmatch(currency) or not PURSE_FORMAT.fullmatch(purse):
                raise ValueError("a WebMoney purse is a currency code mapped to a letter and 12 digits")
        if len(set(purses.values())) != len(purses):
            raise ValueError("each currency needs its own WebMoney purse")
        if not secret_key:
            raise ValueError("WebMoney needs the purse's secret key")
        if hash_method not in _HASH_METHOD_BY_LENGTH.values():
            raise ValueError("hash_method is sha256 or md5")
        if wmid and not WMID_FORMAT.fullmatch(wmid):
            raise ValueError("a WMID is 12 digits")
        parts = urlsplit(result_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("result_url must be an absolute http(s) address")
        self.currencies = frozenset(purses)
        self.captures_on_approval = True
        self._purses = dict(purses)
        self._currency_of = {purse: currency for currency, purse in purses.items()}
        self._secret_key = secret_key
        self._result_url = result_url
        self._test_mode = test_mode
        self._hash_method = hash_method
        self._wmid = wmid
        self._base_url = base_url.rstrip("/")
        super().__init__(self._base_url, timeout_seconds=timeout_seconds, transport=transport)

    @property
    def result_url(self) -> str:
        return self._result_url

    def start(self, checkout: Checkout) -> PaymentResult:
        purse = self._purses.get(checkout.currency)
        if purse is None:
            raise PaymentRefused(f"No WebMoney purse takes {checkout.currency}.", code="currency_not_supported")
        number = payment_number(checkout.reference)
        if number is None:
            raise PaymentRefused("A WebMoney order id must be 32 lower-case hex digits.", code="invalid_reference")
        if checkout.amount_minor <= 0:
            raise PaymentRefused("A WebMoney payment needs a positive amount.", code="invalid_amount")
        # WebMoney takes 255 characters of description; a longer one is cut rather than refused.
        description = checkout.description[:DESCRIPTION_CHARS_MAX]
        fields = [
            ("LMI_PAYEE_PURSE", purse),
            ("LMI_PAYMENT_AMOUNT", format_amount(checkout.amount_minor)),
            ("LMI_PAYMENT_NO", str(number)),
            ("LMI_PAYMENT_DESC_BASE64", base64.b64encode(description.encode()).decode("ascii")),
            # Overriding the dashboard's URLs must be allowed in the purse settings.
            ("LMI_RESULT_URL", self._result_url),
            ("LMI_SUCCESS_URL", checkout.return_url),
            ("LMI_SUCCESS_METHOD", "0"),  # GET: the return carries no hash anyway, it only brings the payer back
            ("LMI_FAIL_URL", checkout.cancel_url),
            ("LMI_FAIL_METHOD", "0"),
        ]
        if self._test_mode:
            fields.append(("LMI_SIM_MODE", "0"))  # in a test purse: every payment succeeds
        fields.append((REFERENCE_FIELD, checkout.reference))
        return PaymentResult(
            status=PaymentStatus.REQUIRES_ACTION,
            provider_reference=f"{checkout.currency}-{number}",
            form=PaymentForm(action_url=f"{self._base_url}{PAYMENT_PATH}", fields=tuple(fields)),
            amount_minor=checkout.amount_minor,
            currency=checkout.currency,
        )

    def read_notification(self, fields: Mapping[str, str]) -> WebMoneyNotification:
        """Checks a form posted to the Result URL: the pre-request (no hash) or the signed notification.
        Raises `NotificationRejected` with code malformed, unknown_purse, bad_signature,
        signature_not_checkable, wrong_mode or reference_mismatch. A live payment (LMI_MODE=0) is accepted
        in test mode too: real money that arrived must not be turned away."""
        prerequest_flag = fields.get("LMI_PREREQUEST", "")
        if prerequest_flag not in {"", "0", "1"}:
            raise NotificationRejected("LMI_PREREQUEST is not 0 or 1.", code="malformed")
        prerequest = prerequest_flag == "1"
        missing = [
            name for name in (_PREREQUEST_FIELDS if prerequest else _NOTIFICATION_FIELDS) if not fields.get(name)
        ]
        if missing:
            raise NotificationRejected(f"The notification lacks {', '.join(missing)}.", code="malformed")
        currency = self._currency_of.get(fields["LMI_PAYEE_PURSE"])
        if currency is None:
            raise NotificationRejected("The notification is for a purse that is not ours.", code="unknown_purse")
        if not prerequest:
            self._check_hash(fields)
        mode = fields["LMI_MODE"]
        if mode not in {"0", "1"}:
            raise NotificationRejected("LMI_MODE is not 0 or 1.", code="malformed")
        if mode == "1" and not self._test_mode:
            raise NotificationRejected("A test payment reached a live configuration.", code="wrong_mode")
        return self._notification(fields, prerequest=prerequest, currency=currency, test=mode == "1")

    def find(self, *, reference: str, provider_reference: str | None = None) -> PaymentResult:
        """Asks X18. Not paid (yet) is REQUIRES_ACTION, not NOT_FOUND: with a form, WebMoney knows nothing until
        the payer pays, so "not found" cannot tell an abandoned payment from one under way; the saga times the
        order out. Without `provider_reference` every purse is asked, in currency order."""
        if provider_reference is not None:
            parts = self._reference_parts(provider_reference)
            if parts is None:
                return PaymentResult(status=PaymentStatus.NOT_FOUND)  # not a reference we ever made
            candidates = [parts]
        else:
            number = payment_number(reference)
            if number is None:  # `start` refuses such an order: no payment can exist for it
                return PaymentResult(status=PaymentStatus.NOT_FOUND)
            candidates = [(currency, str(number)) for currency in sorted(self._purses)]
        for currency, number_text in candidates:
            found = self._query(currency, number_text)
            if found is not None:
                return found
        return PaymentResult(status=PaymentStatus.REQUIRES_ACTION, provider_reference=provider_reference)

    def capture(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        """Nothing to take: a paid WebMoney payment is already CAPTURED, in full."""
        currency, number = self._move_parts(provider_reference)
        found = self._query(currency, number)
        if found is None or found.status is PaymentStatus.DECLINED:
            raise PaymentRefused(f"WebMoney payment {provider_reference} is not paid.", code="invalid_state")
        if not 0 < amount_minor <= found.captured_minor:
            raise PaymentRefused(f"WebMoney payment {provider_reference} took another amount.", code="invalid_amount")
        return found

    def void(self, *, provider_reference: str) -> PaymentResult:
        raise PaymentRefused("A WebMoney transfer holds nothing to void; refund it instead.", code="invalid_state")

    def refund(self, *, provider_reference: str, amount_minor: int) -> PaymentResult:
        """Gives back all or part of a paid payment; the total never exceeds what was paid (invalid_amount).
        A refund carries no key of its own: a repeated partial refund refunds again, while any refund of a
        fully refunded payment changes nothing and answers REFUNDED (so a full refund may be repeated).
        Assumption: the sandbox's own interface (see the module docstring), not WebMoney's X14."""
        currency, number = self._move_parts(provider_reference)
        if amount_minor <= 0:
            raise PaymentRefused("A refund needs a positive amount.", code="invalid_amount")
        purse = self._purses[currency]
        amount = format_amount(amount_minor)
        root = self._request(
            REFUND_PATH,
            purse,
            number,
            extra={"amount": amount},
            signature=request_signature(self._wmid, purse, number, amount, self._secret_key),
        )
        retval = _retval(root)
        if retval == RETVAL_OK:
            return _paid(root, currency=currency, number=number)
        if retval in _NOT_PAID or retval in _REJECTED:
            raise PaymentRefused(f"WebMoney payment {provider_reference} is not paid.", code="invalid_state")
        if retval == RETVAL_REFUND_TOO_LARGE:
            raise PaymentRefused("The refund exceeds what is left of the payment.", code="invalid_amount")
        raise _unexpected(retval, "refund")

    def _check_hash(self, fields: Mapping[str, str]) -> None:
        received = fields["LMI_HASH"].strip().upper()
        if len(received) == _SIGN_LENGTH:
            raise NotificationRejected(
                "The notification is signed with WMSigner, which cannot be checked here; choose SHA256 or MD5 in "
                "the purse settings.",
                code="signature_not_checkable",
            )
        # The length tells the method; only the one the purse is set to counts.
        if _HASH_METHOD_BY_LENGTH.get(len(received)) != self._hash_method:
            raise NotificationRejected("The notification's LMI_HASH is not valid.", code="bad_signature")
        expected = notification_hash(fields, self._secret_key, self._hash_method)
        if not hmac.compare_digest(received.encode(), expected.encode()):
            raise NotificationRejected("The notification's LMI_HASH is not valid.", code="bad_signature")

    def _notification(
        self, fields: Mapping[str, str], *, prerequest: bool, currency: str, test: bool
    ) -> WebMoneyNotification:
        amount_minor = parse_amount(fields["LMI_PAYMENT_AMOUNT"])
        payment_no = fields["LMI_PAYMENT_NO"]
        if amount_minor is None or amount_minor <= 0 or not _NUMBER.fullmatch(payment_no):
            raise NotificationRejected("The amount or the payment number is not a number.", code="malformed")
        payment_no = str(int(payment_no))
        # Strict formats also shut out a length extension of the hash, which would append bytes to LMI_PAYER_WM.
        payer_purse = fields.get("LMI_PAYER_PURSE") or None
        payer_wm = fields.get("LMI_PAYER_WM") or None
        if (payer_purse and not PURSE_FORMAT.fullmatch(payer_purse)) or (
            payer_wm and not WMID_FORMAT.fullmatch(payer_wm)
        ):
            raise NotificationRejected("The payer's purse or WMID is malformed.", code="malformed")
        reference = fields.get(REFERENCE_FIELD) or None
        # FIELD_REFERENCE is outside the hash: the payer could have changed it in the form. The number is signed.
        if reference is not None and str(payment_number(reference)) != payment_no:
            raise NotificationRejected("FIELD_REFERENCE does not match LMI_PAYMENT_NO.", code="reference_mismatch")
        provider_reference = f"{currency}-{payment_no}"
        if prerequest:
            sys_invs_no = sys_trans_no = None
            trans_date = None
            result = PaymentResult(
                status=PaymentStatus.REQUIRES_ACTION,
                provider_reference=provider_reference,
                amount_minor=amount_minor,
                currency=currency,
            )
        else:
            sys_invs_no, sys_trans_no = fields["LMI_SYS_INVS_NO"], fields["LMI_SYS_TRANS_NO"]
            trans_date = _trans_date(fields["LMI_SYS_TRANS_DATE"])
            if trans_date is None or not (_NUMBER.fullmatch(sys_invs_no) and _NUMBER.fullmatch(sys_trans_no)):
                raise NotificationRejected("LMI_SYS_* fields are malformed.", code="malformed")
            result = _captured(provider_reference, currency=currency, amount_minor=amount_minor, refunded_minor=0)
        return WebMoneyNotification(
            prerequest=prerequest,
            payment_no=payment_no,
            reference=reference,
            amount_minor=amount_minor,
            currency=currency,
            test=test,
            payer_purse=payer_purse,
            payer_wm=payer_wm,
            sys_invs_no=sys_invs_no,
            sys_trans_no=sys_trans_no,
            trans_date=trans_date,
            result=result,
        )

    def _query(self, currency: str, number: str) -> PaymentResult | None:
        """X18 for one purse: the paid payment, a DECLINED one, or None when it is not paid (yet)."""
        purse = self._purses[currency]
        signature = request_signature(self._wmid, purse, number, self._secret_key)
        root = self._request(TRANSACTION_PATH, purse, number, extra={}, signature=signature)
        retval = _retval(root)
        if retval == RETVAL_OK:
            return _paid(root, currency=currency, number=number)
        if retval in _NOT_PAID:
            return None
        if retval in _REJECTED:
            return PaymentResult(
                status=PaymentStatus.DECLINED,
                provider_reference=f"{currency}-{number}",
                decline_code="payment_rejected",
                raw_code=retval,
                message="WebMoney reports the payment as rejected.",
                currency=currency,
            )
        raise _unexpected(retval, "find")

    def _request(self, path: str, purse: str, number: str, *, extra: dict[str, str], signature: str) -> ET.Element:
        request = ET.Element("merchant.request")
        for name, value in (
            ("wmid", self._wmid),
            ("lmi_payee_purse", purse),
            ("lmi_payment_no", number),
            ("lmi_payment_no_type", "0"),  # 0: our LMI_PAYMENT_NO, not WebMoney's invoice or transfer number
            *extra.items(),
            ("sha256", signature),
        ):
            ET.SubElement(request, name).text = value
        body = ET.tostring(request, encoding="utf-8", xml_declaration=True)
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        response = self._send("POST", path, content=body, headers=headers, request_name=path)
        return _answer(response, path)

    def _reference_parts(self, provider_reference: str) -> tuple[str, str] | None:
        match = _PROVIDER_REFERENCE.fullmatch(provider_reference)
        if match is None or match.group(1) not in self._purses:
            return None
        return match.group(1), match.group(2)

    def _move_parts(self, provider_reference: str) -> tuple[str, str]:
        parts = self._reference_parts(provider_reference)
        if parts is None:
            raise PaymentRefused("This is not a WebMoney payment of ours.", code="not_found")
        return parts


def _answer(response: httpx.Response, path: str) -> ET.Element:
    """The <merchant.response> of a 200 answer; anything else raises `ProviderUnavailable`."""
    status_code = response.status_code
    if 400 <= status_code < 500:  # a wrong address or a refused request: nothing happened
        raise ProviderUnavailable(f"WebMoney refused {path} (HTTP {status_code}).", outcome_unknown=False)
    content = response.content
    # ElementTree is not hardened against entity tricks (defusedxml is not available): only our configured host
    # is read, and a body with a DTD is refused outright.
    try:
        if status_code != 200 or len(content) > ANSWER_BYTES_MAX or XML_DTD.search(content):
            raise ValueError(status_code)
        root = ET.fromstring(content)  # noqa: S314 (no DTD, as checked above)
        if root.tag != "merchant.response" or not _RETVAL.fullmatch((root.findtext("retval") or "").strip()):
            raise ValueError("not a merchant.response")
    except (ET.ParseError, ValueError):
        message = f"WebMoney answered {path} with something unreadable (HTTP {status_code})."
        raise ProviderUnavailable(message, outcome_unknown=True) from None
    return root


def _retval(root: ET.Element) -> str:
    return (root.findtext("retval") or "").strip()


def _unexpected(retval: str, action: str) -> ProviderUnavailable:
    if retval in _REFUSED_REQUEST:
        return ProviderUnavailable(
            f"WebMoney refused the {action} request (retval {retval}): check the WMID, purse and secret key.",
            outcome_unknown=False,
        )
    return ProviderUnavailable(f"WebMoney answered the {action} with retval {retval}.", outcome_unknown=True)


def _paid(root: ET.Element, *, currency: str, number: str) -> PaymentResult:
    """The payment in an X18 (or refund) answer with retval 0."""
    operation = root.find("operation")
    amount = parse_amount((operation.findtext("amount") or "").strip()) if operation is not None else None
    # Assumption: <refundedamount> is the sandbox's addition; the real X18 does not report refunds.
    refunded_text = (operation.findtext("refundedamount") or "0").strip() if operation is not None else ""
    refunded = parse_amount(refunded_text)
    if (
        operation is None
        or amount is None
        or amount <= 0
        or refunded is None
        or not 0 <= refunded <= amount
        or not _NUMBER.fullmatch(operation.get("wmtransid", ""))
    ):
        raise ProviderUnavailable("WebMoney answered an unreadable operation.", outcome_unknown=True)
    return _captured(f"{currency}-{number}", currency=currency, amount_minor=amount, refunded_minor=refunded)


def _captured(provider_reference: str, *, currency: str, amount_minor: int, refunded_minor: int) -> PaymentResult:
    refunded_in_full = refunded_minor == amount_minor
    return PaymentResult(
        status=PaymentStatus.REFUNDED if refunded_in_full else PaymentStatus.CAPTURED,
        provider_reference=provider_reference,
        amount_minor=amount_minor,
        captured_minor=amount_minor,
        refunded_minor=refunded_minor,
        currency=currency,
    )


def _trans_date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, TRANS_DATE_FORMAT).replace(tzinfo=MOSCOW)
    except ValueError:
        return None
