"""The few HTML pages the API itself serves to a customer's browser on its way back from a payment provider
(the portal will have the full pages): the order's result, and the form that carries them on to WebMoney.

Self-contained: no outside assets; every value escaped. The only script is the one-line auto-submit of the
form, allowed by its hash in the Content-Security-Policy; without scripts the customer presses the button.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from topup.domain.orders import Order
from topup.services.payments import PaymentForm

_AUTO_SUBMIT = "document.forms[0].submit();"
_AUTO_SUBMIT_HASH = base64.b64encode(hashlib.sha256(_AUTO_SUBMIT.encode()).digest()).decode()
PAGE_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_AUTO_SUBMIT_HASH}'; form-action *"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;padding:2rem;background:#f4f5f7}"
    "main{max-width:28rem;margin:auto;background:#fff;border-radius:8px;padding:1.5rem}"
    "button{padding:.6rem 1.2rem;font-size:1rem}"
)
_OUTCOME = {
    "fulfilled": "Payment received — the line has been topped up.",
    "failed": "The payment did not go through; nothing was charged.",
    "cancelled": "The payment was cancelled; nothing was charged.",
    "refunded": "This order was refunded.",
}


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )


def result_page(order: Order) -> str:
    words = _OUTCOME.get(order.state.value, "We are confirming your payment; this page will show the result shortly.")
    reason = (
        f"<p>{escape(order.failure_message)}</p>" if order.failure_message and order.state.value != "fulfilled" else ""
    )
    return _page(
        "Topup order",
        f"<h1>{escape(words)}</h1>{reason}"
        f"<p>Order <code>{escape(order.id)}</code>: <strong>{escape(order.state.value)}</strong></p>",
    )


def post_form_page(form: PaymentForm) -> str:
    fields = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in form.fields
    )
    return _page(
        "Continue to payment",
        f'<form method="post" action="{escape(form.action_url)}">{fields}'
        "<p>You are being taken to the payment page.</p>"
        '<button type="submit">Continue to payment</button></form>'
        f"<script>{_AUTO_SUBMIT}</script>",
    )
