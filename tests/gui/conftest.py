"""GUI tests: Qt objects of one test are destroyed on the GUI thread before the next starts."""

from __future__ import annotations

import asyncio
import gc
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


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
