"""Is a process alive, and is it still the same process: asked by the run lease (who holds a
run), the worker lifeline (is my owner gone) and the pool (whose scratch folder is stale).

Asking must never touch the process: on Windows `os.kill(pid, 0)` would terminate it, so the
question goes through the process handle there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (it may be another user's, or a reused id)."""
    if os.name == "nt":  # pragma: no cover - Windows
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def process_started(pid: int) -> str:
    """An identity of process `pid` beside its number; "" when it is not running.

    Linux: the start time in the kernel's clock ticks (field 22 of /proc/<pid>/stat), so a
    reused pid is told apart. Other systems: "alive" when the pid exists.
    """
    if sys.platform.startswith("linux"):
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return ""
        fields = text[text.rfind(")") + 2:].split()
        state, started = fields[0], fields[19]
        return "" if state in ("Z", "X") else started
    return "alive" if pid_alive(pid) else ""


def _windows_pid_alive(pid: int) -> bool:  # pragma: no cover - Windows
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    code = ctypes.c_ulong()
    try:
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
    finally:
        kernel32.CloseHandle(handle)
    return code.value == 259  # STILL_ACTIVE
