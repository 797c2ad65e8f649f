"""Broker rules the issue named as possible divergences, measured to agree with TradingView.

PyneCore 6.11 already does both as TradingView does (the corpus probes differed only because
the engine traded through months TradingView's chart never had; `tvdesk parity` now starts
trading one bar before TradingView's first entry). These fixtures pin the behaviour, so a
PyneCore upgrade that changes it fails here.
"""

from __future__ import annotations

from pathlib import Path

from engine_helpers import backtest, flat_bars

MAX_HELD = """//@version=6
strategy("max held", pyramiding=5, default_qty_type=strategy.fixed, default_qty_value=1)
if strategy.max_contracts_held_all < 3
    strategy.entry("L", strategy.long)
if bar_index == 6
    strategy.close_all()
"""


def test_lifetime_peak_of_contracts_gates_pyramid_entries(tmp_path: Path) -> None:
    # Bar 0: nothing held yet (peak 0) -> entry, filled at bar 1's open. The peak is 1 at
    # bar 1's close -> entry (bar 2), 2 at bar 2 -> entry (bar 3), 3 at bar 3 -> none.
    # close_all at bar 6 fills at bar 7's open. The peak stays 3 for the rest of the run, so
    # nothing opens again although the position is flat: three trades in all.
    result = backtest(tmp_path, MAX_HELD, flat_bars(12))
    assert [(t.entry_bar, t.exit_bar) for t in result.trades] == [(1, 7), (2, 7), (3, 7)]


ZERO_PNL = """//@version=6
strategy("even", commission_value=0, default_qty_type=strategy.fixed, default_qty_value=1)
if bar_index == 0
    strategy.entry("L", strategy.long)
if strategy.position_size > 0
    strategy.exit("X", "L", limit=strategy.position_avg_price)
"""


def test_a_limit_exit_at_the_entry_price_is_an_even_trade(tmp_path: Path) -> None:
    # Flat market: every bar opens and closes at 100, high 101, low 99. The entry fills at
    # bar 1's open (100); the exit limit is then placed at the entry price, 100, and fills on
    # bar 2, which trades through 100: one trade, profit 0, counted as even.
    result = backtest(tmp_path, ZERO_PNL, flat_bars(6))
    [trade] = result.trades
    assert (trade.entry_bar, trade.entry_price, trade.exit_bar, trade.exit_price) == \
        (1, 100.0, 2, 100.0)
    assert trade.profit == 0.0
    assert result.metrics["even_trades"] == 1
    assert result.metrics["winning_trades"] == 0 and result.metrics["losing_trades"] == 0
