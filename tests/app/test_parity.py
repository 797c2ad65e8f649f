"""`tvdesk parity`: matching rules, the export's window, and the command end to end.

The TradingView exports here are written by the tests in TradingView's CSV layout, with trades
derived by hand for the tiny market in engine_helpers (no TradingView file is committed).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tvdesk.app.parity import compare_trades
from tvdesk.model import Trade

from engine_helpers import write_bars

ROOT = Path(__file__).resolve().parents[2]
HEADER = ("\ufeffTrade #,Type,Signal,Date/Time,Price USD,Contracts,Profit USD,Profit %,"
          "Cum. Profit USD,Cum. Profit %,Run-up USD,Run-up %,Drawdown USD,Drawdown %")


def trade(number: int, side: str, entry: datetime, entry_price: float, exit_: datetime,
          exit_price: float) -> Trade:
    return Trade(number=number, side=side, entry_time=entry, entry_price=entry_price, qty=1,
                 exit_time=exit_, exit_price=exit_price, profit=0.0)


T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_identical_lists_match_fully() -> None:
    tv = [trade(1, "long", T0, 100.0, T0 + HOUR, 101.0),
          trade(2, "short", T0 + 2 * HOUR, 102.0, T0 + 3 * HOUR, 101.5)]
    report = compare_trades(tv, tv, mintick=0.01)
    assert (report.tv_trades, report.engine_trades, report.matched) == (2, 2, 2)
    assert report.summary_line() == "matched 2/2 TradingView trades (100.0%)"


def test_prices_within_half_a_tick_match_and_beyond_do_not() -> None:
    tv = [trade(1, "long", T0, 100.00, T0 + HOUR, 101.00)]
    close = [trade(1, "long", T0, 100.004, T0 + HOUR, 100.996)]
    far = [trade(1, "long", T0, 100.006, T0 + HOUR, 101.00)]
    assert compare_trades(close, tv, mintick=0.01).matched == 1
    report = compare_trades(far, tv, mintick=0.01)
    assert report.matched == 0
    assert report.mismatches[0].reason.startswith("entry price differs")


def test_side_and_exit_time_must_agree() -> None:
    tv = [trade(1, "long", T0, 100.0, T0 + HOUR, 101.0)]
    assert compare_trades([trade(1, "short", T0, 100.0, T0 + HOUR, 101.0)], tv,
                          mintick=0.01).mismatches[0].reason.startswith("side differs")
    assert compare_trades([trade(1, "long", T0, 100.0, T0 + 2 * HOUR, 101.0)], tv,
                          mintick=0.01).mismatches[0].reason == "exit time differs"


def test_only_the_exports_window_counts_and_extra_engine_trades_are_reported() -> None:
    before = trade(1, "long", T0 - 10 * HOUR, 99.0, T0 - 9 * HOUR, 99.5)
    inside = trade(2, "long", T0, 100.0, T0 + HOUR, 101.0)
    extra = trade(3, "short", T0 + 2 * HOUR, 101.0, T0 + 3 * HOUR, 100.0)
    after = trade(4, "long", T0 + 20 * HOUR, 99.0, T0 + 21 * HOUR, 99.5)
    tv = [trade(1, "long", T0, 100.0, T0 + HOUR, 101.0),
          trade(2, "long", T0 + 4 * HOUR, 100.0, T0 + 5 * HOUR, 101.0)]
    report = compare_trades([before, inside, extra, after], tv, mintick=0.01)
    assert report.engine_trades == 2  # `before` and `after` are outside the export's window
    assert report.matched == 1
    reasons = [m.reason for m in report.mismatches]
    assert reasons == ["engine trade not in TradingView's list",
                       "no engine trade entered at that time"]


def test_daily_exports_compare_dates() -> None:
    tv = [trade(1, "long", datetime(2024, 1, 2, tzinfo=UTC), 100.0,
                datetime(2024, 1, 5, tzinfo=UTC), 105.0)]
    # The engine stamps a daily bar at the session open (09:30 here): same days, same trade.
    engine = [trade(1, "long", datetime(2024, 1, 2, 9, 30, tzinfo=UTC), 100.0,
                    datetime(2024, 1, 5, 9, 30, tzinfo=UTC), 105.0)]
    assert compare_trades(engine, tv, mintick=0.01).matched == 1


SCRIPT = """//@version=6
strategy("parity fixture", initial_capital=10000)
if bar_index == 2 or bar_index == 6
    strategy.entry("L", strategy.long, qty=1)
if bar_index == 4 or bar_index == 8
    strategy.close("L")
