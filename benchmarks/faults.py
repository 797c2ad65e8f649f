"""What the hardening costs, and how fast a killed run cleans up.

    python benchmarks/faults.py [--rounds 3]

- market data validation: `load_bars` on the bundled EURUSD hourly file (5,000 bars) and on a
  generated 200,000-bar file, every check included (times in range, prices and volumes finite
  and bounded, OHLC consistent, order);
- the run store's write path: one trial started and finished (two transactions, each checking
  that the store file is still the one open) on a local disk;
- kill -9 of `tvdesk optimize` with 2 workers: seconds until no process of its session is
  left (Linux; the workers watch their owner through a pidfd).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TVDESK_HOME", tempfile.mkdtemp(prefix="tvdesk-bench-"))

from tvdesk.data.market_data import load_bars  # noqa: E402
from tvdesk.store import RunStore  # noqa: E402

DATA = ROOT / "resources" / "data" / "EURUSD_1h.csv"
SCRIPT = ROOT / "pine" / "examples" / "sma_cross.pine"


def _best_of(action, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def validation(folder: Path) -> None:
    small = _best_of(lambda: load_bars(DATA), 10)
    big = folder / "big.csv"
    n = 200_000
    times = 1_500_000_000 + np.arange(n) * 60
    close = 100 + np.cumsum(np.random.default_rng(1).normal(0, 0.05, n))
    with big.open("w") as handle:
        handle.write("time,open,high,low,close,volume\n")
        for t, c in zip(times, close, strict=True):
            handle.write(f"{t},{c:.2f},{c + 0.1:.2f},{c - 0.1:.2f},{c:.2f},100\n")
    large = _best_of(lambda: load_bars(big), 3)
    print(f"load_bars, 5,000 bars:   {small * 1000:7.1f} ms")
    print(f"load_bars, 200,000 bars: {large * 1000:7.1f} ms "
          f"({n / large / 1e6:.2f} M bars/s)")


def store_writes(folder: Path, trials: int = 500) -> None:
    with RunStore.open(folder / "runs.db") as store:
        lease = store.start_run(engine="local", strategy_title="bench", settings={})
        source = store.add_source("//@version=6", normalized_hash="x")
        started = time.perf_counter()
        for i in range(trials):
            trial = store.start_trial(lease.run_id, worker=1, condition=None, iteration=i,
                                      proposer="params", source_hash=source, inputs={"a": i})
            store.finish_trial(trial, metrics={"net_profit_percent": float(i)})
        seconds = time.perf_counter() - started
        store.release_run(lease)
    print(f"store: start + finish one trial: {seconds / trials * 1e6:7.0f} µs")


def _session_left(sid: int) -> int:
    left = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            left += 1
    return left


def kill_cleanup(folder: Path, rounds: int) -> None:
    if not sys.platform.startswith("linux"):
        print("kill -9 cleanup: Linux only (reads sessions from /proc)")
        return
    waits = []
    for n in range(rounds):
        process = subprocess.Popen(
            [sys.executable, "-m", "tvdesk", "optimize", "--script", str(SCRIPT), "--data",
             str(DATA), "--symbol", "FX:EURUSD", "--mintick", "0.00001", "--max-iterations",
             "5000", "--process-count", "2", "--store", str(folder / f"kill{n}.db")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        assert process.stdout is not None
        for line in process.stdout:
            if "worker 2: trial" in line:
                break
        before = _session_left(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        killed = time.perf_counter()
        process.wait()
        while _session_left(process.pid) and time.perf_counter() - killed < 60:
            time.sleep(0.01)
        waits.append(time.perf_counter() - killed)
        process.stdout.close()
        print(f"kill -9 round {n + 1}: {before} processes, all gone after "
              f"{waits[-1]:.2f} s")
    print(f"kill -9 cleanup: worst {max(waits):.2f} s over {rounds} rounds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        validation(folder)
        store_writes(folder)
        kill_cleanup(folder, args.rounds)


if __name__ == "__main__":
    main()
