"""Worker processes end when the process that started them ends, however it ended.

A pool's workers block on their job queue; killed with -9, the CLI or GUI that owned them
cannot tell them to stop, and each would live on (about 150 MB) with nothing to do. On Linux
they fork from a forkserver, so they are not even the dead process's children, and the
forkserver itself stays alive as long as any worker holds its "alive" pipe. So every worker
watches its owner directly, from a daemon thread, and exits the moment the owner is gone; the
forkserver and the resource tracker then see their last client leave and exit too.

How the owner is watched, best first:
- Linux: a pidfd of the owner (`os.pidfd_open`), which becomes readable when it exits; no
  polling, no pid-reuse race (opened while the owner is alive). The worker also asks the
  kernel for SIGKILL when its direct parent (the forkserver) dies.
- elsewhere with `spawn` (macOS, Windows): the parent process's sentinel that multiprocessing
  hands every spawned child (a pipe or a process handle), which is ready when it exits.
- failing both: a check of the owner's pid once a second.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable

from tvdesk.processes import pid_alive

POLL_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


def watch_owner(owner_pid: int) -> str:
    """Exit this process as soon as `owner_pid` is gone; returns how it is watched.

    Call once, early, in a worker process. If the owner is already gone, exits at once.
    """
    if sys.platform.startswith("linux"):
        _die_with_parent()
        try:
            pidfd = os.pidfd_open(owner_pid)
        except ProcessLookupError:
            os._exit(1)
        except (OSError, AttributeError):  # kernel before 5.3, or seccomp: poll instead
            pass
        else:
            _start(_wait_pidfd, pidfd)
            return "pidfd"
    parent = multiprocessing.parent_process()
    if (parent is not None and parent.pid == owner_pid and parent.sentinel is not None
            and multiprocessing.get_start_method(allow_none=True) != "forkserver"):
        _start(_wait_sentinel, parent.sentinel)
        return "parent sentinel"
    _start(_poll_pid, owner_pid)
    return "polling"


def _start(target: Callable[[int], None], argument: int) -> None:
    thread = threading.Thread(target=target, args=(argument,), name="tvdesk-lifeline",
                              daemon=True)
    thread.start()


def _owner_gone() -> None:
    # No cleanup to do: results go to a dead process, and the next pool sweeps scratch folders.
    os._exit(1)


def _wait_pidfd(pidfd: int) -> None:
    while True:
        try:
            ready, _, _ = select.select([pidfd], [], [])
        except InterruptedError:  # pragma: no cover - retried by Python since 3.5
            continue
        if ready:
            _owner_gone()


def _wait_sentinel(sentinel: int) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])
    _owner_gone()


def _poll_pid(owner_pid: int) -> None:
    while pid_alive(owner_pid):
        time.sleep(POLL_SECONDS)
    _owner_gone()


def _die_with_parent() -> None:
    """Ask Linux for SIGKILL when the direct parent (the forkserver) exits."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
