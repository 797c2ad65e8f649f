"""Runs and Surface views: live worker charts fed by events, the run's progress and log, and the
parameter surface of a real (small) optimisation.

Headless: Qt's offscreen platform, pytest-qt's `qtbot`. Events are emitted on the controller's
own `event` signal, exactly as a running optimisation delivers them. Charts are only checked
for the data they hold (no timings). Each view is grabbed to a PNG (see `SHOTS`).
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tvdesk.events import Event
from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import QtGui
from tvdesk.gui.runs_view import RunsView
from tvdesk.gui.surface_view import SurfaceView
from tvdesk.viewmodels.progress import RunMonitor, RunProgress, describe_event, format_duration
from tvdesk.viewmodels.surface import load_surface_data

from engine_helpers import optimise_example

ROOT = Path(__file__).resolve().parents[2]
SHOTS = os.environ.get("TVDESK_GUI_SHOTS")  # a folder to keep the PNGs in (else tmp)
NET, DD = "net_profit_percent", "max_drawdown_percent"


def shot(widget, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    assert widget.grab().save(str(path))
    assert path.stat().st_size > 1000
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)
    return path


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def run_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A finished optimisation of the SMA cross: 2 workers, 40 iterations, 20 % holdout."""
    path = tmp_path_factory.mktemp("surface") / "runs.sqlite"
    return path, optimise_example(path, max_iterations=40, process_count=2)


@pytest.fixture
def controller(tmp_path: Path, qapp):
    ctl = RunController(tmp_path / "runs.sqlite")
    yield ctl
    ctl.store().close()


@pytest.fixture
def runs(qtbot, controller: RunController) -> RunsView:
    view = RunsView(controller)
    qtbot.addWidget(view)
    view.resize(1300, 1000)
    view.show()
    qtbot.waitExposed(view)
    return view


def drawn(curve) -> int:
    """How many points a curve holds (None before its first setData)."""
    x, _y = curve.getData()
    return 0 if x is None else len(x)


def finished(run_id: str, worker: int, trial_id: int, iteration: int, net: float,
             at: float = 1_700_000_000.0) -> Event:
    return Event("trial_finished", run_id, worker=worker, trial_id=trial_id, at=at,
                 payload={"inputs": {"a": trial_id}, "seconds": 0.5, "iteration": iteration,
                          NET: net, DD: abs(net) / 2 + 1, "total_trades": 10 + trial_id % 7,
                          "potential": False, "targets_met": False})


# --------------------------------------------------------------------------- runs: live


