"""The results table of a run, without Qt: columns, cell text, sort order and filters.

One row per trial of a run. The GUI's table model only wraps a `ResultsTable` (it asks for a
cell's text, sorts through it, inserts the row it is told to), so everything here is plain
Python and tested without a display. It must stay fast with tens of thousands of trials:
cells are formatted on demand (only visible cells are ever asked for), sorting is one
`list.sort` with a key, and a trial arriving during a run is placed by binary search in the
current order instead of re-sorting.

Columns: trial id, segment, condition, worker, iteration, proposer, status, source (short
hash), every input any trial set (first-seen order), the key metrics, the holdout net profit %
of the same parameters (in-sample rows that were evaluated on the holdout), and the quality
tag (reasons in its tooltip).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tvdesk.metric_catalog import METRICS, describe
from tvdesk.reports.html import TAG_COLOURS
from tvdesk.reports.labels import finite, format_plain, format_value, is_number, label
from tvdesk.store import TrialRow

KEY_METRICS: tuple[str, ...] = (
    "net_profit_percent", "max_drawdown_percent", "total_trades", "percent_profitable",
    "profit_factor", "sharpe_ratio", "sharpe_daily",
)
"""The metrics the results table shows as columns, in this order (any metric can filter)."""

TABLE_HEADERS: dict[str, str] = {
    "max_drawdown_percent": "Max drawdown %",
    "sharpe_ratio": "Sharpe ratio (TradingView)",
    "sharpe_daily": "Sharpe daily (tvdesk)",
}
"""Shorter column names where the full label is long; the header tooltip has the full one."""

TAGS: tuple[str, ...] = ("GOOD", "NORMAL", "RISK", "OVERFIT")
UNTAGGED = "untagged"
TAG_ORDER = {name: index for index, name in enumerate((*TAGS, UNTAGGED))}
UNTAGGED_COLOUR = "#9598a1"
SEGMENT_NAMES = {"in_sample": "in-sample", "holdout": "holdout", "confirm": "confirm"}
HOLDOUT_METRIC = "net_profit_percent"

ColumnKind = Literal["id", "segment", "condition", "worker", "iteration", "proposer", "status",
                     "source", "input", "metric", "holdout", "tag"]
SortKey = tuple[int, Any]


def tag_name(tag: str | None) -> str:
    return tag or UNTAGGED


def tag_colour(tag: str | None) -> str:
    """The chip colour of a tag (the reports' palette)."""
    return TAG_COLOURS.get(tag_name(tag), UNTAGGED_COLOUR)


def condition_text(condition: str | None) -> str:
    return "—" if condition is None else condition


def short_hash(source_hash: str) -> str:
    return source_hash[:8]


def reasons_text(trial: TrialRow) -> str:
    """The tag with the reasons that produced it, one per line (a tooltip)."""
    name = tag_name(trial.tag)
    if not trial.reasons:
        return name if trial.tag else "not judged yet"
    return "\n".join([name, *(f"• {reason}" for reason in trial.reasons)])


@dataclass(frozen=True, slots=True)
class Column:
    kind: ColumnKind
    key: str
    header: str
    tooltip: str = ""
    numeric: bool = False


_FIXED: tuple[Column, ...] = (
    Column("id", "id", "Trial", "The trial's id in the run store", True),
    Column("segment", "segment", "Segment",
           "in-sample: seen by the search; holdout: the last part of the data, run once"),
    Column("condition", "condition", "Condition", "The condition value (— : the script's own)"),
    Column("worker", "worker", "Worker", "The worker that ran the trial (0: holdout)", True),
    Column("iteration", "iteration", "Iteration", "The track's iteration", True),
    Column("proposer", "proposer", "Proposer",
           "params: parameter search; llm: an LLM rewrite; baseline: the script as it is"),
    Column("status", "status", "Status", "done, error or pruned (running: in flight)"),
    Column("source", "source", "Source", "Short hash of the Pine source (lineage)"),
)


def metric_tooltip(key: str) -> str:
    definition = describe(key)
    if definition is None:
        return f"{label(key)}: one of tvdesk's own statistics, not TradingView's"
    return f"{label(key)} (TradingView): {definition.definition}"


def columns_for(input_names: Sequence[str],
                numeric_inputs: frozenset[str] | set[str] = frozenset()) -> list[Column]:
    """The table's columns; `numeric_inputs` are right-aligned (numbers, not On/Off)."""
    columns = list(_FIXED)
    columns += [Column("input", name, name, f"Input “{name}”", name in numeric_inputs)
                for name in input_names]
    columns += [Column("metric", key, TABLE_HEADERS.get(key, label(key)), metric_tooltip(key),
                       True) for key in KEY_METRICS]
    columns.append(Column(
        "holdout", HOLDOUT_METRIC, "Holdout net profit %",
        "Net profit % of the same source and inputs on the holdout (the last part of the data, "
        "never seen by the search)", True))
    columns.append(Column("tag", "tag", "Tag", "Quality tag; the reasons are in each tooltip"))
    return columns


# --------------------------------------------------------------------------- metric keys

_CATALOG_INDEX = {definition.key: index for index, definition in enumerate(METRICS)}


def metric_order(key: str) -> tuple[int, int, str]:
    """Key metrics first, then TradingView's catalog order, then tvdesk's own by name."""
    if key in KEY_METRICS:
        return (0, KEY_METRICS.index(key), key)
    definition = describe(key)
    if definition is not None:
        return (1, _CATALOG_INDEX[definition.key], key)
    return (2, 0, key)


def numeric_metric_keys(trials: Iterable[TrialRow]) -> set[str]:
    """Metric keys with a number in at least one trial (fast: each key is settled once)."""
    trials = list(trials)
    candidates: set[str] = set()
    for trial in trials:
        candidates.update(trial.metrics)
    found: set[str] = set()
    for trial in trials:
        pending = candidates - found
        if not pending:
            break
        metrics = trial.metrics
        found.update(k for k in pending if is_number(metrics.get(k)))
    return found


# --------------------------------------------------------------------------- filter


@dataclass(frozen=True, slots=True)
class TrialFilter:
    """Which trials the table shows; every field left None matches everything.

    `tag` is a tag name or "untagged". `conditions` is the set of allowed conditions (None in
    it: the script's own). A metric range only filters once a bound is set; a trial without a
    finite value of the metric is then hidden.
    """

    tag: str | None = None
    conditions: frozenset[str | None] | None = None
    worker: int | None = None
    segment: str | None = None
    source_hash: str | None = None
    metric: str | None = None
    low: float | None = None
    high: float | None = None

    def matches(self, trial: TrialRow) -> bool:
        if self.tag is not None and tag_name(trial.tag) != self.tag:
            return False
        if self.conditions is not None and trial.condition not in self.conditions:
            return False
        if self.worker is not None and trial.worker != self.worker:
            return False
        if self.segment is not None and trial.segment != self.segment:
            return False
        if self.source_hash is not None and trial.source_hash != self.source_hash:
            return False
        if self.metric is not None and (self.low is not None or self.high is not None):
            value = finite(trial.metrics.get(self.metric))
            if value is None:
                return False
            if self.low is not None and value < self.low:
                return False
            if self.high is not None and value > self.high:
                return False
        return True


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)
class Change:
    """What an added or updated trial does to the table.

    kind "insert": a new row at `row`; "update": the trial's row `row` changes in place.
    `rows` (from `upsert`) are the rows whose cells changed: the trial's own row for an
    update and, for a holdout trial, the in-sample rows whose holdout column it fills.
    """

    kind: Literal["insert", "update"]
    row: int = -1
    rows: tuple[int, ...] = ()


