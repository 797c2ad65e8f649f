"""Consistency checks run on every import; what they find goes to `BacktestResult.warnings`.

An export can disagree with itself: rows lost when a report was cut short, a sheet from an older
report, a broken copy-paste. The numbers are still kept as TradingView wrote them (nothing is
"fixed"), but the user is told, because a ranking built on a half-exported run is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tvdesk.metric_catalog import variant_key
from tvdesk.model import Trade


def tolerance(trades: int) -> float:
    """Rounding allowance: each stated P&L is rounded to the cent, plus one cent overall."""
    return 0.01 * trades + 0.01


def consistency_warnings(metrics: Mapping[str, Any], trades: Sequence[Trade]) -> list[str]:
    """Compare the trade list with the metrics the same file states, and with itself."""
    warnings: list[str] = []
    for scope in ("all", "long", "short"):
        chosen = [t for t in trades if scope == "all" or t.side == scope]
        closed = [t for t in chosen if not t.open]
        label = "" if scope == "all" else f" ({scope})"
        stated = metrics.get(variant_key("total_trades", scope))
        if stated is not None and stated != len(closed):
            warnings.append(f"List of trades has {len(closed)} closed trades{label} but the "
                            f"report states Total trades = {stated:g}")
        stated_open = metrics.get(variant_key("total_open_trades", scope))
        open_count = len(chosen) - len(closed)
        if stated_open is not None and stated_open != open_count:
            warnings.append(f"List of trades has {open_count} open trades{label} but the "
                            f"report states Total open trades = {stated_open:g}")
        net = metrics.get(variant_key("net_profit", scope))
        profits = [t.profit for t in closed]
        if net is not None and profits and None not in profits:
            total = sum(p for p in profits if p is not None)
            if abs(total - net) > tolerance(len(closed)):
                warnings.append(f"closed trades{label} add up to a P&L of {total:.2f} but the "
                                f"report states Net profit = {net:.2f}")
    warnings.extend(cumulative_warnings(trades))
    return warnings


def cumulative_warnings(trades: Sequence[Trade]) -> list[str]:
    """The last closed trade's cumulative P&L should equal the sum of closed P&L."""
    closed = [t for t in trades if not t.open]
    if not closed or closed[-1].cum_profit is None or any(t.profit is None for t in closed):
        return []
    total = sum(t.profit for t in closed if t.profit is not None)
    last = closed[-1].cum_profit
    if abs(total - last) > tolerance(len(closed)):
        return [f"closed trades add up to a P&L of {total:.2f} but the last trade's cumulative "
                f"P&L is {last:.2f}: rows may be missing"]
    return []
