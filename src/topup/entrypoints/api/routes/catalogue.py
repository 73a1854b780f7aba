"""Operators and their catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from topup.domain.errors import InvalidInput
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AdminDep, AppDep, CallerDep
from topup.services import catalogue

router = APIRouter(tags=["catalogue"])
CATALOGUE_BYTES_MAX = 1_000_000


@router.get("/operators", summary="Operators, open and closed")
def operators(application: AppDep, _caller: CallerDep) -> dict[str, Any]:
    current = catalogue.current_catalogue(application.uow())
    return {
        "catalogue_version": current.version,
        "items": [serialise.operator(o) for o in current.operators.values()],
    }


@router.get("/operators/{operator}/catalogue", summary="An operator's top-up rules, tariff and bundles")
def operator_catalogue(operator: str, application: AppDep, _caller: CallerDep) -> dict[str, Any]:
    current = catalogue.current_catalogue(application.uow())
    body = serialise.operator(current.operator(operator), with_catalogue=True)
    body["catalogue_version"] = current.version
    body["vat_percent"] = f"{current.vat_rate_basis_points / 100:g}"
    return body


@router.put(
    "/catalogue",
    summary="Load a new catalogue version (admin); body: the TOML file, Content-Type application/toml",
)
async def load_catalogue(request: Request, application: AppDep, _caller: AdminDep) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > CATALOGUE_BYTES_MAX:
        raise InvalidInput("The catalogue file is too large.", bytes_max=CATALOGUE_BYTES_MAX)
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The catalogue file must be UTF-8 text.") from None
    loaded, changed = await run_in_threadpool(
        catalogue.load_catalogue, application.uow(), application.clock, source=source
    )
    return {"catalogue_version": loaded.version, "changed": changed, "operators": sorted(loaded.operators)}
