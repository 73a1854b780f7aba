"""The worker: settles orders left unfinished (unknown answers, crashes, abandoned 3-D Secure), delivers
webhooks and notifications from their outboxes, ends silent charging sessions, expires and renews bundles,
runs due auto-recharges, forfeits balances past their grace, and expires scratch cards past their date.

`topup worker` runs it on its own; `topup serve` runs one in a thread of every server process (off with
TOPUP_WORKER_IN_PROCESS=false). Several workers at once are safe: on PostgreSQL each takes due orders with
SKIP LOCKED, and every step of the saga re-checks the order under its row lock.
"""

from __future__ import annotations

import logging
import threading

from topup.bootstrap import Application
from topup.services import auto_recharge, charging, lifecycle, notifications, orders, vouchers, webhooks

logger = logging.getLogger("topup.worker")
BATCH_SIZE = 50


def run_once(application: Application) -> int:
    """Settle every order that is due now, deliver due webhooks, end charging sessions not heard from in time,
    expire bundles and renew the auto-renewing ones, batch by batch. Returns how many things were looked at."""

    def settle() -> int:
        return orders.settle_due(application.uow(), application.saga, limit=BATCH_SIZE)

    def deliver() -> int:
        return webhooks.deliver_due(application.uow(), application.clock, application.webhook_sender, limit=BATCH_SIZE)

    def end_silent_sessions() -> int:
        return charging.end_expired(application.uow(), application.charging, limit=BATCH_SIZE)

    def expire_bundles() -> int:
        return lifecycle.expire_bundles(application.uow(), application.lifecycle, limit=BATCH_SIZE)

    def renew_bundles() -> int:
        return lifecycle.renew_due(application.uow(), application.lifecycle, limit=BATCH_SIZE)

    def forfeit_balances() -> int:
        return lifecycle.forfeit_balances(application.uow(), application.lifecycle, limit=BATCH_SIZE)

    def send_notifications() -> int:
        return notifications.deliver_due(application.uow(), application.notifier, limit=BATCH_SIZE)

    def auto_recharges() -> int:
        return auto_recharge.run_due(application.uow(), application.saga, limit=BATCH_SIZE)

    def expire_vouchers() -> int:
        return vouchers.expire_due(application.uow(), application.clock, limit=BATCH_SIZE)

    lifecycle.warn_upcoming(application.uow(), application.lifecycle)  # once a pass: it only queues, once each
    total = 0
    steps = (
        settle,
        deliver,
        end_silent_sessions,
        expire_bundles,
        renew_bundles,
        auto_recharges,
        forfeit_balances,
        expire_vouchers,
        send_notifications,
    )
    for step in steps:
        while True:
            seen = step()
            total += seen
            if seen < BATCH_SIZE:
                break
    return total


def run_until_stopped(application: Application, stop: threading.Event, *, interval_seconds: float) -> None:
    while not stop.is_set():
        try:
            run_once(application)
        except Exception:  # a bad order or a provider outage must not kill the worker; log and go on
            logger.exception("worker pass failed")
        stop.wait(interval_seconds)


def start_in_thread(application: Application) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_until_stopped,
        args=(application, stop),
        kwargs={"interval_seconds": application.settings.worker_interval_seconds},
        name="topup-worker",
        daemon=True,
    )
    thread.start()
    return thread, stop
