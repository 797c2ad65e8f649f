"""ClusterEngine: the Engine protocol over a Dask distributed cluster.

The head (the optimiser, Optuna, the store, the LLM proposer, the GUI) stays where it is; only
backtests travel. `run` submits one task per backtest to the scheduler at `address`; the task
runs on a worker's warm, confined local engine (see `worker_side`). The bars travel once per
run as worker plugins, so a worker that joins mid-run receives them too; the Pine source
travels inside each request.

Faults are Dask's to absorb: a worker that dies mid-trial has its task run again elsewhere
(the scheduler's retries; the store records a parameter set once whatever happens), and a
cluster with no worker left keeps the tasks queued until one joins, which this engine says.
A scheduler that cannot be reached is an EngineError naming the address (exit 1): nothing was
run, nothing stored is lost, and `--resume` continues on the cluster or locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cloudpickle

from tvdesk.config import ClusterSettings
from tvdesk.engines.cluster import scheduler_side
from tvdesk.engines.cluster.worker_side import (
    ShippedFile,
    TvdeskWorker,
    describe,
    refusal,
    resource_name,
    run_backtest,
    versions,
)
from tvdesk.errors import EngineError, InputError, TvdeskError
from tvdesk.model import BacktestRequest, BacktestResult, FrozenMap

log = logging.getLogger(__name__)

# The scheduler needs no tvdesk: its functions travel as code, not as a module to import.
cloudpickle.register_pickle_by_value(scheduler_side)

KEY_PREFIX = "tvdesk-backtest-"
WATCH_SECONDS = 2.0
"""How often the head looks at the cluster (workers, what waits) while runs are in flight."""


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """What the CLI's progress line and the GUI's status bar show."""

    address: str
    workers: int  # workers that take tvdesk's backtests
    refused: int  # workers connected but refused (other versions)
    threads: int  # backtests the workers can run at once
    running: int  # this head's backtests on the cluster now, running or queued
    per_minute: float  # backtests finished per minute over the last minute

    @property
    def busy(self) -> int:
        """Worker threads running one of this head's backtests."""
        return min(self.running, self.threads)

    def describe(self) -> str:
        refused = f", {self.refused} refused" if self.refused else ""
        queued = self.running - self.busy
        waiting = f", {queued} waiting" if queued else ""
        return (f"cluster {self.address}: {self.workers} workers ({self.threads} threads)"
                f"{refused}, {self.busy} busy{waiting}, {self.per_minute:.0f} trials/min")


def _security(settings: ClusterSettings) -> Any:
    """Dask's TLS settings from the config's certificate paths (None: plain TCP)."""
    if not settings.address.startswith("tls://"):
        return None
    missing = [key for key in ("tls_ca_file", "tls_cert", "tls_key")
               if getattr(settings, key) is None]
    if missing:
        raise InputError(f"the tls:// cluster address {settings.address} needs "
                         f"{', '.join(missing)} in the config's [cluster] table (the CA that "
                         "signed the cluster's certificates, this machine's certificate and "
                         "its key)", source="cluster")
    for key in ("tls_ca_file", "tls_cert", "tls_key"):
        path = getattr(settings, key)
        if not Path(path).is_file():
            raise InputError(f"[cluster] {key}: no such file: {path}", source="cluster")
    from distributed.security import Security

    return Security(tls_ca_file=_path(settings.tls_ca_file),
                    tls_client_cert=_path(settings.tls_cert),
                    tls_client_key=_path(settings.tls_key), require_encryption=True)


def _path(value: Path | None) -> str | None:
    return None if value is None else str(value)


