"""What tvdesk runs inside a `dask worker`: a warm, confined local engine per worker.

A cluster worker is a plain `dask worker ADDRESS` process where tvdesk is installed. The head
registers two kinds of worker plugins, which Dask also hands to every worker that joins later:

- `TvdeskWorker` checks that the worker runs the head's tvdesk, PyneCore and Python, then
  starts a `LocalEngine` with one confined process per Dask thread (the same sandbox, memory
  and CPU limits as on the head's own machine) and warms it. Only then does the worker
  advertise the Dask resource named after those versions (`resource_name`), and the head asks
  for that resource with every backtest: a worker with other versions never receives one, and
  says why (`refusal`).
- `ShippedFile` carries one bars file (chart data, another symbol, the magnifier's) to every
  worker once per run; the worker keeps it in its own folder under its content hash and the
  file's own name (the name can say the symbol and timeframe).

`run_backtest` is the task: it points the request at the worker's copies of the files and runs
it on the worker's engine. Cancelling the task (Stop on the head) cancels the backtest.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin, get_worker

from tvdesk.errors import EngineError
from tvdesk.model import BacktestRequest, BacktestResult

log = logging.getLogger(__name__)

PLUGIN_NAME = "tvdesk"
# Where each shipped file landed on this worker, by content hash (filled by ShippedFile).
_FILES: dict[str, str] = {}


def versions() -> dict[str, str]:
    """What must match between the head and a worker for a backtest to be the same."""
    from importlib.metadata import version

    import tvdesk

    return {"tvdesk": tvdesk.__version__, "pynecore": version("pynesys-pynecore"),
            "python": f"{sys.version_info[0]}.{sys.version_info[1]}"}


def describe(found: Mapping[str, str]) -> str:
    return f"tvdesk {found.get('tvdesk')}, PyneCore {found.get('pynecore')}, " \
           f"Python {found.get('python')}"


def resource_name(found: Mapping[str, str]) -> str:
    """The Dask resource a worker with exactly these versions advertises."""
    return "tvdesk-" + "-".join(f"{key}={found[key]}" for key in sorted(found))


class TvdeskWorker(WorkerPlugin):
    """Version check, then a warm local engine, then the resource that brings backtests."""

    name = PLUGIN_NAME
    # Registered again by every run (and every head) of the same versions: keep the warm
    # engine instead of restarting it under the backtests another run has in flight.
    idempotent = True

    def __init__(self, head: Mapping[str, str]) -> None:
        self.head = dict(head)
        self.refusal: str | None = None
        self.engine: Any = None

    async def setup(self, worker: Any) -> None:
        mine = versions()
        if mine != self.head:
            self.refusal = (f"cluster worker {worker.address} runs {describe(mine)}, the head "
                            f"runs {describe(self.head)}: install the same versions there")
            log.warning("%s", self.refusal)
            return
        _allow_children()
        from tvdesk.engines.local import LocalEngine

        threads = max(1, int(worker.state.nthreads))
        self.engine = LocalEngine(processes=threads)
        await self.engine.warm_up()
        await worker.set_resources(**{resource_name(self.head): float(threads)})

    async def teardown(self, worker: Any) -> None:
        if self.engine is not None:
            await self.engine.close()


def _allow_children() -> None:
    """A plain `dask worker ADDRESS` runs its worker under a nanny as a daemonic process, and
    multiprocessing refuses children to those; tvdesk's backtests run in confined child
    processes. They end with the worker anyway (each watches its owner: `lifeline`), which is
    what the daemonic flag was for, so the flag is cleared (what Dask's own
    `distributed.worker.daemon: False` setting does, without asking the user to set it)."""
    import multiprocessing

    process = multiprocessing.current_process()
    if process.daemon:
        process._config["daemon"] = False  # type: ignore[attr-defined]


class ShippedFile(WorkerPlugin):
    """One bars file, written once into each worker's folder."""

    idempotent = True

    def __init__(self, digest: str, file_name: str, data: bytes) -> None:
        self.digest = digest
        self.file_name = Path(file_name).name
        self.data = data
        self.name = f"tvdesk-file-{digest[:20]}"

    def setup(self, worker: Any) -> None:
        folder = Path(worker.local_directory) / "tvdesk-files" / self.digest[:20]
        path = folder / self.file_name
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f".{self.file_name}.{os.getpid()}.part"
            partial.write_bytes(self.data)
            os.replace(partial, path)
        _FILES[self.digest] = str(path)
        self.data = b""  # the worker keeps the file, not a second copy in memory


def _local(path: str | None, files: Mapping[str, str]) -> str | None:
    if path is None:
        return None
    digest = files.get(path)
    if digest is None:
        return path
    local = _FILES.get(digest)
    if local is None:
        raise EngineError(f"the bars file {Path(path).name} has not reached this cluster worker")
    return local


def localize(request: BacktestRequest, files: Mapping[str, str]) -> BacktestRequest:
    """The request with the head's file paths replaced by this worker's copies."""
    security = tuple((symbol, _local(path, files) or path) for symbol, path in request.security)
    return replace(request, data_path=_local(request.data_path, files),
                   magnifier_path=_local(request.magnifier_path, files), security=security)


async def run_backtest(request: BacktestRequest, files: Mapping[str, str]) -> BacktestResult:
    """The cluster's task: one backtest on this worker's confined engine."""
    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN_NAME)
    if not isinstance(plugin, TvdeskWorker) or plugin.engine is None:
        reason = getattr(plugin, "refusal", None) or "tvdesk is not set up on it"
        raise EngineError(f"cluster worker {worker.address}: {reason}")
    result = await plugin.engine.run(localize(request, files))
    assert isinstance(result, BacktestResult)
    return result


def refusal(dask_worker: Any, head: Mapping[str, str] | None = None) -> str | None:
    """Why this worker takes no backtests from a head with versions `head` (for the head's
    message), or None."""
    mine = versions()
    if head is not None and mine != dict(head):
        return (f"cluster worker {dask_worker.address} runs {describe(mine)}, the head runs "
                f"{describe(head)}: install the same versions there")
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    if plugin is None:
        return "tvdesk's worker plugin did not load there (another tvdesk version?)"
    return getattr(plugin, "refusal", None)