def test_worker_panels_appear_and_the_timer_draws_their_points(qtbot, controller,
                                                               runs: RunsView,
                                                               tmp_path: Path) -> None:
    store = controller.store()
    run_id = store.create_run(engine="local", strategy_title="t",
                              settings={"max_iterations": 20, "conditions": []})
    emit = controller.event.emit
    emit(Event("run_started", run_id, payload={"resumed": False}, at=1_700_000_000.0))
    best, nets = -math.inf, {1: [], 2: []}
    for n in range(1, 13):
        worker = 1 + n % 2
        emit(Event("trial_started", run_id, worker=worker, trial_id=n,
                   payload={"inputs": {"a": n}}, at=1_700_000_000.0 + n))
        net = math.sin(n) * 10
        emit(finished(run_id, worker, n, n, net, at=1_700_000_000.0 + n + 0.5))
        nets[worker].append(net)
        if net > best:
            best = net
            emit(Event("new_best", run_id, worker=worker, trial_id=n,
                        payload={"score": net, "inputs": {"a": n}}))
    emit(Event("trial_started", run_id, worker=2, trial_id=13, payload={"inputs": {"a": 13}}))
    emit(Event("error", run_id, worker=2, trial_id=13,
               payload={"message": "the script failed while running: boom", "consecutive": 1}))
    assert set(runs.panels) == {1, 2}  # created as the workers appeared

    panel1, panel2 = runs.panels[1], runs.panels[2]
    curves = [c for p in (panel1, panel2) for c in (p.net_curve, p.dd_curve, p.trades_curve)]
    # The timer pushes the points; the drawn (clipped-to-view) data follows the view's range.
    qtbot.waitUntil(lambda: all(drawn(c) == 6 for c in curves), timeout=5000)
    for number, panel in runs.panels.items():
        x, y = panel.net_curve.getData()
        assert list(y) == pytest.approx(nets[number])
        assert list(x) == [n for n in range(1, 13) if 1 + n % 2 == number]
    marks = {n: len(p.best_marks.data) for n, p in runs.panels.items()}
    assert sum(marks.values()) == sum(1 for e in _bests(nets)) and marks[2] >= 1
    best_x = [float(v) for v in panel2.best_marks.data["x"]]
    assert best_x[-1] in set(panel2.net_curve.getData()[0])
    assert runs.monitor is not None and runs.monitor.best_net_profit == pytest.approx(best)
    assert panel1.run_best.isVisible() and panel1.run_best.value() == pytest.approx(best)
    assert "last error: the script failed while running: boom" in panel2.status.text()
    assert "13 / 20 trials" in runs.progress.text()
    assert "ETA" in runs.progress.text()
    lines = runs.log.toPlainText().splitlines()
    assert len(lines) >= 12 * 2 + 3
    assert any("worker 2 #13 error: the script failed" in line for line in lines)
    assert runs.log.isReadOnly() and runs.log.maximumBlockCount() >= 5000
    shot(runs, tmp_path, "runs_live")


def _bests(nets: dict[int, list[float]]):
    """The new_best events the test emits, in trial order (sin(n) over n = 1..12)."""
    best = -math.inf
    for n in range(1, 13):
        net = math.sin(n) * 10
        if net > best:
            best = net
            yield n


def test_ten_thousand_events_are_absorbed(qtbot, controller, runs: RunsView,
                                          tmp_path: Path) -> None:
    emit = controller.event.emit
    emit(Event("run_started", "big", payload={"resumed": False}))
    rng = np.random.default_rng(7)
    nets = rng.normal(0, 5, 10_000)
    for n, net in enumerate(nets, start=1):
        emit(finished("big", 1, n, n, float(net)))
        if n % 1000 == 0:
            emit(Event("new_best", "big", worker=1, trial_id=n, payload={"score": float(net)}))
    panel = runs.panels[1]
    qtbot.waitUntil(lambda: (panel.net_curve.getOriginalDataset()[0] is not None
                             and len(panel.net_curve.getOriginalDataset()[0]) == 10_000),
                    timeout=10_000)
    x, y = panel.net_curve.getOriginalDataset()
    assert list(x[:3]) == [1.0, 2.0, 3.0] and y == pytest.approx(nets)
    assert len(panel.dd_curve.getOriginalDataset()[0]) == 10_000
    # What is drawn is the downsampled, clipped view of those points (never more).
    assert 0 < len(panel.net_curve.getData()[0]) <= 10_000
    assert panel.net_curve.opts["autoDownsample"] and panel.net_curve.opts["clipToView"]
    assert len(panel.best_marks.data) == 10
    assert runs.log.blockCount() <= 5001
    last = runs.log.toPlainText().splitlines()[-2:]
    assert "#10000 finished" in last[0] and "#10000 new best (score" in last[1]
    shot(runs, tmp_path, "runs_10000")


def test_a_new_run_clears_the_panels(qtbot, controller, runs: RunsView) -> None:
    controller.event.emit(finished("first", 3, 1, 1, 1.0))
    assert set(runs.panels) == {3}
    controller.event.emit(Event("run_started", "second", payload={"resumed": False}))
    controller.event.emit(finished("second", 1, 2, 1, 2.0))
    assert set(runs.panels) == {1} and runs.monitor is not None
    assert runs.monitor.run_id == "second"


