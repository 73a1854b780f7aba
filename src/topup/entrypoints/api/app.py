"""The FastAPI application: the JSON API under /v1 (the portal will live under /)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import text

from topup.bootstrap import Application
from topup.entrypoints.api.body_limit import BodyLimit
from topup.entrypoints.api.deps import ApiKeyCache, AppDep
from topup.entrypoints.api.errors import install_error_handlers
from topup.entrypoints.api.routes import catalogue, lines, numbers, quotes, topups, transactions

BODY_BYTES_MAX = 1_100_000  # the largest body is a catalogue file (1 MB); JSON bodies are far smaller


def create_app(application: Application) -> FastAPI:
    app = FastAPI(
        title="Topup",
        version="0.1.0",
        description=(
            "Top up and charge prepaid mobile lines in Azerbaijan (Azercell, Bakcell, Nar). "
            "Authenticate with `Authorization: Bearer <API key>` (create one with "
            "`topup api-keys create --role admin --name me`). Every state-changing POST needs an "
            "`Idempotency-Key` header. Money is a decimal string in AZN; errors are "
            '`{"error": {"code", "message", "details"}}`.'
        ),
    )
    app.state.topup = application
    app.state.api_key_cache = ApiKeyCache(application.settings.api_key_cache_seconds)
    install_error_handlers(app)

    app.add_middleware(BodyLimit, bytes_max=BODY_BYTES_MAX)

    for module in (numbers, catalogue, lines, topups, quotes, transactions):
        app.include_router(module.router, prefix="/v1")

    @app.get("/v1/health", tags=["health"], summary="Is the service up and its database reachable?")
    def health(application: AppDep) -> dict[str, Any]:
        with application.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "schema_current": application.schema_is_current()}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
