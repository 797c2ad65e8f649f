"""Credentials through the real `keyring` package and a real file backend, in a subprocess,
as a user (or the GUI) drives `tvdesk credentials`; and no secret in what tvdesk writes.

The file backend is keyrings.alt's PlaintextKeyring, an unencrypted file: `set` refuses it
without --allow-plaintext-keyring, which the storing tests pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hunter2-SECRET-pw"
TOTP = "JBSWY3DPEHPK3PXP"
API_KEY = "sk-live-SECRET-key-123"
ALLOW = "--allow-plaintext-keyring"


def tvdesk(tmp_path: Path, *args: str, stdin: str = "",
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                "XDG_DATA_HOME": str(tmp_path / "xdg"), "TVDESK_HOME": str(tmp_path / "home"),
                **(env or {})}
    return subprocess.run([sys.executable, "-m", "tvdesk", *args], input=stdin, text=True,
                          capture_output=True, env=full_env, cwd=ROOT, timeout=120)


def keyring_file(tmp_path: Path) -> Path:
    [found] = list((tmp_path / "xdg").rglob("keyring_pass.cfg"))
    return found


def test_set_reads_three_lines_and_delete_removes_them(tmp_path: Path) -> None:
    run = tvdesk(tmp_path, "credentials", "set", "tradingview", ALLOW,
                 stdin=f"trader@example.com\n{SECRET}\n{TOTP}\n")
    assert run.returncode == 0, run.stderr
    assert "stored in the keyring (keyrings.alt.file.PlaintextKeyring): an unencrypted file, " \
        "as confirmed with --allow-plaintext-keyring" in run.stdout
    assert SECRET not in run.stdout + run.stderr
    stored = keyring_file(tmp_path).read_text()
    assert "tradingview" in stored
    # The check really logs in; with nothing listening at the address it fails cleanly.
    check = tvdesk(tmp_path, "credentials", "check", "tradingview",
                   env={"TVDESK_TRADINGVIEW_URL": "http://127.0.0.1:9"})
    assert check.returncode == 1
    assert "cannot open TradingView at http://127.0.0.1:9" in check.stderr
    assert SECRET not in check.stdout + check.stderr
    deleted = tvdesk(tmp_path, "credentials", "delete", "tradingview")
    assert deleted.returncode == 0 and "deleted" in deleted.stdout
    again = tvdesk(tmp_path, "credentials", "delete", "tradingview")
    assert "no tradingview credentials were stored" in again.stdout


def test_empty_third_line_means_no_2fa_and_a_bad_totp_secret_is_refused(
        tmp_path: Path) -> None:
    run = tvdesk(tmp_path, "credentials", "set", "tradingview", ALLOW,
                 stdin=f"trader\n{SECRET}\n\n")
    assert run.returncode == 0, run.stderr
    bad = tvdesk(tmp_path, "credentials", "set", "tradingview", ALLOW,
                 stdin=f"trader\n{SECRET}\nnot base32!\n")
    assert bad.returncode == 2 and "not valid base32" in bad.stderr
    missing = tvdesk(tmp_path, "credentials", "set", "llm", ALLOW, stdin="\n")
    assert missing.returncode == 2 and "expected a value for api_key" in missing.stderr


def test_no_usable_backend_says_what_to_install(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
           "TVDESK_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "tvdesk", "credentials", "set", "llm"],
                         input="sk-x\n", text=True, capture_output=True, env=env, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 1
    assert "no usable keyring backend" in run.stderr and "keyrings.alt" in run.stderr


def _files_text(folder: Path) -> str:
    """Everything tvdesk wrote under `folder` (logs, settings), for a secret search."""
    return "\n".join(path.read_text(errors="replace") for path in folder.rglob("*")
                     if path.is_file())


def test_set_refuses_a_plaintext_keyring_without_the_flag(tmp_path: Path) -> None:
    for account, stdin in (("tradingview", f"trader\n{SECRET}\n{TOTP}\n"),
                           ("llm", f"{API_KEY}\n")):
        run = tvdesk(tmp_path, "credentials", "set", account, stdin=stdin)
        assert run.returncode == 2, (run.stdout, run.stderr)
        assert "refusing to store" in run.stderr and "plaintext keyring" in run.stderr
        assert f"run it again with {ALLOW}" in run.stderr
        # how to get a secure backend (this runs on Linux in CI)
        assert "gnome-keyring" in run.stderr and "PYTHON_KEYRING_BACKEND" in run.stderr
        assert "stored" not in run.stdout
        for secret in (SECRET, TOTP, API_KEY):
            assert secret not in run.stdout + run.stderr
    assert not list((tmp_path / "xdg").rglob("keyring_pass.cfg"))  # nothing written
    assert SECRET not in _files_text(tmp_path / "home")


def test_set_with_the_flag_stores_and_no_secret_reaches_output_or_logs(tmp_path: Path) -> None:
    run = tvdesk(tmp_path, "credentials", "set", "tradingview", ALLOW,
                 stdin=f"trader\n{SECRET}\n{TOTP}\n")
    assert run.returncode == 0, run.stderr
    llm = tvdesk(tmp_path, "credentials", "set", "llm", ALLOW, stdin=f"{API_KEY}\n")
    assert llm.returncode == 0, llm.stderr
    stored = keyring_file(tmp_path).read_text()
    assert "tradingview" in stored and "llm" in stored
    written = _files_text(tmp_path / "home")  # tvdesk's own folders (logs, settings)
    for secret in (SECRET, TOTP, API_KEY):
        for output in (run, llm):
            assert secret not in output.stdout + output.stderr
        assert secret not in written


MEMORY_BACKEND = """
import json, pathlib
from keyring.backend import KeyringBackend

