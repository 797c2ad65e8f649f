"""How far can a trader trust the local engine on their strategy?

Compare the local engine's closed trades with TradingView's "List of trades" for the same
script and data, inside the time window the export covers (the data file may span more, or
less, than TradingView's history). A TradingView trade is matched when an engine trade has the
same side, the same entry and exit time (at the export's resolution: minutes intraday, dates on
daily charts) and entry and exit prices within half a tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tvdesk.model import Trade


@dataclass(frozen=True, slots=True)
class Mismatch:
    tv: Trade | None
    engine: Trade | None
    reason: str

    def describe(self) -> str:
        def show(t: Trade | None) -> str:
            if t is None:
                return "none"
            return (f"#{t.number} {t.side} {t.entry_time:%Y-%m-%d %H:%M} @ {t.entry_price:g} -> "
                    f"{t.exit_time:%Y-%m-%d %H:%M} @ {t.exit_price:g}")
        return f"{self.reason}: TradingView {show(self.tv)} | engine {show(self.engine)}"

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason,
                "tv": self.tv.to_dict() if self.tv else None,
                "engine": self.engine.to_dict() if self.engine else None}


@dataclass(frozen=True, slots=True)
class ParityReport:
    tv_trades: int
    engine_trades: int
    matched: int
    window: tuple[datetime, datetime] | None
    mismatches: tuple[Mismatch, ...] = field(default_factory=tuple)
    outside_data: int = 0  # TradingView trades the engine had no bars for (not compared)

    @property
    def matched_percent(self) -> float:
        return 100.0 * self.matched / self.tv_trades if self.tv_trades else 0.0

    def summary_line(self) -> str:
        return (f"matched {self.matched}/{self.tv_trades} TradingView trades "
                f"({self.matched_percent:.1f}%)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "tv_trades": self.tv_trades,
            "engine_trades": self.engine_trades,
            "matched": self.matched,
            "matched_percent": round(self.matched_percent, 4),
            "count_delta": self.engine_trades - self.tv_trades,
            "window": [w.isoformat() for w in self.window] if self.window else None,
            "tv_trades_outside_data": self.outside_data,
            "first_mismatch": self.mismatches[0].to_dict() if self.mismatches else None,
            "mismatches": [m.to_dict() for m in self.mismatches[:100]],
        }


def trading_start(tv: Sequence[Trade], bar_times_ms: Sequence[int]) -> datetime | None:
    """Where the engine should start trading to reproduce an export: one chart bar before
    TradingView's first entry (the bar whose close placed that order).

    TradingView held no position before its first trade; its chart often starts long after
    the engine's data does (a 15-minute chart keeps months, a data file years), and an engine
    that trades through the extra history reaches the export's window holding positions, or
    with lifetime counters (max_contracts_held, trade counts) TradingView never had. Earlier
    bars still warm indicators up. None when the data does not start before that bar.
    """
    entries = [t.entry_time for t in tv if t.entry_time is not None]
    if not entries or len(bar_times_ms) < 2:
        return None
    first = min(entries)
    first_ms = int(first.timestamp() * 1000)
    import bisect

    index = bisect.bisect_left(bar_times_ms, first_ms) - 1
    if index <= 0:
        return None
    return datetime.fromtimestamp(bar_times_ms[index] / 1000, first.tzinfo)


def _date_only(trades: Sequence[Trade]) -> bool:
    """A daily chart's export carries dates only: every time sits at local midnight."""
    def midnight(t: datetime | None) -> bool:
        return t is None or (t.hour == 0 and t.minute == 0 and t.second == 0)
    return all(midnight(t.entry_time) and midnight(t.exit_time) for t in trades)


def _key(when: datetime, *, daily: bool, tz: Any) -> tuple[int, ...]:
    local = when.astimezone(tz)
    if daily:
        return (local.year, local.month, local.day)
    return (local.year, local.month, local.day, local.hour, local.minute)


def compare_trades(engine: Sequence[Trade], tv: Sequence[Trade], *, mintick: float,
                   data_span: tuple[datetime, datetime] | None = None) -> ParityReport:
    """Match TradingView's closed trades against the engine's, within the export's window.

    `data_span` (first and last bar of the engine's data): TradingView trades entered before
    the first bar or closed after the last one could not be reproduced from these bars; they
    are counted apart (`outside_data`), not as mismatches.
    """
    tv_closed = [t for t in tv if not t.open and t.exit_time is not None]
    outside = 0
    if data_span is not None:
        inside = [t for t in tv_closed if t.entry_time >= data_span[0]
                  and t.exit_time is not None and t.exit_time <= data_span[1]]
        outside, tv_closed = len(tv_closed) - len(inside), inside
    if not tv_closed:
        return ParityReport(0, 0, 0, None, outside_data=outside)
    tz = tv_closed[0].entry_time.tzinfo
    daily = _date_only(tv_closed)
    start = min(t.entry_time for t in tv_closed)
    end = max(t.exit_time for t in tv_closed if t.exit_time)
    if daily:  # the window covers whole days
        end = end + timedelta(days=1)
    # An engine trade belongs to the window by its entry; its exit may fall later (a mismatch).
    in_window = [t for t in engine if not t.open and t.exit_time is not None
                 and start <= t.entry_time <= end]
    tolerance = mintick / 2 + 1e-9

    by_entry: dict[tuple[int, ...], list[Trade]] = {}
    for t in in_window:
        by_entry.setdefault(_key(t.entry_time, daily=daily, tz=tz), []).append(t)

    matched = 0
    used: set[int] = set()
    mismatches: list[Mismatch] = []
    for ref in sorted(tv_closed, key=lambda t: (t.entry_time, t.number)):
        candidates = [c for c in by_entry.get(_key(ref.entry_time, daily=daily, tz=tz), [])
                      if id(c) not in used]
        if not candidates:
            mismatches.append(Mismatch(ref, None, "no engine trade entered at that time"))
            continue
        best, reason = None, ""
        for cand in candidates:
            reason = _difference(ref, cand, daily=daily, tz=tz, tolerance=tolerance)
            if not reason:
                best = cand
                break
        if best is not None:
            matched += 1
            used.add(id(best))
        else:
            mismatches.append(Mismatch(ref, candidates[0], reason))
    for extra in in_window:
        if id(extra) not in used and not any(m.engine is extra for m in mismatches):
            mismatches.append(Mismatch(None, extra, "engine trade not in TradingView's list"))
    mismatches.sort(key=lambda m: (m.tv or m.engine).entry_time)  # type: ignore[union-attr]
    return ParityReport(len(tv_closed), len(in_window), matched, (start, end), tuple(mismatches),
                        outside_data=outside)


def _difference(ref: Trade, cand: Trade, *, daily: bool, tz: Any, tolerance: float) -> str:
    if ref.side != cand.side:
        return f"side differs ({ref.side} vs {cand.side})"
    assert ref.exit_time is not None and cand.exit_time is not None
    if _key(ref.exit_time, daily=daily, tz=tz) != _key(cand.exit_time, daily=daily, tz=tz):
        return "exit time differs"
    if abs(ref.entry_price - cand.entry_price) > tolerance:
        return f"entry price differs by {abs(ref.entry_price - cand.entry_price):.10g}"
    if ref.exit_price is None or cand.exit_price is None \
            or abs(ref.exit_price - cand.exit_price) > tolerance:
        return "exit price differs"
    return ""
