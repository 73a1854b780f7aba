"""How cost grows with the number of lines: top-up throughput and balance-lookup latency, small vs large."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import pg
from bench.provision import number_for, provision_pg
from bench.report import latency_summary
from bench.service_load import run_processes, run_threads

WARM_UP_LOOKUPS = 50


def balance_lookups(database_url: str, *, line_count: int, lookups: int, seed: int) -> dict[str, Any]:
    """`lines.balance` on random lines, one after another in one thread."""
    from topup.bootstrap import bootstrap
    from topup.config import Settings
    from topup.services import lines

    application = bootstrap(Settings(database_url=database_url, database_pool_size=2))
    rng = random.Random(seed)
    latencies: list[float] = []
    try:
        for _ in range(WARM_UP_LOOKUPS):
            lines.balance(application.uow(), application.clock, number=number_for(rng.randrange(line_count)))
        for _ in range(lookups):
            number = number_for(rng.randrange(line_count))
            started = time.perf_counter()
            lines.balance(application.uow(), application.clock, number=number)
            latencies.append(time.perf_counter() - started)
    finally:
        application.close()
    return {"lookups": lookups, "latency": latency_summary(latencies)}


def _relation_sizes(target: pg.PgTarget) -> dict[str, int]:
    import psycopg

    with psycopg.connect(target.conninfo(), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
            "WHERE relname IN ('lines', 'accounts', 'ledger_transactions', 'transfers') AND relkind = 'r'"
        ).fetchall()
    return {name: int(size) for name, size in rows}


def _measure(
    target: pg.PgTarget, *, line_count: int, workers: int, seconds: float, lookups: int, mode: str
) -> dict[str, Any]:
    run: Callable[..., dict[str, Any]] = run_processes if mode == "processes" else run_threads
    pg.checkpoint(target)
    lookup = balance_lookups(target.sqlalchemy_url, line_count=line_count, lookups=lookups, seed=line_count)
    pg.checkpoint(target)
    top_ups = run(target.sqlalchemy_url, line_count=line_count, workers=workers, seconds=seconds)
    return {
        "line_count": line_count,
        "lines_in_table": pg.table_rows(target, "lines"),
        "relation_bytes": _relation_sizes(target),
        "balance_lookups": lookup,
        "top_ups": top_ups,
    }


def run_scale(
    target: pg.PgTarget,
    *,
    small_lines: int,
    large_lines: int,
    workers: int,
    seconds: float,
    lookups: int,
    mode: str,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Measure with `small_lines` provisioned, bulk-add lines up to `large_lines`, measure again."""
    say(f"  measuring with {small_lines:,} lines")
    small = _measure(target, line_count=small_lines, workers=workers, seconds=seconds, lookups=lookups, mode=mode)
    say(f"  bulk-provisioning lines {small_lines:,} .. {large_lines:,}")

    def progress(done: int, elapsed: float) -> None:
        sys.stdout.write(f"\r    {done:,} lines in {elapsed:.0f} s")
        sys.stdout.flush()

    interactive = sys.stdout.isatty()  # a log file gets the total only
    provisioning_seconds = provision_pg(
        target.conninfo(), small_lines, large_lines, progress=progress if interactive else None
    )
    if interactive:
        sys.stdout.write("\n")
    say(f"  provisioned in {provisioning_seconds:.0f} s; measuring with {large_lines:,} lines")
    large = _measure(target, line_count=large_lines, workers=workers, seconds=seconds, lookups=lookups, mode=mode)
    small_tps = small["top_ups"]["top_ups_per_second"]
    return {
        "mode": mode,
        "small": small,
        "large": large,
        "provisioning_seconds": provisioning_seconds,
        "throughput_ratio": large["top_ups"]["top_ups_per_second"] / small_tps if small_tps else None,
    }
