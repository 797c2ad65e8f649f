"""Opposite stop entries tied at the bar open fill long-first, as on TradingView.

The market is daily bars from 2024-01-01 (bar i opens on day i + 1). The strategy places two
stop entries of one contract at the close of bar 1 (100), one short and one long, in the
order the test chooses. No commission, no slippage, pyramiding 1. Both are placed while flat,
so each carries one contract: whichever fills second meets the position the first opened
and only closes it (one trade, then flat), on TradingView as in PyneCore.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tvdesk.engines.local.quirks import apply_all
from tvdesk.engines.local.quirks.stop_tie import order_long_first

from engine_helpers import backtest

PINE = """//@version=6
strategy("stop tie", overlay=true, initial_capital=100000,
     default_qty_type=strategy.fixed, default_qty_value=1, pyramiding=1,
     commission_value=0, slippage=0)
if bar_index == 1
    {first}
    {second}
"""
SHORT = 'strategy.entry("S", strategy.short, stop=close)'
LONG = 'strategy.entry("L", strategy.long, stop=close)'


def _bars(bar2: tuple[float, float, float, float]) -> list[tuple[float, float, float, float]]:
    return [(100, 101, 99, 100), (100, 101, 99, 100), bar2,
            (102, 104, 101, 103), (103, 104, 102, 103), (103, 104, 102, 103)]


# Bar 2 opens exactly at 100, the level of both stops: both trigger at the open.
TIE_BAR = (100.0, 105.0, 95.0, 102.0)
DAY2 = datetime(2024, 1, 3, tzinfo=UTC)


def _trades(tmp_path, first: str, second: str, bar2: tuple[float, float, float, float]):
    result = backtest(tmp_path, PINE.format(first=first, second=second), _bars(bar2))
    return [(t.side, t.entry_time, t.entry_price, t.exit_time, t.exit_price)
            for t in result.trades]


# Derivation for the tie: TradingView fills the long stop first at the open, 100, and the
# short stop then fills at the same open and closes it at 100: one trade, long, entered and
# exited on bar 2 at 100. Plain PyneCore fills in placement order, so with the short placed
# first it books that one trade as a short.
LONG_THEN_SHORT = [("long", DAY2, 100.0, DAY2, 100.0)]
SHORT_THEN_LONG = [("short", DAY2, 100.0, DAY2, 100.0)]


def test_tie_fills_long_first_when_short_placed_first(tmp_path) -> None:
    assert _trades(tmp_path, SHORT, LONG, TIE_BAR) == LONG_THEN_SHORT


def test_tie_fills_long_first_when_long_placed_first(tmp_path) -> None:
    # Placement order already long-first: the same trades as above (unchanged by the fix).
    assert _trades(tmp_path, LONG, SHORT, TIE_BAR) == LONG_THEN_SHORT


def test_open_below_both_stops_is_not_a_tie(tmp_path) -> None:
    # Bar 2 = (99, 105, 95, 102) opens BELOW 100: only the short stop triggers at the open
    # (fills at 99). The path is open -> low -> high (105 - 99 > 99 - 95), so the price then
    # rises through 100 and the long stop fills there, closing the short: one trade, short,
    # 99 -> 100 on bar 2. Short first even though the long was placed first: stops that are
    # not tied keep following the price.
    assert _trades(tmp_path, LONG, SHORT, (99.0, 105.0, 95.0, 102.0)) == [
        ("short", DAY2, 99.0, DAY2, 100.0)]


def test_plain_pynecore_fills_a_tie_in_placement_order(tmp_path, monkeypatch) -> None:
    # The divergence itself: with the original PyneCore method back in place, the short
    # placed first fills first.
    apply_all()
    from pynecore.lib.strategy import SimPosition

    patched = SimPosition._process_at_bar_open
    monkeypatch.setattr(SimPosition, "_process_at_bar_open", patched.original)
    assert _trades(tmp_path, SHORT, LONG, TIE_BAR) == SHORT_THEN_LONG


@pytest.mark.parametrize("sizes", [(-1.0, 1.0), (-1.0, -2.0, 1.0, 2.0)])
def test_order_long_first_moves_only_plain_stops(sizes: tuple[float, ...]) -> None:
    close_type = object()

    def stop(size: float) -> SimpleNamespace:
        return SimpleNamespace(stop=100.0, limit=None, stop_limit=None, trail_price=None,
                               order_type="entry", cancelled=False, size=size)

    limit = SimpleNamespace(stop=None, limit=100.0, stop_limit=None, trail_price=None,
                            order_type="entry", cancelled=False, size=-1.0)
    exit_leg = SimpleNamespace(stop=100.0, limit=None, stop_limit=None, trail_price=None,
                               order_type=close_type, cancelled=False, size=1.0)
    stops = [stop(s) for s in sizes]
    bucket = [limit, *stops, exit_leg]
    order_long_first(bucket, close_type)
    longs = [o for o in stops if o.size > 0]
    shorts = [o for o in stops if o.size < 0]
    # The limit and the exit leg keep their slots; the longs take the first stop slots, each
    # side in its placement order.
    assert bucket == [limit, *longs, *shorts, exit_leg]
