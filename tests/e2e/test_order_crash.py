"""kill -9 the server during a burst of card orders: after a restart and a worker pass, every order is final
and the money captured at the acquirer equals the value delivered through the ledger, to the qəpik.

Real processes: the `topup` server (with the sandbox acquirer mounted) on a loopback port, the CLI for
set-up and the worker pass, an SQLite database and the sandbox's own database in a temporary folder.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE_CATALOGUE
from tests.e2e.serving import cli, served_environment, start_server
from topup.domain.calendar import BAKU

NUMBERS = ["+994501110001", "+994551110002", "+994701110003", "+994771110004"]
ORDERS = 40
KILL_AFTER = 8  # answered orders before the server is killed


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return served_environment(
        tmp_path,
        TOPUP_WORKER_IN_PROCESS="false",  # the test runs the worker itself, after the restart
        TOPUP_ORDER_CHECK_DELAYS_SECONDS="[0]",
        TOPUP_ORDER_CREATED_GRACE_SECONDS="0",
        TOPUP_ORDER_NUMBER_DAILY_COUNT_MAX="1000",  # the burst is one card on four numbers: no limit in the way
        TOPUP_ORDER_CARD_DAILY_COUNT_MAX="1000",
    )


@pytest.fixture
def admin_key(environment: dict[str, str]) -> str:
    cli(environment, "db", "upgrade")
    cli(environment, "catalogue", "load", str(SAMPLE_CATALOGUE))
    for number in NUMBERS:
        cli(environment, "lines", "add", number)
    return cli(environment, "api-keys", "create", "--role", "admin", "--name", "crash-test").strip().splitlines()[-1]


def test_a_killed_server_loses_no_money(
    environment: dict[str, str], admin_key: str, servers: list[subprocess.Popen[bytes]]
) -> None:
    base = environment["TOPUP_PUBLIC_BASE_URL"]
    server = start_server(environment)
    servers.append(server)
    headers = {"Authorization": f"Bearer {admin_key}"}
    answered: list[dict[str, Any]] = []
    lock = threading.Lock()
    killed = threading.Event()

    def place(index: int) -> None:
        body = {
            "msisdn": NUMBERS[index % len(NUMBERS)],
            "product": {"type": "topup", "amount": f"{1 + index % 7}.{index % 100:02d}"},
            "payment": {
                "method": "card",
                "card": {"number": "4242424242424242", "expiry_month": 12, "expiry_year": 2030, "cvc": "123"},
            },
        }
        try:
            response = httpx.post(
                f"{base}/v1/orders", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}, timeout=30
            )
        except httpx.TransportError:
            return  # the server died under this request: exactly the case under test
        with lock:
            answered.append(response.json())
            if len(answered) >= KILL_AFTER and not killed.is_set():
                killed.set()
                os.kill(server.pid, signal.SIGKILL)

    threads = [threading.Thread(target=place, args=(i,)) for i in range(ORDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert killed.is_set()
    server.wait(timeout=30)

    servers.append(start_server(environment))  # the restart: the sandbox's payments are on disk
    cli(environment, "worker", "--once")

    orders = httpx.get(f"{base}/v1/orders", params={"limit": 200}, headers=headers, timeout=30).json()["items"]
    assert len(orders) >= KILL_AFTER
    assert {order["status"] for order in orders} <= {"fulfilled", "failed"}
    assert all(order["failure"]["code"] == "payment_not_received" for order in orders if order["status"] == "failed")
    delivered_qepik = sum(int(o["price"]["amount"].replace(".", "")) for o in orders if o["status"] == "fulfilled")
    with sqlite3.connect(environment["TOPUP_SANDBOX_DATABASE_PATH"]) as sandbox:
        captured_qepik, refunded_qepik, held = sandbox.execute(
            "SELECT COALESCE(SUM(captured_amount), 0), COALESCE(SUM(refunded_amount), 0),"
            " COALESCE(SUM(CASE WHEN status = 'authorised' THEN amount ELSE 0 END), 0) FROM payments"
        ).fetchone()
    assert captured_qepik == delivered_qepik + refunded_qepik
    assert held == 0  # no money left on hold
    ledger = json.loads(cli(environment, "ledger", "check", "--json"))
    assert ledger["ok"] is True
    order_credits = sum(
        int(t["amount"].replace(".", ""))
        for number in NUMBERS
        for t in json.loads(cli(environment, "history", number, "--json", "--limit", "200"))["items"]
        if t["channel"] == "order"
    )
    assert order_credits == delivered_qepik
    baku_today = datetime.now(BAKU).date().isoformat()
    report = json.loads(cli(environment, "reconcile", "--date", baku_today, "--json"))  # exit 0: no mismatch
    assert (report["ok"], report["orders"], report["mismatches"]) == (True, len(orders), [])

    # Staff tools on the CLI: show, refund (the sandbox answers through the running server), reconcile again.
    fulfilled = next(order for order in orders if order["status"] == "fulfilled")
    assert json.loads(cli(environment, "orders", "show", fulfilled["id"], "--json"))["status"] == "fulfilled"
    listed = json.loads(cli(environment, "orders", "list", "--status", "fulfilled", "--limit", "200", "--json"))
    assert len(listed["items"]) == sum(order["status"] == "fulfilled" for order in orders)
    assert json.loads(cli(environment, "orders", "refund", fulfilled["id"], "--json"))["status"] == "refunded"
    report = json.loads(cli(environment, "reconcile", "--date", baku_today, "--json"))
    assert (report["ok"], report["refunded"]) == (True, {"AZN": fulfilled["price"]["amount"]})
