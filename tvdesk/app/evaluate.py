"""Evaluate: one backtest of a strategy on an engine, the result ready for any shell."""

from __future__ import annotations

from tvdesk.engines.base import Engine
from tvdesk.model import BacktestRequest, BacktestResult


async def evaluate(request: BacktestRequest, engine: Engine) -> BacktestResult:
    """Run the request on the engine. Separate from the engine so later steps (quality tags,
    the run store) attach here once, for the CLI and the GUI alike."""
    return await engine.run(request)
