"""The channels a notification can travel by, as ports: SMS (SMPP in production), e-mail (SMTP) and a
subscriber's own webhook. The development inbox is not a channel: every notification is in the outbox, which
`GET /v1/dev/inbox` and `topup inbox` read.

A channel that fails raises `ChannelUnavailable`; `retryable` says whether trying the same message again later
can help (an SMSC that is down or throttling: yes; an address the SMSC refuses: no). The notification service
keeps trying a retryable failure on later passes and gives up a channel on a final one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    WEBHOOK = "webhook"


class ChannelUnavailable(Exception):
    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SmsSender(Protocol):
    def send_sms(self, *, to_msisdn: str, text: str) -> str:
        """Send `text` (any length, any script: split and encoded as the channel needs) to the E.164 number
        `to_msisdn` ("+994…"). Returns the message id(s) the network gave, for delivery receipts and logs."""
        ...


class EmailSender(Protocol):
    def send_email(self, *, to_address: str, subject: str, text: str, language: str) -> None:
        """Send a plain-text UTF-8 e-mail; `language` (az, en, ru, zh) goes in its Content-Language."""
        ...


class SubscriberWebhookSender(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """POST `body`; returns (HTTP status or None, error or None). The same shape as order webhooks."""
        ...
