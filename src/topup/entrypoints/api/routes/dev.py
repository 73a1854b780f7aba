"""Development helpers: the notification inbox (only when TOPUP_ENVIRONMENT is development)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from topup.adapters.notifications.render import render
from topup.config import Environment
from topup.domain.errors import DomainError, ErrorKind
from topup.domain.notifications import Notification
from topup.entrypoints.api.deps import AdminDep, AppDep
from topup.services import notifications

router = APIRouter(tags=["development"])


class DevModeOff(DomainError):
    code = "not_found"
    kind = ErrorKind.NOT_FOUND


def shown(notification: Notification) -> dict[str, Any]:
    rendered = render(notification)
    return {
        "id": notification.id,
        "msisdn": notification.msisdn,
        "kind": notification.kind.value,
        "language": rendered.language,
        "text": rendered.text,
        "created_at": notification.created_at.isoformat() if notification.created_at else None,
        "sent_at": notification.sent_at.isoformat() if notification.sent_at else None,
    }


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
    return {"items": [shown(n) for n in found]}
