"""Trials side by side, without Qt: what the compare view shows.

`build_comparison(store, trial_ids)` reads the trials and gives a `Comparison`: a caption per
trial (condition, segment, tag), one `MetricRow` per metric with each trial's value and its
difference from the first trial (better or worse by the metric's direction), each trial's
equity curve (rebuilt as the trial view rebuilds it: the store keeps no equity curve) and
one `InputRow` per input, marked when the trials' values differ. `compare_trials` does the
same from rows already read (the tests, or a caller with its own rows).

Directions: the run's objective says so for its own metric; drawdowns, losses and costs are
better low (`tvdesk.viewmodels.surface.higher_is_better` plus the loss magnitudes);
counts and sizes that are neither good nor bad (trades, bars in a trade, capital) have no
direction and are not coloured.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tvdesk.errors import TvdeskError
from tvdesk.metric_catalog import BY_KEY, describe
from tvdesk.reports.data import zone
from tvdesk.reports.labels import finite, format_value, is_number, label, unit
from tvdesk.store import RunStore, TrialRow
from tvdesk.viewmodels.formatting import format_input, input_steps
from tvdesk.viewmodels.results_table import (
    DEFAULT_OBJECTIVE,
    SEGMENT_NAMES,
    condition_text,
    metric_order,
    metric_tooltip,
    tag_colour,
    tag_name,
)
from tvdesk.viewmodels.surface import higher_is_better
from tvdesk.viewmodels.trial_details import EquityPlot, equity_plot

PALETTE: tuple[str, ...] = ("#2962ff", "#ff9800", "#089981", "#e91e63", "#9c27b0", "#00bcd4",
                            "#795548", "#f23645", "#607d8b", "#cddc39")
"""One colour per compared trial (its curve, its caption), in order; repeats after ten."""

NEUTRAL: frozenset[str] = frozenset({
    "initial_capital", "total_trades", "total_open_trades", "winning_trades", "even_trades",
    "max_contracts_held", "avg_bars_in_trades", "avg_bars_in_winning_trades",
    "avg_bars_in_losing_trades", "buy_hold_return", "buy_hold_return_percent",
    "buy_hold_max_drawdown_percent", "exposure_percent", "trading_days", "track_periods",
    "trials", "n_trials", "open_pl", "open_pl_percent",
})
"""Metrics that are neither better high nor low: their differences are not coloured."""

LOWER_EXTRA: frozenset[str] = frozenset({
    "avg_losing_trade", "avg_losing_trade_percent", "largest_losing_trade",
    "largest_losing_trade_percent", "largest_win_share_percent",
})
"""Better low besides the surface's list: losses kept as positive magnitudes."""

MISSING = "—"


def direction(key: str, objective: str | None = None, maximize: bool = True) -> int:
    """+1 when a higher value is better, -1 when lower is, 0 when neither."""
    if objective is not None and key == objective:
        return 1 if maximize else -1
    if key in NEUTRAL:
        return 0
    if key in LOWER_EXTRA:
        return -1
    return 1 if higher_is_better(key) else -1


def is_side_variant(key: str) -> bool:
    """`net_profit_long`, `gross_loss_short_percent` ...: the long/short split of a metric."""
    if key in BY_KEY or describe(key) is None:
        return False
    base = key[: -len("_percent")] if key.endswith("_percent") else key
    return base.endswith(("_long", "_short"))


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True, slots=True)
class ComparedTrial:
    id: int
    run_id: str
    title: str
    """"Trial 12"."""
    caption: str
    """Condition, segment, tag and status in one line ("condition 1 · in-sample · GOOD")."""
    condition: str | None
    segment: str
    tag: str
    tag_colour: str
    colour: str
    """Its curve's and caption's colour."""
    equity: EquityPlot | None
    note: str = ""
    """Why there is no curve ("" when there is one)."""


@dataclass(frozen=True, slots=True)
class MetricRow:
    key: str
    label: str
    tooltip: str
    values: tuple[str, ...]
    """One cell per trial."""
    diffs: tuple[str, ...]
    """One cell per trial after the first: its difference from the first ("" if unknown)."""
    verdicts: tuple[int, ...]
    """One per trial after the first: +1 better than the first, -1 worse, 0 equal/neither."""


@dataclass(frozen=True, slots=True)
class InputRow:
    name: str
    values: tuple[str, ...]
    differs: bool


