"""Top-ups through the service layer (no HTTP): N worker processes or N threads calling `topups.top_up`."""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import threading
import time
from collections import Counter
from typing import Any

from bench.cpu import CpuWindow, per_operation_ms
from bench.provision import number_for
from bench.report import latency_summary

AMOUNT_QEPIK = 500  # 5.00 AZN: inside every operator's range, extends validity by 30 days
WARM_UP_TOP_UPS = 3
OPERATIONS_MAX_PER_WORKER = 10_000_000  # a bound besides time
START_TIMEOUT_SECONDS = 120
RESULT_EXTRA_SECONDS = 120


def _application(database_url: str, pool_size: int) -> Any:
    from topup.bootstrap import bootstrap
    from topup.config import Settings

    return bootstrap(Settings(database_url=database_url, database_pool_size=pool_size))


def _top_up_loop(application: Any, line_count: int, seconds: float, seed: int) -> dict[str, Any]:
    """Top up random lines for `seconds`; each top-up is its own unit of work and transaction."""
    from topup.services import topups

    rng = random.Random(seed)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    clock, codes = application.clock, application.codes
    deadline = time.perf_counter() + seconds
    for _ in range(OPERATIONS_MAX_PER_WORKER):
        started = time.perf_counter()
        if started >= deadline:
            break
        try:
            topups.top_up(
                application.uow(),
                clock,
                codes,
                number=number_for(rng.randrange(line_count)),
                amount_qepik=AMOUNT_QEPIK,
                channel="api",
            )
        except Exception as error:  # a benchmark counts failures instead of stopping
            errors[type(error).__name__] += 1
            continue
        latencies.append(time.perf_counter() - started)
    return {"count": len(latencies), "errors": dict(errors), "latencies": latencies}


def _warm_up(application: Any, line_count: int, seed: int) -> None:
    """Connect, read the catalogue and the funding account once, so the measured loop starts warm."""
    from topup.services import topups

    rng = random.Random(seed + 1)
    for _ in range(WARM_UP_TOP_UPS):
        topups.top_up(
            application.uow(),
            application.clock,
            application.codes,
            number=number_for(rng.randrange(line_count)),
            amount_qepik=AMOUNT_QEPIK,
            channel="api",
        )


def _process_main(
    database_url: str,
    line_count: int,
    seconds: float,
    seed: int,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    application = _application(database_url, pool_size=2)
    try:
        _warm_up(application, line_count, seed)
        ready.put(os.getpid())
        if not go.wait(timeout=START_TIMEOUT_SECONDS):
            results.put({"count": 0, "errors": {"start_timeout": 1}, "latencies": []})
            return
        results.put(_top_up_loop(application, line_count, seconds, seed))
    finally:
        application.close()


def _combine(
    parts: list[dict[str, Any]], seconds: float, mode: str, workers: int, cpu: dict[str, Any]
) -> dict[str, Any]:
    latencies = [latency for part in parts for latency in part["latencies"]]
    errors: Counter[str] = Counter()
    for part in parts:
        errors.update(part["errors"])
    count = sum(part["count"] for part in parts)
    return {
        "mode": mode,
        "workers": workers,
        "seconds": seconds,
        "top_ups": count,
        "top_ups_per_second": count / seconds if seconds else 0.0,
        "errors": dict(errors),
        "latency": latency_summary(latencies),
        "cpu": cpu,
        "cpu_ms_per_top_up": per_operation_ms(cpu, count),
    }


def run_processes(database_url: str, *, line_count: int, workers: int, seconds: float) -> dict[str, Any]:
    """`workers` spawned processes, each with its own engine: past the GIL, like several API workers."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    go = context.Event()
    processes = [
        context.Process(
            target=_process_main,
            args=(database_url, line_count, seconds, 1000 + index, ready, go, results),
            daemon=True,
        )
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=START_TIMEOUT_SECONDS)
        window = CpuWindow(trees={"client": os.getpid()})
        window.start()
        go.set()
        parts = [results.get(timeout=seconds + RESULT_EXTRA_SECONDS) for _ in processes]
        cpu = window.stop()
    except queue.Empty as error:
        raise RuntimeError("a service-layer worker process did not report in time") from error
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
    return _combine(parts, seconds, "processes", workers, cpu)


def run_threads(database_url: str, *, line_count: int, workers: int, seconds: float) -> dict[str, Any]:
    """`workers` threads sharing one application and one connection pool (the GIL is shared too)."""
    application = _application(database_url, pool_size=max(workers, 2))
    try:
        _warm_up(application, line_count, 7)
        go = threading.Event()
        parts: list[dict[str, Any]] = []
        lock = threading.Lock()

        def work(seed: int) -> None:
            go.wait(timeout=START_TIMEOUT_SECONDS)
            part = _top_up_loop(application, line_count, seconds, seed)
            with lock:
                parts.append(part)

        threads = [threading.Thread(target=work, args=(2000 + index,), daemon=True) for index in range(workers)]
        for thread in threads:
            thread.start()
        window = CpuWindow(trees={"client": os.getpid()})
        window.start()
        go.set()
        for thread in threads:
            thread.join(timeout=seconds + RESULT_EXTRA_SECONDS)
        cpu = window.stop()
    finally:
        application.close()
    return _combine(parts, seconds, "threads", workers, cpu)


def run_single(database_url: str, *, line_count: int, seconds: float) -> dict[str, Any]:
    """One caller in this process (SQLite has one writer at a time anyway)."""
    application = _application(database_url, pool_size=2)
    try:
        _warm_up(application, line_count, 11)
        window = CpuWindow(trees={"client": os.getpid()})
        window.start()
        part = _top_up_loop(application, line_count, seconds, 12)
        cpu = window.stop()
    finally:
        application.close()
    return _combine([part], seconds, "single", 1, cpu)
