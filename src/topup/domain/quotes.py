"""A quote: what a customer will pay and get, before paying. It locks the exchange rate until it expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from topup.domain.errors import DomainError, ErrorKind


class ProductType(StrEnum):
    TOPUP = "topup"
    BUNDLE = "bundle"


class QuoteNotFound(DomainError):
    code = "quote_not_found"
    kind = ErrorKind.NOT_FOUND


@dataclass(frozen=True, slots=True)
class Quote:
    id: str
    msisdn: str
    operator: str
    product_type: ProductType
    amount_qepik: int  # the AZN value delivered: the top-up amount or the bundle's price
    bundle_code: str | None
    vat_qepik: int  # the VAT part of amount_qepik (prices include VAT)
    fee_qepik: int  # what we charge on top (none yet; kept so receipts and orders can show it)
    currency: str  # what the customer pays in
    rate_micros: int | None  # AZN per unit of `currency`, in millionths; None when paying in AZN
    charge_minor: int  # minor units of `currency` to charge: (amount + fee) converted, rounded up
    validity_days: int  # days of usage period a top-up gives (0 for bundles)
    created_at: datetime
    expires_at: datetime
    valid_until: date | None = None  # the line's usage period after a top-up, when the line is ours
