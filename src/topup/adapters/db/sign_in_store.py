"""The portal's sign-in states and sessions, and the rate counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from topup.adapters.db.handle import ConnectionHandle, dialect_insert
from topup.adapters.db.tables import rate_counters, sign_in_states, web_sessions
from topup.domain.sign_in import SignInState, WebSession


class SqlSignInRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def state(self, msisdn: str, *, now: datetime) -> SignInState:
        """The number's state, locked for the caller's transaction (created empty on first use, so that two
        requests for one number queue on the same row)."""
        connection = self._handle.connection
        connection.execute(
            dialect_insert(self._handle, sign_in_states)
            .values(msisdn=msisdn, wrong_codes=0, updated_at=now)
            .on_conflict_do_nothing(index_elements=[sign_in_states.c.msisdn])
        )
        query = select(sign_in_states).where(sign_in_states.c.msisdn == msisdn)
        if self._handle.dialect == "postgresql":
            query = query.with_for_update()
        row = connection.execute(query).one()
        return SignInState(
            msisdn=row.msisdn,
            code_hash=row.code_hash,
            code_expires_at=row.code_expires_at,
            wrong_codes=row.wrong_codes,
            locked_until=row.locked_until,
            updated_at=row.updated_at,
        )

    def save(self, state: SignInState) -> None:
        self._handle.connection.execute(
            update(sign_in_states)
            .where(sign_in_states.c.msisdn == state.msisdn)
            .values(
                code_hash=state.code_hash,
                code_expires_at=state.code_expires_at,
                wrong_codes=state.wrong_codes,
                locked_until=state.locked_until,
                updated_at=state.updated_at,
            )
        )

    def add_session(self, session: WebSession) -> None:
        self._handle.connection.execute(
            web_sessions.insert().values(
                id=session.id,
                msisdn=session.msisdn,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
            )
        )

    def session(self, session_id: str) -> WebSession | None:
        row = self._handle.connection.execute(select(web_sessions).where(web_sessions.c.id == session_id)).first()
        if row is None:
            return None
        return WebSession(row.id, row.msisdn, row.created_at, row.last_seen_at, row.expires_at)

    def touch(self, session_id: str, *, now: datetime) -> None:
        self._handle.connection.execute(
            update(web_sessions).where(web_sessions.c.id == session_id).values(last_seen_at=now)
        )

    def end_session(self, session_id: str) -> None:
        self._handle.connection.execute(delete(web_sessions).where(web_sessions.c.id == session_id))

    def end_sessions_before(self, moment: datetime, *, limit: int) -> int:
        """Forget sessions that expired before `moment` (the worker's clean-up); how many."""
        ids = [
            row.id
            for row in self._handle.connection.execute(
                select(web_sessions.c.id).where(web_sessions.c.expires_at < moment).limit(limit)
            )
        ]
        if ids:
            self._handle.connection.execute(delete(web_sessions).where(web_sessions.c.id.in_(ids)))
        return len(ids)


class SqlRateCounters:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def hit(self, key: str, *, window_start: datetime) -> int:
        """Count one more in the window; the count after this one (an atomic upsert: no lost updates)."""
        statement = (
            dialect_insert(self._handle, rate_counters)
            .values(key=key, window_start=window_start, count=1)
            .on_conflict_do_update(
                index_elements=[rate_counters.c.key, rate_counters.c.window_start],
                set_={"count": rate_counters.c.count + 1},
            )
            .returning(rate_counters.c.count)
        )
        return int(self._handle.connection.execute(statement).scalar_one())

    def count(self, key: str, *, window_start: datetime) -> int:
        value = self._handle.connection.execute(
            select(rate_counters.c.count).where(
                rate_counters.c.key == key, rate_counters.c.window_start == window_start
            )
        ).scalar_one_or_none()
        return int(value or 0)

    def forget_before(self, moment: datetime) -> None:
        self._handle.connection.execute(delete(rate_counters).where(rate_counters.c.window_start < moment))
