"""The parameter surface of a run: one metric over two inputs, as a grid. Pure data, no Qt.

The GUI's Surface view and the report's parameter heatmap share how a grid's axes are made:
which inputs make the default pair (`numeric_inputs`: the two with the most distinct values)
and how an axis of many values is binned (`axis_bins`) are decided once, in
`tvdesk.analytics.input_axes`, below both (the report does not import this module).

A surface (`compute_surface`) puts every finished in-sample trial in the cell of its two
input values. What a cell shows depends on how the *other* inputs are treated:

- `at_best`: only trials whose other inputs (and Pine source) equal the chosen trial's, so the
  grid is a true slice through the chosen point; the best such trial of the cell;
- `best_of`: every trial, the best value of the cell (the envelope over the other inputs);
- `median_of`: every trial, the median value of the cell.

A run of several conditions (tracks) searched each condition on its own: the view shows one
condition at a time (`SurfaceData.points_of`), with that track's chosen trial
(`SurfaceData.best_for`). An integer input binned past `MAX_CATEGORIES` values gets whole-number
bins ("5–20", not "5–29.6"; `integer_bins`).

"Best" follows the metric's direction (`higher_is_better`: drawdowns are better low). Each
cell also carries the trial it opens (its best trial) and its neighbourhood stability: the
median of the up to 8 adjacent non-empty cells divided by the cell — the grid version of
`tvdesk.analytics.robustness.parameter_stability`, with the same rule that the ratio is
undefined (NaN) when the cell is not positive or has no neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tvdesk.analytics.input_axes import (
    axis_bins,
    integer_bins,
    is_number,
    numeric_inputs,
)
from tvdesk.viewmodels.formatting import input_steps

if TYPE_CHECKING:
    from tvdesk.store import RunStore

Mode = Literal["at_best", "best_of", "median_of"]
MODES: tuple[Mode, ...] = ("at_best", "best_of", "median_of")
MODE_LABELS: dict[Mode, str] = {"at_best": "at best", "best_of": "best of",
                                "median_of": "median of"}

PREFERRED_METRICS: tuple[str, ...] = (
    "net_profit_percent", "max_drawdown_percent", "profit_factor", "sharpe_ratio",
    "sortino_ratio", "total_trades", "percent_profitable", "avg_trade_percent",
    "ratio_avg_win_loss", "sharpe_daily", "sortino_daily", "calmar", "recovery_factor",
    "cagr_percent", "net_profit", "max_drawdown",
)
"""The metrics a person looks at first, in this order; every other numeric metric follows."""

LOWER_IS_BETTER: frozenset[str] = frozenset({
    "max_drawdown", "max_drawdown_percent", "max_drawdown_close_to_close",
    "max_drawdown_close_to_close_percent", "max_drawdown_duration_close_to_close_days",
    "max_drawdown_of_initial_capital", "avg_drawdown_close_to_close",
    "avg_drawdown_close_to_close_percent", "avg_drawdown_duration_close_to_close_days",
    "mc_drawdown_percent", "commission_paid", "gross_loss", "gross_loss_percent",
    "losing_trades", "margin_calls", "largest_loss_percent_of_equity",
    "account_size_required", "pbo",
})


def _finite(value: Any) -> float | None:
    if not is_number(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _same(a: Any, b: Any) -> bool:
    if is_number(a) and is_number(b):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return type(a) is type(b) and bool(a == b)


def higher_is_better(metric: str, *, objective: str | None = None,
                     maximize: bool = True) -> bool:
    """The direction of a metric: the run's own objective says so, drawdowns and losses are
    better low, everything else high."""
    if objective is not None and metric == objective:
        return maximize
    return metric not in LOWER_IS_BETTER


# --------------------------------------------------------------------------- inputs and axes


def default_pair(inputs: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
    """The report's pair: the two numeric inputs with the most distinct values (≥ 2 each)."""
    names = [name for name, count in numeric_inputs(inputs) if count >= 2]
    return (names[0], names[1]) if len(names) >= 2 else None