@dataclass(frozen=True, slots=True)
class Comparison:
    trials: tuple[ComparedTrial, ...]
    metrics: tuple[MetricRow, ...]
    inputs: tuple[InputRow, ...]
    currency: str = "USD"
    notes: tuple[str, ...] = field(default=())
    """What the reader must know: different conditions, segments or runs; unknown ids."""

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(t.id for t in self.trials)

    def metric_headers(self) -> tuple[str, ...]:
        first = self.trials[0].id if self.trials else 0
        return ("Metric", *(t.title for t in self.trials),
                *(f"Δ {t.id} vs {first}" for t in self.trials[1:]))

    def metric_table(self) -> tuple[tuple[str, ...], ...]:
        return tuple((row.label, *row.values, *row.diffs) for row in self.metrics)

    def shown_inputs(self, show_all: bool = False) -> tuple[InputRow, ...]:
        """Only the inputs whose values differ, unless `show_all`."""
        return self.inputs if show_all else tuple(r for r in self.inputs if r.differs)

    def input_headers(self) -> tuple[str, ...]:
        return ("Input", *(t.title for t in self.trials))

    @property
    def without_curve(self) -> tuple[ComparedTrial, ...]:
        return tuple(t for t in self.trials if t.equity is None)


# --------------------------------------------------------------------------- building


def _difference(key: str, first: Any, other: Any, currency: str,
                sense: int) -> tuple[str, int]:
    a, b = finite(first), finite(other)
    if a is None or b is None:
        return "", 0
    delta = b - a
    if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
        return "=", 0
    text = format_value(key, delta, currency)
    if unit(key) == "percent" and text.endswith(" %"):
        text = f"{text[:-2]} pp"  # percentage points, not a relative change
    if delta > 0 and not text.startswith("+"):
        text = f"+{text}"
    return text, (1 if delta > 0 else -1) * sense


def metric_keys(trials: Iterable[TrialRow], objective: str | None = None) -> list[str]:
    """Every metric with a number in some trial (no long/short splits), the key metrics
    first, the run's objective among the first."""
    keys: set[str] = set()
    for trial in trials:
        keys.update(k for k, v in trial.metrics.items() if is_number(v))
    ordered = sorted((k for k in keys if not is_side_variant(k)), key=metric_order)
    if objective in ordered:
        ordered.remove(objective)
        ordered.insert(0, objective)
    return ordered


def metric_rows(trials: Sequence[TrialRow], currency: str = "USD",
                objective: str | None = None, maximize: bool = True) -> tuple[MetricRow, ...]:
    rows = []
    for key in metric_keys(trials, objective):
        values = [trial.metrics.get(key) for trial in trials]
        sense = direction(key, objective, maximize)
        diffs = [_difference(key, values[0], value, currency, sense) for value in values[1:]]
        tip = metric_tooltip(key)
        if sense == 0:
            tip += "\nNeither better high nor low: differences are not coloured."
        rows.append(MetricRow(
            key=key, label=label(key), tooltip=tip,
            values=tuple(MISSING if finite(v) is None else format_value(key, v, currency)
                         for v in values),
            diffs=tuple(text for text, _v in diffs),
            verdicts=tuple(verdict for _t, verdict in diffs)))
    return tuple(rows)


def input_rows(trials: Sequence[TrialRow],
               steps: Mapping[str, float] | None = None) -> tuple[InputRow, ...]:
    """Every input any trial set (first-seen order), values without float noise, marked when
    they differ (as shown: 1.2 and 1.2000000000000002 are the same; an input one trial lacks
    differs)."""
    steps = steps or {}
    names: dict[str, None] = {}
    for trial in trials:
        names.update(dict.fromkeys(trial.inputs))
    rows = []
    for name in names:
        cells = tuple(format_input(trial.inputs[name], steps.get(name))
                      if name in trial.inputs else MISSING for trial in trials)
        kinds = {type(trial.inputs.get(name)) is bool for trial in trials}
        rows.append(InputRow(name=name, values=cells,
                             differs=len(set(cells)) > 1 or len(kinds) > 1))
    return tuple(rows)


def caption(trial: TrialRow) -> str:
    parts = [f"condition {condition_text(trial.condition)}",
             SEGMENT_NAMES.get(trial.segment, trial.segment), tag_name(trial.tag)]
    if trial.status != "done":
        parts.append(trial.status)
    return " · ".join(parts)


