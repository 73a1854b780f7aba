"""Notifications: queued once per event with what caused it, sent by the worker, rendered in the line's language."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.factories import buy_bundle, make_line, use_data
from tests.fakes import RecordingEmail, RecordingSms, RecordingWebhook
from topup.adapters.clock import FixedClock
from topup.adapters.notifications.render import SUBJECTS, TEMPLATES, NotificationTexts, render
from topup.bootstrap import Application
from topup.domain.errors import InvalidInput
from topup.domain.notifications import Notification, NotificationKind
from topup.domain.webhooks import signature
from topup.services import charging, lifecycle, notifications, topups
from topup.services.channels import ChannelUnavailable
from topup.services.notifications import Rendered
from topup.services.ports import Clock


@pytest.fixture
def sms() -> RecordingSms:
    return RecordingSms()


@pytest.fixture
def email() -> RecordingEmail:
    return RecordingEmail()


@pytest.fixture
def webhook() -> RecordingWebhook:
    return RecordingWebhook()


@pytest.fixture
def notifier(
    application: Application, sms: RecordingSms, email: RecordingEmail, webhook: RecordingWebhook
) -> notifications.Notifier:
    return notifications.Notifier(application.clock, NotificationTexts(), sms, email, webhook)


def notifier_at(clock: Clock, sms: RecordingSms) -> notifications.Notifier:
    return notifications.Notifier(clock, NotificationTexts(), sms, RecordingEmail(), RecordingWebhook())


def top_up(application: Application, number: str, amount_qepik: int = 500) -> None:
    topups.top_up(
        application.uow(), application.clock, application.codes, number=number, amount_qepik=amount_qepik, channel="api"
    )


def told(application: Application, number: str) -> list[str]:
    return sorted(n.kind.value for n in notifications.inbox(application.uow(), number=number))


def text_of(application: Application, number: str, kind: NotificationKind) -> str:
    [found] = [n for n in notifications.inbox(application.uow(), number=number) if n.kind is kind]
    return render(found).text


def test_a_top_up_is_told_once_in_the_lines_language_and_sent_by_sms(
    application: Application, notifier: notifications.Notifier, sms: RecordingSms
) -> None:
    number = make_line(application, language="az").msisdn.e164
    top_up(application, number)

    assert told(application, number) == ["topup_done"]
    assert text_of(application, number, NotificationKind.TOPUP_DONE).startswith("Balansınız 5,00\xa0₼ artırıldı.")
    assert notifications.deliver_due(application.uow(), notifier) == 1
    assert notifications.deliver_due(application.uow(), notifier) == 0
    [sent] = notifications.inbox(application.uow(), number=number)
    assert sent.sent_at == application.clock.now()
    assert sent.deliveries == {"sms": "sent m1"}
    assert sms.sent == [(number, text_of(application, number, NotificationKind.TOPUP_DONE))]


def test_a_channel_that_fails_is_tried_again_later_then_given_up(
    application: Application, clock: FixedClock, sms: RecordingSms
) -> None:
    number = make_line(application, balance_qepik=500).msisdn.e164
    sms.failures = [ChannelUnavailable("throttled", retryable=True) for _ in range(6)]
    notifier = notifier_at(clock, sms)

    assert notifications.deliver_due(application.uow(), notifier) == 1
    [waiting] = notifications.inbox(application.uow(), number=number)
    assert (waiting.sent_at, waiting.attempts, waiting.pending_channels) == (None, 1, ["sms"])
    assert waiting.deliveries == {"sms": "retrying: throttled"}
    assert notifications.deliver_due(application.uow(), notifier) == 0  # not before a minute has passed
    for delay_seconds in (60, 300, 1800, 7200):
        clock.advance(timedelta(seconds=delay_seconds))
        assert notifications.deliver_due(application.uow(), notifier) == 1
    clock.advance(timedelta(seconds=21_600))
    assert notifications.deliver_due(application.uow(), notifier) == 1

    [given_up] = notifications.inbox(application.uow(), number=number)
    assert (given_up.sent_at, given_up.attempts, given_up.pending_channels) == (clock.now(), 6, [])
    assert given_up.deliveries == {"sms": "failed: gave up after 6 tries"}
    assert sms.sent == []


def test_a_channel_that_fails_for_good_is_not_tried_again(
    application: Application, clock: FixedClock, sms: RecordingSms
) -> None:
    number = make_line(application, balance_qepik=500).msisdn.e164
    sms.failures = [ChannelUnavailable("invalid destination (0x0B)", retryable=False)]

    assert notifications.deliver_due(application.uow(), notifier_at(clock, sms)) == 1

    [failed] = notifications.inbox(application.uow(), number=number)
    assert (failed.sent_at, failed.pending_channels) == (clock.now(), [])
    assert failed.deliveries == {"sms": "failed: invalid destination (0x0B)"}


def test_a_leased_batch_is_not_taken_by_another_worker_until_the_lease_ends(
    application: Application, clock: FixedClock, sms: RecordingSms
) -> None:
    number = make_line(application, balance_qepik=500).msisdn.e164
    now = clock.now()
    with application.uow() as uow:  # a worker leases the batch, then dies before sending
        assert len(uow.notifications.lease_unsent(now=now, lease_until=now + notifications.LEASE, limit=50)) == 1
        uow.commit()

    assert notifications.deliver_due(application.uow(), notifier_at(clock, sms)) == 0
    clock.advance(notifications.LEASE)
    assert notifications.deliver_due(application.uow(), notifier_at(clock, sms)) == 1
    assert [to for to, _ in sms.sent] == [number]


def test_each_line_is_told_by_the_channels_it_chose(
    application: Application,
    notifier: notifications.Notifier,
    sms: RecordingSms,
    email: RecordingEmail,
    webhook: RecordingWebhook,
) -> None:
    number = make_line(application, language="ru").msisdn.e164
    settings = notifications.change_settings(
        application.uow(),
        application.clock,
        number=number,
        sms=False,
        email_address="aysel@example.az",
        webhook_url="https://hooks.example.az/topup",
        muted=["balance_low"],
    )
    top_up(application, number)

    assert notifications.deliver_due(application.uow(), notifier) == 1

    text = text_of(application, number, NotificationKind.TOPUP_DONE)
    assert sms.sent == []
    assert email.sent == [("aysel@example.az", "Topup: Баланс пополнен", text, "ru")]
    [(url, body, headers)] = webhook.posted
    payload = json.loads(body)
    assert url == "https://hooks.example.az/topup"
    assert (payload["type"], payload["msisdn"], payload["text"]) == ("notification.topup_done", number, text)
    timestamp = int(headers["Topup-Signature"].split(",")[0].removeprefix("t="))
    assert headers["Topup-Signature"] == signature(settings.webhook_secret or "", timestamp, body)
    [sent] = notifications.inbox(application.uow(), number=number)
    assert sent.deliveries == {"email": "sent e-mail", "webhook": "sent HTTP 200"}


def test_a_muted_kind_is_kept_in_the_inbox_but_sent_by_no_channel(
    application: Application, notifier: notifications.Notifier, sms: RecordingSms
) -> None:
    number = make_line(application).msisdn.e164
    notifications.change_settings(
        application.uow(),
        application.clock,
        number=number,
        sms=True,
        email_address=None,
        webhook_url=None,
        muted=["topup_done"],
    )
    top_up(application, number)

    assert notifications.deliver_due(application.uow(), notifier) == 1
    [kept] = notifications.inbox(application.uow(), number=number)
    assert (kept.sent_at, kept.deliveries, sms.sent) == (application.clock.now(), {}, [])


def test_a_webhook_that_answers_5xx_is_retried_and_4xx_is_not(
    application: Application, clock: FixedClock, webhook: RecordingWebhook
) -> None:
    number = make_line(application).msisdn.e164
    notifications.change_settings(
        application.uow(),
        application.clock,
        number=number,
        sms=False,
        email_address=None,
        webhook_url="https://hooks.example.az/t",
        muted=[],
    )
    top_up(application, number)
    top_up(application, number)
    webhook.statuses = [503, 410]
    notifier = notifications.Notifier(clock, NotificationTexts(), RecordingSms(), RecordingEmail(), webhook)

    assert notifications.deliver_due(application.uow(), notifier) == 2

    first, second = sorted(notifications.inbox(application.uow(), number=number), key=lambda n: n.deliveries["webhook"])
    assert (first.deliveries, first.pending_channels) == ({"webhook": "failed: HTTP 410"}, [])
    assert (second.deliveries, second.pending_channels) == ({"webhook": "retrying: HTTP 503"}, ["webhook"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email_address": "not an address"}, "email"),
        ({"email_address": "a@b.c\r\nBcc: x@y.z"}, "email"),
        ({"webhook_url": "ftp://example.az/hook"}, "url"),
        ({"muted": ["no_such_kind"]}, "muted"),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(
    application: Application, changes: dict[str, object], field: str
) -> None:
    number = make_line(application).msisdn.e164
    arguments: dict[str, object] = {"sms": True, "email_address": None, "webhook_url": None, "muted": [], **changes}

    with pytest.raises(InvalidInput) as refused:
        notifications.change_settings(application.uow(), application.clock, number=number, **arguments)  # type: ignore[arg-type]

    assert refused.value.details["field"] == field
    assert notifications.settings_of(application.uow(), number=number) == notifications.NotificationSettings(number)


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

    # The purchase took the balance from 15.00 to 0.00: that fall is told too.
    assert told(application, number) == [
        "balance_low",
        "bundle_expiring_1d",
        "bundle_expiring_3d",
        "renewal_failed",
        "topup_done",
    ]
    assert "余额不足" in text_of(application, number, NotificationKind.RENEWAL_FAILED)


@pytest.mark.parametrize("language", ["az", "en", "ru", "zh"])
@pytest.mark.parametrize("kind", list(NotificationKind))
def test_every_notification_reads_well_in_every_language(language: str, kind: NotificationKind) -> None:
    params = {
        "amount_qepik": "1050",
        "balance_qepik": "95",
        "date": "2026-12-31",
        "percent": "75",
        "card": "Visa •••• 4242",
        **{f"bundle_{code}": f"Bundle {code}" for code in ("az", "en", "ru", "zh")},
    }
    rendered = render(Notification("n1", "+994501234567", kind, "k", language, params))

    assert kind in TEMPLATES[language]
    assert kind in SUBJECTS[language]
    assert rendered.subject == f"Topup: {SUBJECTS[language][kind]}"
    assert rendered.language == language
    assert "{" not in rendered.text
    assert "}" not in rendered.text
    assert ".." not in rendered.text


def test_a_notification_is_not_sent_before_the_senders_clock_reaches_it(
    application: Application, clock: FixedClock
) -> None:
    number = make_line(application, balance_qepik=500).msisdn.e164
    behind = FixedClock(clock.now() - timedelta(days=1))  # a simulator replaying yesterday

    assert notifications.deliver_due(application.uow(), notifier_at(behind, RecordingSms())) == 0
    assert notifications.inbox(application.uow(), number=number)[0].sent_at is None
    assert notifications.deliver_due(application.uow(), notifier_at(clock, RecordingSms())) == 1


class _BrokenTemplateFor(NotificationTexts):
    """Texts whose template cannot render for one number's notifications."""

    def __init__(self, msisdn: str) -> None:
        self.msisdn = msisdn

    def render(self, notification: Notification) -> Rendered:
        if notification.msisdn == self.msisdn:
            raise KeyError("amount")  # as a template missing a parameter fails
        return super().render(notification)


