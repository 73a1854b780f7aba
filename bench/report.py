"""Latency statistics, the summary table and the JSON results file."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentile_ms(latencies_s: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of latencies in seconds, returned in milliseconds."""
    if not latencies_s:
        return None
    ordered = sorted(latencies_s)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1] * 1000.0


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float | int | None]:
    return {
        "count": len(latencies_s),
        "p50_ms": percentile_ms(latencies_s, 0.50),
        "p90_ms": percentile_ms(latencies_s, 0.90),
        "p99_ms": percentile_ms(latencies_s, 0.99),
        "max_ms": max(latencies_s) * 1000.0 if latencies_s else None,
        "mean_ms": sum(latencies_s) / len(latencies_s) * 1000.0 if latencies_s else None,
    }


@dataclass
class Row:
    """One line of the summary: `higher_is_better` decides how `target` is compared."""

    metric: str
    measured: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    target: float | None = None
    target_on: str = "ratio"  # "ratio" or "measured"
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if self.measured is None or not self.baseline:
            return None
        return self.measured / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        value = self.ratio if self.target_on == "ratio" else self.measured
        if value is None:
            return False
        return value >= self.target if self.higher_is_better else value <= self.target

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, int):  # a count
        return f"{value:,} {unit}".strip()
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def _target(row: Row) -> str:
    if row.target is None:
        return "—"
    sign = "≥" if row.higher_is_better else "≤"
    if row.target_on == "ratio":
        return f"{sign} {row.target:.2f}×"
    return f"{sign} {_number(row.target, row.unit)}"


def format_table(rows: Sequence[Row]) -> str:
    header = ("metric", "measured", "baseline", "ratio", "target", "met?")
    cells = [header]
    for row in rows:
        baseline = "—" if row.baseline is None else f"{_number(row.baseline)} ({row.baseline_name})"
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}×"
        met = {None: "", True: "yes", False: "NO"}[row.met]
        cells.append((row.metric, _number(row.measured, row.unit), baseline, ratio, _target(row), met))
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]

    def render(line: Sequence[str]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([render(cells[0]), rule, *(render(line) for line in cells[1:])])


def write_json(results: dict[str, Any], path: Path | None = None) -> Path:
    path = path or RESULTS_DIR / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    return path
