"""The ledger in SQL: accounts, transfers, guarded balance increments, and the audit."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, text, update

from topup.adapters.db import posting_statement
from topup.adapters.db.handle import ConnectionHandle, dialect_insert
from topup.adapters.db.tables import accounts, ledger_transactions, transfers
from topup.adapters.db.transaction_repository import record_row
from topup.domain.errors import InsufficientBalance
from topup.domain.history import TransactionRecord
from topup.domain.ledger import AccountKind, AccountState, Bucket, Transfer, Unit
from topup.domain.numbers import Msisdn
from topup.services.ports import BucketView, Clock, LedgerAudit, UnitTotals

MISMATCHES_SHOWN_MAX = 100


class SystemAccountCache:
    """code -> (id, unit) of system accounts, shared by a process. Entries are added only after the
    transaction that created or read them committed, so a rolled-back account is never remembered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_code: dict[str, tuple[int, Unit]] = {}
        self._by_id: dict[int, Unit] = {}

    def get(self, code: str) -> tuple[int, Unit] | None:
        return self._by_code.get(code)

    def unit_of(self, account_id: int) -> Unit | None:
        return self._by_id.get(account_id)

    def publish(self, entries: dict[str, tuple[int, Unit]]) -> None:
        with self._lock:
            self._by_code.update(entries)
            self._by_id.update(dict(entries.values()))


