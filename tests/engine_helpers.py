"""Small hand-made markets and a direct (in-process) way to backtest on them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tvdesk.engines.local.backtest import BacktestContext, run_backtest
from tvdesk.model import BacktestRequest, BacktestResult, SymbolSpec
from tvdesk.pine.loader import load_strategy_source
from tvdesk.pine.transpile import TranspileCache

DAY_MS = 86_400_000
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def write_bars(path: Path, bars: Sequence[tuple[float, float, float, float]],
               step_ms: int = DAY_MS, start_ms: int = START_MS) -> Path:
    """Write (open, high, low, close) rows as a unix-seconds OHLCV CSV, one bar per step."""
    lines = ["time,open,high,low,close,volume"]
    for i, (o, h, lo, c) in enumerate(bars):
        lines.append(f"{(start_ms + i * step_ms) // 1000},{o},{h},{lo},{c},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


def flat_bars(n: int, price: float = 100.0) -> list[tuple[float, float, float, float]]:
    return [(price, price + 1, price - 1, price) for _ in range(n)]


def backtest(tmp_path: Path, pine: str, bars: Sequence[tuple[float, float, float, float]],
             **request_fields) -> BacktestResult:
    data = write_bars(tmp_path / "bars.csv", bars)
    cache = TranspileCache(tmp_path / "transpiled")
    strategy = load_strategy_source(pine, cache=cache)
    request = BacktestRequest(strategy=strategy, data_path=str(data),
                              symbol=request_fields.pop("symbol", SymbolSpec(
                                  ticker="TEST:ABC", mintick=0.01, pointvalue=1.0)),
                              **request_fields)
    return run_backtest(request, BacktestContext(cache))


def optimise_example(path: Path, **settings) -> str:
    """Run a real optimisation of the bundled SMA cross on the bundled EURUSD hourly data into
    the store at `path` (seed 1, 20 % holdout unless overridden); returns the run id."""
    import asyncio
    from dataclasses import replace

    from tvdesk.app.optimize import run_optimization
    from tvdesk.optimize.settings import OptimizeSettings
    from tvdesk.pine.loader import load_strategy
    from tvdesk.store import RunStore

    root = Path(__file__).resolve().parent.parent
    request = BacktestRequest(
        strategy=load_strategy(root / "pine" / "examples" / "sma_cross.pine"),
        data_path=str(root / "resources" / "data" / "EURUSD_1h.csv"),
        symbol=SymbolSpec(ticker="FX:EURUSD", mintick=0.00001, pointvalue=1.0))
    options = replace(OptimizeSettings(request=request, seed=1, holdout=0.2), **settings)
    with RunStore.open(path) as store:
        outcome = asyncio.run(run_optimization(options, store))
    assert outcome.status == "finished"
    return outcome.run_id