"""


def test_parity_command_end_to_end(tmp_path: Path) -> None:
    # Opens 100, 101, ... 111: entries fill at bars 3 and 7 (103, 107), exits at 5 and 9
    # (105, 109). TradingView's list (written by hand below) agrees on the first trade and
    # has the second exit one bar later at 110.
    bars = [(100.0 + i, 101.5 + i, 99.5 + i, 100.5 + i) for i in range(12)]
    data = write_bars(tmp_path / "bars.csv", bars)
    script = tmp_path / "fixture.pine"
    script.write_text(SCRIPT)
    export = tmp_path / "List of trades.csv"
    rows = [HEADER,
            "2,Exit long,Close entry(s) order L,2024-01-11 00:00,110,1,3,2.8,5,0.05,3,2.8,0,0",
            "2,Entry long,L,2024-01-08 00:00,107,1,3,2.8,5,0.05,3,2.8,0,0",
            "1,Exit long,Close entry(s) order L,2024-01-06 00:00,105,1,2,1.94,2,0.02,2,1.94,0,0",
            "1,Entry long,L,2024-01-04 00:00,103,1,2,1.94,2,0.02,2,1.94,0,0"]
    export.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "parity.json"
    run = subprocess.run(
        [sys.executable, "-m", "tvdesk", "parity", "--script", str(script), "--data", str(data),
         "--tv-trades", str(export), "--tv-timezone", "UTC", "--mintick", "0.01",
         "--json", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "matched 1/2 TradingView trades (50.0%)"
    assert "exit time differs" in run.stdout
    doc = json.loads(out.read_text())
    assert (doc["tv_trades"], doc["engine_trades"], doc["matched"]) == (2, 2, 1)
    assert doc["matched_percent"] == 50.0
    assert doc["first_mismatch"]["reason"] == "exit time differs"
    assert doc["first_mismatch"]["tv"]["exit_price"] == 110.0


def test_trading_starts_one_bar_before_tradingviews_first_entry() -> None:
    from tvdesk.app.parity import trading_start

    bars = [int((T0 + i * HOUR).timestamp() * 1000) for i in range(10)]
    tv = [trade(1, "long", T0 + 6 * HOUR, 100.0, T0 + 7 * HOUR, 101.0),
          trade(2, "long", T0 + 4 * HOUR, 100.0, T0 + 5 * HOUR, 101.0)]
    assert trading_start(tv, bars) == T0 + 3 * HOUR  # the bar whose close placed trade 2
    # Data that starts at TradingView's first entry (or later) needs no start.
    assert trading_start(tv, bars[4:]) is None
    assert trading_start([], bars) is None


def test_tradingview_trades_outside_the_data_are_counted_apart() -> None:
    tv = [trade(1, "long", T0 - 5 * HOUR, 99.0, T0 - 4 * HOUR, 99.5),
          trade(2, "long", T0, 100.0, T0 + HOUR, 101.0),
          trade(3, "long", T0 + 8 * HOUR, 100.0, T0 + 30 * HOUR, 101.0)]
    report = compare_trades([tv[1]], tv, mintick=0.01, data_span=(T0, T0 + 10 * HOUR))
    assert (report.tv_trades, report.matched, report.outside_data) == (1, 1, 2)
    assert report.to_dict()["tv_trades_outside_data"] == 2


ONCE = """//@version=6
strategy("once", initial_capital=10000)
if strategy.closedtrades == 0 and strategy.position_size == 0 and bar_index >= 1
    strategy.entry("L", strategy.long, qty=1)
if strategy.position_size > 0 and bar_index >= strategy.opentrades.entry_bar_index(0) + 2
    strategy.close("L")
"""


def test_parity_does_not_trade_before_tradingviews_chart_did(tmp_path: Path) -> None:
    # A strategy that trades once in its life. TradingView's chart started at bar 5, so its
    # one trade enters at bar 6 (open 106) and leaves at bar 9 (109). The data starts at bar
    # 0: trading from the first bar, the engine's one trade would be bars 2 -> 5 and nothing
    # would match. Parity trades from one bar before TradingView's first entry instead.
    bars = [(100.0 + i, 101.5 + i, 99.5 + i, 100.5 + i) for i in range(12)]
    data = write_bars(tmp_path / "bars.csv", bars)
    script = tmp_path / "once.pine"
    script.write_text(ONCE)
    export = tmp_path / "List of trades.csv"
    rows = [HEADER,
            "1,Exit long,Close entry(s) order L,2024-01-10 00:00,109,1,3,2.8,3,0.03,3,2.8,0,0",
            "1,Entry long,L,2024-01-07 00:00,106,1,3,2.8,3,0.03,3,2.8,0,0"]
    export.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "tvdesk", "parity", "--script", str(script), "--data", str(data),
         "--tv-trades", str(export), "--tv-timezone", "UTC", "--mintick", "0.01"],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "trading from 2024-01-06 00:00" in run.stdout
    assert run.stdout.strip().splitlines()[-1] == "matched 1/1 TradingView trades (100.0%)"
    # An explicit --from wins: from the first bar the engine's trade is bars 2 -> 5.
    run = subprocess.run(
        [sys.executable, "-m", "tvdesk", "parity", "--script", str(script), "--data", str(data),
         "--tv-trades", str(export), "--tv-timezone", "UTC", "--mintick", "0.01",
         "--from", "2024-01-01"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "matched 0/1 TradingView trades (0.0%)"
