"""Retail agents — shops, supermarkets, post offices, bank branches, street vendors, operator stores — and the
self-service cash kiosks (an agent of kind `kiosk`): they take cash from customers and top up lines for them.

Money, in the ledger:
- An agent's **float** is money it prepaid (recorded by staff after, say, a bank transfer). A sale takes its
  value from the float and credits the customer's line.
- An optional **credit line**: staff grant a credit limit, held in the agent's **credit** account; a sale the
  float cannot cover draws the rest from credit. A deposit first pays back credit used, then fills the float.
  Neither account can go below zero (the ledger's guarded increments), so an agent can never sell more than
  its float plus its credit — also when two of its tills sell at once.
- **Commission** per agent kind and operator (basis points of the sale) is credited to the agent's
  **commission** account with each sale, and paid out by staff.
- A kiosk keeps no float: the customer's cash is in the kiosk's box. Its sales are funded by the platform's
  kiosk funding account; the kiosk's fee, shown before the customer confirms, is withheld from the amount
  credited and is the kiosk's commission. Encashment (collecting the box) is reported against what the kiosk
  took.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from topup.domain.errors import DomainError, ErrorKind, InvalidInput
from topup.domain.money import BASIS_POINTS, parse_amount

NAME_LENGTH_MAX = 120
ADDRESS_LENGTH_MAX = 300
_LICENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/-]{2,39}")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")
PASSWORD_LENGTH_MIN = 10
PASSWORD_LENGTH_MAX = 200
COMMISSION_BASIS_POINTS_MAX = 2_000  # 20 %: anything above is a typo


class AgentKind(StrEnum):
    SHOP = "shop"
    SUPERMARKET = "supermarket"
    POST_OFFICE = "post_office"
    BANK_BRANCH = "bank_branch"
    STREET_VENDOR = "street_vendor"
    OPERATOR_STORE = "operator_store"
    KIOSK = "kiosk"


class AgentStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # may not sell until staff lift it
    CLOSED = "closed"


class AgentRole(StrEnum):
    CASHIER = "cashier"  # sells, prints receipts, sees the day's report
    MANAGER = "manager"  # also sees statements


class MovementKind(StrEnum):
    DEPOSIT = "deposit"  # money the agent paid in: first pays back credit used, then fills the float
    CREDIT_LIMIT = "credit_limit"  # staff changed the credit limit
    SALE = "sale"  # a top-up or bundle sold for a customer
    COMMISSION = "commission"  # earned on a sale
    COMMISSION_PAYOUT = "commission_payout"  # paid out by staff
    KIOSK_PAYMENT = "kiosk_payment"  # a customer's cash at a kiosk, forwarded to the server


class AgentNotFound(DomainError):
    code = "agent_not_found"
    kind = ErrorKind.NOT_FOUND


class AgentNotActive(DomainError):
    code = "agent_not_active"
    kind = ErrorKind.FORBIDDEN


class AgentExists(DomainError):
    code = "agent_exists"
    kind = ErrorKind.CONFLICT


class FloatInsufficient(DomainError):
    code = "float_insufficient"


class CreditLimitBelowUse(DomainError):
    code = "credit_limit_below_use"
    kind = ErrorKind.CONFLICT


class NotAKiosk(DomainError):
    code = "not_a_kiosk"
    kind = ErrorKind.FORBIDDEN


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    kind: AgentKind
    licence_number: str
    address: str
    verified: bool
    status: AgentStatus
    credit_limit_qepik: int
    float_account_id: int
    credit_account_id: int
    commission_account_id: int
    created_at: datetime
    updated_at: datetime

    def ensure_may_sell(self) -> None:
        if self.status is not AgentStatus.ACTIVE:
            raise AgentNotActive(f"This agent is {self.status.value} and may not sell.", status=self.status.value)
        if not self.verified:
            raise AgentNotActive("This agent is not verified yet and may not sell.", status="unverified")

    @property
    def is_kiosk(self) -> bool:
        return self.kind is AgentKind.KIOSK


@dataclass(frozen=True, slots=True)
class FloatPosition:
    """What an agent can sell with, and what it owes."""

    float_qepik: int
    credit_available_qepik: int
    credit_limit_qepik: int

    @property
    def credit_used_qepik(self) -> int:
        return self.credit_limit_qepik - self.credit_available_qepik

    @property
    def spendable_qepik(self) -> int:
        return self.float_qepik + self.credit_available_qepik

    def split_sale(self, amount_qepik: int) -> tuple[int, int]:
        """(from the float, from credit) for a sale of `amount_qepik`; refused beyond float plus credit."""
        if amount_qepik > self.spendable_qepik:
            raise FloatInsufficient(
                "The float and credit left are not enough for this sale.",
                spendable=self.spendable_qepik,
                needed=amount_qepik,
            )
        from_float = min(self.float_qepik, amount_qepik)
        return from_float, amount_qepik - from_float

    def split_deposit(self, amount_qepik: int) -> tuple[int, int]:
        """(repaying credit, into the float) for a deposit."""
        repay = min(self.credit_used_qepik, amount_qepik)
        return repay, amount_qepik - repay


def commission_of(amount_qepik: int, rate_basis_points: int) -> int:
    """Commission on a sale, rounded down to the qəpik (never more than the rate)."""
    return amount_qepik * rate_basis_points // BASIS_POINTS


def parse_percent(text: str) -> int:
    """ "2.50" (percent) -> 250 basis points; "0" is allowed (no commission)."""
    if text.strip() in ("0", "0.0", "0.00"):
        return 0
    return check_commission_rate(parse_amount(text.strip()))


def check_commission_rate(rate_basis_points: int) -> int:
    if not 0 <= rate_basis_points <= COMMISSION_BASIS_POINTS_MAX:
        raise InvalidInput("A commission is 0 to 20 percent.", field="rate")
    return rate_basis_points


def check_agent_fields(*, name: str, licence_number: str, address: str) -> tuple[str, str, str]:
    name, address, licence_number = name.strip(), address.strip(), licence_number.strip().upper()
    if not 1 <= len(name) <= NAME_LENGTH_MAX:
        raise InvalidInput(f"An agent's name is 1 to {NAME_LENGTH_MAX} characters.", field="name")
    if _LICENCE.fullmatch(licence_number) is None:
        raise InvalidInput("A licence number is 3 to 40 letters, digits, '/' or '-'.", field="licence_number")
    if not 1 <= len(address) <= ADDRESS_LENGTH_MAX:
        raise InvalidInput(f"An address is 1 to {ADDRESS_LENGTH_MAX} characters.", field="address")
    return name, licence_number, address


def check_username(username: str) -> str:
    username = username.strip().lower()
    if _USERNAME.fullmatch(username) is None:
        raise InvalidInput("A username is 3 to 32 lower-case letters, digits, '.', '_' or '-'.", field="username")
    return username


def check_password(password: str) -> str:
    if not PASSWORD_LENGTH_MIN <= len(password) <= PASSWORD_LENGTH_MAX:
        raise InvalidInput(
            f"A password is {PASSWORD_LENGTH_MIN} to {PASSWORD_LENGTH_MAX} characters.", field="password"
        )
    return password


@dataclass(frozen=True, slots=True)
class AgentUser:
    id: str
    agent_id: str
    username: str
    role: AgentRole
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Movement:
    """One line of an agent's statement."""

    id: str
    agent_id: str
    kind: MovementKind
    amount_qepik: int  # positive: money to the agent's side (deposit, commission); negative: a sale's value
    float_after_qepik: int
    credit_after_qepik: int
    commission_after_qepik: int
    created_at: datetime
    msisdn: str | None = None
    transaction_id: str | None = None  # the line's ledger transaction (a sale), if any
    operator: str | None = None
    product: str | None = None  # "topup" or the bundle's code
    user_id: str | None = None  # the till user who made it (or None: staff, the API)
    note: str | None = None
