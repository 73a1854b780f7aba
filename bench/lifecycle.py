"""The lifecycle section: the bundle-expiry job's cost against the lines on the platform and the bundles it expires.

Each phase plants expired, unsettled data buckets straight into the tables (`INSERT ... SELECT generate_series`,
server-side, like `provision.py` does for lines), shaped as real purchases leave them:

- the purchase: a `bundle_purchase` transaction paid by card through the `order` channel (as the order saga buys
  a bundle: the price leaves `funding:azercell:order` for revenue and VAT, so the main balance is not needed),
  and the allowance credited to a new `bucket` account (`data_kb`, tracked balance, `initial`, `expires_at`,
  `bundle_code`, `transaction_id`) from `allowances_issued:azercell:data_kb`, as `bundles.buy_bundle` posts it;
- use: for most buckets a charging session's two transactions, the `reservation` (bucket -> `reserved:...`) and
  the `usage` (`reserved:...` -> `allowances_used:...`), so the bucket's balance is its initial units minus what
  was used, and always the sum of its transfers. 40% are untouched, 50% partly used, 10% used up (balance 0).

Buckets are spread evenly over the lines, `BUCKETS_PER_LINE` to a line, and expired at pseudo-random moments in
the last 29 days: the backlog a worker finds after being down. Then, after a CHECKPOINT, the job runs the way
the worker runs it (`expire_bundles(..., limit=50)` until a batch comes back short), timed, with its CPU; then
the section checks what it did. The section's own bookkeeping (which buckets it planted) stays in a temporary
table on its own connection, so nothing outside the product's schema is left behind.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench import pg
from bench.cpu import CpuWindow, per_operation_ms
from bench.provision import NUMBER_PREFIX, number_for, provision_pg

BUCKETS_PER_LINE = 10
JOB_BATCH = 50  # the worker's BATCH_SIZE (topup.entrypoints.worker)
OPERATOR = "azercell"  # every bench line is an Azercell line
# Stackable data bundles of the sample catalogue, two of them auto-renewing: a line may hold several at once.
BUNDLE_CODES = ("azercell-3gb-7d", "azercell-10gb-30d", "azercell-25gb-30d")
EXPIRY_SPREAD_SECONDS = 29 * 86_400
SETUP_STATEMENT_TIMEOUT_MS = 600_000
BACKEND_EXIT_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Phase:
    """`bundles` expired buckets on `bundles / BUCKETS_PER_LINE` lines spread evenly over `line_count` lines."""

    name: str
    line_count: int
    bundles: int

    @property
    def bundle_lines(self) -> int:
        return self.bundles // BUCKETS_PER_LINE

    @property
    def stride(self) -> int:
        return self.line_count // self.bundle_lines


def check_sizes(*, small_lines: int, bundles: int, fewer_bundles: int) -> str | None:
    """Why these sizes cannot be planted, or None."""
    for count in (bundles, fewer_bundles):
        if count <= 0 or count % BUCKETS_PER_LINE:
            return f"bundle counts must be positive multiples of {BUCKETS_PER_LINE} (got {count})"
    if bundles // BUCKETS_PER_LINE > small_lines:
        return f"{bundles:,} bundles need {bundles // BUCKETS_PER_LINE:,} lines, more than --lines {small_lines:,}"
    if fewer_bundles >= bundles:
        return "--lifecycle-fewer-bundles must be smaller than --lifecycle-bundles"
    return None


# -- planting --------------------------------------------------------------------------------------------------

_CREATE_PLANTED = """
CREATE TEMPORARY TABLE planted (
    account_id bigint, msisdn text NOT NULL, purchase_id text PRIMARY KEY, bundle_code text NOT NULL,
    auto_renew boolean NOT NULL, data_kb bigint NOT NULL, used_kb bigint NOT NULL, price_qepik bigint NOT NULL,
    vat_qepik bigint NOT NULL, bought_at timestamptz NOT NULL, used_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
)
"""

# The purchase id is an md5 (32 hex digits, like uuid4().hex); 60 bits of it pick the use and the expiry.
_FILL_PLANTED = """
INSERT INTO planted (msisdn, purchase_id, bundle_code, auto_renew, data_kb, used_kb, price_qepik, vat_qepik,
                     bought_at, used_at, expires_at)
