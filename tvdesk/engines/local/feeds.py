"""The bars files PyneCore reads beside the chart: what `request.security` and the bar magnifier
need.

PyneCore runs each `request.security` context in a child process that reads its bars from a
PyneCore `.ohlcv` file with the symbol's `.toml` beside it. tvdesk writes those files into the
worker's scratch folder, once per data file and symbol facts:

- the chart's own bars: PyneCore aggregates the chart symbol's intraday higher timeframes
  (60, 240, ...) from them itself, which is what TradingView does too;
- daily, weekly and monthly bars of the chart's symbol, aggregated here in the exchange
  timezone. PyneCore's own aggregation of intraday bars puts the last bar of a 24-hour day
  into the next day (a whole-day session ends at 23:59:59 there, and the bar's last instant
  is later), which moved every daily high and close by one bar;
- another symbol's bars, from `--security SYMBOL=FILE`, aggregated to the timeframe asked;
- lower-timeframe bars of the chart's symbol for `request.security_lower_tf`, from a
  `--security` file for the chart's symbol or the `--magnifier-data` file.

The aggregation itself lives in `tvdesk.data.resample`, shared with the market data library.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tvdesk.data.market_data import Bars
from tvdesk.data.resample import (  # re-exported: the engine's callers import them from here
    Candles,
    aggregate,
    is_coarser,
    is_daily_or_more,
    period_starts,
    timeframe_ms,
    unit_of,
)
from tvdesk.data.symbol_names import same_symbol, split_symbol  # re-exported

__all__ = ["Candles", "FeedFiles", "aggregate", "is_coarser", "is_daily_or_more",
           "period_starts", "same_symbol", "split_symbol", "timeframe_ms", "unit_of"]
_CONTEXT_RE = re.compile(r"symbol='([^']*)', timeframe='([^']*)'")


class FeedFiles:
    """A folder of PyneCore bars files, each written once per content key.

    In a worker it is the worker's scratch folder (the only place it may write); in-process
    callers get a temporary folder removed with this object.
    """

    def __init__(self, root: Path | None = None) -> None:
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="tvdesk-feeds-"))
            weakref.finalize(self, shutil.rmtree, root, ignore_errors=True)
        self.root = root
        self._written: dict[str, Path] = {}

    def write(self, key: str, candles: Candles, syminfo: Any, period: str) -> Path:
        """A `.ohlcv` + `.toml` pair of `candles` under `period`, reused for the same key."""
        found = self._written.get(key)
        if found is not None and found.exists():
            return found
        from dataclasses import replace as dc_replace

        from pynecore.core.ohlcv import OHLCVWriter
        from pynecore.types.ohlcv import OHLCV

        self.root.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(key.encode()).hexdigest()[:20]
        path = self.root / f"feed_{name}.ohlcv"
        with OHLCVWriter(path, period, minmove=int(syminfo.minmove),
                         pricescale=int(syminfo.pricescale), truncate=True,
                         timezone=str(syminfo.timezone)) as writer, writer.batched():
            for row in candles.rows():
                writer.write(OHLCV(*row))
        dc_replace(syminfo, period=period).save_toml(path.with_suffix(".toml"))
        self._written[key] = path
        if len(self._written) > 64:  # a worker sees few data files; keep the folder bounded
            # The oldest half goes; the files of the run being prepared are the newest.
            for old_key in list(self._written)[:32]:
                old = self._written.pop(old_key)
                old.unlink(missing_ok=True)
                old.with_suffix(".toml").unlink(missing_ok=True)
        return path

    def aggregate_file(self, key: str, daily: Path, timeframe: str, syminfo: Any) -> Path:
        """Multi-day/week/month bars from a daily file, on TradingView's year-reset grid
        (PyneCore's aggregation, which is right when its source is daily)."""
        found = self._written.get(key)
        if found is not None and found.exists():
            return found
        from zoneinfo import ZoneInfo

        from pynecore.core.aggregator import aggregate_ohlcv

        name = hashlib.sha256(key.encode()).hexdigest()[:20]
        path = self.root / f"feed_{name}.ohlcv"
        aggregate_ohlcv(daily, path, timeframe, tz=ZoneInfo(str(syminfo.timezone)),
                        session_starts=syminfo.session_starts or None,
                        opening_hours=syminfo.opening_hours or None,
                        sym_type=syminfo.type, source_tf="1D", prefix=syminfo.prefix)
        from dataclasses import replace as dc_replace

        dc_replace(syminfo, period=timeframe).save_toml(path.with_suffix(".toml"))
        self._written[key] = path
        return path


def missing_context_message(text: str) -> str:
    """PyneCore's "No OHLCV data found for security context (symbol=..., timeframe=...)",
    said the way a trader can act on."""
    match = _CONTEXT_RE.search(text)
    if not match:
        return ("request.security() asks for bars the local engine was not given; give them "
                "with --security SYMBOL=FILE")
    symbol, timeframe = match.groups()
    return (f"the script asks for {symbol or 'the chart symbol'} at timeframe "
            f"{timeframe or 'of the chart'} (request.security), and no bars were given for "
            f"it: add --security {symbol or 'SYMBOL'}=FILE.csv with that symbol's bars at "
            f"{timeframe or 'the chart timeframe'} or finer")


@dataclass(frozen=True, slots=True)
class MagnifierStream:
    """The lower-timeframe bars the broker walks inside each chart bar.

    `candles` holds, for each chart bar in order, the magnifier's bars inside it, or the chart
    bar itself where the magnifier file has none (outside its span, or a hole): the script
    still runs once per chart bar, and such a bar fills orders as it would without the
    magnifier. `covered` counts the chart bars that had lower-timeframe bars.
    """

    candles: list[Any]
    covered: int
    total: int


def magnifier_stream(chart: Bars, lower: Bars) -> MagnifierStream:
    """Interleave `lower` bars into the spans of `chart`'s bars (see MagnifierStream)."""
    from pynecore.types.ohlcv import OHLCV

    span = timeframe_ms(chart.timeframe)
    opens = np.asarray(chart.times, dtype=np.int64)
    ends = np.minimum(np.r_[opens[1:], opens[-1] + int(span)], opens + int(span))
    first = np.searchsorted(lower.times, opens, side="left")
    stop = np.searchsorted(lower.times, ends, side="left")
    lower_rows = list(Candles.of(lower).rows())
    chart_rows = list(Candles.of(chart).rows())
    out: list[Any] = []
    covered = 0
    for i, (lo, hi) in enumerate(zip(first.tolist(), stop.tolist(), strict=True)):
        if hi > lo:
            covered += 1
            out.extend(OHLCV(*row) for row in lower_rows[lo:hi])
        else:
            out.append(OHLCV(*chart_rows[i]))
    return MagnifierStream(out, covered, len(chart_rows))
