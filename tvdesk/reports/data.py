"""The one pure-data model every report writer reads, and the builders that fill it.

Writers (text, workbook, charts, HTML, CSV) only see a `ReportData`: they never open the run
store or a data file, so a report can be written from anything that builds one (a run in the
store, a single backtest, a synthetic benchmark). The builders here are the only part that
reads the store, the kept results and, for the buy & hold line, the run's market data.

Equity for charts comes from the best source available, said in `EquitySeries.kind`:
- "bars": the bar-by-bar close equity of a fresh result (single backtests);
- "daily": rebuilt from the daily returns the store keeps for every in-sample trial (the
  store keeps results without their equity curve);
- "trades": realised equity at each trade exit (holdout trials, imported exports).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tvdesk.model import BacktestResult, FrozenMap

if TYPE_CHECKING:
    from tvdesk.data.market_data import Bars
    from tvdesk.store import RunStore, TrialRow

RANK_METRIC = "net_profit_percent"
"""The metric that picks the best trials of a report."""

EquityKind = Literal["bars", "daily", "trades"]


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What was run: one optimisation (`kind="optimization"`) or one backtest."""

    id: str | None
    strategy_title: str
    engine: str
    created_at: datetime | None
    finished_at: datetime | None
    status: str
    settings: Mapping[str, Any] = field(default_factory=FrozenMap)
    timezone: str = "UTC"
    currency: str = "USD"
    kind: Literal["optimization", "backtest"] = "optimization"
    symbol: str = ""
    timeframe: str = ""


