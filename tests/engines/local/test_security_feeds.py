"""request.security, request.security_lower_tf and the bar magnifier on hand-made markets.

Each market is a few bars whose values make the moment a higher-timeframe value changes (or
the order in which a bar's prices were reached) visible as the time or price of one trade;
the expected trade is derived by hand in each test's comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tvdesk.engines.local.backtest import BacktestContext, run_backtest
from tvdesk.engines.local.feeds import Candles, aggregate, period_starts
from tvdesk.errors import InputError, PineError
from tvdesk.model import BacktestRequest, BacktestResult, SymbolSpec
from tvdesk.pine.loader import load_strategy_source
from tvdesk.pine.transpile import TranspileCache

from engine_helpers import write_bars

HOUR_MS = 3_600_000
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC, a Monday


def write(path: Path, rows: Sequence[tuple[float, float, float, float]], step_ms: int,
          start_ms: int = START_MS) -> Path:
    return write_bars(path, rows, step_ms, start_ms)


def flat(price: float) -> tuple[float, float, float, float]:
    return (price, price + 1, price - 1, price)


def rise(start: float, end: float) -> tuple[float, float, float, float]:
    """A bar opening where the last one closed and closing at `end` (no gap)."""
    return (start, end + 1, start - 1, end)


def run(tmp_path: Path, pine: str, data: Path, **fields) -> BacktestResult:
    cache = TranspileCache(tmp_path / "transpiled")
    request = BacktestRequest(strategy=load_strategy_source(pine, cache=cache),
                              data_path=str(data),
                              symbol=SymbolSpec(ticker="TEST:ABC", mintick=0.01, pointvalue=1.0),
                              **fields)
    return run_backtest(request, BacktestContext(cache))


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


# -------------------------------------------------------------------------- aggregation


def test_a_days_last_intraday_bar_closes_that_day() -> None:
    # Four 6-hour bars a day. The 18:00 bar ends at midnight, but it is the day's last bar:
    # the daily close is its close (PyneCore's own aggregation put it into the next day).
    times = np.array([START_MS + i * 6 * HOUR_MS for i in range(8)], dtype=np.int64)
    closes = np.arange(1.0, 9.0)
    candles = Candles(times, closes, closes + 0.5, closes - 0.5, closes, np.ones(8))
    daily = aggregate(candles, "1D", "UTC")
    assert daily.times.tolist() == [START_MS, START_MS + 24 * HOUR_MS]
    assert daily.open.tolist() == [1.0, 5.0]
    assert daily.close.tolist() == [4.0, 8.0]
    assert daily.high.tolist() == [4.5, 8.5]
    assert daily.low.tolist() == [0.5, 4.5]
    assert daily.volume.tolist() == [4.0, 4.0]


def test_days_follow_the_exchange_timezone_across_dst() -> None:
    # New York 2024-03-10 has 23 hours. Hourly bars from 2024-03-09 05:00 UTC (00:00 EST):
    # the first local day holds 24 bars, the DST day 23, so the third day starts at bar 47
    # (2024-03-11 04:00 UTC, midnight EDT).
    first = int(datetime(2024, 3, 9, 5, tzinfo=UTC).timestamp() * 1000)
    times = np.array([first + i * HOUR_MS for i in range(60)], dtype=np.int64)
    starts = period_starts(times, "1D", "America/New_York")
    boundaries = np.flatnonzero(np.r_[True, starts[1:] != starts[:-1]]).tolist()
    assert boundaries == [0, 24, 47]
    assert utc(int(starts[47])) == datetime(2024, 3, 11, 4, tzinfo=UTC)


def test_weeks_start_monday_and_months_on_the_first() -> None:
    days = np.array([START_MS + i * 24 * HOUR_MS for i in range(40)], dtype=np.int64)
    weeks = np.unique(period_starts(days, "1W", "UTC"))
    assert [utc(int(t)).strftime("%a %d") for t in weeks[:3]] == ["Mon 01", "Mon 08", "Mon 15"]
    months = np.unique(period_starts(days, "1M", "UTC"))
    assert [utc(int(t)).strftime("%m-%d") for t in months] == ["01-01", "02-01"]


def test_intraday_periods_restart_each_local_midnight() -> None:
    # 90-minute periods on a 24-hour session: 16 a day, the 17th starts at next midnight.
    times = np.array([START_MS + i * 30 * 60_000 for i in range(50)], dtype=np.int64)
    starts = np.unique(period_starts(times, "90", "UTC"))
    assert int(starts[16]) == START_MS + 24 * HOUR_MS


# -------------------------------------------------------------------------- chart symbol

DAILY_CLOSE_ENTRY = """//@version=6
strategy("daily close", overlay=true)
d = request.security(syminfo.tickerid, "D", close, lookahead=barmerge.lookahead_off)
if d > 150 and strategy.position_size == 0
    strategy.entry("L", strategy.long)
