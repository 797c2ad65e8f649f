"""Daily returns on one calendar, the raw material of the overfitting statistics.

PBO and the deflated Sharpe ratio compare every trial of a search on the same periods, so each
trial's equity is reduced to one return per calendar day (in the chart's timezone): the last
equity of each day over the last equity of the day before (the first day over the initial
capital). Days without bars are absent; the statistics align trials by date.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tvdesk.model import BacktestResult, EquityCurve


def daily_returns(curve: EquityCurve, *, timezone: str, initial_capital: float,
                  first_bar: int = 0) -> tuple[list[str], list[float]]:
    zone = ZoneInfo(timezone)
    dates: list[str] = []
    closing: list[float] = []
    for ms, equity in zip(curve.times[first_bar:], curve.equity[first_bar:], strict=True):
        day = datetime.fromtimestamp(ms / 1000, zone).date().isoformat()
        if dates and dates[-1] == day:
            closing[-1] = equity
        else:
            dates.append(day)
            closing.append(equity)
    returns = []
    previous = initial_capital
    for value in closing:
        returns.append(value / previous - 1.0 if previous else 0.0)
        previous = value
    return dates, returns


def result_daily_returns(result: BacktestResult) -> tuple[list[str], list[float]]:
    """A backtest's daily returns: its equity curve from its first trading bar (after the
    warm-up), in its chart's timezone, over its initial capital."""
    initial = float(result.metrics.get("initial_capital") or 0) or 1.0
    return daily_returns(result.equity_curve, timezone=result.properties["timezone"],
                         initial_capital=initial,
                         first_bar=int(result.properties.get("warmup_bars", 0)))
