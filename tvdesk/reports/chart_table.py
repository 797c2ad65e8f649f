"""A watchlist trial's per-chart table as the reports show it: chart, key metrics, tag.

The CLI and the GUI show the same table through `tvdesk.viewmodels.watchlist`, which re-exports
these (the reports sit below the view models in tvdesk's import layers).

`chart_values` gives the same cells as numbers, for the workbook (numbers stay numbers there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tvdesk.analytics.quality import Evidence, judge

COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (metric key, header, unit)
    ("net_profit_percent", "Net profit %", "+%"),
    ("max_drawdown_percent", "Max DD %", "%"),
    ("profit_factor", "Profit factor", ""),
    ("total_trades", "Trades", "n"),
    ("percent_profitable", "Win %", "%"),
    ("sharpe_ratio", "Sharpe", ""),
)

NUMBER_FORMATS: dict[str, str] = {
    "+%": '+0.00" %";-0.00" %";0.00" %"', "%": '0.00" %"', "n": "#,##0", "": "0.000"}
"""The spreadsheet format of each unit: the cell reads as the table's text, unit added."""


def chart_tag(metrics: Mapping[str, Any]) -> str:
    """The quality tag one backtest earns on its own (no search statistics: never GOOD)."""
    return judge(Evidence(metrics=metrics, risk=metrics)).tag


def cell(value: Any, unit: str) -> str:
    """A metric as the per-chart table writes it ("—" when it is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    if unit == "n":
        return f"{value:g}"
    if unit == "+%":
        return f"{value:+.2f}" if value else "0.00"
    if unit == "%":
        return f"{value:.2f}"
    return f"{value:.3f}"


def chart_rows(charts: Sequence[tuple[str, Mapping[str, Any]]], *,
               with_tag: bool = True) -> list[list[str]]:
    """One row per chart: label, the key metrics as text, and (with_tag) its own tag."""
    rows = []
    for label, metrics in charts:
        row = [label, *(cell(metrics.get(key), unit) for key, _, unit in COLUMNS)]
        if with_tag:
            row.append(chart_tag(metrics))
        rows.append(row)
    return rows


def header(*, with_tag: bool = True) -> list[str]:
    return ["Chart", *(title for _, title, _ in COLUMNS), *(["Tag"] if with_tag else [])]


def value(metrics: Mapping[str, Any], key: str) -> float | int | None:
    """A metric as a workbook cell: the number, or None (an empty cell) when it is not a
    finite number."""
    number = metrics.get(key)
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return None
    return number if math.isfinite(number) else None


def chart_values(charts: Sequence[tuple[str, Mapping[str, Any]]]) -> list[list[Any]]:
    """`chart_rows` with numbers instead of text: label, each column's value, tag."""
    return [[label, *(value(metrics, key) for key, _, _ in COLUMNS), chart_tag(metrics)]
            for label, metrics in charts]


def format_table(rows: Sequence[Sequence[str]], head: Sequence[str]) -> str:
    """Plain-text columns: the chart label left-aligned, numbers right-aligned."""
    table = [list(head), *map(list, rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    lines = []
    for row in table:
        cells = [c.ljust(w) if i == 0 else c.rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


__all__ = [
    "COLUMNS",
    "NUMBER_FORMATS",
    "chart_rows",
    "chart_tag",
    "chart_values",
    "format_table",
    "header",
    "value",
]
