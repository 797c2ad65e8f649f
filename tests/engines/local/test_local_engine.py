"""The local engine against trades derived by hand on tiny markets.

Each market is a handful of daily bars; the comments give the arithmetic. Orders placed on a
bar fill at the next bar's open (TradingView's broker emulator) unless the strategy processes
orders on close; percent-of-equity sizing uses the signal bar's close and leaves room for the
commission; P&L is after commission.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tvdesk.errors import EngineError, InputError, PineError

from engine_helpers import backtest


def bar(o: float, c: float, h: float | None = None, lo: float | None = None):
    return (o, h if h is not None else max(o, c) + 1, lo if lo is not None else min(o, c) - 1, c)


SIGNAL_AT_2_CLOSE_AT_5 = """//@version=6
strategy("t", initial_capital=10000, default_qty_type=strategy.percent_of_equity,
     default_qty_value=50{extra})
if bar_index == 2
    strategy.entry("L", strategy.long)
if bar_index == 5
    strategy.close("L")
"""
# bar:    0    1    2    3        4    5    6        7    8    9
MARKET = [bar(100, 100)] * 3 + [bar(102, 100)] + [bar(100, 100)] * 2 + [bar(104, 104)] + \
    [bar(100, 100)] * 3


def test_orders_fill_at_next_bar_open_with_percent_of_equity_sizing(tmp_path: Path) -> None:
    result = backtest(tmp_path, SIGNAL_AT_2_CLOSE_AT_5.format(extra=""), MARKET)
    [trade] = result.trades
    # Signal on bar 2 (close 100): qty = 50% of 10,000 / 100 = 50, filled at bar 3's open 102.
    assert trade.entry_bar == 3 and trade.entry_price == 102.0
    assert trade.entry_time == datetime(2024, 1, 4, tzinfo=UTC)
    assert trade.qty == 50
    # Close on bar 5 fills at bar 6's open 104: profit (104 - 102) × 50 = 100.
    assert trade.exit_bar == 6 and trade.exit_price == 104.0
    assert trade.profit == pytest.approx(100.0)
    assert trade.side == "long" and trade.entry_signal == "L" and not trade.open
    assert result.metrics["net_profit"] == pytest.approx(100.0)
    assert result.metrics["total_trades"] == 1


def test_process_orders_on_close_fills_on_the_signal_bar(tmp_path: Path) -> None:
    pine = SIGNAL_AT_2_CLOSE_AT_5.format(extra=", process_orders_on_close=true")
    [trade] = backtest(tmp_path, pine, MARKET).trades
    # Filled at bar 2's close (100) and bar 5's close (100): no profit.
    assert (trade.entry_bar, trade.entry_price, trade.exit_bar, trade.exit_price) == \
        (2, 100.0, 5, 100.0)
    assert trade.profit == pytest.approx(0.0)


def test_percent_commission_is_paid_on_both_fills_and_shrinks_the_size(tmp_path: Path) -> None:
    pine = SIGNAL_AT_2_CLOSE_AT_5.format(
        extra=", commission_type=strategy.commission.percent, commission_value=0.1")
    [trade] = backtest(tmp_path, pine, MARKET).trades
    # Size leaves room for 0.1 %: 5,000 / (100 × 1.001) = 49.95 -> 49.
    assert trade.qty == 49
    # Commission 0.1 % of 102 × 49 plus 0.1 % of 104 × 49 = 4.998 + 5.096 = 10.094.
    assert trade.commission == pytest.approx(10.094)
    # Profit (104 - 102) × 49 - 10.094 = 87.906.
    assert trade.profit == pytest.approx(87.906)


STOP_LIMIT = """//@version=6
strategy("sl", initial_capital=10000)
if bar_index == 1
    strategy.entry("L", strategy.long, qty=10)