def test_a_batch_goes_by_each_lines_channels_and_what_was_sent_before_a_failure_stays_sent(
    application: Application, clock: FixedClock, sms: RecordingSms, email: RecordingEmail
) -> None:
    first, second, third, fourth = (make_line(application).msisdn.e164 for _ in range(4))
    notifications.change_settings(
        application.uow(),
        application.clock,
        number=second,
        sms=False,
        email_address="second@example.az",
        webhook_url=None,
        muted=[],
    )
    for number in (first, second, third, fourth):  # told in this order: a minute apart
        clock.advance(timedelta(minutes=1))
        top_up(application, number)
    broken = notifications.Notifier(clock, _BrokenTemplateFor(third), sms, email, RecordingWebhook())

    with pytest.raises(KeyError):
        notifications.deliver_due(application.uow(), broken)

    assert [to for to, _ in sms.sent] == [first]
    assert [to for to, *_ in email.sent] == ["second@example.az"]
    outcomes = {n: notifications.inbox(application.uow(), number=n)[0] for n in (first, second, third, fourth)}
    assert {n: (o.sent_at, o.deliveries) for n, o in outcomes.items()} == {
        first: (clock.now(), {"sms": "sent m1"}),
        second: (clock.now(), {"email": "sent e-mail"}),
        third: (None, {}),
        fourth: (None, {}),
    }
    healthy = notifier_at(clock, sms)
    assert notifications.deliver_due(application.uow(), healthy) == 0  # the rest stay leased by the failed pass
    clock.advance(notifications.LEASE)
    assert notifications.deliver_due(application.uow(), healthy) == 2
    assert [to for to, _ in sms.sent] == [first, third, fourth]
    assert notifications.deliver_due(application.uow(), healthy) == 0