# --------------------------------------------------------------------------- runs: stored


def test_refresh_draws_a_finished_run_from_the_store(qtbot, run_store, tmp_path: Path) -> None:
    path, run_id = run_store
    controller = RunController(path)
    controller.run_id = run_id
    view = RunsView(controller)
    qtbot.addWidget(view)
    view.resize(1300, 1000)
    view.show()
    view.refresh()
    store = controller.store()
    done = [t for t in store.trials(run_id, segment="in_sample") if t.status == "done"]
    assert set(view.panels) == {t.worker for t in done} == {1, 2}
    for worker, panel in view.panels.items():
        x, y = panel.net_curve.getData()
        mine = [t for t in done if t.worker == worker]
        assert len(x) == len(mine)
        assert sorted(y) == pytest.approx(sorted(t.metrics[NET] for t in mine))
    best = load_surface_data(store, run_id).best_trial
    assert view.monitor is not None and view.monitor.best_trial == best
    assert sum(len(p.best_marks.data) for p in view.panels.values()) == len(
        store.events(run_id, kind="new_best"))
    assert "40 / 40 trials" in view.progress.text() and "done" in view.progress.text()
    assert "finished" in view.title.text()
    log = view.log.toPlainText()
    assert "judged" in log and "holdout" in log and "stopped: finished" in log
    assert "robustness={" not in log and "tracks={" not in log  # sentences, not dicts
    shot(view, tmp_path, "runs_stored")
    controller.store().close()


# --------------------------------------------------------------------------- progress (no Qt)


def test_progress_rate_and_eta() -> None:
    progress = RunProgress(total=100)
    progress.started(1000.0)
    for k in range(30):
        progress.record(1000.0 + 2 * (k + 1))  # one trial every 2 s
    assert progress.rate_per_minute(1060.0) == pytest.approx(30.0)
    assert progress.eta_seconds(1060.0) == pytest.approx(70 / 30 * 60)
    assert progress.text(1060.0) == "30 / 100 trials · 30.0 trials/min · ETA 2 min 20 s"
    progress.track_finished(40, 100)  # a track stopped at 40 of its 100: the rest is skipped
    assert progress.total == 100 and progress.completed() == 90
    progress.finished = True
    assert progress.eta_seconds(2000.0) is None and progress.text(2000.0).endswith("done")
    assert format_duration(5) == "5 s" and format_duration(7300) == "2 h 01 min"


def test_monitor_offsets_tracks_and_ignores_repeats() -> None:
    monitor = RunMonitor("r", max_iterations=10, conditions=("1", "3"))
    assert monitor.progress.total == 20
    monitor.handle(replace(finished("r", 1, 1, 4, 1.0), condition="3"))
    monitor.handle(replace(finished("r", 1, 1, 4, 1.0), condition="3"))  # delivered twice
    series = monitor.workers[1]
    assert list(series.x.view()) == [14.0] and monitor.progress.done == 1
    assert "worker 1 cond 3 #1 finished: net +1.00% dd 1.50% trades 11" in describe_event(
        replace(finished("r", 1, 1, 4, 1.0), condition="3"))


def test_the_log_says_why_a_track_stopped() -> None:
    """A track stopped by a limit (here: a model stuck on scripts already tried) says so in
    the run log, with its trial count and best trial."""
    reason = "no new trial after 3 restarts: the model keeps proposing versions already tried"
    event = Event(kind="track_finished", run_id="r", payload={
        "reason": reason, "iterations": 1, "best_trial": 7, "targets_met_by": None})
    assert describe_event(event).endswith(f"stopped: {reason} (1 trials, best #7)")


# --------------------------------------------------------------------------- surface


@pytest.fixture
def surface(qtbot, run_store) -> SurfaceView:
    path, run_id = run_store
    controller = RunController(path)
    controller.run_id = run_id
    view = SurfaceView(controller)
    qtbot.addWidget(view)
    view.resize(1400, 800)
    view.show()
    view.refresh()
    yield view
    controller.store().close()


