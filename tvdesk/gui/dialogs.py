"""Credentials, Settings and About: the workbench's three dialogs.

None of them computes or blocks. They are opened window-modal with `open()` (or `show()`) by
the main window, never with `exec()`, which would nest an event loop inside the qasync loop
that also runs the optimisation. Saving emits `accepted` and `finished`; the main window
connects to those (and to `saved`) to refresh its status bar.

Secrets go straight to the OS keyring through `tvdesk.secrets` / `tvdesk.app.credentials`.
A stored secret is never put back into a widget: password fields show "stored" as a
placeholder, and an empty field on Save keeps what is stored. The TOTP preview shows the
current one-time code (which the authenticator app shows too), never the secret.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import platform
import re
from dataclasses import replace
from pathlib import Path

from tvdesk import POWERED_BY, __version__, paths
from tvdesk.app.credentials import store_credentials
from tvdesk.config import Settings, load_settings, save_settings
from tvdesk.errors import ConfigError, InputError, TvdeskError
from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets, Signal
from tvdesk.gui.theme import THEME_LABELS, THEMES, apply_theme, save_theme, saved_theme
from tvdesk.secrets import (
    FIELDS,
    INSTALL_HINT,
    Account,
    KeyringUnavailable,
    backend_name,
    delete_secrets,
    get_secret,
    known_secrets,
    totp_code,
    validate_totp_secret,
)

log = logging.getLogger(__name__)

ERROR_COLOUR = "#d64545"  # readable on light and dark palettes
STORED = "stored — leave empty to keep"
NOT_STORED = "not stored"
ACCOUNT_LABELS: dict[Account, str] = {"tradingview": "TradingView", "llm": "LLM"}

LICENSES = ("tvdesk Apache-2.0; PyneCore Apache-2.0; opencode-pine2pyne Apache-2.0; "
            "Qt for Python LGPLv3; pyqtgraph MIT; Optuna MIT")


def _error_label(word_wrap: bool = True) -> QtWidgets.QLabel:
    label = QtWidgets.QLabel()
    label.setWordWrap(word_wrap)
    label.setStyleSheet(f"color: {ERROR_COLOUR};")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def _show_error(label: QtWidgets.QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))


def _secret_edit() -> QtWidgets.QLineEdit:
    edit = QtWidgets.QLineEdit()
    edit.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
    edit.setClearButtonEnabled(True)
    edit.setMinimumWidth(280)
    return edit


def _note_label(text: str = "") -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    label.setWordWrap(True)
    label.setForegroundRole(QtGui.QPalette.ColorRole.PlaceholderText)
    return label


# ================================================================================ credentials



def _save_cancel(dialog: QtWidgets.QDialog) -> tuple[QtWidgets.QDialogButtonBox,
                                                    QtWidgets.QPushButton]:
    """Save / Cancel buttons wired to the dialog's `save()` and `reject()`."""
    standard = QtWidgets.QDialogButtonBox.StandardButton
    buttons = QtWidgets.QDialogButtonBox(standard.Save | standard.Cancel)
    buttons.accepted.connect(dialog.save)
    buttons.rejected.connect(dialog.reject)
    return buttons, buttons.button(standard.Save)

