"""The log file masks every stored secret; `--self-test` proves an installation works."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import keyring
from keyrings.alt.file import PlaintextKeyring

from tvdesk.logs import setup_logging
from tvdesk.secrets import set_secret

ROOT = Path(__file__).resolve().parent.parent


def test_stored_secrets_never_reach_the_log_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TVDESK_HOME", str(tmp_path))
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        set_secret("tradingview", "password", "hunter2-SECRET-pw")
        set_secret("llm", "api_key", "sk-live-SECRET-key-123")
        path = setup_logging()
        log = logging.getLogger("tvdesk.test")
        log.warning("login failed for password %s", "hunter2-SECRET-pw")
        try:
            raise RuntimeError("HTTP 401: Authorization: Bearer sk-live-SECRET-key-123")
        except RuntimeError:
            log.exception("the endpoint refused the key")
        for handler in root.handlers:
            handler.flush()
        text = path.read_text(encoding="utf-8")
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        keyring.set_keyring(previous)
    assert "login failed for password ****" in text
    assert "Bearer ****" in text and "the endpoint refused the key" in text
    assert "hunter2-SECRET-pw" not in text and "sk-live-SECRET-key-123" not in text


def test_self_test_runs_the_bundled_example_offline(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "tvdesk", "--self-test"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=300,
                         env={**__import__("os").environ, "TVDESK_HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert "SMA Cross" in run.stdout and "Net profit" in run.stdout
    assert run.stdout.strip().endswith("self-test passed")
