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
    assert "judged" in log and "holdout" in log and "stopped: reason=finished" in log
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
    progress.track_finished(40, 100)  # a track stopped at 40 of its 100: the rest is not left
    assert progress.total == 40
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
