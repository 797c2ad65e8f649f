"""Results, Trial and Lineage views on a real run store made by a real (small) optimisation.

Headless: Qt's offscreen platform, pytest-qt's `qtbot`. The store is made once per module by
running the optimiser on the example SMA cross strategy; a second store adds two LLM rewrites
(sources with parents, trials, the prompts and replies) through the store's own API, for the
lineage, the diff and the LLM tab. Each view is also grabbed to a PNG (see `SHOTS`).
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import asyncio
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from tvdesk.events import Event
from tvdesk.gui.controller import RunController
from tvdesk.gui.lineage_view import HASH_ROLE, LineageView
from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets
from tvdesk.gui.results_model import TRIAL_ID_ROLE, ResultsModel, ResultsProxy
from tvdesk.gui.results_view import ResultsView
from tvdesk.gui.trial_view import RERUN_TIP, TrialView
from tvdesk.model import BacktestRequest, SymbolSpec
from tvdesk.optimize.pine_text import normalized_hash
from tvdesk.optimize.settings import OptimizeSettings
from tvdesk.pine.loader import load_strategy
from tvdesk.reports.labels import format_value
from tvdesk.store import RunStore, TrialRow
from tvdesk.viewmodels.lineage import build_lineage
from tvdesk.viewmodels.results_table import (
    ResultsTable,
    RunLayout,
    TrialFilter,
    inputs_text,
    run_layout,
    tag_name,
)
from tvdesk.viewmodels.trial_details import drawdown_percent, prompt_text, source_diff

from engine_helpers import optimise_example

ROOT = Path(__file__).resolve().parents[2]
SHOTS = os.environ.get("TVDESK_GUI_SHOTS")  # a folder to keep the PNGs in (else tmp)
NET = "net_profit_percent"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def run_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("gui") / "runs.sqlite"
    return path, optimise_example(path, max_iterations=8)


def _rewrite(pine: str, note: str, length: int) -> str:
    """A changed Pine text (a rewrite): a different slow average and a comment."""
    return pine.replace("slow = ta.sma(close, slowLen",
                        f"// {note}\nslow = ta.sma(close, slowLen + {length}", 1)


@pytest.fixture(scope="module")
def llm_store(run_store: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory,
              ) -> tuple[Path, str, dict[str, int | str]]:
    """The run plus two LLM rewrites (child and grandchild of the base script)."""
    source, run_id = run_store
    path = tmp_path_factory.mktemp("gui-llm") / "runs.sqlite"
    shutil.copy(source, path)
    ids: dict[str, int | str] = {}
    with RunStore.open(path) as store:
        trials = store.trials(run_id, segment="in_sample", status="done")
        best = max(trials, key=lambda t: t.metrics[NET])
        base = best.source_hash
        daily = store.daily_returns(run_id)[best.id]
        result = store.trial_result(best.id)
        parent = base
        for step, name in ((1, "child"), (2, "grandchild")):
            pine = _rewrite(store.get_source(parent), f"rewrite {step}: smoother trend filter",
                            step)
            digest = store.add_source(pine, normalized_hash=normalized_hash(pine),
                                      parent_hash=parent)
            trial_id = store.start_trial(run_id, worker=1, condition=None, iteration=8 + step,
                                         proposer="llm", source_hash=digest,
                                         inputs=best.inputs)
            metrics = dict(best.metrics)
            metrics[NET] = best.metrics[NET] + step
            store.finish_trial(trial_id, result=result, metrics=metrics, daily_returns=daily)
            messages = [{"role": "system", "content": "You improve Pine strategies."},
                        {"role": "user", "content": f"Improve version {parent[:8]}."}]
            store.add_llm_exchange(run_id, model="fake-model", prompt=json.dumps(messages),
                                   reply=f"Smoother.\n\n```pine\n{pine}```", latency=1.5,
                                   outcome="ok", worker=1, trial_id=trial_id)
            ids[name], ids[f"{name}_hash"] = trial_id, digest
            parent = digest
        ids["base_hash"] = base
    return path, run_id, ids


@pytest.fixture
def controller(run_store: tuple[Path, str]):
    path, run_id = run_store
    ctl = RunController(path)
    ctl.run_id = run_id
    yield ctl
    ctl.store().close()


@pytest.fixture
def llm_controller(llm_store):
    path, run_id, _ids = llm_store
    ctl = RunController(path)
    ctl.run_id = run_id
    yield ctl
    ctl.store().close()


def _shot(widget: QtWidgets.QWidget, tmp_path: Path, name: str) -> Path:
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert widget.grab().save(str(path))
    assert path.stat().st_size > 1000
    return path


@pytest.fixture(autouse=True)
def results_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The results' column choices go to a file in tmp_path, never to the user's settings."""
    path = tmp_path / "results.ini"
    monkeypatch.setattr("tvdesk.gui.results_view.app_settings", lambda: _settings(path))
    return path


def _settings(path: Path) -> QtCore.QSettings:
    return QtCore.QSettings(str(path), QtCore.QSettings.Format.IniFormat)


