"""Who is running a run: the lease a process holds while it works on a run.

A run must be worked on by one process at a time, or its promise breaks: two processes
resuming it would each reset the other's trial in flight, run the same parameter sets and add
a second holdout. So a process takes the run's lease (one row, written in the same transaction
that checks it) before touching the run, renews it while it works and gives it back at the end.

A lease whose holder died (kill -9, power cut) must not lock the run forever. On the holder's
own machine, liveness is exact: its pid is alive and is the same process (the start time the
kernel gives it, so a reused pid does not count). From another machine sharing the file only
the heartbeat can tell: a lease not renewed for `STALE_AFTER` seconds is taken over.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from tvdesk.errors import TvdeskError
from tvdesk.processes import process_started

HEARTBEAT_SECONDS = 15.0
STALE_AFTER = timedelta(seconds=90)


class RunInUse(TvdeskError):
    """Another live process is running this run: nothing was changed. Exit 1 (the user's
    request is fine; it has to wait for the other process)."""

    def __init__(self, run_id: str, holder: RunLease) -> None:
        self.run_id = run_id
        self.holder = holder
        super().__init__(
            f"run {run_id} is being run by another tvdesk process ({holder.describe()}); "
            "wait for it to end or stop it, then resume")


@dataclass(frozen=True, slots=True)
class RunLease:
    """One process's hold on one run. `token` tells this hold from any later one."""

    run_id: str
    token: str
    host: str
    machine: str
    pid: int
    process_started: str
    since: datetime
    heartbeat_at: datetime

    def describe(self) -> str:
        return (f"pid {self.pid} on host {self.host}, since "
                f"{self.since:%Y-%m-%d %H:%M:%S} UTC")

    def is_live(self, now: datetime) -> bool:
        """Is the holder still working? Exact on its own machine, by heartbeat elsewhere."""
        fresh = now - self.heartbeat_at < STALE_AFTER
        if self.machine == machine_id():
            alive = process_started(self.pid) == self.process_started
            return alive if sys.platform.startswith("linux") else alive and fresh
        return fresh

    def is_mine(self) -> bool:
        return self.machine == machine_id() and self.pid == os.getpid()


def new_lease(run_id: str, now: datetime) -> RunLease:
    """A lease for this process, to be written by the store."""
    pid = os.getpid()
    return RunLease(run_id=run_id, token=secrets.token_hex(8), host=socket.gethostname(),
                    machine=machine_id(), pid=pid, process_started=process_started(pid),
                    since=now, heartbeat_at=now)


@cache
def machine_id() -> str:
    """This machine, across host name clashes: the host name and, on Linux, the boot id (a
    pid from before a reboot is a different process even if the number is in use again)."""
    boot = ""
    with contextlib.suppress(OSError):
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return f"{socket.gethostname()}/{boot}"
