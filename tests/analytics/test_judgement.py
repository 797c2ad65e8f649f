"""Run-level judgement on trial ledgers built by hand in a real store."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np

from tvdesk.analytics.quality import QualityRules
from tvdesk.optimize.judging import judge_run
from tvdesk.store import RunStore

DAYS = [(date(2023, 1, 2) + timedelta(days=i)).isoformat() for i in range(400)]


def ledger(tmp_path: Path, returns: np.ndarray, *, source: str = "//@version=6\n") -> tuple:
    """One done trial per column of `returns` (days × trials), metric = total return %."""
    store = RunStore.open(tmp_path / "ledger.db")
    run_id = store.create_run(engine="local", strategy_title="T", settings={})
    source_hash = store.add_source(source, normalized_hash="n")
    ids = []
    for j in range(returns.shape[1]):
        trial_id = store.start_trial(run_id, worker=1, condition=None, iteration=j + 1,
                                     proposer="params", source_hash=source_hash,
                                     inputs={"Length": 10 + j})
        total = float(np.prod(1 + returns[:, j]) - 1) * 100
        store.finish_trial(trial_id, metrics={"net_profit_percent": total, "total_trades": 80,
                                              "max_drawdown_percent": 3.0},
                           daily_returns=(DAYS[: len(returns)], list(returns[:, j])))
        ids.append(trial_id)
    return store, run_id, ids


def test_a_search_whose_in_sample_winner_loses_out_of_sample_is_overfit(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n_days, n_trials = 320, 20
    returns = rng.normal(0, 0.002, size=(n_days, n_trials))
    # Trial 0 is great in the first half and terrible in the second: typical curve fit.
    returns[: n_days // 2, 0] += 0.004
    returns[n_days // 2:, 0] -= 0.003
    returns[:, 0] += 0.0008  # still the best in total, so it is the one selected
    store, run_id, ids = ledger(tmp_path, returns)
    with store:
        judgement = judge_run(store, run_id, rules=QualityRules(), objective="net_profit_percent")
        assert judgement.robustness["trials"] == n_trials
        assert judgement.robustness["pbo"] > 0.5
        best = judgement.verdicts[ids[0]]
        assert best.tag == "OVERFIT"
        assert any("probability of backtest overfitting" in r for r in best.reasons)
        assert store.trial(ids[0]).tag == "OVERFIT"
        assert all(store.trial(i).tag is not None for i in ids)


def test_a_consistent_edge_is_not_called_overfit(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    returns = rng.normal(0, 0.002, size=(320, 20))
    returns[:, 0] += 0.0015  # better in every period: skill, not selection luck
    store, run_id, ids = ledger(tmp_path, returns)
    with store:
        judgement = judge_run(store, run_id, rules=QualityRules(), objective="net_profit_percent",
                              targets_met={ids[0]: True})
        assert judgement.robustness["pbo"] < 0.2
        verdict = judgement.verdicts[ids[0]]
        assert verdict.tag != "OVERFIT"
        # Without a holdout the best cannot be GOOD, and the verdict says why.
        assert verdict.tag == "NORMAL" and "no out-of-sample evidence" in verdict.reasons


def test_deflation_uses_every_trial_the_search_made(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0002, 0.003, size=(300, 40))
    store, run_id, ids = ledger(tmp_path, returns)
    with store:
        few = judge_run(store, run_id, rules=QualityRules(), objective="net_profit_percent")
        # The same best trial, from a search of 40 trials, deflates more than from 5.
        small_store, small_run, small_ids = ledger(tmp_path / "small", returns[:, :5])
    with small_store:
        small = judge_run(small_store, small_run, rules=QualityRules(),
                          objective="net_profit_percent")
    assert few.robustness["trials"] == 40 and small.robustness["trials"] == 5
    best_col = int(np.argmax(np.prod(1 + returns[:, :5], axis=0)))
    deflated_many = few.evidence[ids[best_col]].dsr
    deflated_few = small.evidence[small_ids[best_col]].dsr
    assert deflated_many is not None and deflated_few is not None
    assert deflated_many < deflated_few
    # PSR (no deflation) is the same trial's and does not depend on the number of trials.
    assert few.evidence[ids[best_col]].psr == small.evidence[small_ids[best_col]].psr


def test_input_importance_ranks_the_input_that_drives_the_result_first() -> None:
    from datetime import datetime

    from tvdesk.analytics.judgement import input_importance
    from tvdesk.store import TrialRow

    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        length, noise = int(rng.integers(5, 50)), int(rng.integers(1, 9))
        rows.append(TrialRow(
            id=i, run_id="r", worker=1, condition=None, iteration=i, proposer="params",
            source_hash="s", inputs={"Length": length, "Noise": noise, "Flag": True},
            params_key=str(i), status="done", metrics={"net_profit_percent": length * 0.5
                                                         + rng.normal(0, 1)},
            tag=None, reasons=(), error=None, started_at=datetime(2024, 1, 1),
            finished_at=None, seconds=None, segment="in_sample", has_result=False))
    importance = input_importance(rows, "net_profit_percent", True)
    assert next(iter(importance)) == "importance: Length"
    assert importance["importance: Length"] > 0.9 > importance["importance: Noise"]
    assert "importance: Flag" not in importance  # never varied


def test_judging_a_ledger_reads_and_writes_no_store(tmp_path: Path) -> None:
    """The judgement itself is a pure function of the ledger; only the service stores tags."""
    from tvdesk.analytics.judgement import TrialLedger, judge_ledger

    rng = np.random.default_rng(4)
    returns = rng.normal(0, 0.002, size=(320, 12))
    returns[:, 0] += 0.0015
    store, run_id, ids = ledger(tmp_path, returns)
    with store:
        trials = store.trials(run_id)
        daily = store.daily_returns(run_id)
        source = {t.source_hash: store.get_source(t.source_hash) for t in trials}
    # The store is closed: judging the ledger must not need it.
    pure = TrialLedger(trials=trials, daily_returns=daily, holdouts=[], holdout_returns={},
                       sources=source, result_of=lambda _trial_id: None)
    judgement = judge_ledger(pure, rules=QualityRules(), objective="net_profit_percent")
    assert {trial_id for trial_id, _tag, _reasons in judgement.tags} == set(ids)
    assert judgement.robustness["trials"] == 12
    with RunStore.open(tmp_path / "ledger.db") as again:
        assert all(again.trial(i).tag is None for i in ids)  # nothing was written


def test_monte_carlo_of_a_watchlist_trial_reads_every_chart_and_keeps_the_worst(
        tmp_path: Path) -> None:
    """A watchlist trial's own result has no trades: its Monte Carlo drawdown is the worst
    chart's (a drawdown target holds on every chart), and RISK names it."""
    from datetime import datetime

    from tvdesk.analytics.judgement import TrialLedger, judge_ledger
    from tvdesk.model import BacktestResult, Trade

    rng = np.random.default_rng(9)
    returns = rng.normal(0, 0.002, size=(200, 3))
    store, run_id, _ids = ledger(tmp_path, returns)
    with store:
        trials = store.trials(run_id)
        daily = store.daily_returns(run_id)
        source = {t.source_hash: store.get_source(t.source_hash) for t in trials}

    def chart(profits: list[float]) -> BacktestResult:
        trades = tuple(Trade(number=i + 1, side="long", entry_time=datetime(2024, 1, 1),
                             entry_price=100.0, qty=1.0, exit_time=datetime(2024, 1, 2),
                             exit_price=100.0 + p, profit=p) for i, p in enumerate(profits))
        return BacktestResult(source="local", metrics={"initial_capital": 10_000.0},
                              trades=trades)

    calm = chart([10.0, -5.0] * 20)
    wild = chart([900.0, -800.0] * 20)
    pure = TrialLedger(trials=trials, daily_returns=daily, holdouts=[], holdout_returns={},
                       sources=source, result_of=lambda _trial_id: None,
                       charts_of=lambda _trial_id: [calm, wild])
    judgement = judge_ledger(pure, rules=QualityRules(max_drawdown_percent=20),
                             objective="net_profit_percent")
    finalists = [e for e in judgement.evidence.values() if e.mc_drawdown_percent is not None]
    assert finalists
    only_calm = TrialLedger(trials=trials, daily_returns=daily, holdouts=[], holdout_returns={},
                            sources=source, result_of=lambda _trial_id: None,
                            charts_of=lambda _trial_id: [calm])
    calm_judgement = judge_ledger(only_calm, rules=QualityRules(max_drawdown_percent=20),
                                  objective="net_profit_percent")
    for trial_id, evidence in judgement.evidence.items():
        if evidence.mc_drawdown_percent is None:
            continue
        calm_mc = calm_judgement.evidence[trial_id].mc_drawdown_percent
        assert calm_mc is not None and evidence.mc_drawdown_percent > 20 > calm_mc
        assert any("Monte Carlo" in r for r in judgement.verdicts[trial_id].reasons)
