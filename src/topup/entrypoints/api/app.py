"""The FastAPI application: the JSON API under /v1 and the self-service portal under /."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from topup.adapters.payments.sandbox_acquirer import create_sandbox_acquirer
from topup.adapters.payments.sandbox_goldenpay import create_sandbox_goldenpay
from topup.adapters.payments.sandbox_googlepay import create_sandbox_googlepay
from topup.adapters.payments.sandbox_paypal import create_sandbox_paypal
from topup.adapters.payments.sandbox_webmoney import create_sandbox_webmoney
from topup.bootstrap import Application
from topup.config import Settings
from topup.entrypoints.api.body_limit import BodyLimit
from topup.entrypoints.api.deps import ApiKeyCache, AppDep
from topup.entrypoints.api.errors import install_error_handlers
from topup.entrypoints.api.routes import (
    agents,
    catalogue,
    charging,
    dev,
    kiosks,
    lines,
    numbers,
    orders,
    providers,
    quotes,
    self_service,
    topups,
    transactions,
    ussd,
    vouchers,
    webhooks,
)
from topup.entrypoints.pos import routes as pos_routes
from topup.entrypoints.web import install_portal
from topup.entrypoints.worker import start_in_thread

SANDBOX_PATH = "/sandbox/card"  # the fake card acquirer with its 3-D Secure pages (development only)
BODY_BYTES_MAX = 1_100_000  # the largest body is a catalogue file (1 MB); JSON bodies are far smaller


def create_app(application: Application) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker = start_in_thread(application) if application.settings.worker_in_process else None
        yield
        if worker is not None:
            thread, stop = worker
            stop.set()
            thread.join(timeout=30)

    app = FastAPI(
        lifespan=lifespan,
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

    modules = (
        numbers,
        catalogue,
        lines,
        topups,
        quotes,
        orders,
        self_service,
        providers,
        charging,
        webhooks,
        transactions,
        agents,
        kiosks,
        vouchers,
        ussd,
        dev,
    )
    for module in modules:
        app.include_router(module.router, prefix="/v1")
    app.include_router(pos_routes.router)
    if application.settings.sandbox_enabled:
        mount_sandboxes(app, application.settings)

    @app.get("/v1/health", tags=["health"], summary="Is the service up and its database reachable?")
    def health(application: AppDep) -> dict[str, Any]:
        with application.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "schema_current": application.schema_is_current()}

    install_portal(app, application)  # the portal takes "/" over; the API's docs stay at /docs
    return app


def mount_sandboxes(app: FastAPI, settings: Settings) -> None:
    """The fake card acquirer, wallets and gateway that ship in the product (development only), each under
    /sandbox/<name> with its own SQLite file next to the card sandbox's."""
    data_dir = Path(settings.sandbox_database_path).parent
    base = f"{settings.public_base_url}/sandbox"
    keys_dir = data_dir / "sandbox-google-pay-keys"  # shared: the sheet encrypts for the acquirer's key
    app.mount(
        SANDBOX_PATH,
        create_sandbox_acquirer(
            Path(settings.sandbox_database_path),
            secret=settings.card_acquirer_secret,
            public_base_url=f"{settings.public_base_url}{SANDBOX_PATH}",
            google_pay_keys_dir=keys_dir,
            google_pay_gateway_id=settings.google_pay_gateway_id,
            google_pay_merchant_id=settings.google_pay_gateway_merchant_id,
        ),
    )
    app.mount(
        "/sandbox/paypal",
        create_sandbox_paypal(
            data_dir / "sandbox-paypal.db",
            client_id=settings.paypal_client_id,
            client_secret=settings.paypal_client_secret,
            public_base_url=f"{base}/paypal",
        ),
    )
    app.mount(
        "/sandbox/webmoney",
        create_sandbox_webmoney(
            data_dir / "sandbox-webmoney.db",
            purses=settings.webmoney_purse_map,
            secret_key=settings.webmoney_secret_key,
            public_base_url=f"{base}/webmoney",
        ),
    )
    app.mount(
        "/sandbox/goldenpay",
        create_sandbox_goldenpay(
            data_dir / "sandbox-goldenpay.db",
            merchant_name=settings.goldenpay_merchant_name,
            auth_key=settings.goldenpay_auth_key,
            # The dashboard's one return address: the portal's, which sends an integrator's customer on to the
            # API's result page and a portal visitor to theirs (`/v1/payments/goldenpay/return` still works).
            return_url=f"{settings.public_base_url}/payments/goldenpay/return",
            public_base_url=f"{base}/goldenpay",
        ),
    )
    app.mount(
        "/sandbox/googlepay",
        create_sandbox_googlepay(
            keys_dir,
            gateway_id=settings.google_pay_gateway_id,
            gateway_merchant_id=settings.google_pay_gateway_merchant_id,
            public_base_url=f"{base}/googlepay",
        ),
    )
