"""Where a service-layer top-up spends its time: cProfile over a bounded loop of `topups.top_up`.

    .venv/bin/python -m bench.profile_top_up                        # the bench database left by `make bench`
    .venv/bin/python -m bench.profile_top_up --url sqlite:///var/x.db --top-ups 2000 --sort tottime

Needs a database prepared by `python -m bench.run` (lines number_for(0 .. --lines - 1) provisioned).
On PostgreSQL it also prints the share of profiled time spent waiting for the server (psycopg's `wait`).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import time
from typing import Any

from bench.pg import PgTarget
from bench.provision import number_for
from bench.service_load import AMOUNT_QEPIK


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=PgTarget().sqlalchemy_url)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--top-ups", type=int, default=3000)
    parser.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"))
    parser.add_argument("--limit", type=int, default=45)
    arguments = parser.parse_args()

    from topup.bootstrap import bootstrap
    from topup.config import Settings
    from topup.services import topups

    application = bootstrap(Settings(database_url=arguments.url, database_pool_size=2))
    rng = random.Random(5)

    def loop(count: int) -> None:
        for _ in range(count):
            topups.top_up(
                application.uow(),
                application.clock,
                application.codes,
                number=number_for(rng.randrange(arguments.lines)),
                amount_qepik=AMOUNT_QEPIK,
                channel="api",
            )

    try:
        loop(50)  # warm: connection pool, catalogue, funding account, compiled-statement cache
        started = time.perf_counter()
        loop(arguments.top_ups)
        plain_seconds = time.perf_counter() - started
        profiler = cProfile.Profile()
        profiler.enable()
        loop(arguments.top_ups)
        profiler.disable()
    finally:
        application.close()
    print(
        f"{arguments.top_ups} top-ups, one caller, unprofiled: {plain_seconds / arguments.top_ups * 1e3:.3f} ms each "
        f"({arguments.top_ups / plain_seconds:,.0f}/s)"
    )
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    raw_stats: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    profiled = sum(entry[2] for entry in raw_stats.values())
    waiting = sum(entry[3] for (path, _, name), entry in raw_stats.items() if name == "wait" and "psycopg" in path)
    if waiting and profiled:
        print(f"waiting for PostgreSQL (psycopg wait): {waiting / profiled * 100:.0f}% of profiled time")
    stats.sort_stats(arguments.sort).print_stats(arguments.limit)
    print(buffer.getvalue())


if __name__ == "__main__":
    main()
