"""Agents, their till users and sessions, their statements, and commission rates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from topup.adapters.db.handle import ConnectionHandle, dialect_insert
from topup.adapters.db.tables import agent_movements, agent_sessions, agent_users, agents, commission_rates
from topup.domain.agents import Agent, AgentKind, AgentRole, AgentStatus, AgentUser, Movement, MovementKind


class SqlAgentRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    # --- agents -------------------------------------------------------------------------------------------------

    def add(self, agent: Agent) -> None:
        self._handle.connection.execute(insert(agents).values(**_agent_values(agent)))

    def get(self, agent_id: str, *, for_update: bool = False) -> Agent | None:
        query = select(agents).where(agents.c.id == agent_id)
        if for_update:
            query = query.with_for_update()
        row = self._handle.connection.execute(query).first()
        return None if row is None else _agent(row)

    def licence_taken(self, licence_number: str) -> bool:
        query = select(agents.c.id).where(agents.c.licence_number == licence_number)
        return self._handle.connection.execute(query).first() is not None

    def listed(self, *, kind: str | None, limit: int) -> list[Agent]:
        query = select(agents).order_by(agents.c.name, agents.c.id).limit(limit)
        if kind is not None:
            query = query.where(agents.c.kind == kind)
        return [_agent(row) for row in self._handle.connection.execute(query)]

    def save(self, agent: Agent) -> None:
        values = _agent_values(agent)
        del values["id"]
        self._handle.connection.execute(update(agents).where(agents.c.id == agent.id).values(**values))

    # --- till users and their sessions ----------------------------------------------------------------------------

    def add_user(self, user: AgentUser, password_hash: str) -> None:
        self._handle.connection.execute(
            insert(agent_users).values(
                id=user.id,
                agent_id=user.agent_id,
                username=user.username,
                password_hash=password_hash,
                role=user.role.value,
                active=user.active,
                created_at=user.created_at,
                updated_at=user.created_at,
            )
        )

    def user_by_username(self, username: str) -> tuple[AgentUser, str] | None:
        row = self._handle.connection.execute(select(agent_users).where(agent_users.c.username == username)).first()
        return None if row is None else (_user(row), row.password_hash)

    def user(self, user_id: str) -> AgentUser | None:
        row = self._handle.connection.execute(select(agent_users).where(agent_users.c.id == user_id)).first()
        return None if row is None else _user(row)

    def users_of(self, agent_id: str) -> list[AgentUser]:
        rows = self._handle.connection.execute(
            select(agent_users).where(agent_users.c.agent_id == agent_id).order_by(agent_users.c.username)
        )
        return [_user(row) for row in rows]

    def set_user_active(self, user_id: str, active: bool, *, now: datetime) -> None:
        self._handle.connection.execute(
            update(agent_users).where(agent_users.c.id == user_id).values(active=active, updated_at=now)
        )

    def add_session(self, session_id: str, user: AgentUser, *, now: datetime, expires_at: datetime) -> None:
        self._handle.connection.execute(
            insert(agent_sessions).values(
                id=session_id,
                user_id=user.id,
                agent_id=user.agent_id,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
            )
        )

    def session(self, session_id: str) -> tuple[str, datetime, datetime] | None:
        """(user id, last seen, expires) of a session."""
        row = self._handle.connection.execute(select(agent_sessions).where(agent_sessions.c.id == session_id)).first()
        return None if row is None else (row.user_id, row.last_seen_at, row.expires_at)

    def touch_session(self, session_id: str, *, now: datetime) -> None:
        self._handle.connection.execute(
            update(agent_sessions).where(agent_sessions.c.id == session_id).values(last_seen_at=now)
        )

    def end_session(self, session_id: str) -> None:
        self._handle.connection.execute(delete(agent_sessions).where(agent_sessions.c.id == session_id))

    def end_sessions_of(self, user_id: str) -> None:
        self._handle.connection.execute(delete(agent_sessions).where(agent_sessions.c.user_id == user_id))

    # --- statements -----------------------------------------------------------------------------------------------

    def add_movement(self, movement: Movement) -> None:
        self._handle.connection.execute(
            insert(agent_movements).values(
                id=movement.id,
                agent_id=movement.agent_id,
                kind=movement.kind.value,
                amount_qepik=movement.amount_qepik,
                float_after_qepik=movement.float_after_qepik,
                credit_after_qepik=movement.credit_after_qepik,
                commission_after_qepik=movement.commission_after_qepik,
                msisdn=movement.msisdn,
                transaction_id=movement.transaction_id,
                operator=movement.operator,
                product=movement.product,
                user_id=movement.user_id,
                note=movement.note,
                created_at=movement.created_at,
            )
        )

    def movements(
        self, agent_id: str, *, created_from: datetime | None, created_to: datetime | None, limit: int
    ) -> list[Movement]:
        """Oldest first, within [from, to)."""
        query = select(agent_movements).where(agent_movements.c.agent_id == agent_id)
        if created_from is not None:
            query = query.where(agent_movements.c.created_at >= created_from)
        if created_to is not None:
            query = query.where(agent_movements.c.created_at < created_to)
        query = query.order_by(agent_movements.c.seq).limit(limit)
        return [_movement(row) for row in self._handle.connection.execute(query)]

    def last_movement_before(self, agent_id: str, moment: datetime) -> Movement | None:
        row = self._handle.connection.execute(
            select(agent_movements)
            .where(agent_movements.c.agent_id == agent_id, agent_movements.c.created_at < moment)
            .order_by(agent_movements.c.seq.desc())
            .limit(1)
        ).first()
        return None if row is None else _movement(row)

    def sale(self, agent_id: str, transaction_id: str) -> Movement | None:
        row = self._handle.connection.execute(
            select(agent_movements).where(
                agent_movements.c.agent_id == agent_id,
                agent_movements.c.transaction_id == transaction_id,
                agent_movements.c.kind == MovementKind.SALE.value,
            )
        ).first()
        return None if row is None else _movement(row)

    def count_movements(self, agent_id: str) -> int:
        query = select(func.count()).where(agent_movements.c.agent_id == agent_id)
        return int(self._handle.connection.execute(query).scalar_one())

    # --- commission rates -----------------------------------------------------------------------------------------

    def commission_rate(self, kind: AgentKind, operator: str) -> int:
        value = self._handle.connection.execute(
            select(commission_rates.c.rate_basis_points).where(
                commission_rates.c.agent_kind == kind.value, commission_rates.c.operator == operator
            )
        ).scalar_one_or_none()
        return int(value or 0)

    def set_commission_rate(self, kind: AgentKind, operator: str, rate_basis_points: int, *, now: datetime) -> None:
        values = {"rate_basis_points": rate_basis_points, "updated_at": now}
        statement = dialect_insert(self._handle, commission_rates).values(
            agent_kind=kind.value, operator=operator, **values
        )
        self._handle.connection.execute(
            statement.on_conflict_do_update(
                index_elements=[commission_rates.c.agent_kind, commission_rates.c.operator], set_=values
            )
        )

    def commission_rates(self) -> list[tuple[AgentKind, str, int]]:
        rows = self._handle.connection.execute(
            select(commission_rates).order_by(commission_rates.c.agent_kind, commission_rates.c.operator)
        )
        return [(AgentKind(row.agent_kind), row.operator, row.rate_basis_points) for row in rows]


def _agent_values(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "kind": agent.kind.value,
        "licence_number": agent.licence_number,
        "address": agent.address,
        "verified": agent.verified,
        "status": agent.status.value,
        "credit_limit_qepik": agent.credit_limit_qepik,
        "float_account_id": agent.float_account_id,
        "credit_account_id": agent.credit_account_id,
        "commission_account_id": agent.commission_account_id,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
    }


def _agent(row: Row[Any]) -> Agent:
    values = dict(row._mapping)
    values["kind"] = AgentKind(values["kind"])
    values["status"] = AgentStatus(values["status"])
    return Agent(**values)


def _user(row: Row[Any]) -> AgentUser:
    return AgentUser(row.id, row.agent_id, row.username, AgentRole(row.role), bool(row.active), row.created_at)


def _movement(row: Row[Any]) -> Movement:
    values = dict(row._mapping)
    del values["seq"]
    values["kind"] = MovementKind(values["kind"])
    return Movement(**values)
