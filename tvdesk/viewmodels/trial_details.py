"""One trial in detail, without Qt: what the trial view shows, computed from the run store.

`trial_details(store, trial_id)` gathers everything in one pass: TradingView's key stats and
full metrics (TradingView's labels; tvdesk's own statistics labelled as tvdesk's), the tag
with its reasons, the equity curve with drawdown and buy & hold, the list of trades, monthly
returns, the Pine source with a unified diff against the source it was rewritten from, and
for LLM rewrites the prompt and the reply. The view only formats and draws these values.

The store keeps results without their equity curve, so equity is rebuilt by the same code the
reports use (`tvdesk.analytics.equity_rebuild`): from the daily returns kept for every trial,
else realised at each trade exit. Buy & hold needs the run's market data; it is read once per
file and kept.
"""

from __future__ import annotations

import difflib
import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tvdesk.analytics.equity_rebuild import EquitySeries, load_run_bars, trial_equity
from tvdesk.metric_catalog import METRICS, MetricDef, variant_key
from tvdesk.model import BacktestResult, Trade
from tvdesk.reports.data import zone
from tvdesk.reports.labels import finite, format_plain, format_value, is_catalog_key, label
from tvdesk.reports.naming import safe_name
from tvdesk.store import RunStore, TrialRow
from tvdesk.viewmodels.results_table import (
    SEGMENT_NAMES,
    condition_text,
    short_hash,
    tag_colour,
    tag_name,
)

if TYPE_CHECKING:
    from tvdesk.data.market_data import Bars

SECTIONS = {"performance": "Performance", "trades_analysis": "Trades analysis",
            "risk_adjusted": "Risk-adjusted performance"}
TVDESK_SECTION = "tvdesk's own statistics"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TRADE_HEADERS = ("Trade #", "Type", "Entry time", "Entry signal", "Entry price", "Exit time",
                 "Exit signal", "Exit price", "Contracts", "Profit", "Profit %", "Cum. profit",
                 "Run-up", "Drawdown", "Bars")
TRADE_NUMERIC = frozenset({0, 4, 7, 8, 9, 10, 11, 12, 13, 14})
EQUITY_NOTES = {"bars": "Close equity of every bar", "daily": "Equity at each day's end",
                "trades": "Realised equity at trade exits"}
BASE_NOTE = "The base script: it was not rewritten from another version, so there is no diff."


@dataclass(frozen=True, slots=True)
class KeyStat:
    """One of TradingView's big numbers: a value, a smaller detail, a sign for the colour."""

    title: str
    value: str
    detail: str = ""
    sign: int = 0
    tooltip: str = ""


@dataclass(frozen=True, slots=True)
class MetricLine:
    """A row of the metrics table: All / Long / Short as TradingView's Performance tab."""

    section: str
    label: str
    all: str
    long: str = ""
    short: str = ""
    tooltip: str = ""


@dataclass(frozen=True, slots=True)
class EquityPlot:
    """Equity, drawdown % and buy & hold as plain numbers for a chart.

    `x` are the wall-clock times in the run's timezone as seconds since 1970 read as UTC, so a
    date axis showing UTC shows the run's own clock (daylight saving included). A "trades"
    series is already expanded into steps (equity only changes at a trade's exit).
    """

    x: tuple[float, ...]
    equity: tuple[float, ...]
    drawdown: tuple[float, ...]
    initial_capital: float
    kind: str
    buy_hold_x: tuple[float, ...] = ()
    buy_hold: tuple[float, ...] = ()

    @property
    def note(self) -> str:
        return EQUITY_NOTES.get(self.kind, "")


@dataclass(frozen=True, slots=True)
class MonthlyReturns:
    """Return % per month (12 cells) and of the whole year (13th cell) for each year."""

    years: tuple[int, ...]
    cells: tuple[tuple[float | None, ...], ...]


@dataclass(frozen=True, slots=True)
class TradeTable:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    signs: tuple[int, ...]
    """The sign of each trade's profit (colours the profit cells)."""


@dataclass(frozen=True, slots=True)
class LlmTalk:
    model: str
    outcome: str
    latency: str
    prompt: str
    reply: str


@dataclass(frozen=True, slots=True)
class TrialDetails:
    trial: TrialRow
    title: str
    subtitle: str
    tag: str
    tag_colour: str
    reasons: tuple[str, ...]
    inputs: tuple[tuple[str, str], ...]
    key_stats: tuple[KeyStat, ...]
    metrics: tuple[MetricLine, ...]
    equity: EquityPlot | None
    trades: TradeTable
    monthly: MonthlyReturns
    pine: str
    parent_hash: str | None
    diff: str
    diff_note: str
    llm: tuple[LlmTalk, ...] = ()
    currency: str = "USD"
    file_name: str = "strategy.pine"
    notes: tuple[str, ...] = field(default=())
    """Why a part is missing (no kept result, no equity ...), for the view to say so."""


