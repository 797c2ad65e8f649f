"""Test-wide setup: keep tvdesk's folders inside the test run, find the test helpers."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("TVDESK_HOME", tempfile.mkdtemp(prefix="tvdesk-tests-"))
os.environ.setdefault("PYNE_SAVE_SCRIPT_TOML", "0")


_exit_status: int | None = None


def pytest_sessionfinish(session, exitstatus) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config) -> None:
    """Leave before interpreter finalisation once Qt was used.

    PySide6 6.12 with a qasync loop can free objects at interpreter exit with a refcount that
    is one too low ("Fatal Python error: bool_dealloc"), turning a passed run into an abort.
    Every result is reported by now, so the process ends here with pytest's own status.
    """
    if _exit_status is not None and "PySide6" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)
