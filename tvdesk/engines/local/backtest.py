"""One backtest on PyneCore, inside the current process.

This module is what a warm worker process runs for each request. It keeps three caches for
the life of the process, because they are what makes the second run cheap: transpiled
scripts (on disk, shared), parsed declarations per script, and parsed market data per file.
A run records the trades PyneCore's broker emulator closes and the bar-by-bar equity (close,
worst and best inside the bar), then computes TradingView's metrics itself: PyneCore's own
summary statistics follow other conventions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tvdesk.analytics.risk_metrics import risk_metrics
from tvdesk.analytics.tv_metrics import compute_metrics
from tvdesk.data.market_data import Bars, bars_in_window, load_bars, window_ms
from tvdesk.engines.local.feeds import (
    FeedFiles,
    MagnifierStream,
    magnifier_stream,
    missing_context_message,
)
from tvdesk.engines.local.security_feeds import (
    SecurityFeeds,
    other_syminfo,
    preload_security_children,
    provisioning_runner,
)
from tvdesk.engines.local.symbols import ResolvedSymbol, resolve_symbol, to_pynecore
from tvdesk.errors import Cancelled, EngineError, InputError, PineError
from tvdesk.model import (
    BacktestRequest,
    BacktestResult,
    EquityCurve,
    FrozenMap,
    InputSpec,
    InputValue,
    Trade,
)
from tvdesk.pine.declarations import match_inputs, read_declarations
from tvdesk.pine.transpile import TOOLCHAIN, TranspileCache, Transpiled

# PyneCore writes a .toml of inputs beside each script it imports unless told not to; the
# transpile cache is shared and read-only in spirit, so keep it clean.
os.environ.setdefault("PYNE_SAVE_SCRIPT_TOML", "0")

CANCEL_CHECK_EVERY = 256  # bars between two looks at the cancel flag: cheap, and < 10 ms


@dataclass(frozen=True, slots=True)
class _Declarations:
    title: str
    settings: dict[str, Any]
    inputs: tuple[InputSpec, ...]


class BacktestContext:
    """Per-process caches; one instance lives in each warm worker."""

    def __init__(self, transpile_cache: TranspileCache | None = None,
                 scratch: Path | None = None) -> None:
        self.transpiles = transpile_cache or TranspileCache()
        self.scratch = scratch
        self._declarations: dict[str, _Declarations] = {}
        self._bars: dict[tuple[str, str, int, int], tuple[Bars, list[Any]]] = {}
        self._scripts: dict[str, Path] = {}
        self._feeds: FeedFiles | None = None
        self._magnifier: tuple[tuple[Any, ...], MagnifierStream] | None = None

    @property
    def feeds(self) -> FeedFiles:
        """Bars files for request.security, in the worker's scratch folder (made on first use)."""
        if self._feeds is None:
            self._feeds = FeedFiles(self.scratch / "feeds" if self.scratch else None)
        return self._feeds

    def magnifier(self, chart: Bars, path: str, timezone: str) -> MagnifierStream:
        """The magnifier's bars inside each chart bar, kept while chart and file are the same."""
        lower, _ = self.bars(path, timezone)
        key = (chart.path, len(chart), int(chart.times[-1]), lower.path, id(lower))
        if self._magnifier is None or self._magnifier[0] != key:
            self._magnifier = None  # free the old stream before building the next
            self._magnifier = (key, magnifier_stream(chart, lower))
        return self._magnifier[1]

    def script_path(self, transpiled: Transpiled) -> Path:
        """The file PyneCore imports: in a worker, a private copy of the checked text.

        The shared cache file was checked when read, but another process could replace it
        between that check and PyneCore's import; the worker's own copy cannot change.
        """
        if self.scratch is None:
            return transpiled.path
        path = self._scripts.get(transpiled.source_hash)
        if path is None:
            path = self.scratch / "scripts" / f"s_{transpiled.source_hash}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(transpiled.python, encoding="utf-8")
            self._scripts[transpiled.source_hash] = path
        return path

    def declarations(self, source_hash: str, python: str) -> _Declarations:
        found = self._declarations.get(source_hash)
        if found is None:
            title, settings, inputs = read_declarations(python)
            found = _Declarations(title, settings, inputs)
            self._declarations[source_hash] = found
        return found

    def bars(self, path: str, timezone: str) -> tuple[Bars, list[Any]]:
        """Parsed bars and their PyneCore OHLCV list, reused while the file is unchanged."""
        try:
            stat = Path(path).stat()
        except OSError as exc:
            raise InputError(f"cannot read market data: {exc.strerror}", source=path) from None
        key = (str(Path(path).resolve()), timezone, stat.st_mtime_ns, stat.st_size)
        hit = self._bars.get(key)
        if hit is None:
            from pynecore.types.ohlcv import OHLCV

            bars = load_bars(path, timezone=timezone)
            ohlcv = [OHLCV(int(t), float(o), float(h), float(lo), float(c), float(v))
                     for t, o, h, lo, c, v in zip(bars.times, bars.open, bars.high, bars.low,
                                                   bars.close, bars.volume, strict=True)]
            if len(self._bars) > 8:  # a worker sees few files; keep memory bounded anyway
                self._bars.clear()
            hit = (bars, ohlcv)
            self._bars[key] = hit
        return hit