SELECT l.msisdn, s.purchase_id, b.code, b.auto_renew, b.data_kb,
       CASE WHEN s.h %% 10 < 4 THEN 0 WHEN s.h %% 10 = 9 THEN b.data_kb
            ELSE b.data_kb * (10 + s.h / 10 %% 81) / 100 END,
       b.price_qepik, b.vat_qepik,
       s.expires_at - make_interval(days => b.validity_days),
       s.expires_at - make_interval(days => b.validity_days) / 2,
       s.expires_at
FROM (
    SELECT j, k, purchase_id, h,
           %(now)s::timestamptz - make_interval(secs => 60 + h / 1000 %% %(spread_seconds)s) AS expires_at
    FROM (
        SELECT j, k, md5(%(tag)s || ':' || j || ':' || k) AS purchase_id
        FROM generate_series(0, %(bundle_lines)s - 1) AS j, generate_series(0, %(per_line)s - 1) AS k
    ) AS numbered,
    LATERAL (SELECT ('x' || substr(purchase_id, 1, 15))::bit(60)::bigint AS h) AS hashed
) AS s
JOIN lines AS l ON l.msisdn = %(prefix)s || lpad((s.j * %(stride)s)::text, 7, '0')
JOIN unnest(%(codes)s::text[], %(auto_renew)s::boolean[], %(data_kb)s::bigint[], %(price_qepik)s::bigint[],
            %(vat_qepik)s::bigint[], %(validity_days)s::int[])
     WITH ORDINALITY AS b(code, auto_renew, data_kb, price_qepik, vat_qepik, validity_days, position)
  ON b.position = 1 + s.k %% %(bundle_count)s
"""

_OPEN_BUCKETS = """
WITH opened AS (
    INSERT INTO accounts (kind, unit, msisdn, balance, tracks_balance, initial, expires_at, bundle_code,
                          transaction_id, created_at)
    SELECT 'bucket', 'data_kb', msisdn, data_kb - used_kb, true, data_kb, expires_at, bundle_code, purchase_id,
           bought_at
    FROM planted
    RETURNING id, transaction_id
)
UPDATE planted SET account_id = opened.id FROM opened WHERE opened.transaction_id = planted.purchase_id
"""

# Receipt codes are 11 Crockford characters with a dash; 16 hex digits can never meet one of those.
_RECORD_TRANSACTIONS = """
INSERT INTO ledger_transactions (id, msisdn, operator, kind, channel, amount_qepik, vat_qepik,
                                 balance_after_qepik, valid_until, bundle_code, bundle_expires_at, created_at,
                                 verification_code)
SELECT t.id, p.msisdn, l.operator, t.kind, t.channel, t.amount_qepik, t.vat_qepik, main.balance, l.valid_until,
       t.bundle_code, t.bundle_expires_at, t.created_at, upper(substr(md5(t.id || ':code'), 1, 16))
