"""The SMTP e-mail sender against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from topup.adapters.notifications.smtp import SmtpEmailSender
from topup.services.channels import ChannelUnavailable

SENDER = "bildiris@topup.az"
RECIPIENT = "aysel.mammadova@example.az"
USERNAME = "topup-mailer"
PASSWORD = "correct horse battery staple"
TIMEOUT_SECONDS = 5.0


class RecordingHandler:
    """Accepts every message; counts the sessions that greeted it, to prove when nothing was even attempted."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.greetings = 0

    async def handle_EHLO(  # noqa: N802 (aiosmtpd's hook names)
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.greetings += 1
        session.host_name = hostname  # what aiosmtpd does itself when no hook is set
        return responses

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 2.0.0 Message accepted"

    def received(self) -> EmailMessage:
        (envelope,) = self.envelopes
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


class RecipientReplyHandler(RecordingHandler):
    """Answers RCPT TO with a fixed reply (550 refused, 451 try later)."""

    def __init__(self, reply: str) -> None:
        super().__init__()
        self.reply = reply

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        return self.reply


def _authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    valid = isinstance(data, LoginPassword) and data == (USERNAME.encode(), PASSWORD.encode())
    return AuthResult(success=valid, handled=False)  # not handled: aiosmtpd answers 535 itself


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


StartServer = Callable[..., Controller]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Starts aiosmtpd on a free loopback port; every server started is stopped after the test."""
    controllers: list[Controller] = []

    def start(handler: RecordingHandler, **smtp_options: Any) -> Controller:
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), **smtp_options)
        controller.start()
        controllers.append(controller)
        return controller

    yield start
    for controller in controllers:
        if controller._thread is not None:  # not stopped by the test itself
            controller.stop()


def _sender(controller: Controller, **options: Any) -> SmtpEmailSender:
    return SmtpEmailSender(
        "127.0.0.1", controller.port, sender_address=SENDER, timeout_seconds=TIMEOUT_SECONDS, **options
    )


@pytest.mark.parametrize(
    ("language", "subject", "text"),
    [
        ("az", "Balansınız artırıldı", "Hörmətli abunəçi, 050 123 45 67 nömrəsinə 5,00 ₼ yükləndi. Təşəkkür edirik!"),
        ("ru", "Баланс пополнен", "Уважаемый абонент, на номер 050 123 45 67 зачислено 5,00 ₼.\nСпасибо!"),
        ("zh", "充值成功", "尊敬的用户，您的号码 050 123 45 67 已充值 5.00 马纳特。谢谢！"),
    ],
)
def test_a_message_arrives_in_utf8_with_its_language_id_and_date(
    start_server: StartServer, language: str, subject: str, text: str
) -> None:
    handler = RecordingHandler()
    sender = _sender(start_server(handler))

    sender.send_email(to_address=RECIPIENT, subject=subject, text=text, language=language)

    (envelope,) = handler.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == [RECIPIENT]
    message = handler.received()
    assert message["From"] == SENDER
    assert message["To"] == RECIPIENT
    assert message["Subject"] == subject
    assert message["Content-Language"] == language
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == text + "\n"  # MIME ends a text body with a line break
    assert re.fullmatch(r"<[^<>@\s]+@topup\.az>", message["Message-ID"])
    assert parsedate_to_datetime(message["Date"]).utcoffset() is not None


def test_logs_in_when_given_credentials(start_server: StartServer) -> None:
    handler = RecordingHandler()
    controller = start_server(handler, authenticator=_authenticate, auth_require_tls=False)

    _sender(controller, username=USERNAME, password=PASSWORD).send_email(
        to_address=RECIPIENT, subject="Salam", text="Salam!", language="az"
    )

    assert handler.received()["Subject"] == "Salam"


def test_refused_credentials_535_are_final_and_the_message_keeps_the_password_out(start_server: StartServer) -> None:
    handler = RecordingHandler()
    controller = start_server(handler, authenticator=_authenticate, auth_require_tls=False)
    sender = _sender(controller, username=USERNAME, password="wrong password")

    with pytest.raises(ChannelUnavailable) as refused:
        sender.send_email(to_address=RECIPIENT, subject="Salam", text="Salam!", language="az")

    assert refused.value.retryable is False
    assert str(refused.value).startswith("the server refused: 535 ")
    assert "wrong password" not in str(refused.value)
    assert "wrong password" not in repr(sender)
    assert handler.envelopes == []


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [
        pytest.param("550 5.1.1 No such mailbox", False, id="550-refused-final"),
        pytest.param("451 4.3.0 Try again later", True, id="451-try-later-retryable"),
    ],
)
def test_a_recipient_reply_says_whether_to_retry(start_server: StartServer, reply: str, retryable: bool) -> None:
    handler = RecipientReplyHandler(reply)
    sender = _sender(start_server(handler))

    with pytest.raises(ChannelUnavailable) as refused:
        sender.send_email(to_address=RECIPIENT, subject="Salam", text="Salam!", language="az")

    assert refused.value.retryable is retryable
    assert str(refused.value) == f"recipient refused: {reply}"
    assert handler.envelopes == []


def test_a_stopped_server_refuses_the_connection_which_is_retryable(start_server: StartServer) -> None:
    handler = RecordingHandler()
    controller = start_server(handler)
    sender = _sender(controller)
    controller.stop()

    with pytest.raises(ChannelUnavailable) as unreachable:
        sender.send_email(to_address=RECIPIENT, subject="Salam", text="Salam!", language="az")

    assert unreachable.value.retryable is True
    assert "ConnectionRefusedError" in str(unreachable.value)
    assert handler.envelopes == []


def test_a_server_that_never_greets_times_out_which_is_retryable() -> None:
    with socket.socket() as silent:  # accepts connections in the kernel's backlog, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        sender = SmtpEmailSender("127.0.0.1", silent.getsockname()[1], sender_address=SENDER, timeout_seconds=0.2)

        with pytest.raises(ChannelUnavailable) as timed_out:
            sender.send_email(to_address=RECIPIENT, subject="Salam", text="Salam!", language="az")

    assert timed_out.value.retryable is True
    assert str(timed_out.value) == "the SMTP server hung up: Connection unexpectedly closed: timed out"


def test_starttls_is_required_when_configured_never_skipped(start_server: StartServer) -> None:
    handler = RecordingHandler()  # offers no STARTTLS
    sender = _sender(start_server(handler), security="starttls")

    with pytest.raises(ChannelUnavailable) as unsuitable:
        sender.send_email(to_address=RECIPIENT, subject="Salam", text="Salam!", language="az")

    assert unsuitable.value.retryable is False
    assert "STARTTLS" in str(unsuitable.value)
    assert handler.envelopes == []


@pytest.mark.parametrize(
    ("to_address", "subject", "language"),
    [
        pytest.param(f"{RECIPIENT}\r\nBcc: spy@evil.example", "Salam", "az", id="crlf-in-address"),
        pytest.param(f"{RECIPIENT}>\r\nRCPT TO:<spy@evil.example", "Salam", "az", id="smtp-command-in-address"),
        pytest.param(f"{RECIPIENT}, spy@evil.example", "Salam", "az", id="second-address"),
        pytest.param("Aysel <aysel@example.az>", "Salam", "az", id="display-name"),
        pytest.param(RECIPIENT, "Salam\r\nBcc: spy@evil.example", "az", id="crlf-in-subject"),
        pytest.param(RECIPIENT, "Salam\nBcc: spy@evil.example", "az", id="lf-in-subject"),
        pytest.param(RECIPIENT, "Salam\u2028Bcc: spy@evil.example", "az", id="line-separator-in-subject"),
        pytest.param(RECIPIENT, "Salam", "az\r\nBcc: spy@evil.example", id="crlf-in-language"),
    ],
)
def test_header_injection_is_refused_before_connecting(
    start_server: StartServer, to_address: str, subject: str, language: str
) -> None:
    handler = RecordingHandler()
    sender = _sender(start_server(handler))

    with pytest.raises(ChannelUnavailable) as refused:
        sender.send_email(to_address=to_address, subject=subject, text="Salam!", language=language)

    assert refused.value.retryable is False
    assert handler.greetings == 0
    assert handler.envelopes == []


def test_a_bad_configuration_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="sender_address"):
        SmtpEmailSender("127.0.0.1", 25, sender_address="topup.az\r\nBcc: spy@evil.example")
    with pytest.raises(ValueError, match="security"):
        SmtpEmailSender("127.0.0.1", 25, sender_address=SENDER, security="ssl")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="together"):
        SmtpEmailSender("127.0.0.1", 25, sender_address=SENDER, username=USERNAME)
