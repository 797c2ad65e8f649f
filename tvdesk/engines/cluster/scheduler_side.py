"""Run on the Dask scheduler (sent by value: the scheduler needs no tvdesk installed).

A backtest asks for the resource a worker advertises once tvdesk is set up on it. A worker
that joins while backtests wait (every earlier worker gone) gets that resource a moment after
it registered, and the scheduler only looks at waiting tasks when a worker registers; so the
head asks it to look again.
"""

from __future__ import annotations

import time
from typing import Any


def requeue_waiting(dask_scheduler: Any, prefix: str) -> int:
    """Hand the waiting tasks whose key starts with `prefix` to the workers that can now run
    them; how many were handed on."""
    recommendations = {}
    for task in list(dask_scheduler.unrunnable):
        if str(task.key).startswith(prefix) and dask_scheduler.valid_workers(task):
            recommendations[task.key] = "waiting"
    if recommendations:
        dask_scheduler.transitions(recommendations,
                                   stimulus_id=f"tvdesk-requeue-{time.time()}")
    return len(recommendations)


def workers(dask_scheduler: Any) -> dict[str, dict[str, Any]]:
    """Each connected worker's threads and resources, as the scheduler knows them now."""
    return {address: {"nthreads": worker.nthreads, "resources": dict(worker.resources)}
            for address, worker in dask_scheduler.workers.items()}
