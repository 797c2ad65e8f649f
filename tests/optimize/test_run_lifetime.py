"""A run's life as processes see it: one process per run (the lease), nothing left behind
after kill -9, nothing run twice by a second `--resume`, nothing run again once finished.

The process tests start the real CLI in its own session, as a terminal would, and look at
the processes of that session afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from tvdesk.processes import process_started
from tvdesk.store import RunStore
from tvdesk.store import records as rec
from tvdesk.store.lease import RunInUse, machine_id

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "pine" / "examples" / "sma_cross.pine"
DATA = ROOT / "resources" / "data" / "EURUSD_1h.csv"
LINUX = sys.platform.startswith("linux")


def _new_run(store: RunStore) -> str:
    return store.create_run(engine="local", strategy_title="t", settings={"a": 1})


def _rewrite_lease(path: Path, run_id: str, **columns: object) -> None:
    """Change the lease row as another process or machine would have written it."""
    with sqlite3.connect(path) as conn:
        for column, value in columns.items():
            conn.execute(f"UPDATE run_leases SET {column} = ? WHERE run_id = ?",
                         (value, run_id))


# ----------------------------------------------------------------------------- the lease


def test_a_live_holder_is_refused_with_its_pid_host_and_start(tmp_path: Path) -> None:
    with RunStore.open(tmp_path / "runs.db") as store:
        lease = store.start_run(engine="local", strategy_title="t", settings={})
        with pytest.raises(RunInUse) as refused:
            store.acquire_run(lease.run_id)
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message and lease.host in message
        assert f"{lease.since:%Y-%m-%d %H:%M:%S}" in message
        assert refused.value.exit_code == 1
        assert store.run_holder(lease.run_id) == lease


def test_the_lease_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    code = ("import sys; from tvdesk.store import RunStore; s = RunStore.open(sys.argv[1]);"
            "l = s.start_run(engine='local', strategy_title='t', settings={});"
            "print(l.run_id, l.pid)")  # exits holding the lease, as a killed process would
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True).stdout.split()
    run_id, dead_pid = out[0], int(out[1])
    with RunStore.open(path) as store:
        assert store.run_holder(run_id) is None
        lease = store.acquire_run(run_id)
        assert lease.pid == os.getpid() != dead_pid
        assert store.run_holder(run_id) == lease


@pytest.mark.skipif(not LINUX, reason="the process start time is read from /proc")
def test_a_reused_pid_is_not_taken_for_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with RunStore.open(path) as store:
        first = store.start_run(engine="local", strategy_title="t", settings={})
        # Our pid, but a process that started at another time: the holder is gone.
        _rewrite_lease(path, first.run_id, process_started="1")
        assert process_started(os.getpid()) != "1"
        assert store.run_holder(first.run_id) is None
        second = store.acquire_run(first.run_id)
        assert second.token != first.token


def test_a_holder_on_another_machine_counts_while_its_heartbeat_is_fresh(
        tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with RunStore.open(path) as store:
        lease = store.start_run(engine="local", strategy_title="t", settings={})
        assert lease.machine == machine_id()
        _rewrite_lease(path, lease.run_id, machine="other-host/boot", host="other-host",
                       pid=1)
        with pytest.raises(RunInUse, match="pid 1 on host other-host"):
            store.acquire_run(lease.run_id)
        old = rec.to_text(rec.utc_now() - timedelta(minutes=5))
        _rewrite_lease(path, lease.run_id, heartbeat_at=old)
        taken = store.acquire_run(lease.run_id)
        assert taken.machine == machine_id()
        # The old holder's heartbeat now finds its lease gone, and its release leaves ours.
        assert store.renew_run(lease) is False
        store.release_run(lease)
        assert store.run_holder(lease.run_id) == taken
        assert store.renew_run(taken) is True
        store.release_run(taken)
        assert store.run_holder(lease.run_id) is None


def test_listing_a_run_needs_no_lease(tmp_path: Path) -> None:
    with RunStore.open(tmp_path / "runs.db") as store:
        run_id = _new_run(store)
        assert store.run_holder(run_id) is None
        assert [r.id for r in store.list_runs()] == [run_id]


# ----------------------------------------------------------------------------- processes


def _cli(*args: str, home: Path) -> list[str]:
    return [sys.executable, "-m", "tvdesk", *args]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "TVDESK_HOME": str(home), "PYTHONUNBUFFERED": "1"}


def _optimize_args(store: Path, *extra: str) -> list[str]:
    return ["optimize", "--script", str(SCRIPT), "--data", str(DATA), "--symbol", "FX:EURUSD",
            "--mintick", "0.00001", "--pointvalue", "1", "--store", str(store), *extra]


def _session_processes(sid: int) -> list[str]:
    """Live (not zombie) processes of session `sid`, as 'pid command' lines."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state not in ("Z", "X"):
            found.append(f"{entry.name} {cmdline[:120]}")
    return found


