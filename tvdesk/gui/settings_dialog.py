"""Settings: the config TOML's general settings (LLM endpoint, runs, files) and the theme.

Opened window-modal with `open()` by the main window, never with `exec()`, which would nest an
event loop inside the qasync loop that also runs the optimisation. Saving emits `accepted` and
`finished`; the main window connects to those (and to `saved`) to refresh its status bar.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from tvdesk import paths
from tvdesk.config import Settings, check_cluster_address, load_settings, save_settings
from tvdesk.errors import ConfigError, InputError
from tvdesk.gui.form_helpers import error_label, save_cancel, show_error
from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets, Signal
from tvdesk.gui.theme import THEME_LABELS, THEMES, apply_theme, save_theme, saved_theme
from tvdesk.secrets import known_secrets


class SettingsDialog(QtWidgets.QDialog):
    """The config TOML's general settings (profiles kept as they are) and the theme."""

    saved = Signal(object)  # tvdesk.config.Settings as read back from the file

    def __init__(self, config: Settings | Path | str | None = None,
                 parent: QtWidgets.QWidget | None = None, *,
                 qsettings: QtCore.QSettings | None = None) -> None:
        """`config`: the settings in use (their file is edited) or the settings file's path;
        None means the default file. `qsettings` holds the theme (default: tvdesk's)."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setModal(True)
        self._given = config if isinstance(config, Settings) else None
        if isinstance(config, Settings):
            config = config.path
        self.config_file = Path(config) if config else paths.default_config_file()
        self._qsettings = qsettings
        self.field_errors: dict[str, QtWidgets.QLabel] = {}
        self._form_labels: list[QtWidgets.QLabel] = []

        from tvdesk.optimize.settings import LLMSettings

        llm_defaults = LLMSettings()
        self.base_url_edit = QtWidgets.QLineEdit()
        self.base_url_edit.setPlaceholderText(llm_defaults.base_url)
        self.models_edit = QtWidgets.QLineEdit()
        self.models_edit.setPlaceholderText(", ".join(llm_defaults.models))
        self.models_edit.setToolTip("Model names, separated by commas")
        self.model_combo = QtWidgets.QComboBox()
        self.model_combo.setEditable(True)
        self.model_combo.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                                       QtWidgets.QSizePolicy.Policy.Fixed)
        self.model_combo.setToolTip("\"auto\" picks among the models by their results")
        self.models_edit.textChanged.connect(self._refresh_models)
        self.engine_combo = QtWidgets.QComboBox()
        self.engine_combo.addItem("Local (PyneCore)", "local")
        self.engine_combo.addItem("TradingView", "tradingview")
        self.processes_spin = QtWidgets.QSpinBox()
        self.processes_spin.setRange(1, 1024)
        self.processes_spin.setToolTip(f"This machine has {os.cpu_count() or 1} CPUs")
        self.timezone_combo = QtWidgets.QComboBox()
        self.timezone_combo.setEditable(True)
        self.timezone_combo.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding,
                                          QtWidgets.QSizePolicy.Policy.Fixed)
        self.timezone_combo.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        self.timezone_combo.addItems(_timezones())
        completer = self.timezone_combo.completer()
        assert completer is not None  # an editable combo box always has one
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.cluster_edit = QtWidgets.QLineEdit()
        self.cluster_edit.setPlaceholderText("empty: this machine; or tcp://host:8786")
        self.cluster_edit.setToolTip(
            "A Dask scheduler whose workers run the local engine's backtests (docs/scaling.md); "
            "keep it on a trusted network")
        self.stop_on_target_check = QtWidgets.QCheckBox("Stop a track at its first trial that "
                                                        "meets the targets")
        self.stop_on_target_check.setToolTip(
            "Off (the default): targets filter and steer, and the whole budget is spent looking "
            "for better")
        self.git_commit_check = QtWidgets.QCheckBox("Commit each new best to a git repository")
        self.git_repo_edit = QtWidgets.QLineEdit()
        self.git_repo_edit.setPlaceholderText("folder of the repository (created if empty)")
        git_browse = QtWidgets.QToolButton()
        git_browse.setText("…")
        git_browse.setToolTip("Choose the repository folder")
        git_browse.clicked.connect(self._choose_git_folder)
        self.git_repo_row = QtWidgets.QWidget()
        git_row = QtWidgets.QHBoxLayout(self.git_repo_row)
        git_row.setContentsMargins(0, 0, 0, 0)
        git_row.addWidget(self.git_repo_edit)
        git_row.addWidget(git_browse)
        self.git_push_check = QtWidgets.QCheckBox("Push after each commit")
        self.git_commit_check.toggled.connect(self._git_toggled)
        self.theme_combo = QtWidgets.QComboBox()
        for theme in THEMES:
            self.theme_combo.addItem(THEME_LABELS[theme], theme)

        llm_box = QtWidgets.QGroupBox("LLM")
        llm_form = self._form(llm_box)
        self._row(llm_form, "Endpoint (base URL)", self.base_url_edit, "llm.base_url")
        self._row(llm_form, "Models", self.models_edit, "llm.models")
        self._row(llm_form, "Model", self.model_combo, "llm.model")

        run_box = QtWidgets.QGroupBox("Runs")
        run_form = self._form(run_box)
        self._row(run_form, "Default engine", self.engine_combo, "engine")
        self._row(run_form, "Processes", self.processes_spin, "processes")
        self._row(run_form, "Timezone", self.timezone_combo, "timezone")
        self._row(run_form, "Dask cluster", self.cluster_edit, "cluster.address")
        self._row(run_form, "Targets", self.stop_on_target_check, "optimize.stop_on_target")
        self._row(run_form, "Best versions", self.git_commit_check, "optimize.git_commit")
        self._row(run_form, "Repository", self.git_repo_row, "optimize.git_repository")
        self._row(run_form, "", self.git_push_check, "optimize.git_push")

        look_box = QtWidgets.QGroupBox("Appearance")
        look_form = self._form(look_box)
        self._row(look_form, "Theme", self.theme_combo, "theme")

        folder_box = QtWidgets.QGroupBox("Files")
        folder_grid = QtWidgets.QGridLayout(folder_box)
        folder_grid.setColumnStretch(1, 1)
        folder_grid.setColumnMinimumWidth(0, 0)
        self.folder_edits: dict[str, QtWidgets.QLineEdit] = {}
        rows = [("Settings file", self.config_file),
                ("Config", paths.config_dir()), ("Data", paths.data_dir()),
                ("Cache", paths.cache_dir()), ("Logs", paths.log_dir())]
        for index, (name, folder) in enumerate(rows):
            edit = QtWidgets.QLineEdit(str(folder))
            edit.setReadOnly(True)
            edit.setCursorPosition(0)
            button = QtWidgets.QPushButton("Open")
            target = folder.parent if name == "Settings file" else folder
            button.setToolTip(f"Open {target} in the file manager")
            button.setProperty("folder", str(target))
            button.clicked.connect(self._open_clicked)
            name_label = QtWidgets.QLabel(name)
            self._form_labels.append(name_label)
            folder_grid.addWidget(name_label, index, 0)
            folder_grid.addWidget(edit, index, 1)
            folder_grid.addWidget(button, index, 2)
            self.folder_edits[name] = edit

        self.error_label = error_label()
        self.buttons, self.save_button = save_cancel(self)

        layout = QtWidgets.QVBoxLayout(self)
        for box in (llm_box, run_box, look_box, folder_box):
            layout.addWidget(box)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        width = max(label.sizeHint().width() for label in self._form_labels)
        for label in self._form_labels:  # one label column across the boxes
            label.setMinimumWidth(width)
        self.setMinimumWidth(600)
        self.reload()

    @staticmethod
    def _form(box: QtWidgets.QGroupBox) -> QtWidgets.QFormLayout:
        form = QtWidgets.QFormLayout(box)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        return form

    def _row(self, form: QtWidgets.QFormLayout, label: str, widget: QtWidgets.QWidget,
             key: str) -> None:
        error = error_label()
        column = QtWidgets.QVBoxLayout()
        column.setSpacing(2)
        column.addWidget(widget)
        column.addWidget(error)
        text = QtWidgets.QLabel(label)
        text.setBuddy(widget)
        self._form_labels.append(text)
        form.addRow(text, column)
        self.field_errors[key] = error

    # ------------------------------------------------------------------ state

    def reload(self) -> None:
        self._clear_errors()
        try:  # the file as it is now; one that does not exist yet is created on Save
            self.settings = (load_settings(self.config_file) if self.config_file.exists()
                             else self._given or Settings())
        except ConfigError as exc:
            self.settings = Settings()
            self.save_button.setEnabled(False)
            show_error(self.error_label, f"{exc}\nFix the file (or remove it) and reopen "
                        "Settings; saving now would overwrite it.")
        else:
            self.save_button.setEnabled(True)
        s = self.settings
        self.base_url_edit.setText(s.llm_base_url or "")
        self.models_edit.setText(", ".join(s.llm_models))
        self._refresh_models()
        self.model_combo.setCurrentText(s.llm_model or "auto")
        self.engine_combo.setCurrentIndex(max(0, self.engine_combo.findData(s.engine)))
        self.processes_spin.setValue(s.processes)
        self.timezone_combo.setCurrentText(s.timezone)
        self.cluster_edit.setText(s.cluster.address)
        self.stop_on_target_check.setChecked(s.optimize.stop_on_target)
        self.git_commit_check.setChecked(s.optimize.git_commit)
        self.git_repo_edit.setText(str(s.optimize.git_repository or ""))
        self.git_push_check.setChecked(s.optimize.git_push)
        self._git_toggled(s.optimize.git_commit)
        self.theme_combo.setCurrentIndex(
            max(0, self.theme_combo.findData(saved_theme(self._qsettings))))

    def _models(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.models_edit.text().split(",") if m.strip())

    def _refresh_models(self) -> None:
        current = self.model_combo.currentText()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems(["auto", *self._models()])
        self.model_combo.setCurrentText(current or "auto")
        self.model_combo.blockSignals(False)

    def _clear_errors(self) -> None:
        show_error(self.error_label, None)
        for label in self.field_errors.values():
            show_error(label, None)

    def _show_config_error(self, exc: ConfigError) -> None:
        message = str(exc)
        found = re.search(r"key '([^']+)'", message)
        label = self.field_errors.get(found.group(1)) if found else None
        if label is not None:  # under its field, the file and key go without saying
            show_error(label, message[found.end():].lstrip(": ") if found else message)
        else:
            show_error(self.error_label, message)

    def edited_settings(self) -> Settings:
        """The settings as the form shows them (profiles as loaded)."""
        model = self.model_combo.currentText().strip()
        repository = self.git_repo_edit.text().strip()
        optimize = replace(self.settings.optimize,
                           stop_on_target=self.stop_on_target_check.isChecked(),
                           git_commit=self.git_commit_check.isChecked(),
                           git_repository=Path(repository).expanduser() if repository else None,
                           git_push=self.git_push_check.isChecked())
        return replace(
            self.settings,
            optimize=optimize,
            cluster=replace(self.settings.cluster,
                            address=check_cluster_address(self.cluster_edit.text(),
                                                          source="cluster.address")),
            llm_base_url=self.base_url_edit.text().strip() or None,
            llm_models=self._models(),
            llm_model=model or None,
            engine=str(self.engine_combo.currentData()),
            processes=self.processes_spin.value(),
            timezone=self.timezone_combo.currentText().strip(),
        )

    def _git_toggled(self, on: bool) -> None:
        self.git_repo_row.setEnabled(on)
        self.git_push_check.setEnabled(on)

    def _choose_git_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(
            self, "Repository for the best versions", self.git_repo_edit.text() or str(Path.home()))
        if folder:
            self.git_repo_edit.setText(folder)

    def save(self) -> None:
        """Write the TOML (checked by reading it back), store the theme, close."""
        self._clear_errors()
        if self.git_commit_check.isChecked() and not self.git_repo_edit.text().strip():
            show_error(self.field_errors["optimize.git_repository"],
                       "choose the repository folder the best versions are committed to")
            return
        try:
            edited = self.edited_settings()
        except InputError as exc:
            show_error(self.field_errors["cluster.address"], str(exc).split(": ", 1)[-1])
            return
        try:
            save_settings(edited, self.config_file, forbidden=known_secrets())
            self.settings = load_settings(self.config_file)
        except ConfigError as exc:
            self._show_config_error(exc)
            return
        theme = str(self.theme_combo.currentData())
        save_theme(theme, self._qsettings)
        app = QtWidgets.QApplication.instance()
        if isinstance(app, QtWidgets.QApplication):
            apply_theme(app, theme)
        self.saved.emit(self.settings)
        self.accept()

    def _open_clicked(self) -> None:
        # A bound method, not a lambda holding `self`: no reference cycle keeps the dialog
        # (and its C++ side) alive past the application.
        button = self.sender()
        if button is not None:
            self.open_folder(Path(str(button.property("folder"))))

    def open_folder(self, folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            show_error(self.error_label, f"{folder}: cannot create the folder: {exc}")
            return
        url = QtCore.QUrl.fromLocalFile(str(folder))
        if not QtGui.QDesktopServices.openUrl(url):
            show_error(self.error_label, f"{folder}: no file manager could open it")


def _timezones() -> list[str]:
    from zoneinfo import available_timezones

    names = sorted(n for n in available_timezones() if "/" in n or n == "UTC")
    return ["UTC", *(n for n in names if n != "UTC")]
