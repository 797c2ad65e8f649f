"""The workbench window: setup on the left; Runs / Results / Surface / Trial / Compare / Lineage
tabs.

A thin shell: the toolbar's actions call the controller (runs) and tvdesk.app (reports); the
views read the store. Long work (report writing) runs in a thread awaited from the qasync
loop, and dialogs are opened with `open()`, never with a blocking `exec()` inside a coroutine.
Window geometry, dock/splitter state and the last strategy and data files are restored from
QSettings.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from tvdesk import __version__, paths
from tvdesk.config import Settings
from tvdesk.errors import TvdeskError
from tvdesk.gui import recent_stores as recent
from tvdesk.gui.compare_view import CompareView
from tvdesk.gui.controller import RunController
from tvdesk.gui.lineage_view import LineageView
from tvdesk.gui.qt import QtCore, QtGui, QtWidgets, Slot
from tvdesk.gui.results_view import ResultsView
from tvdesk.gui.runs_view import RunsView
from tvdesk.gui.setup_form import SetupForm
from tvdesk.gui.surface_view import SurfaceView
from tvdesk.gui.trial_view import TrialView

log = logging.getLogger(__name__)


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, config: Settings, store_path: Path) -> None:
        super().__init__()
        self.config = config
        self.setWindowTitle(f"tvdesk {__version__}")
        self.controller = RunController(store_path, self, config=config)
        self.setup = SetupForm(config)
        self.runs = RunsView(self.controller)
        self.results = ResultsView(self.controller)
        self.surface = SurfaceView(self.controller)
        self.trial = TrialView(self.controller)
        self.lineage = LineageView(self.controller)
        self.compare = CompareView(self.controller)

        self.tabs = QtWidgets.QTabWidget()
        for view, title in ((self.runs, "Runs"), (self.results, "Results"),
                            (self.surface, "Surface"), (self.trial, "Trial"),
                            (self.compare, "Compare"), (self.lineage, "Lineage")):
            self.tabs.addTab(view, title)
        self.setCentralWidget(self.tabs)
        dock = QtWidgets.QDockWidget("Setup", self)
        dock.setObjectName("setupDock")
        dock.setWidget(self.setup)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self._build_toolbar()
        self._build_status()
        self._dialogs: list[QtWidgets.QDialog] = []
        self._background: set[asyncio.Task] = set()

        self.results.trial_activated.connect(self.open_trial)
        self.results.compare_requested.connect(self.compare_trials)
        self.results.export_pine_requested.connect(self.export_pine)
        self.results.rerun_requested.connect(self.rerun_on_tradingview)
        self.trial.export_pine_requested.connect(self.export_pine)
        self.trial.copy_pine_requested.connect(self.copy_pine)
        self.surface.trial_activated.connect(self.open_trial)
        self.compare.trial_activated.connect(self.open_trial)
        self.lineage.source_selected.connect(self._filter_by_source)
        self.controller.run_started.connect(self._on_run_started)
        self.controller.run_finished.connect(self._on_run_finished)
        self.controller.failed.connect(self.show_error)
        self.controller.idle.connect(self._update_actions)
        self.controller.event.connect(self._on_event)
        self._restore()
        self._update_actions()
        self._update_status()
        if Path(store_path).exists():  # show the latest run of an existing store at once
            self.open_store_file(Path(store_path))

    # ------------------------------------------------------------------ chrome

    def _build_toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        style = self.style()

        def action(text: str, icon: QtWidgets.QStyle.StandardPixmap, slot, tip: str = "",
                   keys: QtGui.QKeySequence.StandardKey | str | None = None):
            act = QtGui.QAction(style.standardIcon(icon), text, self)
            if keys is not None:
                act.setShortcut(QtGui.QKeySequence(keys))
                shortcut = act.shortcut().toString(QtGui.QKeySequence.SequenceFormat.NativeText)
                tip = f"{tip or text} ({shortcut})"
            act.setToolTip(tip or text)
            act.triggered.connect(slot)
            bar.addAction(act)
            return act

        sp = QtWidgets.QStyle.StandardPixmap
        keys = QtGui.QKeySequence.StandardKey
        self.run_action = action("Run", sp.SP_MediaPlay, self.start_run,
                                 "Start an optimisation with the setup on the left", "Ctrl+R")
        self.stop_action = action("Stop", sp.SP_MediaStop, self.controller.stop,
                                  "Stop; every finished trial is kept", "Ctrl+.")
        self.resume_action = action("Resume", sp.SP_MediaSeekForward, self.resume_run,
                                    "Continue the latest run where it stopped", "Ctrl+Shift+R")
        bar.addSeparator()
        self.export_action = action("Export report", sp.SP_DialogSaveButton, self.export_report,
                                    "Write TXT / XLSX / HTML / CSV / JSON reports of the run",
                                    "Ctrl+E")
        self.open_action = action("Open store", sp.SP_DialogOpenButton, self.open_store,
                                  "Open another run store", keys.Open)
        bar.addSeparator()
        action("Settings", sp.SP_FileDialogDetailedView, self.open_settings)
        action("Credentials", sp.SP_DialogApplyButton, self.open_credentials,
               "TradingView login and LLM API key, kept in the OS keyring")
        action("About", sp.SP_MessageBoxInformation, self.open_about)
        self._build_menus()

    def _build_menus(self) -> None:
        """The File and Run menus carry the toolbar's actions (and their shortcuts), the recent
        stores and Quit, as every desktop app does."""
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit", self.close)
        quit_action.setShortcut(QtGui.QKeySequence(QtGui.QKeySequence.StandardKey.Quit))
        run_menu = self.menuBar().addMenu("&Run")
        for act in (self.run_action, self.stop_action, self.resume_action):
            run_menu.addAction(act)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("Open log folder", self.open_log_folder)
        help_menu.addAction("About tvdesk", self.open_about)
        self._fill_recent_menu()

    def _build_status(self) -> None:
        self.engine_label = QtWidgets.QLabel()
        self.keyring_label = QtWidgets.QLabel()
        self.workers_label = QtWidgets.QLabel()
        self.cluster_label = QtWidgets.QLabel()  # the Dask cluster's workers and throughput
        for label in (self.engine_label, self.cluster_label, self.keyring_label,
                      self.workers_label):
            self.statusBar().addPermanentWidget(label)
        self.statusBar().showMessage("Ready: pick a strategy and data, then Run")

    @Slot(object)
    def _on_event(self, event) -> None:
        if event.kind == "cluster":
            if "status" in event.payload:  # workers, busy ones and throughput
                self.cluster_label.setText(str(event.payload["status"]))
            elif "message" in event.payload:
                self.statusBar().showMessage(str(event.payload["message"]), 15000)
        self._update_status()

    def _update_status(self) -> None:
        engine = self.setup.engine.currentData() or "local"
        cluster = self.config.cluster.address if engine == "local" else ""
        self.engine_label.setText(f"Engine: {engine}" + (f" on {cluster}" if cluster else ""))
        self.cluster_label.setVisible(bool(cluster))
        self.workers_label.setText(f"Workers busy: {self.controller.busy_workers}")
        if not self.keyring_label.text():
            self.keyring_label.setText(f"Keyring: {_keyring_state()}")

    def _update_actions(self) -> None:
        running = self.controller.running
        self.run_action.setEnabled(not running)
        self.resume_action.setEnabled(not running)
        self.stop_action.setEnabled(running)

    # ------------------------------------------------------------------ runs

    @Slot()
    def start_run(self) -> None:
        settings = self.setup.build_settings()
        if settings is None:
            self.statusBar().showMessage("Fix the highlighted field to run", 8000)
            return
        self.controller.start(settings)
        self._update_actions()
        self.tabs.setCurrentWidget(self.runs)

    @Slot()
    def resume_run(self) -> None:
        self.controller.resume()
        self._update_actions()

    @Slot(str)
    def _on_run_started(self, run_id: str) -> None:
        self.statusBar().showMessage(f"Run {run_id} started")
        self._update_actions()

    @Slot(str, str)
    def _on_run_finished(self, run_id: str, status: str) -> None:
        self.statusBar().showMessage(f"Run {run_id}: {status}")
        self._update_actions()
        self._update_status()
        for view in (self.results, self.surface, self.lineage):
            view.refresh()

    @Slot(int)
    def open_trial(self, trial_id: int) -> None:
        self.trial.show_trial(trial_id)
        self.tabs.setCurrentWidget(self.trial)

    @Slot(list)
    def compare_trials(self, trial_ids: list[int]) -> None:
        self.compare.compare(trial_ids)
        self.tabs.setCurrentWidget(self.compare)

    @Slot(int)
    def rerun_on_tradingview(self, trial_id: int) -> None:
        """Re-run from the grid: the Trial view shows the trial and the outcome."""
        self.open_trial(trial_id)
        self.trial.rerun_on_tradingview()

    @Slot(str)
    def _filter_by_source(self, source_hash: str) -> None:
        apply = getattr(self.results, "filter_by_source", None)
        if apply is not None:
            apply(source_hash)
            self.tabs.setCurrentWidget(self.results)

    # ------------------------------------------------------------------ reports and store

    @Slot()
    def export_report(self) -> None:
        run_id = self.controller.run_id or self.controller.store().latest_run_id()
        if run_id is None:
            self.show_error("there is no run to report yet")
            return
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Reports folder", str(paths.data_dir() / "reports"))
        if folder:
            self._spawn(self._write_reports(run_id, Path(folder)))

    async def _write_reports(self, run_id: str, folder: Path) -> None:
        from tvdesk.app.report import write_run_report
        from tvdesk.store import RunStore

        self.statusBar().showMessage("Writing reports…")

        def write() -> list[Path]:
            with RunStore.open_for_reading(self.controller.store_path) as store:
                return write_run_report(store, run_id, folder)

        try:
            written = await asyncio.to_thread(write)
        except TvdeskError as exc:
            self.show_error(str(exc))
            return
        self.statusBar().showMessage(f"{len(written)} report files written to {folder}", 10000)
        QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(folder)))

    @Slot()
    def open_store(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open a run store", str(self.controller.store_path.parent),
            "Run stores (*.db *.sqlite);;All files (*)")
        if path:
            self.open_store_file(Path(path))

    def open_store_file(self, path: Path) -> bool:
        """Open a store; on a bad file say why and keep the one that was open."""
        try:
            self.controller.open_store(path)
        except TvdeskError as exc:
            self.show_error(str(exc))
            return False
        recent.remember(QtCore.QSettings(), path)
        self.statusBar().showMessage(f"Opened {path}", 8000)
        return True

    @Slot()
    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        stores = recent.stores(QtCore.QSettings())
        for path in stores:
            act = self.recent_menu.addAction(str(path))
            act.triggered.connect(lambda _checked=False, p=path: self.open_store_file(p))
        self.recent_menu.setEnabled(bool(stores))

    # ------------------------------------------------------------------ ship a trial

    def _pine_file_name(self, trial_id: int) -> Path:
        """`<script name>-trial-<id>.pine` next to the script in the setup form."""
        script = Path(self.setup.script.edit.text() or "strategy.pine")
        folder = script.parent if script.parent.is_dir() else paths.data_dir()
        return folder / f"{script.stem}-trial-{trial_id}.pine"

    def ask_pine_path(self, trial_id: int) -> Path | None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, f"Export trial {trial_id} as a Pine script", str(self._pine_file_name(trial_id)),
            "Pine scripts (*.pine);;All files (*)")
        return Path(path) if path else None

    @Slot(int)
    def export_pine(self, trial_id: int) -> None:
        """Save the trial's script with its inputs as defaults (see tvdesk.app.export_pine)."""
        path = self.ask_pine_path(trial_id)
        if path is not None:
            self._spawn(self.write_pine(trial_id, path))

    async def write_pine(self, trial_id: int, path: Path) -> None:
        from tvdesk.app.export_pine import write_trial_pine

        try:
            exported = await asyncio.to_thread(write_trial_pine, self.controller.store_path,
                                               trial_id, path)
        except TvdeskError as exc:
            self.show_error(str(exc))
            return
        changed = ", ".join(f"{name}={after}" for name, (_b, after) in exported.changed.items())
        self.statusBar().showMessage(
            f"Trial {trial_id} written to {path}" + (f": {changed}" if changed else ""), 15000)
        if exported.notes:
            self.show_error("\n".join(exported.notes))

    @Slot(int)
    def copy_pine(self, trial_id: int) -> None:
        self._spawn(self.copy_pine_now(trial_id))

    async def copy_pine_now(self, trial_id: int) -> None:
        """The trial's script to the clipboard, to paste into TradingView's Pine Editor."""
        from tvdesk.app.export_pine import export_trial
        from tvdesk.store import RunStore

        def export():
            with RunStore.open_for_reading(self.controller.store_path) as store:
                return export_trial(store, trial_id)

        try:
            exported = await asyncio.to_thread(export)
        except TvdeskError as exc:
            self.show_error(str(exc))
            return
        QtWidgets.QApplication.clipboard().setText(exported.pine)
        self.statusBar().showMessage(f"Trial {trial_id}'s Pine script copied: paste it into "
                                     "TradingView's Pine Editor", 15000)

    # ------------------------------------------------------------------ dialogs

    def _show_dialog(self, dialog: QtWidgets.QDialog) -> None:
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _r: self._dialogs.remove(dialog))
        dialog.open()

    @Slot()
    def open_settings(self) -> None:
        from tvdesk.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.config, self)
        dialog.saved.connect(self._settings_saved)
        self._show_dialog(dialog)

    @Slot(object)
    def _settings_saved(self, settings: Settings) -> None:
        """New settings apply to the next run (engine, processes, LLM endpoint)."""
        self.config = settings
        self.setup.config = settings
        self.controller.config = settings
        self.statusBar().showMessage("Settings saved", 5000)

    @Slot()
    def open_credentials(self) -> None:
        from tvdesk.gui.credentials_dialog import CredentialsDialog

        dialog = CredentialsDialog(self)
        dialog.finished.connect(self._credentials_closed)
        self._show_dialog(dialog)

    @Slot()
    def open_log_folder(self) -> None:
        """Where the log file is, for a bug report (secrets are masked in it)."""
        folder = paths.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(folder)))

    @Slot(int)
    def _credentials_closed(self, _result: int) -> None:
        from tvdesk.logs import refresh_secrets

        self.keyring_label.setText(f"Keyring: {_keyring_state()}")
        refresh_secrets()  # new secrets are masked in the log from now on

    @Slot()
    def open_about(self) -> None:
        from tvdesk.gui.about_dialog import AboutDialog

        self._show_dialog(AboutDialog(self))

    @Slot(str)
    def show_error(self, message: str) -> None:
        """Errors never vanish: a non-blocking dialog, the status bar and the log."""
        log.error("%s", message)
        self.statusBar().showMessage(message, 15000)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "tvdesk", message,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        self._show_dialog(box)

    # ------------------------------------------------------------------ lifecycle

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _restore(self) -> None:
        settings = QtCore.QSettings()
        geometry = settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        script, data = settings.value("setup/script"), settings.value("setup/data")
        if script and data and Path(str(script)).exists():
            self.setup.set_paths(str(script), str(data))

    def save_state(self) -> None:
        settings = QtCore.QSettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("setup/script", self.setup.script.edit.text())
        settings.setValue("setup/data", self.setup.data.edit.text())
        settings.sync()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.save_state()
        self.controller.stop()
        super().closeEvent(event)


def _keyring_state() -> str:
    """The status bar's words for the keyring, e.g. "plaintext file (not secure)"."""
    from tvdesk.secrets import keyring_status  # never raises

    return keyring_status()