class CredentialsDialog(QtWidgets.QDialog):
    """TradingView login (with a live TOTP code) and the LLM API key, kept in the OS keyring."""

    saved = Signal(list)  # the accounts written, e.g. ["tradingview"]
    deleted = Signal(str)  # the account deleted

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Credentials")
        self.setModal(True)
        self.setMinimumWidth(480)
        self._stored: dict[str, bool] = {}
        self._stored_totp: str | None = None  # kept for the code preview, never shown
        self._stored_username: str | None = None
        self.keyring_usable = True

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self._tradingview_tab(), "TradingView")
        self.tabs.addTab(self._llm_tab(), "LLM")

        self.hint_label = QtWidgets.QLabel()
        self.hint_label.setWordWrap(True)
        self.hint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hint_label.setStyleSheet(
            f"QLabel {{ border: 1px solid {ERROR_COLOUR}; border-radius: 4px; padding: 8px;"
            " background: rgba(214, 69, 69, 0.12); }")
        self.hint_label.hide()
        self.error_label = _error_label()
        self.status_label = _note_label()

        self.buttons, self.save_button = _save_cancel(self)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.tabs)
        layout.addWidget(self.error_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)

        self.code_timer = QtCore.QTimer(self)
        self.code_timer.setInterval(1000)
        self.code_timer.timeout.connect(self.refresh_code)
        self.reload()

    # ------------------------------------------------------------------ layout

    def _tradingview_tab(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout()
        self.username_edit = QtWidgets.QLineEdit()
        self.username_edit.setClearButtonEnabled(True)
        self.username_edit.setMinimumWidth(280)
        self.password_edit = _secret_edit()
        self.totp_edit = _secret_edit()
        self.totp_edit.setToolTip("The base32 text under the QR code TradingView shows when "
                                  "you enable two-factor authentication")
        self.totp_edit.textChanged.connect(self.refresh_code)
        # The "Current code" row: the code (monospace) and a note, or the inline error; all
        # in one row, so the layout never jumps while typing.
        self.code_label = QtWidgets.QLabel()
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.code_label.setFont(font)
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code_note = _note_label()
        self.code_note.setWordWrap(False)
        self.totp_error = _error_label(word_wrap=False)
        self.totp_error.setToolTip("The secret is the base32 text (letters A–Z and digits 2–7) "
                                   "under the QR code TradingView shows when you enable 2FA")
        code_box = QtWidgets.QWidget()
        code_box.setMinimumHeight(QtGui.QFontMetrics(font).height() + 4)
        code_row = QtWidgets.QHBoxLayout(code_box)
        code_row.setContentsMargins(0, 0, 0, 0)
        code_row.setSpacing(12)
        code_row.addWidget(self.code_label)
        code_row.addWidget(self.code_note)
        code_row.addWidget(self.totp_error)
        code_row.addStretch(1)
        form.addRow("Username", self.username_edit)
        form.addRow("Password", self.password_edit)
        form.addRow("TOTP secret", self.totp_edit)
        form.addRow("Current code", code_box)
        self.delete_tradingview = QtWidgets.QPushButton("Delete TradingView credentials")
        self.delete_tradingview.setProperty("account", "tradingview")
        self.delete_tradingview.clicked.connect(self._delete_clicked)
        # Logs in once in a visible browser: the way to finish a login by hand when
        # TradingView asks for a captcha; the session then stays in tvdesk's browser profile.
        self.check_tradingview = QtWidgets.QPushButton("Check login…")
        self.check_tradingview.setToolTip(
            "Log in to TradingView once in a browser window (solve a captcha there if asked); "
            "the session is kept for later runs")
        self.check_tradingview.clicked.connect(self._check_clicked)
        self.check_note = _note_label()
        self.check_show_browser = True
        self._check_task: asyncio.Task | None = None
        form.addRow("Login", self.check_note)
        return self._page(page, form, self.delete_tradingview,
                          "Leave the TOTP secret empty if the account has no two-factor "
                          "authentication. Save, then Check login.",
                          extra=self.check_tradingview)

    def _llm_tab(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        form = QtWidgets.QFormLayout()
        self.api_key_edit = _secret_edit()
        form.addRow("API key", self.api_key_edit)
        self.delete_llm = QtWidgets.QPushButton("Delete LLM API key")
        self.delete_llm.setProperty("account", "llm")
        self.delete_llm.clicked.connect(self._delete_clicked)
        return self._page(page, form, self.delete_llm,
                          "The key of the OpenAI-compatible endpoint set in Settings.")

    def _check_clicked(self) -> None:
        if self._check_task is not None and not self._check_task.done():
            return
        self.check_tradingview.setEnabled(False)
        self.check_note.setText("logging in…")
        self._check_task = asyncio.ensure_future(self.check_login())

    async def check_login(self) -> tuple[bool, str]:
        """Log in once (or find the kept session) and show the outcome in the dialog."""
        from tvdesk.app.credentials import check_tradingview

        try:
            ok, message = await check_tradingview(None, show_browser=self.check_show_browser)
        except TvdeskError as exc:
            ok, message = False, str(exc)
        except Exception as exc:  # an unexpected bug: show it, log the traceback
            log.exception("TradingView login check failed")
            ok, message = False, f"{type(exc).__name__}: {exc}"
        self.check_note.setText(message)
        self.check_note.setStyleSheet("" if ok else f"color: {ERROR_COLOUR};")
        self.check_tradingview.setEnabled(True)
        return ok, message

    @staticmethod
    def _page(page: QtWidgets.QWidget, form: QtWidgets.QFormLayout,
              delete: QtWidgets.QPushButton, note: str,
              extra: QtWidgets.QPushButton | None = None) -> QtWidgets.QWidget:
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        layout = QtWidgets.QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(_note_label(note))
        layout.addStretch(1)
        row = QtWidgets.QHBoxLayout()
        if extra is not None:
            row.addWidget(extra)
        row.addStretch(1)
        row.addWidget(delete)
        layout.addLayout(row)
        return page

    def _secret_edits(self) -> dict[tuple[Account, str], QtWidgets.QLineEdit]:
        return {("tradingview", "password"): self.password_edit,
                ("tradingview", "totp_secret"): self.totp_edit,
                ("llm", "api_key"): self.api_key_edit}

    # ------------------------------------------------------------------ state

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        self.code_timer.start()
        self.refresh_code()

    def hideEvent(self, event: QtGui.QHideEvent) -> None:
        self.code_timer.stop()
        super().hideEvent(event)

    def reload(self) -> None:
        """Read what is stored: the username as text, the secrets only as "stored"."""
        self._stored.clear()
        self._stored_totp = None
        self._stored_username = None
        username: str | None = None
        try:
            for account, fields in FIELDS.items():
                for field in fields:
                    value = get_secret(account, field)
                    self._stored[f"{account}:{field}"] = bool(value)
                    if field == "username":
                        username = value
                    elif field == "totp_secret":
                        self._stored_totp = value or None
        except KeyringUnavailable:
            self._set_unusable()
            return
        self._stored_username = username
        self.username_edit.setText(username or "")
        self.username_edit.setPlaceholderText(NOT_STORED)
        for (account, field), edit in self._secret_edits().items():
            edit.clear()
            edit.setPlaceholderText(STORED if self._stored[f"{account}:{field}"] else NOT_STORED)
        name = backend_name()
        note = f"Keyring: {name}"
        if "plaintext" in name.lower():
            note += " — an unencrypted file, for headless machines"
        self.status_label.setText(note)
        self.refresh_code()

    def _set_unusable(self) -> None:
        self.keyring_usable = False
        self.hint_label.setText("Credentials cannot be saved — " + INSTALL_HINT + ".")
        self.hint_label.show()
        for widget in (self.save_button, self.delete_tradingview, self.delete_llm):
            widget.setEnabled(False)
        for edit in (self.username_edit, *self._secret_edits().values()):
            edit.clear()
            edit.setPlaceholderText("")
            edit.setEnabled(False)
        self.status_label.setText("")
        self.refresh_code()

    def refresh_code(self) -> None:
        """The TOTP preview: the typed secret's code, else the stored one's, with seconds left."""
        typed = self.totp_edit.text()
        if typed.strip():
            try:
                validate_totp_secret(typed)
            except InputError:
                self._show_code(None, None, error="invalid secret: not base32")
                return
            secret, source = typed, ""
        elif self._stored_totp:
            secret, source = self._stored_totp, " (stored secret)"
        else:
            self._show_code(None, "no TOTP secret")
            return
        try:
            code, left = totp_code(secret)
        except InputError:  # a stored secret that is no longer valid base32
            self._show_code(None, None, error="the stored secret is not base32: enter it again")
            return
        self._show_code(f"{code[:3]} {code[3:]}", f"{left} s left{source}")

    def _show_code(self, code: str | None, note: str | None, error: str | None = None) -> None:
        self.code_label.setText(code or "")
        self.code_label.setVisible(bool(code))
        self.code_note.setText(note or "")
        self.code_note.setVisible(bool(note))
        _show_error(self.totp_error, error)

    def current_code(self) -> str | None:
        """The six digits shown in the preview, or None."""
        digits = re.fullmatch(r"(\d{3}) (\d{3})", self.code_label.text())
        return digits.group(1) + digits.group(2) if digits else None

    # ------------------------------------------------------------------ actions

    def _entered(self) -> dict[Account, dict[str, str]]:
        tradingview = {"username": self.username_edit.text(),
                       "password": self.password_edit.text(),
                       "totp_secret": self.totp_edit.text()}
        if tradingview["username"].strip() == (self._stored_username or ""):
            tradingview["username"] = ""  # shown as stored: unchanged, nothing to write
        return {"tradingview": {k: v for k, v in tradingview.items() if v.strip()},
                "llm": {k: v for k, v in {"api_key": self.api_key_edit.text()}.items()
                        if v.strip()}}

    def save(self) -> None:
        """Write the non-empty fields and close; errors stay in the dialog."""
        if not self.keyring_usable:
            return
        entered = self._entered()
        tradingview = entered["tradingview"]
        if tradingview:
            if "totp_secret" in tradingview:
                try:
                    validate_totp_secret(tradingview["totp_secret"])
                except InputError:
                    self.tabs.setCurrentIndex(0)
                    self.totp_edit.setFocus()
                    _show_error(self.error_label, "Not saved: the TOTP secret is not valid "
                                "base32.")
                    return
            missing = [label for field, label in (("username", "username"),
                                                  ("password", "password"))
                       if field not in tradingview
                       and not self._stored.get(f"tradingview:{field}")]
            if missing:
                self.tabs.setCurrentIndex(0)
                _show_error(self.error_label, "Not saved: TradingView needs a "
                            f"{' and a '.join(missing)}.")
                return
        written: list[str] = []
        try:
            for account, values in entered.items():
                if values and store_credentials(account, values):
                    written.append(account)
        except KeyringUnavailable:
            self._set_unusable()
            return
        except InputError as exc:
            _show_error(self.error_label, f"Not saved: {exc}")
            return
        for edit in self._secret_edits().values():
            edit.clear()
        _show_error(self.error_label, None)
        if written:
            self.saved.emit(written)
        self.accept()

    def _delete_clicked(self) -> None:
        button = self.sender()
        if button is not None:
            self.delete(str(button.property("account")))  # type: ignore[arg-type]

    def delete(self, account: Account) -> None:
        try:
            removed = delete_secrets(account)
        except KeyringUnavailable:
            self._set_unusable()
            return
        self.reload()
        if account == "tradingview":
            self.username_edit.clear()
        label = ACCOUNT_LABELS[account]
        self.status_label.setText(f"{label} credentials deleted from the keyring" if removed
                                  else f"No {label} credentials were stored")
        self.deleted.emit(account)


# ================================================================================ settings


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
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
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

        self.error_label = _error_label()
        self.buttons, self.save_button = _save_cancel(self)

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
        error = _error_label()
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
            _show_error(self.error_label, f"{exc}\nFix the file (or remove it) and reopen "
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
        _show_error(self.error_label, None)
        for label in self.field_errors.values():
            _show_error(label, None)

    def _show_config_error(self, exc: ConfigError) -> None:
        message = str(exc)
        found = re.search(r"key '([^']+)'", message)
        label = self.field_errors.get(found.group(1)) if found else None
        if label is not None:  # under its field, the file and key go without saying
            _show_error(label, message[found.end():].lstrip(": ") if found else message)
        else:
            _show_error(self.error_label, message)

    def edited_settings(self) -> Settings:
        """The settings as the form shows them (profiles as loaded)."""
        model = self.model_combo.currentText().strip()
        return replace(
            self.settings,
            llm_base_url=self.base_url_edit.text().strip() or None,
            llm_models=self._models(),
            llm_model=model or None,
            engine=str(self.engine_combo.currentData()),
            processes=self.processes_spin.value(),
            timezone=self.timezone_combo.currentText().strip(),
        )

    def save(self) -> None:
        """Write the TOML (checked by reading it back), store the theme, close."""
        self._clear_errors()
        try:
            save_settings(self.edited_settings(), self.config_file, forbidden=known_secrets())
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
            _show_error(self.error_label, f"{folder}: cannot create the folder: {exc}")
            return
        url = QtCore.QUrl.fromLocalFile(str(folder))
        if not QtGui.QDesktopServices.openUrl(url):
            _show_error(self.error_label, f"{folder}: no file manager could open it")


def _timezones() -> list[str]:
    from zoneinfo import available_timezones

    names = sorted(n for n in available_timezones() if "/" in n or n == "UTC")
    return ["UTC", *(n for n in names if n != "UTC")]


# ================================================================================ about


class AboutDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About tvdesk")
        title = QtWidgets.QLabel(f"tvdesk {html.escape(__version__)}")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        description = QtWidgets.QLabel("A desktop workbench for TradingView Pine Script "
                                       "strategies: backtest locally or on TradingView, "
                                       "judge, optimise, report.")
        description.setWordWrap(True)
        self.powered_by_label = QtWidgets.QLabel(_linked(POWERED_BY))
        self.powered_by_label.setTextFormat(Qt.TextFormat.RichText)
        self.powered_by_label.setOpenExternalLinks(True)
        self.licenses_label = QtWidgets.QLabel(
            "<b>Licenses</b><br>" + "<br>".join(html.escape(entry)
                                                for entry in LICENSES.split("; ")))
        self.licenses_label.setTextFormat(Qt.TextFormat.RichText)
        self.versions_label = _note_label(
            f"Python {platform.python_version()} · "
            f"Qt {QtCore.qVersion()} · Qt for Python {QtCore.__version__} · "
            f"{platform.system()} {platform.machine()}")
        for label in (description, self.licenses_label, self.versions_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(description)
        layout.addWidget(self.powered_by_label)
        layout.addWidget(self.licenses_label)
        layout.addWidget(self.versions_label)
        layout.addSpacing(6)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def text(self) -> str:
        """Everything the dialog says, as plain text (for tests and "copy to clipboard")."""
        labels = self.findChildren(QtWidgets.QLabel)
        return "\n".join(QtGui.QTextDocumentFragment.fromHtml(label.text()).toPlainText()
                         if label.textFormat() == Qt.TextFormat.RichText else label.text()
                         for label in labels)


def _linked(text: str) -> str:
    """Plain text with its URLs made into links (rich text for a QLabel)."""
    escaped = html.escape(text)
    return re.sub(r"https?://[^\s)]+", lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>',
                  escaped)
