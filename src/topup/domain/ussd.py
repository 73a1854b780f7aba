"""USSD: the subscriber dials a code and walks short menus on the phone's screen.

A gateway calls us for every step with the session id, the number, the dialled service code and everything
typed so far, joined with "*" (Africa's Talking's convention, PROTOCOLS.md section 6); we answer "CON <screen>"
to continue or "END <screen>" to close. A screen holds at most 182 characters. A session lasts at most 180
seconds from its first step; a gateway's repeat of the same step gets the same answer (so a purchase is never
made twice).

Which codes exist is the operator's: the catalogue maps each dialled code to one of the entries below
(`[operators.X.ussd]`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from topup.domain.errors import InvalidInput

SCREEN_LENGTH_MAX = 182
SESSION_LENGTH_MAX = timedelta(seconds=180)
TEXT_LENGTH_MAX = 160  # what a subscriber can have typed in one session (well above any real path)
SESSION_ID_LENGTH_MAX = 100
_SERVICE_CODE = re.compile(r"\*[0-9*#]{1,38}")
_TEXT = re.compile(r"[0-9*#+]*")


class UssdEntry(StrEnum):
    MENU = "menu"  # the self-service menu: balance, data, bundles, card top-ups
    BALANCE = "balance"  # main balance, usage period and bundles left, at once
    DATA = "data"  # data left per bundle
    VOUCHER = "voucher"  # top up this number by scratch card: <code>*PIN#
    VOUCHER_OTHER = "voucher_other"  # top up another number by scratch card: <code>*NUMBER*PIN#


@dataclass
class UssdSession:
    id: str
    msisdn: str
    service_code: str
    started_at: datetime
    last_seen_at: datetime
    last_text: str = ""
    last_answer: str = ""
    transaction_id: str | None = None

    def timed_out(self, now: datetime) -> bool:
        return now - self.started_at > SESSION_LENGTH_MAX


@dataclass(frozen=True, slots=True)
class Screen:
    """An answer: `ends` closes the session (END), otherwise the phone waits for input (CON)."""

    text: str
    ends: bool

    def render(self) -> str:
        return f"{'END' if self.ends else 'CON'} {self.text}"


def check_request(session_id: str, service_code: str, text: str) -> tuple[str, str, list[str]]:
    """The session id, the service code, and the steps typed so far ("" is none). "#" separates steps too,
    as some operators' codes use it (Nar's *777#11#<code>#)."""
    if not 1 <= len(session_id) <= SESSION_ID_LENGTH_MAX or not session_id.isprintable():
        raise InvalidInput("The session id is 1 to 100 printable characters.", field="sessionId")
    service_code = service_code.strip()
    if _SERVICE_CODE.fullmatch(service_code) is None:
        raise InvalidInput("The service code is a USSD code such as *100#.", field="serviceCode")
    if len(text) > TEXT_LENGTH_MAX or _TEXT.fullmatch(text) is None:
        raise InvalidInput("The text is digits, '*', '#' and '+' only, at most 160 of them.", field="text")
    steps = re.split(r"[*#]", text) if text else []
    return session_id, service_code, steps


def normalise_code(code: str) -> str:
    """ "*111*1*7#" and "*111*1*7#" with spaces or a missing "#" are the same code."""
    code = code.replace(" ", "")
    return code if code.endswith("#") else f"{code}#"
