"""Cluster versus local: the same input sweep on the local pool and on a Dask cluster.

    python benchmarks/cluster.py [--trials 120] [--rounds 5] [--cost-trials 40]
                                 [--optimize-iterations 60] [--optimize-repeats 2]
                                 [--ceiling-iterations 300] [--no-optimize] [--json OUT]

The SMA cross example on the bundled EURUSD hourly data (5,000 bars), `--trials` distinct
settings of its two length inputs, 2 backtests in flight at a time (what `--process-count 2`
does), through:

(a) the local engine: `LocalEngine(processes=2)`, the warm confined pool;
(b) a Dask cluster on 127.0.0.1: one `dask scheduler` process and two `dask worker ADDRESS
    --nthreads 1 --no-nanny` processes started by this script (and stopped by it, whatever
    happens), through `ClusterEngine`.

Both are warmed first (untimed trials), then timed in alternating rounds; the median round is
reported. The head is this process: its CPU time (user + system, every thread, children
excluded) over the timed cluster rounds, per trial, is what one head spends to keep one
backtest going on the cluster. The per-trial backtest cost is measured on one warm local
process, one trial at a time (what one worker thread does); cost / head CPU is how many
worker threads one head can keep busy. The CPU of the scheduler, of the Dask worker processes
themselves and of their backtest processes over the timed cluster rounds is reported per trial
too (on one machine they all share its cores with the head).

Then the real command a trader runs: `tvdesk optimize --max-iterations 60 --process-count 2`
(TPE, store, holdout, tags: the whole loop), locally and with `--cluster ADDRESS` (on the same
cluster, its workers already up), alternating, as subprocesses: wall time, and trials per
minute from the store (in-sample trials over the span between the first one's start and the
last one's end, and the same without each worker's first trial, which locally starts the
worker processes); the median of `--optimize-repeats` runs of each. Then one longer run on the
cluster (`--ceiling-iterations`): its CPU minus the short runs' is the head's CPU per trial of
the whole loop (Optuna's TPE, the store, the tags), start-up cancelled out; the backtest cost
over it is how many worker threads one head keeps busy in a real search.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TVDESK_HOME", tempfile.mkdtemp(prefix="tvdesk-bench-"))

from tvdesk.app.requests import RunOptions, build_request  # noqa: E402
from tvdesk.config import ClusterSettings  # noqa: E402
from tvdesk.engines.cluster import ClusterEngine  # noqa: E402
from tvdesk.engines.local import LocalEngine  # noqa: E402
from tvdesk.model import BacktestRequest  # noqa: E402
from tvdesk.store import RunStore  # noqa: E402

SCRIPT = ROOT / "pine" / "examples" / "sma_cross.pine"
DATA = ROOT / "resources" / "data" / "EURUSD_1h.csv"
SYMBOL_FLAGS = ["--symbol", "FX:EURUSD", "--timeframe", "60", "--mintick", "0.00001"]
BIN = Path(sys.executable).parent
DASK = str(BIN / "dask")
TVDESK = str(BIN / "tvdesk")
IN_FLIGHT = 2
WARM_TRIALS = 4


# ---------------------------------------------------------------------- the workload

def points(count: int, seed: int) -> list[tuple[int, int]]:
    """`count` distinct (fast, slow) lengths inside the inputs' ranges, in a fixed order."""
    grid = [(f, s) for f in range(2, 101) for s in range(5, 301, 5) if f < s]
    random.Random(seed).shuffle(grid)
    return grid[:count]


def requests(lengths: list[tuple[int, int]]) -> list[BacktestRequest]:
    """What `tvdesk evaluate --input ...` would run, one request per (fast, slow)."""
    options = RunOptions(script=str(SCRIPT), data=str(DATA), symbol="FX:EURUSD",
                         timeframe="60", mintick=0.00001)
    return [build_request(replace(options, inputs=(f"Fast Length={fast}",
                                                   f"Slow Length={slow}")))
            for fast, slow in lengths]


def head_cpu() -> float:
    """This process's CPU seconds (every thread; its children not included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def sweep(run: Callable[[BacktestRequest], Awaitable[Any]],
                batch: list[BacktestRequest]) -> tuple[float, float]:
    """Every request with IN_FLIGHT at a time: (wall seconds, head CPU seconds)."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(request: BacktestRequest) -> None:
        async with gate:
            await run(request)

    cpu, started = head_cpu(), time.perf_counter()
    await asyncio.gather(*(one(request) for request in batch))
    return time.perf_counter() - started, head_cpu() - cpu


# ---------------------------------------------------------------------- a localhost cluster