# --------------------------------------------------------------------------- the builder


def trial_details(store: RunStore, trial_id: int, *, load_prices: bool = True) -> TrialDetails:
    """Everything the trial view shows for one trial (KeyError for an unknown id)."""
    trial = store.trial(trial_id)
    result = store.trial_result(trial_id)
    settings = store.get_run(trial.run_id).settings
    request = settings.get("request") or {}
    symbol = request.get("symbol") or {}
    timezone = str(symbol.get("timezone") or "UTC")
    tz = zone(timezone)
    props: Mapping[str, Any] = result.properties if result is not None else {}
    currency = str(props.get("currency") or symbol.get("currency") or "USD")
    metrics = dict(trial.metrics) or (dict(result.metrics) if result is not None else {})
    notes: list[str] = []
    if trial.status == "error":
        notes.append(f"The backtest failed: {trial.error or 'no message'}")
    elif trial.status == "running":
        notes.append("The trial is still running.")
    elif result is None:
        notes.append("The store kept no result for this trial (no trades, no equity).")

    bars = cached_bars(settings, timezone) if load_prices else None
    series = equity_series_for(store, trial, result, metrics, tz, bars)
    source = store.source(trial.source_hash)
    parent = store.source(source.parent_hash) if source.parent_hash else None
    title = str(props.get("strategy_title") or store.get_run(trial.run_id).strategy_title)
    return TrialDetails(
        trial=trial,
        title=f"Trial {trial.id}",
        subtitle=" · ".join((
            title, SEGMENT_NAMES.get(trial.segment, trial.segment), trial.proposer,
            f"worker {trial.worker}", f"iteration {trial.iteration}",
            f"condition {condition_text(trial.condition)}", f"source {short_hash(source.hash)}",
            trial.status)),
        tag=tag_name(trial.tag), tag_colour=tag_colour(trial.tag), reasons=trial.reasons,
        inputs=tuple((name, format_plain(value)) for name, value in trial.inputs.items()),
        key_stats=key_stats(metrics, currency),
        metrics=metric_lines(metrics, currency),
        equity=equity_plot(series),
        trades=trade_table(result, tz, currency),
        monthly=monthly_returns(series),
        pine=source.pine,
        parent_hash=source.parent_hash,
        diff=source_diff(parent.pine, source.pine, parent.hash, source.hash) if parent else "",
        diff_note=(f"Changes from the parent version {short_hash(parent.hash)}"
                   if parent else BASE_NOTE),
        llm=llm_talk(store, trial),
        currency=currency,
        file_name=f"{safe_name(title)}_{short_hash(source.hash)}.pine",
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- key stats


def _signed(key: str, value: Any, currency: str) -> str:
    text = format_value(key, value, currency)
    number = finite(value)
    return f"+{text}" if number is not None and number > 0 else text


def _sign(value: Any) -> int:
    number = finite(value)
    if number is None or number == 0:
        return 0
    return 1 if number > 0 else -1


def key_stats(metrics: Mapping[str, Any], currency: str = "USD") -> tuple[KeyStat, ...]:
    """TradingView's key stats: net profit, max drawdown, trades, profitable %, profit factor."""
    closed = metrics.get("total_trades")
    wins = metrics.get("winning_trades")
    ratio = ""
    if finite(closed) is not None and finite(wins) is not None:
        ratio = f"{format_value('winning_trades', wins)}/{format_value('total_trades', closed)}"
    return (
        KeyStat(label("net_profit"), _signed("net_profit", metrics.get("net_profit"), currency),
                _signed("net_profit_percent", metrics.get("net_profit_percent"), currency),
                _sign(metrics.get("net_profit"))),
        KeyStat(label("max_drawdown"),
                format_value("max_drawdown", metrics.get("max_drawdown"), currency),
                format_value("max_drawdown_percent", metrics.get("max_drawdown_percent")),
                -1 if (finite(metrics.get("max_drawdown")) or 0) > 0 else 0),
        KeyStat(label("total_trades"), format_value("total_trades", closed)),
        KeyStat(label("percent_profitable"),
                format_value("percent_profitable", metrics.get("percent_profitable")), ratio),
        KeyStat(label("profit_factor"),
                format_value("profit_factor", metrics.get("profit_factor")), "",
                _sign((finite(metrics.get("profit_factor")) or 1.0) - 1.0)),
    )


# --------------------------------------------------------------------------- metrics table


def _cell(metrics: Mapping[str, Any], definition: MetricDef, scope: str,
          currency: str) -> tuple[str, bool]:
    """The text of one All/Long/Short cell and whether the metric is there at all."""
    key = variant_key(definition.key, scope)  # type: ignore[arg-type]
    present = key in metrics
    text = format_value(key, metrics.get(key), currency) if present else ""
    if definition.has_percent:
        percent_key = variant_key(definition.key, scope, True)  # type: ignore[arg-type]
        if percent_key in metrics:
            present = True
            percent = format_value(percent_key, metrics.get(percent_key), currency)
            text = f"{text}  ({percent})" if text else percent
    return text, present


def metric_lines(metrics: Mapping[str, Any], currency: str = "USD") -> tuple[MetricLine, ...]:
    """Every metric the trial has: TradingView's in its tabs' order, then tvdesk's own."""
    lines: list[MetricLine] = []
    for definition in METRICS:
        cells = [_cell(metrics, definition, "all", currency)]
        if definition.by_side:
            cells += [_cell(metrics, definition, "long", currency),
                      _cell(metrics, definition, "short", currency)]
        if not any(present for _text, present in cells):
            continue
        texts = [text for text, _present in cells] + ["", ""]
        lines.append(MetricLine(SECTIONS[definition.sheet], definition.label, texts[0],
                                texts[1], texts[2], definition.definition))
    own = sorted((k for k in metrics if not is_catalog_key(k)), key=label)
    for key in own:
        value = metrics[key]
        if value is not None and finite(value) is None and not isinstance(value, str):
            continue  # nested or boolean extras are not statistics to list
        lines.append(MetricLine(TVDESK_SECTION, label(key), format_value(key, value, currency),
                                tooltip="Computed by tvdesk; TradingView does not report it."))
    return tuple(lines)


# --------------------------------------------------------------------------- equity


_BARS: dict[tuple[str, float, str], Bars | None] = {}


def cached_bars(settings: Mapping[str, Any], timezone: str) -> Bars | None:
    """The run's market data for buy & hold, read once per file version (None if unreadable)."""
    request = settings.get("request") or {}
    path = request.get("data_path")
    if not path:
        return None
    try:
        stamp = Path(path).stat().st_mtime
    except OSError:
        return None
    key = (str(path), stamp, timezone)
    if key not in _BARS:
        if len(_BARS) >= 4:
            _BARS.clear()
        _BARS[key] = load_run_bars(settings, timezone)
    return _BARS[key]


def equity_series_for(store: RunStore, trial: TrialRow, result: BacktestResult | None,
                      metrics: Mapping[str, Any], tz: ZoneInfo,
                      bars: Bars | None) -> EquitySeries | None:
    """The trial's equity as the reports build it: daily returns, else trade exits.

    Only this trial's daily returns are read (`RunStore.trial_daily_returns`); a row that
    cannot be decoded counts as none kept.
    """
    try:
        daily = store.trial_daily_returns(trial.id)
    except (struct.error, ValueError):
        daily = None
    return trial_equity(result, tz, daily=daily, bars=bars,
                        fallback_capital=finite(metrics.get("initial_capital")) or 0.0)


def wall_seconds(moment: datetime) -> float:
    """A time's wall clock in its own zone, as seconds since 1970 read as UTC."""
    return moment.replace(tzinfo=UTC).timestamp()


def drawdown_percent(equity: Sequence[float]) -> list[float]:
    """Fall from the running peak in % (0 at a new high, negative below it)."""
    out: list[float] = []
    peak = -math.inf
    for value in equity:
        peak = max(peak, value)
        out.append((value / peak - 1.0) * 100.0 if peak > 0 else 0.0)
    return out


def _steps(x: Sequence[float], y: Sequence[float]) -> tuple[list[float], list[float]]:
    """Hold each value until the next point (equity realised at trade exits)."""
    xs: list[float] = []
    ys: list[float] = []
    for i, (xi, yi) in enumerate(zip(x, y, strict=True)):
        if i:
            xs.append(xi)
            ys.append(ys[-1])
        xs.append(xi)
        ys.append(yi)
    return xs, ys


def equity_plot(series: EquitySeries | None) -> EquityPlot | None:
    """The series as chart numbers: wall-clock x, steps for trade-exit equity, drawdown %."""
    if series is None or not series.times:
        return None
    x = [wall_seconds(t) for t in series.times]
    equity = list(series.equity)
    if series.kind == "trades":
        x, equity = _steps(x, equity)
    buy_hold_x: list[float] = []
    buy_hold: list[float] = []
    line = series.buy_hold_line()
    if line is not None:
        buy_hold_x = [wall_seconds(t) for t in line[0]]
        buy_hold = [float(v) for v in line[1]]
    return EquityPlot(tuple(x), tuple(equity), tuple(drawdown_percent(equity)),
                      series.initial_capital, series.kind, tuple(buy_hold_x), tuple(buy_hold))


def monthly_returns(series: EquitySeries | None) -> MonthlyReturns:
    """Return % of each month from month-end equity, and of each year compounded."""
    if series is None or not series.times:
        return MonthlyReturns((), ())
    from tvdesk.reports.charts import monthly_returns as by_month

    returns = by_month(series)
    years = sorted({year for year, _month in returns})
    rows: list[tuple[float | None, ...]] = []
    for year in years:
        months = [returns.get((year, month)) for month in range(1, 13)]
        factors = [1.0 + value / 100.0 for value in months if value is not None]
        total = (math.prod(factors) - 1.0) * 100.0 if factors else None
        rows.append((*months, total))
    return MonthlyReturns(tuple(years), tuple(rows))


# --------------------------------------------------------------------------- trades


def _price_decimals(result: BacktestResult) -> int:
    tick = finite(result.properties.get("tick_size"))
    if tick is None or tick <= 0 or tick >= 1:
        return 2
    return min(8, max(2, round(-math.log10(tick))))


def _time(moment: datetime | None, tz: tzinfo) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return f"{moment:%Y-%m-%d %H:%M}"


def _money(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2) + 0.0:,.2f}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2) + 0.0:,.2f} %"


