"""The optimisation loop on the real local engine and a real SQLite store."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tvdesk.app.optimize import run_optimization
from tvdesk.engines.local import LocalEngine
from tvdesk.events import EventStream
from tvdesk.model import BacktestRequest, SymbolSpec
from tvdesk.optimize.settings import OptimizeSettings
from tvdesk.optimize.targets import Targets, parse_constraint
from tvdesk.pine.loader import load_strategy, load_strategy_source
from tvdesk.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"
SYMBOL = SymbolSpec(ticker="FX:EURUSD", mintick=0.00001, pointvalue=1.0)


def settings_for(script: Path | str, **overrides) -> OptimizeSettings:
    strategy = load_strategy(script) if isinstance(script, Path) else load_strategy_source(script)
    request = BacktestRequest(strategy=strategy, data_path=str(EURUSD), symbol=SYMBOL)
    return replace(OptimizeSettings(request=request, seed=1), **overrides)


def optimize(settings: OptimizeSettings, store: RunStore, **kwargs):
    async def main():
        async with LocalEngine(processes=settings.process_count) as engine:
            return await run_optimization(settings, store, engine=engine, **kwargs)
    return asyncio.run(main())


def test_parameter_search_strictly_improves_on_the_template_defaults(tmp_path: Path) -> None:
    settings = settings_for(ROOT / "pine" / "examples" / "sma_cross.pine", max_iterations=25,
                            holdout=0.2)
    with RunStore.open(tmp_path / "runs.db") as store:
        outcome = optimize(settings, store)
        trials = store.trials(outcome.run_id, segment="in_sample")
        first = trials[0]
        assert first.inputs == {"Fast Length": 10, "Slow Length": 30, "Allow Shorts": False}
        best = outcome.tracks[None].best
        assert best is not None
        assert best.metrics["net_profit_percent"] > first.metrics["net_profit_percent"]
        assert len(trials) == 25 and all(t.status == "done" for t in trials)
        # The holdout was evaluated once, for the best trial, on the last 20 % of the bars.
        [holdout] = store.trials(outcome.run_id, segment="holdout")
        assert holdout.inputs == best.inputs
        result = store.trial_result(best.id)
        assert result is not None
        assert max(t.entry_time for t in result.trades).isoformat() < "2018"
        holdout_result = store.trial_result(holdout.id)
        assert min(t.entry_time for t in holdout_result.trades) >= \
            max(t.entry_time for t in result.trades)
        assert store.get_run(outcome.run_id).status == "finished"
        # Every trial's daily returns are kept for the overfitting statistics.
        assert len(store.daily_returns(outcome.run_id, segment="in_sample")) == 25


def test_with_stop_on_target_targets_stop_the_track_and_name_the_trial(tmp_path: Path) -> None:
    # Without stop_on_target the track spends its whole budget: test_targets_budget.py.
    targets = Targets(constraints=(parse_constraint("min_trades=5"),))
    settings = settings_for(ROOT / "pine" / "examples" / "sma_cross.pine", max_iterations=50,
                            targets=targets, holdout=0, stop_on_target=True)
    with RunStore.open(tmp_path / "runs.db") as store:
        outcome = optimize(settings, store)
        track = outcome.tracks[None]
        assert track.met_by == store.trials(outcome.run_id)[0].id
        assert track.stop_reason == f"targets met by trial {track.met_by}"
        assert store.count_trials(outcome.run_id) == 1
        assert track.targets_met == 1


FAILS_AT_RUNTIME = """//@version=6
strategy("boom")
n = input.int(5, "N", minval=1, maxval=50)
a = array.new_float(0)
if bar_index == n
    x = array.get(a, 3)
"""


def test_consecutive_errors_stop_the_track_at_the_limit(tmp_path: Path) -> None:
    settings = settings_for(FAILS_AT_RUNTIME, max_iterations=40, max_consecutive_errors=4,
                            holdout=0)
    with RunStore.open(tmp_path / "runs.db") as store:
        outcome = optimize(settings, store)
        track = outcome.tracks[None]
        assert track.stop_reason.startswith("4 consecutive errors (max 4)")
        errors = store.trials(outcome.run_id, status="error")
        assert len(errors) == 4
        assert "the script failed while running" in errors[0].error


def test_each_condition_is_its_own_track(tmp_path: Path) -> None:
    settings = settings_for(ROOT / "pine" / "examples" / "multi_condition.pine",
                            conditions=("1", "3"), max_iterations=4, holdout=0,
                            process_count=2)
    with RunStore.open(tmp_path / "runs.db") as store:
        outcome = optimize(settings, store)
        assert set(outcome.tracks) == {"1", "3"}
        for condition in ("1", "3"):
            trials = store.trials(outcome.run_id, condition=condition)
            assert len(trials) == 4
            assert {t.inputs["Condition"] for t in trials} == {condition}
            assert {t.worker for t in trials} <= {1, 2}


def test_cancel_keeps_finished_trials_and_leaves_none_running(tmp_path: Path) -> None:
    settings = settings_for(ROOT / "pine" / "examples" / "sma_cross.pine",
                            max_iterations=500, holdout=0)
    events = EventStream()
    queue = events.subscribe()
    with RunStore.open(tmp_path / "runs.db") as store:
        async def main() -> None:
            async with LocalEngine(processes=1) as engine:
                task = asyncio.ensure_future(
                    run_optimization(settings, store, engine=engine, events=events))
                finished = 0
                while finished < 3:
                    event = await queue.get()
                    if event is not None and event.kind == "trial_finished":
                        finished += 1
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task

        asyncio.run(main())
        run_id = store.latest_run_id()
        assert store.get_run(run_id).status == "stopped"
        assert store.unfinished_trials(run_id) == []
        assert store.count_trials(run_id, status="done") >= 3
        assert events.history[-1].kind == "stopped"


def test_kill_dash_nine_and_resume_loses_nothing_and_runs_nothing_twice(
        tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    cmd = [sys.executable, "-m", "tvdesk", "optimize", "--script",
           str(ROOT / "pine" / "examples" / "sma_cross.pine"), "--data", str(EURUSD),
           "--mintick", "0.00001", "--store", str(db), "--max-iterations", "30",
           "--holdout", "0%", "--seed", "5"]
    env = {**os.environ}
    log = (tmp_path / "first.log").open("w")
    child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                             start_new_session=True)
    deadline = time.monotonic() + 240
    done_before: list = []
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if db.exists():
            with RunStore.open(db) as store:
                run_id = store.latest_run_id()
                if run_id and store.count_trials(run_id, status="done") >= 6:
                    break
    os.killpg(child.pid, signal.SIGKILL)  # the CLI and its worker processes, at once
    child.wait(timeout=30)
    log.close()
    with RunStore.open(db) as store:
        run_id = store.latest_run_id()
        done_before = store.trials(run_id, status="done")
        assert 6 <= len(done_before) < 30, "killed mid-run"
    resumed = subprocess.run([sys.executable, "-m", "tvdesk", "optimize", "--resume", "latest",
                              "--store", str(db)], capture_output=True, text=True, cwd=ROOT,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming run {run_id}" in resumed.stdout
    with RunStore.open(db) as store:
        done = store.trials(run_id, status="done")
        assert len(done) == 30
        assert store.unfinished_trials(run_id) == []
        # Nothing finished was lost or changed, and no parameter set ran twice.
        by_id = {t.id: t for t in done}
        for before in done_before:
            assert by_id[before.id].metrics == before.metrics
        assert len({t.params_key for t in done}) == 30
        assert store.get_run(run_id).status == "finished"
