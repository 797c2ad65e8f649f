"""A trial over a watchlist: one backtest per chart, side by side, judged as one.

Inputs that only work on one chart are the ones that fail live, so a watchlist run scores a
trial by an aggregate of its per-chart results (`median`, `min` = the worst chart, or `mean`)
and holds every target on every chart: a trial meets `max_drawdown <= 20` only when no chart's
drawdown exceeds 20 %. That is carried in the metrics as `chart_worst` (each constrained
metric's lowest and highest value across the charts), which `Constraint.violation` reads, so
the search's constraints, the best-trial choice and the tags all see the worst chart.

Besides every metric's aggregate, a trial's metrics gain the cross-chart evidence the quality
tags read: `charts`, `charts_profitable_percent` (the share of charts with a positive net
profit) and `chart_objective_dispersion` (the standard deviation of the objective across the
charts over the absolute value of its mean; 0 when every chart agrees).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tvdesk.analytics.returns import result_daily_returns
from tvdesk.data.charts import Chart
from tvdesk.engines.base import Engine
from tvdesk.errors import TvdeskError
from tvdesk.model import BacktestRequest, BacktestResult, EquityCurve, InputValue, Strategy
from tvdesk.store import ChartRecord

if TYPE_CHECKING:
    from tvdesk.optimize.settings import OptimizeSettings

Split = Callable[[BacktestRequest], tuple[BacktestRequest, BacktestRequest | None]]

TIMEFRAME_KEY = "Chart timeframe"
"""The searched "input" that picks a trial's timeframe (`search_timeframe`); never sent to the
engine, which runs the trial on the watchlist's charts of that timeframe only."""

Aggregate = Literal["median", "min", "mean"]
AGGREGATES: tuple[Aggregate, ...] = ("median", "min", "mean")
# Metrics where lower is better (so "min", the worst chart, takes their highest value).
_LOWER_WORDS = ("drawdown", "loss", "commission", "margin_calls", "account_size_required")
EQUITY_POINTS = 240  # per chart, kept for the Trial view's small equity curves


@dataclass(frozen=True, slots=True)
class ChartOutcome:
    chart: Chart
    result: BacktestResult


class ChartFailed(TvdeskError):
    """One chart of a watchlist trial failed; the message names the chart."""

    def __init__(self, chart: Chart, error: TvdeskError) -> None:
        super().__init__(f"{chart.label}: {error}")
        self.exit_code = error.exit_code


def lower_is_better(metric: str, objective: str | None = None, maximize: bool = True) -> bool:
    if objective is not None and metric == objective:
        return not maximize
    return any(word in metric for word in _LOWER_WORDS) and "ratio" not in metric


async def run_charts(engine: Engine,
                     pairs: Sequence[tuple[Chart, BacktestRequest]]) -> list[ChartOutcome]:
    """Every chart's request at once (the engine's workers or the cluster run them side by
    side); the first chart to fail fails the trial, naming the chart, and the rest are
    cancelled."""

    async def one(chart: Chart, request: BacktestRequest) -> ChartOutcome:
        try:
            return ChartOutcome(chart, await engine.run(request))
        except TvdeskError as exc:
            raise ChartFailed(chart, exc) from exc

    tasks = [asyncio.ensure_future(one(chart, request)) for chart, request in pairs]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def warm_up_for(engine: Engine, requests: Iterable[BacktestRequest]) -> None:
    """Start the engine's workers with every request's bars readable, when it has workers to
    start: a sandboxed worker reads only the files it was started with, so one start for the
    whole watchlist instead of a restart per chart."""
    warm = getattr(engine, "warm_up", None)
    if warm is not None:
        await warm(list(dict.fromkeys(f for r in requests for f in r.data_files())))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def aggregate_metrics(outcomes: Sequence[ChartOutcome], how: Aggregate, *, objective: str,
                      maximize: bool = True,
                      constrained: Iterable[str] = ()) -> dict[str, Any]:
    """One metrics document for the trial: each numeric metric's aggregate over the charts,
    the cross-chart evidence, and `chart_worst` for the targets (see the module docstring)."""
    per_chart = [dict(o.result.metrics) for o in outcomes]
    keys: dict[str, None] = {}
    for metrics in per_chart:
        keys.update(dict.fromkeys(k for k, v in metrics.items() if _number(v) is not None))
    out: dict[str, Any] = {}
    for key in keys:
        values = [v for m in per_chart if (v := _number(m.get(key))) is not None]
        if not values:
            continue
        if how == "mean":
            out[key] = float(np.mean(values))
        elif how == "min":
            out[key] = max(values) if lower_is_better(key, objective, maximize) else min(values)
        else:
            out[key] = float(np.median(values))
    for key, value in per_chart[0].items():  # the texts (currency, ...) of the first chart
        if key not in out and _number(value) is None and not isinstance(value, bool):
            out[key] = value
    nets = [_number(m.get("net_profit")) for m in per_chart]
    out["charts"] = len(outcomes)
    out["charts_profitable_percent"] = 100.0 * sum(1 for n in nets if n and n > 0) / len(nets)
    objectives = [v for m in per_chart if (v := _number(m.get(objective))) is not None]
    out["chart_objective_dispersion"] = dispersion(objectives)
    worst: dict[str, list[float]] = {}
    for key in {*constrained, objective}:
        values = [v for m in per_chart if (v := _number(m.get(key))) is not None]
        if len(values) == len(per_chart):  # a chart without it fails the constraint anyway
            worst[key] = [min(values), max(values)]
    out["chart_worst"] = worst
    return out


