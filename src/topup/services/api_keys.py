"""API keys: random secrets shown once; only their SHA-256 is stored (they carry 256 bits of entropy, so a
fast hash is the right one, unlike passwords)."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from topup.domain.access import Role
from topup.domain.errors import ApiKeyInvalid, ApiKeyNotFound, InvalidInput
from topup.services.ports import ApiKeyRecord, Clock, UnitOfWork

KEY_PREFIX = "tpk_"
NAME_LENGTH_MAX = 100


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(uow: UnitOfWork, clock: Clock, *, name: str, role: str) -> tuple[ApiKeyRecord, str]:
    """Returns the record and the key itself, which exists nowhere else afterwards."""
    if role not in {r.value for r in Role}:
        raise InvalidInput("role must be admin or integrator.", field="role")
    name = name.strip()
    if not name or len(name) > NAME_LENGTH_MAX:
        raise InvalidInput(f"name must be 1 to {NAME_LENGTH_MAX} characters.", field="name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKeyRecord(
        id=uuid.uuid4().hex, name=name, role=role, prefix=key[: len(KEY_PREFIX) + 6], created_at=clock.now()
    )
    with uow:
        uow.api_keys.add(record, hash_key(key))
        uow.commit()
    return record, key


def authenticate(uow: UnitOfWork, *, key: str) -> ApiKeyRecord:
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        raise ApiKeyInvalid("This API key is not valid.")
    with uow:
        record = uow.api_keys.by_hash(hash_key(key))
    if record is None or record.revoked_at is not None:
        raise ApiKeyInvalid("This API key is not valid.")
    return record


def list_api_keys(uow: UnitOfWork) -> list[ApiKeyRecord]:
    with uow:
        return uow.api_keys.list()


def revoke_api_key(uow: UnitOfWork, clock: Clock, *, key_id: str) -> None:
    with uow:
        if not uow.api_keys.revoke(key_id, now=clock.now()):
            raise ApiKeyNotFound("There is no active API key with this id.", key_id=key_id[:64])
        uow.commit()
