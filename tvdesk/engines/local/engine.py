"""LocalEngine: the Engine protocol over the warm worker pool."""

from __future__ import annotations

from tvdesk.engines.local.pool import WorkerPool
from tvdesk.model import BacktestRequest, BacktestResult


class LocalEngine:
    """Backtests on PyneCore in `processes` warm worker processes (the embedded default)."""

    name = "local"

    def __init__(self, processes: int = 1) -> None:
        self.pool = WorkerPool(processes)

    async def warm_up(self) -> None:
        await self.pool.warm_up()

    async def run(self, request: BacktestRequest) -> BacktestResult:
        result, _seconds = await self.pool.run(request)
        return result

    async def close(self) -> None:
        await self.pool.close()

    async def __aenter__(self) -> LocalEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
