"""Run a state-changing route once per Idempotency-Key and replay the stored answer to retries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response

from topup.bootstrap import Application
from topup.services.idempotency import idempotent_request, run_once
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
    headers = {REPLAY_HEADER: "true"} if replayed else {}
    return Response(stored.body, status_code=stored.status_code, headers=headers, media_type="application/json")