FROM planted AS p
JOIN lines AS l ON l.msisdn = p.msisdn
JOIN accounts AS main ON main.id = l.main_account_id
CROSS JOIN LATERAL (
    SELECT p.purchase_id, 'bundle_purchase', %(order_channel)s, p.price_qepik, p.vat_qepik, p.bundle_code,
           p.expires_at, p.bought_at
    UNION ALL
    SELECT md5(p.purchase_id || ':reservation'), 'reservation', %(charging_channel)s, 0, 0, NULL, NULL, p.used_at
    WHERE p.used_kb > 0
    UNION ALL
    SELECT md5(p.purchase_id || ':usage'), 'usage', %(charging_channel)s, 0, 0, NULL, NULL, p.used_at
    WHERE p.used_kb > 0
) AS t(id, kind, channel, amount_qepik, vat_qepik, bundle_code, bundle_expires_at, created_at)
"""

_POST_TRANSFERS = """
INSERT INTO transfers (transaction_id, debit_account_id, credit_account_id, amount, unit, msisdn, created_at)
SELECT t.transaction_id, t.debit_account_id, t.credit_account_id, t.amount, t.unit, p.msisdn, t.created_at
FROM planted AS p
CROSS JOIN LATERAL (
    SELECT p.purchase_id, %(funding)s::bigint, %(revenue)s::bigint, p.price_qepik - p.vat_qepik, 'qepik',
           p.bought_at
    UNION ALL
    SELECT p.purchase_id, %(funding)s, %(vat)s, p.vat_qepik, 'qepik', p.bought_at WHERE p.vat_qepik > 0
    UNION ALL
    SELECT p.purchase_id, %(issued)s, p.account_id, p.data_kb, 'data_kb', p.bought_at
    UNION ALL
    SELECT md5(p.purchase_id || ':reservation'), p.account_id, %(reserved)s, p.used_kb, 'data_kb', p.used_at
    WHERE p.used_kb > 0
    UNION ALL
    SELECT md5(p.purchase_id || ':usage'), %(reserved)s, %(used)s, p.used_kb, 'data_kb', p.used_at
    WHERE p.used_kb > 0
) AS t(transaction_id, debit_account_id, credit_account_id, amount, unit, created_at)
"""

_PLANTED_SUMMARY = """
SELECT count(*), count(*) FILTER (WHERE used_kb = 0), count(*) FILTER (WHERE used_kb > 0 AND used_kb < data_kb),
       count(*) FILTER (WHERE used_kb = data_kb), count(*) FILTER (WHERE auto_renew),
       count(DISTINCT msisdn), coalesce(sum(data_kb - used_kb), 0)
FROM planted
"""


def _system_accounts(application: Any) -> dict[str, int]:
    """The system accounts a purchase and a charging session touch, opened the application's own way."""
    from topup.domain.ledger import Unit
    from topup.services import bundles, charging
    from topup.services.order_saga import ORDER_CHANNEL
    from topup.services.topups import funding_account_code

    data = Unit.DATA_KB
    codes = {
        "funding": (funding_account_code(OPERATOR, ORDER_CHANNEL), Unit.QEPIK),
        "revenue": (bundles.REVENUE_ACCOUNT.format(operator=OPERATOR), Unit.QEPIK),
        "vat": (bundles.VAT_ACCOUNT.format(operator=OPERATOR), Unit.QEPIK),
        "issued": (bundles.ALLOWANCES_ACCOUNT.format(operator=OPERATOR, unit=data), data),
        "reserved": (charging.RESERVED_ACCOUNT.format(operator=OPERATOR, unit=data), data),
        "used": (charging.USED_ACCOUNT.format(operator=OPERATOR, unit=data), data),
    }
    uow = application.uow()
    with uow:
        found = {name: uow.ledger.system_account(code, unit) for name, (code, unit) in codes.items()}
        uow.commit()
    return found


def _bundle_parameters(application: Any) -> dict[str, list[Any]]:
    """Price, VAT, allowance and validity of `BUNDLE_CODES`, read from the catalogue the run loaded."""
    from topup.domain.money import included_vat

    uow = application.uow()
    with uow:
        catalogue = uow.catalogue.current()
    found = [catalogue.bundle(code, operator=OPERATOR) for code in BUNDLE_CODES]
    if any(bundle.data_kb <= 0 or bundle.voice_seconds or bundle.sms_count for bundle in found):
        raise RuntimeError(f"{BUNDLE_CODES} must be data-only bundles: one data_kb bucket per purchase")
    return {
        "codes": [bundle.code for bundle in found],
        "auto_renew": [bundle.auto_renew for bundle in found],
        "data_kb": [bundle.data_kb for bundle in found],
        "price_qepik": [bundle.price_qepik for bundle in found],
        "vat_qepik": [included_vat(bundle.price_qepik, catalogue.vat_rate_basis_points) for bundle in found],
        "validity_days": [bundle.validity_days for bundle in found],
    }