def _sort_number(value: Any) -> SortKey | None:
    if isinstance(value, bool):
        return (0, float(value))
    if isinstance(value, (int, float)):
        return (0, float(value)) if math.isfinite(value) else None
    if value is None:
        return None
    return (1, str(value).casefold())


class ResultsTable:
    """The rows (trials) of one run in display order, with their columns."""

    def __init__(self, currency: str = "USD") -> None:
        self.currency = currency
        self.trials: list[TrialRow] = []
        self.input_names: list[str] = []
        self.columns: list[Column] = columns_for(())
        self.descending = False
        self._sort_on: tuple[str, str] | None = None  # (kind, key): survives new columns
        self._row_of: dict[int, int] = {}
        self._holdouts: dict[tuple[str | None, str], TrialRow] = {}
        self._in_sample_by_params: dict[tuple[str | None, str], set[int]] = {}
        self._metric_keys: set[str] = set()
        self._conditions: dict[str | None, None] = {}
        self._workers: set[int] = set()

    # ------------------------------------------------------------------ loading

    def load(self, trials: Iterable[TrialRow]) -> None:
        """Replace every row (a run was opened or reloaded); the sort order is kept."""
        self.trials = sorted(trials, key=lambda t: t.id)
        names: dict[str, None] = {}
        not_numeric: set[str] = set()
        for trial in self.trials:
            for name, value in trial.inputs.items():
                names.setdefault(name, None)
                if not is_number(value):
                    not_numeric.add(name)
        self.input_names = list(names)
        self.columns = columns_for(self.input_names, set(names) - not_numeric)
        self._holdouts = {}
        self._in_sample_by_params = {}
        self._conditions = {}
        self._workers = set()
        for trial in self.trials:
            self._index(trial)
        self._metric_keys = numeric_metric_keys(self.trials)
        if self.sort_column is None:
            self._sort_on = None
        self._sort_rows()
        self._reindex()

    @property
    def sort_column(self) -> int | None:
        """The column the rows are sorted by (None: start order)."""
        if self._sort_on is None:
            return None
        for index, column in enumerate(self.columns):
            if (column.kind, column.key) == self._sort_on:
                return index
        return None

    def _index(self, trial: TrialRow) -> None:
        key = (trial.condition, trial.params_key)
        if trial.segment == "holdout":
            self._holdouts[key] = trial
        elif trial.segment == "in_sample":
            self._in_sample_by_params.setdefault(key, set()).add(trial.id)
        self._conditions.setdefault(trial.condition, None)
        self._workers.add(trial.worker)

    def _reindex(self) -> None:
        self._row_of = {trial.id: row for row, trial in enumerate(self.trials)}

    def __len__(self) -> int:
        return len(self.trials)

    def row_of(self, trial_id: int) -> int | None:
        return self._row_of.get(trial_id)

    def trial_at(self, row: int) -> TrialRow:
        return self.trials[row]

    # ------------------------------------------------------------------ cells

    def holdout_of(self, trial: TrialRow) -> TrialRow | None:
        if trial.segment != "in_sample":
            return None
        return self._holdouts.get((trial.condition, trial.params_key))

    def value(self, row: int, column: int) -> Any:
        """The raw value of a cell (numbers stay numbers)."""
        return self._value(self.trials[row], self.columns[column])

    def _value(self, trial: TrialRow, col: Column) -> Any:
        kind = col.kind
        if kind == "id":
            return trial.id
        if kind == "segment":
            return SEGMENT_NAMES.get(trial.segment, trial.segment)
        if kind == "condition":
            return trial.condition
        if kind == "worker":
            return trial.worker
        if kind == "iteration":
            return trial.iteration
        if kind == "proposer":
            return trial.proposer
        if kind == "status":
            return trial.status
        if kind == "source":
            return short_hash(trial.source_hash)
        if kind == "input":
            return trial.inputs.get(col.key)
        if kind == "metric":
            return trial.metrics.get(col.key)
        if kind == "holdout":
            holdout = self.holdout_of(trial)
            return None if holdout is None else holdout.metrics.get(col.key)
        return trial.tag

    def text(self, row: int, column: int) -> str:
        """A cell as the table shows it."""
        col = self.columns[column]
        value = self.value(row, column)
        if col.kind in ("metric", "holdout"):
            trial = self.trials[row]
            if value is None and (col.kind == "holdout" or trial.status != "done"):
                return ""
            return format_value(col.key, value, self.currency)
        if col.kind == "condition":
            return condition_text(value)
        if col.kind == "tag":
            return tag_name(value) if value else ""
        if col.kind == "input":
            return format_plain(value)
        return "" if value is None else str(value)

    def tooltip(self, row: int, column: int) -> str | None:
        trial = self.trials[row]
        col = self.columns[column]
        if col.kind == "tag":
            return reasons_text(trial)
        if col.kind == "status" and trial.error:
            return trial.error
        if col.kind == "source":
            return trial.source_hash
        if col.kind == "holdout":
            holdout = self.holdout_of(trial)
            return None if holdout is None else f"holdout trial {holdout.id}"
        return None

    def sort_key(self, row: int, column: int) -> SortKey | None:
        """A comparable key for a cell: numbers before text; None (missing) sorts last."""
        return self._sort_key(self.trials[row], column)

    def _sort_key(self, trial: TrialRow, column: int) -> SortKey | None:
        col = self.columns[column]
        if col.kind == "tag":
            return (0, TAG_ORDER.get(tag_name(trial.tag), len(TAG_ORDER)))
        if col.kind == "condition":
            return None if trial.condition is None else \
                _sort_number(_maybe_number(trial.condition))
        return _sort_number(self._value(trial, col))

    # ------------------------------------------------------------------ sorting

    def sort(self, column: int | None, descending: bool = False) -> None:
        """Order the rows by a column (numbers numerically); missing values always last.

        Equal values keep the trials' start order. None restores the start order.
        """
        self._sort_on = None if column is None else \
            (self.columns[column].kind, self.columns[column].key)
        self.descending = descending
        self._sort_rows()
        self._reindex()

    def _sort_rows(self) -> None:
        self.trials.sort(key=lambda t: t.id)
        column = self.sort_column
        if column is None:
            return
        keyed = [(self._sort_key(trial, column), trial) for trial in self.trials]
        present = [(key, trial) for key, trial in keyed if key is not None]
        missing = [trial for key, trial in keyed if key is None]
        present.sort(key=lambda pair: pair[0], reverse=self.descending)
        self.trials = [trial for _key, trial in present] + missing

    def _insert_position(self, trial: TrialRow) -> int:
        """Where a new trial goes in the current order (after its equals)."""
        column = self.sort_column
        if column is None:
            return _bisect(len(self.trials), lambda i: self.trials[i].id > trial.id)
        key = self._sort_key(trial, column)
        if key is None:
            return len(self.trials)

        def after(i: int) -> bool:  # True when the new trial goes before row i
            other = self.sort_key(i, column)
            if other is None:
                return True
            return key > other if self.descending else key < other

        return _bisect(len(self.trials), after)

    # ------------------------------------------------------------------ live updates

    def new_inputs(self, trial: TrialRow) -> list[str]:
        """Inputs this trial sets that no row had (an LLM rewrite may declare new ones)."""
        return [name for name in trial.inputs if name not in self.input_names]

    def input_column_end(self) -> int:
        """The column position just after the last input column."""
        return len(_FIXED) + len(self.input_names)

    def add_inputs(self, trial: TrialRow) -> tuple[int, int] | None:
        """Add columns for the trial's new inputs, after the other inputs.

        Returns the (first, last) column positions added (None when there were none), for
        the view to announce as inserted columns.
        """
        names = self.new_inputs(trial)
        if not names:
            return None
        first = self.input_column_end()
        self.input_names.extend(names)
        columns = [Column("input", name, name, f"Input “{name}”", is_number(trial.inputs[name]))
                   for name in names]
        self.columns[first:first] = columns
        return first, first + len(names) - 1

    def placement(self, trial: TrialRow) -> Change:
        """Where a trial that finished during the run goes; nothing changes yet.

        Call `apply` with the answer after telling the view (Qt wants to hear of an insert
        before it happens). Add the trial's new inputs (`add_inputs`) first.
        """
        existing = self._row_of.get(trial.id)
        if existing is not None:
            return Change("update", existing)
        return Change("insert", self._insert_position(trial))

    def apply(self, trial: TrialRow, change: Change) -> tuple[int, ...]:
        """Put the trial where `placement` said; returns the rows whose cells changed.

        Those are the trial's own row (for an update) and, for a holdout trial, the in-sample
        rows of the same parameters, whose holdout column it fills.
        """
        self._metric_keys.update(k for k, v in trial.metrics.items() if is_number(v))
        self._index(trial)
        if change.kind == "update":
            self.trials[change.row] = trial
            changed = [change.row]
        else:
            self.trials.insert(change.row, trial)
            self._reindex()
            changed = []
        if trial.segment == "holdout":
            for trial_id in self._in_sample_by_params.get((trial.condition, trial.params_key),
                                                          ()):
                row = self._row_of.get(trial_id)
                if row is not None:
                    changed.append(row)
        return tuple(changed)

    def upsert(self, trial: TrialRow) -> Change:
        """`add_inputs`, `placement` and `apply` in one step (no view to tell)."""
        self.add_inputs(trial)
        change = self.placement(trial)
        rows = self.apply(trial, change)
        return Change(change.kind, change.row, rows)

    def set_tags(self, trials: Iterable[TrialRow]) -> list[int]:
        """Take the tags and reasons of judged trials; returns the rows that changed."""
        changed: list[int] = []
        for trial in trials:
            row = self._row_of.get(trial.id)
            if row is None:
                continue
            current = self.trials[row]
            if current.tag != trial.tag or current.reasons != trial.reasons:
                self.trials[row] = trial
                changed.append(row)
                if trial.segment == "holdout":
                    self._holdouts[(trial.condition, trial.params_key)] = trial
        return changed

    # ------------------------------------------------------------------ filter choices

    def metric_keys(self) -> list[str]:
        """Every numeric metric some trial has, key metrics first (the range filter's list)."""
        return sorted(self._metric_keys, key=metric_order)

    def conditions(self) -> list[str | None]:
        return list(self._conditions)

    def workers(self) -> list[int]:
        return sorted(self._workers)

    def tags(self) -> list[str]:
        present = {tag_name(t.tag) for t in self.trials}
        return [name for name in (*TAGS, UNTAGGED) if name in present]

    def metric_bounds(self, key: str) -> tuple[float, float] | None:
        values = [v for v in (finite(t.metrics.get(key)) for t in self.trials) if v is not None]
        return (min(values), max(values)) if values else None

    def count(self, flt: TrialFilter) -> int:
        return sum(1 for trial in self.trials if flt.matches(trial))


def _maybe_number(text: str) -> Any:
    """Condition values are text; "15" sorts before "120" as a number does."""
    try:
        return float(text)
    except ValueError:
        return text


def _bisect(size: int, goes_before: Any) -> int:
    """The first index i in [0, size) where goes_before(i) is True (size when none)."""
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        if goes_before(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo
