"""The portal's sign-in: a one-time code by SMS to the number, then a session (see `topup.domain.sign_in`).

The code travels through the notification outbox like every SMS (so the development inbox shows it), by SMS
only, whatever the line's notification settings. Codes and session tokens are kept only as keyed hashes.
An unknown number is answered like a known one (no code is sent): the portal does not tell strangers which
numbers are ours.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from topup.domain.notifications import Notification, NotificationKind
from topup.domain.numbers import parse_msisdn
from topup.domain.sign_in import (
    CODE_DIGITS,
    CODES_PER_ADDRESS_MAX,
    CODES_PER_NUMBER_MAX,
    CODES_PER_NUMBER_WINDOW,
    PER_ADDRESS_WINDOW,
    SESSION_LIFETIME,
    SESSION_TOUCH_EVERY,
    TRIES_PER_ADDRESS_MAX,
    WebSession,
    check_code_shape,
)
from topup.services import rate_limits
from topup.services.ports import Clock, Digests, UnitOfWork

_CODE_PURPOSE = "sign-in-code"
_SESSION_PURPOSE = "web-session"


@dataclass(frozen=True, slots=True)
class SignIn:
    clock: Clock
    digests: Digests


@dataclass(frozen=True, slots=True)
class CodeSent:
    msisdn: str
    expires_at: datetime
    notification_id: str | None  # None when the number is not a line of ours (nothing was sent)


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str  # for the cookie; shown once, stored only as its keyed hash
    session: WebSession


def request_code(uow: UnitOfWork, sign_in: SignIn, *, number: str, client_address: str) -> CodeSent:
    """Send a fresh 6-digit code to `number` (replacing any earlier one)."""
    msisdn = parse_msisdn(number).e164
    now = sign_in.clock.now()
    with uow:
        rate_limits.hit(
            uow,
            f"sign-in-code:address:{client_address}",
            limit=CODES_PER_ADDRESS_MAX,
            window=PER_ADDRESS_WINDOW,
            now=now,
            what="codes asked for from this address",
        )
        line = uow.lines.get(parse_msisdn(msisdn))
        state = uow.sign_in.state(msisdn, now=now)
        state.ensure_not_locked(now)
        rate_limits.hit(
            uow,
            f"sign-in-code:number:{msisdn}",
            limit=CODES_PER_NUMBER_MAX,
            window=CODES_PER_NUMBER_WINDOW,
            now=now,
            what="codes for this number",
        )
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        state.new_code(sign_in.digests.digest(_CODE_PURPOSE, f"{msisdn}:{code}"), now=now)
        uow.sign_in.save(state)
        notification_id = None
        if line is not None:
            notification_id = uuid.uuid4().hex
            uow.notifications.queue(
                Notification(
                    id=notification_id,
                    msisdn=msisdn,
                    kind=NotificationKind.SIGN_IN_CODE,
                    dedupe_key=f"sign_in_code:{notification_id}",
                    language=line.language,
                    params={"code": code},
                    created_at=now,
                )
            )
        uow.commit()
    assert state.code_expires_at is not None
    return CodeSent(msisdn, state.code_expires_at, notification_id)


def verify_code(uow: UnitOfWork, sign_in: SignIn, *, number: str, code: str, client_address: str) -> NewSession:
    """Sign in with the code; a wrong one counts towards the number's lock (kept even though the answer is an
    error: the count is committed before it is raised)."""
    msisdn = parse_msisdn(number).e164
    code = check_code_shape(code)
    now = sign_in.clock.now()
    wanted = sign_in.digests.digest(_CODE_PURPOSE, f"{msisdn}:{code}")
    with uow:
        rate_limits.hit(
            uow,
            f"sign-in-try:address:{client_address}",
            limit=TRIES_PER_ADDRESS_MAX,
            window=PER_ADDRESS_WINDOW,
            now=now,
            what="codes tried from this address",
        )
        state = uow.sign_in.state(msisdn, now=now)
        matches = state.code_hash is not None and hmac.compare_digest(state.code_hash, wanted)
        try:
            state.check(wanted, now=now, matches=matches)
        except Exception:
            uow.sign_in.save(state)
            uow.commit()
            raise
        uow.sign_in.save(state)
        token = secrets.token_urlsafe(32)
        session = WebSession(
            id=sign_in.digests.digest(_SESSION_PURPOSE, token),
            msisdn=msisdn,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
        uow.sign_in.add_session(session)
        uow.commit()
    return NewSession(token, session)


def session_of(uow: UnitOfWork, sign_in: SignIn, *, token: str) -> WebSession | None:
    """The live session a cookie's token stands for, or None (unknown, expired, or unused for too long)."""
    if not token or len(token) > 100:
        return None
    session_id = sign_in.digests.digest(_SESSION_PURPOSE, token)
    now = sign_in.clock.now()
    with uow:
        session = uow.sign_in.session(session_id)
        if session is None or not session.live(now):
            return None
        if now - session.last_seen_at >= SESSION_TOUCH_EVERY:
            uow.sign_in.touch(session_id, now=now)
            uow.commit()
    return session


def sign_out(uow: UnitOfWork, sign_in: SignIn, *, token: str) -> None:
    with uow:
        uow.sign_in.end_session(sign_in.digests.digest(_SESSION_PURPOSE, token))
        uow.commit()