class LocalCluster:
    """`dask scheduler` + `dask worker` processes on 127.0.0.1, as a user would start them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {**os.environ, "TVDESK_HOME": str(folder / "home")}
        self.logs: list[IO[str]] = []
        self.processes: list[subprocess.Popen] = []
        self.address = ""

    def start(self, workers: int) -> None:
        """The scheduler, then `workers` one-thread workers; returns when all are connected.
        Whatever it started is in `processes`, for `close` (also when this fails)."""
        scheduler_file = self.folder / "scheduler.json"
        scheduler = self._start("scheduler", [
            DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(scheduler_file)])
        deadline = time.monotonic() + 60
        while not self.address:
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dask scheduler did not start:\n" + self.log("scheduler"))
            time.sleep(0.1)
            with contextlib.suppress(OSError, ValueError, KeyError):
                self.address = str(json.loads(scheduler_file.read_text())["address"])
        for index in range(workers):
            self._start(f"worker{index}", [
                DASK, "worker", self.address, "--nthreads", "1", "--no-nanny",
                "--no-dashboard", "--name", f"w{index}",
                "--local-directory", str(self.folder / f"worker{index}")])
        self._wait_for_workers(workers)

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        handle = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 (closed by close())
        self.logs.append(handle)
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                   stderr=handle)
        self.processes.append(process)
        return process

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of the scheduler, of the worker processes themselves (Dask's
        side) and of the workers' backtest processes (their confined local engines)."""
        import psutil

        def own(process: psutil.Process) -> float:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                return times.user + times.system
            return 0.0

        scheduler, *workers = (psutil.Process(p.pid) for p in self.processes)
        children = [c for w in workers for c in w.children(recursive=True)]
        return {"scheduler": own(scheduler), "workers": sum(own(w) for w in workers),
                "backtests": sum(own(c) for c in children)}

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-2000:]

    def _wait_for_workers(self, count: int) -> None:
        code = ("from distributed import Client; "
                f"c = Client({self.address!r}, timeout=30); "
                f"c.wait_for_workers({count}, timeout=90); c.close()")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=self.env,
                       timeout=150, capture_output=True)

    def close(self) -> None:
        for process in reversed(self.processes):  # workers first, then the scheduler
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for handle in self.logs:
            handle.close()


# ---------------------------------------------------------------------- the measurements

async def backtest_cost(batch: list[BacktestRequest], warm: list[BacktestRequest]) -> dict:
    """One warm local process, one trial at a time: wall seconds per engine.run and the
    seconds the worker spent in the backtest."""
    async with LocalEngine(processes=1) as engine:
        await engine.warm_up([str(DATA)])
        for request in warm:
            await engine.run(request)
        walls, inside = [], []
        for request in batch:
            started = time.perf_counter()
            _result, seconds = await engine.pool.run(request)
            walls.append(time.perf_counter() - started)
            inside.append(seconds)
    return {"trials": len(batch), "wall_s": statistics.mean(walls),
            "in_worker_s": statistics.mean(inside)}


async def cluster_latency(engine: ClusterEngine, batch: list[BacktestRequest]) -> float:
    walls = []
    for request in batch:
        started = time.perf_counter()
        await engine.run(request)
        walls.append(time.perf_counter() - started)
    return statistics.mean(walls)


async def engines(timed: list[BacktestRequest], warm: list[BacktestRequest],
                  cost_batch: list[BacktestRequest], rounds: int,
                  cluster_processes: LocalCluster) -> dict:
    address = cluster_processes.address
    out: dict[str, Any] = {"backtest_cost": await backtest_cost(cost_batch, warm)}
    cost = out["backtest_cost"]
    print(f"  backtest cost, 1 warm process, 1 at a time: {cost['wall_s'] * 1000:6.1f} ms "
          f"per trial ({cost['in_worker_s'] * 1000:.1f} ms inside the worker)")
    local = LocalEngine(processes=IN_FLIGHT)
    cluster = ClusterEngine(ClusterSettings(address=address), notify=lambda text: None)
    try:
        await local.warm_up([str(DATA)])
        await sweep(local.run, warm)
        await cluster.start()
        await sweep(cluster.run, warm)
        out["cluster_latency_s"] = await cluster_latency(cluster, cost_batch[:10])
        print(f"  cluster, 1 in flight: {out['cluster_latency_s'] * 1000:6.1f} ms per trial "
              "(round trip through the scheduler)")
        samples: dict[str, list[tuple[float, float]]] = {"local": [], "cluster": []}
        side = dict.fromkeys(("scheduler", "workers", "backtests"), 0.0)
        for index in range(rounds):
            for name, engine in (("local", local), ("cluster", cluster)):
                before = cluster_processes.cpu()
                wall, cpu = await sweep(engine.run, timed)
                if name == "cluster":
                    after = cluster_processes.cpu()
                    for key in side:
                        side[key] += after[key] - before[key]
                samples[name].append((wall, cpu))
                print(f"  round {index + 1} {name:<7}: {len(timed)} trials in {wall:5.2f} s = "
                      f"{len(timed) / wall:5.2f} trials/s, head CPU "
                      f"{cpu / len(timed) * 1000:5.2f} ms/trial")
    finally:
        await cluster.close()
        await local.close()
    for name, rows in samples.items():
        wall = statistics.median(w for w, _ in rows)
        cpu = statistics.median(c for _, c in rows)
        out[name] = {"rounds": [{"wall_s": w, "head_cpu_s": c} for w, c in rows],
                     "trials": len(timed), "wall_s": wall,
                     "trials_per_s": len(timed) / wall,
                     "head_cpu_per_trial_s": cpu / len(timed)}
    out["cluster"]["cpu_per_trial_s"] = {key: value / (rounds * len(timed))
                                         for key, value in side.items()}
    out["ratio"] = out["cluster"]["trials_per_s"] / out["local"]["trials_per_s"]
    out["head_ceiling_threads"] = cost["wall_s"] / out["cluster"]["head_cpu_per_trial_s"]
    return out