def test_surface_shows_the_trials_metrics_and_marks_the_chosen_cell(surface: SurfaceView,
                                                                    tmp_path: Path) -> None:
    store = surface.controller.store()
    run_id = surface.controller.run_id
    trials = {t.id: t for t in store.trials(run_id, segment="in_sample", status="done")}
    assert surface.surface is not None and surface.surface.mode == "best_of"  # the default
    surface.select(mode="at_best")
    grid = surface.surface
    assert grid is not None and (grid.x.name, grid.y.name) == ("Fast Length", "Slow Length")
    assert grid.metric == NET and grid.mode == "at_best"
    best = load_surface_data(store, run_id).best_trial
    assert grid.best_trial == best
    filled = np.isfinite(grid.values)
    assert filled.sum() >= 3
    for (row, col), value in np.ndenumerate(grid.values):
        if not math.isfinite(value):
            assert grid.trial_ids[row, col] == -1
            continue
        trial = trials[int(grid.trial_ids[row, col])]
        assert value == trial.metrics[NET]
        assert trial.inputs["Allow Shorts"] == trials[best].inputs["Allow Shorts"]
        assert grid.x.cell(trial.inputs["Fast Length"]) == col
        assert grid.y.cell(trial.inputs["Slow Length"]) == row
        same_cell = [t for t in trials.values()
                     if grid.x.cell(t.inputs["Fast Length"]) == col
                     and grid.y.cell(t.inputs["Slow Length"]) == row
                     and t.inputs["Allow Shorts"] == trials[best].inputs["Allow Shorts"]]
        assert value == max(t.metrics[NET] for t in same_cell)
    row, col = grid.best_cell
    assert grid.values[row, col] == trials[best].metrics[NET]
    xs, ys = surface.best_box.getData()
    assert (min(xs), max(xs), min(ys), max(ys)) == (col - 0.5, col + 0.5, row - 0.5, row + 0.5)
    assert surface.image.image.shape == grid.values.shape
    assert f"chosen trial #{best}" in surface.info.text()
    assert len(surface._texts) == int(filled.sum())  # the values written in the cells
    text = grid.cell_text(row, col)
    assert "the chosen trial" in text and "stability" in text
    shot(surface, tmp_path, "surface_at_best")


def test_metric_mode_and_cell_text_choices_redraw(surface: SurfaceView, qtbot,
                                                  tmp_path: Path) -> None:
    store = surface.controller.store()
    trials = {t.id: t for t in store.trials(surface.controller.run_id, segment="in_sample",
                                            status="done")}
    combo = surface.metric_combo
    combo.setCurrentIndex(combo.findData(DD))
    grid = surface.surface
    assert grid is not None and grid.metric == DD and not grid.higher_better
    for (row, col), value in np.ndenumerate(grid.values):
        if math.isfinite(value):
            assert value == trials[int(grid.trial_ids[row, col])].metrics[DD]
    assert "lower is better" in surface.info.text()
    surface.mode_buttons.button(1).click()  # best of
    assert surface.surface.mode == "best_of"
    assert int(surface.surface.counts.sum()) == len(trials)
    surface.select(metric=NET, mode="median_of", cell_text="stability")
    grid = surface.surface
    assert grid.mode == "median_of" and grid.metric == NET
    texts = [item.textItem.toPlainText() for item in surface._texts]
    assert texts and all(t == "–" or t.startswith("×") for t in texts)
    shot(surface, tmp_path, "surface_median_stability")
    surface.select(x="Allow Shorts", y="Fast Length")
    assert surface.surface.x.labels == ["Off", "On"]