def _results(qtbot, controller: RunController,
             settings: QtCore.QSettings | None = None) -> ResultsView:
    view = ResultsView(controller, settings=settings)
    qtbot.addWidget(view)
    view.resize(1400, 520)
    view.refresh()
    return view


def _column(view: ResultsView, kind: str, key: str) -> int:
    return next(i for i, c in enumerate(view.model.table.columns)
                if c.kind == kind and c.key == key)


def _shown_ids(view: ResultsView) -> list[int]:
    proxy = view.proxy
    return [proxy.index(row, 0).data(TRIAL_ID_ROLE) for row in range(proxy.rowCount())]


# --------------------------------------------------------------------------- results


def test_results_show_every_trial_with_inputs_metrics_and_tag(qtbot, controller,
                                                              tmp_path: Path) -> None:
    view = _results(qtbot, controller)
    store = controller.store()
    trials = store.trials(controller.run_id)
    assert view.model.rowCount() == len(trials) == view.proxy.rowCount()
    headers = [view.model.headerData(i, Qt.Orientation.Horizontal).replace("\n", " ")
               for i in range(view.model.columnCount())]
    for name in ("Fast Length", "Slow Length", "Allow Shorts", "Net profit %", "Tag",
                 "Max drawdown %", "Total trades", "Profit factor", "Segment",
                 "Sharpe ratio (TradingView)", "Sharpe daily (tvdesk)", "Win rate %"):
        assert name in headers
    # Cells: formatted like the reports; the tag's reasons are in its tooltip.
    first = trials[0]
    row = view.model.table.row_of(first.id)
    net = view.model.index(row, _column(view, "metric", NET))
    assert net.data() == format_value(NET, first.metrics[NET])
    tag = view.model.index(row, _column(view, "tag", "tag"))
    assert tag.data() == tag_name(first.tag)
    assert all(reason in tag.data(Qt.ItemDataRole.ToolTipRole) for reason in first.reasons)
    # The holdout trial's result shows on the in-sample trial it re-ran.
    [holdout] = store.trials(controller.run_id, segment="holdout")
    twin = next(t for t in trials if t.segment == "in_sample" and t.inputs == holdout.inputs)
    cell = view.model.index(view.model.table.row_of(twin.id), _column(view, "holdout", NET))
    assert cell.data() == format_value(NET, holdout.metrics[NET])
    assert "trials" in view.count_label.text()
    view.show()
    qtbot.waitExposed(view)
    _shot(view, tmp_path, "results")


def test_sorting_by_net_profit_is_numeric(qtbot, controller) -> None:
    view = _results(qtbot, controller)
    column = _column(view, "metric", NET)
    view.table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
    values = [controller.store().trial(i).metrics.get(NET) for i in _shown_ids(view)]
    numbers = [v for v in values if v is not None]
    assert numbers == sorted(numbers, reverse=True)
    assert values[: len(numbers)] == numbers  # missing values last
    view.table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
    ascending = [controller.store().trial(i).metrics.get(NET) for i in _shown_ids(view)]
    assert [v for v in ascending if v is not None] == sorted(numbers)
    # Text columns sort too, and the trial id column restores start order.
    view.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert _shown_ids(view) == sorted(_shown_ids(view))


def test_tag_condition_worker_and_source_filters(qtbot, controller) -> None:
    view = _results(qtbot, controller)
    trials = controller.store().trials(controller.run_id)
    total = len(trials)
    counts = {name: sum(1 for t in trials if tag_name(t.tag) == name)
              for name in ("GOOD", "NORMAL", "RISK", "OVERFIT", "untagged")}
    name = next(n for n, c in counts.items() if c < total)
    view.set_tag_filter(name)
    assert view.proxy.rowCount() == counts[name] < total
    assert all(tag_name(controller.store().trial(i).tag) == name for i in _shown_ids(view))
    view.set_tag_filter(None)
    assert view.proxy.rowCount() == total
    # Worker 0 ran the holdout only.
    view.worker_filter.setCurrentIndex(view.worker_filter.findData(0))
    assert _shown_ids(view) == [t.id for t in trials if t.worker == 0]
    view.clear_filters()
    view.segment_filter.setCurrentIndex(view.segment_filter.findData("in_sample"))
    assert view.proxy.rowCount() == sum(1 for t in trials if t.segment == "in_sample")
    view.clear_filters()
    # The script's own condition (None) is a choice like any other.
    view.condition_filter.setCurrentIndex(1)
    assert view.proxy.rowCount() == total
    view.clear_filters()
    # The lineage's selection filters by source.
    view.filter_by_source("0" * 32)
    assert view.proxy.rowCount() == 0 and view.source_chip.isVisibleTo(view)
    view.filter_by_source(trials[0].source_hash)
    assert view.proxy.rowCount() == total
    view.source_chip.click()
    assert view.proxy.trial_filter == TrialFilter()


