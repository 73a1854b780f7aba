"""Online charging through the HTTP API (issue 4): a data session reserved, then terminated, as one operation.

The bench's lines are bulk-provisioned with a balance of 0, and a session with nothing to reserve is refused
(`no_balance`). So the section first funds the lines it will use: the first `FUNDED_LINES_MAX` numbers (fewer
when the run has fewer lines) get a `FUNDING_AMOUNT_QEPIK` top-up each through the service layer
(`topups.top_up`, a ledger transfer like any other: never a balance written in SQL), from a few threads in
this process, before the server starts and so outside the measured window. Then `topup serve` runs as for
plain top-ups, and the same clients (`http_load.py --kind charging --lines N`) open and terminate sessions on
those lines only. A pair reserves 1,000 KB (about 0.10 AZN at the sample 0.10 AZN/MB) and charges 500 KB
(0.05 AZN): 50.00 AZN a line lasts 1,000 pairs, far more than a run makes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.api import run_load
from bench.provision import number_for

FUNDED_LINES_MAX = 2000
FUNDING_AMOUNT_QEPIK = 5000  # 50.00 AZN: inside Azercell's 1.00-500.00 range
FUNDING_THREADS = 4
FUNDING_CHANNEL = "api"
FUNDING_TIMEOUT_SECONDS = 300


def fund_lines(database_url: str, line_count: int, *, threads: int = FUNDING_THREADS) -> dict[str, Any]:
    """Top up number_for(0 .. line_count - 1) once each with `FUNDING_AMOUNT_QEPIK`, `threads` at a time.
    Raises if any top-up failed: a charging run on unfunded lines would measure refusals."""
    from topup.bootstrap import bootstrap
    from topup.config import Settings
    from topup.services import topups

    application = bootstrap(Settings(database_url=database_url, database_pool_size=max(threads, 2)))
    errors: Counter[str] = Counter()
    lock = threading.Lock()

    def work(first: int) -> None:
        for index in range(first, line_count, threads):
            try:
                topups.top_up(
                    application.uow(),
                    application.clock,
                    application.codes,
                    number=number_for(index),
                    amount_qepik=FUNDING_AMOUNT_QEPIK,
                    channel=FUNDING_CHANNEL,
                )
            except Exception as error:  # counted, then raised once every thread is done
                with lock:
                    errors[f"{type(error).__name__}: {error}"[:200]] += 1

    started = time.perf_counter()
    try:
        workers = [threading.Thread(target=work, args=(first,), daemon=True) for first in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=FUNDING_TIMEOUT_SECONDS)
        if any(worker.is_alive() for worker in workers):
            raise RuntimeError(f"funding the charging lines took over {FUNDING_TIMEOUT_SECONDS} s")
    finally:
        application.close()
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{sum(errors.values())} of {line_count} funding top-ups failed: {dict(errors)}")
    return {
        "lines": line_count,
        "amount_qepik": FUNDING_AMOUNT_QEPIK,
        "threads": threads,
        "seconds": seconds,
        "top_ups_per_second": line_count / seconds if seconds else 0.0,
    }


def run_charging(
    env: dict[str, str],
    database_url: str,
    *,
    line_count: int,
    clients: int,
    seconds: float,
    warmup_seconds: float,
    server_workers: int,
    log_path: Path,
    before_load: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Fund the first min(line_count, FUNDED_LINES_MAX) lines, call `before_load` (the caller's CHECKPOINT, so
    the funding's writes are not flushed in the window), then measure reserve + terminate pairs on them."""
    funded = min(line_count, FUNDED_LINES_MAX)
    funding = fund_lines(database_url, funded)
    if before_load is not None:
        before_load()
    result = run_load(
        env,
        kind="charging",
        line_count=funded,
        clients=clients,
        seconds=seconds,
        warmup_seconds=warmup_seconds,
        server_workers=server_workers,
        log_path=log_path,
    )
    result["funding"] = funding
    return result
