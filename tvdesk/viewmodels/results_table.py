"""The results table of a run, without Qt: columns, cell text, sort order and filters.

One row per trial of a run. The GUI's table model only wraps a `ResultsTable` (it asks for a
cell's text, sorts through it, inserts the row it is told to), so everything here is plain
Python and tested without a display. It must stay fast with tens of thousands of trials:
cells are formatted on demand (only visible cells are ever asked for), sorting is one
`list.sort` with a key, and a trial arriving during a run is placed by binary search in the
current order instead of re-sorting.

Columns, in this order: trial id, the quality tag (reasons in its tooltip), the key metrics
(and the run's objective when it is not one of them), the holdout net profit % of the same
parameters (in-sample rows that were evaluated on the holdout), every input any trial set
(first-seen order; the condition input of a run with conditions is the Condition column
instead), then the bookkeeping: condition, segment, worker, iteration, proposer, status and
source (short hash). `default_visible` says which columns a view shows until the user chooses:
bookkeeping only where it tells trials apart (several conditions, a holdout, ...).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tvdesk.metric_catalog import METRICS, describe
from tvdesk.reports.html import TAG_COLOURS
from tvdesk.reports.labels import finite, format_value, is_number, label
from tvdesk.store import TrialRow
from tvdesk.viewmodels.formatting import format_input, input_steps

KEY_METRICS: tuple[str, ...] = (
    "net_profit_percent", "max_drawdown_percent", "profit_factor", "total_trades",
    "percent_profitable", "sharpe_ratio", "sharpe_daily",
)
"""The metrics the results table shows as columns, in this order (any metric can filter)."""

TABLE_HEADERS: dict[str, str] = {
    "max_drawdown_percent": "Max drawdown %",
    "percent_profitable": "Win rate %",
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
DEFAULT_OBJECTIVE = "net_profit_percent"
HEADER_WRAP = 10
"""Headers longer than this many characters are shown on two lines."""

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

    @property
    def ident(self) -> str:
        """A name that survives runs with other inputs (for remembering a column's choice)."""
        return f"{self.kind}:{self.key}"

    @property
    def bookkeeping(self) -> bool:
        return self.kind in BOOKKEEPING_KINDS

    @property
    def wrapped_header(self) -> str:
        return wrap_header(self.header)


def wrap_header(text: str, limit: int = HEADER_WRAP) -> str:
    """A long header on two lines, split at the space that makes the longer line shortest."""
    if len(text) <= limit or " " not in text:
        return text
    spaces = [i for i, char in enumerate(text) if char == " "]
    best = min(spaces, key=lambda i: (max(i, len(text) - i - 1), i))
    return f"{text[:best]}\n{text[best + 1:]}"


BOOKKEEPING_KINDS = frozenset({"segment", "condition", "worker", "iteration", "proposer",
                               "status", "source"})
_ID = Column("id", "id", "Trial", "The trial's id in the run store", True)
_TAG = Column("tag", "tag", "Tag", "Quality tag; the reasons are in each tooltip")
_HOLDOUT = Column(
    "holdout", HOLDOUT_METRIC, "Holdout net profit %",
    "Net profit % of the same source and inputs on the holdout (the last part of the data, "
    "never seen by the search)", True)
_BOOKKEEPING: tuple[Column, ...] = (
    Column("condition", "condition", "Condition", "The condition value (— : the script's own)"),
    Column("segment", "segment", "Segment",
           "in-sample: seen by the search; holdout: the last part of the data, run once"),
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


def metric_keys_shown(objective: str | None = None) -> tuple[str, ...]:
    """The metric columns: the key metrics, and the run's objective when it is another."""
    if objective and objective not in KEY_METRICS:
        return (*KEY_METRICS, objective)
    return KEY_METRICS


def input_column(name: str, numeric: bool) -> Column:
    return Column("input", name, name, f"Input “{name}”", numeric)


def columns_for(input_names: Sequence[str],
                numeric_inputs: frozenset[str] | set[str] = frozenset(),
                objective: str | None = None) -> list[Column]:
    """The table's columns; `numeric_inputs` are right-aligned (numbers, not On/Off)."""
    columns = [_ID, _TAG]
    columns += [Column("metric", key, TABLE_HEADERS.get(key, label(key)),
                       metric_tooltip(key) + (" · the run's objective" if key == objective
                                              else ""), True)
                for key in metric_keys_shown(objective)]
    columns.append(_HOLDOUT)
    columns += [input_column(name, name in numeric_inputs) for name in input_names]
    columns += _BOOKKEEPING
    return columns


@dataclass(frozen=True, slots=True)
class RunLayout:
    """What of a run's settings shapes its table.

    `condition_input` is None for a run without conditions (the script's own value is then an
    input like any other); `steps` are the inputs' search steps (values read to their
    decimals).
    """

    objective: str = DEFAULT_OBJECTIVE
    maximize: bool = True
    condition_input: str | None = None
    steps: Mapping[str, float] = field(default_factory=dict)


def run_layout(settings: Mapping[str, Any]) -> RunLayout:
    """The `RunLayout` of a run's stored settings (`RunStore.get_run(id).settings`)."""
    targets = settings.get("targets") or {}
    condition_input = None
    if settings.get("conditions"):
        condition_input = str(settings.get("condition_input") or "Condition")
    return RunLayout(objective=str(targets.get("objective") or DEFAULT_OBJECTIVE),
                     maximize=bool(targets.get("maximize", True)),
                     condition_input=condition_input, steps=input_steps(settings))


def inputs_text(inputs: Mapping[str, Any], steps: Mapping[str, float] | None = None) -> str:
    """A trial's inputs as "Name=value" lines (the clipboard's "Copy inputs"), values without
    float noise (1.2, not 1.2000000000000002)."""
    steps = steps or {}
    return "\n".join(f"{name}={format_input(value, steps.get(name))}"
                     for name, value in inputs.items())


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
        self.layout = RunLayout()
        self.trials: list[TrialRow] = []
        self.input_names: list[str] = []
        self.columns: list[Column] = columns_for((), objective=self.layout.objective)
        self.descending = False
        self._sort_on: tuple[str, str] | None = None  # (kind, key): survives new columns
        self._row_of: dict[int, int] = {}
        self._holdouts: dict[tuple[str | None, str], TrialRow] = {}
        self._in_sample_by_params: dict[tuple[str | None, str], set[int]] = {}
        self._metric_keys: set[str] = set()
        self._conditions: dict[str | None, None] = {}
        self._workers: set[int] = set()
        self._proposers: set[str] = set()
        self._sources: set[str] = set()
        self._not_done = 0
        self._has_holdout = False

    # ------------------------------------------------------------------ loading

    @property
    def objective(self) -> str:
        return self.layout.objective

    @property
    def maximize(self) -> bool:
        return self.layout.maximize

    @property
    def condition_input(self) -> str | None:
        return self.layout.condition_input

    def configure(self, layout: RunLayout) -> None:
        """The run's objective (a column, the sort on opening), its condition input (shown
        as the Condition column, not as an input) and input steps; takes effect at the next
        `load`."""
        self.layout = layout

    def sort_by_objective(self) -> None:
        """Best first by the run's objective (trials without it last); applies at `load` too."""
        self._sort_on = ("metric", self.objective)
        self.descending = self.maximize
        if any(c.kind == "metric" and c.key == self.objective for c in self.columns):
            self._sort_rows()
            self._reindex()

    def load(self, trials: Iterable[TrialRow]) -> None:
        """Replace every row (a run was opened or reloaded); the sort order is kept."""
        self.trials = sorted(trials, key=lambda t: t.id)
        names: dict[str, None] = {}
        not_numeric: set[str] = set()
        for trial in self.trials:
            for name, value in trial.inputs.items():
                if name == self.condition_input:
                    continue
                names.setdefault(name, None)
                if not is_number(value):
                    not_numeric.add(name)
        self.input_names = list(names)
        self.columns = columns_for(self.input_names, set(names) - not_numeric, self.objective)
        self._holdouts = {}
        self._in_sample_by_params = {}
        self._conditions = {}
        self._workers = set()
        self._proposers = set()
        self._sources = set()
        self._not_done = 0
        self._has_holdout = False
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
        self._proposers.add(trial.proposer)
        self._sources.add(trial.source_hash)
        self._has_holdout = self._has_holdout or trial.segment == "holdout"
        if trial.status != "done":
            self._not_done += 1

    def default_visible(self, column: Column) -> bool:
        """Shown until the user chooses: everything but bookkeeping that says nothing here
        (one condition, no holdout, one proposer, every trial done, one source version).
        Worker and iteration are hidden; the holdout column shows once a holdout ran."""
        kind = column.kind
        if kind == "condition":
            return len(self._conditions) > 1
        if kind in ("segment", "holdout"):
            return self._has_holdout
        if kind == "proposer":
            return len(self._proposers) > 1
        if kind == "source":
            return len(self._sources) > 1
        if kind == "status":
            return self._not_done > 0
        return kind not in ("worker", "iteration")

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
            return format_input(value, self.layout.steps.get(col.key))
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
        return [name for name in trial.inputs
                if name not in self.input_names and name != self.condition_input]

    def input_column_end(self) -> int:
        """The column position just after the last input column."""
        return self.columns.index(_HOLDOUT) + 1 + len(self.input_names)

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
        columns = [input_column(name, is_number(trial.inputs[name])) for name in names]
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