"""


def test_daily_value_on_an_intraday_chart_changes_on_the_days_last_bar(tmp_path: Path) -> None:
    # 6-hour bars. Day 1 closes 100. Day 2 closes 200 on its last bar (18:00). With
    # lookahead_off the daily close becomes 200 at that bar's close (the daily bar is
    # confirmed then), so the entry order fills at the next bar's open: day 3 00:00 @ 200.
    # (Had the 18:00 bar been counted into day 3, day 2 would close 100 and nothing would
    # happen until day 3 ended.)
    rows = [flat(100)] * 7 + [rise(100, 200)] + [flat(200)] * 4
    data = write(tmp_path / "abc_6h.csv", rows, 6 * HOUR_MS)
    result = run(tmp_path, DAILY_CLOSE_ENTRY, data)
    assert len(result.trades) == 1
    trade = result.trades[0]
    assert trade.entry_time == utc(START_MS + 48 * HOUR_MS)
    assert trade.entry_price == pytest.approx(200)


def test_weekly_value_on_a_daily_chart(tmp_path: Path) -> None:
    # Daily bars from Monday 2024-01-01. Week 1 closes 100, week 2 closes 200 on Sunday the
    # 14th: the entry fills at Monday the 15th's open.
    pine = DAILY_CLOSE_ENTRY.replace('"D"', '"W"')
    rows = [flat(100)] * 13 + [rise(100, 200)] + [flat(200)] * 3
    data = write(tmp_path / "abc_1d.csv", rows, 24 * HOUR_MS)
    result = run(tmp_path, pine, data)
    assert [t.entry_time for t in result.trades] == [utc(START_MS + 14 * 24 * HOUR_MS)]


def test_intraday_higher_timeframe_from_the_chart_bars(tmp_path: Path) -> None:
    # Hourly bars; the 240-minute close becomes 200 at the close of the 03:00 bar (the last
    # of the first 4-hour period), so the entry fills at 04:00's open (200).
    pine = DAILY_CLOSE_ENTRY.replace('"D"', '"240"')
    rows = [flat(100)] * 3 + [rise(100, 200)] + [flat(200)] * 4
    data = write(tmp_path / "abc_1h.csv", rows, HOUR_MS)
    result = run(tmp_path, pine, data)
    assert [t.entry_time for t in result.trades] == [utc(START_MS + 4 * HOUR_MS)]
    assert result.trades[0].entry_price == pytest.approx(200)


# -------------------------------------------------------------------------- other symbols

OTHER_SYMBOL_ENTRY = """//@version=6
strategy("other symbol", overlay=true)
o = request.security("OTHER:XYZ", "D", close, lookahead=barmerge.lookahead_off)
if o > 50 and strategy.position_size == 0
    strategy.entry("L", strategy.long)
"""


def test_another_symbol_from_its_security_file(tmp_path: Path) -> None:
    # The chart is flat at 100 (hourly, 3 days). XYZ's hourly bars close 10 until its last bar
    # of day 2 (47:00), which closes 60: its daily close passes 50 at that bar, so the entry
    # fills at day 3 00:00 (bar 48) on the chart.
    chart = write(tmp_path / "abc_1h.csv", [flat(100)] * 72, HOUR_MS)
    other_rows = [flat(10)] * 47 + [flat(60)] + [flat(60)] * 24
    other = write(tmp_path / "xyz_1h.csv", other_rows, HOUR_MS)
    result = run(tmp_path, OTHER_SYMBOL_ENTRY, chart, security=(("OTHER:XYZ", str(other)),))
    assert [t.entry_time for t in result.trades] == [utc(START_MS + 48 * HOUR_MS)]
    assert any("OTHER:XYZ D" in used for used in result.properties["security_feeds"])


def test_a_symbol_without_bars_is_refused_naming_symbol_timeframe_and_flag(
        tmp_path: Path) -> None:
    chart = write(tmp_path / "abc_1h.csv", [flat(100)] * 30, HOUR_MS)
    with pytest.raises(PineError) as caught:
        run(tmp_path, OTHER_SYMBOL_ENTRY, chart)
    message = str(caught.value)
    assert "OTHER:XYZ" in message and "timeframe D" in message and "--security" in message


def test_bars_coarser_than_asked_are_refused(tmp_path: Path) -> None:
    pine = OTHER_SYMBOL_ENTRY.replace('"D"', '"60"')
    chart = write(tmp_path / "abc_1h.csv", [flat(100)] * 30, HOUR_MS)
    other = write(tmp_path / "xyz_1d.csv", [flat(10)] * 5, 24 * HOUR_MS)
    with pytest.raises(PineError, match=r"OTHER:XYZ at timeframe 60.*given for it are 1D"):
        run(tmp_path, pine, chart, security=(("OTHER:XYZ", str(other)),))


# -------------------------------------------------------------------------- lower timeframe


def test_lower_timeframe_array_from_a_finer_file(tmp_path: Path) -> None:
    # Hourly chart, 15-minute bars of the same symbol given with --security. In hour 2 the
    # four 15-minute closes are 11, 12, 13, 14 (elsewhere 10): the array of hour 2 has 4
    # values whose last is 14, so the entry placed at hour 2's close fills at hour 3's open.
    pine = """//@version=6