def resolve_inputs(request: BacktestRequest, inputs: tuple[InputSpec, ...]) -> dict[str, Any]:
    """Map the request's overrides (by title or variable name) to PyneCore's parameter names."""
    resolved: dict[str, InputValue] = {}
    for spec, value in match_inputs(request.inputs, inputs):
        if not spec.overridable:
            raise InputError(
                f"input {spec.title!r} is declared inside an expression and cannot be set "
                "by the local engine; make it a plain `x = input.*(...)` declaration",
                source="--input",
            )
        resolved[spec.name] = value
    return resolved


class _EntryGate:
    """Blocks new entries before the trading window opens; earlier bars only warm up.

    PyneCore has no such option, so the gate wraps `strategy.entry` and `strategy.order` (the
    two calls that open positions) for the duration of one run.
    """

    def __init__(self, start_ms: int | None) -> None:
        self.start_ms = start_ms
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> _EntryGate:
        if self.start_ms is None:
            return self
        from pynecore import lib
        from pynecore.lib import strategy

        start = self.start_ms
        for name in ("entry", "order"):
            original = getattr(strategy, name)
            self._saved[name] = original

            def gated(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                if lib._time < start:
                    return None
                return _original(*args, **kwargs)

            setattr(strategy, name, gated)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved:
            from pynecore.lib import strategy

            for name, original in self._saved.items():
                setattr(strategy, name, original)


def run_backtest(request: BacktestRequest, context: BacktestContext,
                 cancelled: Callable[[], bool] | None = None) -> BacktestResult:
    """Run one request to completion (or until `cancelled()` turns true)."""
    if not request.data_path:
        raise InputError("the local engine needs market data (--data FILE.csv)", source="--data")
    from tvdesk.engines.local import security_speedups
    from tvdesk.engines.local.quirks import apply_all

    apply_all()
    security_speedups.apply()
    transpiled = context.transpiles.get(request.strategy.source)
    decl = context.declarations(transpiled.source_hash, transpiled.python)
    inputs = resolve_inputs(request, decl.inputs)
    # "strategy.percent_of_equity" (as a profile or the TradingView engine writes it) is the
    # bare name to PyneCore, whose constants are string literals.
    settings = {key: value.rsplit(".", 1)[1] if isinstance(value, str)
                and value.startswith("strategy.") else value for key, value in request.settings}

    bars, ohlcv = context.bars(request.data_path, request.symbol.timezone)
    # Bars before --from only warm up; an empty window is refused, saying which kind it is.
    first_bar, _ = bars_in_window(bars, request.date_from, request.date_to)
    end_ms = window_ms(request.date_to)
    start_ms = window_ms(request.date_from)
    if end_ms is not None:
        bars = bars.slice_until(end_ms)
        ohlcv = ohlcv[: len(bars)]
    symbol = resolve_symbol(request.symbol, bars)
    syminfo = to_pynecore(symbol)
    warnings = list(symbol.warnings)

    from pynecore.core.script_runner import ScriptRunner

    runner_class: type = ScriptRunner
    extra: dict[str, Any] = {}
    feeds: SecurityFeeds | None = None
    if "request.security" in transpiled.python:
        feeds = _security_feeds(request, context, bars, symbol, syminfo)
        preload_security_children()
        runner_class = provisioning_runner()
        chart_file = feeds.chart_file()
        from pynecore.core.ohlcv import ChartBarWindow

        extra["chart_data_path"] = chart_file
        extra["chart_bar_window"] = ChartBarWindow(chart_file, int(bars.times[0]),
                                                   int(bars.times[-1]))
    if request.magnifier_path:
        stream = context.magnifier(bars, request.magnifier_path, request.symbol.timezone)
        _check_magnifier(context, request, bars, stream, warnings)
        # No source timeframe: PyneCore would place a sub-bar by its last instant, which
        # for a whole-day session puts a day's last sub-bar into the next day.
        extra["magnifier_iter"] = iter(stream.candles)
        settings["use_bar_magnifier"] = True
    elif decl.settings.get("use_bar_magnifier") is True:
        warnings.append("the script turns the bar magnifier on (use_bar_magnifier=true): "
                        "give --magnifier-data FILE (lower-timeframe bars) to fill orders "
                        "inside bars as TradingView does; without it orders fill on chart bars")

    try:
        runner = runner_class(context.script_path(transpiled), ohlcv, syminfo,
                              inputs=inputs, settings=settings, **extra)
    except ValueError as exc:
        raise InputError(str(exc), source="--input") from None
    if feeds is not None:
        runner.feeds = feeds
    initial = float(settings.get("initial_capital", decl.settings.get("initial_capital", 1e6)))
    recorder = _Recorder(len(ohlcv), initial, symbol.pointvalue)
    closed: list[Any] = []
    try:
        with _EntryGate(start_ms if first_bar else None):
            for index, (candle, _plot, new_trades) in enumerate(runner.run_iter()):
                if new_trades:
                    closed.extend(new_trades)
                recorder.record(runner.script.position, candle)
                if cancelled is not None and index % CANCEL_CHECK_EVERY == 0 and cancelled():
                    raise Cancelled("backtest cancelled")
    except (Cancelled, InputError, PineError, MemoryError):
        raise
    except Exception as exc:  # a runtime error in the script: name it, keep the worker alive
        if "security context" in str(exc):
            raise PineError(missing_context_message(str(exc)),
                            feature="request.security") from None
        raise EngineError(f"the script failed while running: {type(exc).__name__}: {exc}") \
            from None

    position = runner.script.position
    tz = ZoneInfo(symbol.timezone)
    trades = _convert_trades(closed, list(position.open_trades), tz, float(ohlcv[-1].close),
                             symbol.pointvalue, len(ohlcv) - 1)
    equity = recorder.curve()
    margin_calls = sum(1 for t in trades if "margin call" in t.exit_signal.casefold())
    risk_free = float(decl.settings.get("risk_free_rate", 2.0))
    metrics = compute_metrics(trades, equity, initial_capital=initial, risk_free_rate=risk_free,
                              timezone=symbol.timezone, first_bar=first_bar,
                              margin_calls=margin_calls)
    # tvdesk's own risk statistics beside TradingView's (never under TradingView's names).
    metrics = FrozenMap({**metrics,
                         **risk_metrics(trades, equity, initial_capital=initial,
                                        first_bar=first_bar, timezone=symbol.timezone),
                         "buy_hold_max_drawdown_percent": _buy_hold_drawdown(equity, first_bar)})
    effective_inputs = {spec.title: inputs.get(spec.name, spec.default) for spec in decl.inputs}
    properties = {
        "engine": "local",
        "toolchain": TOOLCHAIN,
        "strategy_title": decl.title,
        "source_hash": transpiled.source_hash,
        "symbol": f"{symbol.prefix}:{symbol.ticker}",
        "timeframe": symbol.timeframe,
        "timezone": symbol.timezone,
        "session": symbol.session.text,
        "tick_size": symbol.mintick,
        "point_value": symbol.pointvalue,
        "currency": symbol.currency,
        "symbol_facts": list(symbol.facts),
        "data_file": request.data_path,
        "bars": len(ohlcv),
        "warmup_bars": first_bar,
        "trading_range": [_iso(int(bars.times[first_bar]), tz), _iso(int(bars.times[-1]), tz)],
        "date_from": request.date_from.isoformat() if request.date_from else None,
        "date_to": request.date_to.isoformat() if request.date_to else None,
        "inputs": effective_inputs,
        "strategy_settings": {**decl.settings, **settings},
    }
    if feeds is not None and feeds.used:
        properties["security_feeds"] = sorted(set(feeds.used))
    if request.magnifier_path:
        properties["magnifier_file"] = request.magnifier_path
    return BacktestResult(source="local", metrics=metrics, trades=trades,
                          properties=FrozenMap(properties), equity_curve=equity,
                          warnings=tuple(warnings) + _gap_warning(bars))


def _security_feeds(request: BacktestRequest, context: BacktestContext, bars: Bars,
                    symbol: ResolvedSymbol, syminfo: Any) -> SecurityFeeds:
    """The run's request.security feeds: the chart's bars and whatever --security gave."""
    from tvdesk.data.market_data import derive_mintick

    tz = request.symbol.timezone
    stat = Path(bars.path).stat()
    chart_key = "|".join(str(part) for part in (
        Path(bars.path).resolve(), stat.st_mtime_ns, stat.st_size, len(bars),
        int(bars.times[-1]), symbol.prefix, symbol.ticker, symbol.mintick, symbol.timeframe,
        tz, symbol.session.text))

    def load(path: str) -> Bars:
        return context.bars(path, tz)[0]

    def syminfo_for(name: str, other: Bars) -> Any:
        return other_syminfo(syminfo, name, derive_mintick(other.price_decimals))

    return SecurityFeeds(context.feeds, bars, syminfo, chart_key, security=request.security,
                         magnifier=request.magnifier_path, load=load, syminfo_for=syminfo_for,
                         session=symbol.session)


def _check_magnifier(context: BacktestContext, request: BacktestRequest, chart: Bars,
                     stream: MagnifierStream, warnings: list[str]) -> None:
    """The magnifier's bars must be finer than the chart's; say how much of the chart they
    cover, since uncovered bars fill as they would without the magnifier."""
    from tvdesk.engines.local.feeds import is_coarser

    assert request.magnifier_path
    lower, _ = context.bars(request.magnifier_path, request.symbol.timezone)
    if not is_coarser(chart.timeframe, lower.timeframe):
        raise InputError(f"the bar magnifier needs bars finer than the chart's "
                         f"({chart.timeframe}); this file holds {lower.timeframe} bars",
                         source=request.magnifier_path)
    if stream.covered == 0:
        raise InputError("the bar magnifier's bars do not overlap the chart's bars in time",
                         source=request.magnifier_path)
    if stream.covered < stream.total:
        warnings.append(f"bar magnifier: {stream.covered} of {stream.total} chart bars have "
                        "lower-timeframe bars; the others fill orders on the chart bar alone")


def _buy_hold_drawdown(equity: EquityCurve, first_bar: int) -> float | None:
    """Max drawdown % of simply holding the symbol over the window (close to close)."""
    closes = equity.close[first_bar:]
    if len(closes) < 2:
        return None
    peak, worst = closes[0], 0.0
    for price in closes:
        peak = max(peak, price)
        worst = max(worst, (peak - price) / peak * 100 if peak > 0 else 0.0)
    return worst


def _iso(ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).isoformat()


def _gap_warning(bars: Bars) -> tuple[str, ...]:
    if bars.gaps:
        return (f"information: {bars.gaps} missing bars (gaps) in the data",)
    return ()


class _Recorder:
    """Collects close, worst and best equity of every bar with as little work as possible."""

    def __init__(self, size: int, initial: float, pointvalue: float) -> None:
        self.initial = initial
        self.pointvalue = pointvalue
        self.times: list[int] = []
        self.equity: list[float] = []
        self.low: list[float] = []
        self.high: list[float] = []
        self.close: list[float] = []

    def record(self, position: Any, candle: Any) -> None:
        realized = self.initial + position.netprofit
        size = position.size
        close_equity = realized + position.openprofit
        if size:
            avg = position.avg_price
            worst, best = (candle.low, candle.high) if size > 0 else (candle.high, candle.low)
            low = min(close_equity, realized + size * (worst - avg) * self.pointvalue)
            high = max(close_equity, realized + size * (best - avg) * self.pointvalue)
        else:
            low = high = close_equity
        self.times.append(candle.timestamp)
        self.equity.append(close_equity)
        self.low.append(low)
        self.high.append(high)
        self.close.append(candle.close)

    def curve(self) -> EquityCurve:
        return EquityCurve(times=tuple(self.times), equity=tuple(self.equity),
                           equity_low=tuple(self.low), equity_high=tuple(self.high),
                           close=tuple(self.close))


def _dt(ms: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz)


def _convert_trades(closed: list[Any], still_open: list[Any], tz: ZoneInfo, last_close: float,
                    pointvalue: float, last_bar: int) -> tuple[Trade, ...]:
    """PyneCore trades -> model trades, numbered by entry as TradingView numbers them."""
    rows: list[tuple[tuple[int, int], dict[str, Any]]] = []
    for t in closed:
        rows.append(((t.entry_time, t.entry_fill_seq), {
            "side": "long" if t.size > 0 else "short",
            "entry_time": _dt(t.entry_time, tz), "entry_price": float(t.entry_price),
            "qty": abs(float(t.size)), "exit_time": _dt(t.exit_time, tz),
            "exit_price": float(t.exit_price), "profit": float(t.profit),
            "profit_percent": float(t.profit_percent), "entry_signal": t.entry_id or "",
            "exit_signal": t.exit_id or "", "commission": float(t.commission),
            "run_up": float(t.max_runup), "run_up_percent": float(t.max_runup_percent),
            "drawdown": float(t.max_drawdown), "drawdown_percent": float(t.max_drawdown_percent),
            "cum_profit": float(t.cum_profit), "entry_bar": int(t.entry_bar_index),
            "exit_bar": int(t.exit_bar_index),
        }))
    for t in still_open:
        size = float(t.size)
        profit = size * (last_close - float(t.entry_price)) * pointvalue - float(t.commission)
        cost = abs(size) * float(t.entry_price) * pointvalue
        rows.append(((t.entry_time, t.entry_fill_seq), {
            "side": "long" if size > 0 else "short",
            "entry_time": _dt(t.entry_time, tz), "entry_price": float(t.entry_price),
            "qty": abs(size), "profit": profit,
            "profit_percent": profit / cost * 100 if cost else None,
            "entry_signal": t.entry_id or "", "exit_signal": "Open", "open": True,
            "commission": float(t.commission), "entry_bar": int(t.entry_bar_index),
            "exit_bar": last_bar,
        }))
    rows.sort(key=lambda row: row[0])
    return tuple(Trade(number=i, **values) for i, (_, values) in enumerate(rows, start=1))