def trade_table(result: BacktestResult | None, tz: tzinfo, currency: str = "USD") -> TradeTable:
    """TradingView's list of trades, one row per trade (entry and exit side by side)."""
    headers = tuple(f"{h} {currency}" if h in ("Profit", "Cum. profit", "Run-up", "Drawdown")
                    else h for h in TRADE_HEADERS)
    if result is None:
        return TradeTable(headers, (), ())
    decimals = _price_decimals(result)
    rows: list[tuple[str, ...]] = []
    signs: list[int] = []
    for trade in sorted(result.trades, key=lambda t: t.number):
        rows.append(_trade_row(trade, tz, decimals))
        signs.append(_sign(None if trade.profit is None else round(trade.profit, 2)))
    return TradeTable(headers, tuple(rows), tuple(signs))


def _trade_row(trade: Trade, tz: tzinfo, decimals: int) -> tuple[str, ...]:
    def price(value: float | None) -> str:
        return "" if value is None else f"{value:,.{decimals}f}"

    qty = "" if trade.qty is None else f"{trade.qty:,.10g}"
    return (
        str(trade.number), trade.side.capitalize(), _time(trade.entry_time, tz),
        trade.entry_signal, price(trade.entry_price),
        "Open" if trade.open else _time(trade.exit_time, tz),
        "" if trade.open else trade.exit_signal, price(trade.exit_price), qty,
        _money(trade.profit), _percent(trade.profit_percent), _money(trade.cum_profit),
        _money(trade.run_up), _money(trade.drawdown),
        "" if trade.bars is None else str(trade.bars),
    )


