"""The Runs view's data (tvdesk.viewmodels.progress) and the shared input formatter: no Qt.

What a trader saw in the Runs tab, each pinned here without a window: the "run best" line
below starred points, lines running back in x across conditions, float noise and raw dicts
in the log, and a progress total that shrank as tracks stopped early.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tvdesk.events import Event
from tvdesk.viewmodels.formatting import (
    format_input,
    format_inputs,
    format_number,
    input_steps,
    step_decimals,
)
from tvdesk.viewmodels.progress import (
    RunMonitor,
    RunProgress,
    describe_event,
    describe_robustness,
    planned_total,
)

NET = "net_profit_percent"


def finished(worker: int, trial_id: int, iteration: int, net: float, condition: str | None,
             *, targets_met: bool = False) -> Event:
    return Event("trial_finished", "r", worker=worker, condition=condition, trial_id=trial_id,
                 at=1_700_000_000.0 + trial_id,
                 payload={"iteration": iteration, NET: net, "max_drawdown_percent": 1.0,
                          "total_trades": 10, "targets_met": targets_met})


def best(worker: int, trial_id: int, score: float, condition: str | None) -> Event:
    return Event("new_best", "r", worker=worker, condition=condition, trial_id=trial_id,
                 payload={"score": score})


# --------------------------------------------------------------------------- formatting


def test_input_values_lose_their_float_noise() -> None:
    assert format_number(1.2000000000000002) == "1.2"
    assert format_number(2.9000000000000004, 0.1) == "2.9"
    assert format_number(0.30000000000000004, 0.05) == "0.3"
    assert format_number(2.75, 0.25) == "2.75" and format_number(5.0, 1) == "5"
    # Off the step's decimals (a range starting at 0.55, step 0.1): not misstated as 0.7.
    assert format_number(0.65, 0.1) == "0.65"
    assert format_number(1 / 3) == "0.3333333333"  # 10 significant digits, no more
    assert format_input(True) == "On" and format_input("EMA") == "EMA"
    assert step_decimals(0.25) == 2 and step_decimals(1e-05) == 5 and step_decimals(0) is None
    assert format_inputs({"Band Multiplier": 1.2000000000000002, "Length": 28}) == \
        "Band Multiplier=1.2, Length=28"


def test_input_steps_come_from_the_script_and_the_run_s_ranges() -> None:
    settings = {"request": {"strategy": {"inputs": [
        {"title": "Length", "name": "length", "step": 1},
        {"title": "Band Multiplier", "name": "mult", "step": 0.1},
        {"title": "Condition", "name": "condition", "step": None}]}},
        "search_ranges": {"Band Multiplier": {"step": 0.25}}}
    assert input_steps(settings) == {"Length": 1.0, "Band Multiplier": 0.25}
    assert input_steps({}) == {}


# --------------------------------------------------------------------------- progress


def test_the_planned_total_never_shrinks_and_the_bar_only_moves_forward() -> None:
    """3 conditions × 30 iterations: the total stays 90 while tracks stop early (the trader
    saw 15/90 -> 27/65 -> 34/34); their unused budget counts as skipped."""
    assert planned_total({"max_iterations": 30, "conditions": ["1", "2", "3"]}) == 90
    assert planned_total({"max_iterations": 30}) == 30 and planned_total({}) is None
    monitor = RunMonitor("r", max_iterations=30, conditions=("1", "2", "3"),
                         total=planned_total({"max_iterations": 30,
                                              "conditions": ["1", "2", "3"]}))
    shown = []
    trial_id = 0
    for condition, stop_at in (("1", 12), ("2", 30), ("3", 7)):
        for iteration in range(1, stop_at + 1):
            trial_id += 1
            monitor.handle(finished(1, trial_id, iteration, 1.0, condition))
            shown.append(monitor.progress.completed())
        monitor.handle(Event("track_finished", "r", condition=condition,
                             payload={"iterations": stop_at, "reason": "targets met"}))
        shown.append(monitor.progress.completed())
        assert monitor.progress.total == 90
    assert shown == sorted(shown)  # never back
    assert monitor.progress.done == 49 and monitor.progress.skipped == 18 + 23
    assert monitor.progress.completed() == 90
    assert monitor.progress.text(1_700_000_100.0).startswith(
        "49 / 90 trials · 41 skipped (tracks stopped early)")
    # A track reported again (a resumed run finishes it once more) is not skipped twice.
    monitor.progress.track_finished(7, 30, "3")
    assert monitor.progress.skipped == 41


def test_eta_counts_the_skipped_budget_as_done() -> None:
    progress = RunProgress(total=100)
    progress.started(1000.0)
    for k in range(30):
        progress.record(1000.0 + 2 * (k + 1))
    progress.track_finished(40, 100)
    assert progress.total == 100 and progress.completed() == 90
    assert progress.eta_seconds(1060.0) == pytest.approx(10 / 30 * 60)


# --------------------------------------------------------------------------- run best


def test_the_run_best_line_is_the_highest_star_across_tracks() -> None:
    """Track 3's first best (lower than track 1's) used to pull the line below track 1's
    stars. The line is the highest starred net profit; the chosen trial is picked across
    tracks like the optimiser does."""
    monitor = RunMonitor("r", max_iterations=10, conditions=("1", "3"))
    monitor.handle(finished(1, 1, 1, 2.0, "1"))
    monitor.handle(best(1, 1, 2.0, "1"))
    monitor.handle(finished(2, 2, 2, 6.0, "1"))
    monitor.handle(best(2, 2, 6.0, "1"))
    monitor.handle(finished(1, 3, 1, 0.5, "3"))
    monitor.handle(best(1, 3, 0.5, "3"))
    stars = [y for s in monitor.workers.values() for y in s.best_y]
    assert sorted(stars) == [0.5, 2.0, 6.0]
    assert monitor.best_net_profit == max(stars) == 6.0 and monitor.best_net_trial == 2
    assert monitor.best_trial == 2  # the best score of any track, not the latest event
    # Meeting the targets beats a higher score (the optimiser's and the Surface's rule).
    monitor.handle(finished(2, 4, 2, 1.0, "3", targets_met=True))
    monitor.handle(best(2, 4, 1.0, "3"))
    assert monitor.best_trial == 4 and monitor.best_net_profit == 6.0


# --------------------------------------------------------------------------- one line per track


def _segments(x: np.ndarray, y: np.ndarray) -> list[list[float]]:
    """The stretches of line a chart draws: runs of points with finite y."""
    out: list[list[float]] = [[]]
    for xv, yv in zip(x, y, strict=True):
        if math.isfinite(yv):
            out[-1].append(float(xv))
        elif out[-1]:
            out.append([])
    return [s for s in out if s]


@pytest.mark.parametrize("conditions", [("1", "3"), ()])
def test_each_condition_is_its_own_stretch_of_line(conditions: tuple[str, ...]) -> None:
    """Whether or not the settings list the conditions, a worker's line never runs back in
    x and breaks between two conditions."""
    monitor = RunMonitor("r", max_iterations=5, conditions=conditions)
    trial_id = 0
    for condition in ("1", "3"):
        for iteration in range(1, 6):
            trial_id += 1
            monitor.handle(finished(1, trial_id, iteration, float(iteration), condition))
    series = monitor.workers[1]
    segments = _segments(series.x.view(), series.net_profit.view())
    assert segments == [[1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]]
    assert series.finished == 10
    assert (np.diff(series.x.view()) >= 0).all()  # x in order: clip-to-view stays right


def test_a_point_back_in_x_starts_a_new_stretch() -> None:
    """Without a budget the tracks cannot be laid side by side: the second starts a new
    stretch instead of a line drawn backwards."""
    monitor = RunMonitor("r")
    for trial_id, (iteration, condition) in enumerate([(1, "1"), (2, "1"), (1, "3"),
                                                       (2, "3")], start=1):
        monitor.handle(finished(1, trial_id, iteration, 1.0, condition))
    series = monitor.workers[1]
    for segment in _segments(series.x.view(), series.net_profit.view()):
        assert segment == sorted(segment)
    assert len(_segments(series.x.view(), series.net_profit.view())) == 2


# --------------------------------------------------------------------------- the log


def test_log_lines_are_readable() -> None:
    started = Event("trial_started", "r", worker=2, trial_id=32, at=1_700_000_000.0,
                    payload={"inputs": {"Length": 21, "Band Multiplier": 1.2000000000000002,
                                        "Allow Shorts": True}})
    line = describe_event(started, {"Band Multiplier": 0.1})
    assert line.endswith("started: Length=21, Band Multiplier=1.2, Allow Shorts=On")
    robustness = {"trials": 50, "pbo": 0.8958, "pbo_splits": 16,
                  "walk_forward_efficiency": -0.03587,
                  "importance: ATR Target": 0.348, "importance: Length": 0.158,
                  "tags": {"NORMAL": 18, "OVERFIT": 20}}
    judged = describe_event(Event("judged", "r", payload={"robustness": robustness}))
    assert "{" not in judged and "robustness=" not in judged
    assert "50 trials" in judged and "PBO 0.896 (16 splits)" in judged
    assert "tags NORMAL 18, OVERFIT 20" in judged
    assert "inputs that matter most: ATR Target 0.35, Length 0.16" in judged
    assert describe_robustness({}) == "no statistics"
    holdout = describe_event(Event("holdout", "r", condition="1", trial_id=51, payload={
        "of_trial": 25, NET: -0.316, "max_drawdown_percent": 0.316}))
    assert holdout.endswith("cond 1 #51 holdout of #25: net -0.32% dd 0.32%")
    stopped = describe_event(Event("stopped", "r", payload={
        "reason": "finished", "tracks": {"1": "targets met by trial 9"}}))
    assert stopped.endswith("stopped: finished (condition 1: targets met by trial 9)")


def test_cluster_notices_and_status_read_as_one_log_line() -> None:
    notice = Event("cluster", run_id="", payload={"message": "cluster workers are back: 2"})
    assert describe_event(notice).endswith("cluster workers are back: 2")
    status = Event("cluster", run_id="", payload={
        "status": "cluster tcp://10.0.0.5:8786: 2 workers (4 threads), 4 busy, 300 trials/min",
        "workers": 2, "busy": 4, "per_minute": 300.0})
    line = describe_event(status)
    assert line.endswith("4 busy, 300 trials/min") and "workers=2" not in line
