"""The frozen app (PyInstaller, packaging/tvdesk.spec) works: CLI, engine, GUI.

Builds once per session into a temporary folder with the same function `python
packaging/build.py` uses (no tarball), then runs the frozen executable. About 1 minute to build
on a 2-core machine, plus some 20 s for the checks.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import PyInstaller  # noqa: F401  (a dev dependency: the frozen-app test must run, not skip)
import pytest

# The module-scoped PyInstaller build (about 140 s on 2 cores) counts against the first test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent


def _load_build_module():
    # By file path: a folder named `packaging` would shadow the `packaging` library.
    spec = importlib.util.spec_from_file_location("tvdesk_build", ROOT / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks the module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    build = _load_build_module()
    out = tmp_path_factory.mktemp("frozen")
    result = build.build(out / "dist", out / "work", tarball=False, smoke=False, quiet=True)
    print(f"frozen build: {result.seconds:.0f} s, {result.size_mb:.0f} MB")
    assert result.executable.exists()
    return result


def _run(frozen, tmp_path, *args, timeout=300, stdin=None, **env_extra):
    env = dict(os.environ, TVDESK_HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="offscreen",
               **env_extra)
    return subprocess.run([str(frozen.executable), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout, input=stdin)


def test_bundle_layout(frozen):
    internal = frozen.app_dir / "_internal"
    # project_root() is the parent of the tvdesk package: resources/ and pine/ sit next to it
    assert (internal / "tvdesk").is_dir()
    assert (internal / "resources" / "data" / "EURUSD_1h.csv").is_file()
    assert (internal / "pine" / "examples" / "sma_cross.pine").is_file()
    # PyneCore's import hook compiles from source: its modules ship as .py files
    assert (internal / "pynecore" / "core" / "import_hook.py").is_file()
    assert (internal / "pynecore" / "lib" / "__init__.py").is_file()


def test_version(frozen, tmp_path):
    proc = _run(frozen, tmp_path, "--version")
    assert proc.returncode == 0, proc.stderr
    assert "Powered by PyneSys" in proc.stdout + proc.stderr


def test_self_test(frozen, tmp_path):
    proc = _run(frozen, tmp_path, "--self-test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout


def test_evaluate_bundled_example(frozen, tmp_path):
    internal = frozen.app_dir / "_internal"
    out = tmp_path / "out.json"
    proc = _run(frozen, tmp_path, "evaluate",
                "--script", str(internal / "pine" / "examples" / "sma_cross.pine"),
                "--data", str(internal / "resources" / "data" / "EURUSD_1h.csv"),
                "--mintick", "0.00001", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert len(doc["trades"]) > 0
    assert doc["metrics"]


def test_gui_demo_offscreen(frozen, tmp_path):
    shot = tmp_path / "shot.png"
    proc = _run(frozen, tmp_path, "gui", "--demo", "--quit-after-run",
                "--screenshot", str(shot))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert shot.is_file()
    assert shot.stat().st_size > 20_000


def test_tradingview_login_from_the_frozen_app(frozen, tmp_path, fake_tv, chromium_path):
    """Playwright's driver is bundled: the frozen app logs in to the fake TradingView site."""
    env = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
           "XDG_DATA_HOME": str(tmp_path / "xdg"), "TVDESK_TRADINGVIEW_URL": fake_tv.base_url,
           "TVDESK_BROWSER": chromium_path}
    stored = _run(frozen, tmp_path, "credentials", "set", "tradingview",
                  "--allow-plaintext-keyring",
                  stdin=f"{fake_tv.username}\n{fake_tv.password}\n{fake_tv.totp_secret}\n",
                  **env)
    assert stored.returncode == 0, stored.stdout + stored.stderr
    proc = _run(frozen, tmp_path, "credentials", "check", "tradingview", **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "TradingView login works" in proc.stdout
    assert fake_tv.password_logins == 1
