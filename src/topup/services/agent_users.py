"""The people at an agent's tills: their own usernames and passwords (scrypt), sign-in to the POS page, and
sessions (kept as keyed hashes of the cookie's token, like the portal's). Guessing is slowed by rate limits per
username and per address; a wrong username and a wrong password get the same answer."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from topup.domain.agents import (
    Agent,
    AgentRole,
    AgentUser,
    check_password,
    check_username,
)
from topup.domain.errors import DomainError, ErrorKind
from topup.services import rate_limits
from topup.services.agents import require_agent
from topup.services.ports import Clock, Digests, PasswordHasher, UnitOfWork

SESSION_LIFETIME = timedelta(hours=12)  # a working day at the till
SESSION_IDLE_MAX = timedelta(hours=2)
SESSION_TOUCH_EVERY = timedelta(minutes=5)
TRIES_PER_USERNAME_MAX = 10
TRIES_PER_ADDRESS_MAX = 50
TRIES_WINDOW = timedelta(minutes=15)
_SESSION_PURPOSE = "agent-session"


class SignInFailed(DomainError):
    code = "sign_in_failed"
    kind = ErrorKind.UNAUTHORISED


class UsernameTaken(DomainError):
    code = "username_taken"
    kind = ErrorKind.CONFLICT


@dataclass(frozen=True, slots=True)
class AgentAccess:
    clock: Clock
    digests: Digests
    passwords: PasswordHasher


@dataclass(frozen=True, slots=True)
class Till:
    """Who is signed in at a till, and for which agent."""

    user: AgentUser
    agent: Agent


def add_user(
    uow: UnitOfWork, access: AgentAccess, *, agent_id: str, username: str, password: str, role: AgentRole
) -> AgentUser:
    username, password = check_username(username), check_password(password)
    hashed = access.passwords.hash(password)  # slow on purpose: outside the transaction
    with uow:
        require_agent(uow, agent_id)
        if uow.agents.user_by_username(username) is not None:
            raise UsernameTaken("This username is taken.", username=username)
        user = AgentUser(uuid.uuid4().hex, agent_id, username, role, True, access.clock.now())
        uow.agents.add_user(user, hashed)
        uow.commit()
    return user


def users_of(uow: UnitOfWork, *, agent_id: str) -> list[AgentUser]:
    with uow:
        require_agent(uow, agent_id)
        return uow.agents.users_of(agent_id)


def deactivate_user(uow: UnitOfWork, access: AgentAccess, *, user_id: str) -> None:
    """Staff (or the agent's manager) take a till user's access away; their sessions end at once."""
    with uow:
        uow.agents.set_user_active(user_id, False, now=access.clock.now())
        uow.agents.end_sessions_of(user_id)
        uow.commit()


def sign_in(
    uow: UnitOfWork, access: AgentAccess, *, username: str, password: str, client_address: str
) -> tuple[str, Till]:
    """The cookie's token and who signed in; `sign_in_failed` for any wrong username or password."""
    now = access.clock.now()
    name = username.strip().lower()[:32]
    with uow:
        rate_limits.hit(
            uow,
            f"agent-sign-in:user:{name}",
            limit=TRIES_PER_USERNAME_MAX,
            window=TRIES_WINDOW,
            now=now,
            what="sign-in attempts for this user",
        )
        rate_limits.hit(
            uow,
            f"agent-sign-in:address:{client_address}",
            limit=TRIES_PER_ADDRESS_MAX,
            window=TRIES_WINDOW,
            now=now,
            what="sign-in attempts from this address",
        )
        uow.commit()  # the tries count whatever the answer
    with uow:
        found = uow.agents.user_by_username(name)
    stored = found[1] if found is not None else _NOBODY
    matches = access.passwords.verify(password[:200], stored)  # the same work for an unknown username
    if found is None or not matches or not found[0].active:
        raise SignInFailed("The username or the password is wrong.")
    user = found[0]
    token = secrets.token_urlsafe(32)
    with uow:
        agent = require_agent(uow, user.agent_id)
        uow.agents.add_session(
            access.digests.digest(_SESSION_PURPOSE, token), user, now=now, expires_at=now + SESSION_LIFETIME
        )
        uow.commit()
    return token, Till(user, agent)


def till_of(uow: UnitOfWork, access: AgentAccess, *, token: str) -> Till | None:
    """The signed-in till user a cookie's token stands for (None: unknown, expired, idle too long, or the user
    was deactivated)."""
    if not token or len(token) > 100:
        return None
    session_id = access.digests.digest(_SESSION_PURPOSE, token)
    now = access.clock.now()
    with uow:
        found = uow.agents.session(session_id)
        if found is None:
            return None
        user_id, last_seen_at, expires_at = found
        user = uow.agents.user(user_id)
        if user is None or not user.active or now >= expires_at or now >= last_seen_at + SESSION_IDLE_MAX:
            return None
        agent = require_agent(uow, user.agent_id)
        if now - last_seen_at >= SESSION_TOUCH_EVERY:
            uow.agents.touch_session(session_id, now=now)
            uow.commit()
    return Till(user, agent)


def sign_out(uow: UnitOfWork, access: AgentAccess, *, token: str) -> None:
    with uow:
        uow.agents.end_session(access.digests.digest(_SESSION_PURPOSE, token))
        uow.commit()


# A hash of no password anyone has: checking against it costs what a real check costs.
_NOBODY = "scrypt$16384$8$1$00000000000000000000000000000000$" + "0" * 64
