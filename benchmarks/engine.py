"""Local engine speed: bars/s of one backtest, and trials/s of an input sweep.

    python benchmarks/engine.py [--trials 200] [--naive-trials 10]

1. bars/s: the bundled EURUSD hourly data (5,000 bars) through each bundled example, warm
   (script transpiled and imported once before timing), median of 5 runs in this process.
2. trials/s: a sweep over the SMA cross's two length inputs, `--trials` distinct input sets,
   through the warm worker pool with 1 and 2 processes, versus the naive way: a fresh Python
   process per trial that imports PyneCore, transpiles, reads the data and runs once. The naive
   loop is timed on `--naive-trials` trials (it is slow by design) and reported per trial.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TVDESK_HOME", tempfile.mkdtemp(prefix="tvdesk-bench-"))

from tvdesk.engines.local import LocalEngine  # noqa: E402
from tvdesk.engines.local.backtest import BacktestContext, run_backtest  # noqa: E402
from tvdesk.model import BacktestRequest, SymbolSpec  # noqa: E402
from tvdesk.pine.loader import load_strategy  # noqa: E402

DATA = ROOT / "resources" / "data" / "EURUSD_1h.csv"
SYMBOL = SymbolSpec(ticker="FX:EURUSD", mintick=0.00001, pointvalue=1.0)
EXAMPLES = sorted((ROOT / "pine" / "examples").glob("*.pine"))
SWEEP_SCRIPT = ROOT / "pine" / "examples" / "sma_cross.pine"

NAIVE_CHILD = """
import sys
from tvdesk.engines.local.backtest import BacktestContext, run_backtest
from tvdesk.model import BacktestRequest, SymbolSpec
from tvdesk.pine.loader import load_strategy
req = BacktestRequest(strategy=load_strategy(sys.argv[1]), data_path=sys.argv[2],
                      symbol=SymbolSpec(ticker="FX:EURUSD", mintick=0.00001, pointvalue=1.0),
                      inputs=(("Fast Length", sys.argv[3]), ("Slow Length", sys.argv[4])))
print(len(run_backtest(req, BacktestContext()).trades))
"""


def request(script: Path, inputs: tuple[tuple[str, object], ...] = ()) -> BacktestRequest:
    return BacktestRequest(strategy=load_strategy(script), data_path=str(DATA), symbol=SYMBOL,
                           inputs=inputs)


def bars_per_second() -> None:
    context = BacktestContext()
    for script in EXAMPLES:
        req = request(script)
        result = run_backtest(req, context)  # warm: transpile, import transform, data parse
        times = []
        for _ in range(5):
            started = time.perf_counter()
            run_backtest(req, context)
            times.append(time.perf_counter() - started)
        bars = result.properties["bars"]
        median = statistics.median(times)
        print(f"  {script.name:<28} {bars} bars  {median * 1000:7.1f} ms  "
              f"{bars / median:9,.0f} bars/s  ({len(result.trades)} trades)")


def sweep(trials: int) -> list[tuple[int, int]]:
    grid = itertools.product(range(5, 60, 1), range(20, 200, 5))
    return [(f, s) for f, s in grid if f < s][:trials]


async def pool_sweep(points: list[tuple[int, int]], processes: int) -> float:
    base = request(SWEEP_SCRIPT)
    async with LocalEngine(processes=processes) as engine:
        await engine.pool.warm_up()
        await engine.run(base)  # first run of the script in each worker is not the sweep's
        started = time.perf_counter()
        queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        for point in points:
            queue.put_nowait(point)

        async def worker() -> None:
            while not queue.empty():
                fast, slow = queue.get_nowait()
                await engine.run(base.with_inputs({"Fast Length": fast, "Slow Length": slow}))

        await asyncio.gather(*(worker() for _ in range(processes)))
        return time.perf_counter() - started


def naive_sweep(points: list[tuple[int, int]]) -> float:
    started = time.perf_counter()
    for fast, slow in points:
        subprocess.run([sys.executable, "-c", NAIVE_CHILD, str(SWEEP_SCRIPT), str(DATA),
                        str(fast), str(slow)], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--naive-trials", type=int, default=10)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print("1. one backtest, warm:")
    bars_per_second()
    points = sweep(args.trials)
    print(f"2. input sweep of {len(points)} trials ({SWEEP_SCRIPT.name}, 5,000 bars):")
    for processes in (1, 2):
        seconds = asyncio.run(pool_sweep(points, processes))
        print(f"  warm pool, {processes} process(es): {seconds:6.1f} s  "
              f"{len(points) / seconds:6.2f} trials/s")
    naive_points = points[: args.naive_trials]
    seconds = naive_sweep(naive_points)
    print(f"  naive (new process + runner per trial, {len(naive_points)} trials): "
          f"{seconds:6.1f} s  {len(naive_points) / seconds:6.2f} trials/s")


if __name__ == "__main__":
    main()