strategy.exit("X", "L", stop=95, limit=110)
"""


def test_limit_exit_fills_at_the_limit_price(tmp_path: Path) -> None:
    market = [bar(100, 100)] * 4 + [bar(101, 108, h=111, lo=100)] + [bar(108, 108)] * 2
    [trade] = backtest(tmp_path, STOP_LIMIT, market).trades
    # Entry at bar 2's open 100; bar 4 trades up to 111 >= 110: out at 110, +10 × 10.
    assert (trade.entry_price, trade.exit_bar, trade.exit_price) == (100.0, 4, 110.0)
    assert trade.profit == pytest.approx(100.0)
    assert trade.exit_signal == "X"


def test_stop_exit_fills_at_the_open_when_the_bar_gaps_through_it(tmp_path: Path) -> None:
    market = [bar(100, 100)] * 4 + [bar(90, 92, h=93, lo=89)] + [bar(92, 92)] * 2
    [trade] = backtest(tmp_path, STOP_LIMIT, market).trades
    # Bar 4 opens at 90, below the stop at 95: filled at the open, -10 × 10.
    assert (trade.exit_bar, trade.exit_price) == (4, 90.0)
    assert trade.profit == pytest.approx(-100.0)


def test_stop_exit_fills_at_the_stop_inside_the_bar(tmp_path: Path) -> None:
    market = [bar(100, 100)] * 4 + [bar(99, 97, h=100, lo=94)] + [bar(97, 97)] * 2
    [trade] = backtest(tmp_path, STOP_LIMIT, market).trades
    assert (trade.exit_bar, trade.exit_price) == (4, 95.0)
    assert trade.profit == pytest.approx(-50.0)


PYRAMID = """//@version=6
strategy("p", initial_capital=10000, pyramiding=2)
if bar_index == 1 or bar_index == 3
    strategy.entry("L", strategy.long, qty=1)
if bar_index == 6
    strategy.close_all()
"""


def test_pyramiding_keeps_two_trades_closed_together(tmp_path: Path) -> None:
    market = [bar(100, 100), bar(100, 100), bar(101, 101), bar(101, 101), bar(103, 103),
              bar(103, 103), bar(103, 103), bar(106, 106), bar(106, 106)]
    result = backtest(tmp_path, PYRAMID, market)
    first, second = result.trades
    # Entries fill at bar 2's open 101 and bar 4's open 103; both leave at bar 7's open 106.
    assert (first.number, first.entry_price, first.exit_price) == (1, 101.0, 106.0)
    assert (second.number, second.entry_price, second.exit_price) == (2, 103.0, 106.0)
    assert first.profit == pytest.approx(5.0) and second.profit == pytest.approx(3.0)
    assert result.metrics["max_contracts_held"] == 2


def test_open_position_at_the_end_is_an_open_trade(tmp_path: Path) -> None:
    pine = """//@version=6
strategy("o", initial_capital=1000)
if bar_index == 1
    strategy.entry("L", strategy.long, qty=2)
"""
    market = [bar(100, 100)] * 3 + [bar(100, 105)]
    result = backtest(tmp_path, pine, market)
    [trade] = result.trades
    # Filled at bar 2's open 100; the last close is 105: open P&L (105 - 100) × 2 = 10.
    assert trade.open and trade.exit_time is None and trade.exit_signal == "Open"
    assert trade.profit == pytest.approx(10.0)
    assert result.metrics["total_trades"] == 0
    assert result.metrics["total_open_trades"] == 1
    assert result.metrics["open_pl"] == pytest.approx(10.0)


EVERY_BAR = """//@version=6
strategy("e", initial_capital=10000)
length = input.int(3, "Length", minval=1, maxval=50)
allow = input.bool(true, "Allow Entries")
if allow and bar_index % length == 0
    strategy.entry("L", strategy.long, qty=1)
if bar_index % length == 1
    strategy.close("L")
