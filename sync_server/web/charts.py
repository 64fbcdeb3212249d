"""Horizontal bar charts as plain geometry, drawn as inline SVG by ``templates/web/
_chart.html``: no chart library, no script, readable at 360 px (each label sits on its own
line above its bars) and scaling with the page (``viewBox``).

Every chart also renders its numbers as a table for screen readers and for exact values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Series", "Row", "BarChart", "bar_chart"]

WIDTH = 300
_LABEL = 18  # label line height
_BAR = 14
_GAP = 4
_ROW_GAP = 12
_VALUE_ROOM = 70  # right of the longest bar, for its value


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    css: str
    """Class of the bars (colour), e.g. ``s1``, ``s2``, ``late``."""


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    values: tuple[float | None, ...]
    """One value per series; ``None`` draws nothing (no data)."""
    target: float | None = None
    """Drawn as a tick across the row's bars."""


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    text: str
    """The value as written next to the bar."""
    title: str
    """Series and value, for a tooltip."""
    text_x: float


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    y1: float
    y2: float
    text: str


@dataclass
class BarChart:
    series: tuple[Series, ...]
    rows: tuple[Row, ...]
    height: float = 0
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH


def bar_chart(
    series: tuple[Series, ...],
    rows: list[Row],
    *,
    fmt: Callable[[float], str] = str,
) -> BarChart:
    """Lay out ``rows`` (one group of bars per row, one bar per series) on a common scale
    that also fits every target; ``fmt`` writes a value next to its bar."""
    chart = BarChart(series, tuple(rows))
    values = [v for r in rows for v in r.values if v is not None]
    values += [r.target for r in rows if r.target is not None]
    top = max(values, default=0) or 1
    scale = (WIDTH - _VALUE_ROOM) / top
    y = 0.0
    for row in rows:
        chart.labels.append(Label(0, y + 13, row.label))
        y += _LABEL
        first = y
        for value, s in zip(row.values, series, strict=True):
            if value is not None:
                width = max(value * scale, 1.5)
                chart.bars.append(
                    Bar(0, y, width, _BAR, s.css, fmt(value), f"{s.name}: {fmt(value)}", width + 4)
                )
            y += _BAR + _GAP
        if all(v is None for v in row.values):
            chart.labels.append(Label(0, first + _BAR - 3, "belum ada data"))
        if row.target is not None:
            x = row.target * scale
            chart.ticks.append(Tick(x, first - 2, y - _GAP + 2, f"target {fmt(row.target)}"))
        y += _ROW_GAP
    chart.height = max(y, 1)
    return chart
