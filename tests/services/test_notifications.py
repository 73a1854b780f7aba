"""Notifications: queued once per event with what caused it, sent by the worker, rendered in the line's language."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.factories import buy_bundle, make_line, use_data
from topup.adapters.clock import FixedClock
from topup.adapters.notifications.inbox import DevInboxSender
from topup.adapters.notifications.render import TEMPLATES, render
from topup.bootstrap import Application
from topup.domain.notifications import Notification, NotificationKind
from topup.services import charging, lifecycle, notifications, topups


def told(application: Application, number: str) -> list[str]:
    return sorted(n.kind.value for n in notifications.inbox(application.uow(), number=number))


def text_of(application: Application, number: str, kind: NotificationKind) -> str:
    [found] = [n for n in notifications.inbox(application.uow(), number=number) if n.kind is kind]
    return render(found).text


def test_a_top_up_is_told_once_in_the_lines_language_and_sent_by_the_worker(application: Application) -> None:
    number = make_line(application, language="az").msisdn.e164
    topups.top_up(
        application.uow(), application.clock, application.codes, number=number, amount_qepik=500, channel="api"
    )

    assert told(application, number) == ["topup_done"]
    assert text_of(application, number, NotificationKind.TOPUP_DONE).startswith("Balansınız 5,00\xa0₼ artırıldı.")
    assert notifications.deliver_due(application.uow(), application.clock, DevInboxSender()) == 1
    assert notifications.deliver_due(application.uow(), application.clock, DevInboxSender()) == 0
    [sent] = notifications.inbox(application.uow(), number=number)
    assert sent.sent_at == application.clock.now()


def test_a_sender_that_fails_leaves_the_notification_for_the_next_pass(application: Application) -> None:
    class Down:
        def send(self, notification: Notification) -> None:
            raise ConnectionError("SMS centre unreachable")

    number = make_line(application, balance_qepik=500).msisdn.e164

    assert notifications.deliver_due(application.uow(), application.clock, Down()) == 0
    assert notifications.inbox(application.uow(), number=number)[0].sent_at is None
    assert notifications.deliver_due(application.uow(), application.clock, DevInboxSender()) == 1


def test_data_use_is_told_at_75_and_90_percent_once_each(application: Application) -> None:
    number = make_line(application, balance_qepik=500, language="en").msisdn.e164
    buy_bundle(application, number, "azercell-1gb-1d")

    use_data(application, number, 700_000)
    assert told(application, number) == ["topup_done"]
    use_data(application, number, 100_000)  # 80 %
    use_data(application, number, 10_000)
    assert told(application, number) == ["data_75", "topup_done"]
    use_data(application, number, 150_000)  # 96 %
    use_data(application, number, 10_000)

    assert told(application, number) == ["data_75", "data_90", "topup_done"]
    assert text_of(application, number, NotificationKind.DATA_90) == "You have used 90% of the data in Daily 1 GB."


def test_a_low_balance_is_told_when_it_falls_below_the_mark_not_on_every_debit(application: Application) -> None:
    number = make_line(application, balance_qepik=110, language="ru").msisdn.e164

    for _ in range(4):  # 110 -> 105 -> 100 -> 95 (told) -> 90
        charging.charge_event(application.uow(), application.charging, number=number)

    assert told(application, number) == ["balance_low", "topup_done"]
    assert text_of(application, number, NotificationKind.BALANCE_LOW).startswith(
        "На вашем балансе мало средств: 0,95\xa0"
    )


def test_renewals_and_upcoming_ends_are_told_once(application: Application, clock: FixedClock) -> None:
    number = make_line(application, balance_qepik=1500, language="zh").msisdn.e164
    buy_bundle(application, number, "azercell-10gb-30d")

    clock.advance(timedelta(days=27, hours=1))
    for _ in range(2):
        lifecycle.warn_upcoming(application.uow(), application.lifecycle)
    clock.advance(timedelta(days=2))
    lifecycle.warn_upcoming(application.uow(), application.lifecycle)
    clock.advance(timedelta(days=1))
    lifecycle.expire_bundles(application.uow(), application.lifecycle)
    for _ in range(2):
        lifecycle.renew_due(application.uow(), application.lifecycle)
        clock.advance(timedelta(days=1))

    assert told(application, number) == ["bundle_expiring_1d", "bundle_expiring_3d", "renewal_failed", "topup_done"]
    assert "余额不足" in text_of(application, number, NotificationKind.RENEWAL_FAILED)


@pytest.mark.parametrize("language", ["az", "en", "ru", "zh"])
@pytest.mark.parametrize("kind", list(NotificationKind))
def test_every_notification_reads_well_in_every_language(language: str, kind: NotificationKind) -> None:
    params = {
        "amount_qepik": "1050",
        "balance_qepik": "95",
        "date": "2026-12-31",
        "percent": "75",
        **{f"bundle_{code}": f"Bundle {code}" for code in ("az", "en", "ru", "zh")},
    }
    rendered = render(Notification("n1", "+994501234567", kind, "k", language, params))

    assert kind in TEMPLATES[language]
    assert rendered.language == language
    assert "{" not in rendered.text
    assert "}" not in rendered.text
    assert ".." not in rendered.text


def test_a_notification_is_not_sent_before_the_senders_clock_reaches_it(
    application: Application, clock: FixedClock
) -> None:
    number = make_line(application, balance_qepik=500).msisdn.e164
    behind = FixedClock(clock.now() - timedelta(days=1))  # a simulator replaying yesterday

    assert notifications.deliver_due(application.uow(), behind, DevInboxSender()) == 0
    assert notifications.inbox(application.uow(), number=number)[0].sent_at is None
    assert notifications.deliver_due(application.uow(), clock, DevInboxSender()) == 1
