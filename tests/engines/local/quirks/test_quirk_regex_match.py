"""`str.match` returns the first match found anywhere in the source, as on TradingView.

TradingView's reference: str.match returns "the first occurrence of the regular expression in
the source string" (the whole match), or "" when there is none. PyneCore 6.11 used `re.match`,
which only tries position 0, so a rule found later in the string was never seen.

Markets are daily bars from 2024-01-01 (UTC); orders placed on a bar fill at the next bar's open.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tvdesk.engines.local.quirks import apply_all

from engine_helpers import backtest

# Reads a threshold out of a rule string: "rsi>50" sits after "macd=long,", so only a search
# finds it. The level is the number after "rsi>" (str.substring from index 4 of "rsi>50").
LEVEL_FROM_RULES = """//@version=6
strategy("rule level", overlay=true, default_qty_type=strategy.fixed, default_qty_value=1)
m = str.match("macd=long,rsi>50", "rsi>\\\\d+")
level = m == "" ? na : str.tonumber(str.substring(m, 4))
if close > level
    strategy.entry("L", strategy.long)
else if close < level
    strategy.close("L")
"""

# (open, high, low, close)
# bar 0 (Jan 1): close 48 < 50            -> nothing (flat)
# bar 1 (Jan 2): close 51 > 50            -> entry order
# bar 2 (Jan 3): opens 53                 -> long filled at 53; close 53 > 50 keeps it
# bar 3 (Jan 4): close 49 < 50            -> close order
# bar 4 (Jan 5): opens 47                 -> exit at 47; close 47 < 50, stays flat
# bar 5 (Jan 6): close 47                 -> nothing
MARKET = [
    (48.0, 49.0, 47.0, 48.0),
    (48.0, 52.0, 47.0, 51.0),
    (53.0, 54.0, 52.0, 53.0),
    (53.0, 54.0, 48.0, 49.0),
    (47.0, 48.0, 46.0, 47.0),
    (47.0, 48.0, 46.0, 47.0),
]


def _day(n: int) -> datetime:
    return datetime(2024, 1, n, tzinfo=UTC)


def _pyne_match():
    from pynecore.lib import string as pyne_string

    apply_all()
    return pyne_string


def test_rule_later_in_the_string_is_found(tmp_path: Path) -> None:
    # str.match finds "rsi>50" at index 10, so level = 50. Long from bar 1's signal (close 51),
    # filled at bar 2's open 53; closed on bar 3 (close 49), filled at bar 4's open 47:
    # one long trade, 53 -> 47, profit (47 - 53) x 1 = -6.
    [trade] = backtest(tmp_path, LEVEL_FROM_RULES, MARKET).trades
    assert trade.side == "long" and not trade.open
    assert (trade.entry_time, trade.entry_price) == (_day(3), 53.0)
    assert (trade.exit_time, trade.exit_price) == (_day(5), 47.0)
    assert trade.profit == pytest.approx(-6.0)


def test_pynecore_original_anchored_at_the_start_and_traded_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The divergence itself: with PyneCore's own function (re.match) the pattern is tried at
    # index 0 only, m == "", level is na, `close > na` and `close < na` are false: no trades.
    pyne_string = _pyne_match()
    monkeypatch.setattr(pyne_string, "match", pyne_string.match.original)
    assert tuple(backtest(tmp_path, LEVEL_FROM_RULES, MARKET).trades) == ()


ANCHORED_AT_START = """//@version=6
strategy("anchored", overlay=true, default_qty_type=strategy.fixed, default_qty_value=1)
rules = "macd=long,rsi>50"
side = str.match(rules, "^macd=(long|short)")
if str.match(rules, "^rsi") != ""
    strategy.entry("S", strategy.short)
if bar_index == 1 and side == "macd=long"
    strategy.entry("L", strategy.long)
if bar_index == 3
    strategy.close("L")
"""


def test_match_at_the_start_and_explicit_anchor_unchanged(tmp_path: Path) -> None:
    # Ordinary case, same before and after the fix: "^macd=(long|short)" matches at index 0 and
    # returns the whole match "macd=long" (not the group "long"); "^rsi" must not match later
    # in the string, so no short. Long signal on bar 1 fills at bar 2's open 53, close on
    # bar 3 fills at bar 4's open 47.
    [trade] = backtest(tmp_path, ANCHORED_AT_START, MARKET).trades
    assert trade.side == "long" and trade.entry_signal == "L"
    assert (trade.entry_time, trade.entry_price) == (_day(3), 53.0)
    assert (trade.exit_time, trade.exit_price) == (_day(5), 47.0)


@pytest.mark.parametrize(("source", "regex", "expected"), [
    # The reference manual's own example: a ticker found in the middle of a sentence.
    ("It's time to sell some NASDAQ:AAPL!", r"[\w]+:[\w]+", "NASDAQ:AAPL"),
    # First occurrence, whole match.
    ("a1 b22 c333", r"\d{2,}", "22"),
    ("qty=12;px=7", r"px=(\d+)", "px=7"),
    # Inline flag still at the front of the pattern.
    ("MACD=LONG,RSI>50", r"(?i)rsi>\d+", "RSI>50"),
    # Nothing found, and anchors still anchor.
    ("macd=long", r"rsi", ""),
    ("macd=long,rsi>50", r"^rsi", ""),
    ("macd=long,rsi>50", r"\d+$", "50"),
    # Pine's \z (end of input) keeps working through PyneCore's translation.
    ("macd=long,rsi>50", r"rsi>\d+\z", "rsi>50"),
])
def test_match_returns_first_occurrence(source: str, regex: str, expected: str) -> None:
    assert _pyne_match().match(source, regex) == expected


def test_apply_is_idempotent_and_keeps_the_original() -> None:
    pyne_string = _pyne_match()
    patched = pyne_string.match
    from tvdesk.engines.local.quirks import regex_match

    regex_match.apply()
    assert pyne_string.match is patched
    assert patched.original("macd=long,rsi>50", "rsi>50") == ""  # re.match: start only
    assert patched("macd=long,rsi>50", "rsi>50") == "rsi>50"
