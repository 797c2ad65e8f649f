"""Search space from declared inputs, targets as constraints, and the Optuna ask/tell wrapper."""

from __future__ import annotations

from pathlib import Path

import pytest

from tvdesk.errors import InputError
from tvdesk.optimize.param_search import ParamSearch
from tvdesk.optimize.settings import parse_conditions
from tvdesk.optimize.space import build_space
from tvdesk.optimize.targets import Constraint, Targets, parse_constraint
from tvdesk.pine.loader import load_strategy, load_strategy_source

ROOT = Path(__file__).resolve().parents[2]

PINE = """//@version=6
strategy("space")
condition = input.int(1, "Condition", minval=1, maxval=3)
fast = input.int(10, "Fast", minval=2, maxval=20, step=2)
mult = input.float(2.0, "Mult", minval=1.0, maxval=2.0, step=0.25)
free = input.int(8, "Free")
mode = input.string("A", "Mode", options=["A", "B"])
flag = input.bool(false, "Flag")
src = input.source(close, "Source")
if close > 0 and fast > 0 and mult > 0 and free > 0 and flag and mode == "A" and src > 0
    strategy.entry("L", strategy.long)
"""


def test_space_follows_declarations_and_skips_condition_and_sources() -> None:
    space = build_space(load_strategy_source(PINE))
    by_title = {d.title: d for d in space.dimensions}
    assert set(by_title) == {"Fast", "Mult", "Free", "Mode", "Flag"}
    assert by_title["Fast"].grid() == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert by_title["Mult"].grid() == [1.0, 1.25, 1.5, 1.75, 2.0]
    assert by_title["Mode"].choices == ("A", "B")
    assert by_title["Flag"].choices == (False, True)
    # No declared bounds: half to double of the default, marked as derived.
    assert (by_title["Free"].low, by_title["Free"].high, by_title["Free"].derived) == \
        (4.0, 16.0, True)
    assert space.size() == 10 * 5 * 13 * 2 * 2


def test_overrides_and_exclusions_by_title() -> None:
    strategy = load_strategy_source(PINE)
    space = build_space(strategy, overrides={"Fast": {"min": 4, "max": 8}, "Mode":
                                             {"exclude": True}}, exclude=("Flag",))
    by_title = {d.title: d for d in space.dimensions}
    assert by_title["Fast"].grid() == [4, 6, 8]
    assert "Mode" not in by_title and "Flag" not in by_title
    with pytest.raises(InputError, match="unknown input 'Slow' in the search ranges"):
        build_space(strategy, overrides={"Slow": {"min": 1}})


def test_targets_constraints_and_potential() -> None:
    targets = Targets(constraints=(parse_constraint("min_trades=30"),
                                   parse_constraint("max_drawdown_percent<=10")),
                      potential=(Constraint("net_profit_percent", ">=", 0),))
    good = {"total_trades": 40, "max_drawdown_percent": 8.0, "net_profit_percent": 5.0}
    bad = {"total_trades": 12, "max_drawdown_percent": 15.0, "net_profit_percent": 1.0}
    assert targets.met(good) and targets.failures(good) == []
    assert targets.failures(bad) == ["total_trades >= 30", "max_drawdown_percent <= 10"]
    assert targets.violations(bad) == [18.0, 5.0]
    assert targets.is_potential(bad)
    assert Targets.from_dict(targets.to_dict()) == targets
    with pytest.raises(InputError, match="expected 'metric>=number'"):
        parse_constraint("profit>>1")


def test_conditions_lists() -> None:
    assert parse_conditions("1-3,7") == ("1", "2", "3", "7")
    assert parse_conditions("1,3,5") == ("1", "3", "5")
    assert parse_conditions("2,1-3") == ("2", "1", "3")
    with pytest.raises(InputError, match="condition list"):
        parse_conditions("a-b")


def test_param_search_enqueues_defaults_first_and_learns_from_past_trials() -> None:
    strategy = load_strategy(ROOT / "pine" / "examples" / "sma_cross.pine")
    space = build_space(strategy)
    search = ParamSearch(space, Targets(), seed=7)
    search.enqueue({s.title: s.default for s in strategy.inputs})
    first = search.ask()
    assert first.inputs == {"Fast Length": 10, "Slow Length": 30, "Allow Shorts": False}
    search.tell(first, {"net_profit_percent": 2.0})
    search.add_done({"Fast Length": 12, "Slow Length": 40, "Allow Shorts": True},
                    {"net_profit_percent": 5.0})
    assert len(search.study.trials) == 2
    assert search.study.best_trial.params["Fast Length"] == 12
    # Inputs from another space (out of range) are not taught: they are not comparable.
    search.add_done({"Fast Length": 500, "Slow Length": 40, "Allow Shorts": True},
                    {"net_profit_percent": 9.0})
    assert len(search.study.trials) == 2


def test_seeded_searches_propose_the_same_sequence() -> None:
    strategy = load_strategy(ROOT / "pine" / "examples" / "sma_cross.pine")

    def sequence() -> list[dict]:
        search = ParamSearch(build_space(strategy), Targets(), seed=3)
        out = []
        for i in range(12):
            proposal = search.ask()
            out.append(proposal.inputs)
            search.tell(proposal, {"net_profit_percent": float(i % 5)})
        return out

    assert sequence() == sequence()
