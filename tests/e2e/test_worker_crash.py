"""kill -9 the worker in the middle of its work, twice (among the renewals, then among the auto-recharges), and
once more while it sends notifications; after `topup worker --once` every line has been renewed once and
auto-recharged once, the sandbox acquirer captured exactly one payment per auto-recharge, for its amount, and
every notification those events owed exists once and was sent.

Real processes: the `topup` server (with the sandbox card acquirer mounted, no worker inside) on a loopback
port, the looping `topup worker` that is killed, the CLI for the database, the catalogue, the key and the
checks, an SQLite database and the sandbox's own database in a temporary folder. The lines are set up over the
server's API (one CLI process per call would take minutes for this many lines).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAMPLE_CATALOGUE
from tests.e2e.serving import TOPUP, cli, served_environment, start_server
from topup.domain.calendar import BAKU

pytestmark = pytest.mark.e2e

LINES = 30
# An auto-renewing bundle of each operator in the sample catalogue, and its price in qəpik.
RENEWING = {"50": ("azercell-10gb-30d", 1500), "55": ("bakcell-5gb-30d", 800), "70": ("nar-7gb-30d", 1000)}
AUTO_RECHARGE_QEPIK = 500
VISA = {"number": "4242 4242 4242 4242", "expiry_month": 12, "expiry_year": 2030, "cvc": "123"}
KILL_DEADLINE_SECONDS = 60.0
POLL_SECONDS = 0.002
OWED = ("auto_recharge_done", "renewal_done", "topup_done")  # what each line must be told, once each


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return served_environment(
        tmp_path,
        TOPUP_WORKER_IN_PROCESS="false",  # the only worker is the one this test starts and kills
        TOPUP_NOTIFICATION_LEASE_SECONDS="0",  # a dead worker's leased notifications are taken over at once
        TOPUP_ORDER_CREATED_GRACE_SECONDS="0",
        TOPUP_ORDER_CHECK_DELAYS_SECONDS="[0]",
        TOPUP_ORDER_CARD_DAILY_COUNT_MAX="1000",  # every line saves the same card: its daily limit is not tested here
    )


def money(qepik: int) -> str:
    return f"{qepik // 100}.{qepik % 100:02d}"


def numbers() -> list[str]:
    prefixes = sorted(RENEWING)
    return [f"+994{prefixes[i % len(prefixes)]}{6100000 + i:07d}" for i in range(LINES)]


def set_up_lines(base: str, key: str) -> None:
    """Each line: funded with three times its bundle's price, the bundle bought (so one renewal leaves the price
    on the line, and a second renewal would show), a card saved, and a threshold auto-recharge set above the
    balance, so that it is due at once."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:

        def post(path: str, body: dict[str, object]) -> dict[str, object]:
            response = api.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
            assert response.status_code == 201, response.text
            answer: dict[str, object] = response.json()
            return answer

        for number in numbers():
            code, price_qepik = RENEWING[number[4:6]]
            post("/v1/lines", {"msisdn": number})
            post("/v1/topups", {"msisdn": number, "amount": money(3 * price_qepik)})
            post(f"/v1/lines/{number}/bundles", {"bundle": code})
            card = post(f"/v1/lines/{number}/payment-methods", {"card": VISA})
            rule = api.put(
                f"/v1/lines/{number}/auto-recharge/threshold",
                json={
                    "threshold": money(2 * price_qepik + 100),  # the balance is twice the price
                    "amount": money(AUTO_RECHARGE_QEPIK),
                    "monthly_max": 3,
                    "payment_method_id": card["id"],
                },
            )
            assert rule.status_code == 200, rule.text
            assert rule.json()["next_run_at"] is not None  # due at once


def move_bundles_into_the_past(database: Path) -> None:
    """The worker reads the system clock, so instead of moving the clock forward, the bundles' end is moved back.
    Only the buckets' `expires_at` changes (to a minute ago, in the schema's naive-UTC text form): the ledger,
    its transfers and every balance are untouched."""
    ended = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with closing(sqlite3.connect(database)) as connection, connection:
        moved = connection.execute("UPDATE accounts SET expires_at = ? WHERE kind = 'bucket'", (ended,)).rowcount
    assert moved == LINES  # one data bucket per bundle


def read_only(database: Path | str) -> closing[sqlite3.Connection]:
    """A connection that cannot write (the worker's database is only looked at), closed after use."""
    return closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5))


def scalar(database: Path, query: str) -> int:
    with read_only(database) as connection:
        return int(connection.execute(query).fetchone()[0])


def kill_when(worker: subprocess.Popen[bytes], database: Path, what: str, progress: Callable[[], bool]) -> None:
    """SIGKILL the worker as soon as `progress()` says it is in the middle of `what` (bounded polling)."""
    deadline = time.monotonic() + KILL_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            if progress():
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=30)
                return
        except sqlite3.OperationalError:  # the worker holds a lock the reader needs (it checkpoints): look again
            pass
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}) before it was caught in the middle of {what}")
        time.sleep(POLL_SECONDS)  # polling, bounded by the deadline
    pytest.fail(f"the worker was not caught in the middle of {what}: make the batch bigger")


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for worker in started:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=30)


