"""Request-scoped dependencies: the application, the caller's API key, the caller's role."""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
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


class ApiKeyAuth(SecurityBase):
    """`Authorization: Bearer <API key>`, for the given roles: one dependency per route that authenticates and
    checks the role at once. As a security scheme it is in the OpenAPI document, and /docs can send the key."""

    def __init__(self, allowed: frozenset[Role]) -> None:
        self.allowed = allowed
        self.model = HTTPBearerModel(description="Bearer <API key>")
        self.scheme_name = "ApiKey"

    async def __call__(self, request: Request) -> ApiKeyRecord:
        authorization = request.headers.get("authorization")
        if not authorization:
            raise ApiKeyMissing("Send your API key as `Authorization: Bearer <key>`.")
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiKeyMissing("Send your API key as `Authorization: Bearer <key>`.")
        key = key.strip()
        cache: ApiKeyCache = request.app.state.api_key_cache
        record = cache.get(key)
        if record is None:
            application = await get_application(request)
            record = await run_in_threadpool(api_keys.authenticate, application.uow(), key=key)
            cache.put(key, record)
        require_role(record.role, allowed=self.allowed)
        return record


# Staff and integrators: an agent's, kiosk's or gateway's key has its own narrower API.
CallerDep = Annotated[ApiKeyRecord, Depends(ApiKeyAuth(API_ROLES))]
AdminDep = Annotated[ApiKeyRecord, Depends(ApiKeyAuth(frozenset({Role.ADMIN})))]
AgentDep = Annotated[ApiKeyRecord, Depends(ApiKeyAuth(frozenset({Role.AGENT})))]
KioskDep = Annotated[ApiKeyRecord, Depends(ApiKeyAuth(frozenset({Role.KIOSK})))]
UssdGatewayDep = Annotated[ApiKeyRecord, Depends(ApiKeyAuth(frozenset({Role.USSD_GATEWAY, Role.ADMIN})))]
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
