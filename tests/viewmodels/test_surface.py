"""The parameter surface as data (tvdesk.viewmodels.surface): no Qt anywhere."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tvdesk.analytics.input_axes import BINS, axis_bins, numeric_inputs
from tvdesk.analytics.robustness import parameter_stability
from tvdesk.reports import charts
from tvdesk.store import RunStore
from tvdesk.viewmodels.surface import (
    Point,
    chosen_trial,
    colour_levels,
    compute_surface,
    default_pair,
    higher_is_better,
    integer_bins,
    load_surface_data,
    make_axis,
    metric_choices,
    slice_1d,
    stability_grid,
    varying_inputs,
)


def grid_points() -> list[Point]:
    """a in 1..4 × b in 10..30 × shorts on/off; net profit a*b/10 (+5 with shorts), dd a+b/10."""
    points, trial_id = [], 0
    for shorts in (False, True):
        for a in (1, 2, 3, 4):
            for b in (10, 20, 30):
                trial_id += 1
                net = a * b / 10 + (5 if shorts else 0)
                points.append(Point(trial_id, {"a": a, "b": b, "shorts": shorts},
                                    {"net_profit_percent": net,
                                     "max_drawdown_percent": a + b / 10 - (1 if shorts else 0),
                                     "total_trades": 10 * a}))
    return points


def by_id(points: list[Point]) -> dict[int, Point]:
    return {p.trial_id: p for p in points}


# --------------------------------------------------------------------------- inputs and axes


def test_the_report_and_the_gui_choose_the_same_pair() -> None:
    inputs = [{"x": 1, "y": 1.5, "flag": True, "mode": "a"},
              {"x": 2, "y": 1.5, "flag": False, "mode": "b"},
              {"x": 3, "y": 2.5, "flag": True, "mode": "a"},
              {"x": 3, "y": 3.5, "flag": True, "mode": "a", "z": 1}]
    # Bools and text are not numeric; most distinct first, ties in first-seen order.
    assert numeric_inputs(inputs) == [("x", 3), ("y", 3), ("z", 1)]
    assert default_pair(inputs) == ("x", "y")
    assert varying_inputs(inputs) == ["x", "y", "flag", "mode"]
    # The report imports the very same functions (moved here, not copied).
    assert charts.numeric_inputs is numeric_inputs and charts.axis_bins is axis_bins
    assert default_pair([{"x": 1}, {"x": 2}]) is None


def test_axis_bins_one_cell_per_value_until_too_many() -> None:
    position, labels = axis_bins([3.0, 1.0, 2.0, 3.0])
    assert labels == ["1", "2", "3"] and position(3.0) == 2
    many = [2.0 + v * 0.5 for v in range(0, 197)]  # 2 to 100 by 0.5: equal-width bins
    position, labels = axis_bins(many)
    assert len(labels) == BINS and labels[0].startswith("2–")
    assert position(2.0) == 0 and position(100.0) == BINS - 1
    # Whole numbers get whole-number bins, the same in the report's heatmap and the Surface.
    position, labels = axis_bins([float(v) for v in range(2, 101)])
    assert labels[0] == "2–10" and labels[-1] == "92–100"
    assert position(10.0) == 0 and position(11.0) == 1 and position(100.0) == len(labels) - 1


def test_categorical_axes_order_bools_off_on() -> None:
    axis = make_axis("shorts", [True, False, True])
    assert not axis.numeric and axis.labels == ["Off", "On"]
    assert axis.cell(False) == 0 and axis.cell(True) == 1 and axis.cell("x") is None


def test_metric_choices_put_the_usual_metrics_first() -> None:
    points = [Point(1, {}, {"zeta": 1.0, "total_trades": 3, "net_profit_percent": 1.0,
                            "text": "n/a", "flag": True, "missing": None})]
    assert metric_choices(points) == ["net_profit_percent", "total_trades", "zeta"]


def test_direction_of_metrics() -> None:
    assert higher_is_better("net_profit_percent")
    assert not higher_is_better("max_drawdown_percent")
    assert not higher_is_better("net_profit_percent", objective="net_profit_percent",
                                maximize=False)


# --------------------------------------------------------------------------- the grid


def test_at_best_is_a_slice_through_the_chosen_trial() -> None:
    points = grid_points()
    best = next(p for p in points if p.inputs == {"a": 4, "b": 30, "shorts": True})
    surface = compute_surface(points, "a", "b", "net_profit_percent", mode="at_best",
                              best_trial=best.trial_id)
    assert surface.x.labels == ["1", "2", "3", "4"] and surface.y.labels == ["10", "20", "30"]
    assert surface.values.shape == (3, 4)
    assert surface.fixed == {"shorts": True}
    assert surface.best_cell == (2, 3) and surface.best_trial == best.trial_id
    ids = by_id(points)
    for (row, col), value in np.ndenumerate(surface.values):
        trial = ids[int(surface.trial_ids[row, col])]
        assert trial.inputs["shorts"] is True
        assert surface.x.cell(trial.inputs["a"]) == col and surface.y.cell(trial.inputs["b"]) == row
        assert value == trial.metrics["net_profit_percent"]
    assert (surface.counts == 1).all()


def test_at_best_leaves_cells_without_a_matching_trial_empty() -> None:
    points = [p for p in grid_points() if not (p.inputs["shorts"] and p.inputs["a"] == 1)]
    best = next(p for p in points if p.inputs == {"a": 4, "b": 30, "shorts": True})
    surface = compute_surface(points, "a", "b", "net_profit_percent", best_trial=best.trial_id)
    assert np.isnan(surface.values[:, 0]).all() and (surface.trial_ids[:, 0] == -1).all()
    assert np.isfinite(surface.values[:, 1:]).all()
    assert "no trial" in surface.cell_text(0, 0)


def test_best_of_and_median_of_aggregate_the_other_inputs() -> None:
    points = grid_points()
    best_of = compute_surface(points, "a", "b", "net_profit_percent", mode="best_of")
    median_of = compute_surface(points, "a", "b", "net_profit_percent", mode="median_of")
    for (row, col), value in np.ndenumerate(best_of.values):
        a, b = (1, 2, 3, 4)[col], (10, 20, 30)[row]
        assert value == pytest.approx(a * b / 10 + 5)
        assert median_of.values[row, col] == pytest.approx(a * b / 10 + 2.5)
        # Double-clicking a cell opens its best trial, whatever the cell shows.
        assert by_id(points)[int(median_of.trial_ids[row, col])].inputs["shorts"] is True
    assert (best_of.counts == 2).all() and best_of.fixed == {}


def test_lower_is_better_metrics_take_the_lowest_value() -> None:
    surface = compute_surface(grid_points(), "a", "b", "max_drawdown_percent", mode="best_of")
    assert not surface.higher_better
    assert surface.values[0, 0] == pytest.approx(1 + 1 - 1)  # shorts on: 1 lower
    # Without a chosen trial, "at best" holds the others at the metric's best trial.
    at_best = compute_surface(grid_points(), "a", "b", "max_drawdown_percent")
    assert at_best.best_cell == (0, 0) and at_best.fixed == {"shorts": True}


def test_binned_cells_hold_the_best_trial_of_the_bin() -> None:
    points = [Point(i, {"x": i, "y": i % 3}, {"net_profit_percent": float(i % 7)})
              for i in range(1, 61)]
    surface = compute_surface(points, "x", "y", "net_profit_percent", mode="best_of")
    assert len(surface.x) == BINS
    for (row, col), value in np.ndenumerate(surface.values):
        members = [p for p in points if surface.x.cell(p.inputs["x"]) == col
                   and surface.y.cell(p.inputs["y"]) == row]
        if members:
            assert value == max(p.metrics["net_profit_percent"] for p in members)
            assert surface.counts[row, col] == len(members)
        else:
            assert math.isnan(value)


def test_a_surface_needs_two_different_inputs() -> None:
    with pytest.raises(ValueError):
        compute_surface(grid_points(), "a", "a", "net_profit_percent")
    with pytest.raises(ValueError):
        compute_surface(grid_points(), "a", "b", "net_profit_percent", mode="mean")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- stability


def test_stability_is_parameter_stability_on_the_grid() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(2.0, 1.5, size=(5, 6))
    values[1, 2] = np.nan
    values[4, 5] = -1.0
    stability = stability_grid(values)
    cells = [({"x": col, "y": row}, float(v)) for (row, col), v in np.ndenumerate(values)
             if math.isfinite(v)]
    for (row, col), value in np.ndenumerate(values):
        if not math.isfinite(value):
            assert math.isnan(stability[row, col])
            continue
        expected = parameter_stability({"x": col, "y": row}, cells, {"x": 1, "y": 1}).ratio
        if expected is None:
            assert math.isnan(stability[row, col])
        else:
            assert stability[row, col] == pytest.approx(expected)


def test_stability_is_undefined_for_isolated_or_non_positive_cells() -> None:
    values = np.array([[4.0, np.nan, np.nan], [np.nan, np.nan, np.nan], [np.nan, 0.0, 2.0]])
    stability = stability_grid(values)
    assert math.isnan(stability[0, 0])  # no neighbour
    assert math.isnan(stability[2, 1])  # cell is 0
    assert stability[2, 2] == pytest.approx(0.0)  # neighbour 0 / 2
    surface = compute_surface(grid_points(), "a", "b", "net_profit_percent", mode="best_of")
    ratio = surface.stability[1, 1]
    around = [surface.values[r, c] for r in (0, 1, 2) for c in (0, 1, 2) if (r, c) != (1, 1)]
    assert ratio == pytest.approx(np.median(around) / surface.values[1, 1])
    assert "stability" in surface.cell_text(1, 1)


# --------------------------------------------------------------------------- slices, colours


def test_slice_through_the_chosen_trial() -> None:
    points = grid_points()
    best = next(p for p in points if p.inputs == {"a": 4, "b": 30, "shorts": True})
    line = slice_1d(points, "a", "net_profit_percent", best_trial=best.trial_id)
    assert line.numeric and list(line.xs) == [1, 2, 3, 4]
    assert list(line.ys) == pytest.approx([a * 3 + 5 for a in (1, 2, 3, 4)])
    assert (line.best_x, line.best_y) == (4.0, pytest.approx(17.0))
    assert line.all_xs.size == len(points)
    flags = slice_1d(points, "shorts", "net_profit_percent", best_trial=best.trial_id)
    assert not flags.numeric and flags.labels == ["Off", "On"]
    assert list(flags.xs) == [0.0, 1.0] and list(flags.ys) == pytest.approx([12.0, 17.0])


def test_colour_levels_are_symmetric_around_zero_for_mixed_signs() -> None:
    assert colour_levels(np.array([[-2.0, 5.0], [np.nan, 1.0]])) == (-5.0, 5.0, True)
    assert colour_levels(np.array([[2.0, 5.0]])) == (2.0, 5.0, False)
    low, high, _ = colour_levels(np.array([[3.0, 3.0]]))
    assert low < 3.0 < high
    assert colour_levels(np.full((2, 2), np.nan)) == (0.0, 1.0, False)


# --------------------------------------------------------------------------- from the store


def test_load_surface_data_takes_the_optimiser_s_chosen_trial(tmp_path: Path) -> None:
    with RunStore.open(tmp_path / "runs.db") as store:
        run_id = store.create_run(engine="local", strategy_title="t", settings={
            "max_iterations": 9, "targets": {"objective": "net_profit_percent",
                                             "maximize": True}})
        source = store.add_source("//@version=6", normalized_hash="n")
        ids = []
        for n, (a, net, reasons) in enumerate([(1, 1.0, ()), (2, 9.0, ("min_trades",)),
                                               (3, 4.0, ())]):
            trial_id = store.start_trial(run_id, worker=1, condition=None, iteration=n + 1,
                                         proposer="params", source_hash=source,
                                         inputs={"a": a, "b": a * 10})
            store.finish_trial(trial_id, metrics={"net_profit_percent": net},
                               reasons=reasons)
            ids.append(trial_id)
        error_id = store.start_trial(run_id, worker=1, condition=None, iteration=4,
                                     proposer="params", source_hash=source,
                                     inputs={"a": 4, "b": 40})
        store.finish_trial(error_id, status="error", error="boom")
        for trial_id, score in zip(ids, (1.0, 9.0, 4.0), strict=True):
            store.add_event(run_id, "new_best", {"trial_id": trial_id, "score": score})
        # Meeting the targets beats a higher score that does not.
        assert chosen_trial(store, run_id) == ids[2]
        data = load_surface_data(store, run_id)
        assert [p.trial_id for p in data.points] == ids  # finished in-sample only
        assert data.best_trial == ids[2] and data.higher_better("net_profit_percent")
        # Without new_best events: the best of the objective.
        other = store.create_run(engine="local", strategy_title="t", settings={})
        trial_id = store.start_trial(other, worker=1, condition=None, iteration=1,
                                     proposer="params", source_hash=source, inputs={"a": 1})
        store.finish_trial(trial_id, metrics={"net_profit_percent": 2.0})
        assert chosen_trial(store, other) == trial_id


def test_integer_inputs_get_whole_number_bins() -> None:
    """An input.int with more values than cells: bins of whole numbers ("5–20"), not
    "5–29.6"; every value lands in the bin its label names."""
    values = list(range(5, 201, 3))  # 66 values of Length
    axis = make_axis("Length", values)
    assert axis.numeric and axis.integer and len(axis) <= BINS
    assert all("." not in text for text in axis.labels)
    for value in values:
        first, _, last = axis.labels[axis.cell(value)].partition("–")
        assert int(first) <= value <= int(last or first)
    position, labels = integer_bins([1.0, 2.0, 3.0], bins=12)
    assert labels == ["1", "2", "3"] and position(3.0) == 2
    floats = make_axis("Mult", [0.5 + 0.1 * i for i in range(40)])
    assert not floats.integer and len(floats) == BINS
    assert make_axis("Length", [5, 10, 15]).integer  # few values: one cell each, still whole


def condition_points() -> list[Point]:
    """Two conditions searched on their own: trial ids 1-6 in "1", 7-12 in "3"."""
    points = []
    for trial_id in range(1, 13):
        condition = "1" if trial_id <= 6 else "3"
        points.append(Point(trial_id, {"a": trial_id % 3, "b": trial_id % 2 + 10,
                                       "Condition": int(condition)},
                            {"net_profit_percent": float(trial_id)}, "s", condition))
    return points


def test_a_run_of_several_conditions_is_shown_one_condition_at_a_time() -> None:
    from tvdesk.viewmodels.surface import SurfaceData

    data = SurfaceData("r", condition_points(), best_trial=5, objective="net_profit_percent",
                       maximize=True, track_best={"1": 5, "3": 12})
    assert data.conditions() == ["1", "3"] and data.default_condition() == "1"
    assert {p.trial_id for p in data.points_of("3")} == set(range(7, 13))
    assert data.points_of(None) == data.points
    assert data.best_for("3") == 12 and data.best_for(None) == 5
    assert "Condition" not in varying_inputs(data.inputs("3"))  # constant within a track
    one = SurfaceData("r", grid_points(), best_trial=None, objective="net_profit_percent",
                      maximize=True)
    assert one.conditions() == [] and one.default_condition() is None


def test_each_track_s_chosen_trial_comes_from_its_own_bests(tmp_path: Path) -> None:
    from tvdesk.viewmodels.surface import track_bests

    with RunStore.open(tmp_path / "runs.db") as store:
        run_id = store.create_run(engine="local", strategy_title="t", settings={
            "conditions": ["1", "3"], "request": {"strategy": {"inputs": [
                {"title": "b", "name": "b", "step": 0.1}]}}})
        source = store.add_source("//@version=6", normalized_hash="n")
        ids: dict[str, list[int]] = {"1": [], "3": []}
        for n, (condition, net) in enumerate([("1", 3.0), ("1", 5.0), ("3", 1.0),
                                              ("3", 0.5)]):
            trial_id = store.start_trial(run_id, worker=1, condition=condition,
                                         iteration=n + 1, proposer="params",
                                         source_hash=source,
                                         inputs={"a": n, "b": 0.1 * (n + 1)})
            store.finish_trial(trial_id, metrics={"net_profit_percent": net})
            ids[condition].append(trial_id)
        store.add_event(run_id, "new_best", {"trial_id": ids["1"][0], "condition": "1",
                                             "score": 3.0})
        store.add_event(run_id, "new_best", {"trial_id": ids["1"][1], "condition": "1",
                                             "score": 5.0})
        # Condition 3 has no new_best event: its best trial of the objective.
        assert track_bests(store, run_id, ["1", "3"]) == {"1": ids["1"][1], "3": ids["3"][0]}
        data = load_surface_data(store, run_id)
        assert data.conditions() == ["1", "3"] and data.best_for("3") == ids["3"][0]
        assert data.steps == {"b": 0.1}


def test_the_surface_module_does_not_import_qt() -> None:
    code = ("import sys, tvdesk.viewmodels.surface, tvdesk.viewmodels.progress; "
            "print(any(m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6') "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
