"""The window's File menu, shortcuts, recovering from a bad store, and shipping a trial."""

from __future__ import annotations

from pathlib import Path

from tests.gui.conftest import wait_for
from tvdesk.gui.qt import QtCore, QtGui, QtWidgets


def _finished_run(window, loop) -> int:
    """Run four trials; the best trial's id."""
    window.setup.max_iterations.setValue(4)
    window.run_action.trigger()
    _, status = wait_for(loop, window.controller.run_finished)
    assert status == "finished"
    store = window.controller.store()
    return store.best_trial(window.controller.run_id, "net_profit_percent").id


def test_a_failed_open_store_keeps_the_store_that_was_open(window, loop, tmp_path: Path) -> None:
    _finished_run(window, loop)
    run_id = window.controller.run_id
    before = window.controller.store().count_trials(run_id)
    assert before >= 4
    bogus = tmp_path / "notes.db"
    bogus.write_text("these are my notes, not a run store\n")
    assert window.open_store_file(bogus) is False
    assert "notes.db" in window.statusBar().currentMessage()
    # The window still reads its store: no "closed database" anywhere.
    assert window.controller.store().count_trials(run_id) == before
    assert window.controller.store_path == tmp_path / "runs.db"
    window.results.refresh()
    assert window.results.table.model().rowCount() > 0


def test_the_file_menu_remembers_stores_and_opens_them_again(window, loop,
                                                             tmp_path: Path) -> None:
    _finished_run(window, loop)
    other = tmp_path / "other.db"
    from tvdesk.store import RunStore

    RunStore.open(other).close()
    assert window.open_store_file(other)
    assert window.open_store_file(tmp_path / "runs.db")
    window._fill_recent_menu()
    entries = [a.text() for a in window.recent_menu.actions()]
    assert entries[:2] == [str((tmp_path / "runs.db").resolve()), str(other.resolve())]
    other.unlink()  # a store that is gone is not offered
    window._fill_recent_menu()
    assert [a.text() for a in window.recent_menu.actions()] == [
        str((tmp_path / "runs.db").resolve())]
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus[:2] == ["&File", "&Run"]


def test_toolbar_actions_have_shortcuts_shown_in_their_tooltips(window) -> None:
    expected = {window.run_action: "Ctrl+R", window.stop_action: "Ctrl+.",
                window.export_action: "Ctrl+E",
                window.open_action: QtGui.QKeySequence(
                    QtGui.QKeySequence.StandardKey.Open).toString()}
    for act, keys in expected.items():
        assert act.shortcut().toString() == keys
        assert keys.replace("Ctrl", "") in act.toolTip()


def test_export_and_copy_pine_of_a_trial_from_the_window(window, loop, tmp_path: Path) -> None:
    best = _finished_run(window, loop)
    trial = window.controller.store().trial(best)
    out = tmp_path / "best.pine"
    loop.run_until_complete(window.write_pine(best, out))
    text = out.read_text()
    for title, value in trial.inputs.items():
        literal = str(value).lower() if isinstance(value, bool) else value
        assert f'({literal}, "{title}"' in text
    assert f"Trial {best} written to {out}" in window.statusBar().currentMessage()
    loop.run_until_complete(window.copy_pine_now(best))
    assert QtWidgets.QApplication.clipboard().text() == text
    assert window._pine_file_name(best).name == f"sma_cross-trial-{best}.pine"
    assert QtCore.QSettings().fileName()  # the isolated settings, not the user's


def _menu_action(menu, text: str):
    return next(a for a in menu.actions() if a.text().startswith(text))


def test_the_grids_context_menu_exports_pine_and_compares_trials(window, loop,
                                                                 tmp_path: Path) -> None:
    _finished_run(window, loop)
    window.results.refresh()
    table = window.results.table
    first, second = table.model().index(0, 0), table.model().index(1, 0)
    top_id = window.results.selected_trial_ids() or None
    out = tmp_path / "from-grid.pine"
    window.ask_pine_path = lambda trial_id: out
    menu = window.results.row_menu(first)
    assert menu is not None
    _menu_action(menu, "Export Pine").trigger()
    for _ in range(200):  # the file is written on a thread awaited by the loop
        if out.exists():
            break
        loop.run_until_complete(__import__("asyncio").sleep(0.05))
    assert out.exists() and 'input.int(' in out.read_text()
    assert "written to" in window.statusBar().currentMessage()

    selection = table.selectionModel()
    flags = QtCore.QItemSelectionModel.SelectionFlag
    selection.select(first, flags.Select | flags.Rows)
    selection.select(second, flags.Select | flags.Rows)
    ids = window.results.selected_trial_ids()
    assert len(ids) == 2 and top_id != ids
    _menu_action(window.results.row_menu(first), "Compare").trigger()
    assert window.tabs.currentWidget() is window.compare
    assert window.compare.trial_ids == ids
    assert len(window.compare.curves) == 2


def test_the_status_bar_shows_the_clusters_workers_and_its_notices(window) -> None:
    from dataclasses import replace

    from tvdesk.events import Event

    window.config = replace(window.config, cluster=replace(window.config.cluster,
                                                           address="tcp://10.0.0.5:8786"))
    window._update_status()
    assert window.engine_label.text() == "Engine: local on tcp://10.0.0.5:8786"
    assert not window.cluster_label.isHidden()
    window._on_event(Event("cluster", run_id="", payload={
        "status": "cluster tcp://10.0.0.5:8786: 3 workers (12 threads), 11 busy, 480 trials/min"}))
    assert window.cluster_label.text().endswith("11 busy, 480 trials/min")
    window._on_event(Event("cluster", run_id="", payload={
        "message": "no worker of the cluster can take backtests now"}))
    assert "no worker of the cluster" in window.statusBar().currentMessage()
    window.config = replace(window.config, cluster=replace(window.config.cluster, address=""))
    window._update_status()
    assert window.engine_label.text() == "Engine: local" and window.cluster_label.isHidden()
