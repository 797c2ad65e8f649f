"""The warm worker pool: reuse, cancellation and recovery from a dead worker (real processes)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tvdesk.engines.local import LocalEngine
from tvdesk.errors import EngineError
from tvdesk.model import BacktestRequest, SymbolSpec
from tvdesk.pine.loader import load_strategy_source

from engine_helpers import write_bars

QUICK = """//@version=6
strategy("q", initial_capital=10000)
if bar_index % 4 == 0
    strategy.entry("L", strategy.long, qty=1)
if bar_index % 4 == 2
    strategy.close("L")
"""

SLOW = """//@version=6
strategy("s", initial_capital=10000)
total = 0.0
for i = 0 to 3000
    total += math.sqrt(i)
if bar_index % 4 == 0 and total > 0
    strategy.entry("L", strategy.long, qty=1)
"""


def _request(tmp_path: Path, pine: str, bars: int) -> BacktestRequest:
    data = write_bars(tmp_path / f"bars_{bars}.csv",
                      [(100 + i % 7, 108 + i % 7, 95 + i % 7, 101 + i % 7) for i in range(bars)])
    return BacktestRequest(strategy=load_strategy_source(pine), data_path=str(data),
                           symbol=SymbolSpec(ticker="T:X", mintick=0.01, pointvalue=1))


def test_pool_reuses_warm_workers_and_counts_jobs(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[int], int, int]:
        async with LocalEngine(processes=1) as engine:
            request = _request(tmp_path, QUICK, 60)
            assert request.data_path
            pids = await engine.pool.warm_up([request.data_path])
            first = await engine.run(request)
            second = await engine.run(request.with_inputs({}))
            assert first.trades == second.trades
            again = await engine.pool.warm_up()
            return pids + again, engine.pool.jobs_done, len(first.trades)

    pids, jobs, trades = asyncio.run(scenario())
    assert pids[0] == pids[1], "the same warm process served every job"
    assert jobs == 2
    assert trades == 15


async def _until_started(engine: LocalEngine, jobs: int) -> None:
    """Wait for the event "a worker has begun the job" (not a guess at how long that takes)."""
    while engine.pool.jobs_started < jobs:
        await asyncio.sleep(0.01)


def test_cancelling_the_task_stops_the_backtest_and_frees_the_worker(tmp_path: Path) -> None:
    async def scenario() -> int:
        async with LocalEngine(processes=1) as engine:
            slow = _request(tmp_path, SLOW, 20_000)
            assert slow.data_path
            await engine.pool.warm_up([slow.data_path])
            task = asyncio.ensure_future(engine.run(slow))
            await _until_started(engine, 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert engine.pool.jobs_done == 0, "the cancelled job did not complete"
            after = await engine.run(_request(tmp_path, QUICK, 40))
            return len(after.trades)

    assert asyncio.run(scenario()) == 10


def test_a_killed_worker_fails_one_job_and_the_pool_recovers(tmp_path: Path) -> None:
    async def scenario() -> int:
        async with LocalEngine(processes=1) as engine:
            slow = _request(tmp_path, SLOW, 20_000)
            assert slow.data_path
            [pid] = await engine.pool.warm_up([slow.data_path])
            task = asyncio.ensure_future(engine.run(slow))
            await _until_started(engine, 1)
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(EngineError, match="worker process died"):
                await task
            after = await engine.run(_request(tmp_path, QUICK, 40))
            return len(after.trades)

    assert asyncio.run(scenario()) == 10


def test_a_new_pool_removes_scratch_folders_of_dead_pools_only(tmp_path: Path) -> None:
    """A run killed with -9 cannot clean up; the next pool does, and leaves live ones alone."""
    import subprocess
    import sys

    from tvdesk import paths

    root = paths.cache_dir() / "workers"
    root.mkdir(parents=True, exist_ok=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = root / f"pool-{gone.stdout.strip()}-abc"
    (dead / "worker-1" / "scripts").mkdir(parents=True)
    live = root / f"pool-{os.getppid()}-xyz"
    live.mkdir()
    before = set(root.glob(f"pool-{os.getpid()}-*"))  # pools this process still has open

    async def scenario() -> set[Path]:
        async with LocalEngine(processes=1) as engine:
            request = _request(tmp_path, QUICK, 40)
            await engine.run(request)
            return set(root.glob(f"pool-{os.getpid()}-*")) - before

    assert len(asyncio.run(scenario())) == 1, "the pool keeps its scratch folders in the cache"
    assert not dead.exists()
    assert live.exists()
    assert set(root.glob(f"pool-{os.getpid()}-*")) == before, "a closed pool removes its folder"
    live.rmdir()


def test_first_runs_on_different_data_files_at_once_share_one_start(tmp_path: Path) -> None:
    """Four requests for four files, all before any worker started (a watchlist without a
    warm-up): each start used to retire the others' new workers, and `close` then failed on
    a forgotten executor."""
    requests = [_request(tmp_path, QUICK, bars) for bars in (40, 41, 42, 43)]

    async def main() -> list:
        engine = LocalEngine(processes=2)
        try:
            return list(await asyncio.gather(*(engine.run(r) for r in requests)))
        finally:
            await engine.close()

    results = asyncio.run(main())
    assert [r.properties["bars"] for r in results] == [40, 41, 42, 43]
    assert all(r.metrics["total_trades"] > 0 for r in results)
