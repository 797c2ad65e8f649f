"""The Compare view on a real run store made by a real (small) optimisation.

Headless: Qt's offscreen platform, pytest-qt's `qtbot`. The store is made once per module by
running the optimiser on the example SMA cross strategy; one trial's kept result and daily
returns are then removed, for the "no curve" message.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import shutil
import sqlite3
from pathlib import Path

import pytest

from tvdesk.gui.compare_view import PLACEHOLDER, CompareView
from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import Qt, QtGui
from tvdesk.gui.results_model import GREEN, RED
from tvdesk.store import RunStore

from engine_helpers import optimise_example

NET = "net_profit_percent"
SHOTS = os.environ.get("TVDESK_GUI_SHOTS")


@pytest.fixture(scope="module")
def run_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("compare") / "runs.sqlite"
    return path, optimise_example(path, max_iterations=8)


@pytest.fixture
def controller(run_store: tuple[Path, str]):
    path, run_id = run_store
    ctl = RunController(path)
    ctl.run_id = run_id
    yield ctl
    ctl.store().close()


def _view(qtbot, controller: RunController) -> CompareView:
    view = CompareView(controller)
    qtbot.addWidget(view)
    view.resize(1300, 850)
    return view


def _three(controller: RunController) -> list:
    """Three finished in-sample trials, best first, with different inputs but one input the
    same (so the inputs table has something to leave out)."""
    trials = controller.store().trials(controller.run_id, segment="in_sample", status="done")
    ranked = sorted(trials, key=lambda t: -(t.metrics.get(NET) or -1e9))
    for name in ranked[0].inputs:
        for value in {repr(t.inputs.get(name)) for t in ranked}:
            chosen: list = []
            for trial in ranked:
                if repr(trial.inputs.get(name)) == value and \
                        all(trial.inputs != other.inputs for other in chosen):
                    chosen.append(trial)
            if len(chosen) >= 3:
                return chosen[:3]
    raise AssertionError("no three trials share an input value")


def test_compare_shows_one_curve_per_trial_and_only_differing_inputs(
        qtbot, controller, tmp_path: Path) -> None:
    view = _view(qtbot, controller)
    assert view.stack.currentIndex() == 0 and view.placeholder.text() == PLACEHOLDER
    trials = _three(controller)
    view.compare([t.id for t in trials])
    assert view.stack.currentIndex() == 1 and view.trial_ids == [t.id for t in trials]
    # One curve per trial, named in the legend, each its own pen.
    assert len(view.curves) == 3
    assert [item[1].text for item in view.legend.items] == [f"Trial {t.id}" for t in trials]
    assert len({curve.opts["pen"].color().name() for curve in view.curves}) == 3
    for curve in view.curves:
        assert curve.xData is not None and len(curve.xData) > 10
        assert curve.yData[0] == pytest.approx(10_000, rel=0.05)
    assert view.chart_note.isHidden()
    # Metrics: rows are metrics, columns the trials, then the differences from the first.
    model = view.metrics_model
    headers = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(model.columnCount())]
    assert headers == ["Metric", *(f"Trial {t.id}" for t in trials),
                       f"Δ {trials[1].id} vs {trials[0].id}",
                       f"Δ {trials[2].id} vs {trials[0].id}"]
    assert model.index(0, 0).data() == "Net profit %"
    for column in (4, 5):  # best first: the others have less net profit: worse, red
        assert model.index(0, column).data().startswith("-")
        colour = model.index(0, column).data(Qt.ItemDataRole.ForegroundRole)
        assert isinstance(colour, QtGui.QColor) and colour.name() == QtGui.QColor(RED).name()
    drawdown = next(r for r in range(model.rowCount())
                    if model.index(r, 0).data() == "Max equity drawdown (intrabar) %")
    for column in (4, 5):
        text = model.index(drawdown, column).data()
        colour = model.index(drawdown, column).data(Qt.ItemDataRole.ForegroundRole)
        if text.startswith("-"):  # less drawdown than the first: better
            assert colour.name() == QtGui.QColor(GREEN).name()
        elif text.startswith("+"):
            assert colour.name() == QtGui.QColor(RED).name()
    # Inputs: only those that differ, unless all are asked for.
    differing = [name for name in trials[0].inputs
                 if len({repr(t.inputs.get(name)) for t in trials}) > 1]
    same = [name for name in trials[0].inputs if name not in differing]
    assert differing and same  # the example searches some inputs and not others
    assert view.shown_input_names() == differing
    view.show_all_inputs.setChecked(True)
    assert view.shown_input_names() == list(trials[0].inputs)
    view.show_all_inputs.setChecked(False)
    assert view.shown_input_names() == differing
    # The captions say the condition and segment; the same for all: no warning.
    assert "in-sample" in view.captions.findChildren(type(view.title_label))[1].text()
    assert view.notes_label.isHidden()
    # Double-clicking a trial's column opens it.
    with qtbot.waitSignal(view.trial_activated, timeout=1000) as opened:
        view.metrics_table.horizontalHeader().sectionDoubleClicked.emit(2)
    assert opened.args == [trials[1].id]
    view.show()
    qtbot.waitExposed(view)
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    assert view.grab().save(str(folder / "compare.png"))


def test_compare_a_trial_without_result_and_another_segment(
        qtbot, run_store, tmp_path: Path) -> None:
    source, run_id = run_store
    path = tmp_path / "copy.sqlite"
    shutil.copy(source, path)
    with RunStore.open(path) as store:
        best = _three_of(store, run_id)[0]
        [holdout] = store.trials(run_id, segment="holdout")
        bare = _three_of(store, run_id)[1]
    with sqlite3.connect(path) as conn:  # as a store that kept neither result nor returns
        conn.execute("UPDATE trials SET result_json = NULL WHERE id = ?", (bare.id,))
        conn.execute("DELETE FROM daily_returns WHERE trial_id = ?", (bare.id,))
    controller = RunController(path)
    controller.run_id = run_id
    try:
        view = _view(qtbot, controller)
        view.compare([best.id, bare.id, holdout.id, 999_999])
        assert view.trial_ids == [best.id, bare.id, holdout.id]
        assert len(view.curves) == 2  # no curve for the bare trial
        assert [item[1].text for item in view.legend.items] == [f"Trial {best.id}",
                                                               f"Trial {holdout.id}"]
        assert view.chart_note.isVisibleTo(view)
        assert f"Trial {bare.id}" in view.chart_note.text()
        notes = view.notes_label.text()
        assert view.notes_label.isVisibleTo(view)
        assert "Different segments" in notes and "holdout" in notes
        assert "trial 999999" in notes
        # A second comparison replaces the curves, it does not add to them.
        view.compare([best.id, holdout.id])
        assert len(view.curves) == 2 and len(view.legend.items) == 2
        assert "Different segments" in view.notes_label.text()
        view.compare([999_999])
        assert view.stack.currentIndex() == 0 and "999999" in view.placeholder.text()
    finally:
        controller.store().close()


def _three_of(store: RunStore, run_id: str) -> list:
    trials = store.trials(run_id, segment="in_sample", status="done")
    return sorted(trials, key=lambda t: -(t.metrics.get(NET) or -1e9))[:3]
