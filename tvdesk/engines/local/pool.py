"""Warm worker processes for local backtests.

Importing PyneCore costs about a second and the first run of a script pays for its AST
transform; an optimisation runs thousands of backtests, so each worker process imports
PyneCore once and keeps transpiled scripts and parsed data between jobs (BacktestContext).
On Linux the workers fork from a forkserver that has PyneCore preloaded, so even a replaced
worker starts warm.

Cancellation is cooperative and cheap: the job id goes into a small shared-memory ring that
the running backtest reads every few hundred bars. If a worker dies (crash, out of memory) the
pool is rebuilt and the job fails with a clear error; the other jobs are not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing as mp
import sys
import time
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from typing import Any

from tvdesk.errors import EngineError
from tvdesk.model import BacktestRequest, BacktestResult

_CANCEL_SLOTS = 64
_PRELOAD = ["tvdesk.engines.local.worker"]

# Set in each worker by _init_worker.
_worker_state: dict[str, Any] = {}


def _init_worker(cancel_ring: Any) -> None:
    from tvdesk.engines.local.backtest import BacktestContext

    _worker_state["context"] = BacktestContext()
    _worker_state["cancel_ring"] = cancel_ring


def _warm() -> int:
    import os

    from pynecore.core import script_runner  # noqa: F401  (the import is the point)

    return os.getpid()


def _run_job(job_id: int, request: BacktestRequest) -> tuple[BacktestResult, float]:
    from tvdesk.engines.local.backtest import run_backtest

    ring = _worker_state["cancel_ring"]
    started = time.perf_counter()

    def cancelled() -> bool:
        return job_id in ring[:]

    result = run_backtest(request, _worker_state["context"], cancelled)
    return result, time.perf_counter() - started


def _context() -> mp.context.BaseContext:
    if sys.platform.startswith("linux"):
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return mp.get_context("spawn")


class WorkerPool:
    """A fixed number of warm processes running backtests; `run` is awaitable and cancellable."""

    def __init__(self, size: int = 1) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one process")
        self.size = size
        self._ctx = _context()
        self._ring = self._ctx.RawArray("q", _CANCEL_SLOTS)
        self._ring_pos = 0
        self._ids = itertools.count(1)
        self._executor: ProcessPoolExecutor | None = None
        self.jobs_done = 0

    def _ensure(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.size, mp_context=self._ctx, initializer=_init_worker,
                initargs=(self._ring,),
            )
        return self._executor

    def _start_blocking(self) -> list[int]:
        """Create the executor and start every worker; blocks for about a second."""
        executor = self._ensure()
        futures = [executor.submit(_warm) for _ in range(self.size)]
        return [future.result() for future in futures]

    async def warm_up(self) -> list[int]:
        """Start every worker now (PyneCore imported), so the first trial is not slow.

        Starting the forkserver and the workers blocks its caller for about a second, so it
        happens in a thread: an event loop driving a GUI keeps painting meanwhile.
        """
        return await asyncio.to_thread(self._start_blocking)

    async def run(self, request: BacktestRequest) -> tuple[BacktestResult, float]:
        """Run one request in a worker: (result, seconds spent in the worker)."""
        loop = asyncio.get_running_loop()
        job_id = next(self._ids)
        if self._executor is None:
            await self.warm_up()
        executor = self._ensure()
        future = loop.run_in_executor(executor, _run_job, job_id, request)
        try:
            outcome = await asyncio.shield(future)
        except asyncio.CancelledError:
            self._cancel(job_id)
            # Wait for the worker to notice, so it is free for the next job.
            # Its outcome (Cancelled, or a result that came too late) no longer matters.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(future, timeout=10)
            raise
        except BrokenExecutor:
            self._executor = None
            raise EngineError(
                "a backtest worker process died (crash or out of memory); the pool was "
                "restarted and other results are kept"
            ) from None
        self.jobs_done += 1
        return outcome

    def _cancel(self, job_id: int) -> None:
        self._ring[self._ring_pos % _CANCEL_SLOTS] = job_id
        self._ring_pos += 1

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: executor.shutdown(wait=True, cancel_futures=True))
