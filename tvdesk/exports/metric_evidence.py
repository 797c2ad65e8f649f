"""Metric rows with unknown labels, identified by what their values are.

The headline metrics of a report follow from its own List of trades: net profit is the sum of
the closed trades' P&L, gross profit and loss the sums of the winners and losers, the trade
counts are counts, the profit factor is their ratio. So when a report in a language tvdesk has
no labels for states a row whose All (and Long / Short) values are exactly one of these, and
no other unknown row is, that row is that metric. A value two rows share, or one no trade list
explains, stays unnamed (kept under the label's snake_case key), so a guess is never made.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tvdesk.exports.checks import tolerance
from tvdesk.exports.metric_sheets import MetricRow
from tvdesk.metric_catalog import Scope
from tvdesk.model import Trade


@dataclass(frozen=True, slots=True)
class _Expected:
    key: str
    percent: bool  # which column of the row holds it
    values: dict[Scope, float]
    close: Callable[[float, float, int], bool]
    why: str


def _money(a: float, b: float, n: int) -> bool:
    return abs(a - b) <= tolerance(n)


def _count(a: float, b: float, _n: int) -> bool:
    return a == b


def _ratio(a: float, b: float, _n: int) -> bool:
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1.5e-3)


def _percent(a: float, b: float, _n: int) -> bool:
    return abs(a - b) <= 0.01


def _expected(trades: Sequence[Trade]) -> list[_Expected]:
    out: dict[str, dict[Scope, float]] = {}
    for scope in ("all", "long", "short"):
        closed = [t for t in trades if not t.open and (scope == "all" or t.side == scope)]
        if any(t.profit is None for t in closed):
            return []
        profits = [t.profit for t in closed if t.profit is not None]
        wins = [p for p in profits if p > 0]
        losses = [-p for p in profits if p < 0]
        facts = {
            "net_profit": sum(profits), "gross_profit": sum(wins), "gross_loss": sum(losses),
            "total_trades": float(len(closed)), "winning_trades": float(len(wins)),
            "losing_trades": float(len(losses)),
            "total_open_trades": float(sum(1 for t in trades if t.open and (
                scope == "all" or t.side == scope))),
        }
        if losses and wins:
            facts["profit_factor"] = sum(wins) / sum(losses)
        if closed:
            facts["percent_profitable"] = 100.0 * len(wins) / len(closed)
        for key, value in facts.items():
            out.setdefault(key, {})[scope] = value
    closeness = {"net_profit": _money, "gross_profit": _money, "gross_loss": _money,
                 "profit_factor": _ratio, "percent_profitable": _percent}
    return [_Expected(key, key == "percent_profitable", values, closeness.get(key, _count),
                      _WHY[key]) for key, values in out.items()]


_HOME = {"net_profit": "performance", "gross_profit": "performance",
         "gross_loss": "performance", "profit_factor": "risk_adjusted",
         "percent_profitable": "trades_analysis", "total_trades": "trades_analysis",
         "winning_trades": "trades_analysis", "losing_trades": "trades_analysis",
         "total_open_trades": "trades_analysis"}
"""The sheet each metric sits on, which settles a tie between two rows with equal values."""

_WHY = {"net_profit": "the sum of the closed trades' P&L",
        "gross_profit": "the sum of the winning trades' P&L",
        "gross_loss": "the sum of the losing trades' P&L",
        "profit_factor": "gross profit / gross loss of the trades",
        "percent_profitable": "the share of winning trades",
        "total_trades": "the number of closed trades",
        "winning_trades": "the number of winning trades",
        "losing_trades": "the number of losing trades",
        "total_open_trades": "the number of open trades"}


def identify(rows: Sequence[MetricRow], trades: Sequence[Trade], known: set[str]
             ) -> list[tuple[MetricRow, str, str]]:
    """(row, metric key, why) for every unknown row its values name beyond doubt."""
    if not rows or not trades:
        return []
    closed = sum(1 for t in trades if not t.open)
    matches: dict[str, list[MetricRow]] = {}
    reasons: dict[str, str] = {}
    for expected in _expected(trades):
        if expected.key in known:
            continue
        for row in rows:
            if _agrees(row, expected, closed):
                matches.setdefault(expected.key, []).append(row)
        reasons[expected.key] = expected.why
    for key, found in matches.items():
        if len(found) > 1:  # a tie: the sheet TradingView puts the metric on decides
            home = [row for row in found if row.kind == _HOME.get(key)]
            if len(home) == 1:
                matches[key] = home
    claimed: dict[int, list[str]] = {}
    for key, found in matches.items():
        if len(found) == 1:
            claimed.setdefault(id(found[0]), []).append(key)
    out = []
    for key, found in matches.items():
        if len(found) == 1 and len(claimed[id(found[0])]) == 1:
            out.append((found[0], key, reasons[key]))
    return out


def _agrees(row: MetricRow, expected: _Expected, closed: int) -> bool:
    """The row's All value matches, and so does each Long / Short value it states."""
    compared = 0
    for scope, value in expected.values.items():
        stated = row.number(scope, expected.percent)
        if stated is None and expected.percent:
            stated = row.number(scope, False)
        if stated is None and not expected.percent and expected.close is not _money:
            stated = row.number(scope, True)
        if stated is None:
            if scope == "all":
                return False
            continue
        if not expected.close(stated, value, closed):
            return False
        compared += 1
    return compared > 0