def varying_inputs(inputs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every input that takes at least two values: numeric ones first (most distinct first),
    then the others (bools, choices) in first-seen order."""
    numeric = [name for name, count in numeric_inputs(inputs) if count >= 2]
    seen: dict[str, set[str]] = {}
    for row in inputs:
        for name, value in row.items():
            seen.setdefault(name, set()).add(repr(value))
    others = [name for name, values in seen.items() if name not in numeric and len(values) >= 2]
    return numeric + others


@dataclass(frozen=True, slots=True)
class Axis:
    """One side of the grid: the input, its cells' labels, and which cell a value falls in."""

    name: str
    labels: list[str]
    numeric: bool
    index: Callable[[Any], int] = field(repr=False)
    integer: bool = False
    """Every value is a whole number (an `input.int`): a chart's ticks should be too."""

    def __len__(self) -> int:
        return len(self.labels)

    def cell(self, value: Any) -> int | None:
        """The cell of a value, or None when the value is not on this axis."""
        try:
            return self.index(float(value) if self.numeric else _category_key(value))
        except (KeyError, TypeError, ValueError):
            return None


def _category_key(value: Any) -> str:
    return repr(value)


def _category_label(value: Any) -> str:
    if isinstance(value, bool):
        return "On" if value else "Off"
    return f"{value:g}" if is_number(value) else str(value)


def make_axis(name: str, values: Sequence[Any]) -> Axis:
    """An axis over the values an input took: numeric (binned past MAX_CATEGORIES; integer
    inputs on whole-number bins) or categorical (bools Off/On, choices in sorted order)."""
    present = [v for v in values if v is not None]
    if present and all(is_number(v) and math.isfinite(float(v)) for v in present):
        numbers = [float(v) for v in present]
        integer = all(v.is_integer() for v in numbers)
        position, labels = axis_bins(numbers)  # whole-number bins for integer inputs
        return Axis(name, labels, True, position, integer)
    distinct = sorted({_category_key(v): v for v in present}.items(),
                      key=lambda kv: (str(type(kv[1])), str(kv[1])))
    index = {key: i for i, (key, _v) in enumerate(distinct)}
    return Axis(name, [_category_label(v) for _k, v in distinct], False, index.__getitem__)


# --------------------------------------------------------------------------- points, metrics


@dataclass(frozen=True, slots=True)
class Point:
    """One finished in-sample trial as the surface needs it."""

    trial_id: int
    inputs: Mapping[str, Any]
    metrics: Mapping[str, Any]
    source_hash: str = ""
    condition: str | None = None
    """The track (condition) the trial ran in; None for a run of one track."""

    def value(self, metric: str) -> float | None:
        return _finite(self.metrics.get(metric))


def metric_choices(points: Sequence[Point]) -> list[str]:
    """Metrics that some trial has as a number: the usual ones first, then the rest sorted."""
    present: set[str] = set()
    for point in points:
        present.update(k for k, v in point.metrics.items() if _finite(v) is not None)
    first = [m for m in PREFERRED_METRICS if m in present]
    return first + sorted(present - set(first))


def _others_equal(point: Point, best: Point, skip: tuple[str, ...]) -> bool:
    if point.source_hash != best.source_hash:
        return False
    keys = set(point.inputs) | set(best.inputs)
    return all(_same(point.inputs.get(k), best.inputs.get(k)) for k in keys if k not in skip)


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True, slots=True)
class Surface:
    """A metric over two inputs. Matrices are indexed [row, column] = [y cell, x cell]."""

    x: Axis
    y: Axis
    metric: str
    mode: Mode
    higher_better: bool
    values: np.ndarray
    """The cell's value (NaN: no trial)."""
    counts: np.ndarray
    """How many trials stand behind each cell's value."""
    trial_ids: np.ndarray
    """The cell's best trial (what double-clicking it opens), -1 when empty."""
    stability: np.ndarray
    """Median of the adjacent non-empty cells / the cell; NaN when undefined."""
    best_cell: tuple[int, int] | None
    """(row, column) of the chosen trial, None when it has no cell (or no metric)."""
    best_trial: int | None
    fixed: dict[str, Any]
    """In `at_best` mode: the other inputs, held at the chosen trial's values."""

    @property
    def empty(self) -> bool:
        return not np.isfinite(self.values).any()

    def cell_text(self, row: int, col: int) -> str:
        """What a tooltip says about one cell."""
        value = self.values[row, col]
        where = f"{self.x.name} = {self.x.labels[col]}, {self.y.name} = {self.y.labels[row]}"
        if not math.isfinite(value):
            return f"{where}\nno trial"
        what = {"at_best": "", "best_of": "best of ", "median_of": "median of "}[self.mode]
        count = int(self.counts[row, col])
        lines = [where, f"{self.metric}: {value:,.4g} ({what}{count} trial"
                        f"{'s' if count != 1 else ''})"]
        ratio = self.stability[row, col]
        lines.append(f"stability (neighbours' median / cell): "
                     f"{ratio:.2f}" if math.isfinite(ratio) else
                     "stability: n/a (cell ≤ 0 or no neighbours)")
        if self.trial_ids[row, col] >= 0:
            chosen = " — the chosen trial" if (row, col) == self.best_cell else ""
            lines.append(f"best trial #{int(self.trial_ids[row, col])}{chosen}; "
                         "double-click to open")
        return "\n".join(lines)