@dataclass(frozen=True, slots=True)
class TrialSummary:
    """One trial as a report shows it (a TrialRow without the store's bookkeeping)."""

    id: int
    worker: int
    condition: str | None
    iteration: int
    proposer: str
    segment: str
    inputs: Mapping[str, Any]
    metrics: Mapping[str, Any]
    tag: str | None = None
    reasons: tuple[str, ...] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = None
    status: str = "done"
    error: str | None = None
    source_hash: str = ""

    def metric(self, key: str) -> float | None:
        """A metric as a finite float, or None when missing or undefined."""
        value = self.metrics.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value) if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class EquitySeries:
    """Equity over time for the equity and monthly-returns charts.

    `times` are timezone-aware, in the chart's timezone. `buy_hold` is the equity of buying
    with the initial capital at the first trading bar and holding, when the prices are known,
    at `buy_hold_times` (the same as `times` when None).
    """

    times: tuple[datetime, ...]
    equity: tuple[float, ...]
    initial_capital: float
    kind: EquityKind
    buy_hold: tuple[float, ...] | None = None
    buy_hold_times: tuple[datetime, ...] | None = None

    def buy_hold_line(self) -> tuple[tuple[datetime, ...], tuple[float, ...]] | None:
        if self.buy_hold is None:
            return None
        return (self.buy_hold_times or self.times), self.buy_hold


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """Something the optimiser recorded (run started, new best, holdout, stopped ...)."""

    at: datetime
    kind: str
    trial_id: int | None = None
    condition: str | None = None
    worker: int | None = None
    payload: Mapping[str, Any] = field(default_factory=FrozenMap)


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything a report shows; writers read only this.

    `trials` are in start order. `details` are the trials shown in full (TradingView's sheets,
    charts): the best in-sample trial of each condition first, then the next best up to the
    report's `top`, each followed by its holdout trial when there is one. `equity` maps a
    detailed trial's id to its equity series. `robustness` holds run-level statistics (PBO,
    DSR ...) under any keys; reports show whatever is there, labelled.
    """

    run: RunSummary
    trials: tuple[TrialSummary, ...]
    details: tuple[tuple[TrialSummary, BacktestResult], ...] = ()
    equity: Mapping[int, EquitySeries] = field(default_factory=FrozenMap)
    robustness: Mapping[str, Any] = field(default_factory=FrozenMap)
    timeline: tuple[TimelineEvent, ...] = ()
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rank_metric: str = RANK_METRIC

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.run.timezone)

    def in_sample(self) -> list[TrialSummary]:
        return [t for t in self.trials if t.segment == "in_sample"]

    def conditions(self) -> list[str | None]:
        """The conditions of the run in first-seen order (None: the script's own)."""
        seen: dict[str | None, None] = {}
        for trial in self.trials:
            seen.setdefault(trial.condition, None)
        return list(seen)

    def best_by_condition(self) -> dict[str | None, TrialSummary]:
        """The in-sample trial with the highest rank metric in each condition."""
        best: dict[str | None, TrialSummary] = {}
        for trial in ranked(self.in_sample(), self.rank_metric):
            best.setdefault(trial.condition, trial)
        return best

    def holdout_of(self, trial: TrialSummary) -> TrialSummary | None:
        """The holdout trial run with the same source and inputs as `trial`, if any."""
        for other in self.trials:
            if other.segment == "holdout" and _same_parameters(other, trial):
                return other
        return None

    def input_names(self) -> list[str]:
        """Every input title any trial set, in first-seen order."""
        names: dict[str, None] = {}
        for trial in self.trials:
            for name in trial.inputs:
                names.setdefault(name, None)
        return list(names)

    def extra_metric_keys(self) -> list[str]:
        """Numeric metric keys outside TradingView's catalog (tvdesk's own), sorted."""
        from tvdesk.reports.labels import is_catalog_key, is_number

        keys: set[str] = set()
        for trial in self.trials:
            keys.update(k for k, v in trial.metrics.items() if k not in keys and is_number(v))
        return sorted(k for k in keys if not is_catalog_key(k))

    def tag_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trial in self.trials:
            name = trial.tag or "untagged"
            counts[name] = counts.get(name, 0) + 1
        return counts

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trial in self.trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document of the report (used when no snapshot is supplied)."""
        from tvdesk.model import _jsonable

        run = self.run
        return _jsonable({
            "format": "tvdesk.report",
            "generated_at": self.generated_at,
            "run": {
                "id": run.id, "strategy_title": run.strategy_title, "engine": run.engine,
                "created_at": run.created_at, "finished_at": run.finished_at,
                "status": run.status, "kind": run.kind, "timezone": run.timezone,
                "currency": run.currency, "settings": run.settings,
            },
            "trials": [{
                "id": t.id, "worker": t.worker, "condition": t.condition,
                "iteration": t.iteration, "proposer": t.proposer, "segment": t.segment,
                "status": t.status, "inputs": t.inputs, "metrics": t.metrics, "tag": t.tag,
                "reasons": list(t.reasons), "error": t.error, "started_at": t.started_at,
                "finished_at": t.finished_at, "seconds": t.seconds,
            } for t in self.trials],
            "details": [{"trial_id": t.id, "result": r.to_dict(include_equity=False)}
                        for t, r in self.details],
            "robustness": self.robustness,
        })


# --------------------------------------------------------------------------- helpers


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def ranked(trials: Iterable[TrialSummary], metric: str = RANK_METRIC) -> list[TrialSummary]:
    """Finished trials with the metric, best first; ties go to the earlier trial."""
    usable = [t for t in trials if t.status == "done" and t.metric(metric) is not None]
    return sorted(usable, key=lambda t: (-(t.metric(metric) or 0.0), t.id))


def _same_parameters(a: TrialSummary, b: TrialSummary) -> bool:
    return (a.condition == b.condition and dict(a.inputs) == dict(b.inputs)
            and a.source_hash == b.source_hash)


def pick_details(trials: Sequence[TrialSummary], top: int,
                 metric: str = RANK_METRIC) -> list[TrialSummary]:
    """The trials a report shows in full, in order (see `ReportData`).

    Each condition's best in-sample trial comes first (best condition first); the remaining
    places up to `top` go to the next best in-sample trials of any condition. Each chosen trial
    is followed by its holdout trial, which does not count against `top`.
    """
    candidates = ranked([t for t in trials if t.segment == "in_sample"], metric)
    chosen: list[TrialSummary] = []
    seen_conditions: set[str | None] = set()
    for trial in candidates:
        if trial.condition not in seen_conditions and len(chosen) < top:
            seen_conditions.add(trial.condition)
            chosen.append(trial)
    chosen_ids = {t.id for t in chosen}
    for trial in candidates:
        if len(chosen) >= top:
            break
        if trial.id not in chosen_ids:
            chosen.append(trial)
            chosen_ids.add(trial.id)
    holdouts = [t for t in trials if t.segment == "holdout" and t.status == "done"]
    ordered: list[TrialSummary] = []
    for trial in chosen:
        ordered.append(trial)
        ordered.extend(h for h in holdouts if _same_parameters(h, trial))
    return ordered


def _aware(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)


def _initial_capital(result: BacktestResult) -> float:
    for source in (result.metrics.get("initial_capital"),
                   result.properties.get("initial_capital"),
                   (result.properties.get("strategy_settings") or {}).get("initial_capital")):
        if isinstance(source, (int, float)) and not isinstance(source, bool) and source > 0:
            return float(source)
    return 0.0


def _trading_edge(result: BacktestResult, tz: ZoneInfo, edge: int) -> datetime | None:
    """Start (edge 0) or end (edge 1) of the trading range, as the result states it."""
    props = result.properties
    trading = props.get("trading_range")
    if isinstance(trading, (list, tuple)) and len(trading) == 2:
        try:
            return _aware(datetime.fromisoformat(str(trading[edge])), tz)
        except ValueError:
            pass
    day = props.get(f"trading_range_{('from', 'to')[edge]}")
    if day:
        try:
            return datetime.combine(date.fromisoformat(str(day)), time(0 if edge == 0 else 23,
                                                                       0 if edge == 0 else 59),
                                    tz)
        except ValueError:
            pass
    return None


def _trading_start(result: BacktestResult, tz: ZoneInfo) -> datetime | None:
    start = _trading_edge(result, tz, 0)
    if start is not None:
        return start
    entries = [t.entry_time for t in result.trades]
    return _aware(min(entries), tz) if entries else None


def equity_from_curve(result: BacktestResult, tz: ZoneInfo) -> EquitySeries | None:
    """Bar-by-bar close equity of a fresh result, with buy & hold from the bars' closes."""
    curve = result.equity_curve
    if not len(curve) or not curve.equity:
        return None
    first = int(result.properties.get("warmup_bars") or 0)
    first = first if 0 <= first < len(curve) else 0
    times = tuple(datetime.fromtimestamp(ms / 1000, tz) for ms in curve.times[first:])
    equity = tuple(float(v) for v in curve.equity[first:])
    initial = _initial_capital(result) or equity[0]
    buy_hold = None
    closes = curve.close[first:]
    if closes and len(closes) == len(times) and closes[0]:
        base = float(closes[0])
        buy_hold = tuple(initial * float(c) / base for c in closes)
    return EquitySeries(times, equity, initial, "bars", buy_hold)


def equity_from_daily(dates: Sequence[str], returns: Sequence[float], initial: float,
                      tz: ZoneInfo, start: datetime | None = None,
                      bars: Bars | None = None) -> EquitySeries | None:
    """Equity at each day's end rebuilt from the daily returns the store keeps."""
    if not dates or initial <= 0:
        return None
    times: list[datetime] = []
    equity: list[float] = []
    if start is not None:
        times.append(start)
        equity.append(initial)
    value = initial
    for day, ret in zip(dates, returns, strict=True):
        value *= 1.0 + ret
        moment = datetime.combine(date.fromisoformat(day), time(23, 59), tz)
        if times and moment <= times[-1]:
            moment = times[-1] + timedelta(minutes=1)
        times.append(moment)
        equity.append(value)
    return EquitySeries(tuple(times), tuple(equity), initial, "daily",
                        buy_hold_at(bars, times, initial))


def equity_from_trades(result: BacktestResult, tz: ZoneInfo,
                       bars: Bars | None = None) -> EquitySeries | None:
    """Realised equity at each closed trade's exit (no equity curve kept)."""
    initial = _initial_capital(result)
    closed = sorted((t for t in result.trades if not t.open and t.exit_time is not None),
                    key=lambda t: (t.exit_time, t.number))
    if initial <= 0 or not closed:
        return None
    start = _trading_start(result, tz)
    times: list[datetime] = []
    equity: list[float] = []
    if start is not None:
        times.append(start)
        equity.append(initial)
    running = 0.0
    for trade in closed:
        running += trade.profit or 0.0
        assert trade.exit_time is not None
        times.append(_aware(trade.exit_time, tz))
        equity.append(initial + running)
    end = _trading_edge(result, tz, 1)
    if end is not None and end > times[-1]:
        times.append(end)
        equity.append(equity[-1])
    line = daily_buy_hold(bars, times[0], times[-1], initial, tz)
    return EquitySeries(tuple(times), tuple(equity), initial, "trades",
                        line[1] if line else None, line[0] if line else None)


def daily_buy_hold(bars: Bars | None, start: datetime, end: datetime, initial: float,
                   tz: ZoneInfo) -> tuple[tuple[datetime, ...], tuple[float, ...]] | None:
    """Buy & hold equity at each day's last bar from `start` to `end` (from the bars)."""
    if bars is None or not len(bars):
        return None
    import numpy as np

    lo = int(np.searchsorted(bars.times, int(start.timestamp() * 1000), side="left"))
    hi = int(np.searchsorted(bars.times, int(end.timestamp() * 1000), side="right"))
    if hi - lo < 2:
        return None
    stamps = bars.times[lo:hi]
    offset = start.utcoffset() or timedelta(0)
    days = (stamps + int(offset.total_seconds() * 1000)) // 86_400_000
    last = np.flatnonzero(np.diff(days) != 0)
    picks = np.concatenate(([0], last, [len(stamps) - 1])) if len(last) else \
        np.array([0, len(stamps) - 1])
    base = float(bars.open[lo]) or float(bars.close[lo])
    if not base:
        return None
    closes = bars.close[lo:hi][picks]
    times = tuple(datetime.fromtimestamp(int(stamps[i]) / 1000, tz) for i in picks)
    values = [float(initial * c / base) for c in closes]
    values[0] = initial  # bought at the first bar's open
    return times, tuple(values)


def buy_hold_at(bars: Bars | None, times: Sequence[datetime],
                initial: float) -> tuple[float, ...] | None:
    """Buy & hold equity at `times`: buy at the open of the first bar at or after `times[0]`."""
    if bars is None or not len(bars) or not times:
        return None
    import numpy as np

    stamps = np.array([int(t.timestamp() * 1000) for t in times], dtype=np.int64)
    first = int(np.searchsorted(bars.times, stamps[0], side="left"))
    if first >= len(bars):
        return None
    base = float(bars.open[first]) or float(bars.close[first])
    if not base:
        return None
    # The last bar opening at or before each time; before the first bar, the entry price.
    positions = np.searchsorted(bars.times, stamps, side="right") - 1
    closes = np.where(positions >= first, bars.close[np.clip(positions, 0, None)], base)
    return tuple(float(initial * c / base) for c in closes)


# --------------------------------------------------------------------------- builders


def _summary(row: TrialRow) -> TrialSummary:
    return TrialSummary(
        id=row.id, worker=row.worker, condition=row.condition, iteration=row.iteration,
        proposer=row.proposer, segment=row.segment, inputs=FrozenMap(row.inputs),
        metrics=FrozenMap(row.metrics), tag=row.tag, reasons=tuple(row.reasons),
        started_at=row.started_at, finished_at=row.finished_at, seconds=row.seconds,
        status=row.status, error=row.error, source_hash=row.source_hash)


def _load_bars(settings: Mapping[str, Any], timezone: str) -> Bars | None:
    """The run's market data for the buy & hold line; None when it cannot be read now."""
    request = settings.get("request") or {}
    path = request.get("data_path")
    if not path or not Path(path).is_file():
        return None
    from tvdesk.data.market_data import load_bars
    from tvdesk.errors import TvdeskError

    try:
        return load_bars(path, timezone=timezone)
    except (TvdeskError, OSError, ValueError):
        return None


def report_from_store(store: RunStore, run_id: str, *, top: int = 5,
                      robustness: Mapping[str, Any] | None = None,
                      load_prices: bool = True) -> ReportData:
    """Read one run into a report: every trial, the best `top` in full, the run's events.

    `robustness` defaults to the run-level statistics of the run's last `judged` event (none
    when the run was never judged). `load_prices=False` skips reading the run's market data
    (no buy & hold line).
    """
    info = store.get_run(run_id)
    settings = info.settings
    request = settings.get("request") or {}
    symbol = request.get("symbol") or {}
    timezone = str(symbol.get("timezone") or "UTC")
    tz = zone(timezone)
    trials = tuple(_summary(row) for row in store.trials(run_id))
    picked = pick_details(trials, max(int(top), 0))
    details: list[tuple[TrialSummary, BacktestResult]] = []
    for trial in picked:
        result = store.trial_result(trial.id)
        if result is not None:
            details.append((trial, result))
    first = details[0][1] if details else None
    props = first.properties if first is not None else FrozenMap()
    currency = str(props.get("currency") or symbol.get("currency") or "USD")
    bars = _load_bars(settings, timezone) if load_prices and details else None
    daily = store.daily_returns(run_id) if details else {}
    equity: dict[int, EquitySeries] = {}
    for trial, result in details:
        series = None
        if trial.id in daily:
            dates, returns = daily[trial.id]
            series = equity_from_daily(dates, returns, _initial_capital(result), tz,
                                       _trading_start(result, tz), bars)
        series = series or equity_from_trades(result, tz, bars)
        if series is not None:
            equity[trial.id] = series
    events = store.events(run_id)
    timeline = tuple(
        TimelineEvent(at=event.at, kind=event.kind, trial_id=event.payload.get("trial_id"),
                      condition=event.payload.get("condition"),
                      worker=event.payload.get("worker"), payload=FrozenMap(event.payload))
        for event in events)
    if robustness is None:
        judged = [e for e in events if e.kind == "judged"]
        found = judged[-1].payload.get("robustness") if judged else None
        robustness = found if isinstance(found, Mapping) else {}
    run = RunSummary(
        id=info.id, strategy_title=info.strategy_title, engine=info.engine,
        created_at=info.created_at, finished_at=info.finished_at, status=info.status,
        settings=FrozenMap(settings), timezone=timezone, currency=currency,
        kind="optimization", symbol=str(props.get("symbol") or symbol.get("ticker") or ""),
        timeframe=str(props.get("timeframe") or symbol.get("timeframe") or ""))
    return ReportData(run=run, trials=trials, details=tuple(details),
                      equity=FrozenMap(equity), robustness=FrozenMap(robustness or {}),
                      timeline=timeline)


def report_from_result(result: BacktestResult, *, title: str,
                       robustness: Mapping[str, Any] | None = None) -> ReportData:
    """One backtest (local, TradingView or an imported export) as a one-trial report."""
    props = result.properties
    timezone = str(props.get("timezone") or "UTC")
    tz = zone(timezone)
    now = datetime.now(UTC)
    inputs = props.get("inputs") or {}
    trial = TrialSummary(
        id=1, worker=0, condition=None, iteration=1, proposer="baseline", segment="in_sample",
        inputs=FrozenMap(inputs), metrics=FrozenMap(result.metrics), started_at=None,
        finished_at=None, status="done", source_hash=str(props.get("source_hash") or ""))
    series = equity_from_curve(result, tz) or equity_from_trades(result, tz)
    settings = {k: v for k, v in props.items() if k != "inputs"}
    run = RunSummary(
        id=None, strategy_title=title or str(props.get("strategy_title") or "Backtest"),
        engine=str(props.get("engine") or result.source), created_at=now, finished_at=now,
        status="finished", settings=FrozenMap(settings), timezone=timezone,
        currency=str(props.get("currency") or "USD"), kind="backtest",
        symbol=str(props.get("symbol") or ""), timeframe=str(props.get("timeframe") or ""))
    return ReportData(run=run, trials=(trial,), details=((trial, result),),
                      equity=FrozenMap({trial.id: series} if series else {}),
                      robustness=FrozenMap(robustness or {}), generated_at=now)
