"""The Qt binding the app is pinned to keeps Python's reference counts straight.

PySide6 6.12.0 under CPython 3.11 dropped a reference to True on every Signal.emit(), and the
process aborted after a few thousand emits ("bool_dealloc") in the middle of a session. A
binding upgrade must pass this before it is pinned.
"""

from __future__ import annotations

import sys

from tvdesk.gui.qt import QtCore


class _Emitter(QtCore.QObject):
    ping = QtCore.Signal()
    value = QtCore.Signal(object)


def test_emitting_signals_leaves_true_false_and_none_alone(qapp) -> None:
    emitter = _Emitter()
    received: list[object] = []
    emitter.value.connect(received.append)
    before = [sys.getrefcount(x) for x in (True, False, None)]
    for i in range(2000):
        emitter.ping.emit()
        emitter.value.emit(i % 2 == 0)
    received.clear()
    after = [sys.getrefcount(x) for x in (True, False, None)]
    assert all(a >= b - 50 for a, b in zip(after, before, strict=True)), (before, after)
