"""What the sandbox costs: the safety check, its re-check on a cache hit, and confined trials.

    python benchmarks/sandbox.py [--trials 120] [--rounds 3]

1. The allow-list check on every bundled example (median of 50 runs each), and a cache hit
   with its re-check versus the same read without it (what a new process pays per script).
2. Trials/s of an input sweep of the SMA cross through one warm worker, confined (Landlock,
   limits, scrubbed environment, per-trial CPU clock) and unconfined (`confine=False` and no
   limits), alternating rounds so machine noise hits both alike. The overhead is the
   difference of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TVDESK_HOME", tempfile.mkdtemp(prefix="tvdesk-bench-"))

from tvdesk.engines.local import LocalEngine  # noqa: E402
from tvdesk.engines.local.confine import WorkerLimits  # noqa: E402
from tvdesk.model import BacktestRequest, SymbolSpec  # noqa: E402
from tvdesk.pine.loader import load_strategy  # noqa: E402
from tvdesk.pine.safety import check_generated_code  # noqa: E402
from tvdesk.pine.transpile import TranspileCache  # noqa: E402

DATA = ROOT / "resources" / "data" / "EURUSD_1h.csv"
SYMBOL = SymbolSpec(ticker="FX:EURUSD", mintick=0.00001, pointvalue=1.0)
EXAMPLES = sorted((ROOT / "pine" / "examples").glob("*.pine"))
SWEEP = ROOT / "pine" / "examples" / "sma_cross.pine"
UNCONFINED = WorkerLimits(trial_cpu_seconds=10**9, memory_mb=10**7, confine=False)


def check_costs() -> None:
    cache = TranspileCache(Path(tempfile.mkdtemp(prefix="tvdesk-bench-cache-")))
    for script in EXAMPLES:
        source = script.read_text(encoding="utf-8")
        transpiled = cache.get(source)
        times = []
        for _ in range(50):
            started = time.perf_counter()
            check_generated_code(transpiled.python, source)
            times.append(time.perf_counter() - started)
        hit, raw = [], []
        for _ in range(20):
            started = time.perf_counter()
            TranspileCache(cache.root).get(source)  # new memo: disk read + re-check
            hit.append(time.perf_counter() - started)
            started = time.perf_counter()
            transpiled.path.read_text(encoding="utf-8")
            raw.append(time.perf_counter() - started)
        print(f"check {script.name}: {statistics.median(times) * 1000:.2f} ms "
              f"({len(transpiled.python.splitlines())} lines); cache hit with re-check "
              f"{statistics.median(hit) * 1000:.2f} ms vs read alone "
              f"{statistics.median(raw) * 1000:.3f} ms")


async def sweep(limits: WorkerLimits, trials: int) -> tuple[float, str]:
    strategy = load_strategy(SWEEP)
    pairs = list(itertools.islice(itertools.product(range(5, 40), range(41, 120, 3)), trials))
    async with LocalEngine(processes=1, limits=limits) as engine:
        await engine.pool.warm_up([str(DATA)])
        status = engine.pool.confinement
        warm = BacktestRequest(strategy=strategy, data_path=str(DATA), symbol=SYMBOL)
        await engine.run(warm)  # first run pays the import and the data parse
        started = time.perf_counter()
        for fast, slow in pairs:
            await engine.run(BacktestRequest(strategy=strategy, data_path=str(DATA),
                                             symbol=SYMBOL,
                                             inputs=(("Fast Length", fast),
                                                     ("Slow Length", slow))))
        return trials / (time.perf_counter() - started), status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    check_costs()
    confined, unconfined = [], []
    status = ""
    for _ in range(args.rounds):
        rate, status = asyncio.run(sweep(WorkerLimits(), args.trials))
        confined.append(rate)
        unconfined.append(asyncio.run(sweep(UNCONFINED, args.trials))[0])
    c, u = statistics.median(confined), statistics.median(unconfined)
    print(f"worker: {status}")
    print(f"trials/s, 1 worker, {args.trials} trials x {args.rounds} rounds: confined {c:.2f} "
          f"(rounds {', '.join(f'{r:.2f}' for r in confined)}), unconfined {u:.2f} "
          f"(rounds {', '.join(f'{r:.2f}' for r in unconfined)}); overhead "
          f"{(u - c) / u * 100:+.1f} %")


if __name__ == "__main__":
    main()
