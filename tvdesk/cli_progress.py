"""Live progress of an optimisation in a terminal: one line per worker, best so far.

On a terminal the lines are redrawn in place; when output goes to a file or a pipe, each
finished trial is one line, so logs stay readable.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from tvdesk.events import Event


@dataclass
class _WorkerLine:
    trials: int = 0
    last: str = "starting"


@dataclass
class ProgressPrinter:
    max_iterations: int
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    workers: dict[int, _WorkerLine] = field(default_factory=dict)
    best: str = "none yet"
    started: float = field(default_factory=time.monotonic)
    finished: int = 0
    cluster: str = ""  # the Dask cluster's workers, busy ones and throughput
    _drawn: int = 0

    @property
    def live(self) -> bool:
        return self.stream.isatty()

    def handle(self, event: Event) -> None:
        cond = f"[cond {event.condition}] " if event.condition is not None else ""
        if event.kind == "run_started" and event.payload.get("resumed"):
            # Printed once the run's lease is held: a refused resume says only why.
            self._print(f"resuming run {event.run_id} with its stored settings")
        elif event.kind == "trial_finished":
            self.finished += 1
            p = event.payload
            line = self.workers.setdefault(event.worker or 0, _WorkerLine())
            line.trials += 1
            line.last = (f"{cond}trial {event.trial_id}: net {_pct(p.get('net_profit_percent'))}"
                         f" dd {_pct(p.get('max_drawdown_percent'), signed=False)} "
                         f"trades {p.get('total_trades')}")
            if not self.live:
                self._print(f"worker {event.worker}: {line.last}")
        elif event.kind == "new_best":
            self.best = (f"{cond}trial {event.trial_id} (score "
                         f"{event.payload.get('score', 0):.2f})")
            if not self.live:
                self._print(f"new best: {self.best}")
        elif event.kind == "cluster":
            if "message" in event.payload:
                self._print(str(event.payload["message"]))
            elif "status" in event.payload:
                self.cluster = str(event.payload["status"])
                if not self.live:
                    self._print(self.cluster)
        elif event.kind == "error":
            self._print(f"worker {event.worker}: error: {event.payload.get('message')}")
        elif event.kind in ("track_finished", "worker_restarted", "holdout"):
            self._print(f"{cond}{event.kind.replace('_', ' ')}: " + ", ".join(
                f"{k}={_value(v)}" for k, v in event.payload.items() if v is not None))
        if self.live:
            self._redraw()

    def _print(self, text: str) -> None:
        if self.live and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def _redraw(self) -> None:
        elapsed = time.monotonic() - self.started
        rate = self.finished / elapsed * 60 if elapsed > 0 else 0.0
        lines = [f"trials {self.finished} ({rate:.0f}/min) — best: {self.best}"]
        if self.cluster:
            lines.append(f"  {self.cluster}")
        for worker in sorted(self.workers):
            line = self.workers[worker]
            bar = _bar(line.trials, self.max_iterations)
            lines.append(f"  worker {worker} {bar} {line.last}")
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)


def _pct(value: object, *, signed: bool = True) -> str:
    if not isinstance(value, (int, float)):
        return "n/a"
    return f"{value:+.2f}%" if signed else f"{value:.2f}%"


def _value(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = min(width, int(width * done / total)) if total else 0
    return "[" + "#" * filled + "." * (width - filled) + "]"


async def consume(queue: asyncio.Queue[Event | None], printer: ProgressPrinter) -> None:
    while (event := await queue.get()) is not None:
        printer.handle(event)
