"""Credentials: the TradingView login and the LLM API key, kept in the OS keyring.

Opened window-modal with `open()` by the main window, never with `exec()`, which would nest an
event loop inside the qasync loop that also runs the optimisation. Saving emits `accepted` and
`finished`; the main window connects to those (and to `saved`) to refresh its status bar.

Secrets go straight to the OS keyring through `tvdesk.secrets` / `tvdesk.app.credentials`.
A stored secret is never put back into a widget: password fields show "stored" as a
placeholder, and an empty field on Save keeps what is stored. The TOTP preview shows the
current one-time code (which the authenticator app shows too), never the secret.

When the keyring backend writes a plaintext file (`keyring_security().needs_confirmation`), a
warning says so and how to get a secure backend, and a secret is saved only once the user ticks
"Store in the plaintext keyring anyway" (a checkbox, not a modal question: no nested loop).
"""

from __future__ import annotations

import asyncio
import logging
import re

from tvdesk.app.credentials import GUI_CONFIRM_HINT, store_credentials
from tvdesk.errors import InputError, TvdeskError
from tvdesk.gui.form_helpers import ERROR_COLOUR, error_label, note_label, save_cancel, show_error
from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets, Signal
from tvdesk.secrets import (
    FIELDS,
    INSTALL_HINT,
    Account,
    InsecureKeyring,
    KeyringSecurity,
    KeyringUnavailable,
    check_storable,
    delete_secrets,
    get_secret,
    keyring_security,
    totp_code,
    validate_totp_secret,
)

log = logging.getLogger(__name__)

STORED = "stored — leave empty to keep"
NOT_STORED = "not stored"
ACCOUNT_LABELS: dict[Account, str] = {"tradingview": "TradingView", "llm": "LLM"}
ALLOW_PLAINTEXT = "Store in the plaintext keyring anyway"
WARNING_COLOUR = "#c98a1a"  # amber, readable on light and dark palettes


def _secret_edit() -> QtWidgets.QLineEdit:
    edit = QtWidgets.QLineEdit()
    edit.setEchoMode(QtWidgets.QLineEdit.EchoMode.Password)
    edit.setClearButtonEnabled(True)
    edit.setMinimumWidth(280)
    return edit


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
        # A plaintext keyring backend: what that means, how to get a secure one, and the
        # confirmation a secret needs to be saved there anyway.
        self.plaintext_warning = QtWidgets.QLabel()
        self.plaintext_warning.setWordWrap(True)
        self.plaintext_warning.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plaintext_warning.setStyleSheet(
            f"QLabel {{ border: 1px solid {WARNING_COLOUR}; border-radius: 4px; padding: 8px;"
            " background: rgba(201, 138, 26, 0.12); }")
        self.plaintext_warning.hide()
        self.allow_plaintext = QtWidgets.QCheckBox(ALLOW_PLAINTEXT)
        self.allow_plaintext.setToolTip("Save the password, TOTP secret and API key in the "
                                        "unencrypted keyring file")
        self.allow_plaintext.hide()
        self.error_label = error_label()
        self.status_label = note_label()

        self.buttons, self.save_button = save_cancel(self)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.plaintext_warning)
        layout.addWidget(self.tabs)
        layout.addWidget(self.allow_plaintext)
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
        self.code_note = note_label()
        self.code_note.setWordWrap(False)
        self.totp_error = error_label(word_wrap=False)
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
        self.check_note = note_label()
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
        layout.addWidget(note_label(note))
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
            security = keyring_security()
        except KeyringUnavailable:
            self._set_unusable()
            return
        if security.kind == "unusable":  # e.g. the null backend: reads work, keeps nothing
            self._set_unusable()
            return
        self._stored_username = username
        self.username_edit.setText(username or "")
        self.username_edit.setPlaceholderText(NOT_STORED)
        for (account, field), edit in self._secret_edits().items():
            edit.clear()
            edit.setPlaceholderText(STORED if self._stored[f"{account}:{field}"] else NOT_STORED)
        self._show_security(security)
        self.refresh_code()

    def _show_security(self, security: KeyringSecurity) -> None:
        """The backend in the status line; for a plaintext one, the warning and checkbox."""
        self.status_label.setText(f"Keyring: {security.label}")
        plaintext = security.needs_confirmation
        if plaintext:
            self.plaintext_warning.setText(
                f"Not secure: the keyring ({security.backend}) is an unencrypted file. A "
                "password, TOTP secret or API key saved there can be read by any program "
                "running as you and by anyone with a copy of the file.\n\n"
                f"{security.advice}")
            self.plaintext_warning.setToolTip(security.explanation)
        self.plaintext_warning.setVisible(plaintext)
        self.allow_plaintext.setVisible(plaintext)
        if not plaintext:
            self.allow_plaintext.setChecked(False)
        self.adjustSize()  # the warning's wrapped lines need their height

    def _set_unusable(self) -> None:
        self.keyring_usable = False
        self.hint_label.setText("Credentials cannot be saved — " + INSTALL_HINT + ".")
        self.hint_label.show()
        self.plaintext_warning.hide()
        self.allow_plaintext.hide()
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
        show_error(self.totp_error, error)

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
                    show_error(self.error_label, "Not saved: the TOTP secret is not valid "
                                "base32.")
                    return
            missing = [label for field, label in (("username", "username"),
                                                  ("password", "password"))
                       if field not in tradingview
                       and not self._stored.get(f"tradingview:{field}")]
            if missing:
                self.tabs.setCurrentIndex(0)
                show_error(self.error_label, "Not saved: TradingView needs a "
                            f"{' and a '.join(missing)}.")
                return
        allow = self.allow_plaintext.isChecked()
        written: list[str] = []
        try:
            for account, values in entered.items():  # both accounts checked before any write
                if values:
                    check_storable(account, values, allow_plaintext=allow,
                                   confirm_hint=GUI_CONFIRM_HINT)
            for account, values in entered.items():
                if values and store_credentials(account, values, allow_plaintext=allow):
                    written.append(account)
        except InsecureKeyring:
            self._show_security(keyring_security())  # the typed values stay in their fields
            self.allow_plaintext.setFocus()
            show_error(self.error_label, "Not saved: the keyring is an unencrypted file. Tick "
                       f"“{ALLOW_PLAINTEXT}” to save there, or set up a secure keyring (see "
                       "above) and open this dialog again.")
            return
        except KeyringUnavailable:
            self._set_unusable()
            return
        except InputError as exc:
            show_error(self.error_label, f"Not saved: {exc}")
            return
        for edit in self._secret_edits().values():
            edit.clear()
        show_error(self.error_label, None)
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