def _wait_for_line(process: subprocess.Popen[str], needle: str) -> list[str]:
    """Read the process's output until a line contains `needle` (the event to act on)."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"the process ended before printing {needle!r}: {''.join(seen)}")


def _done_trials(store: Path) -> int:
    """Finished trials in a store another process is writing (0 while it is being made)."""
    if not store.exists():
        return 0
    try:
        with closing(sqlite3.connect(store)) as conn:
            return conn.execute("SELECT count(*) FROM trials WHERE status = 'done'"
                                ).fetchone()[0]
    except sqlite3.DatabaseError:  # no tables yet, or the file caught half-written at creation
        return 0


def _kill_9_leaves_nothing(process: subprocess.Popen[str]) -> list[str]:
    """Kill the session's leader with -9; what of its session is still alive after 30 s."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    left = _session_processes(process.pid)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)  # polling the kernel's process table: there is no event to await
        left = _session_processes(process.pid)
    return left


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started; killed with their sessions if the test fails midway."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


@pytest.mark.skipif(not LINUX, reason="reads sessions from /proc")
def test_kill_9_of_the_cli_leaves_no_process_behind(tmp_path: Path, started) -> None:
    """Workers, the forkserver and the resource tracker all end within seconds of kill -9."""
    process = subprocess.Popen(
        _cli(*_optimize_args(tmp_path / "runs.db", "--max-iterations", "5000",
                             "--process-count", "2"), home=tmp_path),
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    started.append(process)
    _wait_for_line(process, "worker 2: trial")  # both workers are busy
    before = _session_processes(process.pid)
    assert len(before) >= 4, before  # the CLI, a forkserver, two workers (and a tracker)
    assert _kill_9_leaves_nothing(process) == []


def test_a_second_resume_is_refused_then_the_run_completes_once(tmp_path: Path,
                                                                started) -> None:
    """Two CLIs on one run: the second is refused at once naming the first; after the first
    is killed, a resume finishes the run with every parameter set run once and one holdout;
    resuming the finished run runs nothing."""
    store_path = tmp_path / "runs.db"
    # Long enough that the first run is still going when the second CLI has started (12
    # trials of a 0.1 s backtest could all finish first).
    trials_wanted = 60
    first = subprocess.Popen(
        _cli(*_optimize_args(store_path, "--max-iterations", str(trials_wanted)), home=tmp_path),
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    started.append(first)
    _wait_for_line(first, "worker 1: trial")
    second = subprocess.run(_cli(*_optimize_args(store_path, "--resume", "latest"),
                                 home=tmp_path), env=_env(tmp_path), capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 1, second.stdout + second.stderr
    assert f"is being run by another tvdesk process (pid {first.pid} on host" in second.stderr
    assert "Traceback" not in second.stderr
    assert "resuming run" not in second.stdout

    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    with RunStore.open(store_path) as store:
        run_id = store.latest_run_id()
        assert run_id is not None and store.get_run(run_id).status == "running"
        assert store.run_holder(run_id) is None  # the killed holder's lease is dead

    resumed = subprocess.run(_cli(*_optimize_args(store_path, "--resume", run_id),
                                  home=tmp_path), env=_env(tmp_path), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming run {run_id}" in resumed.stdout
    with RunStore.open(store_path) as store:
        trials = store.trials(run_id, segment="in_sample")
        assert len(trials) == trials_wanted
        assert all(t.status == "done" for t in trials)
        assert len({t.params_key for t in trials}) == trials_wanted  # nothing ran twice
        assert store.count_trials(run_id, segment="holdout") == 1
        assert store.get_run(run_id).status == "finished"

    again = subprocess.run(_cli(*_optimize_args(store_path, "--resume", run_id),
                                home=tmp_path), env=_env(tmp_path), capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert (f"run {run_id} is already finished ({trials_wanted} trials); nothing was run"
            in again.stdout)
    with RunStore.open(store_path) as store:
        assert store.count_trials(run_id) == trials_wanted + 1  # no second holdout
        assert store.run_holder(run_id) is None


@pytest.mark.skipif(not LINUX, reason="reads sessions from /proc")
def test_kill_9_of_the_gui_leaves_no_process_behind(tmp_path: Path, started) -> None:
    """The workbench running its demo optimisation (2 workers), killed with -9 mid-run."""
    store = tmp_path / "runs.db"
    env = {**_env(tmp_path), "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tvdesk", "gui", "--demo", "--quit-after-run", "--store",
         str(store)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    started.append(process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        # The event to act on: two workers running, and a trial already in the store.
        if _done_trials(store):  # a trial is done: the workers are up, the run goes on
            break
        time.sleep(0.05)
    assert process.poll() is None, "the demo run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    left = _session_processes(process.pid)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _session_processes(process.pid)
    assert left == [], f"left behind after kill -9 of the GUI: {left}"


def test_market_data_deleted_mid_run_stops_it_and_resume_finishes_it(tmp_path: Path,
                                                                      started) -> None:
    """The data file vanishes under a running optimisation: the run stops at once (exit 1)
    saying so, instead of failing every later trial; once it is back, resume completes it."""
    data = tmp_path / "EURUSD_1h.csv"
    shutil.copy(DATA, data)
    store = tmp_path / "runs.db"
    args = ["optimize", "--script", str(SCRIPT), "--data", str(data), "--symbol", "FX:EURUSD",
            "--mintick", "0.00001", "--pointvalue", "1", "--store", str(store),
            "--max-iterations", "12"]
    process = subprocess.Popen(_cli(*args, home=tmp_path), env=_env(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    started.append(process)
    _wait_for_line(process, "worker 1: trial")
    data.unlink()
    assert process.stdout is not None
    rest = process.stdout.read()
    assert process.wait(timeout=120) == 1, rest
    assert f"{data}: the market data file was deleted or moved while the run was going on" \
        in rest
    assert "Traceback" not in rest
    with RunStore.open(store) as runs:
        run_id = runs.latest_run_id()
        assert run_id is not None
        assert runs.count_trials(run_id, status="error") == 0  # no trial blamed for it
        kept = runs.count_trials(run_id, status="done")
        assert 1 <= kept < 12
    shutil.copy(DATA, data)
    resumed = subprocess.run(_cli("optimize", "--resume", run_id, "--store", str(store),
                                  home=tmp_path), env=_env(tmp_path), capture_output=True,
                             text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    with RunStore.open(store) as runs:
        assert runs.count_trials(run_id, status="done", segment="in_sample") == 12


MTF_SCRIPT = """//@version=6
strategy("daily trend", overlay=true)
len = input.int(5, "Length", minval=2, maxval=400)
d = request.security(syminfo.tickerid, "D", ta.sma(close, len))
if ta.crossover(close, d)
    strategy.entry("L", strategy.long)
if ta.crossunder(close, d)
    strategy.close("L")
"""


@pytest.mark.skipif(not LINUX, reason="reads sessions from /proc")
def test_kill_9_during_request_security_trials_leaves_no_process_behind(
        tmp_path: Path, started) -> None:
    """Each worker starts its own forkserver for request.security's child processes; they
    and the children must end with the run too."""
    script = tmp_path / "daily.pine"
    script.write_text(MTF_SCRIPT)
    args = ["optimize", "--script", str(script), "--data", str(DATA), "--symbol", "FX:EURUSD",
            "--mintick", "0.00001", "--store", str(tmp_path / "runs.db"),
            "--max-iterations", "5000", "--process-count", "2"]
    process = subprocess.Popen(_cli(*args, home=tmp_path), env=_env(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    started.append(process)
    _wait_for_line(process, "worker 2: trial")
    before = _session_processes(process.pid)
    # The CLI, the pool's forkserver and two workers, plus each worker's own forkserver.
    assert sum("forkserver" in line for line in before) >= 3, before
    assert _kill_9_leaves_nothing(process) == []