def test_metric_range_filter(qtbot, controller) -> None:
    view = _results(qtbot, controller)
    trials = controller.store().trials(controller.run_id)
    values = sorted(t.metrics[NET] for t in trials if t.metrics.get(NET) is not None)
    middle = values[len(values) // 2]
    view.set_metric_range(NET)  # chosen, no bound edited: nothing hidden yet
    assert view.proxy.rowCount() == len(trials)
    assert view.metric_low.isEnabled() and view.metric_low.value() == pytest.approx(
        values[0], abs=0.01)
    view.set_metric_range(NET, low=round(middle, 2))
    expected = [t.id for t in trials if (t.metrics.get(NET) or -1e9) >= round(middle, 2)]
    assert sorted(_shown_ids(view)) == expected
    assert 0 < view.proxy.rowCount() < len(trials)
    view.metric_high.setValue(round(middle, 2))
    assert all(abs(controller.store().trial(i).metrics[NET] - middle) < 0.01
               for i in _shown_ids(view))
    # Any metric can filter, not only the table's columns.
    assert "sqn" in [view.metric_filter.itemData(i) for i in range(view.metric_filter.count())]
    view.clear_filters()
    assert view.proxy.rowCount() == len(trials) and not view.metric_low.isEnabled()


def test_double_click_opens_the_trial(qtbot, controller) -> None:
    view = _results(qtbot, controller)
    view.show()
    qtbot.waitExposed(view)
    view.table.sortByColumn(_column(view, "metric", NET), Qt.SortOrder.DescendingOrder)
    index = view.proxy.index(2, 3)
    expected = index.data(TRIAL_ID_ROLE)
    rect = view.table.visualRect(index)
    with qtbot.waitSignal(view.trial_activated, timeout=2000) as blocker:
        qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [expected]
    best = controller.store().best_trial(controller.run_id, NET)
    assert expected != best.id  # the third row, not simply the first trial or the best


def test_live_events_insert_rows_and_judged_tags_update_in_place(qtbot, controller) -> None:
    """While a run goes on: rows arrive one by one and tags are written in place."""
    view = _results(qtbot, controller)
    run_id = controller.run_id
    trials = controller.store().trials(run_id)
    view.table.sortByColumn(_column(view, "metric", NET), Qt.SortOrder.DescendingOrder)
    view.model.reload([], "USD")
    resets: list[int] = []
    inserted: list[int] = []
    view.model.modelReset.connect(lambda: resets.append(1))
    view.model.rowsInserted.connect(lambda _p, first, _last: inserted.append(first))
    for trial in trials:
        kind = "holdout" if trial.segment == "holdout" else "trial_finished"
        controller.event.emit(Event(kind=kind, run_id=run_id, worker=trial.worker,
                                    trial_id=trial.id))
    assert view.model.rowCount() == len(trials) == len(inserted)
    assert not resets
    shown = [controller.store().trial(i).metrics[NET] for i in _shown_ids(view)]
    assert shown == sorted(shown, reverse=True)  # each row went where the sort puts it
    # Judgement: tags arrive for rows that were untagged, without a reload.
    view.model.table.load([replace(t, tag=None, reasons=()) for t in trials])
    view.model.table.sort(_column(view, "metric", NET), True)
    changed: list[int] = []
    view.model.dataChanged.connect(lambda a, b: changed.append(b.row() - a.row() + 1))
    controller.event.emit(Event(kind="judged", run_id=run_id))
    assert not resets and changed
    assert [t.tag for t in view.model.table.trials] == \
        [controller.store().trial(t.id).tag for t in view.model.table.trials]
    # Another run's events are ignored.
    controller.event.emit(Event(kind="trial_finished", run_id="other", trial_id=trials[0].id))
    assert view.model.rowCount() == len(trials)


def test_ten_thousand_rows_sort_filter_and_insert(qtbot, controller) -> None:
    """Model/view at scale: one reset, numeric sort, filters, placed inserts."""
    base = controller.store().trials(controller.run_id)[0]
    rows = [replace(base, id=i, worker=1 + i % 4, tag=("GOOD", "RISK", None)[i % 3],
                    metrics={**base.metrics, NET: float((i * 7919) % 1000 - 500) / 10},
                    inputs={**base.inputs, "Fast Length": i % 97})
            for i in range(1, 10_001)]
    model = ResultsModel()
    proxy = ResultsProxy()
    proxy.setSourceModel(model)
    view = QtWidgets.QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    model.reload(rows)
    assert proxy.rowCount() == 10_000
    net = next(i for i, c in enumerate(model.table.columns) if c.key == NET)
    view.sortByColumn(net, Qt.SortOrder.DescendingOrder)
    top = [model.table.value(proxy.mapToSource(proxy.index(r, 0)).row(), net)
           for r in range(50)]
    assert top == sorted(top, reverse=True) and top[0] == 49.9
    proxy.set_filter(TrialFilter(tag="GOOD", worker=2, metric=NET, low=0.0))
    expected = [r for r in rows if r.tag == "GOOD" and r.worker == 2 and r.metrics[NET] >= 0]
    assert proxy.rowCount() == len(expected) > 0
    new = replace(rows[0], id=20_000, tag="GOOD", worker=2, metrics={NET: 25.05})
    model.upsert(new)
    assert model.rowCount() == 10_001 and proxy.rowCount() == len(expected) + 1
    position = model.table.row_of(20_000)
    assert model.table.value(position - 1, net) >= 25.05 >= model.table.value(position + 1, net)


# --------------------------------------------------------------------------- results: layout


def _visible_headers(view: ResultsView) -> list[str]:
    header = view.table.horizontalHeader()
    logical = [header.logicalIndex(v) for v in range(header.count())]
    return [view.model.table.columns[i].header for i in logical
            if not header.isSectionHidden(i)]


def test_results_open_best_first_by_the_objective_trial_tag_and_metrics_first(
        qtbot, controller) -> None:
    view = _results(qtbot, controller)
    store = controller.store()
    trials = store.trials(controller.run_id)
    columns = view.model.table.columns
    assert [c.header for c in columns[:9]] == [
        "Trial", "Tag", "Net profit %", "Max drawdown %", "Profit factor", "Total trades",
        "Win rate %", "Sharpe ratio (TradingView)", "Sharpe daily (tvdesk)"]
    kinds = [c.kind for c in columns]
    inputs = [i for i, kind in enumerate(kinds) if kind == "input"]
    assert inputs and max(i for i, k in enumerate(kinds) if k in ("metric", "holdout")) \
        < inputs[0]
    assert [c.kind for c in columns[inputs[-1] + 1:]] == [
        "condition", "segment", "worker", "iteration", "proposer", "status", "source"]
    # Shown: bookkeeping only where it tells this run's trials apart.
    visible = _visible_headers(view)
    assert visible[:4] == ["Trial", "Tag", "Net profit %", "Max drawdown %"]
    assert "Segment" in visible and "Holdout net profit %" in visible  # a holdout ran
    for name in ("Worker", "Iteration", "Proposer", "Source", "Condition"):
        assert name not in visible
    assert ("Status" in visible) == any(t.status != "done" for t in trials)
    # Sorted by the run's objective (net profit %, maximised): best first, missing last.
    targets = store.get_run(controller.run_id).settings["targets"]
    assert (targets["objective"], targets["maximize"]) == (NET, True)
    header = view.table.horizontalHeader()
    assert header.sortIndicatorSection() == _column(view, "metric", NET)
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    values = [store.trial(i).metrics.get(NET) for i in _shown_ids(view)]
    numbers = [v for v in values if v is not None]
    assert len(set(numbers)) > 2 and numbers == sorted(numbers, reverse=True)
    assert values[: len(numbers)] == numbers
    assert _shown_ids(view) != sorted(_shown_ids(view))  # not the trial order
    # The same run keeps the user's order on a refresh; another run opens by its objective.
    view.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    view.refresh()
    assert header.sortIndicatorSection() == 0 and _shown_ids(view) == sorted(_shown_ids(view))
    view.run_id = "another run"  # as if another run had been shown
    view.refresh()
    assert header.sortIndicatorSection() == _column(view, "metric", NET)
    assert [store.trial(i).metrics.get(NET) for i in _shown_ids(view)] == values


def test_results_headers_are_not_clipped(qtbot, controller) -> None:
    view = _results(qtbot, controller)
    view.show()
    qtbot.waitExposed(view)
    header = view.table.horizontalHeader()
    metrics = QtGui.QFontMetrics(header.font())
    wrapped = 0
    for column, spec in enumerate(view.model.table.columns):
        text = view.model.headerData(column, Qt.Orientation.Horizontal)
        tip = view.model.headerData(column, Qt.Orientation.Horizontal,
                                    Qt.ItemDataRole.ToolTipRole)
        assert text.replace("\n", " ") == spec.header and spec.header in tip
        if header.isSectionHidden(column):
            continue
        lines = text.split("\n")
        wrapped += len(lines) > 1
        assert header.sectionSize(column) >= max(metrics.horizontalAdvance(line)
                                                 for line in lines), spec.header
        assert header.height() >= len(lines) * metrics.height()
    assert wrapped >= 3  # "Sharpe ratio / (TradingView)", "Profit / factor" ...


def test_column_chooser_hides_shows_and_remembers(qtbot, controller) -> None:
    view = _results(qtbot, controller)
    profit_factor = _column(view, "metric", "profit_factor")
    worker = _column(view, "worker", "worker")
    assert not view.table.isColumnHidden(profit_factor) and view.table.isColumnHidden(worker)
    assert view.columns_button.menu() is view.columns_menu
    assert view.table.horizontalHeader().contextMenuPolicy() == \
        Qt.ContextMenuPolicy.CustomContextMenu

    def actions(results: ResultsView) -> dict[str, QtGui.QAction]:
        results._fill_columns_menu()  # as aboutToShow does
        return {a.text(): a for a in results.columns_menu.actions() if a.isCheckable()}

    chooser = actions(view)
    assert {"Trial", "Tag", "Fast Length", "Worker", "Source"} <= set(chooser)
    assert chooser["Profit factor"].isChecked() and not chooser["Worker"].isChecked()
    assert not chooser["Trial"].isEnabled()  # a row always keeps its handle
    chooser["Profit factor"].trigger()
    chooser["Worker"].trigger()
    assert view.table.isColumnHidden(profit_factor)
    assert not view.table.isColumnHidden(worker) and view.table.columnWidth(worker) > 0
    # The app started again: the choice is still there.
    again = _results(qtbot, controller)
    assert again.table.isColumnHidden(profit_factor)
    assert not again.table.isColumnHidden(worker)
    chooser = actions(again)
    assert not chooser["Profit factor"].isChecked() and chooser["Worker"].isChecked()
    chooser["Profit factor"].trigger()  # shown again
    assert not again.table.isColumnHidden(profit_factor)
    again.reset_columns()
    assert again.table.isColumnHidden(worker)
    third = _results(qtbot, controller)
    assert third.table.isColumnHidden(worker) and not third.table.isColumnHidden(profit_factor)


def test_row_menu_opens_compares_copies_exports_and_reruns(qtbot, controller) -> None:
    view = _results(qtbot, controller)
    view.show()
    qtbot.waitExposed(view)
    first, second = view.proxy.index(0, 2), view.proxy.index(1, 2)
    ids = [first.data(TRIAL_ID_ROLE), second.data(TRIAL_ID_ROLE)]
    menu = view.row_menu(second)
    assert menu is not None and view.selected_trial_ids() == [ids[1]]
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert list(actions) == [f"Open trial {ids[1]}", "Compare", "Copy inputs", "Export Pine…",
                             "Re-run on TradingView"]
    assert not actions["Compare"].isEnabled()  # one row selected
    for text, signal in ((f"Open trial {ids[1]}", view.trial_activated),
                         ("Export Pine…", view.export_pine_requested),
                         ("Re-run on TradingView", view.rerun_requested)):
        with qtbot.waitSignal(signal, timeout=1000) as blocker:
            actions[text].trigger()
        assert blocker.args == [ids[1]], text
    QtGui.QGuiApplication.clipboard().clear()
    actions["Copy inputs"].trigger()
    trial = controller.store().trial(ids[1])
    lines = QtGui.QGuiApplication.clipboard().text().split("\n")
    assert [line.split("=", 1)[0] for line in lines] == list(trial.inputs)
    for line, value in zip(lines, trial.inputs.values(), strict=True):
        text = line.split("=", 1)[1]
        if isinstance(value, bool):
            assert text == ("On" if value else "Off")
        else:
            assert float(text) == pytest.approx(value) and len(text) < 12
    # Extended selection: a second row (ctrl-click), then Compare sends both in table order.
    view.table.selectionModel().select(
        first, QtCore.QItemSelectionModel.SelectionFlag.Select
        | QtCore.QItemSelectionModel.SelectionFlag.Rows)
    assert view.table.selectionMode() == \
        QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection
    menu = view.row_menu(second)  # right-click inside the selection keeps it
    compare = next(a for a in menu.actions() if a.text().startswith("Compare"))
    assert compare.isEnabled() and compare.text() == "Compare 2 trials"
    with qtbot.waitSignal(view.compare_requested, timeout=1000) as blocker:
        compare.trigger()
    assert blocker.args == [ids]
    # A right-click outside the selection selects that row only; off the rows: no menu.
    third = view.proxy.index(2, 0)
    view.row_menu(third)
    assert view.selected_trial_ids() == [third.data(TRIAL_ID_ROLE)]
    assert view.row_menu(QtCore.QModelIndex()) is None
    assert view.table.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu


def test_copied_inputs_have_no_float_noise() -> None:
    inputs = {"Band Multiplier": 3.9000000000000004, "ATR Stop": 1.2000000000000002,
              "Length": 20, "Shorts": True, "Mode": "Fast", "Factor": 2.0}
    assert inputs_text(inputs) == ("Band Multiplier=3.9\nATR Stop=1.2\nLength=20\n"
                                   "Shorts=On\nMode=Fast\nFactor=2")
    assert inputs_text({"Step": 0.30000000000000004}, {"Step": 0.1}) == "Step=0.3"


def test_results_table_objective_and_condition_layout() -> None:
    settings = {"targets": {"objective": "max_drawdown_percent", "maximize": False},
                "conditions": ["1", "3"], "condition_input": "Condition"}
    layout = run_layout(settings)
    assert layout == RunLayout("max_drawdown_percent", False, "Condition", {})
    rows = [_row(i, None, condition=c, inputs={"Length": i, "Condition": c},
                 metrics={"max_drawdown_percent": dd})
            for i, c, dd in ((1, "1", 5.0), (2, "3", 2.0), (3, "1", None), (4, "3", 9.0))]
    table = ResultsTable()
    table.configure(layout)
    table.sort_by_objective()
    table.load(rows)
    assert [t.id for t in table.trials] == [2, 1, 4, 3]  # minimised: lowest first, missing last
    headers = [c.header for c in table.columns]
    assert headers.count("Condition") == 1 and "Length" in headers  # the input is the column
    condition = next(c for c in table.columns if c.kind == "condition")
    assert table.default_visible(condition)  # two conditions: worth a column
    assert table.text(0, table.columns.index(condition)) == "3"
    # An objective outside the key metrics gets its own column, and the sort.
    table = ResultsTable()
    table.configure(RunLayout("sortino_ratio", True))
    table.sort_by_objective()
    table.load([_row(1, 1.0, metrics={"sortino_ratio": 0.5}),
                _row(2, 2.0, metrics={"sortino_ratio": 1.5})])
    assert table.columns[table.sort_column].key == "sortino_ratio"
    assert [t.id for t in table.trials] == [2, 1] and table.descending
    condition = next(c for c in table.columns if c.kind == "condition")
    assert not table.default_visible(condition)  # one condition: hidden


# --------------------------------------------------------------------------- trial


def test_trial_view_shows_stats_trades_chart_and_source(qtbot, controller,
                                                        tmp_path: Path) -> None:
    store = controller.store()
    best = store.best_trial(controller.run_id, NET)
    result = store.trial_result(best.id)
    view = TrialView(controller)
    qtbot.addWidget(view)
    view.resize(1300, 860)
    view.show_trial(best.id)
    assert view.stack.currentIndex() == 1
    assert view.title_label.text() == f"Trial {best.id}"
    assert view.tag_label.text() == tag_name(best.tag)
    net = view.cards[0]
    assert net.title.text() == "Net profit"
    assert net.value.text() == f"+{format_value('net_profit', best.metrics['net_profit'])}"
    assert net.detail.text() == f"+{format_value(NET, best.metrics[NET])}"
    trades = view.cards[2]
    assert trades.value.text() == format_value("total_trades", best.metrics["total_trades"])
    assert view.trades_model.rowCount() == len(result.trades)
    assert view.source_edit.toPlainText() == store.get_source(best.source_hash)
    assert view.source_edit.isReadOnly()
    assert view.source_edit.font().styleHint() == QtGui.QFont.StyleHint.Monospace or \
        QtGui.QFontInfo(view.source_edit.font()).fixedPitch()
    # The full metrics, TradingView's labels; tvdesk's own marked as tvdesk's.
    labels = [view.metrics_tree.topLevelItem(i).text(0)
              for i in range(view.metrics_tree.topLevelItemCount())]
    assert "Max equity drawdown (intrabar)" in labels and "Sharpe ratio" in labels
    assert "Sharpe ratio (daily, tvdesk)" in labels
    # The chart: equity rebuilt from the kept daily returns, drawdown below, buy & hold.
    chart = view.chart  # the curves' own data (getData is clipped to the view)
    x, y = chart.equity_curve.xData, chart.equity_curve.yData
    assert x is not None and len(x) > 100 and y[-1] == pytest.approx(
        10_000 + best.metrics["net_profit"], rel=0.01)
    dd = chart.drawdown_curve.yData
    assert len(dd) == len(x) and max(dd) <= 0.0 and min(dd) < 0.0
    assert len(chart.buy_hold_curve.xData) > 0
    assert view.monthly_table.rowCount() >= 1 and view.monthly_table.item(0, 12) is not None
    assert not view.tabs.isTabEnabled(view.llm_index)  # a parameter trial has no prompt
    assert view.rerun_button.isEnabled() and view.rerun_button.toolTip() == RERUN_TIP
    view.show()
    qtbot.waitExposed(view)
    _shot(view, tmp_path, "trial_overview")
    for index, name in ((1, "trial_performance"), (2, "trial_trades"),
                        (3, "trial_monthly"), (4, "trial_source")):
        view.tabs.setCurrentIndex(index)
        _shot(view, tmp_path, name)


def test_trial_view_copy_and_save_the_script(qtbot, controller, tmp_path: Path) -> None:
    store = controller.store()
    trial = store.trials(controller.run_id)[0]
    view = TrialView(controller)
    qtbot.addWidget(view)
    view.show_trial(trial.id)
    pine = store.get_source(trial.source_hash)
    view.copy_button.click()
    assert QtGui.QGuiApplication.clipboard().text() == pine
    view.save_button.click()
    dialog = view._save_dialog
    assert dialog is not None and dialog.isVisible()  # open(), not exec()
    target = tmp_path / "saved"
    dialog.setOption(QtWidgets.QFileDialog.Option.DontUseNativeDialog, True)
    dialog.selectFile(str(target))
    dialog.accept()
    assert (tmp_path / "saved.pine").read_text(encoding="utf-8") == pine
    assert "saved.pine" in view.status_label.text()


def test_trial_view_export_and_copy_pine_ask_the_window(qtbot, controller) -> None:
    view = TrialView(controller)
    qtbot.addWidget(view)
    with qtbot.assertNotEmitted(view.export_pine_requested):
        view.export_pine_button.click()  # no trial shown yet
    trial = controller.store().trials(controller.run_id)[1]
    view.show_trial(trial.id)
    with qtbot.waitSignal(view.export_pine_requested, timeout=1000) as export:
        view.export_pine_button.click()
    assert export.args == [trial.id]
    with qtbot.waitSignal(view.copy_pine_requested, timeout=1000) as copy:
        view.copy_pine_button.click()
    assert copy.args == [trial.id]
    assert view.export_pine_button.text() == "Export Pine…"
    assert view.copy_pine_button.text() == "Copy Pine"


def test_trial_view_unknown_trial_and_holdout(qtbot, controller) -> None:
    view = TrialView(controller)
    qtbot.addWidget(view)
    view.show_trial(999_999)
    assert view.stack.currentIndex() == 0 and "999999" in view.placeholder.text()
    [holdout] = controller.store().trials(controller.run_id, segment="holdout")
    view.show_trial(holdout.id)
    assert "holdout" in view.subtitle_label.text()
    assert len(view.chart.equity_curve.xData) > 1


def test_trial_view_llm_rewrite_shows_diff_and_prompt(qtbot, llm_controller, llm_store,
                                                      tmp_path: Path) -> None:
    _path, _run_id, ids = llm_store
    view = TrialView(llm_controller)
    qtbot.addWidget(view)
    view.resize(1300, 860)
    view.show_trial(int(ids["grandchild"]))
    diff = view.diff_edit.toPlainText()
    assert diff.startswith("--- parent") and "+// rewrite 2: smoother trend filter" in diff
    assert "-slow = ta.sma(close, slowLen + 1)" in diff
    assert not view.diff_edit.isHidden()
    assert view.tabs.isTabEnabled(view.llm_index)
    assert "── system ──\nYou improve Pine strategies." in view.prompt_edit.toPlainText()
    assert "```pine" in view.reply_edit.toPlainText()
    assert "fake-model" in view.llm_info.text()
    view.show()
    qtbot.waitExposed(view)
    view.tabs.setCurrentIndex(5)
    _shot(view, tmp_path, "trial_diff")
    view.tabs.setCurrentIndex(view.llm_index)
    _shot(view, tmp_path, "trial_llm")


# --------------------------------------------------------------------------- lineage


def test_lineage_has_the_base_script_at_the_root(qtbot, controller, tmp_path: Path) -> None:
    view = LineageView(controller)
    qtbot.addWidget(view)
    view.resize(900, 300)
    view.refresh()
    store = controller.store()
    trials = store.trials(controller.run_id)
    assert view.tree.topLevelItemCount() == 1
    root = view.tree.topLevelItem(0)
    base = trials[0].source_hash
    assert root.data(0, HASH_ROLE) == base and "base script" in root.text(0)
    assert root.text(2) == str(len(trials))
    best = store.best_trial(controller.run_id, NET)
    assert root.text(3) == f"{best.metrics[NET]:,.2f} %" and root.text(4) == str(best.id)
    assert root.text(5) == tag_name(best.tag)
    with qtbot.waitSignal(view.source_selected, timeout=1000) as blocker:
        view.tree.setCurrentItem(root)
    assert blocker.args == [base]
    with qtbot.waitSignal(view.trial_activated, timeout=1000) as opened:
        view.tree.itemDoubleClicked.emit(root, 0)
    assert opened.args == [best.id]
    view.show()
    qtbot.waitExposed(view)
    _shot(view, tmp_path, "lineage")


def test_lineage_tree_of_rewrites_filters_the_results(qtbot, llm_controller, llm_store,
                                                      tmp_path: Path) -> None:
    _path, run_id, ids = llm_store
    lineage = LineageView(llm_controller)
    results = ResultsView(llm_controller)
    for widget in (lineage, results):
        qtbot.addWidget(widget)
    lineage.resize(900, 300)
    lineage.source_selected.connect(results.filter_by_source)
    lineage.refresh()
    results.refresh()
    root = lineage.tree.topLevelItem(0)
    assert root.data(0, HASH_ROLE) == ids["base_hash"] and root.childCount() == 1
    child = root.child(0)
    grandchild = child.child(0)
    assert child.data(0, HASH_ROLE) == ids["child_hash"] and child.text(1) == "llm"
    assert grandchild.data(0, HASH_ROLE) == ids["grandchild_hash"]
    assert grandchild.font(0).bold()  # the best version of the run
    lineage.tree.setCurrentItem(child)
    assert _shown_ids(results) == [ids["child"]]
    lineage.tree.setCurrentItem(root)
    assert len(_shown_ids(results)) == len(llm_controller.store().trials(run_id)) - 2
    roots = build_lineage(llm_controller.store(), run_id)
    assert [n.hash for n in roots[0].walk()] == \
        [ids["base_hash"], ids["child_hash"], ids["grandchild_hash"]]
    lineage.show()
    qtbot.waitExposed(lineage)
    lineage.tree.setCurrentItem(grandchild)
    _shot(lineage, tmp_path, "lineage_rewrites")


# --------------------------------------------------------------------------- app helpers


def _row(trial_id: int, net: float | None, **changes) -> TrialRow:
    from datetime import UTC, datetime

    metrics = {} if net is None else {NET: net}
    fields = dict(id=trial_id, run_id="r", worker=1, condition=None, iteration=trial_id,
                  proposer="params", source_hash="a" * 32, inputs={"Length": trial_id},
                  params_key=str(trial_id), status="done", metrics=metrics, tag=None,
                  reasons=(), error=None, started_at=datetime(2024, 1, 1, tzinfo=UTC),
                  finished_at=None, seconds=None, segment="in_sample", has_result=False)
    fields.update(changes)
    return TrialRow(**fields)


def test_results_table_places_new_rows_in_the_current_order() -> None:
    table = ResultsTable()
    table.load([_row(1, 5.0), _row(2, None, status="error"), _row(3, -1.0), _row(4, 5.0)])
    net = next(i for i, c in enumerate(table.columns) if c.key == NET)
    table.sort(net, descending=True)
    assert [t.id for t in table.trials] == [1, 4, 3, 2]  # ties in start order, missing last
    table.upsert(_row(5, 5.0))
    table.upsert(_row(6, 0.0))
    table.upsert(_row(7, None))
    assert [t.id for t in table.trials] == [1, 4, 5, 6, 3, 2, 7]
    change = table.upsert(_row(3, 9.0))  # an update stays in its row
    assert change.kind == "update" and table.row_of(3) == 4
    # A rewrite declaring a new input adds a column; the sort follows its column.
    change = table.upsert(_row(8, 1.0, inputs={"Other": 1}))
    assert change.kind == "insert" and "Other" in [c.key for c in table.columns]
    assert table.columns[table.sort_column].key == NET
    assert [t.id for t in table.trials] == [1, 4, 5, 8, 6, 3, 2, 7]
    assert table.text(0, table.columns.index(next(c for c in table.columns
                                                  if c.key == "Other"))) == ""


def test_filters_diffs_prompts_and_drawdown() -> None:
    trial = _row(1, 3.0, tag="RISK", condition="15")
    assert TrialFilter(tag="RISK", conditions=frozenset({"15"})).matches(trial)
    assert not TrialFilter(tag="untagged").matches(trial)
    assert TrialFilter(metric=NET).matches(_row(2, None))  # no bound: not a filter yet
    assert not TrialFilter(metric=NET, low=0.0).matches(_row(2, None))
    assert not TrialFilter(metric=NET, high=2.0).matches(trial)
    diff = source_diff("a\nb\n", "a\nc\n", "1" * 32, "2" * 32)
    assert "-b\n+c\n" in diff and diff.startswith("--- parent 11111111")
    assert source_diff("same\n", "same\n") == ""
    assert prompt_text('[{"role": "user", "content": "hi"}]') == "── user ──\nhi"
    assert prompt_text("plain text") == "plain text"
    assert drawdown_percent([100, 110, 99, 120]) == pytest.approx([0, 0, -10, 0])


def test_views_refresh_on_controller_signals(qtbot, controller) -> None:
    results = ResultsView(controller)
    lineage = LineageView(controller)
    for widget in (results, lineage):
        qtbot.addWidget(widget)
    assert results.model.rowCount() == 0
    controller.store_opened.emit(str(controller.store_path))
    qtbot.waitUntil(lambda: results.model.rowCount() > 0 and
                    lineage.tree.topLevelItemCount() == 1, timeout=3000)
    with qtbot.waitSignal(results.model.modelReset, timeout=3000):
        controller.run_finished.emit(controller.run_id, "finished")
    assert results.model.rowCount() == len(controller.store().trials(controller.run_id))
    QtCore.QCoreApplication.processEvents()


def test_a_live_run_through_the_controller_inserts_rows_one_by_one(
        qtbot, qapp, tmp_path: Path) -> None:
    """The real thing: the controller runs an optimisation on the qasync loop; the views
    follow its events (rows inserted one at a time, tags written in place at the end)."""
    import qasync

    request = BacktestRequest(
        strategy=load_strategy(ROOT / "pine" / "examples" / "sma_cross.pine"),
        data_path=str(ROOT / "resources" / "data" / "EURUSD_1h.csv"),
        symbol=SymbolSpec(ticker="FX:EURUSD", mintick=0.00001, pointvalue=1.0))
    settings = OptimizeSettings(request=request, max_iterations=6, holdout=0.2, seed=2)
    controller = RunController(tmp_path / "live.sqlite")
    results, lineage = ResultsView(controller), LineageView(controller)
    for widget in (results, lineage):
        qtbot.addWidget(widget)
    inserted: list[int] = []
    results.model.rowsInserted.connect(lambda _p, first, _last: inserted.append(first))
    tags_when_judged: list[set[str | None]] = []
    controller.event.connect(lambda e: e.kind == "judged" and tags_when_judged.append(
        {t.tag for t in results.model.table.trials}))
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        async def run() -> str:
            finished = asyncio.get_running_loop().create_future()
            controller.run_finished.connect(
                lambda _run, status: finished.done() or finished.set_result(status))
            controller.start(settings)
            return await asyncio.wait_for(finished, 120)

        assert loop.run_until_complete(run()) == "finished"
        loop.run_until_complete(asyncio.sleep(0.05))  # the deferred refresh
        store = controller.store()
        trials = store.trials(controller.run_id)
        assert len(inserted) == len(trials) == results.model.rowCount()
        assert tags_when_judged and None not in tags_when_judged[0]  # tagged in place
        assert sorted((t.id, t.tag) for t in results.model.table.trials) == \
            [(t.id, t.tag) for t in trials]
        # The new run opened best first by its objective, and each live row went there.
        shown = [t.metrics.get(NET) for t in results.model.table.trials]
        numbers = [v for v in shown if v is not None]
        assert numbers == sorted(numbers, reverse=True) and shown[: len(numbers)] == numbers
        assert lineage.tree.topLevelItem(0).text(2) == str(len(trials))
        loop.run_until_complete(controller.shutdown())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
