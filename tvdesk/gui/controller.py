"""The bridge between the window and tvdesk.app: runs, stops and resumes optimisations.

The optimisation is the same coroutine the CLI runs (`tvdesk.app.optimize.run_optimization`),
scheduled on the qasync loop that also drives Qt; backtests run in the engine's worker
processes, so the window never waits on them. Events from the run's EventStream are re-emitted
as a Qt signal on the GUI thread (the loop *is* the GUI thread), so views update through
ordinary slots and no signal ever crosses a thread. Errors never vanish: a failed run emits
`failed` with the user-facing message, and the window shows it and logs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from tvdesk.config import Settings
from tvdesk.errors import TvdeskError
from tvdesk.events import Event, EventStream
from tvdesk.gui.qt import QtCore, Signal
from tvdesk.optimize.settings import OptimizeSettings, stored_settings
from tvdesk.store import RunStore

log = logging.getLogger(__name__)


class RunController(QtCore.QObject):
    run_started = Signal(str)  # run id
    # tvdesk.events.Event. It shadows QObject.event() for Python callers only: Qt still
    # dispatches this object's QEvents to the C++ QObject::event.
    event = Signal(object)  # type: ignore[assignment]
    run_finished = Signal(str, str)  # run id, status: finished | stopped | failed
    failed = Signal(str)  # a message for the user
    store_opened = Signal(str)  # path
    idle = Signal()  # no run in progress any more (finished, stopped or failed to start)
    confirm_finished = Signal(int, str)  # trial id, parity summary or the error

    def __init__(self, store_path: Path, parent: QtCore.QObject | None = None, *,
                 config: Settings | None = None) -> None:
        super().__init__(parent)
        # The settings the app was started with (--config), for the engines it makes; the
        # window replaces them when the Settings dialog saves.
        self.config = config
        self._store_path = Path(store_path)
        self._store: RunStore | None = None
        self._task: asyncio.Task | None = None
        self.run_id: str | None = None
        self.busy_workers = 0
        self._status = "failed"
        self._confirm: asyncio.Task | None = None

    # ------------------------------------------------------------------ store

    @property
    def store_path(self) -> Path:
        return self._store_path

    def store(self) -> RunStore:
        """The store the views read (one connection; the run writes through its own)."""
        if self._store is None:
            self._store = _open_for_views(self._store_path)
        return self._store

    def open_store(self, path: Path) -> None:
        if self.running:
            raise TvdeskError("stop the running optimisation before opening another store")
        # Open the new file first: when it is not a store (a clear error), the window keeps
        # the one it had, open and readable, instead of a closed connection.
        opened = _open_for_views(path)
        if self._store is not None:
            self._store.close()
        self._store = opened
        self._store_path = Path(path)
        self.run_id = self._store.latest_run_id()
        self.store_opened.emit(str(path))

    # ------------------------------------------------------------------ runs

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, settings: OptimizeSettings) -> None:
        self._launch(settings, None)

    def resume(self, run_id: str | None = None) -> None:
        store = self.store()
        run_id = run_id or self.run_id or store.latest_run_id()
        if run_id is None:
            self.failed.emit("there is no run in this store to resume")
            return
        settings = stored_settings(store, run_id)
        self._launch(settings, run_id)

    def stop(self) -> None:
        """Cancel the run; every finished trial is already in the store."""
        if self.running:
            assert self._task is not None
            self._task.cancel()

    def _launch(self, settings: OptimizeSettings, run_id: str | None) -> None:
        if self.running:
            self.failed.emit("an optimisation is already running")
            return
        self._status = "failed"
        self._task = asyncio.ensure_future(self._run(settings, run_id))
        self._task.add_done_callback(self._done)

    def _done(self, _task: asyncio.Task) -> None:
        """Announced once the task is over, so `running` is already False for the slots."""
        if self.run_id:
            self.run_finished.emit(self.run_id, self._status)
        self.idle.emit()

    async def _run(self, settings: OptimizeSettings, run_id: str | None) -> None:
        from tvdesk.app.optimize import run_optimization

        events = EventStream()  # made here, so ended here (below), whatever happens
        queue = events.subscribe()
        forward = asyncio.ensure_future(self._forward(queue))
        status = "failed"
        run_store: RunStore | None = None
        try:
            run_store = RunStore.open(self._store_path)  # the run's own writer connection
            outcome = await run_optimization(settings, run_store, run_id=run_id, events=events,
                                             config=self.config)
            status = outcome.status
            if outcome.already_finished:
                self.failed.emit(f"run {outcome.run_id} is already finished; nothing to resume")
        except asyncio.CancelledError:
            status = "stopped"  # not re-raised: a stop is a normal end of a run
        except TvdeskError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # an unexpected bug: show it, log the traceback
            log.exception("optimisation failed")
            self.failed.emit(f"the optimisation failed: {type(exc).__name__}: {exc}")
        finally:
            if run_store is not None:
                run_store.close()
            events.close()
            await forward
            self.busy_workers = 0
            self._status = status

    async def _forward(self, queue: asyncio.Queue[Event | None]) -> None:
        while (event := await queue.get()) is not None:
            if event.kind == "run_started":
                self.run_id = event.run_id
                self.run_started.emit(event.run_id)
            elif event.kind == "trial_started":
                self.busy_workers += 1
            elif event.kind in ("trial_finished", "error") and self.busy_workers:
                self.busy_workers -= 1
            self.event.emit(event)

    # ------------------------------------------------------------------ TradingView

    def rerun_on_tradingview(self, trial_id: int) -> None:
        """Run one stored trial again on TradingView (the engine's browser runs on its own
        thread, so the window stays responsive); `confirm_finished` tells the outcome."""
        if self._confirm is not None and not self._confirm.done():
            self.confirm_finished.emit(trial_id, "another TradingView re-run is in progress")
            return
        self._confirm = asyncio.ensure_future(self._rerun(trial_id))

    async def _rerun(self, trial_id: int) -> None:
        from tvdesk.app.engines import make_engine
        from tvdesk.app.tradingview import confirm_trials

        store = engine = None
        summary = "cancelled"
        try:
            store = RunStore.open(self._store_path)
            engine = make_engine("tradingview", self.config, workers=1)
            [row] = await confirm_trials(store, [trial_id], engine)
            summary = row.error or row.summary
        except TvdeskError as exc:
            summary = "failed"
            self.failed.emit(str(exc))
        except Exception as exc:  # an unexpected bug: show it, log the traceback
            log.exception("TradingView re-run failed")
            summary = "failed"
            self.failed.emit(f"the TradingView re-run failed: {type(exc).__name__}: {exc}")
        finally:
            if engine is not None:
                await engine.close()
            if store is not None:
                store.close()
            self.confirm_finished.emit(trial_id, summary)

    async def shutdown(self) -> None:
        """Stop a run and release the store (window closing)."""
        if self._confirm is not None and not self._confirm.done():
            self._confirm.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._confirm
        if self.running:
            assert self._task is not None
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._store is not None:
            self._store.close()
            self._store = None


def _open_for_views(path: Path) -> RunStore:
    """The views' store: a new one is created; an existing one that cannot be written (a
    read-only mount, an archive) is still opened, to browse and report on."""
    if not Path(path).exists():
        return RunStore.open(path)
    return RunStore.open_for_reading(path)