"""


def test_from_date_blocks_entries_before_it_while_bars_warm_up(tmp_path: Path) -> None:
    market = [bar(100, 100)] * 20
    everything = backtest(tmp_path, EVERY_BAR, market)
    windowed = backtest(tmp_path, EVERY_BAR, market,
                        date_from=datetime(2024, 1, 10, tzinfo=UTC))
    assert min(t.entry_time for t in everything.trades) < datetime(2024, 1, 10, tzinfo=UTC)
    assert windowed.trades, "entries inside the window still trade"
    assert all(t.entry_time >= datetime(2024, 1, 10, tzinfo=UTC) for t in windowed.trades)
    assert windowed.properties["warmup_bars"] == 9


def test_to_date_drops_later_bars(tmp_path: Path) -> None:
    result = backtest(tmp_path, EVERY_BAR, [bar(100, 100)] * 20,
                      date_to=datetime(2024, 1, 5, 23, 59, tzinfo=UTC))
    assert result.properties["bars"] == 5
    assert len(result.equity_curve) == 5


def test_inputs_override_by_title_and_by_name(tmp_path: Path) -> None:
    market = [bar(100, 100)] * 20
    base = backtest(tmp_path, EVERY_BAR, market)
    by_title = backtest(tmp_path, EVERY_BAR, market, inputs=(("Length", "5"),))
    by_name = backtest(tmp_path, EVERY_BAR, market, inputs=(("length", 5),))
    off = backtest(tmp_path, EVERY_BAR, market, inputs=(("Allow Entries", "off"),))
    assert len(by_title.trades) == len(by_name.trades) < len(base.trades)
    assert by_title.properties["inputs"] == {"Length": 5, "Allow Entries": True}
    assert off.trades == ()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("Lenght", "5", "unknown input 'Lenght'; the script's inputs are: 'Length' (int"),
    ("Length", "2.5", "input 'Length': expected a whole number, got '2.5'"),
    ("Length", "0", "input 'Length': 0 is below the minimum 1"),
    ("Allow Entries", "maybe", "input 'Allow Entries': expected true/false"),
])
def test_bad_inputs_are_clear_errors(tmp_path: Path, key: str, value: str, message: str) -> None:
    with pytest.raises(InputError, match=None) as caught:
        backtest(tmp_path, EVERY_BAR, [bar(100, 100)] * 5, inputs=((key, value),))
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_pine_syntax_error_names_the_line(tmp_path: Path) -> None:
    bad = '//@version=6\nstrategy("x")\nx = ta.sma(close,\nplot(x)\n'
    with pytest.raises(PineError) as caught:
        backtest(tmp_path, bad, [bar(100, 100)] * 5)
    assert caught.value.line is not None and caught.value.line >= 3
    assert "Pine line" in str(caught.value)


def test_indicator_is_refused_as_not_a_strategy(tmp_path: Path) -> None:
    with pytest.raises(PineError, match="not a strategy"):
        backtest(tmp_path, '//@version=6\nindicator("i")\nplot(close)\n', [bar(100, 100)] * 5)


def test_runtime_error_in_the_script_is_an_engine_error(tmp_path: Path) -> None:
    pine = """//@version=6
strategy("r")
a = array.new_float(0)
if bar_index == 2
    x = array.get(a, 5)
"""
    with pytest.raises(EngineError, match="the script failed while running"):
        backtest(tmp_path, pine, [bar(100, 100)] * 5)


def test_result_round_trips_through_json(tmp_path: Path) -> None:
    import json

    from tvdesk.model import BacktestResult

    result = backtest(tmp_path, SIGNAL_AT_2_CLOSE_AT_5.format(extra=""), MARKET)
    document = json.loads(json.dumps(result.to_dict()))
    assert document["source"] == "local"
    assert set(document["trades"][0]) >= {
        "number", "side", "entry_time", "entry_price", "exit_time", "exit_price", "qty",
        "profit", "profit_percent", "entry_signal", "exit_signal", "open"}
    assert document["trades"][0]["entry_time"] == "2024-01-04T00:00:00+00:00"
    again = BacktestResult.from_dict(document)
    assert again.trades == result.trades
    assert dict(again.metrics) == {k: (None if v != v else v) for k, v in result.metrics.items()}


@pytest.mark.parametrize(("declared", "warned"), [
    ("1D", False), ("1440", False), ("D", False), ("720", True),
])
def test_timeframe_warning_compares_bar_lengths_not_spellings(
        tmp_path: Path, declared: str, warned: bool) -> None:
    # "1440" (what `--timeframe 1440` reaches the engine as) is the detected "1D"; comparing the
    # text warned "timeframe '1440' was given but the data looks like '1D'" on matching data.
    from tvdesk.model import SymbolSpec

    symbol = SymbolSpec(ticker="TEST:ABC", mintick=0.01, pointvalue=1.0, timeframe=declared)
    result = backtest(tmp_path, SIGNAL_AT_2_CLOSE_AT_5.format(extra=""), MARKET, symbol=symbol)
    timeframe_warnings = [w for w in result.warnings if "timeframe" in w]
    assert bool(timeframe_warnings) == warned, timeframe_warnings
    if warned:
        assert timeframe_warnings == [
            f"timeframe {declared!r} was given but the data looks like '1D'"]
