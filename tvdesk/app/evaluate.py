"""Evaluate: one backtest of a strategy on an engine, the result ready for any shell."""

from __future__ import annotations

import asyncio

from tvdesk.engines.base import Engine
from tvdesk.model import BacktestRequest, BacktestResult


async def evaluate(request: BacktestRequest, engine: Engine) -> BacktestResult:
    """Run the request on the engine. Separate from the engine so later steps (quality tags,
    the run store) attach here once, for the CLI and the GUI alike."""
    return await engine.run(request)


async def evaluate_conditions(request: BacktestRequest, conditions: tuple[str, ...],
                              condition_input: str,
                              engine: Engine | None = None) -> list[tuple[str, BacktestResult]]:
    """The baseline (the script's own condition), then each condition value, labelled."""
    from tvdesk.app.engines import make_engine
    from tvdesk.errors import InputError

    if request.strategy.input_by_key(condition_input) is None:
        titles = ", ".join(repr(s.title) for s in request.strategy.inputs)
        raise InputError(f"the script has no input {condition_input!r} (inputs: {titles})",
                         source="--condition-input")
    own = engine is None
    engine = engine or make_engine("local", workers=1)
    labels = ["baseline", *(f"condition {c}" for c in conditions)]
    requests = [request, *(request.with_inputs({condition_input: c}) for c in conditions)]
    try:  # all at once: an engine with several workers (or a cluster) runs them side by side
        results = await asyncio.gather(*(evaluate(r, engine) for r in requests))
        return list(zip(labels, results, strict=True))
    finally:
        if own:
            await engine.close()
