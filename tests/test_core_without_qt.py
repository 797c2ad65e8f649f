"""tvdesk without its GUI needs no Qt: every module outside tvdesk.gui imports, and the CLI
runs, in a process where PySide6, shiboken6, pyqtgraph and qasync cannot be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = r'''
import importlib.abc
import sys

BLOCKED = {"PySide6", "shiboken6", "pyqtgraph", "qasync"}


class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked for this test: {name}")
        return None


sys.meta_path.insert(0, BlockQt())
'''

IMPORT_ALL = BLOCKER + r'''
import importlib
import json
import pkgutil
import runpy

import tvdesk

modules, failures = [], {}
for info in pkgutil.walk_packages(tvdesk.__path__, "tvdesk.",
                                  onerror=lambda name: failures.setdefault(name, "walk")):
    name = info.name
    if name == "tvdesk.gui" or name.startswith("tvdesk.gui.") or name == "tvdesk.__main__":
        continue
    try:
        importlib.import_module(name)
    except Exception as exc:
        failures[name] = f"{type(exc).__name__}: {exc}"
    modules.append(name)

qt_loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
try:
    importlib.import_module("tvdesk.gui.qt")
    gui_qt = "imported"
except ImportError as exc:
    gui_qt = f"ImportError: {exc}"

sys.argv = ["tvdesk", "--version"]
try:
    runpy.run_module("tvdesk", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as exc:
    code = exc.code
print("\n@@" + json.dumps({"modules": modules, "failures": failures, "qt_loaded": qt_loaded,
                          "gui_qt": gui_qt, "version_exit": code}))
'''


def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


def test_every_module_outside_the_gui_imports_without_qt() -> None:
    proc = run(IMPORT_ALL)
    assert proc.returncode == 0, proc.stderr
    out, _, tail = proc.stdout.rpartition("\n@@")
    report = json.loads(tail)
    assert report["failures"] == {}
    assert report["qt_loaded"] == []
    assert len(report["modules"]) > 20  # the walk really found the package
    for expected in ("tvdesk.cli", "tvdesk.config", "tvdesk.secrets", "tvdesk.app.credentials",
                     "tvdesk.app.optimize", "tvdesk.store"):
        assert expected in report["modules"]
    # the blocker works: the GUI's one Qt entry point fails under it
    assert report["gui_qt"].startswith("ImportError: blocked for this test")
    # and the command line runs
    assert report["version_exit"] in (0, None)
    assert "tvdesk " in out and "Powered by PyneSys (https://pynesys.io)" in out


def test_python_m_tvdesk_version_runs_without_qt(tmp_path: Path) -> None:
    # the blocker as a sitecustomize, so the real `python -m tvdesk` runs under it
    (tmp_path / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=300)

    blocked = python("-c", "import tvdesk.gui.qt")
    assert blocked.returncode != 0 and "ImportError: blocked for this test" in blocked.stderr
    proc = python("-m", "tvdesk", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("tvdesk ") and "Powered by PyneSys" in proc.stdout
