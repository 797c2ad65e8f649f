"""Judge a whole run: evidence for every trial from the trial ledger, then one tag each.

The statistics that separate skill from search luck need all trials, not only the best: the
deflated Sharpe ratio needs the spread of Sharpe ratios over every trial the search made, and
the probability of backtest overfitting needs the trial-by-period return matrix. So tags are
computed here, after the search, from the daily returns the store keeps for every trial (a
`TrialLedger`: this module reads no store and writes none; `optimize.judging` does both).
Finalists (each track's best, and trials meeting the targets) also get the costlier evidence:
parameter-neighbourhood stability, Monte Carlo drawdown and their holdout result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tvdesk.analytics.overfitting import (
    deflated_sharpe_ratio,
    min_track_record_length,
    moments,
    pbo_cscv,
    probabilistic_sharpe_ratio,
    sharpe,
)
from tvdesk.analytics.quality import Evidence, QualityRules, Tag, Verdict, judge, uses_lookahead
from tvdesk.analytics.robustness import (
    monte_carlo_drawdown,
    parameter_stability,
    walk_forward,
)
from tvdesk.model import BacktestResult
from tvdesk.store.records import TrialRow

FINALISTS_PER_TRACK = 10
MONTE_CARLO_RUNS = 1000


@dataclass(frozen=True, slots=True)
class RunJudgement:
    robustness: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    evidence: dict[int, Evidence] = field(default_factory=dict)
    # (trial id, tag, reasons) to store: every judged trial and each holdout row
    tags: list[tuple[int, Tag, tuple[str, ...]]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for verdict in self.verdicts.values():
            out[verdict.tag] = out.get(verdict.tag, 0) + 1
        return out


def _frame(returns: Mapping[int, tuple[list[str], list[float]]]) -> pd.DataFrame:
    """Trials' daily returns on one calendar (a day a trial has no bar: no change)."""
    columns = {tid: pd.Series(vals, index=pd.to_datetime(days))
               for tid, (days, vals) in returns.items() if days}
    if not columns:
        return pd.DataFrame()
    return pd.DataFrame(columns).sort_index().fillna(0.0)


def _weekly(frame: pd.DataFrame) -> pd.DataFrame:
    return (1 + frame).resample("W").prod() - 1


def _score(row: TrialRow, objective: str, maximize: bool) -> float:
    value = row.metrics.get(objective)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return -math.inf
    return float(value) if maximize else -float(value)


def _finite(value: float) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class TrialLedger:
    """What a judgement reads of a run: its trials and their daily returns, in sample and on
    the holdout, the Pine texts of its versions, and a way to read one trial's full result
    (only the finalists' are read: Monte Carlo needs their trade list)."""

    trials: list[TrialRow]  # in sample, every status (the search's size counts the failures)
    daily_returns: Mapping[int, tuple[list[str], list[float]]]
    holdouts: list[TrialRow]
    holdout_returns: Mapping[int, tuple[list[str], list[float]]]
    sources: Mapping[str, str]  # source hash -> Pine text
    result_of: Callable[[int], BacktestResult | None]
    # A watchlist trial's result on each chart (its own result holds no trades); empty for
    # a one-chart trial. Monte Carlo then reads every chart and keeps the worst.
    charts_of: Callable[[int], list[BacktestResult]] = lambda _trial_id: []