def dispersion(values: Sequence[float]) -> float | None:
    """Standard deviation over |mean| (None for fewer than two values or a zero mean)."""
    if len(values) < 2:
        return None
    mean = float(np.mean(values))
    if mean == 0:
        return None
    return float(np.std(values)) / abs(mean)


def portfolio_daily(outcomes: Sequence[ChartOutcome]) -> tuple[list[str], list[float]]:
    """The daily returns of an equal-weight portfolio of the charts (a chart not trading on
    a day contributes 0 that day): the calendar PBO and the deflated Sharpe ratio read."""
    by_day: dict[str, float] = {}
    for outcome in outcomes:
        days, returns = result_daily_returns(outcome.result)
        for day, value in zip(days, returns, strict=True):
            by_day[day] = by_day.get(day, 0.0) + value / len(outcomes)
    ordered = sorted(by_day)
    return ordered, [by_day[d] for d in ordered]


def summary_result(outcomes: Sequence[ChartOutcome], metrics: Mapping[str, Any],
                   how: Aggregate) -> BacktestResult:
    """The trial's own result document: the aggregate metrics and the charts it ran on (each
    chart's result is stored beside it, `RunStore.chart_results`)."""
    first = outcomes[0].result
    properties = {
        "watchlist": [o.chart.label for o in outcomes], "aggregate": how,
        "symbol": ", ".join(dict.fromkeys(o.chart.symbol for o in outcomes)),
        "timeframe": ", ".join(dict.fromkeys(o.chart.timeframe for o in outcomes)),
        "timezone": first.properties.get("timezone", "UTC"),
        "currency": first.properties.get("currency"),
    }
    warnings = tuple(f"{o.chart.label}: {w}" for o in outcomes for w in o.result.warnings)
    return BacktestResult(source=first.source, metrics=dict(metrics),  # type: ignore[arg-type]
                          properties=properties, warnings=warnings)  # type: ignore[arg-type]


def thin_equity(curve: EquityCurve, points: int = EQUITY_POINTS) -> EquityCurve:
    """At most `points` samples of an equity curve (the last bar always kept)."""
    n = len(curve.times)
    if n <= points:
        return EquityCurve(times=curve.times, equity=curve.equity)
    index = np.unique(np.r_[np.linspace(0, n - 1, points).astype(int), n - 1])
    return EquityCurve(times=tuple(curve.times[i] for i in index),
                       equity=tuple(curve.equity[i] for i in index))


class WatchlistTrial:
    """How the optimiser runs one trial on a watchlist: each chart's in-sample or holdout
    window, side by side, aggregated; its result, per-chart records and portfolio returns."""

    def __init__(self, settings: OptimizeSettings,
                 windows: Sequence[tuple[Chart, BacktestRequest, BacktestRequest | None]]) -> None:
        self.settings = settings
        self.windows = list(windows)

    @classmethod
    def for_settings(cls, settings: OptimizeSettings, split: Split) -> WatchlistTrial:
        return cls(settings, [(chart, *split(chart.request(settings.request)))
                              for chart in settings.charts])

    @property
    def has_holdout(self) -> bool:
        """Every chart keeps a holdout (a chart too short for one has none: then none do)."""
        return all(holdout is not None for _, _, holdout in self.windows)

    def searched_timeframes(self) -> tuple[str, ...]:
        """The timeframes the search picks from (`search_timeframe` with two or more)."""
        if not self.settings.search_timeframe:
            return ()
        frames = tuple(dict.fromkeys(chart.timeframe for chart, _, _ in self.windows))
        return frames if len(frames) > 1 else ()

    async def warm_up(self, engine: Engine) -> None:
        await warm_up_for(engine, [request for _, request, _ in self.windows])

    async def run(self, engine: Engine, strategy: Strategy, inputs: Mapping[str, InputValue],
                  *, holdout: bool) -> tuple[BacktestResult, list[ChartRecord],
                                             tuple[list[str], list[float]]]:
        timeframe = inputs.get(TIMEFRAME_KEY)
        engine_inputs = {k: v for k, v in inputs.items() if k != TIMEFRAME_KEY}
        pairs = []
        for chart, in_sample, kept_out in self.windows:
            if timeframe is not None and chart.timeframe != timeframe:
                continue
            request = kept_out if holdout and kept_out is not None else in_sample
            pairs.append((chart, replace(request, strategy=strategy).with_inputs(engine_inputs)))
        if not pairs:
            raise TvdeskError(f"no chart of the watchlist has timeframe {timeframe}")
        outcomes = await run_charts(engine, pairs)
        targets = self.settings.targets
        metrics = aggregate_metrics(outcomes, self.settings.aggregate,
                                    objective=targets.objective, maximize=targets.maximize,
                                    constrained=[c.metric for c in (*targets.constraints,
                                                                    *targets.potential)])
        records = [ChartRecord(label=o.chart.label, chart=o.chart.to_dict(),
                               metrics=dict(o.result.metrics),
                               result=o.result.to_dict(include_equity=False),
                               equity=thin_equity(o.result.equity_curve).to_dict())
                   for o in outcomes]
        return (summary_result(outcomes, metrics, self.settings.aggregate), records,
                portfolio_daily(outcomes))
