"""API keys (hashed) and idempotency keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from topup.adapters.db.handle import ConnectionHandle, dialect_insert
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


class SqlIdempotencyStore:
    def __init__(self, handle: ConnectionHandle) -> None:
        self._handle = handle

    def claim(self, request: IdempotentRequest, *, now: datetime) -> StoredResponse | None:
        connection = self._handle.connection
        # On PostgreSQL, ON CONFLICT waits for a concurrent claimer of the same key to commit or roll back.
        claimed = connection.execute(
            dialect_insert(self._handle, idempotency_keys)
            .values(scope=request.scope, key=request.key, fingerprint=request.fingerprint, created_at=now)
            .on_conflict_do_nothing(index_elements=[idempotency_keys.c.scope, idempotency_keys.c.key])
            .returning(idempotency_keys.c.key)
        ).first()
        if claimed is not None:
            return None
        row = connection.execute(
            select(idempotency_keys.c.fingerprint, idempotency_keys.c.status_code, idempotency_keys.c.body).where(
                idempotency_keys.c.scope == request.scope, idempotency_keys.c.key == request.key
            )
        ).one()
        if row.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request: use a new key for a new request.",
                idempotency_key=request.key,
            )
        return StoredResponse(status_code=row.status_code, body=row.body)

    def complete(self, request: IdempotentRequest, response: StoredResponse) -> None:
        self._handle.connection.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.scope == request.scope, idempotency_keys.c.key == request.key)
            .values(status_code=response.status_code, body=response.body)
        )