def test_double_clicking_a_cell_opens_its_best_trial(surface: SurfaceView, qtbot) -> None:
    grid = surface.surface
    row, col = grid.best_cell
    with qtbot.waitSignal(surface.trial_activated, timeout=1000) as signal:
        surface.activate_cell(row, col)
    assert signal.args == [grid.best_trial]
    empty = np.argwhere(grid.trial_ids < 0)
    if len(empty):
        with qtbot.assertNotEmitted(surface.trial_activated):
            surface.activate_cell(*map(int, empty[0]))


def test_surface_without_a_run_says_so(qtbot, controller) -> None:
    view = SurfaceView(controller)
    qtbot.addWidget(view)
    view.refresh()
    assert view.surface is None and "Open or run" in view.info.text()


# --------------------------------------------------------------------------- what a trader saw


def _run(controller, settings: dict) -> str:
    """A run in the controller's store with these settings, started on the Runs view."""
    run_id = controller.store().create_run(engine="local", strategy_title="t",
                                           settings=settings)
    controller.event.emit(Event("run_started", run_id, payload={"resumed": False},
                                at=1_700_000_000.0))
    return run_id


def _in(condition: str, event: Event) -> Event:
    return replace(event, condition=condition)


def test_the_run_best_line_is_never_below_a_star(qtbot, controller, runs: RunsView) -> None:
    """Track 3's first best is lower than track 1's: the line stays at the highest star
    (it followed the latest new_best, so it dropped below track 1's stars)."""
    run_id = _run(controller, {"max_iterations": 10, "conditions": ["1", "3"]})
    emit = controller.event.emit
    for worker, trial_id, iteration, net, condition in ((1, 1, 1, 2.0, "1"),
                                                         (2, 2, 2, 6.0, "1"),
                                                         (1, 3, 1, 0.5, "3")):
        emit(_in(condition, finished(run_id, worker, trial_id, iteration, net)))
        emit(_in(condition, Event("new_best", run_id, worker=worker, trial_id=trial_id,
                                  payload={"score": net})))
    qtbot.waitUntil(lambda: set(runs.panels) == {1, 2} and all(
        p.drawn_version == runs.monitor.workers[n].version and p.run_best_value == 6.0
        for n, p in runs.panels.items()), timeout=5000)
    stars = [float(y) for p in runs.panels.values() for y in p.best_marks.data["y"]]
    assert sorted(stars) == [0.5, 2.0, 6.0]
    for panel in runs.panels.values():
        assert panel.run_best.value() == pytest.approx(max(stars))
        assert "#2" in panel.run_best.label.format  # names the trial it marks


def test_a_worker_s_line_breaks_between_conditions(qtbot, controller, runs: RunsView) -> None:
    run_id = _run(controller, {"max_iterations": 5, "conditions": ["1", "3"]})
    trial_id = 0
    for condition in ("1", "3"):
        for iteration in range(1, 4):
            trial_id += 1
            controller.event.emit(_in(condition, finished(run_id, 1, trial_id, iteration,
                                                          float(iteration))))
    panel = runs.panels[1]
    qtbot.waitUntil(lambda: panel.drawn_version == runs.monitor.workers[1].version,
                    timeout=5000)
    x, y = panel.net_curve.getOriginalDataset()
    assert (np.diff(x) >= 0).all()  # never back in x
    gaps = [i for i, v in enumerate(y) if not math.isfinite(v)]
    assert len(gaps) == 1  # one stretch per condition
    assert list(x[: gaps[0]]) == [1, 2, 3] and list(x[gaps[0] + 1:]) == [6, 7, 8]


