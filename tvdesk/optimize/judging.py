"""Judge a stored run: load its trial ledger, judge it (pure, in analytics), store the tags.

The one service that does this, called by the optimiser at the end of a run and by `report`
for a run that ended before it was judged; both get the same tags from the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tvdesk.analytics.judgement import RunJudgement, TrialLedger, judge_ledger
from tvdesk.analytics.quality import QualityRules
from tvdesk.model import BacktestResult
from tvdesk.optimize.settings import OptimizeSettings
from tvdesk.optimize.space import build_space
from tvdesk.store import RunStore


def quality_rules(settings: OptimizeSettings) -> QualityRules:
    """The rule table's thresholds: the user's overrides, the drawdown target, defaults."""
    values: dict[str, Any] = {}
    for c in settings.targets.constraints:
        if c.metric == "max_drawdown_percent" and c.op == "<=":
            values["max_drawdown_percent"] = c.value
    values.update(settings.quality)
    return QualityRules.from_dict(values)


def search_steps(settings: OptimizeSettings) -> dict[str, float]:
    """Each searched input's step: what 'a neighbouring parameter set' means for stability."""
    space = build_space(settings.request.strategy, overrides=settings.search_ranges,
                        exclude=settings.exclude_inputs,
                        condition_input=settings.condition_input)
    return {d.title: d.step for d in space.dimensions if d.kind != "choice" and d.step}


def load_ledger(store: RunStore, run_id: str) -> TrialLedger:
    """Everything a judgement reads of the run (results are read on demand, finalists only)."""
    trials = store.trials(run_id, segment="in_sample")
    holdouts = store.trials(run_id, segment="holdout")
    hashes = {t.source_hash for t in (*trials, *holdouts)}
    return TrialLedger(
        trials=trials, daily_returns=store.daily_returns(run_id, segment="in_sample"),
        holdouts=holdouts, holdout_returns=store.daily_returns(run_id, segment="holdout"),
        sources={h: store.get_source(h) for h in hashes}, result_of=store.trial_result,
        charts_of=lambda trial_id: [BacktestResult.from_dict(c.result)
                                    for c in store.chart_results(trial_id) if c.result])


def judge_run(store: RunStore, run_id: str, *, rules: QualityRules, objective: str,
              maximize: bool = True, steps: Mapping[str, float] | None = None,
              targets_met: Mapping[int, bool] | None = None) -> RunJudgement:
    """Judge the stored run with these rules and write every tag to the store."""
    judgement = judge_ledger(load_ledger(store, run_id), rules=rules, objective=objective,
                             maximize=maximize, steps=steps, targets_met=targets_met)
    store.set_tags(judgement.tags)
    return judgement


def judge_stored_run(store: RunStore, run_id: str, settings: OptimizeSettings) -> RunJudgement:
    """Judge the run by its own settings (targets, quality overrides, search steps)."""
    return judge_run(
        store, run_id, rules=quality_rules(settings), objective=settings.targets.objective,
        maximize=settings.targets.maximize, steps=search_steps(settings),
        targets_met={t.id: settings.targets.met(t.metrics)
                     for t in store.trials(run_id, status="done")})
