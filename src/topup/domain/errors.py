"""Errors are data: each carries a stable `code` that clients can rely on and a human message.

One handler per entrypoint maps `kind` to its own vocabulary (HTTP status, CLI exit code).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    INVALID = "invalid"  # the request itself is wrong (422)
    NOT_FOUND = "not_found"  # a named thing does not exist (404)
    CONFLICT = "conflict"  # the request clashes with the current state (409)
    REFUSED = "refused"  # a business rule says no (422)
    UNAUTHORISED = "unauthorised"  # who are you? (401)
    FORBIDDEN = "forbidden"  # you may not (403)
    UNAVAILABLE = "unavailable"  # a provider we need did not answer: nothing changed, try again later (503)


class DomainError(Exception):
    code: str = "domain_error"
    kind: ErrorKind = ErrorKind.REFUSED

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    code = "invalid_input"
    kind = ErrorKind.INVALID


# Numbers
class NumberMalformed(InvalidInput):
    code = "number_malformed"


class NumberInvalid(InvalidInput):
    code = "number_invalid"


class NumberNotMobile(InvalidInput):
    code = "number_not_mobile"


class NumberForeign(InvalidInput):
    code = "number_foreign"


class OperatorNotSupported(DomainError):
    code = "operator_not_supported"


class OperatorClosed(DomainError):
    code = "operator_closed"


class OperatorUnknown(DomainError):
    code = "operator_unknown"
    kind = ErrorKind.NOT_FOUND


# Money
class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class UnsupportedCurrency(InvalidInput):
    code = "unsupported_currency"


class AmountOutOfRange(DomainError):
    code = "amount_out_of_range"


class AmountNotADenomination(DomainError):
    code = "amount_not_a_denomination"


class InsufficientBalance(DomainError):
    code = "insufficient_balance"


# Lines
class LineNotFound(DomainError):
    code = "line_not_found"
    kind = ErrorKind.NOT_FOUND


class LineExists(DomainError):
    code = "line_exists"
    kind = ErrorKind.CONFLICT


class IccidInUse(DomainError):
    code = "iccid_in_use"
    kind = ErrorKind.CONFLICT


class InvalidIccid(InvalidInput):
    code = "invalid_iccid"


class LineBarred(DomainError):
    code = "line_barred"


class LineClosed(DomainError):
    code = "line_closed"


class LineNotPrepaid(DomainError):
    code = "line_not_prepaid"


class LineValidityExpired(DomainError):
    code = "line_validity_expired"


# Catalogue
class CatalogueInvalid(InvalidInput):
    code = "catalogue_invalid"


class CatalogueNotLoaded(DomainError):
    code = "catalogue_not_loaded"
    kind = ErrorKind.CONFLICT


class BundleNotFound(DomainError):
    code = "bundle_not_found"
    kind = ErrorKind.NOT_FOUND


class BundleOfAnotherOperator(DomainError):
    code = "bundle_of_another_operator"


class BundleAlreadyActive(DomainError):
    code = "bundle_already_active"
    kind = ErrorKind.CONFLICT


# Ledger and history
class LedgerInvariantBroken(DomainError):
    code = "ledger_invariant_broken"


class TransactionNotFound(DomainError):
    code = "transaction_not_found"
    kind = ErrorKind.NOT_FOUND


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"


# Ports (number portability)
class PortNotFound(DomainError):
    code = "port_not_found"
    kind = ErrorKind.NOT_FOUND


# Access and idempotency
class ApiKeyMissing(DomainError):
    code = "api_key_missing"
    kind = ErrorKind.UNAUTHORISED


class ApiKeyInvalid(DomainError):
    code = "api_key_invalid"
    kind = ErrorKind.UNAUTHORISED


class RoleForbidden(DomainError):
    code = "forbidden"
    kind = ErrorKind.FORBIDDEN


class IdempotencyKeyMissing(InvalidInput):
    code = "idempotency_key_missing"


class IdempotencyKeyInvalid(InvalidInput):
    code = "idempotency_key_invalid"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    kind = ErrorKind.CONFLICT


class ApiKeyNotFound(DomainError):
    code = "api_key_not_found"
    kind = ErrorKind.NOT_FOUND


class ReceiptNotFound(DomainError):
    code = "receipt_not_found"
    kind = ErrorKind.NOT_FOUND
