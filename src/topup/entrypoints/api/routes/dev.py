"""Development helpers: the notification inbox (only when TOPUP_ENVIRONMENT is development)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from topup.config import Environment
from topup.domain.errors import DomainError, ErrorKind
from topup.entrypoints.api import serialise
from topup.entrypoints.api.deps import AdminDep, AppDep
from topup.services import notifications

router = APIRouter(tags=["development"])


class DevModeOff(DomainError):
    code = "not_found"
    kind = ErrorKind.NOT_FOUND


@router.get("/dev/inbox", summary="Notifications as subscribers get them, newest first (development only)")
def inbox(
    application: AppDep,
    _caller: AdminDep,
    msisdn: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=notifications.INBOX_LIMIT_MAX)] = 50,
) -> dict[str, Any]:
    if application.settings.environment is not Environment.DEVELOPMENT:
        raise DevModeOff("Not found.")
    found = notifications.inbox(application.uow(), number=msisdn, limit=limit)
    return {"items": [serialise.notification(n) for n in found]}