class ClusterEngine:
    """Backtests on the workers of a Dask scheduler (`dask scheduler` / `dask worker`)."""

    name = "cluster"

    def __init__(self, settings: ClusterSettings, *,
                 notify: Callable[[str], None] | None = None,
                 connect_timeout: float = 10.0) -> None:
        if not settings.address:
            raise InputError("no cluster address: give --cluster tcp://HOST:8786 or set "
                             "address in the config's [cluster] table", source="--cluster")
        self.settings = settings
        self.address = settings.address
        self.notify = notify or (lambda text: log.info("%s", text))
        # Called with a ClusterStatus when the workers change, and twice a minute while runs
        # are in flight (the CLI's progress line, the GUI's status bar).
        self.on_status: Callable[[ClusterStatus], None] | None = None
        self._said_status: tuple[int, int, int] | None = None
        self._said_at = 0.0
        self.connect_timeout = connect_timeout
        self._client: Any = None
        self._start_lock = asyncio.Lock()
        self._files: dict[tuple[str, int, int], str] = {}  # (path, mtime, size) -> digest
        self._file_plugins: set[str] = set()
        self._file_lock = asyncio.Lock()
        self._resource = resource_name(versions())
        self._running = 0
        self._finished: deque[float] = deque(maxlen=10_000)
        self._watch: asyncio.Task | None = None
        self._waiting_said = False
        self._refusals: dict[str, str] = {}
        self._status = ClusterStatus(self.address, 0, 0, 0, 0, 0.0)

    # ------------------------------------------------------------------ connection

    async def start(self) -> None:
        """Connect, and install tvdesk's worker plugin on every present and future worker."""
        async with self._start_lock:
            if self._client is not None:
                return
            from distributed import Client

            security = _security(self.settings)
            try:
                client = await Client(self.address, asynchronous=True,
                                       timeout=self.connect_timeout, security=security,
                                       set_as_default=False)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise EngineError(f"cannot reach the Dask scheduler at {self.address}: "
                                  f"{exc or type(exc).__name__} (is `dask scheduler` running "
                                  "there, and reachable from this machine?)") from None
            try:
                await client.register_plugin(TvdeskWorker(versions()))
            except Exception as exc:  # a worker's setup failing must not hide the cause
                await client.close()
                raise EngineError(f"the cluster at {self.address} could not set up tvdesk's "
                                  f"workers: {exc}") from None
            self._client = client
            try:
                await self._refuse_if_no_worker_fits()
            except EngineError:
                self._client = None
                await client.close()
                raise
            self.notify(f"connected to the Dask scheduler at {self.address}; backtests need "
                        f"workers with {describe(versions())}")

    async def close(self) -> None:
        """Stop watching and disconnect; the workers stay up for the next run."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch
            self._watch = None
        client, self._client = self._client, None
        if client is None:
            return
        # The bars-file plugins stay registered: another run (or head) may use the same file,
        # and a worker that joins it later must still receive it. The scheduler keeps one copy
        # per distinct file until it restarts.
        self._file_plugins.clear()
        self._files.clear()
        with contextlib.suppress(Exception):
            await client.close()

    async def __aenter__(self) -> ClusterEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ backtests

    async def run(self, request: BacktestRequest) -> BacktestResult:
        await self.start()
        files = await self._ship(request)
        self._ensure_watch()
        future = self._client.submit(run_backtest, request, files,
                                     resources={self._resource: 1}, pure=False,
                                     key=f"{KEY_PREFIX}{uuid.uuid4().hex}")
        self._running += 1
        try:
            result = await future
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._client.cancel([future], force=True)
            raise
        except TvdeskError:
            raise
        except Exception as exc:
            raise self._infrastructure_error(exc) from None
        finally:
            self._running -= 1
            self._finished.append(time.monotonic())
            future.release()
        return _with_head_paths(result, request)

    def _infrastructure_error(self, exc: Exception) -> EngineError:
        kind = type(exc).__name__
        if kind == "KilledWorker":
            return EngineError("the trial's cluster workers kept dying while running it (Dask "
                               "gave up after its allowed retries); check their memory")
        if kind in ("CommClosedError", "FutureCancelledError", "CancelledError"):
            return EngineError(f"lost the Dask scheduler at {self.address} during the trial: "
                               f"{exc}")
        return EngineError(f"the cluster at {self.address} failed the trial: {kind}: {exc}")

    async def _ship(self, request: BacktestRequest) -> dict[str, str]:
        """Every bars file of the request on every worker (once per file and run); the
        request's path of each file -> its content hash."""
        paths = [request.data_path, request.magnifier_path,
                 *(path for _symbol, path in request.security)]
        files: dict[str, str] = {}
        async with self._file_lock:
            for path in dict.fromkeys(p for p in paths if p):
                files[path] = await self._ship_one(path)
        return files

    async def _ship_one(self, path: str) -> str:
        try:
            stat = Path(path).stat()
        except OSError as exc:
            raise InputError(f"{path}: cannot read the bars file to send it to the cluster: "
                             f"{exc.strerror or exc}", source=path) from None
        key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
        digest = self._files.get(key)
        if digest is not None:
            return digest
        data = await asyncio.to_thread(Path(path).read_bytes)
        digest = hashlib.sha256(data).hexdigest()
        plugin = ShippedFile(digest, Path(path).name, data)
        if plugin.name not in self._file_plugins:
            await self._client.register_plugin(plugin)
            self._file_plugins.add(plugin.name)
        self._files[key] = digest
        return digest

    # ------------------------------------------------------------------ the cluster's state

    async def _on_scheduler(self, function: Callable[..., Any], **kwargs: Any) -> Any:
        """Run one of `scheduler_side`'s functions on the scheduler (sent by value)."""
        return await self._client.run_on_scheduler(function, **kwargs)

    async def _workers(self) -> tuple[int, int, int]:
        """(workers taking backtests, their threads, workers connected in all)."""
        try:
            found = await self._on_scheduler(scheduler_side.workers)
        except Exception as exc:  # the scheduler went away: say so through the trials
            log.debug("could not ask the scheduler for its workers: %s", exc)
            return 0, 0, 0
        ready = [w for w in found.values() if self._resource in (w.get("resources") or {})]
        threads = sum(int(w.get("nthreads") or 0) for w in ready)
        return len(ready), threads, len(found)

    async def _refuse_if_no_worker_fits(self) -> None:
        """Workers connected but every one refused (other versions): a clear error before
        anything runs. No worker at all is fine: the run waits for one and says so."""
        ready, _threads, connected = await self._workers()
        if ready or not connected:
            return
        reasons = await self._collect_refusals()
        if reasons and len(self._refusals) >= connected:
            raise EngineError(f"every worker of the cluster at {self.address} was refused: "
                              + "; ".join(sorted(reasons)))

    async def _collect_refusals(self) -> set[str]:
        try:
            found = await self._client.run(refusal, head=versions())
        except Exception:
            return set()
        self._refusals = {address: text for address, text in found.items() if text}
        return set(self._refusals.values())

    def _ensure_watch(self) -> None:
        if self._watch is None or self._watch.done():
            self._watch = asyncio.ensure_future(self._watch_cluster())

    async def _watch_cluster(self) -> None:
        """While backtests are in flight: say when no worker can take them and when workers
        are back; keep the status the progress displays read."""
        while True:
            ready, threads, connected = await self._workers()
            if connected > ready and len(self._refusals) != connected - ready:
                await self._collect_refusals()
            refused = min(len(self._refusals), connected - ready)
            now = time.monotonic()
            per_minute = float(sum(1 for t in self._finished if now - t <= 60.0))
            self._status = ClusterStatus(self.address, ready, refused, threads,
                                         self._running, per_minute)
            shape = (ready, refused, threads)
            if self.on_status is not None and (shape != self._said_status
                                               or now - self._said_at >= 30.0):
                self._said_status, self._said_at = shape, now
                self.on_status(self._status)
            if self._running and not ready and not self._waiting_said:
                self._waiting_said = True
                why = f" ({'; '.join(sorted(set(self._refusals.values())))})" if refused else ""
                self.notify(f"no worker of the cluster at {self.address} can take backtests "
                            f"now{why}: {self._running} trials wait for one (start `dask worker "
                            f"{self.address}` where tvdesk is installed)")
            elif ready and self._waiting_said:
                self._waiting_said = False
                self.notify(f"cluster workers are back: {ready} ({threads} threads)")
            if ready and self._running:
                await self._requeue()
            await asyncio.sleep(WATCH_SECONDS)

    async def _requeue(self) -> None:
        """Backtests queued while no worker could take them go to the workers there are now."""
        try:
            await self._on_scheduler(scheduler_side.requeue_waiting, prefix=KEY_PREFIX)
        except Exception as exc:  # the next look tries again; the run must not stop for it
            log.debug("could not requeue waiting backtests: %s", exc)

    def status(self) -> ClusterStatus:
        return self._status


def _with_head_paths(result: BacktestResult, request: BacktestRequest) -> BacktestResult:
    """The result names the head's files, not the worker's copies."""
    properties = dict(result.properties)
    if "data_file" in properties:
        properties["data_file"] = request.data_path
    if "magnifier_file" in properties:
        properties["magnifier_file"] = request.magnifier_path
    return replace(result, properties=FrozenMap(properties))
