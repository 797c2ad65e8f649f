"""The one interface every backtest engine implements.

The optimizer, the CLI and the GUI hold an `Engine` and never ask which one: the local
PyneCore engine and the TradingView browser engine return the same BacktestResult. Runs are
coroutines so the GUI's qasync loop and the CLI share them; cancelling the awaiting task
cancels the backtest (the engine stops its worker or page and raises CancelledError).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tvdesk.model import BacktestRequest, BacktestResult


@runtime_checkable
class Engine(Protocol):
    name: str

    async def run(self, request: BacktestRequest) -> BacktestResult:
        """Run one backtest. Raises TvdeskError subclasses for problems a user can act on."""
        ...

    async def close(self) -> None:
        """Release processes, browsers and pages. Safe to call twice."""
        ...