class JsonKeyring(KeyringBackend):
    priority = 1
    path = pathlib.Path(__file__).with_name("store.json")

    def _load(self):
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_password(self, service, username):
        return self._load().get(f"{service}/{username}")

    def set_password(self, service, username, password):
        self.path.write_text(json.dumps({**self._load(), f"{service}/{username}": password}))

    def delete_password(self, service, username):
        data = self._load()
        data.pop(f"{service}/{username}")
        self.path.write_text(json.dumps(data))
"""


def test_a_backend_that_is_not_plaintext_needs_no_flag(tmp_path: Path) -> None:
    """A backend tvdesk does not know is trusted as configured: no flag is asked for."""
    (tmp_path / "json_keyring.py").write_text(MEMORY_BACKEND)
    env = {"PYTHON_KEYRING_BACKEND": "json_keyring.JsonKeyring", "PYTHONPATH": str(tmp_path)}
    run = tvdesk(tmp_path, "credentials", "set", "llm", stdin=f"{API_KEY}\n", env=env)
    assert run.returncode == 0, run.stderr
    assert "stored in the keyring (json_keyring.JsonKeyring)" in run.stdout
    assert "unencrypted" not in run.stdout and ALLOW not in run.stdout + run.stderr
    assert API_KEY in (tmp_path / "store.json").read_text()
    assert API_KEY not in run.stdout + run.stderr


def test_a_named_backend_that_cannot_load_is_reported_not_a_traceback(tmp_path: Path) -> None:
    """keyrings.alt's EncryptedKeyring without pycryptodome: keyring raises a RuntimeError."""
    pytest.importorskip("keyrings.alt")
    try:
        import Cryptodome  # noqa: F401
        pytest.skip("pycryptodome is installed: the backend loads")
    except ImportError:
        pass
    run = tvdesk(tmp_path, "credentials", "set", "llm", stdin=f"{API_KEY}\n",
                 env={"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.EncryptedKeyring"})
    assert run.returncode == 1
    assert "no usable keyring backend" in run.stderr and "Traceback" not in run.stderr
    assert API_KEY not in run.stdout + run.stderr
