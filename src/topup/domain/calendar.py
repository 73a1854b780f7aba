"""Calendar rules (validity dates, daily limits, receipts) follow Asia/Baku; storage is UTC."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

BAKU = ZoneInfo("Asia/Baku")


def baku_date(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every moment in Topup carries its time zone")
    return moment.astimezone(BAKU).date()
