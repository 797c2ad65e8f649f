"""Trials side by side as data (tvdesk.viewmodels.compare): no Qt anywhere."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tvdesk.store import TrialRow
from tvdesk.viewmodels.compare import (
    PALETTE,
    compare_trials,
    direction,
    input_rows,
    metric_keys,
)
from tvdesk.viewmodels.trial_details import EquityPlot

NET = "net_profit_percent"
DD = "max_drawdown_percent"


def _row(trial_id: int, **changes) -> TrialRow:
    fields = dict(id=trial_id, run_id="r", worker=1, condition=None, iteration=trial_id,
                  proposer="params", source_hash="a" * 32,
                  inputs={"Length": 10, "Factor": 1.5, "Shorts": True},
                  params_key=str(trial_id), status="done",
                  metrics={NET: 5.0, DD: 3.0, "total_trades": 40, "net_profit_long": 1.0},
                  tag="GOOD", reasons=(), error=None,
                  started_at=datetime(2024, 1, 1, tzinfo=UTC), finished_at=None, seconds=None,
                  segment="in_sample", has_result=True)
    fields.update(changes)
    return TrialRow(**fields)


def _curve(end: float) -> EquityPlot:
    return EquityPlot((0.0, 1.0), (10_000.0, end), (0.0, 0.0), 10_000.0, "daily")


def test_directions_follow_the_objective_and_the_metric() -> None:
    assert direction(NET) == 1 and direction(DD) == -1
    assert direction("largest_losing_trade") == -1  # a loss kept as a positive magnitude
    assert direction("total_trades") == 0  # neither better high nor low
    assert direction(DD, objective=DD, maximize=True) == 1  # the run's own word wins
    assert direction(NET, objective=NET, maximize=False) == -1


def test_metric_rows_differences_and_verdicts() -> None:
    first = _row(1)
    better = _row(2, metrics={NET: 7.5, DD: 2.0, "total_trades": 50})
    worse = _row(3, metrics={NET: 1.25, DD: 6.0, "total_trades": 40})
    c = compare_trials([first, better, worse], {1: _curve(10_500), 2: _curve(10_750),
                                                3: None})
    assert c.metric_headers() == ("Metric", "Trial 1", "Trial 2", "Trial 3", "Δ 2 vs 1",
                                  "Δ 3 vs 1")
    rows = {row.key: row for row in c.metrics}
    assert list(rows)[:3] == [NET, DD, "total_trades"]  # the objective, then key metrics
    assert "net_profit_long" not in rows  # no long/short splits
    net = rows[NET]
    assert net.values == ("5.00 %", "7.50 %", "1.25 %")
    assert net.diffs == ("+2.50 pp", "-3.75 pp") and net.verdicts == (1, -1)
    drawdown = rows[DD]
    assert drawdown.diffs == ("-1.00 pp", "+3.00 pp") and drawdown.verdicts == (1, -1)
    trades = rows["total_trades"]
    assert trades.diffs == ("+10", "=") and trades.verdicts == (0, 0)
    # The table as rows of text: label, one value per trial, one difference per other.
    assert c.metric_table()[0] == ("Net profit %", "5.00 %", "7.50 %", "1.25 %", "+2.50 pp",
                                   "-3.75 pp")
    # A trial without a curve says why; colours follow the palette.
    assert [t.colour for t in c.trials] == list(PALETTE[:3])
    assert [t.id for t in c.without_curve] == [3] and "no result" in c.trials[2].note
    assert c.trials[0].note == ""


def test_minimised_objective_turns_the_verdict_round() -> None:
    c = compare_trials([_row(1), _row(2, metrics={NET: 9.0})], {}, objective=NET,
                       maximize=False)
    assert c.metrics[0].key == NET and c.metrics[0].verdicts == (-1,)


def test_only_differing_inputs_unless_all_are_asked_for() -> None:
    a = _row(1, inputs={"Length": 10, "Factor": 1.2000000000000002, "Shorts": True})
    b = _row(2, inputs={"Length": 12, "Factor": 1.2, "Shorts": True, "New": 3})
    rows = input_rows([a, b])
    assert [(r.name, r.values, r.differs) for r in rows] == [
        ("Length", ("10", "12"), True),
        ("Factor", ("1.2", "1.2"), False),  # the same value, float noise aside
        ("Shorts", ("On", "On"), False),
        ("New", ("—", "3"), True),  # one trial lacks it
    ]
    c = compare_trials([a, b], {})
    assert [r.name for r in c.shown_inputs()] == ["Length", "New"]
    assert [r.name for r in c.shown_inputs(show_all=True)] == ["Length", "Factor", "Shorts",
                                                               "New"]
    assert c.input_headers() == ("Input", "Trial 1", "Trial 2")
    # Steps read values to their decimals.
    assert input_rows([_row(1, inputs={"S": 0.30000000000000004})], {"S": 0.1})[0].values \
        == ("0.3",)


def test_notes_name_different_conditions_segments_and_unknown_ids() -> None:
    a = _row(1, condition="1")
    b = _row(2, condition="3", segment="holdout", tag=None)
    c = compare_trials([a, b], {}, unknown=[99])
    assert [t.caption for t in c.trials] == ["condition 1 · in-sample · GOOD",
                                              "condition 3 · holdout · untagged"]
    text = "\n".join(c.notes)
    assert "Different conditions (1: 1, 2: 3)" in text
    assert "Different segments (1: in-sample, 2: holdout)" in text
    assert "trial 99" in text
    same = compare_trials([a, replace(a, id=2)], {})
    assert same.notes == ()


def test_metric_keys_skip_text_and_splits() -> None:
    trial = _row(1, metrics={"sortino_ratio": 1.0, NET: 2.0, "note": "text",
                             "gross_loss_short_percent": 1.0})
    assert metric_keys([trial], objective="sortino_ratio") == ["sortino_ratio", NET]
