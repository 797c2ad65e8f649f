"""A trial's equity over time, rebuilt from whatever was kept of it, with buy & hold beside it.

The run store keeps results without their bar-by-bar equity curve, so the reports
(`tvdesk.reports.builders`) and the trial view (`tvdesk.viewmodels.trial_details`) both rebuild it,
and must rebuild it the same way; that is done once, here. The series says where it came from
in `EquitySeries.kind`:

- "bars": the bar-by-bar close equity of a fresh result (single backtests, `equity_from_curve`);
- "daily": rebuilt from the daily returns the store keeps for every in-sample trial
  (`equity_from_daily`);
- "trades": realised equity at each trade exit (holdout trials, imported exports,
  `equity_from_trades`).

`trial_equity` picks for a stored trial: its daily returns when kept, else its trades. Buy &
hold needs the run's market data (`load_run_bars`); without it the series has no buy & hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from tvdesk.model import BacktestResult

if TYPE_CHECKING:
    from tvdesk.data.market_data import Bars

EquityKind = Literal["bars", "daily", "trades"]


@dataclass(frozen=True, slots=True)
class EquitySeries:
    """Equity over time for the equity and monthly-returns charts.

    `times` are timezone-aware, in the chart's timezone. `buy_hold` is the equity of buying
    with the initial capital at the first trading bar and holding, when the prices are known,
    at `buy_hold_times` (the same as `times` when None).
    """

    times: tuple[datetime, ...]
    equity: tuple[float, ...]
    initial_capital: float
    kind: EquityKind
    buy_hold: tuple[float, ...] | None = None
    buy_hold_times: tuple[datetime, ...] | None = None

    def buy_hold_line(self) -> tuple[tuple[datetime, ...], tuple[float, ...]] | None:
        if self.buy_hold is None:
            return None
        return (self.buy_hold_times or self.times), self.buy_hold


# --------------------------------------------------------------------------- the result's frame


def _aware(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def _initial_capital(result: BacktestResult) -> float:
    for source in (result.metrics.get("initial_capital"),
                   result.properties.get("initial_capital"),
                   (result.properties.get("strategy_settings") or {}).get("initial_capital")):
        if isinstance(source, (int, float)) and not isinstance(source, bool) and source > 0:
            return float(source)
    return 0.0


def _trading_edge(result: BacktestResult, tz: ZoneInfo, edge: int) -> datetime | None:
    """Start (edge 0) or end (edge 1) of the trading range, as the result states it."""
    props = result.properties
    trading = props.get("trading_range")
    if isinstance(trading, (list, tuple)) and len(trading) == 2:
        try:
            return _aware(datetime.fromisoformat(str(trading[edge])), tz)
        except ValueError:
            pass
    day = props.get(f"trading_range_{('from', 'to')[edge]}")
    if day:
        try:
            return datetime.combine(date.fromisoformat(str(day)), time(0 if edge == 0 else 23,
                                                                       0 if edge == 0 else 59),
                                    tz)
        except ValueError:
            pass
    return None


def _trading_start(result: BacktestResult, tz: ZoneInfo) -> datetime | None:
    start = _trading_edge(result, tz, 0)
    if start is not None:
        return start
    entries = [t.entry_time for t in result.trades]
    return _aware(min(entries), tz) if entries else None


# --------------------------------------------------------------------------- equity series


def equity_from_curve(result: BacktestResult, tz: ZoneInfo) -> EquitySeries | None:
    """Bar-by-bar close equity of a fresh result, with buy & hold from the bars' closes."""
    curve = result.equity_curve
    if not len(curve) or not curve.equity:
        return None
    first = int(result.properties.get("warmup_bars") or 0)
    first = first if 0 <= first < len(curve) else 0
    times = tuple(datetime.fromtimestamp(ms / 1000, tz) for ms in curve.times[first:])
    equity = tuple(float(v) for v in curve.equity[first:])
    initial = _initial_capital(result) or equity[0]
    buy_hold = None
    closes = curve.close[first:]
    if closes and len(closes) == len(times) and closes[0]:
        base = float(closes[0])
        buy_hold = tuple(initial * float(c) / base for c in closes)
    return EquitySeries(times, equity, initial, "bars", buy_hold)


def equity_from_daily(dates: Sequence[str], returns: Sequence[float], initial: float,
                      tz: ZoneInfo, start: datetime | None = None,
                      bars: Bars | None = None) -> EquitySeries | None:
    """Equity at each day's end rebuilt from the daily returns the store keeps."""
    if not dates or initial <= 0:
        return None
    times: list[datetime] = []
    equity: list[float] = []
    if start is not None:
        times.append(start)
        equity.append(initial)
    value = initial
    for day, ret in zip(dates, returns, strict=True):
        value *= 1.0 + ret
        moment = datetime.combine(date.fromisoformat(day), time(23, 59), tz)
        if times and moment <= times[-1]:
            moment = times[-1] + timedelta(minutes=1)
        times.append(moment)
        equity.append(value)
    return EquitySeries(tuple(times), tuple(equity), initial, "daily",
                        buy_hold_at(bars, times, initial))


