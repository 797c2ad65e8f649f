"""Opposite stop orders tied at the bar open: TradingView fills the long one first.

TradingView: when a buy stop and a sell stop (two `strategy.entry` stops in opposite
directions, say) rest at the same price and the next bar opens exactly at that price, both
trigger at the open. TradingView fills the LONG one first and the short one second (which
then closes or reverses the long), whatever order the script placed them in. Measured on a
public, TradingView-validated probe (BINANCE:ETHUSDT.P 15m, a year of daily pairs of stop
entries at the previous close, placed short-first on one pass and long-first on another): on
all 363 traded bars whose open equals that close (174 of them short-first), TradingView's list
of trades shows the long entry closed by the short one at the open. (When the two levels
differ and the open gaps through both, the long stop is necessarily the lower level, which
PyneCore already fills first.)

PyneCore 6.11: `SimPosition._process_at_bar_open` collects the orders the open gapped through
(`_check_already_filled`) by walking its `PriceOrderBook` (`iter_orders()`: price levels
ascending, and inside one level the order the orders were placed in), then fills that batch
in that sequence. Two stops at the same level therefore fill in placement order, so a script
that places its short stop first ends short-then-long where TradingView ends long-then-short:
every trade of such a bar has the wrong side.

Why this hook: the whole divergence is the order of the orders inside one price bucket of the
book, the bucket at the price the open fills at. Wrapping `_process_at_bar_open` to reorder
just that bucket before the original runs (the plain stop orders in it, long before short,
each keeping its place otherwise, every other order where it was) changes nothing else: a
tie needs the open to equal both levels, so no other bucket can hold one, and every plain
stop in that bucket triggers at this open and leaves the book, so the reordering never
outlives the bar. Limits, stop-limits, trailing legs and exit legs (`strategy.exit`,
`strategy.close`, already filled after entries) are left alone. The original stays reachable
as `SimPosition._process_at_bar_open.original`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_PATCH_MARK = "_tvdesk_stop_tie"


def _is_plain_stop(order: Any, close_type: Any) -> bool:
    """A stop order with no limit side and no trail that opens or adds (not an exit leg)."""
    return (order.stop is not None and order.limit is None and order.stop_limit is None
            and order.trail_price is None and order.order_type is not close_type
            and not order.cancelled)


def order_long_first(bucket: list[Any], close_type: Any) -> None:
    """Put the plain long stops of one price bucket before its plain short stops, in place.

    Only the slots the plain stops occupy are reassigned (long ones first, each group in its
    placement order); every other order in the bucket keeps its own slot.
    """
    slots = [i for i, order in enumerate(bucket) if _is_plain_stop(order, close_type)]
    if len(slots) < 2:
        return
    stops = [bucket[i] for i in slots]
    ordered = [o for o in stops if o.size > 0] + [o for o in stops if not o.size > 0]
    for slot, order in zip(slots, ordered, strict=True):
        bucket[slot] = order


def apply() -> None:
    """Fill opposite stops tied at the bar open long-first (idempotent)."""
    from pynecore.lib import strategy as pyne_strategy

    sim_position = pyne_strategy.SimPosition
    original: Callable[..., Any] = sim_position._process_at_bar_open
    if getattr(original, _PATCH_MARK, False):
        return
    close_type = pyne_strategy._order_type_close

    def _process_at_bar_open(self: Any, ohlc: bool) -> Any:
        book = self.orderbook
        if book.price_levels:
            bucket = book.orders_at_price.get(self._market_fill_price)
            if bucket is not None and len(bucket) > 1:
                order_long_first(bucket, close_type)
        return original(self, ohlc)

    _process_at_bar_open.__doc__ = original.__doc__
    _process_at_bar_open.__dict__.update({"original": original, _PATCH_MARK: True})
    sim_position._process_at_bar_open = _process_at_bar_open
