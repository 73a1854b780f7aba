"""The dashboard's usage chart: data used per day over the last 30 days, drawn on the server as SVG (so it reads
without JavaScript) with a title, a description and a table of the same numbers for screen readers."""

from __future__ import annotations

from dataclasses import dataclass

from topup.domain.catalogue import KB_PER_MB
from topup.services.charging import DayOfUse

WIDTH = 600
HEIGHT = 200
LEFT = 76  # room for the axis labels ("1,000 MB" at the phone's larger axis font)
BOTTOM = 24
TOP = 12
GRID_LINES = 4
_NICE_STEPS_MB = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: DayOfUse
    label: bool  # whether its date is written under the axis (every seventh, and the last)
    last: bool  # the last bar's label ends at the bar, so it stays inside the picture


@dataclass(frozen=True, slots=True)
class GridLine:
    y: float
    megabytes: int


@dataclass(frozen=True, slots=True)
class UsageChart:
    width: int
    height: int
    left: int
    baseline: float
    bars: list[Bar]
    grid: list[GridLine]
    total_kb: int


def _step_mb(peak_mb: float) -> int:
    for step in _NICE_STEPS_MB:
        if step * GRID_LINES >= peak_mb:
            return step
    return _NICE_STEPS_MB[-1]


def usage_chart(days: list[DayOfUse]) -> UsageChart:
    peak_mb = max((day.data_kb for day in days), default=0) / KB_PER_MB
    step = _step_mb(peak_mb)
    top_mb = step * GRID_LINES
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(HEIGHT - BOTTOM)
    slot = (WIDTH - LEFT) / max(len(days), 1)
    bars = []
    for index, day in enumerate(days):
        height = plot_height * (day.data_kb / KB_PER_MB) / top_mb
        if day.data_kb and height < 1:
            height = 1.0  # a little use still shows
        last = index == len(days) - 1
        bars.append(
            Bar(
                x=round(LEFT + index * slot + slot * 0.15, 2),
                y=round(baseline - height, 2),
                width=round(slot * 0.7, 2),
                height=round(height, 2),
                day=day,
                label=last or (len(days) - 1 - index) % 7 == 0,
                last=last,
            )
        )
    grid = [GridLine(round(baseline - plot_height * n / GRID_LINES, 2), step * n) for n in range(GRID_LINES + 1)]
    return UsageChart(WIDTH, HEIGHT, LEFT, baseline, bars, grid, sum(day.data_kb for day in days))
