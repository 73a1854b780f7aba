"""API keys (hashed) and idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects import sqlite

from topup.adapters.db.handle import ConnectionHandle, Write, dialect_insert
from topup.adapters.db.tables import api_keys, idempotency_keys
from topup.domain.errors import IdempotencyKeyReused
from topup.services.ports import ApiKeyRecord, IdempotentRequest, StoredResponse

_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.name,
    api_keys.c.role,
    api_keys.c.prefix,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
    api_keys.c.agent_id,
)


class SqlApiKeyRepository:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def add(self, record: ApiKeyRecord, key_hash: str) -> None:
        self._handle.connection.execute(
            insert(api_keys).values(
                id=record.id,
                name=record.name,
                role=record.role,
                prefix=record.prefix,
                key_hash=key_hash,
                created_at=record.created_at,
                revoked_at=record.revoked_at,
                agent_id=record.agent_id,
            )
        )

    def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = self._handle.connection.execute(select(*_KEY_COLUMNS).where(api_keys.c.key_hash == key_hash)).first()
        return None if row is None else ApiKeyRecord(**row._mapping)

    def list(self) -> list[ApiKeyRecord]:
        rows = self._handle.connection.execute(select(*_KEY_COLUMNS).order_by(api_keys.c.created_at))
        return [ApiKeyRecord(**row._mapping) for row in rows]

    def revoke(self, key_id: str, *, now: datetime) -> bool:
        result = self._handle.connection.execute(
            update(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        return bool(result.rowcount)


def _claim_statement(handle: ConnectionHandle) -> Any:
    # On PostgreSQL, ON CONFLICT waits for a concurrent claimer of the same key to commit or roll back.
    return (
        dialect_insert(handle, idempotency_keys)
        .values(
            scope=bindparam("b_scope"),
            key=bindparam("b_key"),
            fingerprint=bindparam("b_fingerprint"),
            created_at=bindparam("b_created_at"),
            body=bindparam("b_body"),
        )
        .on_conflict_do_nothing(index_elements=[idempotency_keys.c.scope, idempotency_keys.c.key])
        .returning(idempotency_keys.c.key)
    )


_CLAIM_BY_DIALECT: dict[str, Any] = {}
# Claim and answer at once, last in the request's transaction: one write instead of an insert and an update.
_RECORD = Write(
    "idempotency_keys",
    "INSERT INTO idempotency_keys (scope, key, fingerprint, status_code, body, created_at) "
    "VALUES (:scope, :key, :fingerprint, :status_code, :body, :created_at) "
    "ON CONFLICT (scope, key) DO NOTHING RETURNING key",
    sqlite.insert(idempotency_keys)
    .on_conflict_do_nothing(index_elements=[idempotency_keys.c.scope, idempotency_keys.c.key])
    .returning(idempotency_keys.c.key),
)
_STORED = select(idempotency_keys.c.fingerprint, idempotency_keys.c.status_code, idempotency_keys.c.body).where(
    idempotency_keys.c.scope == bindparam("b_scope"), idempotency_keys.c.key == bindparam("b_key")
)
_COMPLETE = (
    update(idempotency_keys)
    .where(idempotency_keys.c.scope == bindparam("b_scope"), idempotency_keys.c.key == bindparam("b_key"))
    .values(status_code=bindparam("b_status_code"), body=bindparam("b_body"))
)


class SqlIdempotencyStore:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def claim(
        self, request: IdempotentRequest, *, now: datetime, pending_body: str | None = None
    ) -> StoredResponse | None:
        connection = self._handle.connection
        dialect = self._handle.dialect
        statement = _CLAIM_BY_DIALECT.get(dialect)
        if statement is None:
            statement = _CLAIM_BY_DIALECT[dialect] = _claim_statement(self._handle)
        key = {"b_scope": request.scope, "b_key": request.key}
        claimed = connection.execute(
            statement, {**key, "b_fingerprint": request.fingerprint, "b_created_at": now, "b_body": pending_body}
        ).first()
        if claimed is not None:
            return None
        stored = self.stored(request)
        assert stored is not None  # the claim failed on this row, and a row is deleted only by its own claimer
        return stored

    def record(self, request: IdempotentRequest, response: StoredResponse, *, now: datetime) -> bool:
        # On PostgreSQL the writes the request held back go in the same statement (see ConnectionHandle).
        recorded = self._handle.execute_carrying(
            _RECORD,
            {
                "scope": request.scope,
                "key": request.key,
                "fingerprint": request.fingerprint,
                "status_code": response.status_code,
                "body": response.body,
                "created_at": now,
            },
        ).first()
        return recorded is not None

    def stored(self, request: IdempotentRequest) -> StoredResponse | None:
        row = self._handle.connection.execute(_STORED, {"b_scope": request.scope, "b_key": request.key}).first()
        if row is None:
            return None
        if row.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request: use a new key for a new request.",
                idempotency_key=request.key,
            )
        return StoredResponse(status_code=row.status_code, body=row.body)

    def release(self, request: IdempotentRequest) -> None:
        self._handle.connection.execute(
            delete(idempotency_keys).where(
                idempotency_keys.c.scope == request.scope,
                idempotency_keys.c.key == request.key,
                idempotency_keys.c.status_code.is_(None),
            )
        )

    def complete(self, request: IdempotentRequest, response: StoredResponse) -> None:
        self._handle.connection.execute(
            _COMPLETE,
            {
                "b_scope": request.scope,
                "b_key": request.key,
                "b_status_code": response.status_code,
                "b_body": response.body,
            },
        )
