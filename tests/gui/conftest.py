"""GUI tests: Qt objects of one test are destroyed on the GUI thread before the next starts."""

from __future__ import annotations

import asyncio
import gc
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "pine" / "examples" / "sma_cross.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"


@pytest.fixture(autouse=True)
def collect_qt_objects_on_the_gui_thread(qapp):
    """A test's widgets must not be garbage-collected later on another thread (a report
    writer's, say), where Qt refuses to stop their timers."""
    yield
    qapp.processEvents()
    gc.collect()
    qapp.processEvents()


@pytest.fixture
def loop(qapp):
    """A qasync loop on the test's QApplication, as the app runs (closed after the test)."""
    import qasync

    event_loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def plaintext_keyring(tmp_path: Path):
    """A real keyring backend writing to a file in tmp_path; the user's keyring is never
    touched."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def isolated_qsettings(qapp, tmp_path: Path):
    """Window state goes to a temp folder, never to the user's own settings."""
    from tvdesk.gui.qt import QtCore

    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.IniFormat, QtCore.QSettings.UserScope,
                             str(tmp_path / "qsettings"))
    yield


@pytest.fixture
def window(qtbot, tmp_path: Path, loop):
    """The workbench on a new store in tmp_path, the example strategy and data in its form."""
    from tvdesk.config import Settings
    from tvdesk.gui.main_window import MainWindow

    win = MainWindow(Settings(), tmp_path / "runs.db")
    win.setup.set_paths(EXAMPLE, EURUSD)
    win.setup.mintick.setText("0.00001")
    yield win
    # Tear down while the loop is still open: stop the run, then close and delete the window.
    loop.run_until_complete(win.controller.shutdown())
    win.close()
    win.deleteLater()
    loop.run_until_complete(asyncio.sleep(0))


def wait_for(loop, signal, timeout: float = 240.0):
    """Run the loop until `signal` fires; its arguments."""
    future = loop.create_future()

    def done(*args):
        if not future.done():
            future.set_result(args)

    signal.connect(done)
    return loop.run_until_complete(asyncio.wait_for(future, timeout))