def start_worker(environment: dict[str, str], workers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    worker = subprocess.Popen([TOPUP, "worker"], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers.append(worker)
    return worker


def test_a_worker_killed_mid_batch_renews_once_recharges_once_and_loses_no_notification(
    environment: dict[str, str],
    tmp_path: Path,
    servers: list[subprocess.Popen[bytes]],
    workers: list[subprocess.Popen[bytes]],
) -> None:
    database = tmp_path / "topup.db"
    cli(environment, "db", "upgrade")
    cli(environment, "catalogue", "load", str(SAMPLE_CATALOGUE))
    key = cli(environment, "api-keys", "create", "--role", "admin", "--name", "x").strip().splitlines()[-1]
    servers.append(start_server(environment))
    set_up_lines(environment["TOPUP_PUBLIC_BASE_URL"], key)
    move_bundles_into_the_past(database)

    renewed = "SELECT COUNT(*) FROM bundle_renewals WHERE state = 'renewed'"
    started_runs = "SELECT COUNT(*) FROM orders WHERE auto_recharge_id IS NOT NULL"
    fulfilled_runs = "SELECT COUNT(*) FROM orders WHERE auto_recharge_id IS NOT NULL AND state = 'fulfilled'"
    sent = "SELECT COUNT(*) FROM notifications WHERE sent_at IS NOT NULL"
    kill_when(
        start_worker(environment, workers),
        database,
        "the renewals",
        lambda: 3 <= scalar(database, renewed) < LINES,
    )
    kill_when(
        start_worker(environment, workers),
        database,
        "the auto-recharges",
        lambda: scalar(database, started_runs) >= 3 and scalar(database, fulfilled_runs) < LINES,
    )
    kill_when(
        start_worker(environment, workers),
        database,
        "the notifications",
        lambda: 3 <= scalar(database, sent) < len(OWED) * LINES,
    )
    cli(environment, "worker", "--once")
    cli(environment, "worker", "--once")  # nothing is left for a second pass to do twice

    with read_only(database) as connection:
        renewals = connection.execute(
            "SELECT msisdn, state, renewed_transaction_id, source_transaction_id FROM bundle_renewals ORDER BY msisdn"
        ).fetchall()
        renewal_purchases = connection.execute(
            "SELECT msisdn, id FROM ledger_transactions WHERE kind = 'bundle_purchase' AND channel = 'auto'"
        ).fetchall()
        runs = connection.execute(
            "SELECT msisdn, id, state, amount_qepik, charge_minor FROM orders WHERE auto_recharge_id IS NOT NULL"
        ).fetchall()
        all_orders = connection.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        rules = connection.execute(
            "SELECT state, due_at, in_flight_order_id, last_outcome, last_order_id FROM auto_recharges"
        ).fetchall()
        told = connection.execute("SELECT msisdn, kind, dedupe_key, sent_at FROM notifications").fetchall()
        balances = dict(
            connection.execute(
                "SELECT l.msisdn, a.balance FROM lines l JOIN accounts a ON a.id = l.main_account_id"
            ).fetchall()
        )
    with read_only(environment["TOPUP_SANDBOX_DATABASE_PATH"]) as sandbox:
        payments = sandbox.execute(
            "SELECT reference, status, amount, captured_amount, refunded_amount FROM payments"
        ).fetchall()

    lines = numbers()
    # No double renewal: one renewal per line, renewed once, by one purchase.
    assert [(msisdn, state) for msisdn, state, _, _ in renewals] == [(number, "renewed") for number in sorted(lines)]
    assert sorted(renewal_purchases) == sorted((msisdn, purchase) for msisdn, _, purchase, _ in renewals)
    # No double auto-recharge, and no charge without delivery: one fulfilled order per line, one captured
    # payment per order at the acquirer, for the order's amount.
    assert sorted((msisdn, state, amount) for msisdn, _, state, amount, _ in runs) == sorted(
        (number, "fulfilled", AUTO_RECHARGE_QEPIK) for number in lines
    )
    assert all_orders == LINES
    assert sorted(rules) == sorted(("active", None, None, "fulfilled", order_id) for _, order_id, *_ in runs)
    assert sorted(payments) == sorted((order_id, "captured", charge, charge, 0) for _, order_id, _, _, charge in runs)
    # The money says the same: three prices in, two bundles out, one auto-recharge in.
    assert balances == {number: RENEWING[number[4:6]][1] + AUTO_RECHARGE_QEPIK for number in lines}
    # No lost notification, none twice in the outbox: what each line was owed, once, all sent.
    assert Counter((msisdn, kind) for msisdn, kind, _, _ in told) == Counter(
        (number, kind) for number in lines for kind in OWED
    )
    assert [row for row in told if row[3] is None] == []
    # Each told about its own event: the run's order, the expired purchase that was renewed.
    assert sorted(dedupe for _, kind, dedupe, _ in told if kind == "auto_recharge_done") == sorted(
        f"auto_recharge_done:{order_id}" for _, order_id, *_ in runs
    )
    assert sorted(dedupe for _, kind, dedupe, _ in told if kind == "renewal_done") == sorted(
        f"renewal_done:{source}" for *_, source in renewals
    )

    ledger = json.loads(cli(environment, "ledger", "check", "--json"))
    assert ledger["ok"] is True
    baku_today = datetime.now(BAKU).date().isoformat()
    report = json.loads(cli(environment, "reconcile", "--date", baku_today, "--json"))  # exit 0: no mismatch
    assert (report["ok"], report["orders"], report["mismatches"]) == (True, LINES, [])
