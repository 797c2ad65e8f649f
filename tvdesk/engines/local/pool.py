"""Warm worker processes for local backtests.

Importing PyneCore costs about a second and the first run of a script pays for its AST
transform; an optimisation runs thousands of backtests, so each worker process imports
PyneCore once and keeps transpiled scripts and parsed data between jobs (BacktestContext).
On Linux the workers fork from a forkserver that has PyneCore preloaded, so even a replaced
worker starts warm.

Cancellation is cooperative and cheap: the job id goes into a small shared-memory ring that
the running backtest reads every few hundred bars. If a worker dies (crash, out of memory) the
pool is rebuilt and the job fails with a clear error; the other jobs are not lost.

Workers run untrusted strategy code, so each one confines itself when it starts (see
`confine`): scrubbed environment, its own scratch folder (its private copies of the checked
scripts and their bytecode live there, never in a shared cache), memory and CPU limits, and
Landlock on Linux. The files a worker may read are fixed then, so a request for market data the
workers were not started with starts a fresh set of workers (the old ones finish their jobs).
A trial that overruns its limits fails with a clear error and the run goes on; one stuck in a
single C call past the wall-clock deadline has its worker killed. Workers exit by themselves
when the process that owns the pool dies, even by kill -9 (see `lifeline`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tvdesk.engines.local.confine import WorkerLimits
from tvdesk.errors import EngineError
from tvdesk.model import BacktestRequest, BacktestResult
from tvdesk.processes import pid_alive

_CANCEL_SLOTS = 64
_PRELOAD = ["tvdesk.engines.local.worker"]

# Set in each worker by _init_worker.
_worker_state: dict[str, Any] = {}


def _init_worker(cancel_ring: Any, started: Any, limits: WorkerLimits, pool_dir: str,
                 readable: tuple[str, ...], cache_root: str, owner_pid: int,
                 temp_root: str) -> None:
    """Runs once in each new worker, before any script: tie its life to the pool's owner,
    confine it, then build its caches."""
    from tvdesk.engines.local import confine
    from tvdesk.engines.local.lifeline import watch_owner

    _worker_state["lifeline"] = watch_owner(owner_pid)
    from tvdesk.engines.local.backtest import BacktestContext
    from tvdesk.pine.transpile import TranspileCache

    scratch = Path(pool_dir) / f"worker-{os.getpid()}"
    scratch.mkdir(parents=True, exist_ok=True)
    # Temporary files get a short path of their own: request.security's forkserver listens on
    # a Unix socket in TMPDIR, and a socket path is limited to 107 bytes, which a scratch
    # folder under a long home folder exceeds.
    temp = Path(temp_root) / f"w{os.getpid()}"
    temp.mkdir(parents=True, exist_ok=True)
    sys.pycache_prefix = str(scratch / "bytecode")  # PyneCore's compiled scripts stay private
    confine.scrub_environment(scratch, temp=temp)
    confine.limit_memory(limits.memory_mb)
    status = "not confined: turned off by the caller (WorkerLimits.confine)"
    if limits.confine:
        status = confine.confine(scratch, [Path(path) for path in readable],
                                 read_dirs=[Path(cache_root)], write_dirs=[temp])
    _worker_state["confinement"] = status
    _worker_state["limits"] = limits
    _worker_state["clock"] = confine.TrialClock(limits.trial_cpu_seconds)
    _worker_state["context"] = BacktestContext(TranspileCache(Path(cache_root), writable=False),
                                               scratch=scratch)
    _worker_state["cancel_ring"] = cancel_ring
    _worker_state["started"] = started


def _warm() -> tuple[int, str]:
    from pynecore.core import script_runner  # noqa: F401  (the import is the point)

    return os.getpid(), _worker_state.get("confinement", "")


def _run_job(job_id: int, request: BacktestRequest) -> tuple[BacktestResult, float]:
    from tvdesk.engines.local.backtest import run_backtest
    from tvdesk.engines.local.confine import TrialLimitExceeded

    ring = _worker_state["cancel_ring"]
    started_count = _worker_state["started"]
    with started_count.get_lock():  # the job is in a worker now: progress and tests see it
        started_count.value += 1
    limits: WorkerLimits = _worker_state["limits"]
    clock = _worker_state["clock"]
    started = time.perf_counter()

    def cancelled() -> bool:
        return job_id in ring[:]

    clock.arm()
    try:
        result = run_backtest(request, _worker_state["context"], cancelled)
    except TrialLimitExceeded:
        raise EngineError(f"the trial exceeded its CPU limit of {limits.trial_cpu_seconds:g} s "
                          "and was stopped") from None
    except MemoryError:
        raise EngineError(f"the trial exceeded the memory limit of {limits.memory_mb} MB and "
                          "was stopped") from None
    finally:
        clock.disarm()
    return result, time.perf_counter() - started


def _resolved(paths: Iterable[str]) -> set[str]:
    """Files a worker will read, as absolute paths (the form its read rules are kept in)."""
    return {str(Path(path).resolve()) for path in paths}


def _new_pool_dir(root: Path) -> str:
    """A folder for this pool's worker scratch folders, named after this process.

    A process killed with -9 cannot remove its folder, so each new pool first removes the
    folders of pools whose process is gone (POSIX only: on Windows a live process's folder
    cannot be removed anyway).
    """
    root.mkdir(parents=True, exist_ok=True)
    return _fresh_owned_dir(root, "pool")


def _new_temp_root() -> str:
    """A short folder for the workers' temporary files (Unix socket paths must stay short).

    /tmp where it exists (the user's TMPDIR may itself be long); folders left by a pool whose
    process is gone (kill -9) are removed first, as the scratch folders are.
    """
    base = Path("/tmp") if os.name == "posix" and os.access("/tmp", os.W_OK) else \
        Path(tempfile.gettempdir())
    return _fresh_owned_dir(base, "tvd")


def _fresh_owned_dir(base: Path, kind: str) -> str:
    """A new folder `KIND-PID-xxxx` in `base`, after removing those of processes that are gone
    (POSIX only: on Windows a live process's folder cannot be removed anyway)."""
    if os.name == "posix":
        for stale in base.glob(f"{kind}-*-*"):
            owner = stale.name.split("-")[1]
            if owner.isdigit() and not pid_alive(int(owner)):
                shutil.rmtree(stale, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{kind}-{os.getpid()}-", dir=base)


def _context() -> mp.context.BaseContext:
    if sys.platform.startswith("linux"):
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return mp.get_context("spawn")


class WorkerPool:
    """A fixed number of warm processes running backtests; `run` is awaitable and cancellable."""

    def __init__(self, size: int = 1, limits: WorkerLimits | None = None) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one process")
        self.size = size
        self.limits = limits or WorkerLimits()
        self._ctx = _context()
        self._ring = self._ctx.RawArray("q", _CANCEL_SLOTS)
        self._ring_pos = 0
        self._started = self._ctx.Value("q", 0)  # jobs a worker has begun, across restarts
        self._ids = itertools.count(1)
        self._executor: ProcessPoolExecutor | None = None
        self._retired: list[ProcessPoolExecutor] = []
        self._readable: frozenset[str] = frozenset()
        self._pool_dir: str | None = None
        self._temp_root: str | None = None
        self.confinement: str = ""
        self.jobs_done = 0
        # Starts run in threads while the event loop submits jobs: `_lock` guards the executor
        # (replace, retire, submit), `_start_lock` lets one start happen at a time, so two
        # requests for different data files cannot retire each other's new workers.
        self._lock = threading.Lock()
        self._start_lock = threading.Lock()

    def _ensure(self, readable: set[str] | None = None) -> ProcessPoolExecutor:
        if readable and not readable <= self._readable:
            # The workers' read rules are fixed when they start: new data, new workers.
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._retired.append(self._executor)
                self._executor = None
            self._readable = self._readable | readable
        if self._executor is None:
            from tvdesk import paths

            if self._pool_dir is None:
                self._pool_dir = _new_pool_dir(paths.cache_dir() / "workers")
            if self._temp_root is None:
                self._temp_root = _new_temp_root()
            cache_root = paths.cache_dir() / "transpiled"
            cache_root.mkdir(parents=True, exist_ok=True)  # workers may read it, never make it
            self._executor = ProcessPoolExecutor(
                max_workers=self.size, mp_context=self._ctx, initializer=_init_worker,
                initargs=(self._ring, self._started, self.limits, self._pool_dir,
                          tuple(sorted(self._readable)),
                          str(cache_root), os.getpid(), self._temp_root),
            )
        return self._executor

    def _start_blocking(self, readable: set[str]) -> list[int]:
        """Create the executor and start every worker; blocks for about a second."""
        with self._start_lock:
            with self._lock:
                executor = self._ensure(readable)
                futures = [executor.submit(_warm) for _ in range(self.size)]
            started = [future.result() for future in futures]
        self.confinement = started[0][1]
        return [pid for pid, _status in started]

    async def warm_up(self, data_files: Iterable[str] = ()) -> list[int]:
        """Start every worker now (PyneCore imported), so the first trial is not slow.

        `data_files`: the market data the coming requests read; workers may read only the
        files they were started with, so naming them here saves a restart at the first run.

        Starting the forkserver and the workers blocks its caller for about a second, so it
        happens in a thread: an event loop driving a GUI keeps painting meanwhile.
        """
        return await asyncio.to_thread(self._start_blocking, _resolved(data_files))

    async def run(self, request: BacktestRequest) -> tuple[BacktestResult, float]:
        """Run one request in a worker: (result, seconds spent in the worker)."""
        loop = asyncio.get_running_loop()
        job_id = next(self._ids)
        readable = _resolved(request.data_files())
        if self._executor is None or not readable <= self._readable:
            await asyncio.to_thread(self._start_blocking, readable)
        with self._lock:  # submitted to the executor that reads these files, not a retired one
            executor = self._ensure(readable)
            future = loop.run_in_executor(executor, _run_job, job_id, request)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(future), self._deadline())
        except TimeoutError:
            self._kill(executor)
            self._forget(executor)
            raise EngineError(
                f"the trial did not finish within {self._deadline():g} s of wall-clock time "
                "(stuck in one long computation); its worker was stopped") from None
        except asyncio.CancelledError:
            self._cancel(job_id)
            # Wait for the worker to notice, so it is free for the next job.
            # Its outcome (Cancelled, or a result that came too late) no longer matters.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(future, timeout=10)
            raise
        except BrokenExecutor:
            self._forget(executor)
            raise EngineError(
                "a backtest worker process died (crash or out of memory); the pool was "
                "restarted and other results are kept"
            ) from None
        self.jobs_done += 1
        return outcome

    def _forget(self, executor: ProcessPoolExecutor) -> None:
        """Drop a dead executor (the next job starts a new one), unless it was replaced
        already by a concurrent start."""
        with self._lock:
            if self._executor is executor:
                self._executor = None

    @property
    def jobs_started(self) -> int:
        """How many jobs a worker has begun (a job waiting in the queue has not): the event
        to wait for before cancelling or killing a running backtest."""
        return int(self._started.value)

    def _deadline(self) -> float:
        """Wall-clock seconds before a job is given up: well past its CPU budget."""
        return self.limits.trial_cpu_seconds * 3 + 60

    @staticmethod
    def _kill(executor: ProcessPoolExecutor) -> None:
        processes = dict(getattr(executor, "_processes", None) or {})
        for process in processes.values():
            with contextlib.suppress(Exception):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def _cancel(self, job_id: int) -> None:
        self._ring[self._ring_pos % _CANCEL_SLOTS] = job_id
        self._ring_pos += 1

    async def close(self) -> None:
        executors = [*self._retired, *([self._executor] if self._executor else [])]
        self._executor, self._retired = None, []
        loop = asyncio.get_running_loop()
        for executor in executors:
            await loop.run_in_executor(
                None, functools.partial(executor.shutdown, wait=True, cancel_futures=True))
        if self._pool_dir is not None:
            shutil.rmtree(self._pool_dir, ignore_errors=True)
            self._pool_dir = None
        if self._temp_root is not None:
            shutil.rmtree(self._temp_root, ignore_errors=True)
            self._temp_root = None
