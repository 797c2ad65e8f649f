"""The builders of the report model: a stored run, or one backtest, as a `ReportData`.

They are the only part of the reports that reads the run store, the kept results and, for the
buy & hold line, the run's market data; every writer then works from the `ReportData` alone
(see `tvdesk.reports.data`). Which trials a report shows in full is decided here
(`pick_details`); their equity is rebuilt by `tvdesk.analytics.equity_rebuild`, the same code
the trial view uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from tvdesk.analytics.equity_rebuild import (
    EquitySeries,
    equity_from_curve,
    equity_from_trades,
    load_run_bars,
    trial_equity,
)
from tvdesk.model import BacktestResult, FrozenMap
from tvdesk.reports.data import (
    RANK_METRIC,
    ChartResult,
    ReportData,
    RunSummary,
    TimelineEvent,
    TrialSummary,
    ranked,
    same_parameters,
    zone,
)

if TYPE_CHECKING:
    from tvdesk.store import ChartRecord, RunStore, TrialRow


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
        ordered.extend(h for h in holdouts if same_parameters(h, trial))
    return ordered


def _summary(row: TrialRow) -> TrialSummary:
    return TrialSummary(
        id=row.id, worker=row.worker, condition=row.condition, iteration=row.iteration,
        proposer=row.proposer, segment=row.segment, inputs=FrozenMap(row.inputs),
        metrics=FrozenMap(row.metrics), tag=row.tag, reasons=tuple(row.reasons),
        started_at=row.started_at, finished_at=row.finished_at, seconds=row.seconds,
        status=row.status, error=row.error, source_hash=row.source_hash)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def chart_equity(record: ChartRecord, tz: ZoneInfo) -> EquitySeries | None:
    """A chart's kept (thinned) equity curve as a series in the report's timezone."""
    kept = record.equity or {}
    times = list(kept.get("times") or ())
    values = list(kept.get("equity") or ())
    count = min(len(times), len(values))
    pairs = [(t, _number(v)) for t, v in zip(times[:count], values[:count], strict=True)]
    points = [(datetime.fromtimestamp(int(t) / 1000, tz), v) for t, v in pairs
              if v is not None and isinstance(t, (int, float))]
    if len(points) < 2:
        return None
    result = record.result or {}
    props = result.get("properties") or {}
    initial = next((n for n in (_number(record.metrics.get("initial_capital")),
                                _number(props.get("initial_capital")),
                                _number((props.get("strategy_settings") or {})
                                        .get("initial_capital")))
                    if n is not None and n > 0), points[0][1])
    return EquitySeries(times=tuple(t for t, _ in points), equity=tuple(v for _, v in points),
                        initial_capital=initial, kind="bars")


def watchlist_of(settings: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    """A run's watchlist (chart labels, `Chart.label`) and aggregate from its stored
    settings; no charts for a one-chart run."""
    from tvdesk.data.charts import Chart

    labels = []
    for item in settings.get("charts") or ():
        try:
            labels.append(Chart.from_dict(item).label)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    aggregate = str(settings.get("aggregate") or "") if labels else ""
    return tuple(labels), aggregate


def chart_results(store: RunStore, trial_id: int, tz: ZoneInfo) -> tuple[ChartResult, ...]:
    """A watchlist trial's result on each chart, as the report shows it (equity in the
    chart's own timezone, `tz` when it states none)."""
    return tuple(ChartResult(label=record.label, metrics=FrozenMap(record.metrics),
                             equity=chart_equity(record, zone(str(timezone)) if (
                                 timezone := (record.chart or {}).get("timezone")) else tz))
                 for record in store.chart_results(trial_id))


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
    bars = load_run_bars(settings, timezone) if load_prices and details else None
    daily = store.daily_returns(run_id) if details else {}
    equity: dict[int, EquitySeries] = {}
    for trial, result in details:
        series = trial_equity(result, tz, daily=daily.get(trial.id), bars=bars)
        if series is not None:
            equity[trial.id] = series
    watchlist, aggregate = watchlist_of(settings)
    charts: dict[int, tuple[ChartResult, ...]] = {}
    if watchlist:
        for trial, _result in details:
            per_chart = chart_results(store, trial.id, tz)
            if per_chart:
                charts[trial.id] = per_chart
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
        timeframe=str(props.get("timeframe") or symbol.get("timeframe") or ""),
        watchlist=watchlist, aggregate=aggregate,
        timeframe_searched=bool(watchlist and settings.get("search_timeframe")))
    return ReportData(run=run, trials=trials, details=tuple(details),
                      equity=FrozenMap(equity), robustness=FrozenMap(robustness or {}),
                      timeline=timeline, charts=FrozenMap(charts))


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


__all__ = ["chart_equity", "chart_results", "pick_details", "report_from_result",
           "report_from_store", "watchlist_of"]