class SqlLedger:
    def __init__(
        self,
        handle: ConnectionHandle,
        cache: SystemAccountCache,
        clock: Clock,
        known_states: dict[int, AccountState],
    ) -> None:
        self._handle = handle
        self._cache = cache
        self._clock = clock
        self._known_states = known_states  # accounts already read in this unit of work (see the line repository)
        self.pending_system_accounts: dict[str, tuple[int, Unit]] = {}

    def open_account(
        self,
        *,
        kind: AccountKind,
        unit: Unit,
        msisdn: Msisdn | None,
        now: datetime,
        expires_at: datetime | None = None,
        bundle_code: str | None = None,
        transaction_id: str | None = None,
        initial: int = 0,
    ) -> int:
        result = self._handle.connection.execute(
            insert(accounts)
            .values(
                kind=kind.value,
                unit=unit.value,
                msisdn=msisdn.e164 if msisdn else None,
                balance=0,
                tracks_balance=kind is not AccountKind.SYSTEM,
                initial=initial,
                expires_at=expires_at,
                bundle_code=bundle_code,
                transaction_id=transaction_id,
                created_at=now,
            )
            .returning(accounts.c.id)
        )
        return int(result.scalar_one())

    def system_account(self, code: str, unit: Unit) -> int:
        known = self._cache.get(code) or self.pending_system_accounts.get(code)
        if known is None:
            connection = self._handle.connection
            connection.execute(
                dialect_insert(self._handle, accounts)
                .values(
                    code=code,
                    kind=AccountKind.SYSTEM.value,
                    unit=unit.value,
                    balance=0,
                    tracks_balance=False,
                    created_at=self._clock.now(),
                )
                .on_conflict_do_nothing(index_elements=[accounts.c.code])
            )
            row = connection.execute(select(accounts.c.id, accounts.c.unit).where(accounts.c.code == code)).one()
            known = (int(row.id), Unit(row.unit))
            self.pending_system_accounts[code] = known
        if known[1] is not unit:
            raise ValueError(f"system account {code} holds {known[1]}, not {unit}")
        return known[0]

    def states(self, account_ids: Sequence[int]) -> dict[int, AccountState]:
        found: dict[int, AccountState] = {}
        to_read = []
        pending = dict(self.pending_system_accounts.values())
        for account_id in account_ids:
            unit = self._cache.unit_of(account_id) or pending.get(account_id)
            known = self._known_states.get(account_id)
            if unit is not None:
                found[account_id] = AccountState(account_id, unit, 0, tracks_balance=False)
            elif known is not None:
                found[account_id] = known
            else:
                to_read.append(account_id)
        if to_read:
            rows = self._handle.connection.execute(
                select(accounts.c.id, accounts.c.unit, accounts.c.balance, accounts.c.tracks_balance).where(
                    accounts.c.id.in_(to_read)
                )
            )
            for row in rows:
                found[row.id] = AccountState(row.id, Unit(row.unit), row.balance, bool(row.tracks_balance))
        return found

    def post(self, record: TransactionRecord, transfer_list: Sequence[Transfer]) -> dict[int, int]:
        return self._post(record, record.id, record.msisdn, record.created_at, transfer_list)

    def post_movement(
        self, transaction_id: str, transfer_list: Sequence[Transfer], *, msisdn: str | None, created_at: datetime
    ) -> dict[int, int]:
        return self._post(None, transaction_id, msisdn, created_at, transfer_list)

    def _post(
        self,
        record: TransactionRecord | None,
        transaction_id: str,
        msisdn: str | None,
        created_at: datetime,
        transfer_list: Sequence[Transfer],
    ) -> dict[int, int]:
        changes: dict[int, int] = {}
        for t in transfer_list:
            changes[t.debit_account_id] = changes.get(t.debit_account_id, 0) - t.amount
            changes[t.credit_account_id] = changes.get(t.credit_account_id, 0) + t.amount
        # System accounts keep no running balance: no hot row. Whether an account tracks one comes from the
        # process cache or the unit of work when known, else from the database (a reversal names accounts it
        # read from old transfers). Fixed order (ascending id) against deadlocks.
        states = self.states(sorted(changes))
        tracked = sorted(
            (account_id, change) for account_id, change in changes.items() if states[account_id].tracks_balance
        )
        transfer_rows = [
            {
                "transaction_id": transaction_id,
                "debit_account_id": t.debit_account_id,
                "credit_account_id": t.credit_account_id,
                "amount": t.amount,
                "unit": t.unit.value,
                "msisdn": msisdn,
                "created_at": created_at,
            }
            for t in transfer_list
        ]
        record_values = None if record is None else record_row(record)
        if self._handle.dialect == "postgresql":
            new_balances = posting_statement.post_in_one_round_trip(
                self._handle.connection, record_values, transfer_rows, tracked
            )
        else:
            new_balances = self._post_statement_by_statement(record_values, transfer_rows, tracked)
        for account_id, _ in tracked:
            if account_id not in new_balances:
                raise InsufficientBalance("The balance is too low for this.", account_id=account_id)
            known = self._known_states.get(account_id)
            if known is not None:
                self._known_states[account_id] = AccountState(account_id, known.unit, new_balances[account_id], True)
        return new_balances

    def _post_statement_by_statement(
        self, record: dict[str, Any] | None, transfer_rows: list[dict[str, Any]], tracked: list[tuple[int, int]]
    ) -> dict[int, int]:
        connection = self._handle.connection
        if record is not None:
            connection.execute(insert(ledger_transactions), [record])
        connection.execute(insert(transfers), transfer_rows)
        new_balances: dict[int, int] = {}
        for account_id, change in tracked:
            balance = connection.execute(
                update(accounts)
                .where(
                    and_(
                        accounts.c.id == account_id,
                        accounts.c.tracks_balance,
                        accounts.c.balance + change >= 0,
                    )
                )
                .values(balance=accounts.c.balance + change)
                .returning(accounts.c.balance)
            ).scalar_one_or_none()
            if balance is None:
                raise InsufficientBalance("The balance is too low for this.", account_id=account_id)
            new_balances[account_id] = int(balance)
        return new_balances

    def transfers_of(self, transaction_id: str) -> list[Transfer]:
        rows = self._handle.connection.execute(
            select(transfers.c.debit_account_id, transfers.c.credit_account_id, transfers.c.amount, transfers.c.unit)
            .where(transfers.c.transaction_id == transaction_id)
            .order_by(transfers.c.id)
        )
        return [Transfer(r.debit_account_id, r.credit_account_id, r.amount, Unit(r.unit)) for r in rows]

    def buckets(self, msisdn: Msisdn, *, now: datetime, include_empty: bool = False) -> list[BucketView]:
        rows = self._handle.connection.execute(
            select(accounts)
            .where(
                accounts.c.msisdn == msisdn.e164,
                accounts.c.kind == AccountKind.BUCKET.value,
                accounts.c.expires_at > now,
                accounts.c.balance >= (0 if include_empty else 1),
            )
            .order_by(accounts.c.expires_at, accounts.c.id)
        )
        return [
            BucketView(
                bucket=Bucket(row.id, Unit(row.unit), row.balance, row.expires_at),
                bundle_code=row.bundle_code,
                transaction_id=row.transaction_id,
                initial=row.initial,
            )
            for row in rows
        ]

    def audit(self) -> LedgerAudit:
        connection = self._handle.connection
        debits: dict[str, int] = dict(
            connection.execute(
                text(
                    "SELECT a.unit, SUM(t.amount) FROM transfers t "
                    "JOIN accounts a ON a.id = t.debit_account_id GROUP BY a.unit"
                )
            ).all()
        )
        credit_rows = connection.execute(
            text(
                "SELECT a.unit, SUM(t.amount), COUNT(*) FROM transfers t "
                "JOIN accounts a ON a.id = t.credit_account_id GROUP BY a.unit"
            )
        ).all()
        credits = {unit: (int(total), int(count)) for unit, total, count in credit_rows}
        totals = [UnitTotals(unit, int(debits.get(unit.value, 0)), *credits.get(unit.value, (0, 0))) for unit in Unit]
        unit_mismatches = connection.execute(
            text(
                "SELECT COUNT(*) FROM transfers t "
                "JOIN accounts d ON d.id = t.debit_account_id JOIN accounts c ON c.id = t.credit_account_id "
                "WHERE t.unit <> d.unit OR t.unit <> c.unit"
            )
        ).scalar_one()
        mismatches = connection.execute(
            text(
                "WITH c AS (SELECT credit_account_id AS id, SUM(amount) AS s FROM transfers "
                "GROUP BY credit_account_id), "
                "d AS (SELECT debit_account_id AS id, SUM(amount) AS s FROM transfers GROUP BY debit_account_id) "
                "SELECT a.id, a.balance, COALESCE(c.s, 0) - COALESCE(d.s, 0) AS derived FROM accounts a "
                "LEFT JOIN c ON c.id = a.id LEFT JOIN d ON d.id = a.id "
                "WHERE a.tracks_balance AND a.balance <> COALESCE(c.s, 0) - COALESCE(d.s, 0) "
                "ORDER BY a.id LIMIT :limit"
            ),
            {"limit": MISMATCHES_SHOWN_MAX},
        ).all()
        negatives = connection.execute(text("SELECT COUNT(*) FROM accounts WHERE balance < 0")).scalar_one()
        account_count = connection.execute(text("SELECT COUNT(*) FROM accounts")).scalar_one()
        return LedgerAudit(
            totals=totals,
            balance_mismatches=[(int(a), int(b), int(c)) for a, b, c in mismatches],
            unit_mismatches=int(unit_mismatches),
            negative_balances=int(negatives),
            accounts=int(account_count),
        )
