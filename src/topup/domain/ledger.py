"""Double-entry ledger rules. Every change of any balance is a set of transfers posted together.

A transfer moves `amount` of one unit from the debit account to the credit account. Subscriber accounts
(main balance, bundle buckets) track a running balance that must never go negative. System accounts
(funding, revenue, VAT, allowances issued) do not: their balance is derived from the transfers when asked,
so no single row is updated by every top-up (no hot row).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from topup.domain.errors import InsufficientBalance, LedgerInvariantBroken


class Unit(StrEnum):
    QEPIK = "qepik"  # money, AZN
    DATA_KB = "data_kb"
    VOICE_SECONDS = "voice_seconds"
    SMS = "sms"


class AccountKind(StrEnum):
    MAIN = "main"  # a line's money balance
    BUCKET = "bucket"  # one allowance of one bundle purchase, with its own expiry
    SYSTEM = "system"  # the platform's side of every transfer
    AGENT = "agent"  # a retail agent's float, credit or commission: tracked, never below zero


class TransactionKind(StrEnum):
    TOPUP = "topup"
    BUNDLE_PURCHASE = "bundle_purchase"
    REVERSAL = "reversal"  # undoes another transaction exactly (a refunded order's delivery)
    RESERVATION = "reservation"  # units held for a charging session (not shown in a line's history)
    USAGE = "usage"  # the end of a charging session: what was used is charged, the rest released
    EXPIRY = "expiry"  # what was left of expired bundles leaves the line
    BREAKAGE = "breakage"  # money left on a line past its usage period and grace goes to the operator


@dataclass(frozen=True, slots=True)
class AccountState:
    """What a posting needs to know about an account it touches."""

    account_id: int
    unit: Unit
    balance: int
    tracks_balance: bool


@dataclass(frozen=True, slots=True)
class Transfer:
    debit_account_id: int
    credit_account_id: int
    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise LedgerInvariantBroken("A transfer moves a positive amount.", amount=self.amount)
        if self.debit_account_id == self.credit_account_id:
            raise LedgerInvariantBroken("A transfer needs two different accounts.")


def balance_changes(transfers: Iterable[Transfer]) -> dict[int, int]:
    """Net change per account: credits add, debits subtract."""
    changes: dict[int, int] = {}
    for transfer in transfers:
        changes[transfer.debit_account_id] = changes.get(transfer.debit_account_id, 0) - transfer.amount
        changes[transfer.credit_account_id] = changes.get(transfer.credit_account_id, 0) + transfer.amount
    return changes


def check_posting(transfers: Sequence[Transfer], accounts: Mapping[int, AccountState]) -> dict[int, int]:
    """Refuse a posting that mixes units or would take a tracked balance below zero.

    Returns the new balance of every tracked account the posting touches.
    """
    if not transfers:
        raise LedgerInvariantBroken("A posting has at least one transfer.")
    for transfer in transfers:
        for account_id in (transfer.debit_account_id, transfer.credit_account_id):
            account = accounts.get(account_id)
            if account is None:
                raise LedgerInvariantBroken("A transfer names an unknown account.", account_id=account_id)
            if account.unit is not transfer.unit:
                raise LedgerInvariantBroken(
                    "A transfer's unit must be the unit of both its accounts.",
                    account_id=account_id,
                    account_unit=account.unit.value,
                    transfer_unit=transfer.unit.value,
                )
    new_balances: dict[int, int] = {}
    for account_id, change in balance_changes(transfers).items():
        account = accounts[account_id]
        if not account.tracks_balance:
            continue
        new_balance = account.balance + change
        if new_balance < 0:
            raise InsufficientBalance(
                "The balance is too low for this.",
                unit=account.unit.value,
                balance=account.balance,
                needed=-change,
            )
        new_balances[account_id] = new_balance
    return new_balances


@dataclass(frozen=True, slots=True)
class Bucket:
    account_id: int
    unit: Unit
    balance: int
    expires_at: datetime


def draw_from_buckets(
    buckets: Iterable[Bucket], unit: Unit, amount: int, *, now: datetime
) -> tuple[list[tuple[Bucket, int]], int]:
    """Take `amount` from live buckets of `unit`, earliest expiry first.

    Returns what to take from each bucket and the remainder the buckets could not cover (which the caller
    charges from the main balance at the tariff, or refuses).
    """
    if amount < 0:
        raise LedgerInvariantBroken("Cannot draw a negative amount.", amount=amount)
    live = sorted(
        (b for b in buckets if b.unit is unit and b.balance > 0 and b.expires_at > now),
        key=lambda b: (b.expires_at, b.account_id),
    )
    draws: list[tuple[Bucket, int]] = []
    remaining = amount
    for bucket in live:
        if remaining == 0:
            break
        take = min(bucket.balance, remaining)
        draws.append((bucket, take))
        remaining -= take
    return draws, remaining


def reversed_transfers(transfers: Iterable[Transfer]) -> list[Transfer]:
    """The transfers that undo `transfers` exactly: every debit becomes a credit of the same amount."""
    return [Transfer(t.credit_account_id, t.debit_account_id, t.amount, t.unit) for t in transfers]