def plant(connection: Any, application: Any, phase: Phase, *, now: datetime) -> dict[str, Any]:
    """Write the phase's purchases, buckets and use in one transaction, then VACUUM ANALYZE what grew (autovacuum
    may be off, and a stale planner would measure itself rather than the job)."""
    from topup.services.charging import CHANNEL as CHARGING_CHANNEL
    from topup.services.order_saga import ORDER_CHANNEL

    started = time.perf_counter()
    parameters = {
        **_bundle_parameters(application),
        **_system_accounts(application),
        "now": now,
        "tag": f"bench-lifecycle:{phase.name}:{now.isoformat()}",
        "bundle_lines": phase.bundle_lines,
        "per_line": BUCKETS_PER_LINE,
        "stride": phase.stride,
        "prefix": NUMBER_PREFIX,
        "spread_seconds": EXPIRY_SPREAD_SECONDS,
        "bundle_count": len(BUNDLE_CODES),
        "order_channel": ORDER_CHANNEL,
        "charging_channel": CHARGING_CHANNEL,
    }
    with connection.transaction():
        connection.execute(f"SET LOCAL statement_timeout = {SETUP_STATEMENT_TIMEOUT_MS}")
        connection.execute("DROP TABLE IF EXISTS planted")
        connection.execute(_CREATE_PLANTED)
        for statement in (_FILL_PLANTED, _OPEN_BUCKETS, _RECORD_TRANSACTIONS, _POST_TRANSFERS):
            connection.execute(statement, parameters)
    for table in ("accounts", "transfers", "ledger_transactions"):
        connection.execute(f"VACUUM ANALYZE {table}")
    connection.execute("ANALYZE planted")
    row = connection.execute(_PLANTED_SUMMARY).fetchone()
    names = ("buckets", "untouched", "partly_used", "used_up", "auto_renewing", "lines", "remaining_kb")
    summary = dict(zip(names, (int(value) for value in row), strict=True))
    if summary["buckets"] != phase.bundles:
        raise RuntimeError(f"planted {summary['buckets']:,} buckets, expected {phase.bundles:,} (missing lines?)")
    return {**summary, "seconds": time.perf_counter() - started}


# -- the job ---------------------------------------------------------------------------------------------------


def expired_backlog(connection: Any, *, now: datetime) -> int:
    """Unsettled buckets expired by `now`: the job's whole queue (through its partial index)."""
    row = connection.execute(
        "SELECT count(*) FROM accounts WHERE kind = 'bucket' AND settled_at IS NULL AND expires_at <= %s", (now,)
    ).fetchone()
    return int(row[0])


def explain_queue(connection: Any, *, msisdn: str, now: datetime) -> dict[str, list[str]]:
    """The plans of the job's two queue queries, written as `SqlLifecycleRepository` builds them."""
    queries = {
        "lines_with_expired_buckets": (
            "SELECT msisdn, expires_at FROM accounts WHERE kind = 'bucket' AND settled_at IS NULL "
            "AND expires_at <= %s ORDER BY expires_at LIMIT %s",
            (now, JOB_BATCH),
        ),
        "expired_buckets": (
            "SELECT * FROM accounts WHERE kind = 'bucket' AND settled_at IS NULL AND msisdn = %s "
            "AND expires_at <= %s ORDER BY id FOR UPDATE",
            (msisdn, now),
        ),
    }
    return {
        name: [row[0] for row in connection.execute(f"EXPLAIN {sql}", values).fetchall()]
        for name, (sql, values) in queries.items()
    }


