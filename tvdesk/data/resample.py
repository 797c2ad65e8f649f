"""Resample bars to a higher timeframe, the way TradingView builds them.

One vectorised pass (numpy `reduceat` over period starts): a daily series of a year of
15-minute bars costs milliseconds. The local engine's `request.security` feeds and the market
data library's on-demand timeframes both call this, so a library's 240-minute series is the
same series a script's `request.security(..., "240", ...)` sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tvdesk.data.market_data import Bars, parse_timeframe
from tvdesk.data.sessions import Session, parse_session

_MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class Candles:
    """Bars as plain arrays (times in UTC ms of each bar's open), oldest first."""

    times: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    @classmethod
    def of(cls, bars: Bars) -> Candles:
        return cls(bars.times, bars.open, bars.high, bars.low, bars.close, bars.volume)

    def __len__(self) -> int:
        return len(self.times)

    def rows(self) -> Iterator[tuple[int, float, float, float, float, float]]:
        yield from zip(self.times.tolist(), self.open.tolist(), self.high.tolist(),
                       self.low.tolist(), self.close.tolist(), self.volume.tolist(),
                       strict=True)


def unit_of(timeframe: str) -> tuple[str, int]:
    """("D" | "W" | "M" | "S" | "", count) of a TradingView timeframe code; "" is minutes."""
    parsed = parse_timeframe(timeframe)
    if parsed is None:
        raise ValueError(f"not a timeframe: {timeframe!r}")
    code = parsed[0]
    if code[-1] in "DWMS":
        return code[-1], int(code[:-1] or 1)
    return "", int(code)


def timeframe_ms(timeframe: str) -> float:
    parsed = parse_timeframe(timeframe)
    if parsed is None:
        raise ValueError(f"not a timeframe: {timeframe!r}")
    return parsed[1]


def period_starts(times: np.ndarray, timeframe: str, timezone: str,
                  session: Session | None = None) -> np.ndarray:
    """The open (UTC ms) of the `timeframe` period each bar opening at `times` belongs to.

    Periods start at the session open in the exchange timezone (midnight for a 24-hour
    session): a day is a trading day (an overnight session's day opens the evening before),
    a week starts with Monday's trading day, a month with its first; intraday periods count
    from each session open, as TradingView's do (a 90-minute period restarts every day).
    Multi-day, multi-week and multi-month periods are not handled here (their grid is
    TradingView's year-reset one; see `FeedFiles.aggregate_file`).
    """
    session = session or parse_session(None)
    unit, count = unit_of(timeframe)
    stamps = np.asarray(times, dtype=np.int64)
    local = pd.to_datetime(stamps, unit="ms", utc=True).tz_convert(timezone)
    # The trading day each bar belongs to, as a local date at midnight.
    shifted = local - pd.to_timedelta(session.offset_ms, unit="ms")
    day = shifted.normalize().tz_localize(None)
    if session.overnight:
        day = day + pd.Timedelta(days=1)
    if unit in ("", "S"):
        size = count * (_MINUTE_MS if unit == "" else 1000)
        opens = _local_ms(day, timezone, session, overnight_back=True)
        return opens + (stamps - opens) // size * size
    if unit == "D" and count == 1:
        starts = day
    elif unit == "W" and count == 1:
        starts = day - pd.to_timedelta(day.day_of_week, unit="D")
    elif unit == "M" and count == 1:
        starts = day - pd.to_timedelta(day.day - 1, unit="D")
    else:
        raise ValueError(f"{timeframe!r} periods are aggregated from daily bars")
    return _local_ms(starts, timezone, session, overnight_back=True)


def _local_ms(days: pd.DatetimeIndex, timezone: str, session: Session, *,
              overnight_back: bool) -> np.ndarray:
    """UTC ms of the session open of each trading day (naive local dates at midnight).

    Rebuilding each open from its wall-clock date keeps DST days right: the local open of a
    date, not 24 hours after the previous one.
    """
    opens = days + pd.to_timedelta(session.offset_ms, unit="ms")
    if session.overnight and overnight_back:
        opens = opens - pd.Timedelta(days=1)
    return _ms(opens.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward"))


def _ms(index: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(index.as_unit("ms").asi8, dtype=np.int64)


def aggregate(candles: Candles, timeframe: str, timezone: str,
              session: Session | None = None) -> Candles:
    """The bars of `timeframe` built from finer `candles`: first open, highest high, lowest
    low, last close, summed volume; a period opens at its period start (not at its first bar)."""
    if not len(candles):
        return candles
    starts = period_starts(candles.times, timeframe, timezone, session)
    first = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]])
    last = np.r_[first[1:] - 1, len(starts) - 1]
    return Candles(
        times=starts[first],
        open=candles.open[first],
        high=np.maximum.reduceat(candles.high, first),
        low=np.minimum.reduceat(candles.low, first),
        close=candles.close[last],
        volume=np.add.reduceat(candles.volume, first),
    )


def is_coarser(timeframe: str, than: str) -> bool:
    return timeframe_ms(timeframe) > timeframe_ms(than) * 1.01


def is_daily_or_more(timeframe: str) -> bool:
    return unit_of(timeframe)[0] in ("D", "W", "M")