def optimize(folder: Path, iterations: int, address: str | None, env: dict[str, str],
             tag: str) -> dict:
    """One real `tvdesk optimize` run as a subprocess, in a store of its own."""
    label = "cluster" if address else "local"
    store = folder / f"optimize_{label}_{tag}.db"
    command = [TVDESK, "optimize", "--script", str(SCRIPT), "--data", str(DATA),
               *SYMBOL_FLAGS, "--max-iterations", str(iterations), "--process-count",
               str(IN_FLIGHT), "--seed", "7", "--store", str(store),
               "--workspace", str(folder / f"ws_{label}_{tag}")]
    if address:
        command += ["--cluster", address]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=1800)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"tvdesk optimize ({label}) exited {done.returncode}:\n"
                           f"{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    with RunStore.open_for_reading(store) as runs:
        run_id = runs.latest_run_id()
        assert run_id is not None
        trials = sorted(runs.trials(run_id, segment="in_sample", status="done"),
                        key=lambda trial: trial.started_at)
    last = max(t.finished_at or t.started_at for t in trials)
    span = (last - trials[0].started_at).total_seconds()
    # Steady: without each worker's first trial (locally it starts the worker processes).
    steady = trials[IN_FLIGHT:]
    steady_span = (last - steady[0].started_at).total_seconds()
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    row = {"iterations": iterations, "trials": len(trials), "wall_s": wall, "loop_s": span,
           "trials_per_min": len(trials) / span * 60,
           "steady_trials_per_min": len(steady) / steady_span * 60,
           "process_cpu_s": cpu}
    # With --cluster the optimize process runs no backtest: its CPU is the head's (start-up,
    # Optuna, store, holdout, tags). Locally it includes the worker processes'.
    print(f"  tvdesk optimize {label:<7}: {len(trials)} trials, {wall:5.1f} s wall, "
          f"{row['trials_per_min']:5.0f} trials/min from first trial to last "
          f"({row['steady_trials_per_min']:5.0f} after each worker's first); CPU of the "
          f"process and its children {cpu:5.1f} s")
    return row


def optimize_runs(folder: Path, args: argparse.Namespace, address: str) -> dict:
    env = {**os.environ, "TVDESK_HOME": str(folder / "head-home")}
    runs: dict[str, list[dict]] = {"local": [], "cluster": []}
    for repeat in range(args.optimize_repeats):  # alternating: neither always goes first
        runs["local"].append(optimize(folder, args.optimize_iterations, None, env,
                                      str(repeat)))
        runs["cluster"].append(optimize(folder, args.optimize_iterations, address, env,
                                        str(repeat)))
    out: dict[str, Any] = {"iterations": args.optimize_iterations, "runs": runs}
    for label, rows in runs.items():
        out[label] = {"wall_s_min": min(row["wall_s"] for row in rows),
                      "wall_s_max": max(row["wall_s"] for row in rows),
                      "trials_per_min": statistics.median(row["trials_per_min"]
                                                          for row in rows),
                      "steady_trials_per_min": statistics.median(
                          row["steady_trials_per_min"] for row in rows),
                      "trials": rows[0]["trials"]}
    if args.ceiling_iterations > args.optimize_iterations:
        # The head's CPU per extra trial of the whole loop (Optuna's TPE, the store, the
        # tags), start-up cancelled out: the longer run's CPU minus the shorter runs'.
        long = optimize(folder, args.ceiling_iterations, address, env, "long")
        short = statistics.median(row["process_cpu_s"] for row in runs["cluster"])
        extra = long["trials"] - statistics.median(row["trials"] for row in runs["cluster"])
        out["long"] = long
        out["loop_head_cpu_per_trial_s"] = (long["process_cpu_s"] - short) / extra
    return out


