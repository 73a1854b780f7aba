"""Run a state-changing route once per Idempotency-Key and replay the stored answer to retries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response

from topup.bootstrap import Application
from topup.services.idempotency import idempotent_request, run_once, run_saga_once
from topup.services.ports import ApiKeyRecord, StoredResponse, UnitOfWork

REPLAY_HEADER = "Idempotent-Replayed"


def respond_once(
    request: Request,
    application: Application,
    caller: ApiKeyRecord,
    key: str | None,
    canonical_body: str,
    operation: Callable[[UnitOfWork], tuple[int, dict[str, Any]]],
) -> Response:
    """`canonical_body` is the parsed body re-serialised, so whitespace or key order never make two
    identical requests look different."""
    idempotent = idempotent_request(caller.id, key, request.method, request.url.path, canonical_body.encode())
    uow = application.uow()

    def once() -> StoredResponse:
        status, body = operation(uow)
        return StoredResponse(status, json.dumps(body, separators=(",", ":")))

    stored, replayed = run_once(uow, application.clock, idempotent, once)
    return _response(stored, replayed)


def respond_saga_once(
    request: Request,
    application: Application,
    caller: ApiKeyRecord,
    key: str | None,
    canonical_body: str,
    *,
    resource_id: str,
    start: Callable[[], tuple[int, dict[str, Any]]],
    current: Callable[[str], tuple[int, dict[str, Any]] | None],
) -> Response:
    """For routes that call a provider: see `services.idempotency.run_saga_once`."""
    idempotent = idempotent_request(caller.id, key, request.method, request.url.path, canonical_body.encode())

    def encode(answer: tuple[int, dict[str, Any]] | None) -> StoredResponse | None:
        return None if answer is None else StoredResponse(answer[0], json.dumps(answer[1], separators=(",", ":")))

    def started() -> StoredResponse:
        response = encode(start())
        assert response is not None
        return response

    stored, replayed = run_saga_once(
        application.uow(),
        application.clock,
        idempotent,
        resource_id=resource_id,
        start=started,
        current=lambda resource: encode(current(resource)),
    )
    return _response(stored, replayed)


def _response(stored: StoredResponse, replayed: bool) -> Response:
    headers = {REPLAY_HEADER: "true"} if replayed else {}
    return Response(stored.body, status_code=stored.status_code or 200, headers=headers, media_type="application/json")
