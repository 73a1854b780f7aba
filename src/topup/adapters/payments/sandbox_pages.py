"""The sandbox's 3-D Secure challenge page: what the customer's browser sees, self-contained (no scripts,
no outside assets), every value escaped."""

from __future__ import annotations

from html import escape

from topup.adapters.payments.sandbox_cards import CHALLENGE_CODE
from topup.adapters.payments.sandbox_store import StoredPayment

_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem}"
    "main{max-width:24rem;margin:auto;background:#fff;border-radius:8px;padding:1.5rem;"
    "box-shadow:0 1px 4px #0002}"
    "h1{font-size:1.25rem}label{display:block;margin:1rem 0 .25rem}"
    "input{font-size:1.25rem;width:8rem;letter-spacing:.2em}"
    "button{margin:1rem .5rem 0 0;padding:.5rem 1rem;font-size:1rem}"
    ".hint{color:#555;font-size:.9rem}"
)


def page(title: str, body: str, *, style: str = _STYLE) -> str:
    """A whole page: `title` (escaped here) as its title and heading, then `body` (HTML, escaped by the caller)."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{style}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )


def challenge_page(payment: StoredPayment) -> str:
    amount = f"{payment.amount // 100}.{payment.amount % 100:02d} {payment.currency}"
    return page(
        "Sandbox 3-D Secure",
        f"<p>Confirm the payment of <strong>{escape(amount)}</strong> with the card "
        f"{escape(payment.brand.title())} •••• {escape(payment.last_four)}.</p>"
        f"<p>Reference: {escape(payment.reference)}</p>"
        '<form method="post">'
        '<label for="otp">One-time code</label>'
        '<input id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code" maxlength="8" autofocus>'
        f'<p class="hint">This is a sandbox: the code is {CHALLENGE_CODE}. Any other code fails.</p>'
        '<button type="submit" name="action" value="approve">Approve</button>'
        '<button type="submit" name="action" value="cancel">Cancel</button>'
        "</form>",
    )


def settled_page(payment: StoredPayment) -> str:
    return page(
        "Sandbox 3-D Secure",
        f"<p>This payment is not waiting for authentication: it is {escape(payment.status.value)}.</p>",
    )