def table(result: dict) -> None:
    engines = result["engines"]
    local, cluster, cost = engines["local"], engines["cluster"], engines["backtest_cost"]
    side = cluster["cpu_per_trial_s"]
    rows = [
        ("engine only: local pool, 2 processes", f"{local['trials_per_s']:.2f} trials/s"),
        ("engine only: Dask cluster, 2 workers x 1 thread",
         f"{cluster['trials_per_s']:.2f} trials/s"),
        ("ratio cluster / local", f"{engines['ratio']:.2f} (target >= 0.85)"),
        ("backtest cost, one worker thread, one at a time",
         f"{cost['wall_s'] * 1000:.0f} ms per trial"),
        ("cluster round trip, one at a time", f"{engines['cluster_latency_s'] * 1000:.0f} ms"),
        ("head CPU per trial, engine only: local / cluster",
         f"{local['head_cpu_per_trial_s'] * 1000:.2f} ms / "
         f"{cluster['head_cpu_per_trial_s'] * 1000:.2f} ms"),
        ("cluster CPU per trial: scheduler / Dask worker processes / backtests",
         f"{side['scheduler'] * 1000:.1f} / {side['workers'] * 1000:.1f} / "
         f"{side['backtests'] * 1000:.0f} ms"),
        ("head ceiling, engine only (cost / head CPU)",
         f"{engines['head_ceiling_threads']:.0f} worker threads"),
    ]
    runs = result.get("optimize")
    if runs:
        for label in ("local", "cluster"):
            run = runs[label]
            rows.append((f"tvdesk optimize, {run['trials']} trials, {label}",
                         f"{run['wall_s_min']:.1f}-{run['wall_s_max']:.1f} s wall, "
                         f"{run['trials_per_min']:.0f} trials/min "
                         f"({run['steady_trials_per_min']:.0f} after each worker's first)"))
        if "loop_head_cpu_per_trial_s" in runs:
            loop_cpu = runs["loop_head_cpu_per_trial_s"]
            rows.append((f"whole loop: head CPU per trial (trials {runs['iterations']}-"
                         f"{runs['long']['trials']})", f"{loop_cpu * 1000:.1f} ms"))
            rows.append(("head ceiling, whole loop (cost / head CPU)",
                         f"{result['loop_head_ceiling_threads']:.1f} worker threads, "
                         f"{1 / loop_cpu:.0f} trials/s"))
    width = max(len(name) for name, _ in rows)
    print()
    print(f"| {'measurement':<{width}} | result |")
    print(f"|{'-' * (width + 2)}|---|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cost-trials", type=int, default=40)
    parser.add_argument("--optimize-iterations", type=int, default=60)
    parser.add_argument("--optimize-repeats", type=int, default=2,
                        help="runs of each; the faster one is reported")
    parser.add_argument("--ceiling-iterations", type=int, default=300,
                        help="one longer --cluster run: the whole loop's head CPU per trial")
    parser.add_argument("--no-optimize", action="store_true",
                        help="skip the two real `tvdesk optimize` runs")
    parser.add_argument("--json", metavar="OUT", help="write every number as JSON")
    args = parser.parse_args()
    # A SIGTERM must stop the cluster's processes too (Ctrl+C already unwinds).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    lengths = points(WARM_TRIALS + args.trials + args.cost_trials, seed=7)
    warm = requests(lengths[:WARM_TRIALS])
    timed = requests(lengths[WARM_TRIALS:WARM_TRIALS + args.trials])
    cost_batch = requests(lengths[WARM_TRIALS + args.trials:])
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {SCRIPT.name} on "
          f"{DATA.name}, {len(timed)} trials, {IN_FLIGHT} in flight, {args.rounds} rounds")
    result: dict[str, Any] = {"python": sys.version.split()[0], "cores": os.cpu_count(),
                              "trials": len(timed), "in_flight": IN_FLIGHT,
                              "load_before": os.getloadavg()}
    folder = Path(tempfile.mkdtemp(prefix="tvdesk-cluster-bench-"))
    cluster = LocalCluster(folder)
    try:
        cluster.start(workers=IN_FLIGHT)
        result["engines"] = asyncio.run(engines(timed, warm, cost_batch, args.rounds,
                                                cluster))
        if not args.no_optimize:
            result["optimize"] = optimize_runs(folder, args, cluster.address)
    finally:
        cluster.close()
        shutil.rmtree(folder, ignore_errors=True)
    loop_cpu = result.get("optimize", {}).get("loop_head_cpu_per_trial_s")
    if loop_cpu:
        result["loop_head_ceiling_threads"] = (result["engines"]["backtest_cost"]["wall_s"]
                                               / loop_cpu)
    result["load_after"] = os.getloadavg()
    table(result)
    print(f"load average before {result['load_before'][0]:.2f}, after "
          f"{result['load_after'][0]:.2f} (other work on the machine skews every number)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
