"""The Credentials, Settings and About dialogs as a user drives them, against a real keyring
backend that runs headless (keyrings.alt's plaintext file) and real TOML files.

That backend is an unencrypted file: the dialog saves a secret there only once "Store in the
plaintext keyring anyway" is ticked, which the tests that save do (`confirm_plaintext`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
import time
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import keyring
import pyotp
import pytest
from keyring.backends import fail

from tvdesk import POWERED_BY, __version__
from tvdesk.config import load_settings, save_settings
from tvdesk.errors import ConfigError, InputError
from tvdesk.gui.about_dialog import AboutDialog
from tvdesk.gui.credentials_dialog import ALLOW_PLAINTEXT, NOT_STORED, STORED, CredentialsDialog
from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets
from tvdesk.gui.settings_dialog import SettingsDialog
from tvdesk.gui.theme import apply_theme, is_dark, save_theme, saved_theme
from tvdesk.secrets import INSTALL_HINT, get_secret, set_secret, totp_code, validate_totp_secret

# Every test here runs against a real file keyring backend (tests/gui/conftest.py).
pytestmark = pytest.mark.usefixtures("plaintext_keyring")

PASSWORD = "hunter2-SECRET-pw"
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits: plain pyotp accepts it
API_KEY = "sk-test-SECRET-0123456789"
CONFIG = """\
processes = 2
[profiles.eu]
script = "pine/s.pine"
data = "~/d.csv"
timezone = "Europe/Berlin"
mintick = 0.0001
from = 2020-01-01
conditions = "1-3,7"
[profiles.eu.inputs]
"Fast Length" = 9
[profiles.eu.targets]
min_trades = 30
"""


@pytest.fixture
def qsettings(tmp_path: Path) -> QtCore.QSettings:
    return QtCore.QSettings(str(tmp_path / "tvdesk.ini"), QtCore.QSettings.Format.IniFormat)


@pytest.fixture
def system_theme_after(qapp):
    yield
    apply_theme(qapp, "system")


def widget_texts(root: QtWidgets.QWidget) -> str:
    """Every text a user could see or a screen reader could read in `root`."""
    texts = [root.windowTitle(), root.toolTip()]
    for w in root.findChildren(QtWidgets.QWidget):
        texts += [w.toolTip(), w.accessibleName(), w.windowTitle()]
        if isinstance(w, QtWidgets.QLineEdit):
            texts += [w.text(), w.displayText(), w.placeholderText()]
        elif isinstance(w, (QtWidgets.QLabel, QtWidgets.QAbstractButton)):
            texts.append(w.text())
        elif isinstance(w, QtWidgets.QComboBox):
            texts += [w.itemText(i) for i in range(w.count())]
        elif isinstance(w, QtWidgets.QTabWidget):
            texts += [w.tabText(i) for i in range(w.count())]
    return "\n".join(texts)


def open_dialog(qtbot, dialog: QtWidgets.QDialog) -> QtWidgets.QDialog:
    qtbot.addWidget(dialog)
    dialog.open()  # as the main window opens it: window-modal, no nested event loop
    qtbot.waitExposed(dialog)
    return dialog


def click(qtbot, button: QtWidgets.QAbstractButton) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def confirm_plaintext(qtbot, dialog: CredentialsDialog) -> None:
    """Tick "Store in the plaintext keyring anyway", as a user does."""
    assert dialog.allow_plaintext.isVisibleTo(dialog)
    click(qtbot, dialog.allow_plaintext)
    assert dialog.allow_plaintext.isChecked()


# ================================================================================ credentials


def test_credentials_round_trip_through_the_keyring(qtbot) -> None:
    dialog = open_dialog(qtbot, CredentialsDialog())
    saved: list[list[str]] = []
    dialog.saved.connect(saved.append)
    qtbot.keyClicks(dialog.username_edit, "trader@example.com")
    qtbot.keyClicks(dialog.password_edit, PASSWORD)
    qtbot.keyClicks(dialog.totp_edit, "jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp")  # as apps show it
    dialog.tabs.setCurrentIndex(1)
    qtbot.keyClicks(dialog.api_key_edit, API_KEY)
    assert dialog.password_edit.echoMode() == QtWidgets.QLineEdit.EchoMode.Password
    assert dialog.totp_edit.echoMode() == QtWidgets.QLineEdit.EchoMode.Password
    assert dialog.api_key_edit.echoMode() == QtWidgets.QLineEdit.EchoMode.Password

    confirm_plaintext(qtbot, dialog)
    with qtbot.waitSignals([dialog.accepted, dialog.finished], timeout=5000):
        click(qtbot, dialog.save_button)
    assert dialog.result() == QtWidgets.QDialog.DialogCode.Accepted
    assert saved == [["tradingview", "llm"]]
    assert get_secret("tradingview", "username") == "trader@example.com"
    assert get_secret("tradingview", "password") == PASSWORD
    assert get_secret("tradingview", "totp_secret") == TOTP
    assert get_secret("llm", "api_key") == API_KEY

    again = open_dialog(qtbot, CredentialsDialog())
    assert again.username_edit.text() == "trader@example.com"
    for edit in (again.password_edit, again.totp_edit, again.api_key_edit):
        assert edit.text() == ""
        assert edit.placeholderText() == STORED
    texts = widget_texts(again)
    for secret in (PASSWORD, TOTP, API_KEY, TOTP.lower(), "JBSW Y3DP"):
        assert secret not in texts
    assert again.status_label.text() == "Keyring: plaintext file (not secure)"
    assert not again.allow_plaintext.isChecked()  # confirmed per save, not remembered
    # the stored secret still drives the preview, which shows codes only
    assert again.current_code() is not None and "stored secret" in again.code_note.text()


def test_saving_a_new_password_keeps_the_other_stored_fields(qtbot) -> None:
    set_secret("tradingview", "username", "trader")
    set_secret("tradingview", "password", "old-password")
    set_secret("tradingview", "totp_secret", TOTP)
    dialog = open_dialog(qtbot, CredentialsDialog())
    qtbot.keyClicks(dialog.password_edit, PASSWORD)
    confirm_plaintext(qtbot, dialog)
    with qtbot.waitSignal(dialog.saved, timeout=5000) as blocker:
        click(qtbot, dialog.save_button)
    assert blocker.args == [["tradingview"]]
    assert get_secret("tradingview", "password") == PASSWORD
    assert get_secret("tradingview", "totp_secret") == TOTP
    assert get_secret("llm", "api_key") is None  # an empty field writes nothing
    # only the LLM key typed: the username shown as stored is not "entered"
    dialog = open_dialog(qtbot, CredentialsDialog())
    qtbot.keyClicks(dialog.api_key_edit, API_KEY)
    confirm_plaintext(qtbot, dialog)
    with qtbot.waitSignal(dialog.saved, timeout=5000) as blocker:
        click(qtbot, dialog.save_button)
    assert blocker.args == [["llm"]]
    assert get_secret("llm", "api_key") == API_KEY
    assert get_secret("tradingview", "username") == "trader"


def test_totp_preview_shows_the_code_pyotp_computes(qtbot) -> None:
    dialog = open_dialog(qtbot, CredentialsDialog())
    assert dialog.code_timer.isActive() and dialog.code_timer.interval() == 1000
    assert dialog.current_code() is None and "no TOTP secret" in dialog.code_note.text()
    qtbot.keyClicks(dialog.totp_edit, TOTP)
    shown = dialog.current_code()
    now = time.time()
    totp = pyotp.TOTP(TOTP)
    # the preview and this read may straddle a 30 s window: accept the neighbours
    assert shown in {totp.at(now - 30), totp.now(), totp.at(now + 30)}
    left = int(re.search(r"(\d+) s left", dialog.code_note.text()).group(1))
    assert 1 <= left <= 30
    assert not dialog.totp_error.isVisibleTo(dialog)
    # the timer keeps it current: the next tick renders the code of its own moment
    with qtbot.waitSignal(dialog.code_timer.timeout, timeout=5000):
        pass
    now = time.time()
    assert dialog.current_code() in {totp.at(now - 30), totp.now(), totp.at(now + 30)}


def _rfc4226(key: bytes, counter: int) -> str:
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def test_totp_code_follows_rfc_6238_also_for_80_bit_secrets() -> None:
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits) -> 287082
    rfc_secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp_code(rfc_secret, at=59) == ("287082", 1)
    # 16-character secrets (80 bits) are common; pyotp 2.12+ alone would refuse them
    short = base64.b32encode(b"1234567890").decode()
    assert len(short) == 16
    assert totp_code(short, at=1_000_000)[0] == _rfc4226(b"1234567890", 1_000_000 // 30)
    assert totp_code(short.lower(), at=1_000_000)[1] == 30 - 1_000_000 % 30
    assert validate_totp_secret(" jbsw y3dp ehpk 3pxp ") == "JBSWY3DPEHPK3PXP"
    for bad in ("not base32!", "A", "", "   "):
        with pytest.raises(InputError):
            validate_totp_secret(bad)


def test_an_invalid_totp_secret_is_reported_inline_and_not_saved(qtbot) -> None:
    dialog = open_dialog(qtbot, CredentialsDialog())
    qtbot.keyClicks(dialog.username_edit, "trader")
    qtbot.keyClicks(dialog.password_edit, PASSWORD)
    qtbot.keyClicks(dialog.totp_edit, "not base32!")
    assert dialog.totp_error.isVisibleTo(dialog)
    assert "invalid secret" in dialog.totp_error.text()
    assert dialog.current_code() is None
    click(qtbot, dialog.save_button)
    assert dialog.isVisible() and dialog.result() != QtWidgets.QDialog.DialogCode.Accepted
    assert "not valid base32" in dialog.error_label.text()
    assert get_secret("tradingview", "password") is None  # nothing was written
    dialog.totp_edit.clear()
    assert not dialog.totp_error.isVisibleTo(dialog)


def test_tradingview_needs_a_username_and_password(qtbot) -> None:
    dialog = open_dialog(qtbot, CredentialsDialog())
    qtbot.keyClicks(dialog.password_edit, PASSWORD)
    click(qtbot, dialog.save_button)
    assert "needs a username" in dialog.error_label.text()
    assert get_secret("tradingview", "password") is None


def test_delete_removes_one_account_only(qtbot) -> None:
    set_secret("tradingview", "username", "trader")
    set_secret("tradingview", "password", PASSWORD)
    set_secret("llm", "api_key", API_KEY)
    dialog = open_dialog(qtbot, CredentialsDialog())
    with qtbot.waitSignal(dialog.deleted, timeout=5000) as blocker:
        click(qtbot, dialog.delete_tradingview)
    assert blocker.args == ["tradingview"]
    assert get_secret("tradingview", "username") is None
    assert get_secret("tradingview", "password") is None
    assert get_secret("llm", "api_key") == API_KEY
    assert dialog.username_edit.text() == ""
    assert dialog.password_edit.placeholderText() == NOT_STORED
    assert dialog.api_key_edit.placeholderText() == STORED
    assert "deleted" in dialog.status_label.text()
    click(qtbot, dialog.delete_llm)
    assert get_secret("llm", "api_key") is None
    click(qtbot, dialog.delete_llm)
    assert "No LLM credentials were stored" in dialog.status_label.text()


def test_without_a_keyring_backend_the_dialog_says_what_to_install(qtbot) -> None:
    keyring.set_keyring(fail.Keyring())  # the autouse fixture restores the previous one
    dialog = open_dialog(qtbot, CredentialsDialog())
    assert dialog.hint_label.isVisibleTo(dialog)
    assert INSTALL_HINT in dialog.hint_label.text()
    assert not dialog.save_button.isEnabled()
    assert not dialog.delete_tradingview.isEnabled() and not dialog.delete_llm.isEnabled()
    assert not dialog.password_edit.isEnabled()
    dialog.save()  # even called directly, nothing happens and nothing raises
    assert dialog.isVisible()


def test_a_plaintext_keyring_is_refused_until_the_user_confirms(qtbot) -> None:
    dialog = open_dialog(qtbot, CredentialsDialog())
    saved: list[list[str]] = []
    dialog.saved.connect(saved.append)
    # the warning: what the backend does, and how to get a secure one
    assert dialog.plaintext_warning.isVisibleTo(dialog)
    warning = dialog.plaintext_warning.text()
    assert "unencrypted file" in warning and "keyrings.alt.file.PlaintextKeyring" in warning
    assert "gnome-keyring" in warning and "PYTHON_KEYRING_BACKEND" in warning
    assert dialog.allow_plaintext.text() == ALLOW_PLAINTEXT
    assert not dialog.allow_plaintext.isChecked()
    assert dialog.status_label.text() == "Keyring: plaintext file (not secure)"

    qtbot.keyClicks(dialog.username_edit, "trader")
    qtbot.keyClicks(dialog.password_edit, PASSWORD)
    qtbot.keyClicks(dialog.totp_edit, TOTP)
    dialog.tabs.setCurrentIndex(1)
    qtbot.keyClicks(dialog.api_key_edit, API_KEY)
    click(qtbot, dialog.save_button)
    # refused: the dialog stays open, says why, and nothing at all was written
    assert dialog.isVisible() and dialog.result() != QtWidgets.QDialog.DialogCode.Accepted
    assert saved == []
    assert "Not saved" in dialog.error_label.text()
    assert ALLOW_PLAINTEXT in dialog.error_label.text()
    for account, field in (("tradingview", "username"), ("tradingview", "password"),
                           ("tradingview", "totp_secret"), ("llm", "api_key")):
        assert get_secret(account, field) is None
    # what the user typed is still there, so confirming is one click away
    assert dialog.password_edit.text() == PASSWORD and dialog.api_key_edit.text() == API_KEY
    for secret in (PASSWORD, TOTP, API_KEY):
        assert secret not in dialog.error_label.text() + dialog.plaintext_warning.text()

    confirm_plaintext(qtbot, dialog)
    with qtbot.waitSignals([dialog.accepted, dialog.finished], timeout=5000):
        click(qtbot, dialog.save_button)
    assert saved == [["tradingview", "llm"]]
    assert get_secret("tradingview", "password") == PASSWORD
    assert get_secret("tradingview", "totp_secret") == TOTP
    assert get_secret("llm", "api_key") == API_KEY


def test_the_username_alone_needs_no_confirmation(qtbot) -> None:
    set_secret("tradingview", "password", PASSWORD)
    dialog = open_dialog(qtbot, CredentialsDialog())
    qtbot.keyClicks(dialog.username_edit, "new-name")
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        click(qtbot, dialog.save_button)
    assert get_secret("tradingview", "username") == "new-name"


def test_a_secure_keyring_shows_no_warning_and_saves_directly(qtbot) -> None:
    from typing import ClassVar

    from keyring.backends import SecretService

    class MemorySecretService(SecretService.Keyring):  # the real class lineage, in memory
        values: ClassVar[dict] = {}

        def get_password(self, service, username):
            return self.values.get((service, username))

        def set_password(self, service, username, password):
            self.values[(service, username)] = password

        def delete_password(self, service, username):
            del self.values[(service, username)]

    keyring.set_keyring(MemorySecretService())  # the autouse fixture restores the previous one
    dialog = open_dialog(qtbot, CredentialsDialog())
    assert not dialog.plaintext_warning.isVisibleTo(dialog)
    assert not dialog.allow_plaintext.isVisibleTo(dialog)
    assert dialog.status_label.text() == "Keyring: Secret Service"
    dialog.tabs.setCurrentIndex(1)
    qtbot.keyClicks(dialog.api_key_edit, API_KEY)
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        click(qtbot, dialog.save_button)
    assert MemorySecretService.values[("tvdesk", "llm:api_key")] == API_KEY


def test_a_keyring_that_keeps_nothing_disables_saving(qtbot) -> None:
    from keyring.backends import null

    keyring.set_keyring(null.Keyring())
    dialog = open_dialog(qtbot, CredentialsDialog())
    assert dialog.hint_label.isVisibleTo(dialog) and INSTALL_HINT in dialog.hint_label.text()
    assert not dialog.save_button.isEnabled()


# ================================================================================ settings


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_settings_are_saved_and_read_back_with_profiles_kept(
        qtbot, tmp_path: Path, qsettings, system_theme_after, qapp) -> None:
    path = write_config(tmp_path)
    before = load_settings(path)
    dialog = open_dialog(qtbot, SettingsDialog(path, qsettings=qsettings))
    assert dialog.processes_spin.value() == 2
    assert dialog.model_combo.currentText() == "auto"
    assert [dialog.model_combo.itemText(i) for i in range(dialog.model_combo.count())] == ["auto"]
    qtbot.keyClicks(dialog.base_url_edit, "http://localhost:11434/v1")
    qtbot.keyClicks(dialog.models_edit, "llama3, qwen2.5-coder")
    assert [dialog.model_combo.itemText(i) for i in range(dialog.model_combo.count())] == [
        "auto", "llama3", "qwen2.5-coder"]
    dialog.model_combo.setCurrentText("qwen2.5-coder")
    dialog.engine_combo.setCurrentIndex(dialog.engine_combo.findData("tradingview"))
    dialog.processes_spin.setValue(6)
    dialog.timezone_combo.setCurrentText("Europe/Berlin")
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    saved = []
    dialog.saved.connect(saved.append)
    with qtbot.waitSignals([dialog.accepted, dialog.finished], timeout=5000):
        click(qtbot, dialog.save_button)

    after = load_settings(path)
    assert after.llm_base_url == "http://localhost:11434/v1"
    assert after.llm_models == ("llama3", "qwen2.5-coder")
    assert after.llm_model == "qwen2.5-coder"
    assert after.engine == "tradingview" and after.processes == 6
    assert after.timezone == "Europe/Berlin"
    assert after.profiles == before.profiles
    text = path.read_text(encoding="utf-8")
    assert 'script = "pine/s.pine"' in text and 'data = "~/d.csv"' in text  # as written
    assert saved == [after]
    assert saved_theme(qsettings) == "dark"
    assert "theme" not in text  # the theme is a view preference: QSettings, not the TOML
    assert is_dark()


def test_settings_dialog_sets_stop_on_target_and_the_git_repository(
        qtbot, tmp_path: Path, qsettings) -> None:
    path = write_config(tmp_path)
    dialog = open_dialog(qtbot, SettingsDialog(path, qsettings=qsettings))
    assert not dialog.stop_on_target_check.isChecked() and not dialog.git_repo_row.isEnabled()
    dialog.stop_on_target_check.setChecked(True)
    dialog.git_commit_check.setChecked(True)
    assert dialog.git_repo_row.isEnabled()
    click(qtbot, dialog.save_button)  # no repository chosen: refused at its field
    assert "choose the repository folder" in \
        dialog.field_errors["optimize.git_repository"].text()
    assert dialog.isVisible()
    dialog.git_repo_edit.setText(str(tmp_path / "best"))
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        click(qtbot, dialog.save_button)
    after = load_settings(path).optimize
    assert after.stop_on_target and after.git_commit and not after.git_push
    assert after.git_repository == tmp_path / "best"


def test_settings_dialog_sets_the_dask_cluster_and_refuses_a_bad_address(
        qtbot, tmp_path: Path, qsettings) -> None:
    path = write_config(tmp_path)
    dialog = open_dialog(qtbot, SettingsDialog(path, qsettings=qsettings))
    assert dialog.cluster_edit.text() == ""
    dialog.cluster_edit.setText("scheduler-host:8786")
    click(qtbot, dialog.save_button)
    assert "expected a Dask scheduler address such as tcp://HOST:8786" in \
        dialog.field_errors["cluster.address"].text()
    assert load_settings(path).cluster.address == ""  # nothing written
    dialog.cluster_edit.setText("tcp://10.0.0.5:8786")
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        click(qtbot, dialog.save_button)
    assert load_settings(path).cluster.address == "tcp://10.0.0.5:8786"
    assert "[cluster]" in path.read_text(encoding="utf-8")


def test_settings_dialog_accepts_the_settings_in_use(qtbot, tmp_path: Path, qsettings) -> None:
    path = write_config(tmp_path)
    dialog = open_dialog(qtbot, SettingsDialog(load_settings(path), qsettings=qsettings))
    assert dialog.config_file == path
    assert dialog.folder_edits["Settings file"].text() == str(path)
    assert all(edit.isReadOnly() for edit in dialog.folder_edits.values())
    fresh = tmp_path / "new" / "config.toml"  # not there yet: created on Save
    dialog = open_dialog(qtbot, SettingsDialog(fresh, qsettings=qsettings))
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        click(qtbot, dialog.save_button)
    assert load_settings(fresh).processes == 1


@pytest.mark.parametrize(("field", "value", "key", "expected"), [
    ("timezone", "Mars/Olympus", "timezone", "IANA timezone"),
    ("base_url", "ftp://example.com", "llm.base_url", "http(s) URL"),
    ("model", "gpt-9", "llm.model", "\"auto\" or one of llm.models"),
])
def test_a_bad_value_is_shown_under_its_field_and_nothing_is_written(
        qtbot, tmp_path: Path, qsettings, field: str, value: str, key: str,
        expected: str) -> None:
    path = write_config(tmp_path)
    dialog = open_dialog(qtbot, SettingsDialog(path, qsettings=qsettings))
    if field == "timezone":
        dialog.timezone_combo.setCurrentText(value)
    elif field == "base_url":
        qtbot.keyClicks(dialog.base_url_edit, value)
    else:
        dialog.model_combo.setCurrentText(value)
    click(qtbot, dialog.save_button)
    label = dialog.field_errors[key]
    assert label.isVisibleTo(dialog) and expected in label.text() and value in label.text()
    assert dialog.isVisible() and dialog.result() != QtWidgets.QDialog.DialogCode.Accepted
    assert path.read_text(encoding="utf-8") == CONFIG
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".config")) == []
    # fixing the value clears the message on the next Save
    dialog.timezone_combo.setCurrentText("UTC")
    dialog.base_url_edit.clear()
    dialog.model_combo.setCurrentText("auto")
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        click(qtbot, dialog.save_button)
    assert not label.isVisibleTo(dialog)


def test_a_broken_config_file_is_shown_and_not_overwritten(
        qtbot, tmp_path: Path, qsettings) -> None:
    path = tmp_path / "config.toml"
    path.write_text("processes = 0\n", encoding="utf-8")
    dialog = open_dialog(qtbot, SettingsDialog(path, qsettings=qsettings))
    assert not dialog.save_button.isEnabled()
    assert "processes" in dialog.error_label.text() and dialog.error_label.isVisibleTo(dialog)


def test_no_secret_reaches_the_toml_the_settings_dialog_writes(
        qtbot, tmp_path: Path, qsettings) -> None:
    set_secret("tradingview", "username", "trader")
    set_secret("tradingview", "password", PASSWORD)
    set_secret("tradingview", "totp_secret", TOTP)
    set_secret("llm", "api_key", API_KEY)
    path = write_config(tmp_path)
    dialog = open_dialog(qtbot, SettingsDialog(path, qsettings=qsettings))
    qtbot.keyClicks(dialog.models_edit, "gpt-4o-mini")
    with qtbot.waitSignal(dialog.accepted, timeout=5000):
        click(qtbot, dialog.save_button)
    text = path.read_text(encoding="utf-8")
    for secret in (PASSWORD, TOTP, API_KEY):
        assert secret not in text
    assert not re.search(r"password|secret|api_key|token|totp", text, re.IGNORECASE)

    # an API key pasted into the wrong field is refused, and the file stays as it was
    dialog = open_dialog(qtbot, SettingsDialog(path, qsettings=qsettings))
    dialog.models_edit.clear()
    qtbot.keyClicks(dialog.models_edit, API_KEY)
    click(qtbot, dialog.save_button)
    assert "stored secret" in dialog.error_label.text()
    assert API_KEY not in path.read_text(encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text


def test_save_settings_rewrites_changed_profiles_and_refuses_secret_keys(tmp_path: Path) -> None:
    from dataclasses import replace

    path = write_config(tmp_path)
    settings = load_settings(path)
    eu = replace(settings.profiles["eu"], symbol="FX:EURUSD")
    save_settings(replace(settings, profiles={"eu": eu}), path)
    again = load_settings(path)
    assert again.profiles["eu"] == eu
    assert 'script = "pine/s.pine"' in path.read_text(encoding="utf-8")  # relative to the file
    moved = tmp_path / "elsewhere" / "config.toml"
    save_settings(again, moved)
    assert load_settings(moved).profiles["eu"].script == eu.script
    secretive = replace(eu, inputs={"api_key": "x"})
    with pytest.raises(ConfigError, match="looks like a secret"):
        save_settings(replace(again, profiles={"eu": secretive}), path)


def test_open_buttons_open_the_folders(qtbot, tmp_path: Path, qsettings, monkeypatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QtGui.QDesktopServices, "openUrl",
                        staticmethod(lambda url: opened.append(url.toLocalFile()) or True))
    dialog = open_dialog(qtbot, SettingsDialog(tmp_path / "c" / "config.toml",
                                               qsettings=qsettings))
    buttons = [b for b in dialog.findChildren(QtWidgets.QPushButton) if b.text() == "Open"]
    assert len(buttons) == 5
    for button in buttons:
        click(qtbot, button)
    assert opened[0] == str(tmp_path / "c")
    assert all(Path(p).is_dir() for p in opened)
    assert not dialog.error_label.isVisibleTo(dialog)


# ================================================================================ about & theme


def test_about_names_pynesys_the_licenses_and_the_versions(qtbot) -> None:
    dialog = open_dialog(qtbot, AboutDialog())
    text = dialog.text()
    assert POWERED_BY in text
    assert f"tvdesk {__version__}" in text
    for entry in ("tvdesk Apache-2.0", "PyneCore Apache-2.0", "opencode-pine2pyne Apache-2.0",
                  "Qt for Python LGPLv3", "pyqtgraph MIT", "Optuna MIT"):
        assert entry in text
    assert f"Qt {QtCore.qVersion()}" in text and "Python 3." in text
    assert 'href="https://pynesys.io"' in dialog.powered_by_label.text()


def test_apply_theme_and_its_setting(qapp, qsettings, system_theme_after) -> None:
    assert saved_theme(qsettings) == "system"
    assert apply_theme(qapp, "dark") == "dark" and is_dark()
    # (the colour-scheme request is up to the platform; the palette is what every style uses)
    assert qapp.palette().color(QtGui.QPalette.ColorRole.Base).lightness() < 64
    assert apply_theme(qapp, "light") == "light" and not is_dark()
    assert apply_theme(qapp, "no such theme") == "system"
    save_theme("light", qsettings)
    assert saved_theme(qsettings) == "light"
    qsettings.setValue("appearance/theme", "purple")
    assert saved_theme(qsettings) == "system"
    with pytest.raises(ValueError):
        save_theme("purple", qsettings)
