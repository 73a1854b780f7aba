"""Signing in to the portal with the phone number and a one-time code sent to it by SMS.

- A code has 6 digits and is valid for 5 minutes; asking for a new one replaces the old.
- 5 wrong codes in a row lock signing in for that number for 15 minutes.
- A number may be sent at most 3 codes in 15 minutes; a client address may ask for at most 10 codes and try at
  most 30 codes an hour (so one address cannot walk through many numbers).
- A session lasts 30 days, or 7 days unused; signing out ends it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from topup.domain.errors import DomainError, ErrorKind

CODE_DIGITS = 6
CODE_VALIDITY = timedelta(minutes=5)
WRONG_CODES_MAX = 5
LOCK_DURATION = timedelta(minutes=15)
CODES_PER_NUMBER_MAX = 3
CODES_PER_NUMBER_WINDOW = timedelta(minutes=15)
CODES_PER_ADDRESS_MAX = 10
TRIES_PER_ADDRESS_MAX = 30
PER_ADDRESS_WINDOW = timedelta(hours=1)
SESSION_LIFETIME = timedelta(days=30)
SESSION_IDLE_MAX = timedelta(days=7)
SESSION_TOUCH_EVERY = timedelta(minutes=5)  # last-seen is written at most this often (not on every page)


class SignInLocked(DomainError):
    code = "sign_in_locked"
    kind = ErrorKind.CONFLICT


class CodeExpired(DomainError):
    code = "code_expired"


class CodeWrong(DomainError):
    code = "code_wrong"


class CodeInvalid(DomainError):
    code = "code_invalid"
    kind = ErrorKind.INVALID


class TooManyRequests(DomainError):
    """A rate limit: `retry_at` says when asking again can work."""

    code = "too_many_requests"
    kind = ErrorKind.CONFLICT


@dataclass
class SignInState:
    """One number's sign-in: its current code (as a keyed hash), wrong tries and lock."""

    msisdn: str
    code_hash: str | None = None
    code_expires_at: datetime | None = None
    wrong_codes: int = 0
    locked_until: datetime | None = None
    updated_at: datetime | None = None

    def ensure_not_locked(self, now: datetime) -> None:
        if self.locked_until is not None and now < self.locked_until:
            raise SignInLocked(
                "Too many wrong codes: signing in with this number is locked for a while.",
                retry_at=self.locked_until.isoformat(),
            )

    def new_code(self, code_hash: str, *, now: datetime) -> None:
        self.code_hash, self.code_expires_at, self.updated_at = code_hash, now + CODE_VALIDITY, now
        if self.locked_until is not None and now >= self.locked_until:
            self.locked_until, self.wrong_codes = None, 0

    def check(self, code_hash: str, *, now: datetime, matches: bool) -> None:
        """Raise unless the code given (its hash, and whether it matches) signs in; a wrong one counts."""
        self.ensure_not_locked(now)
        if self.code_hash is None or self.code_expires_at is None or now >= self.code_expires_at:
            raise CodeExpired("This code has expired or was already used: ask for a new one.")
        if not matches:
            self.wrong_codes += 1
            self.updated_at = now
            if self.wrong_codes >= WRONG_CODES_MAX:
                self.locked_until, self.code_hash, self.code_expires_at = now + LOCK_DURATION, None, None
                raise SignInLocked(
                    "Too many wrong codes: signing in with this number is locked for 15 minutes.",
                    retry_at=self.locked_until.isoformat(),
                )
            raise CodeWrong("This code is not right.", tries_left=WRONG_CODES_MAX - self.wrong_codes)
        self.code_hash, self.code_expires_at, self.wrong_codes, self.updated_at = None, None, 0, now


def check_code_shape(code: str) -> str:
    code = code.strip().replace(" ", "")
    if len(code) != CODE_DIGITS or not code.isdigit() or not code.isascii():
        raise CodeInvalid(f"The code has {CODE_DIGITS} digits.", field="code")
    return code


@dataclass(frozen=True, slots=True)
class WebSession:
    id: str  # the keyed hash of the cookie's token: the token itself is never stored
    msisdn: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return now < self.expires_at and now < self.last_seen_at + SESSION_IDLE_MAX