strategy("ltf", overlay=true)
arr = request.security_lower_tf(syminfo.tickerid, "15", close)
if array.size(arr) == 4 and array.get(arr, 3) == 14 and strategy.position_size == 0
    strategy.entry("L", strategy.long)
"""
    chart = write(tmp_path / "abc_1h.csv", [flat(100)] * 6, HOUR_MS)
    quarter = [flat(10)] * 8 + [(10, 20, 5, 10 + k) for k in (1, 2, 3, 4)] + [flat(10)] * 12
    lower = write(tmp_path / "abc_15m.csv", quarter, 15 * 60_000)
    result = run(tmp_path, pine, chart, security=(("TEST:ABC", str(lower)),))
    assert [t.entry_time for t in result.trades] == [utc(START_MS + 3 * HOUR_MS)]


# -------------------------------------------------------------------------- bar magnifier

BRACKET = """//@version=6
strategy("bracket", overlay=true)
if bar_index == 0
    strategy.entry("L", strategy.long)
strategy.exit("X", "L", stop=95, limit=105)
"""


def bracket_market(tmp_path: Path) -> tuple[Path, Path]:
    # Bar 1 (01:00) opens 101 and reaches both 106 and 94. On the chart bar alone the broker
    # assumes open -> high -> low (the open is nearer the high), so the 105 limit fills
    # first. The 15-minute bars show the truth: it fell to 94 first (stop at 95), then rose.
    chart = write(tmp_path / "abc_1h.csv",
                  [(100, 101, 99, 101), (101, 106, 94, 100), flat(100), flat(100)], HOUR_MS)
    quarters = [flat(100)] * 3 + [(100, 101, 99, 101)]
    quarters += [(101, 101, 94, 96), (96, 99, 95, 98), (98, 106, 98, 104), (104, 104, 100, 100)]
    quarters += [flat(100)] * 8
    lower = write(tmp_path / "abc_15m.csv", quarters, 15 * 60_000)
    return chart, lower


def test_without_magnifier_the_bar_path_is_assumed(tmp_path: Path) -> None:
    chart, _ = bracket_market(tmp_path)
    result = run(tmp_path, BRACKET, chart)
    assert [(t.exit_time, t.exit_price) for t in result.trades] == [
        (utc(START_MS + HOUR_MS), pytest.approx(105))]


def test_magnifier_fills_in_the_order_the_lower_bars_show(tmp_path: Path) -> None:
    chart, lower = bracket_market(tmp_path)
    result = run(tmp_path, BRACKET, chart, magnifier_path=str(lower))
    assert [(t.exit_time, t.exit_price) for t in result.trades] == [
        (utc(START_MS + HOUR_MS), pytest.approx(95))]
    assert result.properties["strategy_settings"]["use_bar_magnifier"] is True


def test_magnifier_needs_finer_bars(tmp_path: Path) -> None:
    chart, _ = bracket_market(tmp_path)
    coarse = write(tmp_path / "abc_4h.csv", [flat(100)] * 3, 4 * HOUR_MS)
    with pytest.raises(InputError, match="finer than the chart"):
        run(tmp_path, BRACKET, chart, magnifier_path=str(coarse))


@pytest.mark.parametrize(("name", "expected"), [
    ("BINANCE_BTCUSDT, 60_9e8cf.csv", ("BINANCE:BTCUSDT", "60")),
    ("CME_MINI_MNQ1!, 240.csv", ("CME_MINI:MNQ1!", "240")),
    ("BINANCE_ETHUSDT.P, 15 (2).csv", ("BINANCE:ETHUSDT.P", "15")),
    ("folder/BATS_AAPL, 1D.csv", ("BATS:AAPL", "1D")),
    ("EURUSD_1h.csv", None),
    ("prices, 5.csv", None),
])
def test_a_tradingview_chart_exports_name_gives_symbol_and_timeframe(
        name: str, expected: tuple[str, str] | None) -> None:
    from tvdesk.engines.local.symbols import symbol_from_file_name

    assert symbol_from_file_name(name) == expected


# -------------------------------------------------------------------------- sessions


def ny(*args: int) -> int:
    from zoneinfo import ZoneInfo

    return int(datetime(*args, tzinfo=ZoneInfo("America/New_York")).timestamp() * 1000)


def test_session_strings_are_parsed_and_checked() -> None:
    from tvdesk.data.sessions import parse_session

    regular = parse_session("0930-1600:23456")
    assert regular.days == (0, 1, 2, 3, 4) and not regular.overnight  # Monday..Friday
    assert parse_session("1700-1700").overnight
    assert parse_session(None).whole_day
    with pytest.raises(InputError, match="0930-1600") as caught:
        parse_session("9:30-16:00")
    assert caught.value.source == "--session"


def test_intraday_periods_start_at_the_session_open() -> None:
    from tvdesk.data.sessions import parse_session

    # 30-minute bars of a US stock from 09:30: the 60-minute bars open at 09:30, 10:30, ...
    times = np.array([ny(2024, 1, 2, 9, 30) + i * 30 * 60_000 for i in range(4)])
    starts = period_starts(times, "60", "America/New_York", parse_session("0930-1600"))
    assert starts.tolist() == [ny(2024, 1, 2, 9, 30)] * 2 + [ny(2024, 1, 2, 10, 30)] * 2
    daily = period_starts(times, "1D", "America/New_York", parse_session("0930-1600"))
    assert set(daily.tolist()) == {ny(2024, 1, 2, 9, 30)}


def test_an_overnight_sessions_day_opens_the_evening_before() -> None:
    from tvdesk.data.sessions import parse_session

    # Forex: the trading day of Tuesday 2024-01-02 opens Monday 17:00 New York. A bar at
    # Monday 18:00 belongs to it; one at Tuesday 16:00 too; Tuesday 17:00 starts Wednesday's.
    session = parse_session("1700-1700")
    times = np.array([ny(2024, 1, 1, 18), ny(2024, 1, 2, 16), ny(2024, 1, 2, 17)])
    starts = period_starts(times, "1D", "America/New_York", session)
    assert starts.tolist() == [ny(2024, 1, 1, 17)] * 2 + [ny(2024, 1, 2, 17)]
    # The week of Monday 2024-01-08 opens Sunday 2024-01-07 17:00.
    week = period_starts(np.array([ny(2024, 1, 7, 18)]), "1W", "America/New_York", session)
    assert week.tolist() == [ny(2024, 1, 7, 17)]


def test_a_stocks_hourly_context_follows_its_session(tmp_path: Path) -> None:
    # 30-minute bars from 09:30. With the 0930-1600 session the first 60-minute bar holds
    # 09:30 and 10:00 and closes 200 at 10:00's close: the entry fills at 10:30. Counted
    # from midnight instead, 09:00-10:00 holds only the 09:30 bar (100) and the entry would
    # wait for the 10:00-11:00 bar to close at 10:30: a fill at 11:00.
    from tvdesk.model import SymbolSpec

    pine = DAILY_CLOSE_ENTRY.replace('"D"', '"60"')
    rows = [flat(100), rise(100, 200)] + [flat(200)] * 11
    data = write(tmp_path / "abc_30.csv", rows, 30 * 60_000, start_ms=ny(2024, 1, 2, 9, 30))
    cache = TranspileCache(tmp_path / "transpiled")
    entries = {}
    for session in ("0930-1600", None):
        request = BacktestRequest(
            strategy=load_strategy_source(pine, cache=cache), data_path=str(data),
            symbol=SymbolSpec(ticker="NASDAQ:ABC", mintick=0.01, pointvalue=1.0,
                              timezone="America/New_York", session=session))
        result = run_backtest(request, BacktestContext(cache))
        entries[session] = [int(t.entry_time.timestamp() * 1000) for t in result.trades]
    assert entries["0930-1600"] == [ny(2024, 1, 2, 10, 30)]
    assert entries[None] == [ny(2024, 1, 2, 11, 0)]
