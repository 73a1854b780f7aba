"""The development channels: a notification "sent" by SMS or e-mail in development is logged. The outbox row,
with what each channel did, is what `GET /v1/dev/inbox` and `topup inbox` show. Production sets an SMSC
(`TOPUP_SMPP_*`) and an SMTP server (`TOPUP_SMTP_*`) instead; see bootstrap."""

from __future__ import annotations

import itertools
import logging

logger = logging.getLogger("topup.notifications.inbox")
_ids = itertools.count(1)


class DevInboxSms:
    def send_sms(self, *, to_msisdn: str, text: str) -> str:
        message_id = f"dev-{next(_ids)}"
        logger.info("SMS %s to %s: %s", message_id, to_msisdn, text)
        return message_id


class DevInboxEmail:
    def send_email(self, *, to_address: str, subject: str, text: str, language: str) -> None:
        logger.info("e-mail to %s (%s): %s: %s", to_address, language, subject, text)
