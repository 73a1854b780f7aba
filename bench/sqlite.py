"""SQLite: top-ups through the service layer next to a raw `sqlite3` transaction of the same shape.

Both run on fresh files with the same schema (the migrations), the same bulk-provisioned lines and the same
pragmas as the engine (WAL, synchronous=FULL, foreign keys on), one writer at a time: SQLite serialises
writers, and BEGIN IMMEDIATE makes them queue rather than fail.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.provision import number_for, provision_sqlite, sqlite_timestamp
from bench.report import latency_summary
from bench.service_load import AMOUNT_QEPIK, OPERATIONS_MAX_PER_WORKER, run_single

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "src" / "topup" / "data" / "catalogue.toml"
VALIDITY_DAYS = 30  # what a 5.00 AZN Azercell top-up adds


def _prepare(path: Path, line_count: int) -> str:
    """Migrate a fresh file, load the catalogue through the service, bulk-provision the lines."""
    from topup.bootstrap import bootstrap
    from topup.config import Settings
    from topup.services import catalogue

    url = f"sqlite:///{path}"
    application = bootstrap(Settings(database_url=url))
    try:
        application.migrate()
        catalogue.load_catalogue(
            application.uow(), application.clock, source=CATALOGUE_PATH.read_text(encoding="utf-8")
        )
    finally:
        application.close()
    provision_sqlite(str(path), 0, line_count)
    return url


def _raw_connection(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _raw_transaction(connection: sqlite3.Connection, funding_id: int, msisdn: str) -> None:
    """The statements `topups.top_up` issues, in its order, written by hand."""
    now = datetime.now(UTC)
    stamp = sqlite_timestamp(now)
    transaction_id = uuid.uuid4().hex
    connection.execute("BEGIN IMMEDIATE")
    try:
        line = connection.execute(
            "SELECT msisdn, operator, type, status, language, main_account_id, iccid, valid_until "
            "FROM lines WHERE msisdn = ?",
            (msisdn,),
        ).fetchone()
        account_id, valid_until = line[5], line[7]
        today = now.date()
        start = max(date.fromisoformat(valid_until), today) if valid_until else today
        new_valid_until = (start + timedelta(days=VALIDITY_DAYS)).isoformat()
        connection.execute(
            "INSERT INTO transfers (transaction_id, debit_account_id, credit_account_id, amount, unit, msisdn, "
            "created_at) VALUES (?, ?, ?, ?, 'qepik', ?, ?)",
            (transaction_id, funding_id, account_id, AMOUNT_QEPIK, msisdn, stamp),
        )
        (balance,) = connection.execute(
            "UPDATE accounts SET balance = balance + ? WHERE id = ? AND tracks_balance AND balance + ? >= 0 "
            "RETURNING balance",
            (AMOUNT_QEPIK, account_id, AMOUNT_QEPIK),
        ).fetchone()
        connection.execute(
            "UPDATE lines SET valid_until = ?, updated_at = ? WHERE msisdn = ?", (new_valid_until, stamp, msisdn)
        )
        connection.execute(
            "INSERT INTO ledger_transactions (id, msisdn, operator, kind, channel, amount_qepik, vat_qepik, "
            "balance_after_qepik, valid_until, bundle_code, bundle_expires_at, created_at, verification_code) "
            "VALUES (?, ?, ?, 'topup', 'api', ?, ?, ?, ?, NULL, NULL, ?, ?)",
            (
                transaction_id,
                msisdn,
                line[1],
                AMOUNT_QEPIK,
                AMOUNT_QEPIK * 18 // 118,
                balance,
                new_valid_until,
                stamp,
                transaction_id[:16],
            ),
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def run_raw(path: Path, *, line_count: int, seconds: float) -> dict[str, Any]:
    connection = _raw_connection(path)
    try:
        connection.execute(
            "INSERT INTO accounts (code, kind, unit, balance, tracks_balance, initial, created_at) "
            "VALUES ('funding:azercell:api', 'system', 'qepik', 0, 0, 0, ?)",
            (sqlite_timestamp(datetime.now(UTC)),),
        )
        (funding_id,) = connection.execute("SELECT id FROM accounts WHERE code = 'funding:azercell:api'").fetchone()
        rng = random.Random(12)
        _raw_transaction(connection, funding_id, number_for(rng.randrange(line_count)))  # warm up
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        for _ in range(OPERATIONS_MAX_PER_WORKER):
            started = time.perf_counter()
            if started >= deadline:
                break
            _raw_transaction(connection, funding_id, number_for(rng.randrange(line_count)))
            latencies.append(time.perf_counter() - started)
    finally:
        connection.close()
    return {
        "mode": "single",
        "seconds": seconds,
        "transactions": len(latencies),
        "transactions_per_second": len(latencies) / seconds,
        "latency": latency_summary(latencies),
    }


def run_sqlite(work_dir: Path, *, line_count: int, seconds: float) -> dict[str, Any]:
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    try:
        service_url = _prepare(work_dir / "service.db", line_count)
        raw_path = work_dir / "raw.db"
        _prepare(raw_path, line_count)
        raw = run_raw(raw_path, line_count=line_count, seconds=seconds)
        service = run_single(service_url, line_count=line_count, seconds=seconds)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return {
        "directory": str(work_dir),
        "sqlite_version": sqlite3.sqlite_version,
        "line_count": line_count,
        "raw": raw,
        "service": service,
        "ratio": service["top_ups_per_second"] / raw["transactions_per_second"]
        if raw["transactions_per_second"]
        else None,
    }
