"""The one pure-data model every report writer reads: what was run, its trials, their equity.

Writers (text, workbook, charts, HTML, CSV) only see a `ReportData`: they never open the run
store or a data file, so a report can be written from anything that builds one (a run in the
store, a single backtest, a synthetic benchmark). The builders that fill it from the store or a
result live in `tvdesk.reports.builders`; this module holds only the dataclasses and the small
rules they answer questions with (ranking, which holdout belongs to which trial).

Equity series (`EquitySeries`) are defined with the code that rebuilds them,
`tvdesk.analytics.equity_rebuild`, because the trial view rebuilds them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tvdesk.analytics.equity_rebuild import EquitySeries
from tvdesk.model import BacktestResult, FrozenMap

RANK_METRIC = "net_profit_percent"
"""The metric that picks the best trials of a report."""
AGGREGATE_TEXT = {"median": "the median over the charts",
                  "min": "the worst chart's value (min; max for lower-is-better metrics)",
                  "mean": "the mean over the charts"}
"""How a watchlist trial's metrics were made from its charts', by the run's aggregate."""


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
    watchlist: tuple[str, ...] = ()
    """A watchlist run's charts ("FX:EURUSD 60", ...), in its order; empty for one chart."""
    aggregate: str = ""
    """How a watchlist trial's metrics combine its charts' ("median", "min", "mean")."""
    timeframe_searched: bool = False
    """A watchlist run whose search picks each trial's timeframe (its charts of that one)."""

    @property
    def is_watchlist(self) -> bool:
        return bool(self.watchlist)

    def watchlist_text(self, lead: str = "Watchlist run on ") -> str:
        """One line saying it is a watchlist run: its charts and how they are aggregated."""
        if not self.watchlist:
            return ""
        count = len(self.watchlist)
        how = AGGREGATE_TEXT.get(self.aggregate, self.aggregate or "an aggregate")
        searched = ("; the search picks each trial's timeframe and runs it on that "
                    "timeframe's charts" if self.timeframe_searched else "")
        return (f"{lead}{count} chart{'s' if count != 1 else ''}: "
                f"{', '.join(self.watchlist)}; each trial's metrics are {how}{searched}")


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
class ChartResult:
    """A watchlist trial's result on one of its charts: label ("FX:EURUSD 60"), metrics and
    the (thinned) equity the optimiser kept for it."""

    label: str
    metrics: Mapping[str, Any]
    equity: EquitySeries | None = None


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
    detailed trial's id to its equity series. `charts` maps a detailed trial of a watchlist
    run to its result on each chart (empty for one-chart runs). `robustness` holds run-level
    statistics (PBO, DSR ...) under any keys; reports show whatever is there, labelled.
    """

    run: RunSummary
    trials: tuple[TrialSummary, ...]
    details: tuple[tuple[TrialSummary, BacktestResult], ...] = ()
    equity: Mapping[int, EquitySeries] = field(default_factory=FrozenMap)
    robustness: Mapping[str, Any] = field(default_factory=FrozenMap)
    timeline: tuple[TimelineEvent, ...] = ()
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rank_metric: str = RANK_METRIC
    charts: Mapping[int, tuple[ChartResult, ...]] = field(default_factory=FrozenMap)

    def chart_results(self, trial: TrialSummary | int) -> tuple[ChartResult, ...]:
        """A detailed watchlist trial's per-chart results (empty for any other trial)."""
        return self.charts.get(trial if isinstance(trial, int) else trial.id, ())

    def chart_table(self, trial: TrialSummary | int) -> list[list[str]]:
        """The per-chart rows of a detailed watchlist trial as every tvdesk shell shows them
        (`tvdesk.reports.chart_table.chart_rows`, as `tvdesk.viewmodels.watchlist`)."""
        from tvdesk.reports.chart_table import chart_rows

        return chart_rows([(c.label, c.metrics) for c in self.chart_results(trial)])

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
        """The holdout trial run with the same source and inputs as `trial`, if any (a
        finished one before one that failed)."""
        twins = [o for o in self.trials if o.segment == "holdout" and same_parameters(o, trial)]
        return next((o for o in twins if o.status == "done"), twins[0] if twins else None)

    def in_sample_of(self, holdout: TrialSummary) -> TrialSummary | None:
        """The in-sample trial a holdout trial checked (same condition, source and inputs)."""
        return next((o for o in self.trials
                     if o.segment == "in_sample" and same_parameters(o, holdout)), None)

    def headline_by_condition(self) -> dict[str | None, TrialSummary]:
        """The trial each condition's card (HTML) and paragraph (text) show.

        The optimiser runs the holdout only for its own pick of a condition (its best by the
        objective within the targets), which need not be the trial with the highest rank
        metric: that one may have failed a target. A card without the out-of-sample result
        hides the one check that tells a fit from a fluke, so the checked trial is shown when
        there is one; otherwise the condition's best by the rank metric.
        """
        headline = self.best_by_condition()
        for trial in ranked(self.in_sample(), self.rank_metric):
            current = headline.get(trial.condition)
            has_check = self._checked(trial)
            if has_check and (current is None or not self._checked(current)):
                headline[trial.condition] = trial
        return headline

    def _checked(self, trial: TrialSummary) -> bool:
        check = self.holdout_of(trial)
        return check is not None and check.status == "done"

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

    def trials_by_tag(self) -> dict[str, list[TrialSummary]]:
        """The trials each tag was given to: the one grouping every count of tags uses."""
        return trials_by_tag(self.trials)

    def tag_counts(self) -> dict[str, int]:
        """How many trials have each tag ("untagged": none), counted by `trials_by_tag`."""
        return {tag: len(group) for tag, group in self.trials_by_tag().items()}

    def robustness_items(self) -> list[tuple[str, Any]]:
        """The run statistics as a report shows them: the trials-by-tag figure is counted from
        the trials (`tag_counts`) instead of copied from the stored judgement, so it can
        never disagree with the report's Tags section (a run re-tagged after it was judged,
        or a holdout row counted twice, would make the two differ)."""
        items = []
        for key, value in self.robustness.items():
            if key == "tags":
                value = self.tag_counts()
            items.append((key, value))
        return items

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trial in self.trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document of the report (used when no snapshot is supplied)."""
        from tvdesk.model import _jsonable

        run = self.run
        watchlist = ({"watchlist": list(run.watchlist), "aggregate": run.aggregate}
                     if run.is_watchlist else {})

        def detail(trial: TrialSummary, result: BacktestResult) -> dict[str, Any]:
            item: dict[str, Any] = {"trial_id": trial.id,
                                    "result": result.to_dict(include_equity=False)}
            if self.chart_results(trial):
                item["charts"] = [{"label": c.label, "metrics": c.metrics}
                                  for c in self.chart_results(trial)]
            return item

        return _jsonable({
            "format": "tvdesk.report",
            "generated_at": self.generated_at,
            "run": {
                "id": run.id, "strategy_title": run.strategy_title, "engine": run.engine,
                "created_at": run.created_at, "finished_at": run.finished_at,
                "status": run.status, "kind": run.kind, "timezone": run.timezone,
                "currency": run.currency, "settings": run.settings, **watchlist,
            },
            "trials": [{
                "id": t.id, "worker": t.worker, "condition": t.condition,
                "iteration": t.iteration, "proposer": t.proposer, "segment": t.segment,
                "status": t.status, "inputs": t.inputs, "metrics": t.metrics, "tag": t.tag,
                "reasons": list(t.reasons), "error": t.error, "started_at": t.started_at,
                "finished_at": t.finished_at, "seconds": t.seconds,
            } for t in self.trials],
            "details": [detail(t, r) for t, r in self.details],
            "robustness": self.robustness,
        })


# --------------------------------------------------------------------------- helpers


def zone(name: str) -> ZoneInfo:
    """The timezone of that name; UTC when the name is empty or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def ranked(trials: Iterable[TrialSummary], metric: str = RANK_METRIC) -> list[TrialSummary]:
    """Finished trials with the metric, best first; ties go to the earlier trial."""
    usable = [t for t in trials if t.status == "done" and t.metric(metric) is not None]
    return sorted(usable, key=lambda t: (-(t.metric(metric) or 0.0), t.id))


def trials_by_tag(trials: Iterable[TrialSummary]) -> dict[str, list[TrialSummary]]:
    """In-sample trials grouped by tag ("untagged": none), in first-seen order.

    Every verdict is counted once: a holdout row carries the tag and reasons of the trial it
    checked, so counting it too would show one OVERFIT trial as two. The run's judgement
    (`robustness["tags"]`) counts the same way.
    """
    groups: dict[str, list[TrialSummary]] = {}
    for trial in trials:
        if trial.segment == "in_sample":
            groups.setdefault(trial.tag or "untagged", []).append(trial)
    return groups


def same_parameters(a: TrialSummary, b: TrialSummary) -> bool:
    """Run with the same condition, inputs and source: a holdout trial and its in-sample twin."""
    return (a.condition == b.condition and dict(a.inputs) == dict(b.inputs)
            and a.source_hash == b.source_hash)


__all__ = [
    "RANK_METRIC",
    "ChartResult",
    "EquitySeries",
    "ReportData",
    "RunSummary",
    "TimelineEvent",
    "TrialSummary",
    "ranked",
    "same_parameters",
    "trials_by_tag",
    "zone",
]
