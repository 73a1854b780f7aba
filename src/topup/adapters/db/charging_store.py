"""Charging sessions: one row each, its holds as JSON (a session holds from a handful of buckets at most)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update

from topup.adapters.db.handle import ConnectionHandle, Write
from topup.adapters.db.tables import charging_sessions
from topup.domain.charging import ChargingSession, Hold, Service, SessionState

_COLUMNS = tuple(column.name for column in charging_sessions.c)
# Opening and ending a session write its row last, and nothing reads it back in that transaction: both are held
# back for the transaction's next statement (the open's idempotency record, or the commit).
_INSERT = Write(
    "charging_sessions",
    f"INSERT INTO charging_sessions ({', '.join(_COLUMNS)}) VALUES ({', '.join(f':{c}' for c in _COLUMNS)})",  # noqa: S608 - column names only
    insert(charging_sessions),
)
_ONE = select(charging_sessions).where(charging_sessions.c.id == bindparam("session_id"))
_ONE_FOR_UPDATE = _ONE.with_for_update()
_MUTABLE = (
    "state",
    "request_number",
    "holds",
    "money_units",
    "money_qepik",
    "throttled_units",
    "throttle_kbps",
    "used_units",
    "charged_qepik",
    "last_answer",
    "transaction_id",
    "updated_at",
    "expires_at",
)
_SAVE = Write(
    "charging_sessions",
    f"UPDATE charging_sessions SET {', '.join(f'{c} = :{c}' for c in _MUTABLE)} WHERE id = :saved_id",  # noqa: S608 - column names only
    update(charging_sessions)
    .where(charging_sessions.c.id == bindparam("saved_id"))
    .values({column: bindparam(column) for column in _MUTABLE}),
)


class SqlChargingRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def add(self, session: ChargingSession) -> None:
        self._handle.defer(_INSERT, _row(session))

    def get(self, session_id: str, *, for_update: bool = False) -> ChargingSession | None:
        row = self._handle.connection.execute(
            _ONE_FOR_UPDATE if for_update else _ONE, {"session_id": session_id}
        ).first()
        return None if row is None else _session(row)

    def save(self, session: ChargingSession) -> None:
        row = _row(session)
        self._handle.defer(_SAVE, {"saved_id": session.id, **{key: row[key] for key in _MUTABLE}})

    def ended_since(self, msisdn: str, *, since: datetime) -> list[ChargingSession]:
        """The line's sessions that ended since `since` (for its usage per day)."""
        rows = self._handle.connection.execute(
            select(charging_sessions).where(
                charging_sessions.c.msisdn == msisdn,
                charging_sessions.c.state == SessionState.TERMINATED.value,
                charging_sessions.c.updated_at >= since,
            )
        )
        return [_session(row) for row in rows]

    def expired(self, *, now: datetime, limit: int) -> list[str]:
        """Open sessions not heard from in time, oldest first; on PostgreSQL rows another worker is ending are
        skipped."""
        query = (
            select(charging_sessions.c.id)
            .where(charging_sessions.c.state == SessionState.OPEN.value, charging_sessions.c.expires_at <= now)
            .order_by(charging_sessions.c.expires_at)
            .limit(limit)
        )
        if self._handle.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [row.id for row in self._handle.connection.execute(query)]


def _row(session: ChargingSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "msisdn": session.msisdn,
        "operator": session.operator,
        "service": session.service.value,
        "roaming": session.roaming,
        "state": session.state.value,
        "request_number": session.request_number,
        "holds": json.dumps([[hold.account_id, hold.units] for hold in session.holds]),
        "money_units": session.money_units,
        "money_qepik": session.money_qepik,
        "throttled_units": session.throttled_units,
        "throttle_kbps": session.throttle_kbps,
        "used_units": session.used_units,
        "charged_qepik": session.charged_qepik,
        "last_answer": session.last_answer,
        "transaction_id": session.transaction_id,
        "created_at": session.created_at,
        "updated_at": session.updated_at or session.created_at,
        "expires_at": session.expires_at,
    }


def _session(row: Row[Any]) -> ChargingSession:
    return ChargingSession(
        id=row.id,
        msisdn=row.msisdn,
        operator=row.operator,
        service=Service(row.service),
        roaming=row.roaming,
        created_at=row.created_at,
        expires_at=row.expires_at,
        state=SessionState(row.state),
        request_number=row.request_number,
        holds=[Hold(int(account_id), int(units)) for account_id, units in json.loads(row.holds)],
        money_units=row.money_units,
        money_qepik=row.money_qepik,
        throttled_units=row.throttled_units,
        throttle_kbps=row.throttle_kbps,
        used_units=row.used_units,
        charged_qepik=row.charged_qepik,
        last_answer=row.last_answer,
        transaction_id=row.transaction_id,
        updated_at=row.updated_at,
    )
