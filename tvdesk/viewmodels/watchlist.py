"""A watchlist's per-chart breakdown as rows of text: the CLI table, the Trial view's table
and the reports all show the same columns (Qt-free, so every shell formats it alike)."""

from __future__ import annotations

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


def chart_tag(metrics: Mapping[str, Any]) -> str:
    """The quality tag one backtest earns on its own (no search statistics: never GOOD)."""
    return judge(Evidence(metrics=metrics, risk=metrics)).tag


def _cell(value: Any, unit: str) -> str:
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
    """One row per chart: label, the key metrics, and (with_tag) its own quality tag."""
    rows = []
    for label, metrics in charts:
        row = [label, *(_cell(metrics.get(key), unit) for key, _, unit in COLUMNS)]
        if with_tag:
            row.append(chart_tag(metrics))
        rows.append(row)
    return rows


def header(*, with_tag: bool = True) -> list[str]:
    return ["Chart", *(title for _, title, _ in COLUMNS), *(["Tag"] if with_tag else [])]


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
