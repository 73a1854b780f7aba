"""The PostgreSQL side: the dedicated benchmark database and pgbench's built-in TPC-B-like baseline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from bench.cpu import CpuWindow, per_operation_ms

PGBENCH_TIMEOUT_EXTRA_SECONDS = 120


@dataclass(frozen=True)
class PgTarget:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    database: str = "topup_bench"

    def conninfo(self, database: str | None = None) -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} dbname={database or self.database} connect_timeout=5"
        )

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.database}"

    def cli_args(self) -> list[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", self.user]


def unreachable_reason(target: PgTarget) -> str | None:
    """None when the server answers; otherwise why not, for the skip message."""
    try:
        import psycopg
    except ImportError as error:  # pragma: no cover - psycopg is a dependency
        return f"psycopg is not installed ({error})"
    try:
        with psycopg.connect(target.conninfo("postgres")) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if shutil.which("pgbench") is None:
        return "pgbench is not on PATH"
    return None


def recreate_database(target: PgTarget) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(target.conninfo("postgres"), autocommit=True) as connection:
        name = sql.Identifier(target.database)
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


def server_facts(target: PgTarget) -> dict[str, Any]:
    import psycopg

    names = ("server_version", "shared_buffers", "synchronous_commit", "fsync", "max_connections", "wal_level")
    with psycopg.connect(target.conninfo(), autocommit=True) as connection:
        return {name: connection.execute(f"SHOW {name}").fetchone()[0] for name in names}  # type: ignore[index]


def checkpoint(target: PgTarget) -> None:
    """Start each measured phase from a clean checkpoint, so no phase pays for the previous one's writes."""
    import psycopg

    with psycopg.connect(target.conninfo(), autocommit=True) as connection:
        connection.execute("CHECKPOINT")


def table_rows(target: PgTarget, table: str) -> int:
    import psycopg
    from psycopg import sql

    with psycopg.connect(target.conninfo(), autocommit=True) as connection:
        row = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row else 0


def pgbench_init(target: PgTarget, scale: int) -> None:
    subprocess.run(
        ["pgbench", *target.cli_args(), "-i", "-q", "-s", str(scale), target.database],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )


def pgbench_run(target: PgTarget, *, clients: int, threads: int, seconds: int) -> dict[str, Any]:
    """pgbench's default (TPC-B-like) script; returns tps and latency as pgbench reports them."""
    command = ["pgbench", *target.cli_args(), "-c", str(clients), "-j", str(threads), "-T", str(seconds)]
    window = CpuWindow(trees={"client": os.getpid()})  # pgbench is our child: reaped, its time is ours
    window.start()
    finished = subprocess.run(
        [*command, target.database],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + PGBENCH_TIMEOUT_EXTRA_SECONDS,
    )
    cpu = window.stop()
    output = finished.stdout
    tps = re.search(r"tps = ([0-9.]+) \((?:without|excluding) initial connection", output)
    latency = re.search(r"latency average = ([0-9.]+) ms", output)
    processed = re.search(r"number of transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    if tps is None:
        raise RuntimeError(f"could not read tps from pgbench output:\n{output}\n{finished.stderr}")
    return {
        "command": " ".join(command),
        "tps": float(tps.group(1)),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "transactions": int(processed.group(1)) if processed else None,
        "failed": int(failed.group(1)) if failed else 0,
        "seconds": seconds,
        "cpu": cpu,
        "cpu_ms_per_transaction": per_operation_ms(cpu, int(processed.group(1))) if processed else {},
    }