def equity_from_trades(result: BacktestResult, tz: ZoneInfo,
                       bars: Bars | None = None) -> EquitySeries | None:
    """Realised equity at each closed trade's exit (no equity curve kept)."""
    initial = _initial_capital(result)
    closed = sorted((t for t in result.trades if not t.open and t.exit_time is not None),
                    key=lambda t: (t.exit_time, t.number))
    if initial <= 0 or not closed:
        return None
    start = _trading_start(result, tz)
    times: list[datetime] = []
    equity: list[float] = []
    if start is not None:
        times.append(start)
        equity.append(initial)
    running = 0.0
    for trade in closed:
        running += trade.profit or 0.0
        assert trade.exit_time is not None
        times.append(_aware(trade.exit_time, tz))
        equity.append(initial + running)
    end = _trading_edge(result, tz, 1)
    if end is not None and end > times[-1]:
        times.append(end)
        equity.append(equity[-1])
    line = daily_buy_hold(bars, times[0], times[-1], initial, tz)
    return EquitySeries(tuple(times), tuple(equity), initial, "trades",
                        line[1] if line else None, line[0] if line else None)


def trial_equity(result: BacktestResult | None, tz: ZoneInfo, *,
                 daily: tuple[Sequence[str], Sequence[float]] | None = None,
                 bars: Bars | None = None,
                 fallback_capital: float = 0.0) -> EquitySeries | None:
    """A stored trial's equity: rebuilt from its kept daily returns (`daily`: dates and
    returns), else realised at each trade exit of its kept `result`; None when neither can be.

    The initial capital is the result's; `fallback_capital` stands in when the result states
    none (or was not kept). `bars` add the buy & hold line.
    """
    series = None
    if daily is not None:
        dates, returns = daily
        initial = (_initial_capital(result) if result is not None else 0.0) or fallback_capital
        start = _trading_start(result, tz) if result is not None else None
        series = equity_from_daily(dates, returns, initial, tz, start, bars)
    if series is None and result is not None:
        series = equity_from_trades(result, tz, bars)
    return series


# --------------------------------------------------------------------------- buy & hold


def load_run_bars(settings: Mapping[str, Any], timezone: str) -> Bars | None:
    """The run's market data for the buy & hold line (the data file its stored settings
    name); None when it cannot be read now."""
    request = settings.get("request") or {}
    path = request.get("data_path")
    if not path or not Path(path).is_file():
        return None
    from tvdesk.data.market_data import load_bars
    from tvdesk.errors import TvdeskError

    try:
        return load_bars(path, timezone=timezone)
    except (TvdeskError, OSError, ValueError):
        return None


def daily_buy_hold(bars: Bars | None, start: datetime, end: datetime, initial: float,
                   tz: ZoneInfo) -> tuple[tuple[datetime, ...], tuple[float, ...]] | None:
    """Buy & hold equity at each day's last bar from `start` to `end` (from the bars)."""
    if bars is None or not len(bars):
        return None
    import numpy as np

    lo = int(np.searchsorted(bars.times, int(start.timestamp() * 1000), side="left"))
    hi = int(np.searchsorted(bars.times, int(end.timestamp() * 1000), side="right"))
    if hi - lo < 2:
        return None
    stamps = bars.times[lo:hi]
    offset = start.utcoffset() or timedelta(0)
    days = (stamps + int(offset.total_seconds() * 1000)) // 86_400_000
    last = np.flatnonzero(np.diff(days) != 0)
    picks = np.concatenate(([0], last, [len(stamps) - 1])) if len(last) else \
        np.array([0, len(stamps) - 1])
    base = float(bars.open[lo]) or float(bars.close[lo])
    if not base:
        return None
    closes = bars.close[lo:hi][picks]
    times = tuple(datetime.fromtimestamp(int(stamps[i]) / 1000, tz) for i in picks)
    values = [float(initial * c / base) for c in closes]
    values[0] = initial  # bought at the first bar's open
    return times, tuple(values)


def buy_hold_at(bars: Bars | None, times: Sequence[datetime],
                initial: float) -> tuple[float, ...] | None:
    """Buy & hold equity at `times`: buy at the open of the first bar at or after `times[0]`."""
    if bars is None or not len(bars) or not times:
        return None
    import numpy as np

    stamps = np.array([int(t.timestamp() * 1000) for t in times], dtype=np.int64)
    first = int(np.searchsorted(bars.times, stamps[0], side="left"))
    if first >= len(bars):
        return None
    base = float(bars.open[first]) or float(bars.close[first])
    if not base:
        return None
    # The last bar opening at or before each time; before the first bar, the entry price.
    positions = np.searchsorted(bars.times, stamps, side="right") - 1
    closes = np.where(positions >= first, bars.close[np.clip(positions, 0, None)], base)
    return tuple(float(initial * c / base) for c in closes)


__all__ = [
    "EquityKind",
    "EquitySeries",
    "buy_hold_at",
    "daily_buy_hold",
    "equity_from_curve",
    "equity_from_daily",
    "equity_from_trades",
    "load_run_bars",
    "trial_equity",
]
