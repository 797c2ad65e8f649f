"""LocalEngine: the Engine protocol over the warm worker pool."""

from __future__ import annotations

from collections.abc import Iterable

from tvdesk.engines.local.confine import WorkerLimits
from tvdesk.engines.local.pool import WorkerPool
from tvdesk.model import BacktestRequest, BacktestResult


class LocalEngine:
    """Backtests on PyneCore in `processes` warm worker processes (the embedded default)."""

    name = "local"

    def __init__(self, processes: int = 1, limits: WorkerLimits | None = None) -> None:
        self.pool = WorkerPool(processes, limits)

    async def warm_up(self, data_files: Iterable[str] = ()) -> None:
        await self.pool.warm_up(data_files)

    async def run(self, request: BacktestRequest) -> BacktestResult:
        result, _seconds = await self.pool.run(request)
        return result

    async def close(self) -> None:
        await self.pool.close()

    async def __aenter__(self) -> LocalEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