def test_an_empty_panel_has_plain_ranges_and_whole_number_ticks(qtbot) -> None:
    from tvdesk.gui.runs_view import WorkerPanel
    from tvdesk.viewmodels.progress import WorkerSeries

    panel = WorkerPanel(1)
    qtbot.addWidget(panel)
    panel.resize(600, 450)
    panel.show()
    qtbot.waitExposed(panel)
    panel.draw(WorkerSeries(1), None, None)
    assert panel.net_plot.viewRange()[1] == pytest.approx([-5.0, 5.0])
    assert panel.net_plot.viewRange()[0] == pytest.approx([0.0, 10.0])
    for plot in (panel.net_plot, panel.dd_plot, panel.trades_plot):
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            assert not axis.autoSIPrefix and "(x" not in axis.labelString()
    # Whole numbers on the iteration and trades axes, even over a range of 2.6.
    for axis in (panel.trades_plot.getAxis("left"), panel.trades_plot.getAxis("bottom")):
        values = [v for _spacing, level in axis.tickValues(0.0, 2.6, 300.0) for v in level]
        assert values and all(float(v).is_integer() for v in values)
        assert axis.tickStrings(values, 1.0, 1.0) == [str(int(v)) for v in values]
    series = WorkerSeries(1)
    series.add(1, 1.0, 3.0, 1.0, 12)
    panel.draw(series, None, None)
    assert panel.net_plot.getViewBox().autoRangeEnabled()[1]  # points: y follows them


def test_status_and_log_show_inputs_without_float_noise(qtbot, controller,
                                                        runs: RunsView) -> None:
    run_id = _run(controller, {"max_iterations": 10, "request": {"strategy": {"inputs": [
        {"title": "Band Multiplier", "name": "mult", "step": 0.1}]}}})
    controller.event.emit(Event("trial_started", run_id, worker=1, trial_id=1,
                                payload={"inputs": {"Length": 21,
                                                    "Band Multiplier": 1.2000000000000002}}))
    controller.event.emit(Event("judged", run_id, payload={"robustness": {
        "trials": 1, "pbo": 0.5, "tags": {"GOOD": 1}}}))
    qtbot.waitUntil(lambda: 1 in runs.panels, timeout=5000)
    panel = runs.panels[1]
    qtbot.waitUntil(lambda: "Band Multiplier=1.2" in panel.status.text(), timeout=5000)
    log = runs.log.toPlainText()
    assert "started: Length=21, Band Multiplier=1.2" in log
    assert "0000000002" not in log + panel.status.text()
    assert "judged: 1 trials · tags GOOD 1 · PBO 0.5" in log and "{" not in log


def test_the_progress_bar_keeps_its_total_and_only_moves_forward(qtbot, controller,
                                                                 runs: RunsView) -> None:
    """3 conditions × 10: track 1 stops after 4 (targets met); the total stays 30 and the
    6 trials it did not need count as done."""
    run_id = _run(controller, {"max_iterations": 10, "conditions": ["1", "2", "3"]})
    bar = runs.progress_bar
    seen: list[tuple[int, int]] = []
    trial_id = 0
    for condition, stop_at in (("1", 4), ("2", 2)):
        for iteration in range(1, stop_at + 1):
            trial_id += 1
            controller.event.emit(_in(condition, finished(run_id, 1, trial_id, iteration, 1.0)))
            runs._redraw()
            seen.append((bar.value(), bar.maximum()))
        if condition == "1":
            controller.event.emit(Event("track_finished", run_id, condition="1", payload={
                "iterations": 4, "reason": "targets met by trial 4"}))
            runs._redraw()
            seen.append((bar.value(), bar.maximum()))
    assert bar.isVisible() and {maximum for _v, maximum in seen} == {30}
    values = [v for v, _m in seen]
    assert values == sorted(values) and values[-1] == 4 + 6 + 2
    assert bar.text() == "12 / 30"
    assert "6 / 30 trials · 6 skipped" in runs.progress.text()


