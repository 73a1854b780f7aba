"""API keys: random secrets shown once; only their SHA-256 is stored (they carry 256 bits of entropy, so a
fast hash is the right one, unlike passwords)."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from topup.domain.access import AGENT_ROLES, Role
from topup.domain.agents import AgentNotFound
from topup.domain.errors import ApiKeyInvalid, ApiKeyNotFound, InvalidInput
from topup.services.ports import ApiKeyRecord, Clock, UnitOfWork

KEY_PREFIX = "tpk_"
NAME_LENGTH_MAX = 100


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    uow: UnitOfWork, clock: Clock, *, name: str, role: str, agent_id: str | None = None
) -> tuple[ApiKeyRecord, str]:
    """Returns the record and the key itself, which exists nowhere else afterwards. An agent's or a kiosk's key
    names its agent (`agent_id`); no other key does."""
    roles = [r.value for r in Role]
    if role not in roles:
        raise InvalidInput(f"role must be one of {', '.join(roles)}.", field="role")
    if (role in AGENT_ROLES) != (agent_id is not None):
        raise InvalidInput("An agent or kiosk key names its agent (--agent); other keys do not.", field="agent_id")
    name = name.strip()
    if not name or len(name) > NAME_LENGTH_MAX:
        raise InvalidInput(f"name must be 1 to {NAME_LENGTH_MAX} characters.", field="name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKeyRecord(
        id=uuid.uuid4().hex,
        name=name,
        role=role,
        prefix=key[: len(KEY_PREFIX) + 6],
        created_at=clock.now(),
        agent_id=agent_id,
    )
    with uow:
        if agent_id is not None:
            agent = uow.agents.get(agent_id) if agent_id.isalnum() else None
            if agent is None:
                raise AgentNotFound("There is no agent with this id.", agent_id=agent_id[:64])
            if (agent.is_kiosk) != (role == Role.KIOSK):
                raise InvalidInput("A kiosk gets a kiosk key; any other agent an agent key.", field="role")
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
