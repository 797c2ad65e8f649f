"""Targets filter and steer; they stop a track only with `stop_on_target` (or an old run)."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from tvdesk.app.optimize import run_optimization
from tvdesk.cli_optimize import format_outcome
from tvdesk.engines.local import LocalEngine
from tvdesk.events import EventStream
from tvdesk.model import BacktestRequest, SymbolSpec
from tvdesk.optimize.settings import OptimizeSettings, stored_settings
from tvdesk.optimize.targets import Targets, parse_constraint
from tvdesk.pine.loader import load_strategy
from tvdesk.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
SMA = ROOT / "pine" / "examples" / "sma_cross.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"


def settings_for(script: Path, **overrides) -> OptimizeSettings:
    request = BacktestRequest(strategy=load_strategy(script), data_path=str(EURUSD),
                              symbol=SymbolSpec(ticker="FX:EURUSD", mintick=0.00001,
                                                pointvalue=1.0))
    return replace(OptimizeSettings(request=request, seed=1), **overrides)


def optimize(settings: OptimizeSettings, store: RunStore):
    async def main():
        async with LocalEngine(processes=settings.process_count) as engine:
            return await run_optimization(settings, store, engine=engine)
    return asyncio.run(main())

MIN_TRADES_5 = Targets(constraints=(parse_constraint("min_trades=5"),))


def test_targets_met_early_the_track_spends_its_whole_budget(tmp_path: Path) -> None:
    # The script's own inputs already meet min_trades=5: trial 1 meets the targets.
    settings = settings_for(SMA, max_iterations=8, targets=MIN_TRADES_5, holdout=0)
    assert settings.stop_on_target is False  # the default
    with RunStore.open(tmp_path / "runs.db") as store:
        outcome = optimize(settings, store)
        track = outcome.tracks[None]
        trials = store.trials(outcome.run_id, segment="in_sample")
        assert len(trials) == 8
        assert track.stop_reason == "max iterations (8) reached"
        assert track.met_by == trials[0].id
        met = [t for t in trials if t.status == "done" and MIN_TRADES_5.met(t.metrics)]
        assert track.targets_met == len(met) >= 1
        [finished] = store.events(outcome.run_id, kind="track_finished")
        assert finished.payload["targets_met"] == len(met)
        assert finished.payload["targets_met_by"] == trials[0].id
        text = format_outcome(outcome, store)
        assert (f"targets (total_trades >= 5): met by {len(met)} of 8 trials, first trial "
                f"{trials[0].id}") in text
        assert "stopped: max iterations (8) reached" in text


def test_the_best_is_the_best_by_the_objective_among_trials_meeting_the_targets(
        tmp_path: Path) -> None:
    targets = Targets(constraints=(parse_constraint("min_trades=30"),))
    settings = settings_for(SMA, max_iterations=12, targets=targets, holdout=0, seed=5)
    with RunStore.open(tmp_path / "runs.db") as store:
        outcome = optimize(settings, store)
        done = store.trials(outcome.run_id, status="done", segment="in_sample")
        feasible = [t for t in done if targets.met(t.metrics)]
        infeasible = [t for t in done if not targets.met(t.metrics)]
        best = outcome.tracks[None].best
        assert best is not None and feasible
        assert best.id == max(feasible, key=lambda t: t.metrics["net_profit_percent"]).id
        # The filter mattered: a trial missing the targets earned more and is not the best.
        assert any(t.metrics["net_profit_percent"] > best.metrics["net_profit_percent"]
                   for t in infeasible)
        assert outcome.tracks[None].stop_reason == "max iterations (12) reached"


def test_settings_round_trip_and_an_old_run_keeps_stopping_on_target() -> None:
    settings = settings_for(SMA, targets=MIN_TRADES_5)
    data = settings.to_dict()
    assert data["stop_on_target"] is False
    assert OptimizeSettings.from_dict(data).stop_on_target is False
    assert OptimizeSettings.from_dict({**data, "stop_on_target": True}).stop_on_target is True
    old = {k: v for k, v in data.items() if k != "stop_on_target"}
    assert OptimizeSettings.from_dict(old).stop_on_target is True


def _stop_after(settings: OptimizeSettings, store: RunStore, trials: int) -> str:
    """Start a run and cancel it once `trials` trials finished; its id."""
    events = EventStream()
    queue = events.subscribe()

    async def main() -> None:
        async with LocalEngine(processes=1) as engine:
            task = asyncio.ensure_future(
                run_optimization(settings, store, engine=engine, events=events))
            finished = 0
            while finished < trials:
                event = await queue.get()
                if event is not None and event.kind == "trial_finished":
                    finished += 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    run_id = store.latest_run_id()
    assert run_id is not None and store.get_run(run_id).status == "stopped"
    return run_id


def _resume(store: RunStore, run_id: str):
    async def main():
        async with LocalEngine(processes=1) as engine:
            return await run_optimization(stored_settings(store, run_id), store,
                                          run_id=run_id, engine=engine)
    return asyncio.run(main())


@pytest.mark.parametrize("stored", ["absent", "false"])
def test_resume_follows_the_stored_choice(tmp_path: Path, stored: str) -> None:
    """A run stored before the setting existed resumes stopping on target (as it ran); a run
    stored with stop_on_target false resumes spending its budget."""
    db = tmp_path / "runs.db"
    settings = settings_for(SMA, max_iterations=6, targets=MIN_TRADES_5, holdout=0)
    with RunStore.open(db) as store:
        run_id = _stop_after(settings, store, trials=2)
        before = store.count_trials(run_id, status="done")
    if stored == "absent":
        with sqlite3.connect(db) as conn:
            [(text,)] = conn.execute("SELECT settings_json FROM runs WHERE id = ?", (run_id,))
            snapshot = json.loads(text)
            del snapshot["stop_on_target"]
            conn.execute("UPDATE runs SET settings_json = ? WHERE id = ?",
                         (json.dumps(snapshot), run_id))
    with RunStore.open(db) as store:
        assert stored_settings(store, run_id).stop_on_target is (stored == "absent")
        outcome = _resume(store, run_id)
        track = outcome.tracks[None]
        first = store.trials(run_id)[0].id
        assert track.met_by == first
        if stored == "absent":
            # The first trial met the targets before the stop: the track stays stopped.
            assert track.stop_reason == f"targets met by trial {first}"
            assert store.count_trials(run_id, status="done") == before
        else:
            assert track.stop_reason == "max iterations (6) reached"
            assert store.count_trials(run_id, status="done") == 6
        assert store.get_run(run_id).status == "finished"


def test_stop_on_target_from_the_flag_or_the_config(tmp_path: Path) -> None:
    from tvdesk.app.optimize_settings import RunForm, settings_from_form
    from tvdesk.app.requests import RunOptions
    from tvdesk.config import OptimizeDefaults, Settings, load_settings

    options = RunOptions(script=str(SMA), data=str(EURUSD), mintick=0.00001)
    assert settings_from_form(RunForm(options=options), Settings()).stop_on_target is False
    assert settings_from_form(RunForm(options=options, stop_on_target=True),
                              Settings()).stop_on_target is True
    config = tmp_path / "config.toml"
    config.write_text("[optimize]\nstop_on_target = true\n")
    loaded = load_settings(config)
    assert loaded.optimize == OptimizeDefaults(stop_on_target=True)
    assert settings_from_form(RunForm(options=options), loaded).stop_on_target is True
    assert replace(loaded.optimize, stop_on_target=False) == OptimizeDefaults()


def test_the_stop_on_target_flag_stops_at_the_first_trial_meeting_the_targets(
        tmp_path: Path) -> None:
    import subprocess
    import sys

    common = ["--script", str(SMA), "--data", str(EURUSD), "--mintick", "0.00001",
              "--max-iterations", "6", "--holdout", "0%", "--min-trades", "5"]
    stopping = subprocess.run(
        [sys.executable, "-m", "tvdesk", "optimize", *common, "--store",
         str(tmp_path / "stop.db"), "--stop-on-target"],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert stopping.returncode == 0, stopping.stderr
    assert "strategy: 1 trials; stopped: targets met by trial 1" in stopping.stdout
    assert "targets (total_trades >= 5): met by 1 of 1 trials, first trial 1" in stopping.stdout
    with RunStore.open(tmp_path / "stop.db") as store:
        run_id = store.latest_run_id()
        assert run_id is not None and stored_settings(store, run_id).stop_on_target is True
        assert store.count_trials(run_id) == 1
    spending = subprocess.run(
        [sys.executable, "-m", "tvdesk", "optimize", *common, "--store",
         str(tmp_path / "all.db")], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert spending.returncode == 0, spending.stderr
    assert "strategy: 6 trials; stopped: max iterations (6) reached" in spending.stdout
    assert re.search(r"targets \(total_trades >= 5\): met by [1-6] of 6 trials, first trial 1",
                     spending.stdout)
