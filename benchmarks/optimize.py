"""Optimisation throughput: trials per minute of a local parameter search.

    python benchmarks/optimize.py [--trials 500] [--naive-trials 10]

A TPE search of `--trials` trials over the SMA cross example on the bundled EURUSD hourly
data (5,000 bars, 20 % holdout), through the whole loop (Optuna ask/tell, SQLite store with
every trial's result and daily returns, events), with 1 and 2 worker processes; versus running
trials one by one with a fresh engine each (a new process that imports PyneCore, transpiles
and reads the data), timed on `--naive-trials` trials.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TVDESK_HOME", tempfile.mkdtemp(prefix="tvdesk-bench-"))

from tvdesk.app.optimize import run_optimization  # noqa: E402
from tvdesk.model import BacktestRequest, SymbolSpec  # noqa: E402
from tvdesk.optimize.settings import OptimizeSettings  # noqa: E402
from tvdesk.pine.loader import load_strategy  # noqa: E402
from tvdesk.store import RunStore  # noqa: E402

SCRIPT = ROOT / "pine" / "examples" / "sma_cross.pine"
DATA = ROOT / "resources" / "data" / "EURUSD_1h.csv"


def search(trials: int, processes: int, folder: Path) -> float:
    request = BacktestRequest(strategy=load_strategy(SCRIPT), data_path=str(DATA),
                              symbol=SymbolSpec(ticker="FX:EURUSD", mintick=0.00001,
                                                pointvalue=1.0))
    settings = replace(OptimizeSettings(request=request), max_iterations=trials,
                       process_count=processes, workspace=str(folder / "ws"))
    with RunStore.open(folder / f"bench_{processes}.db") as store:
        started = time.perf_counter()
        outcome = asyncio.run(run_optimization(settings, store))
        seconds = time.perf_counter() - started
        done = store.count_trials(outcome.run_id, status="done", segment="in_sample")
    print(f"  loop, {processes} worker(s): {done} trials in {seconds:6.1f} s = "
          f"{done / seconds * 60:7.0f} trials/min (incl. worker start-up and holdout)")
    return seconds


def naive(trials: int) -> None:
    child = (
        "import sys\n"
        "from tvdesk.engines.local.backtest import BacktestContext, run_backtest\n"
        "from tvdesk.model import BacktestRequest, SymbolSpec\n"
        "from tvdesk.pine.loader import load_strategy\n"
        "r = BacktestRequest(strategy=load_strategy(sys.argv[1]), data_path=sys.argv[2],"
        " symbol=SymbolSpec(ticker='FX:EURUSD', mintick=0.00001, pointvalue=1.0),"
        " inputs=(('Fast Length', int(sys.argv[3])),))\n"
        "run_backtest(r, BacktestContext())\n"
    )
    started = time.perf_counter()
    for i in range(trials):
        subprocess.run([sys.executable, "-c", child, str(SCRIPT), str(DATA), str(5 + i)],
                       check=True, capture_output=True)
    seconds = time.perf_counter() - started
    print(f"  one by one, fresh engine each: {trials} trials in {seconds:6.1f} s = "
          f"{trials / seconds * 60:7.0f} trials/min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--naive-trials", type=int, default=10)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.trials}-trial TPE "
          f"search, {SCRIPT.name} on {DATA.name}")
    with tempfile.TemporaryDirectory() as tmp:
        for processes in (1, 2):
            search(args.trials, processes, Path(tmp))
    naive(args.naive_trials)


if __name__ == "__main__":
    main()