@pytest.fixture
def condition_store(tmp_path: Path) -> tuple[Path, str]:
    """Two conditions of 60 trials: Length (an int of many values), Band Multiplier (floats
    with binary noise) and Stop; condition 3 holds the run's best trial."""
    from tvdesk.store import RunStore

    path = tmp_path / "conditions.sqlite"
    rng = np.random.default_rng(5)
    with RunStore.open(path) as store:
        run_id = store.create_run(engine="local", strategy_title="t", settings={
            "max_iterations": 60, "conditions": ["1", "3"], "request": {"strategy": {
                "inputs": [{"title": "Band Multiplier", "name": "mult", "step": 0.1}]}}})
        source = store.add_source("//@version=6", normalized_hash="n")
        for condition, lift in (("1", 0.0), ("3", 10.0)):
            best = -math.inf
            for i in range(60):
                inputs = {"Length": int(rng.integers(5, 201)),
                          "Band Multiplier": 0.5 + 0.1 * int(rng.integers(0, 36)),
                          "Stop": 0.3 + 0.1 * int(rng.integers(0, 4)),
                          "Condition": int(condition)}
                trial_id = store.start_trial(run_id, worker=1 + i % 2, condition=condition,
                                             iteration=i + 1, proposer="params",
                                             source_hash=source, inputs=inputs)
                net = float(rng.normal(0, 3)) + lift
                store.finish_trial(trial_id, metrics={NET: net, DD: abs(net) / 3 + 1})
                if net > best:
                    best = net
                    store.add_event(run_id, "new_best", {"trial_id": trial_id, "score": net,
                                                         "condition": condition})
    return path, run_id


def test_the_surface_shows_one_condition_at_a_time(qtbot, condition_store,
                                                   tmp_path: Path) -> None:
    path, run_id = condition_store
    controller = RunController(path)
    controller.run_id = run_id
    view = SurfaceView(controller)
    qtbot.addWidget(view)
    view.resize(900, 700)  # as narrow as the tab beside the setup panel
    view.show()
    qtbot.waitExposed(view)
    view.refresh()
    store = controller.store()
    condition_of = {t.id: t.condition for t in store.trials(run_id, segment="in_sample")}
    combo = view.condition_combo
    assert combo.isVisible() and [combo.itemText(i) for i in range(combo.count())] == ["1", "3"]
    assert combo.currentText() == "3"  # the condition of the run's chosen trial
    grid = view.surface
    assert grid is not None and grid.best_trial == load_surface_data(store, run_id).best_trial
    assert {condition_of[int(t)] for t in grid.trial_ids.flat if t >= 0} == {"3"}
    assert "condition 3" in view.info.text()
    view.select(condition="1")
    grid = view.surface
    assert {condition_of[int(t)] for t in grid.trial_ids.flat if t >= 0} == {"1"}
    assert int(grid.counts.sum()) == 60 and "condition 1" in view.info.text()
    # Integer inputs get whole-number bins; the fixed inputs read without float noise.
    length = grid.x if grid.x.name == "Length" else grid.y
    assert length.name == "Length" and all("." not in text for text in length.labels)
    view.select(mode="at_best")
    assert "Stop=" in view.info.text() and "0000000" not in view.info.text()
    shot(view, tmp_path, "surface_conditions")
    controller.store().close()


def test_surface_names_fit_their_space(qtbot, condition_store) -> None:
    """Axis names never overlap, the boxes show their entries whole, long slice titles are
    elided with the whole title as tooltip."""
    path, run_id = condition_store
    controller = RunController(path)
    controller.run_id = run_id
    view = SurfaceView(controller)
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    qtbot.waitExposed(view)
    view.refresh()
    axis = view.heat_plot.getAxis("bottom")
    cells = len(axis.labels)
    metrics = QtGui.QFontMetrics(axis.style.get("tickFont") or QtGui.QFont())
    widest = max(metrics.horizontalAdvance(t) for t in axis.labels)
    for pixels in (150.0, 400.0, 5000.0):
        (spacing, values), = axis.tickValues(-0.5, cells - 0.5, pixels)
        assert spacing * pixels / cells >= widest  # names this far apart cannot overlap
        assert values == [float(i) for i in range(0, cells, int(spacing))]
    assert axis.tickValues(-0.5, cells - 0.5, 5000.0)[0][0] == 1.0  # room: every name
    for box in (view.condition_combo, view.x_combo, view.y_combo, view.cell_text):
        longest = max(box.fontMetrics().horizontalAdvance(box.itemText(i))
                      for i in range(box.count()))
        assert box.width() >= longest
    assert view.metric_combo.view().minimumWidth() >= max(
        view.metric_combo.fontMetrics().horizontalAdvance(view.metric_combo.itemText(i))
        for i in range(view.metric_combo.count()))
    view.resize(700, 700)
    qtbot.waitUntil(lambda: "…" in view.x_slice.titleLabel.text, timeout=3000)
    assert "grey: every trial" in view.slice_widget.toolTip()
    # The elided title fits: it no longer widens the plot past its view.
    qtbot.waitUntil(lambda: view.x_slice.width() <= view.slice_widget.width(), timeout=3000)
    controller.store().close()


