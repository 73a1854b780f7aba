"""Orders paid by the sandbox card acquirer without a challenge, end to end through the HTTP API (issue 3).

`topup serve` runs with the sandbox acquirer mounted under /sandbox/card and TOPUP_PUBLIC_BASE_URL pointing at
the same server, so each order's saga (authorise, deliver through the ledger, capture) makes its acquirer calls
over HTTP to that server. The sandbox keeps its payments in a fresh SQLite file under bench/results/. The daily
order limits are raised out of the way: every order pays with the same card, which would hit them at once.
The in-process recovery worker is left on, as `topup serve` runs by default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.api import run_load
from bench.report import RESULTS_DIR
from bench.server import HOST, free_port

SANDBOX_DATABASE = RESULTS_DIR / "orders-sandbox-card.db"
COUNT_MAX = "1000000000"
AMOUNT_MAX = "1000000.00"  # the largest amount the app parses (AMOUNT_MAX_QEPIK)
WORKER_IN_PROCESS = True


def orders_env(env: dict[str, str], port: int) -> dict[str, str]:
    """The environment of a server whose saga pays at its own sandbox, with the order limits out of the way."""
    settings = {
        "TOPUP_SANDBOX_ENABLED": "true",
        "TOPUP_SANDBOX_DATABASE_PATH": str(SANDBOX_DATABASE),
        "TOPUP_PUBLIC_BASE_URL": f"http://{HOST}:{port}",
        "TOPUP_WORKER_IN_PROCESS": "true" if WORKER_IN_PROCESS else "false",
        "TOPUP_ORDER_NUMBER_DAILY_COUNT_MAX": COUNT_MAX,
        "TOPUP_ORDER_NUMBER_DAILY_AMOUNT_MAX": AMOUNT_MAX,
        "TOPUP_ORDER_CARD_DAILY_COUNT_MAX": COUNT_MAX,
        "TOPUP_ORDER_CARD_DAILY_AMOUNT_MAX": AMOUNT_MAX,
    }
    merged = {**env, **settings}
    merged.pop("TOPUP_CARD_ACQUIRER_URL", None)  # the sandbox, never an acquirer named in the caller's shell
    return merged


def _remove_sandbox_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def run_orders(
    env: dict[str, str],
    *,
    line_count: int,
    clients: int,
    seconds: float,
    warmup_seconds: float,
    server_workers: int,
    log_path: Path,
) -> dict[str, Any]:
    _remove_sandbox_database(SANDBOX_DATABASE)
    port = free_port()
    server_env = orders_env(env, port)
    result = run_load(
        server_env,
        kind="orders",
        line_count=line_count,
        clients=clients,
        seconds=seconds,
        warmup_seconds=warmup_seconds,
        server_workers=server_workers,
        log_path=log_path,
        port=port,
    )
    result["settings"] = {
        name: value
        for name, value in server_env.items()
        if name.startswith(("TOPUP_SANDBOX_", "TOPUP_ORDER_", "TOPUP_PUBLIC_BASE_URL", "TOPUP_WORKER_"))
    }
    result["worker_in_process"] = WORKER_IN_PROCESS
    return result
