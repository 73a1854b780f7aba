"""The composition root wires the real channels from settings: a top-up's notification travels by SMPP to an SMSC
and by SMTP to a mail server (both on loopback), sent by the worker."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import SAMPLE_CATALOGUE
from tests.factories import make_line
from topup.adapters.clock import FixedClock
from topup.adapters.notifications.fake_smsc import FakeSmsc
from topup.bootstrap import Application, bootstrap
from topup.config import Settings
from topup.entrypoints import worker
from topup.services import catalogue, notifications, topups


class Mailbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 2.0.0 Message accepted"


@pytest.fixture
def smsc() -> Iterator[FakeSmsc]:
    server = FakeSmsc(system_id="topup", password="smsc-pw1").start()
    yield server
    server.stop()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def wired(database_url: str, clock: FixedClock, smsc: FakeSmsc, mailbox: tuple[Mailbox, int]) -> Iterator[Application]:
    settings = Settings(
        database_url=database_url,
        catalogue_recheck_seconds=0,
        worker_in_process=False,
        sandbox_enabled=False,
        smpp_host="127.0.0.1",
        smpp_port=smsc.port,
        smpp_system_id="topup",
        smpp_password="smsc-pw1",
        smpp_source_addr="Topup",
        smtp_host="127.0.0.1",
        smtp_port=mailbox[1],
        smtp_security="none",
        smtp_sender="bildiris@topup.az",
    )
    application = bootstrap(settings, clock=clock)
    catalogue.load_catalogue(application.uow(), clock, source=SAMPLE_CATALOGUE.read_text(encoding="utf-8"))
    yield application
    application.close()


def test_the_worker_sends_a_notification_by_sms_and_by_e_mail(
    wired: Application, smsc: FakeSmsc, mailbox: tuple[Mailbox, int]
) -> None:
    number = make_line(wired, language="az").msisdn.e164
    notifications.change_settings(
        wired.uow(), wired.clock, number=number, sms=True, email_address="aysel@example.az", webhook_url=None, muted=[]
    )
    topups.top_up(wired.uow(), wired.clock, wired.codes, number=number, amount_qepik=500, channel="api")

    worker.run_once(wired)

    [sent] = notifications.inbox(wired.uow(), number=number)
    [sms] = smsc.messages()
    assert (sms.destination_addr, sms.source_addr, sms.data_coding) == (number.removeprefix("+"), "Topup", 0x08)
    assert sms.text.startswith("Balansınız 5,00\xa0₼ artırıldı.")
    [envelope] = mailbox[0].envelopes
    mail = message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[arg-type]
    assert (mail["To"], mail["Subject"], mail["Content-Language"]) == (
        "aysel@example.az",
        "Topup: Balans artırıldı",
        "az",
    )
    assert mail.get_content().strip() == sms.text
    assert sent.sent_at == wired.clock.now()
    assert sent.deliveries == {"email": "sent e-mail", "sms": f"sent {','.join(sms.message_ids)}"}
    assert len(sms.message_ids) == 2  # Azerbaijani needs UCS2: 70 characters a part
