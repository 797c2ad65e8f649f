"""tvdesk's own risk statistics of one backtest, reported beside TradingView's.

TradingView's Sharpe and Sortino (`sharpe_ratio`, `sortino_ratio` in tvdesk.metric_catalog)
are monthly, with a risk-free rate and a population deviation. The ones here are tvdesk's:
daily returns (`tvdesk.analytics.returns.daily_returns`), no risk-free rate, not annualised,
under keys that TradingView does not use, so the two are never confused. Definitions are in
`RISK_METRIC_DEFINITIONS`; undefined values are None, never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tvdesk.analytics.overfitting import ZERO_STD, sharpe
from tvdesk.analytics.returns import daily_returns
from tvdesk.analytics.tv_metrics import _cagr, _checked, check_inputs
from tvdesk.model import EquityCurve, Trade

RISK_METRIC_DEFINITIONS: dict[str, str] = {
    "sharpe_daily": "tvdesk's Sharpe: mean / standard deviation (ddof=1) of daily returns; "
                    "no risk-free rate, not annualised.",
    "sortino_daily": "tvdesk's Sortino (Sortino & Price 1994, target 0): mean daily return / "
                     "sqrt(mean(min(r, 0)²)) over all days; not annualised.",
    "calmar": "CAGR % / max drawdown % (close-to-close) (Young 1991, over the whole range "
              "instead of 36 months).",
    "sqn": "Van Tharp's System Quality Number: sqrt(min(n, cap)) · mean(R) / std(R), R the "
           "closed trades' profits (ddof=1, cap 100 by default).",
    "expectancy": "win% · avg win − loss% · avg loss, in money per closed trade.",
    "recovery_factor": "Net profit / max drawdown (close-to-close, money).",
    "cagr_percent": "Compound annual growth rate of equity, % (same rule as annualized_return).",
    "exposure_percent": "Share of the window's bars with a position open, %: a trade holds bars "
                        "[entry_bar, exit_bar), a same-bar trade its one bar, an open trade to "
                        "the last bar; overlapping trades count once.",
    "largest_loss_percent_of_equity": "Largest loss of a closed trade as % of equity at its "
                                      "entry (initial capital + profit of trades closed by "
                                      "then).",
    "largest_win_share_percent": "Largest winning trade / gross profit × 100: how much of the "
                                 "profit one trade made.",
}


def risk_metrics(
    trades: Sequence[Trade],
    equity: EquityCurve,
    *,
    initial_capital: float,
    first_bar: int = 0,
    sqn_cap: int = 100,
    timezone: str = "UTC",
) -> dict[str, float | None]:
    """tvdesk's risk metrics (keys and definitions: `RISK_METRIC_DEFINITIONS`).

    Trades need `entry_bar` (closed ones also `exit_bar` and `profit`), indexes into `equity`;
    trade statistics use closed trades only, open ones count for exposure. Equity statistics use
    bars from `first_bar` on, starting from `initial_capital`, as tvdesk.analytics.tv_metrics
    does; days are calendar days in `timezone`. ValueError on inconsistent input.
    """
    n_bars = check_inputs(trades, equity, initial_capital, first_bar)
    closed = [t for t in trades if not t.open]
    profits = np.array([t.profit for t in closed], dtype=float)

    out: dict[str, float | None] = {}
    _, days = daily_returns(equity, timezone=timezone, initial_capital=initial_capital,
                            first_bar=first_bar)
    out["sharpe_daily"] = sharpe(days)
    out["sortino_daily"] = _sortino(np.asarray(days, dtype=float))

    closes = np.concatenate(([initial_capital], np.asarray(equity.equity[first_bar:], float)))
    peak = np.maximum.accumulate(closes)
    drawdown = peak - closes
    dd_money = float(drawdown.max())
    positive = peak > 0
    dd_percent = float((drawdown[positive] / peak[positive]).max() * 100.0)
    cagr = _cagr(equity, initial_capital, first_bar) if n_bars else None
    out["cagr_percent"] = cagr
    out["calmar"] = cagr / dd_percent if cagr is not None and dd_percent > 0 else None

    net = float(profits.sum())
    out["recovery_factor"] = net / dd_money if dd_money > 0 else None
    out["sqn"] = _sqn(profits, sqn_cap)
    out.update(_trade_shares(closed, profits, initial_capital))
    out["exposure_percent"] = _exposure(trades, n_bars, first_bar)
    return {key: _clean(out.get(key)) for key in RISK_METRIC_DEFINITIONS}


def _sortino(returns: np.ndarray) -> float | None:
    """Mean / downside deviation with target 0; the deviation divides by all N days."""
    if returns.size < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    return float(returns.mean()) / downside if downside > ZERO_STD else None


def _sqn(profits: np.ndarray, cap: int) -> float | None:
    """Van Tharp's SQN: sqrt(min(n, cap)) · mean(R) / std(R), R = trade profits (money)."""
    if profits.size < 2:
        return None
    std = float(profits.std(ddof=1))
    if std <= ZERO_STD:
        return None
    return math.sqrt(min(profits.size, cap)) * float(profits.mean()) / std


def _trade_shares(closed: Sequence[Trade], profits: np.ndarray,
                  initial: float) -> dict[str, float | None]:
    wins, losses = profits[profits > 0], profits[profits < 0]
    n = profits.size
    expectancy = None
    if n:
        avg_win = float(wins.mean()) if wins.size else 0.0
        avg_loss = float(-losses.mean()) if losses.size else 0.0
        expectancy = wins.size / n * avg_win - losses.size / n * avg_loss
    gross_profit = float(wins.sum())
    largest_loss: float | None = None
    for trade in closed:
        if trade.profit is None or trade.profit >= 0:
            continue
        booked = sum(o.profit or 0.0 for o in closed
                     if o is not trade and _checked(o.exit_bar) <= _checked(trade.entry_bar))
        base = initial + booked
        if base > 0:
            share = -trade.profit / base * 100.0
            largest_loss = share if largest_loss is None else max(largest_loss, share)
    return {
        "expectancy": expectancy,
        "largest_loss_percent_of_equity": largest_loss,
        "largest_win_share_percent": (
            float(wins.max()) / gross_profit * 100.0 if gross_profit > 0 else None),
    }


def _exposure(trades: Sequence[Trade], n_bars: int, first: int) -> float | None:
    if n_bars - first <= 0:
        return None
    held = np.zeros(n_bars, dtype=bool)
    for t in trades:
        start = _checked(t.entry_bar)
        stop = n_bars if t.open else _checked(t.exit_bar)
        if stop > start:
            held[start:stop] = True
        else:
            held[start] = True
    return float(held[first:].mean() * 100.0)


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
