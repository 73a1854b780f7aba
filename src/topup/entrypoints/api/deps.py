"""Request-scoped dependencies: the application, the caller's API key, the caller's role."""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from topup.bootstrap import Application
from topup.domain.access import API_ROLES, Role, require_role
from topup.domain.errors import ApiKeyMissing
from topup.services import api_keys
from topup.services.ports import ApiKeyRecord


# Dependencies are `async def`: FastAPI runs a plain `def` dependency in the thread pool, a hop per
# dependency per request that costs more than the dependency itself.
async def get_application(request: Request) -> Application:
    application: Application = request.app.state.topup
    return application


AppDep = Annotated[Application, Depends(get_application)]


class ApiKeyCache:
    """Authenticated keys for a short while, so a busy integrator does not cost a query per request.
    A revoked key stops working within `ttl_seconds`."""

    def __init__(self, ttl_seconds: float, size_max: int = 10_000) -> None:
        self._ttl_seconds = ttl_seconds
        self._size_max = size_max
        self._entries: dict[str, tuple[ApiKeyRecord, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> ApiKeyRecord | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, key: str, record: ApiKeyRecord) -> None:
        with self._lock:
            if len(self._entries) >= self._size_max:
                self._entries.clear()
            self._entries[key] = (record, time.monotonic() + self._ttl_seconds)


async def authenticated(
    request: Request,
    application: AppDep,
    authorization: Annotated[str | None, Header(description="Bearer <API key>")] = None,
) -> ApiKeyRecord:
    if not authorization:
        raise ApiKeyMissing("Send your API key as `Authorization: Bearer <key>`.")
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiKeyMissing("Send your API key as `Authorization: Bearer <key>`.")
    key = key.strip()
    cache: ApiKeyCache = request.app.state.api_key_cache
    record = cache.get(key)
    if record is None:
        record = await run_in_threadpool(api_keys.authenticate, application.uow(), key=key)
        cache.put(key, record)
    return record


AnyCallerDep = Annotated[ApiKeyRecord, Depends(authenticated)]


async def api_caller(caller: AnyCallerDep) -> ApiKeyRecord:
    """Staff and integrators: an agent's, kiosk's or gateway's key has its own narrower API."""
    require_role(caller.role, allowed=API_ROLES)
    return caller


CallerDep = Annotated[ApiKeyRecord, Depends(api_caller)]


async def admin(caller: AnyCallerDep) -> ApiKeyRecord:
    require_role(caller.role, allowed=frozenset({Role.ADMIN}))
    return caller


AdminDep = Annotated[ApiKeyRecord, Depends(admin)]


async def agent_caller(caller: AnyCallerDep) -> ApiKeyRecord:
    require_role(caller.role, allowed=frozenset({Role.AGENT}))
    return caller


AgentDep = Annotated[ApiKeyRecord, Depends(agent_caller)]


async def kiosk_caller(caller: AnyCallerDep) -> ApiKeyRecord:
    require_role(caller.role, allowed=frozenset({Role.KIOSK}))
    return caller


KioskDep = Annotated[ApiKeyRecord, Depends(kiosk_caller)]


async def ussd_gateway(caller: AnyCallerDep) -> ApiKeyRecord:
    require_role(caller.role, allowed=frozenset({Role.USSD_GATEWAY, Role.ADMIN}))
    return caller


UssdGatewayDep = Annotated[ApiKeyRecord, Depends(ussd_gateway)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Any unique string per intended operation; a retry with the same key and body replays "
        "the first answer and moves no value twice.",
    ),
]


def scope_of(caller: ApiKeyRecord) -> str | None:
    """Whose orders, saved cards and rules the caller sees: staff every one (None), anyone else its own."""
    return None if caller.role == Role.ADMIN else caller.id


def own_agent(caller: ApiKeyRecord) -> str:
    """The agent an agent's or kiosk's key acts for (such a key always names one: api_keys.create_api_key)."""
    assert caller.agent_id is not None
    return caller.agent_id


def download(content: bytes, media_type: str, filename: str) -> Response:
    """A file the browser saves (a report, a statement)."""
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
