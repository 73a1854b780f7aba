"""USSD sessions: when each began, and the last answer (a gateway's retry gets it again)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from topup.adapters.db.handle import ConnectionHandle, dialect_insert
from topup.adapters.db.tables import ussd_sessions
from topup.domain.ussd import UssdSession


class SqlUssdRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def begin(self, session: UssdSession) -> UssdSession:
        """The session with this id, locked for the caller's transaction; `session` when it is new."""
        connection = self._handle.connection
        connection.execute(
            dialect_insert(self._handle, ussd_sessions)
            .values(
                id=session.id,
                msisdn=session.msisdn,
                service_code=session.service_code,
                started_at=session.started_at,
                last_seen_at=session.last_seen_at,
                last_text=session.last_text,
                last_answer=session.last_answer,
                transaction_id=None,
            )
            .on_conflict_do_nothing(index_elements=[ussd_sessions.c.id])
        )
        query = select(ussd_sessions).where(ussd_sessions.c.id == session.id)
        if self._handle.dialect == "postgresql":
            query = query.with_for_update()
        row = connection.execute(query).one()
        return UssdSession(
            id=row.id,
            msisdn=row.msisdn,
            service_code=row.service_code,
            started_at=row.started_at,
            last_seen_at=row.last_seen_at,
            last_text=row.last_text,
            last_answer=row.last_answer,
            transaction_id=row.transaction_id,
        )

    def save(self, session: UssdSession, *, now: datetime) -> None:
        self._handle.connection.execute(
            update(ussd_sessions)
            .where(ussd_sessions.c.id == session.id)
            .values(
                last_seen_at=now,
                last_text=session.last_text,
                last_answer=session.last_answer,
                transaction_id=session.transaction_id,
            )
        )