def _missing_curve_note(trial: TrialRow) -> str:
    if trial.status == "error":
        return f"Trial {trial.id} failed ({trial.error or 'no message'}): no equity to draw."
    if trial.status != "done":
        return f"Trial {trial.id} is {trial.status}: no equity to draw yet."
    return (f"Trial {trial.id}: the store kept no result or daily returns for it, so there is "
            "no equity curve to draw.")


def notes_for(trials: Sequence[TrialRow], unknown: Sequence[int] = ()) -> tuple[str, ...]:
    """What makes the comparison uneven: different conditions, segments or runs."""
    notes = []
    if len({t.condition for t in trials}) > 1:
        shown = ", ".join(f"{t.id}: {condition_text(t.condition)}" for t in trials)
        notes.append(f"Different conditions ({shown}): each condition is its own strategy.")
    if len({t.segment for t in trials}) > 1:
        shown = ", ".join(f"{t.id}: {SEGMENT_NAMES.get(t.segment, t.segment)}"
                          for t in trials)
        notes.append(f"Different segments ({shown}): measured on different parts of the data.")
    if len({t.run_id for t in trials}) > 1:
        notes.append("The trials come from different runs.")
    if len({t.source_hash for t in trials}) > 1:
        notes.append("The trials ran different versions of the source.")
    if unknown:
        notes.append(f"Not in this run store: {', '.join(f'trial {i}' for i in unknown)}.")
    return tuple(notes)


def compare_trials(trials: Sequence[TrialRow], equities: Mapping[int, EquityPlot | None],
                   *, currency: str = "USD", objective: str | None = DEFAULT_OBJECTIVE,
                   maximize: bool = True, unknown: Sequence[int] = (),
                   steps: Mapping[str, float] | None = None) -> Comparison:
    """The comparison of rows already read; `equities` maps a trial id to its curve."""
    compared = []
    for index, trial in enumerate(trials):
        equity = equities.get(trial.id)
        compared.append(ComparedTrial(
            id=trial.id, run_id=trial.run_id, title=f"Trial {trial.id}", caption=caption(trial),
            condition=trial.condition, segment=trial.segment, tag=tag_name(trial.tag),
            tag_colour=tag_colour(trial.tag), colour=PALETTE[index % len(PALETTE)],
            equity=equity, note="" if equity is not None else _missing_curve_note(trial)))
    return Comparison(
        trials=tuple(compared),
        metrics=metric_rows(trials, currency, objective, maximize),
        inputs=input_rows(trials, steps),
        currency=currency,
        notes=notes_for(trials, unknown))


def build_comparison(store: RunStore, trial_ids: Sequence[int]) -> Comparison:
    """Read the trials (unknown ids are named in the notes) and their equity curves.

    The objective, currency and timezone are the first trial's run's.
    """
    from tvdesk.viewmodels.trial_details import equity_series_for

    trials: list[TrialRow] = []
    unknown: list[int] = []
    for trial_id in dict.fromkeys(trial_ids):
        try:
            trials.append(store.trial(trial_id))
        except KeyError:
            unknown.append(trial_id)
    objective, maximize, currency = DEFAULT_OBJECTIVE, True, "USD"
    steps: dict[str, float] = {}
    equities: dict[int, EquityPlot | None] = {}
    settings_of: dict[str, Mapping[str, Any]] = {}
    for trial in trials:
        if trial.run_id not in settings_of:
            settings_of[trial.run_id] = store.get_run(trial.run_id).settings
        settings = settings_of[trial.run_id]
        symbol = (settings.get("request") or {}).get("symbol") or {}
        if trial is trials[0]:
            targets = settings.get("targets") or {}
            objective = str(targets.get("objective") or DEFAULT_OBJECTIVE)
            maximize = bool(targets.get("maximize", True))
            currency = str(symbol.get("currency") or "USD")
            steps = input_steps(settings)
        try:
            result = store.trial_result(trial.id)
            series = equity_series_for(store, trial, result, trial.metrics,
                                       zone(str(symbol.get("timezone") or "UTC")), None)
        except (KeyError, TvdeskError, ValueError, struct.error):
            series = None
        equities[trial.id] = equity_plot(series)
    return compare_trials(trials, equities, currency=currency, objective=objective,
                          maximize=maximize, unknown=unknown, steps=steps)


__all__ = ["PALETTE", "ComparedTrial", "Comparison", "InputRow", "MetricRow", "build_comparison",
           "compare_trials", "direction", "input_rows", "metric_keys", "metric_rows",
           "notes_for"]