# --------------------------------------------------------------------------- source


def source_diff(parent: str, child: str, parent_hash: str = "", child_hash: str = "") -> str:
    """A unified diff from the parent version to this one ("" when they are equal)."""
    lines = difflib.unified_diff(
        parent.splitlines(keepends=True), child.splitlines(keepends=True),
        fromfile=f"parent {short_hash(parent_hash)}".rstrip(),
        tofile=f"this version {short_hash(child_hash)}".rstrip())
    return "".join(line if line.endswith("\n") else f"{line}\n" for line in lines)


# --------------------------------------------------------------------------- LLM


def prompt_text(prompt: str) -> str:
    """A stored prompt (the JSON list of chat messages) as readable text."""
    try:
        messages = json.loads(prompt)
    except (TypeError, ValueError):
        return prompt
    if not isinstance(messages, list) or not all(isinstance(m, Mapping) for m in messages):
        return prompt
    parts = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False, indent=2)
        parts.append(f"── {message.get('role', 'message')} ──\n{content.rstrip()}")
    return "\n\n".join(parts)


def llm_talk(store: RunStore, trial: TrialRow) -> tuple[LlmTalk, ...]:
    """The prompt and reply that produced an LLM trial (none for other trials)."""
    if trial.proposer != "llm":
        return ()
    talks = []
    for exchange in store.llm_exchanges(trial.run_id):
        if exchange.trial_id != trial.id:
            continue
        latency = "" if exchange.latency is None else f"{exchange.latency:.1f} s"
        talks.append(LlmTalk(exchange.model, exchange.outcome, latency,
                             prompt_text(exchange.prompt), exchange.reply or ""))
    return tuple(talks)