def stability_grid(values: np.ndarray) -> np.ndarray:
    """Each cell's neighbourhood stability: the median of its up to 8 adjacent finite cells
    divided by the cell, NaN when the cell is not a positive number or has no neighbours
    (as `parameter_stability` on a grid whose step is one cell)."""
    grid = np.asarray(values, dtype=float)
    rows, cols = grid.shape
    padded = np.full((rows + 2, cols + 2), np.nan)
    padded[1:-1, 1:-1] = grid
    shifts = [padded[1 + dr: 1 + dr + rows, 1 + dc: 1 + dc + cols]
              for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    stack = np.stack(shifts)
    has = np.isfinite(stack).any(axis=0)
    median = np.full(grid.shape, np.nan)
    if has.any():
        median[has] = np.nanmedian(stack[:, has], axis=0)
    out = np.full(grid.shape, np.nan)
    ok = has & np.isfinite(grid) & (grid > 0)
    out[ok] = median[ok] / grid[ok]
    return out


def compute_surface(points: Sequence[Point], x: str, y: str, metric: str, *,
                    mode: Mode = "at_best", best_trial: int | None = None,
                    higher_better: bool | None = None) -> Surface:
    """The grid of `metric` over inputs `x` (columns) and `y` (rows).

    Axes span every value any trial took (so switching mode or metric keeps the grid); cells
    hold the trials allowed by `mode` (see the module doc). `best_trial` is the chosen trial:
    its cell is marked and, in `at_best` mode, its other inputs are the ones held fixed; without
    it, `at_best` falls back to the best trial of the metric.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if x == y:
        raise ValueError("the two inputs of a surface must differ")
    better = higher_is_better(metric) if higher_better is None else higher_better
    placed = [p for p in points if x in p.inputs and y in p.inputs]
    x_axis = make_axis(x, [p.inputs[x] for p in placed])
    y_axis = make_axis(y, [p.inputs[y] for p in placed])
    shape = (len(y_axis), len(x_axis))
    by_id = {p.trial_id: p for p in placed}
    best = by_id.get(best_trial) if best_trial is not None else None
    scored = [p for p in placed if p.value(metric) is not None]
    if best is None and scored:
        best = (max if better else min)(scored, key=lambda p: (p.value(metric), -p.trial_id))
    if mode == "at_best" and best is not None:
        members = [p for p in scored if _others_equal(p, best, (x, y))]
        fixed = {k: v for k, v in best.inputs.items() if k not in (x, y)}
    else:
        members, fixed = scored, {}

    cells: dict[tuple[int, int], list[Point]] = {}
    for point in members:
        col, row = x_axis.cell(point.inputs[x]), y_axis.cell(point.inputs[y])
        if col is not None and row is not None:
            cells.setdefault((row, col), []).append(point)
    values = np.full(shape, np.nan)
    counts = np.zeros(shape, dtype=int)
    trial_ids = np.full(shape, -1, dtype=np.int64)
    sign = 1.0 if better else -1.0
    for (row, col), group in cells.items():
        top = max(group, key=lambda p: (sign * (p.value(metric) or 0.0), -p.trial_id))
        trial_ids[row, col] = top.trial_id
        counts[row, col] = len(group)
        values[row, col] = (float(np.median([p.value(metric) for p in group]))
                            if mode == "median_of" else top.value(metric))

    best_cell = None
    if best is not None:
        col, row = x_axis.cell(best.inputs[x]), y_axis.cell(best.inputs[y])
        if col is not None and row is not None:
            best_cell = (row, col)
    return Surface(x=x_axis, y=y_axis, metric=metric, mode=mode, higher_better=better,
                   values=values, counts=counts, trial_ids=trial_ids,
                   stability=stability_grid(values), best_cell=best_cell,
                   best_trial=best.trial_id if best is not None else None, fixed=fixed)


def colour_levels(values: np.ndarray) -> tuple[float, float, bool]:
    """(low, high, diverging) for colouring a grid: symmetric around 0 when the values have
    both signs (red loses, green wins, as the report), else their own range."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0, False
    low, high = float(finite.min()), float(finite.max())
    if low < 0 < high:
        limit = max(abs(low), abs(high))
        return -limit, limit, True
    if high == low:
        pad = abs(high) * 0.05 or 1.0
        return low - pad, high + pad, False
    return low, high, False


# --------------------------------------------------------------------------- 1D slices


@dataclass(frozen=True, slots=True)
class Slice:
    """A metric along one input: through the chosen trial (others at its values) and, for
    context, every trial."""

    name: str
    metric: str
    numeric: bool
    labels: list[str]
    """Category labels when the input is not numeric (x values are their indices)."""
    xs: np.ndarray
    ys: np.ndarray
    all_xs: np.ndarray
    all_ys: np.ndarray
    best_x: float | None
    best_y: float | None
    integer: bool = False
    """The input's values are whole numbers (ticks should be too)."""


def slice_1d(points: Sequence[Point], name: str, metric: str, *,
             best_trial: int | None, higher_better: bool | None = None) -> Slice:
    """`metric` against input `name`, the other inputs at the chosen trial's values (the best
    trial of a value when several ran it); all trials as a cloud; the chosen point."""
    better = higher_is_better(metric) if higher_better is None else higher_better
    usable = [p for p in points if name in p.inputs and p.value(metric) is not None]
    axis = make_axis(name, [p.inputs[name] for p in usable])

    def position(value: Any) -> float:
        if axis.numeric:
            return float(value)
        cell = axis.cell(value)
        return float("nan") if cell is None else float(cell)

    best = next((p for p in usable if p.trial_id == best_trial), None)
    line: dict[float, float] = {}
    if best is not None:
        for p in usable:
            if _others_equal(p, best, (name,)):
                at, value = position(p.inputs[name]), p.value(metric)
                assert value is not None
                if at not in line or (value > line[at]) == better:
                    line[at] = value
    xs = np.array(sorted(line), dtype=float)
    ys = np.array([line[v] for v in sorted(line)], dtype=float)
    all_xs = np.array([position(p.inputs[name]) for p in usable], dtype=float)
    all_ys = np.array([p.value(metric) for p in usable], dtype=float)
    return Slice(name=name, metric=metric, numeric=axis.numeric,
                 labels=[] if axis.numeric else axis.labels, xs=xs, ys=ys,
                 all_xs=all_xs, all_ys=all_ys,
                 best_x=position(best.inputs[name]) if best is not None else None,
                 best_y=best.value(metric) if best is not None else None,
                 integer=axis.integer)


# --------------------------------------------------------------------------- from the store


@dataclass(frozen=True, slots=True)
class SurfaceData:
    """What the Surface view needs of a run: its trials as points, the chosen trial, and the
    objective's direction."""

    run_id: str
    points: list[Point]
    best_trial: int | None
    objective: str
    maximize: bool
    track_best: Mapping[str | None, int] = field(default_factory=dict)
    """Each condition's chosen trial (its track's latest best)."""
    steps: Mapping[str, float] = field(default_factory=dict)
    """Each input's search step (how its values are written, `format_input`)."""

    def higher_better(self, metric: str) -> bool:
        return higher_is_better(metric, objective=self.objective, maximize=self.maximize)

    def inputs(self, condition: str | None = None) -> list[Mapping[str, Any]]:
        return [p.inputs for p in self.points_of(condition)]

    def conditions(self) -> list[str]:
        """The run's conditions (tracks), in the order their first trial ran; empty for a
        run of one track."""
        seen: dict[str, None] = {}
        for point in self.points:
            if point.condition is not None:
                seen.setdefault(point.condition, None)
        return list(seen)

    def default_condition(self) -> str | None:
        """The condition the view opens on: the one of the run's chosen trial."""
        conditions = self.conditions()
        chosen = next((p.condition for p in self.points if p.trial_id == self.best_trial), None)
        return chosen if chosen in conditions else (conditions[0] if conditions else None)

    def points_of(self, condition: str | None) -> list[Point]:
        """One track's points (every point when `condition` is None): a surface mixes no
        conditions, each searched its own way."""
        if condition is None:
            return self.points
        return [p for p in self.points if p.condition == condition]

    def best_for(self, condition: str | None) -> int | None:
        """The chosen trial of a condition (of the run when None or unknown)."""
        if condition is None:
            return self.best_trial
        return self.track_best.get(condition, self.best_trial)


def chosen_trial(store: RunStore, run_id: str, *, objective: str = "net_profit_percent",
                 maximize: bool = True) -> int | None:
    """The run's chosen trial: the optimiser's latest best (its `new_best` events; across
    tracks, a trial meeting the targets before one that does not, then the higher score);
    without such events, the best trial of the objective."""
    candidates: list[tuple[int, float, int, int]] = []
    for order, event in enumerate(store.events(run_id, kind="new_best")):
        trial_id, score = event.payload.get("trial_id"), _finite(event.payload.get("score"))
        if not isinstance(trial_id, int) or score is None:
            continue
        try:
            feasible = 0 if store.trial(trial_id).reasons else 1
        except KeyError:
            continue
        candidates.append((feasible, score, order, trial_id))
    if candidates:
        return max(candidates)[3]
    row = store.best_trial(run_id, objective, maximize=maximize)
    return row.id if row is not None else None


def track_bests(store: RunStore, run_id: str, conditions: Sequence[str], *,
                objective: str = "net_profit_percent", maximize: bool = True
                ) -> dict[str | None, int]:
    """Each condition's chosen trial: its track's latest `new_best` (a track's bests only
    improve), else its best trial of the objective."""
    out: dict[str | None, int] = {}
    for event in store.events(run_id, kind="new_best"):
        condition, trial_id = event.payload.get("condition"), event.payload.get("trial_id")
        if condition in conditions and isinstance(trial_id, int):
            out[condition] = trial_id
    for condition in conditions:
        if condition not in out:
            row = store.best_trial(run_id, objective, maximize=maximize, condition=condition)
            if row is not None:
                out[condition] = row.id
    return out


def load_surface_data(store: RunStore, run_id: str) -> SurfaceData:
    """The finished in-sample trials of a run and its chosen trial."""
    settings = store.get_run(run_id).settings
    targets = settings.get("targets") or {}
    objective = str(targets.get("objective", "net_profit_percent"))
    maximize = bool(targets.get("maximize", True))
    points = [Point(t.id, t.inputs, t.metrics, t.source_hash, t.condition)
              for t in store.trials(run_id, segment="in_sample", status="done")]
    conditions = sorted({p.condition for p in points if p.condition is not None})
    return SurfaceData(run_id=run_id, points=points,
                       best_trial=chosen_trial(store, run_id, objective=objective,
                                               maximize=maximize),
                       objective=objective, maximize=maximize,
                       track_best=track_bests(store, run_id, conditions, objective=objective,
                                              maximize=maximize) if len(conditions) > 1
                       else {},
                       steps=input_steps(settings))


__all__ = [
    "MODES",
    "MODE_LABELS",
    "Axis",
    "Mode",
    "Point",
    "Slice",
    "Surface",
    "SurfaceData",
    "chosen_trial",
    "colour_levels",
    "compute_surface",
    "default_pair",
    "higher_is_better",
    "integer_bins",
    "load_surface_data",
    "make_axis",
    "metric_choices",
    "slice_1d",
    "stability_grid",
    "track_bests",
    "varying_inputs",
]
