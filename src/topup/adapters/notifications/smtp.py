"""E-mail over SMTP: `EmailSender` spoken to a mail server with the standard library (`smtplib`).

One connection per message: notifications are few, and a connection kept open would go stale between the
worker's passes. The message is plain text in UTF-8 (Azerbaijani, Cyrillic and Chinese survive), with a
`Content-Language`, a `Message-ID` under the sender's domain and a `Date`.

Errors say what a retry can do (`ChannelUnavailable.retryable`):
- retryable: the server cannot be reached (refused, timed out, name not resolved), it hung up, or it answered
  4xx ("try again later": greylisting, a full queue, 451 local error).
- final: it answered 5xx (550 no such mailbox, 535 credentials refused, 554 rejected), or it lacks what the
  configuration asks for (STARTTLS, AUTH, SMTPUTF8), or its certificate does not verify.
Addresses, subject and language are checked before connecting: a CR or LF in any of them is refused, so a
caller's text can never add a header (`Bcc:`) or a recipient. Nothing here logs or puts in a message the
password.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal

from topup.services.channels import ChannelUnavailable

Security = Literal["none", "starttls", "tls"]

ADDRESS_LENGTH_MAX = 254  # RFC 5321's path limit, less the angle brackets
SUBJECT_LENGTH_MAX = 250
TEXT_LENGTH_MAX = 100_000
# Deliberately narrow: one @, no spaces, no control characters, none of the characters that would let an
# address carry a second address or a display name. Unicode letters are allowed (SMTPUTF8 servers take them).
_ADDRESS = re.compile(r"[^\s\x00-\x1f\x7f@<>,;:\"()\[\]\\]{1,64}@[^\s\x00-\x1f\x7f@<>,;:\"()\[\]\\]{1,253}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")
# Control characters and every other character `str.splitlines` breaks at: the header folder splits on those.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _checked_address(address: str) -> str:
    if len(address) > ADDRESS_LENGTH_MAX or not _ADDRESS.fullmatch(address):
        raise ChannelUnavailable(f"not an e-mail address: {address!r}", retryable=False)
    return address


class SmtpEmailSender:
    """`security`: "none" (plain, for a relay on localhost), "starttls" (plain then upgraded, usually port 587;
    a server without STARTTLS is refused, never used in clear) or "tls" (TLS from the first byte, port 465).
    Each network operation waits at most `timeout_seconds`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender_address: str,
        username: str | None = None,
        password: str | None = None,
        security: Security = "none",
        timeout_seconds: float = 10.0,
    ) -> None:
        if not _ADDRESS.fullmatch(sender_address) or len(sender_address) > ADDRESS_LENGTH_MAX:
            raise ValueError(f"sender_address is not an e-mail address: {sender_address!r}")
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"security must be none, starttls or tls, not {security!r}")
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._host = host
        self._port = port
        self._sender_address = sender_address
        self._username = username
        self._password = password
        self._security = security
        self._timeout_seconds = timeout_seconds

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"SmtpEmailSender({self._host!r}, {self._port}, security={self._security!r})"

    def send_email(self, *, to_address: str, subject: str, text: str, language: str) -> None:
        message = self._message(to_address=to_address, subject=subject, text=text, language=language)
        try:
            self._deliver(message, to_address)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise _reply_error("recipient refused", code, reply) from None
        except smtplib.SMTPResponseException as error:  # sender refused, DATA refused, AUTH refused, greeting
            raise _reply_error("the server refused", error.smtp_code, error.smtp_error) from None
        except smtplib.SMTPServerDisconnected as error:
            raise ChannelUnavailable(f"the SMTP server hung up: {error}", retryable=True) from None
        except smtplib.SMTPException as error:  # not supported (STARTTLS, AUTH, SMTPUTF8), no common AUTH method
            raise ChannelUnavailable(f"SMTP server unsuitable: {error}", retryable=False) from None
        except ssl.SSLCertVerificationError as error:
            raise ChannelUnavailable(f"SMTP server certificate refused: {error}", retryable=False) from None
        except OSError as error:  # refused, timed out, reset, name not resolved, TLS handshake broken
            raise ChannelUnavailable(f"SMTP server unreachable: {error!r}", retryable=True) from None

    def _message(self, *, to_address: str, subject: str, text: str, language: str) -> EmailMessage:
        _checked_address(to_address)
        if _CONTROL.search(subject) or len(subject) > SUBJECT_LENGTH_MAX:
            raise ChannelUnavailable("subject has a line break or control character, or is too long", retryable=False)
        if not _LANGUAGE.fullmatch(language):
            raise ChannelUnavailable(f"not a language tag: {language!r}", retryable=False)
        if len(text) > TEXT_LENGTH_MAX:
            raise ChannelUnavailable(f"text longer than {TEXT_LENGTH_MAX} characters", retryable=False)
        message = EmailMessage()
        message["From"] = self._sender_address
        message["To"] = to_address
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        # The sender's domain, not socket.getfqdn(): that may wait on DNS, and says nothing useful to the reader.
        message["Message-ID"] = make_msgid(domain=self._sender_address.rpartition("@")[2])
        message.set_content(text, charset="utf-8")
        message["Content-Language"] = language  # after set_content, which clears every Content-* header
        return message

    def _deliver(self, message: EmailMessage, to_address: str) -> None:
        smtp = self._connect()
        try:
            if self._security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if self._username is not None and self._password is not None:
                smtp.login(self._username, self._password)
            smtp.send_message(message, from_addr=self._sender_address, to_addrs=[to_address])
        finally:
            _quit(smtp)

    def _connect(self) -> smtplib.SMTP:
        if self._security == "tls":
            return smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout_seconds, context=ssl.create_default_context()
            )
        return smtplib.SMTP(self._host, self._port, timeout=self._timeout_seconds)


def _reply_error(what: str, code: int, reply: bytes | str) -> ChannelUnavailable:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    # 4xx is the protocol's "transient": the same message may pass later. Anything else (5xx) is final.
    return ChannelUnavailable(f"{what}: {code} {text}", retryable=400 <= code < 500)


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye, quietly: once the message is accepted, a QUIT that fails must not turn it into an error
    (a retry would send it twice)."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