def judge_ledger(ledger: TrialLedger, *, rules: QualityRules, objective: str,
                 maximize: bool = True, steps: Mapping[str, float] | None = None,
                 targets_met: Mapping[int, bool] | None = None) -> RunJudgement:
    """Evidence, verdict and tag for every finished in-sample trial of a run (and each
    holdout row, which carries its trial's verdict). Pure: nothing is read or written but the
    ledger; the caller stores the tags (`RunJudgement.tags`)."""
    trials = [t for t in ledger.trials if t.status == "done"]
    attempted = len(ledger.trials)
    if not trials:
        return RunJudgement()
    frame = _frame(ledger.daily_returns)
    robustness: dict[str, Any] = {"trials": attempted}

    sharpes = {tid: sharpe(frame[tid].to_numpy()) for tid in frame.columns}
    finite_sharpes = [s for s in sharpes.values() if math.isfinite(s)]
    pbo_value = None
    if frame.shape[1] >= 2:
        weekly = _weekly(frame)
        if len(weekly) >= 4:
            pbo = pbo_cscv(weekly.to_numpy(), n_splits=min(16, len(weekly) // 2 * 2))
            pbo_value = _finite(pbo.pbo)
            robustness.update({"pbo": pbo_value, "pbo_splits": pbo.n_splits,
                               "pbo_degradation_slope": _finite(pbo.degradation_slope)})
        if len(frame) >= 12:
            wf = walk_forward(frame, n_windows=min(5, len(frame) // 4))
            robustness.update({"walk_forward_oos_sharpe": _finite(wf.oos_sharpe),
                               "walk_forward_oos_t_stat": _finite(wf.oos_t_stat),
                               "walk_forward_efficiency": _finite(wf.efficiency)})

    robustness.update(input_importance(trials, objective, maximize))
    holdouts = {(h.condition, h.source_hash, _key(h.inputs)): h
                for h in ledger.holdouts if h.status == "done"}
    finalists = _finalists(trials, objective, maximize, targets_met or {})
    lookahead_by_source: dict[str, bool] = {}
    verdicts: dict[int, Verdict] = {}
    evidences: dict[int, Evidence] = {}
    for trial in trials:
        if trial.source_hash not in lookahead_by_source:
            lookahead_by_source[trial.source_hash] = uses_lookahead(
                ledger.sources[trial.source_hash])
        evidence = _evidence(
            trial, frame, finite_sharpes, attempted, pbo_value if trial.id in finalists else None,
            lookahead_by_source[trial.source_hash], (targets_met or {}).get(trial.id, False))
        if trial.id in finalists:
            evidence = _finalist_evidence(ledger, trial, trials, evidence, holdouts,
                                          objective, maximize, steps or {})
        evidences[trial.id] = evidence
        verdicts[trial.id] = judge(evidence, rules)
    tags = [(tid, v.tag, v.reasons) for tid, v in verdicts.items()]
    for holdout in holdouts.values():  # a holdout row carries its in-sample trial's verdict
        source = next((t for t in trials if (t.condition, t.source_hash, _key(t.inputs))
                       == (holdout.condition, holdout.source_hash, _key(holdout.inputs))), None)
        if source is not None:
            tags.append((holdout.id, verdicts[source.id].tag, verdicts[source.id].reasons))
    judgement = RunJudgement(robustness, verdicts, evidences, tags)
    robustness["tags"] = judgement.counts()
    return judgement


def input_importance(trials: list[TrialRow], objective: str,
                     maximize: bool) -> dict[str, float]:
    """Which inputs matter: |Spearman rank correlation| of each input with the objective.

    Simple and honest for a first look: monotone effects show, interactions do not. Keys are
    `importance: <input title>`; inputs that never varied are left out.
    """
    rows = [(t.inputs, _score(t, objective, maximize)) for t in trials]
    rows = [(inputs, score) for inputs, score in rows if math.isfinite(score)]
    if len(rows) < 5:
        return {}
    frame = pd.DataFrame([inputs for inputs, _ in rows])
    scores = pd.Series([score for _, score in rows])
    out: dict[str, float] = {}
    for column in frame.columns:
        values = pd.to_numeric(frame[column].map(
            lambda v: float(v) if isinstance(v, (int, float)) else np.nan), errors="coerce")
        if values.nunique() < 2 or values.isna().any():
            continue
        rho = values.rank().corr(scores.rank())
        if math.isfinite(rho):
            out[f"importance: {column}"] = round(abs(float(rho)), 3)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _key(inputs: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in inputs.items()))


def _finalists(trials: list[TrialRow], objective: str, maximize: bool,
               targets_met: Mapping[int, bool]) -> set[int]:
    chosen = {t.id for t in trials if targets_met.get(t.id)}
    by_track: dict[str | None, list[TrialRow]] = {}
    for t in trials:
        by_track.setdefault(t.condition, []).append(t)
    for rows in by_track.values():
        rows.sort(key=lambda r: _score(r, objective, maximize), reverse=True)
        chosen.update(r.id for r in rows[:FINALISTS_PER_TRACK])
    return chosen


def _evidence(trial: TrialRow, frame: pd.DataFrame, sharpes: list[float], attempted: int,
              pbo: float | None, lookahead: bool, targets_met: bool) -> Evidence:
    psr = dsr = min_trl = None
    periods = None
    sr_in = None
    if trial.id in frame.columns:
        returns = frame[trial.id].to_numpy()
        periods = len(returns)
        sr = sharpe(returns)
        if math.isfinite(sr) and periods > 2:
            sr_in = sr
            skew, kurt = moments(returns)
            psr = _finite(probabilistic_sharpe_ratio(sr, 0.0, periods, skew, kurt))
            if len(sharpes) >= 2:
                dsr = _finite(deflated_sharpe_ratio(returns, sharpes, n_trials=attempted).dsr)
            min_trl = min_track_record_length(sr, 0.0, skew, kurt)
    m = trial.metrics
    charts = m.get("charts")
    return Evidence(metrics=trial.metrics, targets_met=targets_met, risk=trial.metrics,
                    trading_days=periods, psr=psr, dsr=dsr, n_trials=attempted, pbo=pbo,
                    sharpe_in_sample=sr_in, min_track_record=min_trl, track_periods=periods,
                    lookahead=lookahead,
                    charts=int(charts) if isinstance(charts, (int, float)) else None,
                    charts_profitable_percent=_number(m.get("charts_profitable_percent")),
                    chart_dispersion=_number(m.get("chart_objective_dispersion")))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return _finite(float(value))


def _finalist_evidence(ledger: TrialLedger, trial: TrialRow, trials: list[TrialRow],
                       evidence: Evidence, holdouts: Mapping[tuple, TrialRow],
                       objective: str, maximize: bool, steps: Mapping[str, float]) -> Evidence:
    from dataclasses import replace

    changes: dict[str, Any] = {}
    holdout = holdouts.get((trial.condition, trial.source_hash, _key(trial.inputs)))
    if holdout is not None and holdout.id in ledger.holdout_returns:
        changes["sharpe_out_of_sample"] = _finite(
            sharpe(np.asarray(ledger.holdout_returns[holdout.id][1], dtype=float)))
    if steps:
        peers = [(t.inputs, _score(t, objective, maximize)) for t in trials
                 if t.source_hash == trial.source_hash and t.condition == trial.condition]
        try:
            stability = parameter_stability(trial.inputs, peers, dict(steps))
            if stability.ratio is not None:
                changes["stability_ratio"] = _finite(stability.ratio)
        except ValueError:
            pass
    results: list[BacktestResult | None] = [*ledger.charts_of(trial.id)] or \
        [ledger.result_of(trial.id)]
    drawdowns = []
    for result in results:
        if result is None:
            continue
        profits = np.asarray([t.profit for t in result.closed_trades if t.profit is not None])
        initial = result.metrics.get("initial_capital") or trial.metrics.get("initial_capital")
        if len(profits) >= 2 and isinstance(initial, (int, float)) and initial > 0:
            mc = monte_carlo_drawdown(profits, float(initial), n=MONTE_CARLO_RUNS, seed=trial.id)
            drawdowns.append(_finite(mc.p_drawdown_percent))
    if drawdowns:  # the worst chart's: a drawdown target holds on every chart
        known = [d for d in drawdowns if d is not None]
        changes["mc_drawdown_percent"] = max(known) if known else None
    return replace(evidence, **changes)
