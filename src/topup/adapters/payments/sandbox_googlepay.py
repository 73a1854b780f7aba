"""A sandbox imitation of the Google Pay payment sheet, shipped so that Google Pay works end to end offline.

`GET /pay?reference&amount&currency&description&return_url&cancel_url` (what `GooglePaySheet.start` links to)
shows the merchant, the amount and a choice of test cards; `POST /pay` either sends the browser to `cancel_url`
(303) or seals a real ECv2 token for the chosen card (`google_pay_token`, with the sandbox's own keys, for
`gateway:<gateway_id>`) and answers a page whose form posts it to `return_url` as the field `token`. A real
sheet hands the token to the merchant page's script, which posts it to the merchant; a Continue button does
the same here and keeps the sandbox free of scripts. The merchant's server then charges the token at the
sandbox acquirer (`HttpCardAcquirer.authorise_token`), which opens it with the same keys directory.

Test cards (magic numbers of `sandbox_cards`, expiring in December three years ahead):
- Visa •••• 4242 on this phone: a device token (CRYPTOGRAM_3DS, ECI 05): authorised without 3-D Secure.
- Mastercard •••• 4444, card on file (PAN_ONLY): authorised.
- Visa •••• 3220, card on file (PAN_ONLY): the bank asks for 3-D Secure (the acquirer's challenge, code 1234).
- Visa •••• 0002, card on file (PAN_ONLY): declined, card_declined (05).
The sheet keeps no state. It sends browsers to whatever http(s) addresses it is given: mount it only where
the sandbox is wanted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from types import MappingProxyType

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from topup.adapters.clock import SystemClock
from topup.adapters.payments import sandbox_pages
from topup.adapters.payments.google_pay import CURRENCIES
from topup.adapters.payments.google_pay_token import AuthMethod, GooglePayTokenIssuer, SandboxGooglePayKeys
from topup.adapters.payments.sandbox_acquirer import AMOUNT_MAX_MINOR
from topup.adapters.payments.sandbox_common import html, is_web_address, read_form
from topup.services.ports import Clock

FORM_SIZE_MAX_BYTES = 16_384  # two addresses of 2,048 characters, percent-encoded, and a little more
FORM_FIELDS_MAX = 10
REFERENCE_LENGTH_MAX = 128
DESCRIPTION_LENGTH_MAX = 256
URL_LENGTH_MAX = 2048
CARD_VALIDITY_YEARS = 3
_FIELDS = ("reference", "amount", "currency", "description", "return_url", "cancel_url")
_HEADERS = {
    # No scripts, nothing from elsewhere, nothing cached, and the sheet's address (with the merchant's return
    # addresses in it) not passed on.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#e8eaed;margin:0;padding:2rem}"
    "main{max-width:26rem;margin:auto;background:#fff;border-radius:12px;padding:1.5rem;"
    "box-shadow:0 2px 8px #0003}"
    "h1{font-size:1.1rem;margin:0 0 1rem}.merchant{color:#5f6368;margin:0}"
    ".amount{font-size:1.75rem;margin:.25rem 0 1rem}"
    "fieldset{border:1px solid #dadce0;border-radius:8px;padding:.5rem 1rem}"
    "label{display:block;padding:.5rem 0}"
    "button{margin:1rem .5rem 0 0;padding:.6rem 1.4rem;font-size:1rem;border-radius:20px;border:1px solid #dadce0;"
    "background:#fff}button.pay{background:#000;color:#fff;border-color:#000}"
    ".hint{color:#5f6368;font-size:.85rem}"
)


@dataclass(frozen=True, slots=True)
class _TestCard:
    label: str
    pan: str
    auth_method: AuthMethod
    eci: str | None = None


TEST_CARDS: Mapping[str, _TestCard] = MappingProxyType(
    {
        "device-visa-4242": _TestCard(
            "Visa •••• 4242 on this phone (device token: no 3-D Secure)", "4242424242424242", "CRYPTOGRAM_3DS", "05"
        ),
        "mastercard-4444": _TestCard("Mastercard •••• 4444 (card on file)", "5555555555554444", "PAN_ONLY"),
        "visa-3220": _TestCard(
            "Visa •••• 3220 (card on file; bank asks for 3-D Secure)", "4000000000003220", "PAN_ONLY"
        ),
        "visa-0002": _TestCard("Visa •••• 0002 (declined)", "4000000000000002", "PAN_ONLY"),
    }
)


@dataclass(frozen=True, slots=True)
class _PaymentRequest:
    reference: str
    amount_minor: int
    currency: str
    description: str
    return_url: str
    cancel_url: str

    @property
    def amount_text(self) -> str:
        # Every currency the sheet takes has two decimals.
        return f"{self.amount_minor // 100}.{self.amount_minor % 100:02d} {self.currency}"


class _Sheet:
    def __init__(
        self, issuer: GooglePayTokenIssuer, *, gateway_merchant_id: str, merchant_name: str, base_url: str, clock: Clock
    ) -> None:
        self._issuer = issuer
        self._gateway_merchant_id = gateway_merchant_id
        self._merchant_name = merchant_name
        self._base_url = base_url.rstrip("/")
        self._clock = clock

    async def show(self, request: Request) -> Response:
        payment = _payment_request(request.query_params)
        if isinstance(payment, list):
            return _invalid(payment)
        return _html(self._sheet_page(payment))

    async def answer(self, request: Request) -> Response:
        fields = await read_form(
            request, size_max_bytes=FORM_SIZE_MAX_BYTES, fields_max=FORM_FIELDS_MAX, keep_blank_values=True
        )
        if fields is None:
            return _html(_page("This form is too large", ""), status_code=413)
        payment = _payment_request(fields)
        if isinstance(payment, list):
            return _invalid(payment)
        action = fields.get("action")
        if action == "cancel":
            return RedirectResponse(payment.cancel_url, status_code=303)
        card = TEST_CARDS.get(fields.get("card", ""))
        if action != "pay" or card is None:
            return _html(_page("Choose a card, then Pay or Cancel", ""), status_code=400)
        now = self._clock.now()
        token = self._issuer.issue(
            pan=card.pan,
            expiry_month=12,
            expiry_year=now.year + CARD_VALIDITY_YEARS,
            auth_method=card.auth_method,
            gateway_merchant_id=self._gateway_merchant_id,
            now=now,
            eci=card.eci,  # a device token also gets a random one-time cryptogram, which the sandbox never checks
        )
        return _html(self._handover_page(payment, card, token))

    def _sheet_page(self, payment: _PaymentRequest) -> str:
        hidden = [
            ("reference", payment.reference),
            ("amount", str(payment.amount_minor)),
            ("currency", payment.currency),
            ("description", payment.description),
            ("return_url", payment.return_url),
            ("cancel_url", payment.cancel_url),
        ]
        cards = "".join(
            f'<label><input type="radio" name="card" value="{escape(key)}"{" checked" if index == 0 else ""}> '
            f"{escape(card.label)}</label>"
            for index, (key, card) in enumerate(TEST_CARDS.items())
        )
        return _page(
            "Google Pay (sandbox)",
            f'<p class="merchant">Pay {escape(self._merchant_name)}</p>'
            f'<p class="amount"><strong>{escape(payment.amount_text)}</strong></p>'
            f"<p>{escape(payment.description)}</p>"
            f'<form method="post" action="{escape(self._base_url)}/pay">{_hidden(hidden)}'
            f"<fieldset><legend>Pay with</legend>{cards}</fieldset>"
            '<button class="pay" type="submit" name="action" value="pay">Pay</button>'
            '<button type="submit" name="action" value="cancel">Cancel</button></form>'
            '<p class="hint">This is a sandbox imitation of the Google Pay sheet: the cards are test cards, and '
            "nothing is charged anywhere.</p>",
        )

    def _handover_page(self, payment: _PaymentRequest, card: _TestCard, token: str) -> str:
        return _page(
            "Google Pay (sandbox)",
            f"<p>{escape(card.label)} will pay <strong>{escape(payment.amount_text)}</strong> to "
            f"{escape(self._merchant_name)}.</p>"
            f'<form method="post" action="{escape(payment.return_url)}">{_hidden([("token", token)])}'
            '<button class="pay" type="submit">Continue</button></form>'
            '<p class="hint">A real sheet hands the payment token to the shop\'s page, whose script sends it to '
            "the shop. This sandbox has no scripts: Continue sends it.</p>",
        )


def create_sandbox_googlepay(
    keys_dir: Path,
    *,
    gateway_id: str,
    gateway_merchant_id: str,
    public_base_url: str,
    clock: Clock | None = None,
    merchant_name: str = "Topup",
) -> FastAPI:
    """The sandbox sheet as an ASGI app. `keys_dir` must be the sandbox acquirer's Google Pay keys directory
    (`sandbox_acquirer.default_google_pay_keys_dir`, unless it was given another), and `gateway_id` its
    gateway id, or the acquirer cannot open the tokens. `public_base_url` is where browsers reach the sheet."""
    if not gateway_id or not gateway_merchant_id:
        raise ValueError("the sandbox sheet needs a gateway id and a gateway merchant id")
    sheet = _Sheet(
        SandboxGooglePayKeys.load_or_create(keys_dir).issuer(gateway_id),
        gateway_merchant_id=gateway_merchant_id,
        merchant_name=merchant_name,
        base_url=public_base_url,
        clock=clock or SystemClock(),
    )
    app = FastAPI(title="Topup sandbox Google Pay sheet", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_api_route("/pay", sheet.show, methods=["GET"])
    app.add_api_route("/pay", sheet.answer, methods=["POST"])
    return app


def _payment_request(fields: Mapping[str, str]) -> _PaymentRequest | list[str]:
    """The payment the sheet is asked to show, or the names of the fields that are wrong (never their values)."""
    values = {name: fields.get(name, "") for name in _FIELDS}
    wrong = []
    if not 1 <= len(values["reference"]) <= REFERENCE_LENGTH_MAX:
        wrong.append("reference")
    amount = values["amount"]
    if not (amount.isascii() and amount.isdigit() and len(amount) <= 9 and 0 < int(amount) <= AMOUNT_MAX_MINOR):
        wrong.append("amount")
    if values["currency"] not in CURRENCIES:
        wrong.append("currency")
    if len(values["description"]) > DESCRIPTION_LENGTH_MAX:
        wrong.append("description")
    wrong += [name for name in ("return_url", "cancel_url") if not _is_web_address(values[name])]
    if wrong:
        return wrong
    return _PaymentRequest(
        reference=values["reference"],
        amount_minor=int(amount),
        currency=values["currency"],
        description=values["description"],
        return_url=values["return_url"],
        cancel_url=values["cancel_url"],
    )


def _is_web_address(url: str) -> bool:
    return len(url) <= URL_LENGTH_MAX and is_web_address(url)


def _hidden(fields: list[tuple[str, str]]) -> str:
    return "".join(f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in fields)


def _invalid(fields: list[str]) -> HTMLResponse:
    names = ", ".join(fields)
    return _html(_page("This payment request is not valid", f"<p>Check: {escape(names)}.</p>"), status_code=400)


def _page(title: str, body: str) -> str:
    return sandbox_pages.page(title, body, style=_STYLE)


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    return html(content, status_code, headers=_HEADERS)