def plan_access(plan: list[str]) -> str:
    """How a plan reaches its rows ("Index Scan using ix_..."), to print: a Seq Scan here would grow with lines."""
    found = re.findall(
        r"((?:Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)(?: using \w+| on \w+))", "\n".join(plan)
    )
    return ", ".join(found) or "?"


def _tenth_ms_per_bundle(calls: list[tuple[float, int]], *, last: bool) -> float | None:
    """ms per bundle over the first (or last) tenth of the calls: a queue that gets slower as it drains shows."""
    size = max(1, len(calls) // 10)
    part = calls[-size:] if last else calls[:size]
    settled = sum(count for _, count in part)
    return sum(seconds for seconds, _ in part) / settled * 1000.0 if settled else None


def _block_counters(connection: Any) -> tuple[int, int]:
    """The bench database's page reads so far: (found in shared buffers, read from outside them). This
    connection's own are flushed first (planting and VACUUM read a lot)."""
    connection.execute("SELECT pg_stat_force_next_flush()")
    row = connection.execute(
        "SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return int(row[0]), int(row[1])


def _flush_job_statistics(application: Any, connection: Any) -> None:
    """A backend reports its page counts at most once a second, and at exit: close the job's connections (the
    engine opens new ones when next used) and wait until their backends are gone."""
    application.engine.dispose()
    deadline = time.monotonic() + BACKEND_EXIT_WAIT_SECONDS
    while time.monotonic() < deadline:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
        if int(row[0]) == 0:
            return
        time.sleep(0.05)


def run_job(application: Any, connection: Any, *, bundles_expected: int) -> dict[str, Any]:
    """`expire_bundles` in batches of `JOB_BATCH` until one comes back short, as the worker loops it. The
    pages it read tell whether it touches more of the tables at more lines, independently of the CPU that
    other work on the machine takes."""
    from topup.services import lifecycle

    _flush_job_statistics(application, connection)  # planting used the application's connections too
    hit_before, read_before = _block_counters(connection)
    calls: list[tuple[float, int]] = []
    calls_max = bundles_expected + 2  # every full call settles at least one bucket: a bound, never reached
    window = CpuWindow(trees={"client": os.getpid()})  # the job runs in this process
    window.start()
    started = time.perf_counter()
    for _ in range(calls_max):
        call_started = time.perf_counter()
        settled = lifecycle.expire_bundles(application.uow(), application.lifecycle, limit=JOB_BATCH)
        calls.append((time.perf_counter() - call_started, settled))
        if settled < JOB_BATCH:
            break
    seconds = time.perf_counter() - started
    cpu = window.stop()
    _flush_job_statistics(application, connection)
    hit_after, read_after = _block_counters(connection)
    settled_total = sum(count for _, count in calls)
    per_call = [elapsed / count * 1000.0 for elapsed, count in calls if count]
    return {
        "seconds": seconds,
        "calls": len(calls),
        "bundles_settled": settled_total,
        "bundles_per_second": settled_total / seconds if seconds else None,
        "ms_per_bundle": seconds / settled_total * 1000.0 if settled_total else None,
        "median_call_ms_per_bundle": statistics.median(per_call) if per_call else None,
        "first_tenth_ms_per_bundle": _tenth_ms_per_bundle(calls, last=False),
        "last_tenth_ms_per_bundle": _tenth_ms_per_bundle(calls, last=True),
        "median_call_ms": statistics.median(elapsed for elapsed, _ in calls) * 1000.0,
        "cpu": cpu,
        "cpu_ms_per_bundle": per_operation_ms(cpu, settled_total),
        "buffer_hits_per_bundle": (hit_after - hit_before) / settled_total if settled_total else None,
        "buffer_reads_per_bundle": (read_after - read_before) / settled_total if settled_total else None,
    }


# -- checks ----------------------------------------------------------------------------------------------------

_CHECK_BUCKETS = """
SELECT count(*) FILTER (WHERE a.settled_at IS NULL), count(*) FILTER (WHERE a.balance <> 0),
       count(*) FILTER (WHERE a.balance <> coalesce(c.amount, 0) - coalesce(d.amount, 0))
FROM planted AS p
JOIN accounts AS a ON a.id = p.account_id
LEFT JOIN (SELECT credit_account_id AS id, sum(amount) AS amount FROM transfers
           WHERE credit_account_id IN (SELECT account_id FROM planted) GROUP BY 1) AS c ON c.id = p.account_id
LEFT JOIN (SELECT debit_account_id AS id, sum(amount) AS amount FROM transfers
           WHERE debit_account_id IN (SELECT account_id FROM planted) GROUP BY 1) AS d ON d.id = p.account_id
"""

# What left the buckets on expiry, and in how many transactions: one per line whose buckets held units.
_CHECK_EXPIRY = """
SELECT coalesce(sum(t.amount), 0), count(DISTINCT t.transaction_id), count(*) FILTER (WHERE x.kind <> 'expiry'),
       count(*) FILTER (WHERE t.unit <> 'data_kb' OR e.unit <> 'data_kb' OR e.code <> %(expired_code)s)
FROM transfers AS t
JOIN planted AS p ON p.account_id = t.debit_account_id
JOIN accounts AS e ON e.id = t.credit_account_id
JOIN ledger_transactions AS x ON x.id = t.transaction_id
WHERE t.transaction_id NOT IN (SELECT md5(purchase_id || ':reservation') FROM planted)
"""

_CHECK_RENEWALS = """
SELECT count(*) FILTER (WHERE p.auto_renew AND r.state = 'pending'), count(*) FILTER (WHERE NOT p.auto_renew)
FROM planted AS p JOIN bundle_renewals AS r ON r.source_transaction_id = p.purchase_id
"""


def check(connection: Any, application: Any, planted: dict[str, Any]) -> dict[str, Any]:
    """What the job must have done to the planted buckets, and whether the whole ledger still balances (the
    product's audit reads every transfer: a few seconds at a million lines, so it runs after every phase)."""
    from topup.domain.ledger import Unit
    from topup.services.charging import EXPIRED_ACCOUNT

    unsettled, not_empty, mismatched = connection.execute(_CHECK_BUCKETS).fetchone()
    expired_code = EXPIRED_ACCOUNT.format(operator=OPERATOR, unit=Unit.DATA_KB)
    expired_kb, expiry_transactions, wrong_kind, wrong_account = connection.execute(
        _CHECK_EXPIRY, {"expired_code": expired_code}
    ).fetchone()
    renewals_pending, renewals_unexpected = connection.execute(_CHECK_RENEWALS).fetchone()
    found: dict[str, Any] = {
        "buckets_unsettled": int(unsettled),
        "buckets_not_empty": int(not_empty),
        "buckets_balance_not_transfers": int(mismatched),
        "expired_kb": int(expired_kb),
        "expired_kb_expected": planted["remaining_kb"],
        "expiry_transactions": int(expiry_transactions),
        "expiry_transfers_wrong_kind_or_account": int(wrong_kind) + int(wrong_account),
        "renewals_pending": int(renewals_pending),
        "renewals_expected": planted["auto_renewing"],
        "renewals_unexpected": int(renewals_unexpected),
    }
    found["ledger_audit"] = _audit(application)
    found["ok"] = _all_good(found)
    return found


def _audit(application: Any) -> dict[str, Any]:
    """The product's own audit (`topup ledger check`) over the whole ledger, with the time it took."""
    from topup.services.ledger import audit_ledger

    started = time.perf_counter()
    audit = audit_ledger(application.uow())
    return {
        "ok": audit.ok,
        "seconds": time.perf_counter() - started,
        "accounts": audit.accounts,
        "balance_mismatches": len(audit.balance_mismatches),
        "unit_mismatches": audit.unit_mismatches,
        "negative_balances": audit.negative_balances,
    }


def _all_good(found: dict[str, Any]) -> bool:
    zeros = ("buckets_unsettled", "buckets_not_empty", "buckets_balance_not_transfers", "renewals_unexpected")
    return (
        all(found[name] == 0 for name in zeros)
        and found["expiry_transfers_wrong_kind_or_account"] == 0
        and found["expired_kb"] == found["expired_kb_expected"]
        and found["renewals_pending"] == found["renewals_expected"]
        and found["ledger_audit"]["ok"]
    )


# -- phases and the section ------------------------------------------------------------------------------------


@contextmanager
def _application(database_url: str) -> Iterator[Any]:
    from topup.bootstrap import bootstrap
    from topup.config import Settings

    application = bootstrap(Settings(database_url=database_url, database_pool_size=2))
    try:
        yield application
    finally:
        application.close()


def run_phase(target: pg.PgTarget, phase: Phase, *, say: Callable[[str], None]) -> dict[str, Any]:
    """Plant the phase's expired buckets, run the job over them after a CHECKPOINT, check the outcome."""
    import psycopg

    lines_in_table = pg.table_rows(target, "lines")
    if lines_in_table < phase.line_count:
        raise RuntimeError(f"{phase.name}: {lines_in_table:,} lines provisioned, the phase needs {phase.line_count:,}")
    if lines_in_table > phase.line_count:  # the figure is then for more lines than its label says
        say(f"  {phase.name}: {lines_in_table:,} lines in the table, more than the {phase.line_count:,} intended")
    say(
        f"  {phase.name}: planting {phase.bundles:,} expired bundles on {phase.bundle_lines:,} of "
        f"{phase.line_count:,} lines (1 line in {phase.stride:,}, {BUCKETS_PER_LINE} buckets each)"
    )
    with (
        _application(target.sqlalchemy_url) as application,
        psycopg.connect(target.conninfo(), autocommit=True) as connection,
    ):
        now = datetime.now(UTC)
        backlog_before = expired_backlog(connection, now=now)
        planted = plant(connection, application, phase, now=now)
        plans = explain_queue(connection, msisdn=number_for(0), now=datetime.now(UTC))
        say(
            f"    planted in {planted['seconds']:.1f} s ({planted['partly_used']:,} partly used, "
            f"{planted['used_up']:,} used up, {planted['auto_renewing']:,} auto-renewing); CHECKPOINT; expiring"
        )
        say(f"    plans: {'; '.join(f'{name} by {plan_access(plan)}' for name, plan in plans.items())}")
        pg.checkpoint(target)
        job = run_job(application, connection, bundles_expected=phase.bundles + backlog_before)
        checks = check(connection, application, planted)
    say(
        f"    {job['bundles_settled']:,} bundles expired in {job['seconds']:.1f} s ({job['calls']} calls), "
        f"{job['bundles_per_second']:,.0f} bundles/s, median {job['median_call_ms_per_bundle']:.2f} ms/bundle; "
        f"per bundle {job['buffer_hits_per_bundle'] or 0:.0f} pages from shared buffers, "
        f"{job['buffer_reads_per_bundle'] or 0:.1f} from outside"
    )
    say(f"    checks {'ok' if checks['ok'] else 'FAILED'}{_audit_note(checks)}")
    return {
        "name": phase.name,
        "line_count": phase.line_count,
        "lines_in_table": lines_in_table,
        "bundles": phase.bundles,
        "bundle_lines": phase.bundle_lines,
        "backlog_before": backlog_before,
        "planted": planted,
        "plans": plans,
        "job": job,
        "checks": checks,
    }


def _audit_note(checks: dict[str, Any]) -> str:
    audit = checks["ledger_audit"]
    return f" (full ledger audit {'ok' if audit['ok'] else 'NOT OK'} in {audit['seconds']:.1f} s)"


def run_few_lines(target: pg.PgTarget, *, line_count: int, bundles: int, say: Callable[[str], None]) -> dict[str, Any]:
    """The first part, with the run's small line count provisioned (before the scale section adds lines)."""
    phase = Phase("few_lines", line_count, bundles)
    return {
        "buckets_per_line": BUCKETS_PER_LINE,
        "batch": JOB_BATCH,
        "phases": {phase.name: run_phase(target, phase, say=say)},
    }


def run_many_lines(
    target: pg.PgTarget,
    earlier: dict[str, Any],
    *,
    line_count: int,
    bundles: int,
    fewer_bundles: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The second part at `line_count` lines: bulk-add the lines the scale section did not (none if it ran),
    then fewer bundles and as many bundles as the first part, and the two ratios."""
    provisioning_seconds = _provision_up_to(target, line_count, say=say)
    phases = dict(earlier.get("phases", {}))
    for phase in (
        Phase("many_lines_fewer_bundles", line_count, fewer_bundles),
        Phase("many_lines", line_count, bundles),
    ):
        phases[phase.name] = run_phase(target, phase, say=say)
    return {
        **earlier,
        "buckets_per_line": BUCKETS_PER_LINE,
        "batch": JOB_BATCH,
        "phases": phases,
        "provisioning_seconds": provisioning_seconds,
        "lines_ratio": _seconds_ratio(phases, "many_lines", "few_lines"),
        "bundles_ratio": _seconds_ratio(phases, "many_lines", "many_lines_fewer_bundles"),
        "cpu_lines_ratio": _per_bundle_ratio(phases, job_cpu_ms_per_bundle),
        "pages_lines_ratio": _per_bundle_ratio(phases, job_pages_per_bundle),
    }


def _provision_up_to(target: pg.PgTarget, line_count: int, *, say: Callable[[str], None]) -> float | None:
    present = pg.table_rows(target, "lines")  # lines are numbered 0.. in order, chunk by committed chunk
    if present >= line_count:
        return None
    say(f"  bulk-provisioning lines {present:,} .. {line_count:,} (the scale section did not)")
    seconds = provision_pg(target.conninfo(), present, line_count)
    say(f"    provisioned in {seconds:.0f} s")
    return seconds


def _seconds_ratio(phases: dict[str, Any], numerator: str, denominator: str) -> float | None:
    if numerator not in phases or denominator not in phases:
        return None
    below = phases[denominator]["job"]["seconds"]
    return phases[numerator]["job"]["seconds"] / below if below else None


def job_cpu_ms_per_bundle(phase: dict[str, Any]) -> float | None:
    """CPU of the job's process and of PostgreSQL per bundle: steadier than wall time on a busy machine."""
    per_bundle = phase["job"]["cpu_ms_per_bundle"]
    if "client" not in per_bundle or "postgres" not in per_bundle:
        return None
    return float(per_bundle["client"] + per_bundle["postgres"])


def job_pages_per_bundle(phase: dict[str, Any]) -> float | None:
    """Pages the job read per bundle, from shared buffers or not: the work itself, whatever the machine does."""
    hits, reads = phase["job"]["buffer_hits_per_bundle"], phase["job"]["buffer_reads_per_bundle"]
    return None if hits is None or reads is None else float(hits + reads)


def _per_bundle_ratio(phases: dict[str, Any], figure: Callable[[dict[str, Any]], float | None]) -> float | None:
    """The figure with many lines over the same figure with few lines (same bundles)."""
    if "many_lines" not in phases or "few_lines" not in phases:
        return None
    above, below = figure(phases["many_lines"]), figure(phases["few_lines"])
    return above / below if above is not None and below else None
