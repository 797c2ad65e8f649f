"""Credentials through the real `keyring` package and a real file backend, in a subprocess,
as a user (or the GUI) drives `tvdesk credentials`; and no secret in what tvdesk writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "hunter2-SECRET-pw"
TOTP = "JBSWY3DPEHPK3PXP"


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
    run = tvdesk(tmp_path, "credentials", "set", "tradingview",
                 stdin=f"trader@example.com\n{SECRET}\n{TOTP}\n")
    assert run.returncode == 0, run.stderr
    assert "stored in the keyring (keyrings.alt.file.PlaintextKeyring)" in run.stdout
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
    run = tvdesk(tmp_path, "credentials", "set", "tradingview",
                 stdin=f"trader\n{SECRET}\n\n")
    assert run.returncode == 0, run.stderr
    bad = tvdesk(tmp_path, "credentials", "set", "tradingview",
                 stdin=f"trader\n{SECRET}\nnot base32!\n")
    assert bad.returncode == 2 and "not valid base32" in bad.stderr
    missing = tvdesk(tmp_path, "credentials", "set", "llm", stdin="\n")
    assert missing.returncode == 2 and "expected a value for api_key" in missing.stderr


def test_no_usable_backend_says_what_to_install(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
           "TVDESK_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "tvdesk", "credentials", "set", "llm"],
                         input="sk-x\n", text=True, capture_output=True, env=env, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 1
    assert "no usable keyring backend" in run.stderr and "keyrings.alt" in run.stderr
