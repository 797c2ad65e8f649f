"""Backtests on a real Dask cluster: `dask scheduler` and `dask worker` processes on 127.0.0.1.

Each test drives `tvdesk optimize --cluster` as a user does (a subprocess, a real store) or the
ClusterEngine itself, and makes the cluster misbehave as machines do: a worker killed with
SIGKILL, every worker gone, a worker with another tvdesk version, a scheduler that is not
there, a run cancelled mid-way.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engines.cluster.conftest import ROOT, Cluster, die_with_parent
from tvdesk.store import RunStore

EXAMPLE = ROOT / "pine" / "examples" / "sma_cross.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"


def optimize_command(tmp_path: Path, address: str, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tvdesk", "optimize", "--script", str(EXAMPLE), "--data",
            str(EURUSD), "--symbol", "FX:EURUSD", "--timeframe", "60", "--mintick", "0.00001",
            "--store", str(tmp_path / "runs.db"), "--workspace", str(tmp_path / "ws"),
            "--holdout", "0%", "--seed", "7", "--max-iterations", str(trials),
            "--process-count", "2", "--cluster", address, *extra]


def start_run(tmp_path: Path, cluster: Cluster, trials: int) -> tuple[subprocess.Popen, Path]:
    """`tvdesk optimize` in the background, its output in run.log (closed with the cluster)."""
    log = tmp_path / "run.log"
    process = subprocess.Popen(optimize_command(tmp_path, cluster.address, trials), cwd=ROOT,
                               env=cluster.env, stdout=cluster.log_file("run.log"),
                               stderr=subprocess.STDOUT, text=True, preexec_fn=die_with_parent)
    return process, log


def done_trials(tmp_path: Path) -> int:
    store = tmp_path / "runs.db"
    if not store.exists():
        return 0
    with RunStore.open_for_reading(store) as runs:
        run_id = runs.latest_run_id()
        return runs.count_trials(run_id, status="done") if run_id else 0


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def assert_complete_once(tmp_path: Path, trials: int) -> None:
    with RunStore.open_for_reading(tmp_path / "runs.db") as runs:
        run_id = runs.latest_run_id()
        assert run_id is not None
        rows = runs.trials(run_id, segment="in_sample")
        assert runs.get_run(run_id).status == "finished"
    assert len(rows) == trials
    assert all(row.status == "done" for row in rows)
    keys = [(row.source_hash, row.params_key) for row in rows]
    assert len(set(keys)) == len(keys)  # no parameter set recorded twice


def test_a_40_trial_run_on_two_workers_records_40_trials_once(tmp_path: Path,
                                                              cluster: Cluster) -> None:
    cluster.add_worker(nanny=True)  # plain `dask worker ADDRESS`, as a user starts one
    cluster.add_worker()
    run = subprocess.run(optimize_command(tmp_path, cluster.address, 40), cwd=ROOT,
                         env=cluster.env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert_complete_once(tmp_path, 40)
    assert f"connected to the Dask scheduler at {cluster.address}" in run.stdout
    assert "cluster " in run.stdout and "workers" in run.stdout
    with RunStore.open_for_reading(tmp_path / "runs.db") as runs:
        run_id = runs.latest_run_id()
        assert run_id
        first = runs.trial_result(runs.trials(run_id)[0].id)
    assert first is not None and first.properties["data_file"] == str(EURUSD)


def test_a_worker_killed_mid_run_loses_nothing(tmp_path: Path, cluster: Cluster) -> None:
    cluster.add_worker()
    doomed = cluster.add_worker()
    process, log = start_run(tmp_path, cluster, 40)
    try:
        wait_until(lambda: done_trials(tmp_path) >= 8, 300, "the first trials")
        cluster.kill(doomed)
        assert process.wait(timeout=600) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert_complete_once(tmp_path, 40)


def stranded_run(tmp_path: Path, cluster: Cluster, trials: int,
                 first: int) -> tuple[subprocess.Popen, Path]:
    """A run on one worker, that worker killed after `first` trials, and the run saying it
    waits for another (the run is killed if it does not get there)."""
    only = cluster.add_worker()
    process, log = start_run(tmp_path, cluster, trials)
    try:
        wait_until(lambda: done_trials(tmp_path) >= first, 300, "the first trials")
        cluster.kill(only)
        wait_until(lambda: "trials wait for one" in log.read_text(), 120,
                   "the run to say it waits for workers")
    except BaseException:
        process.kill()
        raise
    return process, log


def test_with_every_worker_gone_the_run_waits_and_new_workers_finish_it(
        tmp_path: Path, cluster: Cluster) -> None:
    process, log = stranded_run(tmp_path, cluster, 30, first=5)
    try:
        stalled = done_trials(tmp_path)
        time.sleep(3)
        assert done_trials(tmp_path) <= stalled + 2  # at most what was in flight
        assert process.poll() is None  # still waiting, not failed
        cluster.add_worker(wait=False)
        assert process.wait(timeout=600) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert "cluster workers are back" in log.read_text()
    assert_complete_once(tmp_path, 30)


def test_a_run_interrupted_on_the_cluster_resumes_on_this_machine(
        tmp_path: Path, cluster: Cluster) -> None:
    process, _log = stranded_run(tmp_path, cluster, 20, first=4)
    process.kill()  # the head dies too (kill -9): the store is all that is left
    process.wait(timeout=60)
    resumed = subprocess.run([*optimize_command(tmp_path, "local", 20), "--resume", "latest"],
                             cwd=ROOT, env=cluster.env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming run" in resumed.stdout and "Dask" not in resumed.stdout
    assert_complete_once(tmp_path, 20)


def test_a_worker_with_another_tvdesk_version_is_refused(tmp_path: Path,
                                                        cluster: Cluster) -> None:
    cluster.add_worker(preload=Path(__file__).with_name("other_version.py"))
    run = subprocess.run(optimize_command(tmp_path, cluster.address, 4), cwd=ROOT,
                         env=cluster.env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "refused" in run.stderr and "tvdesk 0.0.1-elsewhere" in run.stderr
    assert "install the same versions there" in run.stderr
    assert done_trials(tmp_path) == 0


def test_a_scheduler_that_cannot_be_reached_exits_1_naming_it_and_keeps_the_store(
        tmp_path: Path) -> None:
    env = {**os.environ, "TVDESK_HOME": str(tmp_path / "home")}
    # The store's earlier run (on this machine: what matters is that it is kept).
    first = subprocess.run(optimize_command(tmp_path, "local", 3), cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    gone = "tcp://127.0.0.1:9"  # the discard port: nothing listens there
    run = subprocess.run(optimize_command(tmp_path, gone, 3), cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert f"cannot reach the Dask scheduler at {gone}" in run.stderr
    assert "Traceback" not in run.stderr
    with RunStore.open_for_reading(tmp_path / "runs.db") as runs:
        assert len(runs.list_runs()) == 1  # nothing new stored, nothing lost
        assert runs.count_trials(runs.list_runs()[0].id, status="done") == 3


def test_cancelling_runs_cancels_the_clusters_tasks(cluster: Cluster) -> None:
    from tvdesk.app.requests import RunOptions, build_request
    from tvdesk.config import ClusterSettings
    from tvdesk.engines.cluster import ClusterEngine

    cluster.add_worker()
    request = build_request(RunOptions(script=str(EXAMPLE), data=str(EURUSD),
                                       symbol="FX:EURUSD", timeframe="60", mintick=0.00001))

    def backtests(dask_scheduler) -> int:
        return sum(1 for key in dask_scheduler.tasks if str(key).startswith("tvdesk-backtest"))

    async def scenario() -> tuple[int, int, int, float]:
        async with ClusterEngine(ClusterSettings(address=cluster.address)) as engine:
            finished = await engine.run(request)
            # Far more than one worker thread finishes before the cancel (about 0.1 s each).
            runs = [asyncio.ensure_future(engine.run(request)) for _ in range(60)]
            queued = 0
            for _ in range(100):  # until the scheduler holds some of them
                queued = await engine._client.run_on_scheduler(backtests)
                if queued:
                    break
                await asyncio.sleep(0.05)
            for run in runs:
                run.cancel()
            outcomes = await asyncio.gather(*runs, return_exceptions=True)
            cancelled = sum(isinstance(o, asyncio.CancelledError) for o in outcomes)
            left = queued
            for _ in range(100):
                left = await engine._client.run_on_scheduler(backtests)
                if left == 0:
                    break
                await asyncio.sleep(0.1)
            return queued, left, cancelled, float(finished.metrics["net_profit"])

    queued, left, cancelled, net_profit = asyncio.run(scenario())
    assert queued >= 1 and left == 0
    assert cancelled >= 1  # stopped, not run to the end
    assert net_profit != 0.0


def test_evaluate_conditions_and_a_watchlist_on_the_cluster_equal_this_machine(tmp_path: Path,
                                                              cluster: Cluster) -> None:
    import json

    cluster.add_worker(threads=2)
    documents = {}
    for where in (cluster.address, "local"):
        out = tmp_path / f"{'cluster' if where != 'local' else 'local'}.json"
        run = subprocess.run([sys.executable, "-m", "tvdesk", "evaluate", "--script",
                              str(ROOT / "pine" / "examples" / "multi_condition.pine"),
                              "--data", str(EURUSD), "--mintick", "0.00001",
                              "--conditions", "1,3", "--cluster", where, "--json", str(out)],
                             cwd=ROOT, env=cluster.env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr
        documents[where] = json.loads(out.read_text())
    remote, local = documents[cluster.address], documents["local"]
    assert len(remote) == len(local) == 3  # the baseline and conditions 1 and 3
    for a, b in zip(remote, local, strict=True):
        assert a["trades"] == b["trades"] and a["metrics"] == b["metrics"]
    assert remote[2]["properties"]["inputs"]["Condition"] == 3
    assert remote[0]["properties"]["data_file"] == str(EURUSD)

    # A watchlist from the market data library: each chart's series reaches the workers.
    add = subprocess.run([sys.executable, "-m", "tvdesk", "data", "add", str(EURUSD),
                          "--symbol", "FX:EURUSD", "--mintick", "0.00001"], cwd=ROOT,
                         env=cluster.env, capture_output=True, text=True, timeout=120)
    assert add.returncode == 0, add.stderr
    charts = {}
    for where in (cluster.address, "local"):
        out = tmp_path / f"charts-{'cluster' if where != 'local' else 'local'}.json"
        run = subprocess.run([sys.executable, "-m", "tvdesk", "evaluate", "--script",
                              str(ROOT / "pine" / "examples" / "sma_cross.pine"),
                              "--symbols", "FX:EURUSD", "--timeframes", "60,240,1D",
                              "--cluster", where, "--json", str(out)],
                             cwd=ROOT, env=cluster.env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr
        charts[where] = json.loads(out.read_text())
    assert [d["properties"]["timeframe"] for d in charts["local"]] == ["60", "240", "1D"]
    for a, b in zip(charts[cluster.address], charts["local"], strict=True):
        assert a["trades"] == b["trades"] and a["metrics"] == b["metrics"]


def test_a_tls_cluster_runs_backtests_with_the_configs_certificates(tmp_path: Path) -> None:
    from tests.engines.cluster.conftest import self_signed

    cert, key = self_signed(tmp_path)
    (tmp_path / "tls").mkdir()
    secure = Cluster(tmp_path / "tls", tls=(cert, key))
    try:
        assert secure.address.startswith("tls://")
        secure.add_worker()
        config = tmp_path / "config.toml"
        base = f'[cluster]\naddress = "{secure.address}"\n'
        command = [sys.executable, "-m", "tvdesk", "--config", str(config), "evaluate",
                   "--script", str(EXAMPLE), "--data", str(EURUSD), "--mintick", "0.00001"]
        config.write_text(base)  # no certificates: refused before connecting, naming them
        refused = subprocess.run(command, cwd=ROOT, env=secure.env, capture_output=True,
                                 text=True, timeout=120)
        assert refused.returncode == 2
        assert "needs tls_ca_file, tls_cert, tls_key in the config's [cluster]" in \
            refused.stderr
        assert "Traceback" not in refused.stderr
        config.write_text(base + f'tls_ca_file = "{cert}"\ntls_cert = "{cert}"\n'
                                 f'tls_key = "{key}"\n')
        run = subprocess.run(command, cwd=ROOT, env=secure.env, capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        assert "Net profit" in run.stdout
    finally:
        secure.close()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9"])
def test_evaluate_with_conditions_on_an_unreachable_cluster_is_a_clear_error(
        tmp_path: Path, address: str) -> None:
    run = subprocess.run([sys.executable, "-m", "tvdesk", "evaluate", "--script", str(EXAMPLE),
                          "--data", str(EURUSD), "--mintick", "0.00001", "--cluster", address],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and f"cannot reach the Dask scheduler at {address}" in run.stderr
