"""Answer each `request.security` context of a run with a bars file, as TradingView would.

TradingView builds a context on the chart's own symbol from the chart's bars (intraday higher
timeframes) or from the symbol's daily feed (D, W, M); another symbol, or a timeframe below the
chart's, needs bars the chart does not hold. PyneCore asks its runner for a file per context
(`_resolve_security_data`) at the first bar that signals it, including contexts whose symbol or
timeframe is only known at run time; `provisioning_runner` hooks exactly that point, so a
context gets its file the moment PyneCore needs it, and a context the script never reaches
costs nothing.

Which bars answer a context:
- the chart's symbol, intraday and coarser than the chart: PyneCore aggregates the chart feed
  itself (given as `chart_data_path`), as TradingView does;
- the chart's symbol, D/W/M: aggregated here from the source with the longest history among
  the chart's bars and any `--security` file of the chart's symbol (TradingView reads a daily
  feed that starts years before the chart, so more history is closer to it);
- the chart's symbol below the chart's timeframe (`request.security_lower_tf`): a `--security`
  file of the chart's symbol or the `--magnifier-data` file at that timeframe or finer;
- another symbol: its `--security` file, aggregated to the timeframe asked.
A context nothing answers is left to PyneCore, whose error (at resolution, or at the first read
of a context resolved at run time) `missing_context_message` turns into one naming the symbol,
the timeframe and the flag that supplies them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tvdesk.data.market_data import Bars
from tvdesk.data.sessions import Session, parse_session
from tvdesk.engines.local.feeds import (
    Candles,
    FeedFiles,
    aggregate,
    is_coarser,
    is_daily_or_more,
    same_symbol,
    timeframe_ms,
    unit_of,
)
from tvdesk.errors import PineError


@dataclass(frozen=True, slots=True)
class _Source:
    """A bars file that may answer contexts of one symbol."""

    symbol: str
    bars: Bars
    syminfo: Any

    @property
    def timeframe(self) -> str:
        return self.bars.timeframe


def _same_timeframe(a: str, b: str) -> bool:
    return abs(timeframe_ms(a) - timeframe_ms(b)) <= 0.01 * timeframe_ms(b)


class SecurityFeeds:
    """The bars files of one run's `request.security` contexts."""

    def __init__(self, files: FeedFiles, chart: Bars, chart_syminfo: Any, chart_key: str,
                 security: Sequence[tuple[str, str]] = (), magnifier: str | None = None,
                 load: Callable[[str], Bars] | None = None,
                 syminfo_for: Callable[[str, Bars], Any] | None = None,
                 session: Session | None = None) -> None:
        self.files = files
        self.chart = chart
        self.syminfo = chart_syminfo
        self.chart_key = chart_key
        self.chart_symbol = f"{chart_syminfo.prefix}:{chart_syminfo.ticker}"
        self.chart_timeframe = str(chart_syminfo.period)
        self._security = tuple(security)
        self._magnifier = magnifier
        self._load = load
        self._syminfo_for = syminfo_for
        self.session = session or parse_session(None)
        self.used: list[str] = []  # what answered each context, for the result's properties

    # -- the chart's own feed ----------------------------------------------------------------

    def chart_file(self) -> Path:
        """The chart's bars as PyneCore's `.ohlcv`: its intraday higher timeframes come from it."""
        return self.files.write(f"chart|{self.chart_key}", Candles.of(self.chart), self.syminfo,
                                self.chart_timeframe)

    # -- answering contexts ------------------------------------------------------------------

    def provide(self, contexts: dict[str, dict[str, Any]]) -> dict[str, str]:
        """`{"SYMBOL:TF": file}` for every context these feeds can answer."""
        from pynecore.lib.ticker import _split_chart_type

        answers: dict[str, str] = {}
        for context in contexts.values():
            symbol, _chart_type = _split_chart_type(str(context.get("symbol", "")))
            symbol = symbol or self.chart_symbol
            raw_tf = str(context.get("timeframe", ""))
            timeframe = raw_tf or self.chart_timeframe
            try:
                unit_of(timeframe)
            except ValueError:
                continue  # not a timeframe tvdesk can build; PyneCore says what is wrong
            path = self._answer(symbol, timeframe, bool(context.get("is_ltf")))
            if path is not None:
                answers[f"{symbol}:{raw_tf}"] = str(path)
        return answers

    def _answer(self, symbol: str, timeframe: str, is_ltf: bool) -> Path | None:
        on_chart = same_symbol(symbol, self.chart_symbol)
        lower = is_ltf or is_coarser(self.chart_timeframe, timeframe)
        if on_chart and not lower:
            if not is_daily_or_more(timeframe):
                return None  # the chart feed answers it (same timeframe, or PyneCore's own)
            source = max(self._sources(symbol, timeframe, chart_too=True),
                         key=lambda s: (-int(s.bars.times[0]), len(s.bars)))
            return self._file(source, timeframe)
        candidates = self._sources(symbol, timeframe, chart_too=False,
                                   magnifier_too=on_chart)
        if not candidates:
            if self._any_given(symbol):
                given = ", ".join(sorted({s.timeframe for s in self._given(symbol)}))
                raise PineError(
                    f"the script asks for {symbol} at timeframe {timeframe} "
                    f"(request.security), but the bars given for it are {given}: give bars "
                    f"at {timeframe} or finer", feature="request.security")
            return None
        # The coarsest source that is still fine enough: the least to aggregate.
        source = max(candidates, key=lambda s: timeframe_ms(s.timeframe))
        return self._file(source, timeframe)

    def _given(self, symbol: str) -> list[_Source]:
        out = []
        for given, path in self._security:
            if same_symbol(symbol, given):
                out.append(self._source(given, path))
        return out

    def _any_given(self, symbol: str) -> bool:
        return any(same_symbol(symbol, given) for given, _path in self._security)

    def _sources(self, symbol: str, timeframe: str, *, chart_too: bool,
                 magnifier_too: bool = False) -> list[_Source]:
        """Sources of `symbol` whose bars are `timeframe` or finer."""
        found = self._given(symbol)
        if chart_too:
            found.append(_Source(self.chart_symbol, self.chart, self.syminfo))
        if magnifier_too and self._magnifier:
            found.append(self._source(self.chart_symbol, self._magnifier))
        return [s for s in found if not is_coarser(s.timeframe, timeframe)]

    def _source(self, symbol: str, path: str) -> _Source:
        assert self._load is not None and self._syminfo_for is not None
        bars = self._load(path)
        if same_symbol(symbol, self.chart_symbol):
            syminfo = self.syminfo
        else:
            syminfo = self._syminfo_for(symbol, bars)
        return _Source(symbol, bars, syminfo)

    def _file(self, source: _Source, timeframe: str) -> Path:
        bars = source.bars
        key = f"{source.symbol}|{bars.path}|{len(bars)}|{int(bars.times[-1])}|{self.chart_key}"
        self.used.append(f"{source.symbol} {timeframe} from {Path(bars.path).name}")
        tz = str(self.syminfo.timezone)
        if _same_timeframe(source.timeframe, timeframe):
            return self.files.write(f"{key}|{timeframe}", Candles.of(bars), source.syminfo,
                                    _code(timeframe))
        unit, count = unit_of(timeframe)
        if unit in ("D", "W", "M") and count > 1:
            daily = self.files.write(f"{key}|1D",
                                     aggregate(Candles.of(bars), "1D", tz, self.session),
                                     source.syminfo, "1D")
            return self.files.aggregate_file(f"{key}|{timeframe}", daily, _code(timeframe),
                                             source.syminfo)
        return self.files.write(f"{key}|{timeframe}",
                                aggregate(Candles.of(bars), timeframe, tz, self.session),
                                source.syminfo, _code(timeframe))


