"""Optimize: start or resume a run, on one engine, with one store and one event stream.

The CLI and the GUI both call `run_optimization`; they differ only in how they consume the
events. A resumed run takes its settings from the store, not from the new flags, so it
continues exactly where it stopped.
"""

from __future__ import annotations

from pathlib import Path

from tvdesk import paths
from tvdesk.engines.base import Engine
from tvdesk.errors import InputError
from tvdesk.optimize.events import EventStream
from tvdesk.optimize.loop import Optimizer, RunOutcome
from tvdesk.optimize.settings import OptimizeSettings
from tvdesk.store import RunStore


def default_store_path() -> Path:
    return paths.data_dir() / "runs.db"


def resolve_run_id(store: RunStore, wanted: str) -> str:
    if wanted == "latest":
        run_id = store.latest_run_id()
        if run_id is None:
            raise InputError("the store has no runs to resume", source=str(store.path))
        return run_id
    if wanted not in {run.id for run in store.list_runs()}:
        known = ", ".join(r.id for r in store.list_runs()[:5]) or "none"
        raise InputError(f"no run {wanted!r} in the store (latest: {known})",
                         source=str(store.path))
    return wanted


def load_resumed_settings(store: RunStore, run_id: str) -> OptimizeSettings:
    return OptimizeSettings.from_dict(store.get_run(run_id).settings)


def make_engine(settings: OptimizeSettings) -> Engine:
    if settings.engine == "local":
        from tvdesk.engines.local import LocalEngine

        return LocalEngine(processes=settings.process_count)
    raise InputError(f"engine {settings.engine!r} is not available yet; use --engine local",
                     source="--engine")


async def run_optimization(settings: OptimizeSettings, store: RunStore, *,
                           run_id: str | None = None, events: EventStream | None = None,
                           engine: Engine | None = None) -> RunOutcome:
    """Run (or resume, with `run_id`) until a limit stops every track; cancellable."""
    own_engine = engine is None
    engine = engine or make_engine(settings)
    try:
        optimizer = Optimizer(settings, engine, store, events=events, run_id=run_id)
        return await optimizer.run()
    finally:
        if own_engine:
            await engine.close()
