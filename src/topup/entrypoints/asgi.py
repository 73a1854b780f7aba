"""ASGI entry for uvicorn (`topup serve` uses it; workers import it)."""

from __future__ import annotations

from topup.bootstrap import bootstrap
from topup.entrypoints.api.app import create_app

app = create_app(bootstrap())
