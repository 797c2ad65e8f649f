"""Optimize: start or resume a run, on one engine, with one store and one event stream.

The CLI and the GUI both call `run_optimization`; they differ only in how they consume the
events. A resumed run takes its settings from the store, not from the new flags, so it
continues exactly where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tvdesk.app.engines import make_engine
from tvdesk.app.export_pine import trial_pine
from tvdesk.config import Settings
from tvdesk.engines.base import Engine
from tvdesk.errors import InputError
from tvdesk.events import Event, EventStream
from tvdesk.optimize.loop import Optimizer, RunOutcome
from tvdesk.optimize.settings import OptimizeSettings
from tvdesk.store import RunInfo, RunStore

if TYPE_CHECKING:
    from tvdesk.optimize.llm_client import LLMClient

log = logging.getLogger(__name__)


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


def run_state(store: RunStore, run: RunInfo) -> str:
    """The run's status for a listing: a 'running' run whose process is gone (killed, crashed)
    is 'interrupted', which `--resume` continues."""
    if run.status == "running" and store.run_holder(run.id) is None:
        return "interrupted"
    return run.status


async def run_optimization(settings: OptimizeSettings, store: RunStore, *,
                           run_id: str | None = None, events: EventStream | None = None,
                           engine: Engine | None = None,
                           config: Settings | None = None) -> RunOutcome:
    """Run (or resume, with `run_id`) until a limit stops every track; cancellable.

    Without `engine`, one is made for the run (`settings.engine`, `process_count` workers,
    `config`'s TradingView table) and closed at the end.

    `events` belongs to the caller, who subscribed to it and closes it when this returns (the
    one owner of a stream is whoever made it); without one, nothing is listening.
    """
    llm = make_llm_client(settings) if settings.proposer in ("llm", "both") else None
    if llm is not None and run_id is not None:  # a resumed run's earlier calls count too
        llm.calls = store.count_llm_exchanges(run_id)
    own_engine = engine is None
    engine = engine or make_engine(settings.engine, config, workers=settings.process_count,
                                   notify=_notices(events))
    try:
        start = getattr(engine, "start", None)
        if getattr(engine, "name", "") == "cluster" and start is not None:
            await start()  # an unreachable scheduler fails here, before a run is stored
            _relay_status(engine, events)
        optimizer = Optimizer(settings, engine, store, events=events, run_id=run_id, llm=llm,
                              export_pine=trial_pine)
        return await optimizer.run()
    finally:
        if own_engine:
            await engine.close()
        if llm is not None:
            await llm.aclose()


def _notices(events: EventStream | None) -> Callable[[str], None]:
    """An engine's lines for the user (a cluster without workers, a 2FA wait) as events."""
    def notify(text: str) -> None:
        if events is not None and not events.closed:
            events.publish(Event("cluster", run_id="", payload={"message": text}))
        else:
            log.info("%s", text)
    return notify


def _relay_status(engine: Any, events: EventStream | None) -> None:
    """The cluster's workers, busy ones and throughput, as events for the progress displays."""
    def on_status(status: Any) -> None:
        if events is not None and not events.closed:
            events.publish(Event("cluster", run_id="", payload={
                "status": status.describe(), "workers": status.workers,
                "busy": status.busy, "per_minute": status.per_minute}))
    engine.on_status = on_status  # ClusterEngine.on_status


def make_llm_client(settings: OptimizeSettings) -> LLMClient:
    """The LLM client, its API key read from the OS keyring (never from flags or config).

    A local endpoint (Ollama, llama.cpp on loopback) usually needs no key; any other endpoint
    without a stored key is an error that says how to store one.
    """
    from urllib.parse import urlparse

    from tvdesk.optimize.llm_client import LLMClient
    from tvdesk.optimize.settings import llm_call_budget
    from tvdesk.secrets import get_secret

    llm = settings.llm
    api_key = get_secret("llm", "api_key")
    if not api_key:
        host = urlparse(llm.base_url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise InputError("no LLM API key in the keyring: run `tvdesk credentials set llm`",
                             source="--proposer")
        api_key = "no-key"
    return LLMClient(base_url=llm.base_url, api_key=api_key, timeout=llm.timeout,
                     max_attempts=llm.max_retries, max_calls=llm_call_budget(settings))
