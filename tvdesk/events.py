"""The one event stream of a run: what the CLI progress display and the GUI both consume.

A shared contract of its own (not part of the optimiser): the optimiser produces events, the
shells (CLI, GUI) and the app services consume them without importing the optimiser.

Producers call `publish`; each consumer holds its own asyncio queue from `subscribe`, so a slow
consumer never blocks the loop or another consumer. Events are plain frozen values, safe to
hand to a Qt slot on the GUI thread.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "run_started", "trial_started", "trial_finished", "new_best", "error", "duplicate",
    "worker_restarted", "track_finished", "holdout", "judged", "stopped", "cluster",
]


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    run_id: str
    worker: int | None = None
    condition: str | None = None
    trial_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


class EventStream:
    """Fan-out of events to any number of subscribers' queues."""

    def __init__(self) -> None:
        self._queues: list[asyncio.Queue[Event | None]] = []
        self.history: list[Event] = []
        self.closed = False

    def subscribe(self) -> asyncio.Queue[Event | None]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._queues.append(queue)
        return queue

    def publish(self, event: Event) -> None:
        self.history.append(event)
        for queue in self._queues:
            queue.put_nowait(event)

    def close(self) -> None:
        """Tell every subscriber the run is over (a None sentinel); once, however often called."""
        if self.closed:
            return
        self.closed = True
        for queue in self._queues:
            queue.put_nowait(None)
