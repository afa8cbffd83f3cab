"""Charts drawn on the server as SVG: no JavaScript, no external service, nothing the
strict Content-Security-Policy has to allow, and they print. The figures are always in
a table beside the chart as well, for screen readers and copying."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from core.plugin_api import (
    money,
)

# Lines over light bars: dark, distinct colours (each at least 4.5:1 on white).
PALETTE = ("#b3261e", "#17692e", "#6f2da8", "#9a5b00", "#0b6e79", "#44505f")


@dataclass
class Chart:
    width: int
    height: int
    bars: list[tuple] = field(default_factory=list)  # x, y, width, height, title
    previous: list[tuple] = field(default_factory=list)  # last year's bars, the same way
    lines: list[tuple] = field(default_factory=list)  # points, label, colour, dots
    x_labels: list[tuple] = field(default_factory=list)  # x, text
    y_ticks: list[tuple] = field(default_factory=list)  # y, text


def _nice_ceiling(value: int) -> int:
    """A round maximum for the axis: 1, 2 or 5 times a power of ten, at least ``value``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return factor * step
        step *= 10


def monthly_chart(
    months: list[date],
    amounts: dict[date, int],
    previous: dict[date, int],
    lines: dict[str, dict[date, int]],
    width: int = 720,
    height: int = 260,
) -> Chart:
    """Bars of the amount per month (last year's beside them when given) and a line per
    group (``lines``: label -> amount per month), drawn over the bars with a dot per
    month; amounts are in cents."""
    left, right, top, bottom = 72, 8, 8, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([*amounts.values(), *previous.values(), 1])
    ceiling = _nice_ceiling(peak)
    chart = Chart(width, height)
    slot = plot_w / max(len(months), 1)
    bar_w = slot * (0.38 if previous else 0.7)

    def y_of(value: int) -> float:
        return top + plot_h - plot_h * max(value, 0) / ceiling

    for n in range(5):
        value = ceiling * n // 4
        chart.y_ticks.append((round(y_of(value), 1), money(value)))
    for index, month in enumerate(months):
        x = left + slot * index + (slot - (2 * bar_w if previous else bar_w)) / 2
        label = month.strftime("%m/%Y")
        if previous:
            value = previous.get(month, 0)
            chart.previous.append(_bar(x, y_of(value), bar_w, top + plot_h, label, value))
            x += bar_w
        value = amounts.get(month, 0)
        chart.bars.append(_bar(x, y_of(value), bar_w, top + plot_h, label, value))
        if len(months) <= 12 or index % 2 == 0:
            chart.x_labels.append((round(left + slot * (index + 0.5), 1), month.strftime("%m/%y")))
    for (label, values), colour in zip(lines.items(), PALETTE, strict=False):
        dots = [
            (
                round(left + slot * (i + 0.5), 1),
                round(y_of(values.get(m, 0)), 1),
                f"{label}, {m.strftime('%m/%Y')}: {money(values.get(m, 0))}",
            )
            for i, m in enumerate(months)
        ]
        chart.lines.append((" ".join(f"{x},{y}" for x, y, _ in dots), label, colour, dots))
    return chart


def _bar(x: float, y: float, width: float, base: float, label: str, value: int) -> tuple:
    return (
        round(x, 1),
        round(y, 1),
        round(width, 1),
        round(base - y, 1),
        f"{label}: {money(value)}",
    )


def sparkline(values: list[int], width: int = 120, height: int = 28) -> str:
    """The points of a small line of ``values`` (oldest first)."""
    peak, count = max([*values, 1]), max(len(values) - 1, 1)
    return " ".join(
        f"{width * i / count:.1f},{height - 2 - (height - 4) * max(v, 0) / peak:.1f}"
        for i, v in enumerate(values)
    )