def test_switching_the_theme_repaints_every_chart(qtbot, qapp, controller,
                                                  runs: RunsView) -> None:
    from tvdesk.gui.theme import apply_theme
    from tvdesk.gui.widgets import EquityChart

    controller.event.emit(finished("themed", 1, 1, 1, 1.0))
    panel = runs.panels[1]
    surface_view = SurfaceView(controller)
    equity = EquityChart()
    for widget in (surface_view, equity):
        qtbot.addWidget(widget)
    charts = {"runs": panel.charts, "heatmap": surface_view.heat_widget,
              "slices": surface_view.slice_widget, "equity": equity}

    def backgrounds() -> dict[str, str]:
        return {name: chart.backgroundBrush().color().name() for name, chart in charts.items()}

    def axis_text() -> str:
        return panel.net_plot.getAxis("left").textPen().color().name()

    try:
        apply_theme(qapp, "light")
        qapp.processEvents()
        light, light_text = backgrounds(), axis_text()
        apply_theme(qapp, "dark")
        qapp.processEvents()
        dark = backgrounds()
        assert set(dark.values()) == {"#1f1f1f"} and set(light.values()) != {"#1f1f1f"}
        assert axis_text() == "#e6e6e6" != light_text
        assert surface_view.heat_plot.getAxis("bottom").textPen().color().name() == "#e6e6e6"
        assert equity.equity_plot.getAxis("left").textPen().color().name() == "#e6e6e6"
        apply_theme(qapp, "light")
        qapp.processEvents()
        assert backgrounds() == light
    finally:
        apply_theme(qapp, "system")
        qapp.processEvents()


def test_the_equity_chart_s_time_axis_says_the_year(qtbot) -> None:
    from datetime import UTC, datetime

    from tvdesk.gui.widgets import EquityChart
    from tvdesk.viewmodels.trial_details import EquityPlot

    chart = EquityChart()
    qtbot.addWidget(chart)
    chart.resize(700, 400)
    chart.show()
    qtbot.waitExposed(chart)
    start = datetime(2024, 3, 1, tzinfo=UTC).timestamp()
    x = tuple(start + day * 86_400.0 for day in range(150))  # March to July 2024
    equity = tuple(10_000.0 + 5 * day for day in range(150))
    chart.set_plot(EquityPlot(x=x, equity=equity, drawdown=tuple(0.0 for _ in x),
                              initial_capital=10_000.0, kind="daily"), "USD")
    chart.grab()  # a paint: the axis picks its zoom level and font
    axis = chart.drawdown_plot.getAxis("bottom")
    low, high = chart.drawdown_plot.getViewBox().viewRange()[0]
    levels = axis.tickValues(low, high, axis.width())
    labels = [s for spacing, values in levels for s in axis.tickStrings(values, 1.0, spacing)]
    assert labels and all("2024" in s for s in labels if s[:3].isalpha())
    assert any(s.startswith(("Mar", "Apr", "May")) for s in labels)
