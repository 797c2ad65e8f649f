"""GUI tests: Qt objects of one test are destroyed on the GUI thread before the next starts."""

from __future__ import annotations

import gc
import os

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
