"""Watchlists: one strategy on several charts (symbols × timeframes) from the data library.

`--symbols A,B --timeframes 15,60` (or `--watchlist NAME` from the config's `[watchlists]`,
or a profile's `symbols`/`timeframes`) name the charts; each chart's bars and symbol facts
(tick size, point value, currency, timezone, session) come from its library entry, so a
watchlist of a crypto pair and a stock backtests each with its own facts. A chart the library
cannot build is an error naming the symbol and timeframe before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tvdesk.data.charts import Chart
from tvdesk.data.library import Library, timeframe_code
from tvdesk.errors import InputError
from tvdesk.model import BacktestRequest


def parse_list(text: str | Sequence[str] | None, flag: str) -> tuple[str, ...]:
    """"A, B,C" -> ("A", "B", "C"); duplicates dropped, order kept; empty items refused."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else [str(t) for t in text]
    cleaned = [item.strip() for item in items]
    if any(not item for item in cleaned):
        raise InputError(f"expected a comma-separated list, got {text!r}", source=flag)
    return tuple(dict.fromkeys(cleaned))


def resolve_charts(symbols: Iterable[str], timeframes: Iterable[str],
                   library: Library | None = None) -> tuple[Chart, ...]:
    """Every symbol × timeframe, resolved in the library (timeframes empty: each symbol's
    finest series). Every chart is checked before the first one runs."""
    library = library or Library()
    codes = [timeframe_code(tf, "--timeframes") for tf in timeframes]
    charts: list[Chart] = []
    for symbol in symbols:
        if codes:
            entries = [library.resolve(symbol, code) for code in codes]
        else:
            held = library.find(symbol)  # sorted finest first; none: resolve says what is
            entries = [held[0]] if held else [library.resolve(symbol, "60")]
        for entry in entries:  # a tick size not given is derived by the engine, and said so
            charts.append(Chart(symbol=entry.symbol, timeframe=entry.timeframe,
                                data_path=entry.path, timezone=entry.timezone,
                                mintick=entry.mintick, pointvalue=entry.pointvalue,
                                currency=entry.currency, session=entry.session))
    if not charts:
        raise InputError("the watchlist is empty", source="--symbols")
    labels = [c.label for c in charts]
    if len(set(labels)) != len(labels):
        raise InputError(f"a chart is listed twice: {', '.join(labels)}", source="--symbols")
    return tuple(charts)


@dataclass(frozen=True, slots=True)
class WatchlistChoice:
    """What the user asked for, before the library resolves it."""

    symbols: tuple[str, ...] = ()
    timeframes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.symbols)


def watchlist_choice(*, symbols: str | None, timeframes: str | None, watchlist: str | None,
                     settings: Any, profile: Any, data: str | None = None) -> WatchlistChoice:
    """Flags first, then the profile: `--symbols`, else `--watchlist`, else the profile's
    symbols or watchlist; `--timeframes`, else the profile's. A `--data` flag (`data`) wins
    over a watchlist profile, as every flag wins over its profile: one chart, no watchlist."""
    chosen = parse_list(symbols, "--symbols")
    if not chosen and watchlist:
        chosen = settings.watchlist(watchlist)
    frames = parse_list(timeframes, "--timeframes")
    if not chosen and profile is not None and not data:
        chosen = profile.symbols or (settings.watchlist(profile.watchlist)
                                     if profile.watchlist else ())
        if not frames:
            frames = tuple(profile.timeframes)
    if frames and not chosen:
        raise InputError("--timeframes needs a watchlist: give --symbols or --watchlist",
                         source="--timeframes")
    return WatchlistChoice(tuple(chosen),
                           tuple(timeframe_code(tf, "--timeframes") for tf in frames))


def refuse_single_chart_flags(options: Any) -> None:
    """Flags that describe one chart make no sense across a watchlist: say so."""
    for flag, value in (("--data", options.data), ("--symbol", options.symbol),
                        ("--timeframe", options.timeframe), ("--mintick", options.mintick),
                        ("--pointvalue", options.pointvalue), ("--session", options.session),
                        ("--magnifier-data", options.magnifier_data)):
        if value:
            raise InputError(
                f"{flag} describes one chart; a watchlist's charts take their bars and symbol "
                "facts from the market data library (set them with `tvdesk data add`)",
                source=flag)


async def evaluate_charts(request: BacktestRequest, charts: Sequence[Chart],
                          engine: Any) -> list[tuple[Chart, Any]]:
    """`request` (strategy, inputs, window) on every chart, side by side on the engine."""
    from tvdesk.optimize.watchlist_trials import run_charts, warm_up_for

    pairs = [(chart, chart.request(request)) for chart in charts]
    await warm_up_for(engine, (r for _, r in pairs))
    outcomes = await run_charts(engine, pairs)
    return [(o.chart, o.result) for o in outcomes]