def _code(timeframe: str) -> str:
    """TradingView's code with an explicit count ("D" -> "1D"), as PyneCore's files declare."""
    unit, count = unit_of(timeframe)
    return f"{count}{unit}" if unit else str(count)


def other_syminfo(chart_syminfo: Any, symbol: str, mintick: float) -> Any:
    """Another symbol's facts: its name and tick size, the chart's timezone and sessions."""
    from tvdesk.engines.local.feeds import split_symbol

    prefix, ticker = split_symbol(symbol)
    decimals = len(f"{mintick:.10f}".rstrip("0").split(".")[1])
    pricescale = 10 ** decimals
    return replace(chart_syminfo, prefix=prefix or chart_syminfo.prefix, ticker=ticker,
                   description=ticker, mintick=mintick, pricescale=pricescale,
                   minmove=max(1, round(mintick * pricescale)))


_RUNNER_CLASS: list[type] = []
PRELOAD_MODULE = "tvdesk.engines.local.security_preload"
# The main module's path, for the forkserver to run it once (see `security_preload`).
MAIN_PATH_ENV = "TVDESK_SECURITY_MAIN_PATH"


def _main_path() -> str | None:
    """The path a child is told to run as its main module, as multiprocessing computes it."""
    from multiprocessing import spawn

    try:
        path = spawn.get_preparation_data("security").get("init_main_from_path")
    except Exception:  # while this process's own main is still being imported
        return None
    return str(path) if path else None


def preload_security_children() -> None:
    """Make PyneCore's forkserver for request.security children preload the whole library.

    PyneCore names its own preload right before it starts the forkserver (replacing any
    list set earlier); wrapping that function adds ours. Idempotent. It also names the main
    module's path to the server (`MAIN_PATH_ENV`, in the environment the server starts with),
    so the server runs the main module once instead of every child on every run.
    """
    from pynecore.core import security_mp

    original = security_mp.preload_in_forkserver
    if getattr(original, "tvdesk", False):
        return

    def preload(module_name: str) -> None:
        if security_mp.START_METHOD == "forkserver":
            main_path = _main_path()
            if main_path:
                os.environ[MAIN_PATH_ENV] = main_path
            security_mp.mp_context.set_forkserver_preload([module_name, PRELOAD_MODULE])

    preload.tvdesk = True  # type: ignore[attr-defined]
    security_mp.preload_in_forkserver = preload



def provisioning_runner() -> type:
    """PyneCore's ScriptRunner, asking a `SecurityFeeds` for each context's bars first.

    A subclass because ScriptRunner has `__slots__` (no per-instance patching); built on first
    use because importing PyneCore is heavy.
    """
    if not _RUNNER_CLASS:
        from pynecore.core.script_runner import ScriptRunner

        class ProvisioningRunner(ScriptRunner):
            feeds: SecurityFeeds | None = None

            def _resolve_security_data(self, contexts: dict, *,
                                       defer_missing: bool = False) -> dict:
                if self.feeds is not None:
                    self._security_data.update(self.feeds.provide(contexts))
                return super()._resolve_security_data(contexts, defer_missing=defer_missing)

        _RUNNER_CLASS.append(ProvisioningRunner)
    return _RUNNER_CLASS[0]
