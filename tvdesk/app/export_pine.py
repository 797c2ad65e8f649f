"""Ship a trial back to TradingView: its Pine version with the trial's inputs as defaults.

The written script, loaded on a chart with no input touched (or evaluated without `--input`),
trades exactly as the trial did: the trial's own source (an LLM rewrite when it came from one)
with every input the trial ran with - searched, fixed by the user, and the condition - written as
that input's default. Nothing else in the text changes. Before it is handed out, the result is
read back (every default must be the trial's value) and, for a run on the local engine,
transpiled and safety-checked again, so a script that would not load is never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tvdesk.errors import InputError, PineError
from tvdesk.fileio import write_text_atomically
from tvdesk.model import InputValue
from tvdesk.pine.input_defaults import input_calls, set_input_defaults
from tvdesk.store.records import TrialRow
from tvdesk.store.runstore import RunStore


@dataclass(frozen=True, slots=True)
class ExportedPine:
    """A trial's script, what changed in it and what the script alone cannot carry."""

    run_id: str
    trial_id: int
    pine: str
    changed: dict[str, tuple[str, str]]  # input -> (default before, default now), as written
    notes: tuple[str, ...]


def trial_values(trial: TrialRow, settings: dict[str, Any]) -> dict[str, InputValue]:
    """Every input value the trial ran with, the condition included (`settings`: its run's)."""
    from tvdesk.optimize.watchlist_trials import TIMEFRAME_KEY

    # A searched timeframe is the chart's, not an input of the script (see _chart_notes).
    values: dict[str, InputValue] = {k: v for k, v in trial.inputs.items()
                                     if k != TIMEFRAME_KEY}
    if trial.condition is not None:
        condition_input = str(settings.get("condition_input") or "Condition")
        values.setdefault(condition_input, _condition_value(trial.condition))
    return values


def _condition_value(text: str) -> InputValue:
    try:
        return int(text)
    except ValueError:
        return text


def _property_notes(settings: dict[str, Any]) -> tuple[str, ...]:
    """Strategy properties the run overrode: they live in TradingView's Properties tab, not in
    the script's inputs, so the trader has to set them there."""
    request = settings.get("request") or {}
    overrides = request.get("settings") or []
    pairs = overrides.items() if isinstance(overrides, dict) else overrides
    return tuple(f"the run backtested with {key}={value}, which the script's strategy() does "
                 "not say: set it in the strategy's Properties on TradingView"
                 for key, value in pairs)


def _chart_notes(trial: TrialRow, settings: dict[str, Any]) -> tuple[str, ...]:
    """A watchlist run's charts, and the timeframe a searched-timeframe trial ran on: they are
    the chart's settings on TradingView, not the script's."""
    from tvdesk.optimize.watchlist_trials import TIMEFRAME_KEY

    notes = []
    charts = settings.get("charts") or []
    timeframe = trial.inputs.get(TIMEFRAME_KEY)
    if charts:
        labels = [f"{c.get('symbol')} {c.get('timeframe')}" for c in charts
                  if timeframe is None or str(c.get("timeframe")) == str(timeframe)]
        notes.append(f"the trial was scored over the charts {', '.join(labels)} "
                     f"({settings.get('aggregate', 'median')} of their results)")
    if timeframe is not None:
        notes.append(f"the trial ran on the {timeframe} timeframe: set the chart to it")
    return tuple(notes)


def _defaults_as_written(pine: str) -> dict[str, str]:
    return {(c.title or c.variable or ""): c.default_text.strip() for c in input_calls(pine)}


def export_trial(store: RunStore, trial_id: int, *, run_id: str | None = None) -> ExportedPine:
    """The trial's script with its inputs as defaults; InputError for an unknown trial or one
    of another run, PineError when an input cannot be written into the text."""
    try:
        trial = store.trial(trial_id)
    except (KeyError, LookupError) as exc:
        raise InputError(f"--trial {trial_id}: no such trial in the run store") from exc
    if run_id is not None and trial.run_id != run_id:
        raise InputError(f"--trial {trial_id} belongs to run {trial.run_id}, not --run {run_id}")
    settings = store.get_run(trial.run_id).settings
    original = store.get_source(trial.source_hash)
    values = trial_values(trial, settings)
    try:
        pine = set_input_defaults(original, values)
    except PineError as exc:
        raise PineError(f"trial {trial_id}: {exc}") from None
    _check_read_back(pine, values, trial_id)
    if settings.get("engine", "local") == "local":
        from tvdesk.pine.loader import load_strategy_source

        load_strategy_source(pine, path=f"trial {trial_id}")
    before, after = _defaults_as_written(original), _defaults_as_written(pine)
    changed = {key: (before.get(key, ""), text) for key, text in after.items()
               if before.get(key) != text}
    notes = [*_chart_notes(trial, settings), *_property_notes(settings)]
    if trial.status != "done":
        notes.insert(0, f"trial {trial_id} is {trial.status}: it has no result to compare with")
    return ExportedPine(trial.run_id, trial_id, pine, changed, tuple(notes))


def _check_read_back(pine: str, values: dict[str, InputValue], trial_id: int) -> None:
    """Every default, read back from the written text, is the trial's value."""
    from tvdesk.pine.pine_inputs import strategy_from_text

    declared = {spec.title: spec.default for spec in strategy_from_text(pine).inputs}
    for key, value in values.items():
        if key in declared and not _equal(declared[key], value):
            raise PineError(f"trial {trial_id}: input '{key}' reads back as {declared[key]!r}, "
                            f"not {value!r}")


def _equal(read: Any, value: Any) -> bool:
    if isinstance(value, bool) or isinstance(read, bool):
        return read == value
    if isinstance(value, (int, float)) and isinstance(read, (int, float)):
        return float(read) == float(value)
    return str(read) == str(value)


def trial_pine(store: RunStore, trial_id: int) -> str:
    """Just the Pine text of `export_trial`."""
    return export_trial(store, trial_id).pine


def write_trial_pine(store_path: str | Path, trial_id: int, out: str | Path, *,
                     run_id: str | None = None) -> ExportedPine:
    """Export a trial of the store at `store_path` to `out` (written atomically)."""
    path = Path(store_path)
    with RunStore.open_for_reading(path) as store:
        exported = export_trial(store, trial_id, run_id=run_id)
    write_text_atomically(Path(out), exported.pine)
    return exported
