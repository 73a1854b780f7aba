"""A receipt as one self-contained HTML page: readable on a phone, printable on A4 or a 58–80 mm roll."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from topup.adapters.receipts.content import receipt_content
from topup.services.history import Receipt

# Autoescape for every template: bundle names are operator-edited data and must never become markup.
_ENVIRONMENT = Environment(
    loader=PackageLoader("topup.adapters.receipts", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_VERIFY_URL_SCHEMES = ("https://", "http://")


def render_receipt_html(receipt: Receipt, *, verify_url: str | None = None) -> str:
    """The receipt in the line's language; `verify_url`, if given, is printed as where to check the code."""
    # Escaping keeps a URL from breaking out of the attribute, but "javascript:" would still run when clicked.
    if verify_url is not None and not verify_url.startswith(_VERIFY_URL_SCHEMES):
        raise ValueError("verify_url must be an http(s) address")
    template = _ENVIRONMENT.get_template("receipt.html")
    return template.render(content=receipt_content(receipt), verify_url=verify_url)
