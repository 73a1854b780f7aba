"""`make bench`: top-up throughput and latency with ratios against baselines measured in the same run.

    .venv/bin/python -m bench.run            # the default run (~10 minutes on 2 cores)
    .venv/bin/python -m bench.run --quick    # a smoke run (~3 minutes)
    .venv/bin/python -m bench.run --help     # every knob; each also reads a TOPUP_BENCH_* variable

Sections: PostgreSQL (pgbench baseline, HTTP API, card orders through the HTTP API, charging sessions through the
HTTP API, service layer, growth from 10k to 1M lines, the bundle-expiry job at 10k and 1M lines) and SQLite
(service layer vs raw sqlite3). Results go to stdout and to bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench import pg
from bench.api import PROJECT_ROOT, run_http
from bench.charging import run_charging
from bench.lifecycle import (
    check_sizes,
    job_cpu_ms_per_bundle,
    job_pages_per_bundle,
    run_few_lines,
    run_many_lines,
)
from bench.orders import run_orders
from bench.provision import number_for, provision_pg
from bench.report import RESULTS_DIR, Row, format_table, write_json
from bench.scale import run_scale
from bench.server import run_cli
from bench.service_load import run_processes, run_threads
from bench.sqlite import CATALOGUE_PATH, run_sqlite

SECTIONS = ("pgbench", "http", "orders", "charging", "service", "scale", "lifecycle", "sqlite")
PG_SECTIONS = ("pgbench", "http", "orders", "charging", "service", "scale", "lifecycle")
ENV_PREFIX = "TOPUP_BENCH_"
HTTP_P99_MS_MAX = 50.0
ORDERS_TO_HTTP_RATIO_MIN = 0.5  # issue 3: orders/s at least half the plain HTTP top-ups/s of the same run
CHARGING_TO_HTTP_RATIO_MIN = 1.0  # issue 4: reserve + terminate pairs/s at least the HTTP top-ups/s of the same run
LOOKUP_P99_MS_MAX = 5.0
DISTURBANCE_SHARE_MAX = 0.10  # other processes' share of the CPU above which a phase's figures are suspect


@dataclass
class Config:
    quick: bool = False
    seconds: float = 30.0  # HTTP (top-ups, orders, charging) and service-layer (processes) measurements
    thread_seconds: float = 20.0
    pgbench_seconds: int = 30
    pgbench_scale: int = 8
    clients: int = 8
    pgbench_threads: int = 2
    server_workers: int = 2
    warmup_seconds: float = 3.0
    lines: int = 10_000
    scale_lines: int = 1_000_000
    scale_seconds: float = 20.0
    lookups: int = 2000
    lifecycle_bundles: int = 100_000  # expired at --lines and again at --scale-lines
    lifecycle_fewer_bundles: int = 10_000  # expired at --scale-lines too: the time should follow the bundles
    sqlite_lines: int = 10_000
    sqlite_seconds: float = 20.0
    sections: list[str] = field(default_factory=lambda: list(SECTIONS))
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_database: str = "topup_bench"

    @classmethod
    def quick_defaults(cls) -> Config:
        return cls(
            quick=True,
            seconds=8.0,
            thread_seconds=5.0,
            pgbench_seconds=8,
            warmup_seconds=2.0,
            scale_lines=100_000,
            scale_seconds=6.0,
            lookups=500,
            lifecycle_bundles=10_000,
            lifecycle_fewer_bundles=1000,
            sqlite_lines=2000,
            sqlite_seconds=5.0,
        )


def _parse_config(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"short smoke run (or {ENV_PREFIX}QUICK=1)")
    numeric = {name: type(value) for name, value in asdict(Config()).items() if type(value) in (int, float)}
    for name, kind in numeric.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, help=f"(env {ENV_PREFIX}{name.upper()})")
    parser.add_argument("--only", help=f"comma-separated sections to run, of {','.join(SECTIONS)}")
    parser.add_argument("--skip", help="comma-separated sections to skip")
    for name in ("pg_host", "pg_user", "pg_database"):
        parser.add_argument(f"--{name.replace('_', '-')}", help=f"(env {ENV_PREFIX}{name.upper()})")
    arguments = parser.parse_args(argv)

    quick = arguments.quick or os.environ.get(f"{ENV_PREFIX}QUICK", "") not in ("", "0")
    config = Config.quick_defaults() if quick else Config()
    for name, value in asdict(Config()).items():
        if name in ("quick", "sections"):
            continue
        given = getattr(arguments, name, None)
        if given is None and f"{ENV_PREFIX}{name.upper()}" in os.environ:
            given = type(value)(os.environ[f"{ENV_PREFIX}{name.upper()}"])
        if given is not None:
            setattr(config, name, given)
    only = arguments.only or os.environ.get(f"{ENV_PREFIX}ONLY")
    skip = arguments.skip or os.environ.get(f"{ENV_PREFIX}SKIP")
    sections = [s.strip() for s in only.split(",")] if only else list(SECTIONS)
    if skip:
        sections = [s for s in sections if s not in {x.strip() for x in skip.split(",")}]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    config.sections = sections
    if config.scale_lines <= config.lines:
        parser.error("--scale-lines must be larger than --lines")
    if "lifecycle" in sections:
        wrong = check_sizes(
            small_lines=config.lines,
            bundles=config.lifecycle_bundles,
            fewer_bundles=config.lifecycle_fewer_bundles,
        )
        if wrong:
            parser.error(wrong)
    return config


class Run:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.results: dict[str, Any] = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": asdict(config),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "code": _code_version(),
            "sections": {},
            "errors": {},
        }
        self.target = pg.PgTarget(config.pg_host, config.pg_port, config.pg_user, config.pg_database)

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    def section(self, name: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """Run one section; a failure is reported and recorded, and the other sections still run."""
        try:
            result = work()
        except Exception as error:  # one failed section must not hide the others
            self.say(f"{name}: FAILED: {type(error).__name__}: {error}")
            traceback.print_exc()
            self.results["errors"][name] = f"{type(error).__name__}: {error}"
            return None
        self.results["sections"][name] = result
        return result

    # -- PostgreSQL ----------------------------------------------------------------------------------------

    def cli_env(self) -> dict[str, str]:
        env = {**os.environ, "TOPUP_DATABASE_URL": self.target.sqlalchemy_url}
        # The card sandbox the server mounts keeps its own SQLite file: keep it with the bench's files.
        env.setdefault("TOPUP_SANDBOX_DATABASE_PATH", str(RESULTS_DIR / "sandbox-card.db"))
        return env

    def prepare_pg(self) -> dict[str, Any]:
        config, target = self.config, self.target
        self.say(f"PostgreSQL: recreating database {target.database}; pgbench -i -s {config.pgbench_scale}")
        pg.recreate_database(target)
        pg.pgbench_init(target, config.pgbench_scale)
        self.say("topup db upgrade; topup catalogue load; bulk-provisioning lines")
        env = self.cli_env()
        run_cli(["db", "upgrade"], env)
        run_cli(["catalogue", "load", str(CATALOGUE_PATH)], env)
        seconds = provision_pg(target.conninfo(), 0, config.lines)
        # The app reads a bulk-provisioned line like one it provisioned itself.
        run_cli(["balance", number_for(config.lines - 1), "--json"], env)
        facts = pg.server_facts(target)
        self.say(f"  {config.lines:,} lines in {seconds:.1f} s; PostgreSQL {facts['server_version']}")
        return {"server": facts, "lines": config.lines, "provisioning_seconds": seconds}

    def pgbench(self, label: str) -> dict[str, Any]:
        config = self.config
        pg.checkpoint(self.target)
        self.say(f"pgbench {label}: -c {config.clients} -j {config.pgbench_threads} -T {config.pgbench_seconds}")
        result = pg.pgbench_run(
            self.target, clients=config.clients, threads=config.pgbench_threads, seconds=config.pgbench_seconds
        )
        self.say(f"  {result['tps']:,.0f} tps, latency avg {result['latency_avg_ms']} ms")
        return result

    def http(self) -> dict[str, Any]:
        config = self.config
        pg.checkpoint(self.target)
        self.say(
            f"HTTP: topup serve --workers {config.server_workers}; {config.clients} keep-alive clients, "
            f"{config.seconds:g} s after {config.warmup_seconds:g} s warm-up"
        )
        result = run_http(
            self.cli_env(),
            line_count=config.lines,
            clients=config.clients,
            seconds=config.seconds,
            warmup_seconds=config.warmup_seconds,
            server_workers=config.server_workers,
            log_path=RESULTS_DIR / "server.log",
        )
        latency = result["latency"]
        self.say(
            f"  {result['top_ups_per_second']:,.0f} top-ups/s, p50 {latency['p50_ms'] or 0:.1f} ms, "
            f"p99 {latency['p99_ms'] or 0:.1f} ms, statuses {result['statuses']}, "
            f"server peak RSS {result['server_memory']['peak_rss_total_kb'] / 1024:.0f} MB (sum)"
        )
        if result["error_samples"] or result["client_failures"]:
            self.say(f"  errors: {result['error_samples'][:2]} {result['client_failures'][:2]}")
        return result

    def orders(self) -> dict[str, Any]:
        config = self.config
        pg.checkpoint(self.target)
        self.say(
            f"orders: topup serve --workers {config.server_workers} with the sandbox card acquirer; "
            f"{config.clients} keep-alive clients, {config.seconds:g} s after {config.warmup_seconds:g} s warm-up"
        )
        result = run_orders(
            self.cli_env(),
            line_count=config.lines,
            clients=config.clients,
            seconds=config.seconds,
            warmup_seconds=config.warmup_seconds,
            server_workers=config.server_workers,
            log_path=RESULTS_DIR / "orders-server.log",
        )
        latency = result["latency"]
        http = self.results["sections"].get("http")
        ratio = (
            f", {result['orders_per_second'] / http['top_ups_per_second']:.2f}× the HTTP top-ups/s"
            if http and http["top_ups_per_second"]
            else ""
        )
        self.say(
            f"  {result['orders_per_second']:,.0f} orders/s fulfilled{ratio}, p50 {latency['p50_ms'] or 0:.1f} ms, "
            f"p99 {latency['p99_ms'] or 0:.1f} ms, statuses {result['statuses']}, "
            f"orders {result['order_statuses']}"
        )
        not_fulfilled = _orders_not_fulfilled(result)
        if not_fulfilled or result["client_failures"]:
            self.say(
                f"  {not_fulfilled} answers were not a fulfilled order: {result['error_samples'][:2]} "
                f"{result['client_failures'][:2]}"
            )
        return result

    def charging(self) -> dict[str, Any]:
        config = self.config
        self.say(
            f"charging: funding lines, then topup serve --workers {config.server_workers}; {config.clients} "
            f"keep-alive clients open and terminate data sessions, {config.seconds:g} s after "
            f"{config.warmup_seconds:g} s warm-up"
        )
        result = run_charging(
            self.cli_env(),
            self.target.sqlalchemy_url,
            line_count=config.lines,
            clients=config.clients,
            seconds=config.seconds,
            warmup_seconds=config.warmup_seconds,
            server_workers=config.server_workers,
            log_path=RESULTS_DIR / "charging-server.log",
            before_load=lambda: pg.checkpoint(self.target),
        )
        funding, latency = result["funding"], result["latency"]
        http = self.results["sections"].get("http")
        ratio = (
            f", {result['charging_pairs_per_second'] / http['top_ups_per_second']:.2f}× the HTTP top-ups/s"
            if http and http["top_ups_per_second"]
            else ""
        )
        self.say(
            f"  funded {funding['lines']:,} lines with {funding['amount_qepik'] / 100:.2f} AZN each in "
            f"{funding['seconds']:.1f} s (service-layer top-ups, {funding['threads']} threads)"
        )
        self.say(
            f"  {result['charging_pairs_per_second']:,.0f} pairs/s{ratio}, p50 {latency['p50_ms'] or 0:.1f} ms, "
            f"p99 {latency['p99_ms'] or 0:.1f} ms, open statuses {result['statuses']}, "
            f"terminate statuses {result['terminate_statuses']}, sessions {result['session_states']}"
        )
        failed = _charging_failed(result)
        if failed or result["client_failures"]:
            self.say(
                f"  {failed} pairs were not opened and terminated: {result['error_samples'][:2]} "
                f"{result['client_failures'][:2]}"
            )
        return result

    def service(self) -> dict[str, Any]:
        config, url = self.config, self.target.sqlalchemy_url
        pg.checkpoint(self.target)
        self.say(f"service layer: {config.clients} processes, {config.seconds:g} s")
        processes = run_processes(url, line_count=config.lines, workers=config.clients, seconds=config.seconds)
        self._report_service(processes)
        pg.checkpoint(self.target)
        self.say(f"service layer: {config.clients} threads, {config.thread_seconds:g} s")
        threads = run_threads(url, line_count=config.lines, workers=config.clients, seconds=config.thread_seconds)
        self._report_service(threads)
        best = max((processes, threads), key=lambda r: r["top_ups_per_second"])
        return {"processes": processes, "threads": threads, "best": best["mode"]}

    def _report_service(self, result: dict[str, Any]) -> None:
        latency = result["latency"]
        self.say(
            f"  {result['top_ups_per_second']:,.0f} top-ups/s ({result['mode']}), p50 {latency['p50_ms'] or 0:.1f} ms,"
            f" p99 {latency['p99_ms'] or 0:.1f} ms, errors {result['errors'] or 'none'}"
        )

    def scale(self, mode: str) -> dict[str, Any]:
        config = self.config
        self.say(f"growth: {config.lines:,} -> {config.scale_lines:,} lines ({mode}, {config.scale_seconds:g} s each)")
        result = run_scale(
            self.target,
            small_lines=config.lines,
            large_lines=config.scale_lines,
            workers=config.clients,
            seconds=config.scale_seconds,
            lookups=config.lookups,
            mode=mode,
            say=self.say,
        )
        for size in ("small", "large"):
            part = result[size]
            self.say(
                f"  {part['line_count']:,} lines: {part['top_ups']['top_ups_per_second']:,.0f} top-ups/s, "
                f"balance lookup p50 {part['balance_lookups']['latency']['p50_ms']:.2f} ms "
                f"p99 {part['balance_lookups']['latency']['p99_ms']:.2f} ms"
            )
        return result

    def lifecycle_few_lines(self) -> dict[str, Any]:
        config = self.config
        self.say(f"lifecycle: bundle expiry at {config.lines:,} lines, then at {config.scale_lines:,}")
        return run_few_lines(self.target, line_count=config.lines, bundles=config.lifecycle_bundles, say=self.say)

    def lifecycle_many_lines(self) -> dict[str, Any]:
        config = self.config
        self.say(f"lifecycle: bundle expiry at {config.scale_lines:,} lines")
        result = run_many_lines(
            self.target,
            self.results["sections"].get("lifecycle", {}),
            line_count=config.scale_lines,
            bundles=config.lifecycle_bundles,
            fewer_bundles=config.lifecycle_fewer_bundles,
            say=self.say,
        )
        ratios = (
            ("lines_ratio", "wall time, more lines / fewer"),
            ("cpu_lines_ratio", "CPU per bundle, more lines / fewer"),
            ("pages_lines_ratio", "pages read per bundle, more lines / fewer"),
            ("bundles_ratio", "wall time, more bundles / fewer"),
        )
        for name, label in ratios:
            if result[name] is not None:
                self.say(f"  expiry {label}: {result[name]:.2f}×")
        return result

    # -- SQLite --------------------------------------------------------------------------------------------

    def sqlite(self) -> dict[str, Any]:
        config = self.config
        self.say(f"SQLite: raw sqlite3 then service layer, 1 writer, {config.sqlite_seconds:g} s each")
        result = run_sqlite(RESULTS_DIR / "sqlite", line_count=config.sqlite_lines, seconds=config.sqlite_seconds)
        self.say(
            f"  raw {result['raw']['transactions_per_second']:,.0f} tx/s, "
            f"service {result['service']['top_ups_per_second']:,.0f} top-ups/s, ratio {result['ratio']:.2f}"
        )
        return result

    # -- the whole run -------------------------------------------------------------------------------------

    def run(self) -> int:
        config = self.config
        self.say(f"bench: {'quick' if config.quick else 'default'} run; sections {', '.join(config.sections)}")
        wants_pg = any(s in config.sections for s in PG_SECTIONS)
        reason = pg.unreachable_reason(self.target) if wants_pg else None
        if reason is not None:
            self.say(f"PostgreSQL at {config.pg_host}:{config.pg_port} is not reachable ({reason}): skipping its parts")
            self.results["skipped"] = {"postgresql": f"unreachable: {reason}"}
        elif wants_pg and self.section("setup", self.prepare_pg) is not None:
            self._run_pg()
        if "sqlite" in config.sections:
            self.section("sqlite", self.sqlite)
        rows = summary_rows(self.results)
        self.results["summary"] = [row.as_dict() for row in rows]
        self.results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.results["elapsed_seconds"] = round(time.monotonic() - self.started, 1)
        disturbed = disturbed_phases(self.results["sections"])
        self.results["disturbed_phases"] = disturbed
        code_at_end = _code_version()
        if code_at_end != self.results["code"]:  # the server and workers import the code as each phase starts
            self.results["code_at_end"] = code_at_end
        path = write_json(self.results)
        print()
        code = self.results["code"]
        dirty = f", {len(code['uncommitted_changes'])} files changed" if code["uncommitted_changes"] else ""
        print(
            f"Summary ({'quick' if config.quick else 'default'} run, {os.cpu_count()} CPUs, "
            f"commit {code['commit'] or '?'}{dirty}; {path}):"
        )
        print(format_table(rows))
        print()
        print(
            "CPU per operation (ms of CPU time; 'other' is CPU of processes outside the benchmark, a sign of "
            "disturbance;\n'machine' is every process; 'busy' is the share of all cores in use):"
        )
        print(format_cpu_table(self.results["sections"]))
        if disturbed:
            print(
                f"\nWARNING: other processes used over {DISTURBANCE_SHARE_MAX:.0%} of the CPU during: "
                f"{', '.join(disturbed)}. Those figures are low; run again on a quiet machine."
            )
        if "code_at_end" in self.results:
            print(
                "\nWARNING: the working tree changed during the run (now changed: "
                f"{', '.join(self.results['code_at_end']['uncommitted_changes']) or 'none'}; commit "
                f"{self.results['code_at_end']['commit']}). Later phases may have measured other code."
            )
        if self.results.get("skipped"):
            print(f"\nSkipped: {self.results['skipped']}")
        if self.results["errors"]:
            print(f"\nErrors: {self.results['errors']}")
        return 1 if self.results["errors"] else 0

    def _run_pg(self) -> None:
        config = self.config
        first = None
        if "pgbench" in config.sections:
            first = self.section("pgbench_first", lambda: self.pgbench("run 1"))
        if "http" in config.sections:
            self.section("http", self.http)
        if "orders" in config.sections:
            self.section("orders", self.orders)
        if "charging" in config.sections:
            self.section("charging", self.charging)
        service = self.section("service", self.service) if "service" in config.sections else None
        if "pgbench" in config.sections and first is not None:
            self.section("pgbench_second", lambda: self.pgbench("run 2"))
        # The expiry job at few lines has to run before the scale section adds lines; the rest after it, on
        # the lines it added (so a million lines are provisioned once).
        if "lifecycle" in config.sections:
            self.section("lifecycle", self.lifecycle_few_lines)
        if "scale" in config.sections:
            mode = service["best"] if service else "processes"
            self.section("scale", lambda: self.scale(mode))
        if "lifecycle" in config.sections:
            self.section("lifecycle", self.lifecycle_many_lines)


def _code_version() -> dict[str, Any]:
    """Which code was measured: the commit and whether the tree had uncommitted changes (read-only git)."""

    def git(*arguments: str) -> str:
        try:
            finished = subprocess.run(
                ["git", *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=False
            )
        except OSError:
            return ""
        return finished.stdout

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines() if line]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted_changes": changed}


def _orders_not_fulfilled(result: dict[str, Any]) -> int:
    """Answers in the window that were not a 201 with a fulfilled order (other statuses, other order states)."""
    answers = sum(result["statuses"].values())
    return answers - result["orders"]


def _charging_failed(result: dict[str, Any]) -> int:
    """Pairs in the window that did not end with an open 201 and a terminate 200 "terminated"."""
    return int(sum(result["statuses"].values()) - result["charging_pairs"])


def _pgbench_tps(sections: dict[str, Any]) -> float | None:
    runs = [sections[name]["tps"] for name in ("pgbench_first", "pgbench_second") if name in sections]
    return sum(runs) / len(runs) if runs else None


def summary_rows(results: dict[str, Any]) -> list[Row]:
    sections = results["sections"]
    config = results["config"]
    clients = config["clients"]
    pgbench_tps = _pgbench_tps(sections)
    rows: list[Row] = []
    if pgbench_tps is not None:
        runs = [f"{sections[n]['tps']:,.0f}" for n in ("pgbench_first", "pgbench_second") if n in sections]
        rows.append(Row(f"pgbench TPC-B-like, {clients} clients (mean of {' & '.join(runs)})", pgbench_tps, "tps"))
    if "http" in sections:
        http = sections["http"]
        rows += [
            Row(
                f"HTTP top-ups/s, {clients} clients, PG, {http['server_workers']} workers",
                http["top_ups_per_second"],
                "/s",
                pgbench_tps,
                "pgbench",
                0.4,
            ),
            Row("HTTP top-up latency p50", http["latency"]["p50_ms"], "ms"),
            Row(
                "HTTP top-up latency p99",
                http["latency"]["p99_ms"],
                "ms",
                target=HTTP_P99_MS_MAX,
                target_on="measured",
                higher_is_better=False,
            ),
            Row(
                f"server peak RSS, sum of {len(http['server_memory']['processes'])} processes",
                http["server_memory"]["peak_rss_total_kb"] / 1024,
                "MB",
            ),
            Row("server peak RSS, largest process", http["server_memory"]["peak_rss_max_kb"] / 1024, "MB"),
        ]
    if "orders" in sections:
        orders = sections["orders"]
        http_per_second = sections["http"]["top_ups_per_second"] if "http" in sections else None
        rows += [
            Row(
                f"HTTP orders/s fulfilled (sandbox card), {clients} clients, PG, {orders['server_workers']} workers",
                orders["orders_per_second"],
                "/s",
                http_per_second,
                "HTTP top-ups",
                ORDERS_TO_HTTP_RATIO_MIN if http_per_second else None,  # no HTTP section, no ratio
            ),
            Row("HTTP order latency p50", orders["latency"]["p50_ms"], "ms"),
            Row("HTTP order latency p99", orders["latency"]["p99_ms"], "ms"),
            Row(
                f"orders not fulfilled, of {sum(orders['statuses'].values()):,} answers",
                _orders_not_fulfilled(orders),
                "",
            ),
        ]
    if "charging" in sections:
        charging = sections["charging"]
        http_per_second = sections["http"]["top_ups_per_second"] if "http" in sections else None
        rows += [
            Row(
                f"HTTP charging pairs/s (reserve + terminate), {clients} clients, PG, "
                f"{charging['server_workers']} workers",
                charging["charging_pairs_per_second"],
                "/s",
                http_per_second,
                "HTTP top-ups",
                CHARGING_TO_HTTP_RATIO_MIN if http_per_second else None,  # no HTTP section, no ratio
            ),
            Row("HTTP charging pair latency p50", charging["latency"]["p50_ms"], "ms"),
            Row("HTTP charging pair latency p99", charging["latency"]["p99_ms"], "ms"),
            Row(
                f"charging pairs failed, of {sum(charging['statuses'].values()):,} attempts",
                _charging_failed(charging),
                "",
            ),
        ]
    if "service" in sections:
        service = sections["service"]
        for mode in ("processes", "threads"):
            part = service[mode]
            best = mode == service["best"]
            rows.append(
                Row(
                    f"service top-ups/s, PG, {part['workers']} {mode}{' (best)' if best else ''}",
                    part["top_ups_per_second"],
                    "/s",
                    pgbench_tps,
                    "pgbench",
                    0.7 if best else None,
                )
            )
    if "scale" in sections:
        scale = sections["scale"]
        small, large = scale["small"], scale["large"]
        rows.append(
            Row(
                f"service top-ups/s at {large['line_count']:,} lines ({scale['mode']})",
                large["top_ups"]["top_ups_per_second"],
                "/s",
                small["top_ups"]["top_ups_per_second"],
                f"at {small['line_count']:,}",
                0.8,
            )
        )
        for part in (small, large):
            rows.append(
                Row(
                    f"balance lookup p99 at {part['line_count']:,} lines",
                    part["balance_lookups"]["latency"]["p99_ms"],
                    "ms",
                    target=LOOKUP_P99_MS_MAX,
                    target_on="measured",
                    higher_is_better=False,
                )
            )
    if "lifecycle" in sections:
        rows += _lifecycle_rows(sections["lifecycle"]["phases"])
    if "sqlite" in sections:
        sqlite = sections["sqlite"]
        rows.append(
            Row(
                "SQLite service top-ups/s, 1 writer",
                sqlite["service"]["top_ups_per_second"],
                "/s",
                sqlite["raw"]["transactions_per_second"],
                "raw sqlite3",
            )
        )
    return rows


def _lifecycle_rows(phases: dict[str, Any]) -> list[Row]:
    """Bundles expired per second in each phase, the wall time against more lines and against more bundles,
    and the phases whose checks failed."""
    rows = [
        Row(
            f"bundles expired/s, {phase['bundles']:,} at {phase['line_count']:,} lines",
            phase["job"]["bundles_per_second"],
            "/s",
        )
        for phase in phases.values()
    ]
    few, many, fewer = (phases.get(name) for name in ("few_lines", "many_lines", "many_lines_fewer_bundles"))
    for measured, baseline, against, baseline_name in (
        (many, few, "fewer lines", "at {line_count:,} lines"),  # expected near 1.0×: lines must not matter
        (many, fewer, "fewer bundles", "{bundles:,} bundles"),  # expected near the ratio of the bundles
    ):
        if measured is None:
            continue
        rows.append(
            Row(
                f"expiry wall time, {measured['bundles']:,} at {measured['line_count']:,} lines (vs {against})",
                measured["job"]["seconds"],
                "s",
                baseline["job"]["seconds"] if baseline else None,
                baseline_name.format(**baseline) if baseline else "",
                higher_is_better=False,
            )
        )
    if few is not None and many is not None:  # CPU is steadier than wall time on a busy machine
        rows.append(
            Row(
                f"expiry CPU per bundle (job + PostgreSQL), {many['bundles']:,} at {many['line_count']:,} lines",
                job_cpu_ms_per_bundle(many),
                "ms",
                job_cpu_ms_per_bundle(few),
                f"at {few['line_count']:,} lines",
                higher_is_better=False,
            )
        )
        rows.append(
            Row(
                f"expiry pages read per bundle (shared buffers or not), {many['bundles']:,} at "
                f"{many['line_count']:,} lines",
                job_pages_per_bundle(many),
                "",
                job_pages_per_bundle(few),
                f"at {few['line_count']:,} lines",
                higher_is_better=False,
            )
        )
    failed = sum(1 for phase in phases.values() if not phase["checks"]["ok"])
    rows.append(Row(f"expiry phases whose checks failed, of {len(phases)}", failed, ""))
    return rows


def _cpu_lines(sections: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, float]]]:
    """(label, window, ms per operation) for every measured phase that recorded its CPU."""
    found: list[tuple[str, dict[str, Any], dict[str, float]]] = []
    for name in ("pgbench_first", "pgbench_second"):
        if name in sections:
            found.append((f"pgbench transaction ({name.split('_')[1]})", *_cpu_of(sections[name], "transaction")))
    if "http" in sections:
        found.append(("HTTP top-up", *_cpu_of(sections["http"], "top_up")))
    if "orders" in sections:
        found.append(("HTTP order (sandbox card)", *_cpu_of(sections["orders"], "order")))
    if "charging" in sections:
        found.append(("HTTP charging pair (reserve + terminate)", *_cpu_of(sections["charging"], "charging_pair")))
    for mode in ("processes", "threads"):
        if mode in sections.get("service", {}):
            found.append((f"service top-up, {mode}", *_cpu_of(sections["service"][mode], "top_up")))
    if "scale" in sections:
        for size in ("small", "large"):
            part = sections["scale"][size]
            label = f"service top-up, {part['line_count']:,} lines"
            found.append((label, *_cpu_of(part["top_ups"], "top_up")))
    for phase in sections.get("lifecycle", {}).get("phases", {}).values():
        label = f"bundle expired, {phase['bundles']:,} at {phase['line_count']:,} lines"
        found.append((label, *_cpu_of(phase["job"], "bundle")))
    if "sqlite" in sections:
        found.append(("SQLite service top-up, 1 writer", *_cpu_of(sections["sqlite"]["service"], "top_up")))
    return found


def _cpu_of(result: dict[str, Any], operation: str) -> tuple[dict[str, Any], dict[str, float]]:
    return result.get("cpu", {}), result.get(f"cpu_ms_per_{operation}", {})


def _other_ms(per_operation: dict[str, float]) -> float | None:
    """CPU per operation of processes outside the benchmark (machine minus what was measured)."""
    if "machine" not in per_operation:
        return None
    measured = sum(value for name, value in per_operation.items() if name not in ("machine", "other"))
    return max(0.0, per_operation["machine"] - measured)


def disturbed_phases(sections: dict[str, Any]) -> list[str]:
    found = []
    for label, _, per_operation in _cpu_lines(sections):
        other = _other_ms(per_operation)
        if other is not None and per_operation["machine"] and other / per_operation["machine"] > DISTURBANCE_SHARE_MAX:
            found.append(label)
    return found


def format_cpu_table(sections: dict[str, Any]) -> str:
    columns = ("postgres", "server", "client", "other", "machine")
    lines: list[tuple[str, ...]] = [("operation", *columns, "busy")]
    for label, window, recorded in _cpu_lines(sections):
        busy = window.get("machine_busy_fraction")
        per_operation = dict(recorded)
        other = _other_ms(recorded)
        if other is not None:
            per_operation["other"] = other
        cells = [f"{per_operation[c]:.3f}" if c in per_operation else "—" for c in columns]
        lines.append((label, *cells, "—" if busy is None else f"{busy * 100:.0f}%"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    rendered = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in lines]
    rendered.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(rendered)


def main(argv: list[str] | None = None) -> int:
    config = _parse_config(argv)
    os.chdir(PROJECT_ROOT)
    return Run(config).run()


if __name__ == "__main__":
    sys.exit(main())
