"""Demo lines for `make run`: one per operator, a ported number, a barred line, some history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from topup.bootstrap import Application
from topup.domain.errors import LineNotFound
from topup.domain.lines import LineStatus, LineType
from topup.services import bundles, lines, numbers, topups


@dataclass(frozen=True)
class DemoLine:
    number: str
    language: str
    top_up_qepik: int = 0
    bundle: str | None = None
    line_type: LineType = LineType.PREPAID
    status: LineStatus = LineStatus.ACTIVE
    ported_to: str | None = None


DEMO_LINES = (
    DemoLine("+994501234567", "az", 2000, "azercell-10gb-30d"),
    DemoLine("+994511112233", "en", 500),
    DemoLine("+994552223344", "ru", 1500, "bakcell-5gb-30d"),
    DemoLine("+994702223344", "zh", 1000, "nar-3-5gb-14d"),
    DemoLine("+994774445566", "en", 300),
    DemoLine("+994503334455", "az", 1000, ported_to="bakcell"),  # an Azercell prefix now on Bakcell
    DemoLine("+994997778899", "az", line_type=LineType.POSTPAID),
    DemoLine("+994105556677", "ru", status=LineStatus.BARRED),
)


def seed(application: Application, *, progress: Callable[[str], None] = lambda _: None) -> int:
    """Provision the demo lines that do not exist yet; returns how many were added. Safe to run again."""
    added = 0
    clock, codes = application.clock, application.codes
    for demo in DEMO_LINES:
        progress(demo.number)
        if _provisioned(application, demo.number):
            continue
        if demo.ported_to:
            numbers.add_port(application.uow(), clock, number=demo.number, operator=demo.ported_to)
        lines.provision_line(
            application.uow(),
            clock,
            number=demo.number,
            line_type=demo.line_type,
            language=demo.language,
            status=demo.status,
        )
        if demo.top_up_qepik:
            topups.top_up(
                application.uow(),
                clock,
                codes,
                number=demo.number,
                amount_qepik=demo.top_up_qepik,
                channel="demo",
            )
        if demo.bundle:
            bundles.buy_bundle(
                application.uow(), clock, codes, number=demo.number, bundle_code=demo.bundle, channel="demo"
            )
        added += 1
    return added


def _provisioned(application: Application, number: str) -> bool:
    try:
        lines.get_line(application.uow(), number=number)
    except LineNotFound:
        return False
    return True
