"""Receipts for customers: the same content as an HTML page and as a PDF."""

from topup.adapters.receipts.html import render_receipt_html
from topup.adapters.receipts.pdf import render_receipt_pdf

__all__ = ["render_receipt_html", "render_receipt_pdf"]
