"""Parameter search over a strategy's inputs with Optuna, through ask/tell.

Optuna proposes; tvdesk's run store stays the source of truth. That is why only ask/tell is
used: a study can be rebuilt from the store on resume (`add_done`), a parameter set the store
already ran for the same source is answered from it instead of being run again, and the
script's current inputs are enqueued first so the search starts from what the author chose.
Targets become Optuna constraints (feasible when every violation is 0), which steers TPE
towards inputs that meet them rather than only ranking afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from tvdesk.model import InputValue
from tvdesk.optimize.space import Dimension, SearchSpace
from tvdesk.optimize.targets import Targets

Sampler = Literal["tpe", "random", "grid"]
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _distribution(dim: Dimension) -> BaseDistribution:
    if dim.kind == "choice":
        return CategoricalDistribution(list(dim.choices))
    assert dim.low is not None and dim.high is not None and dim.step
    # Optuna wants the range to be a whole number of steps; trim the top instead of warning.
    steps = math.floor((dim.high - dim.low) / dim.step + 1e-9)
    high = dim.low + steps * dim.step
    if dim.kind == "int":
        return IntDistribution(int(dim.low), round(high), step=max(1, int(dim.step)))
    return FloatDistribution(dim.low, round(high, 10), step=dim.step)


@dataclass(slots=True)
class Proposal:
    """Inputs to run, and the Optuna trial to tell the outcome to."""

    inputs: dict[str, InputValue]
    trial: optuna.trial.Trial


class ParamSearch:
    """One Optuna study per track (condition)."""

    def __init__(self, space: SearchSpace, targets: Targets, *, sampler: Sampler = "tpe",
                 seed: int | None = None) -> None:
        self.space = space
        self.targets = targets
        self.grid_finished = False  # the grid sampler has told its last point
        self.distributions = {dim.title: _distribution(dim) for dim in space.dimensions}
        directions: list[Literal["minimize", "maximize"]] = [
            "maximize" if targets.maximize else "minimize"]
        directions += ["maximize" if m else "minimize" for _, m in targets.extra_objectives]
        self.study = optuna.create_study(directions=directions,
                                         sampler=self._sampler(sampler, seed))

    def _sampler(self, kind: Sampler, seed: int | None) -> optuna.samplers.BaseSampler:
        if kind == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if kind == "grid":
            grid = {dim.title: dim.grid() for dim in self.space.dimensions}
            return optuna.samplers.GridSampler(grid, seed=seed)
        return optuna.samplers.TPESampler(seed=seed)

    def enqueue(self, inputs: Mapping[str, Any]) -> None:
        """Try these inputs first (the script's own values), clipped to the space."""
        params = {title: value for title, value in inputs.items()
                  if title in self.distributions
                  and self.distributions[title]._contains(
                      self.distributions[title].to_internal_repr(value))}
        if params:
            self.study.enqueue_trial(params, skip_if_exists=True)

    def ask(self) -> Proposal:
        trial = self.study.ask(self.distributions)
        # Optuna builds stepped floats as low + k * step: 0.5 + 7 * 0.1 is 1.2000000000000002.
        # The run uses (and stores, shows, exports) the number the trader would type.
        inputs = {title: round(value, 10) if isinstance(value, float) else value
                  for title, value in trial.params.items()}
        return Proposal(inputs=inputs, trial=trial)

    def tell(self, proposal: Proposal, metrics: Mapping[str, object] | None) -> None:
        """Report a finished trial; None means it failed (it is told as failed, not scored)."""
        try:
            if metrics is None:
                self.study.tell(proposal.trial, state=TrialState.FAIL)
                return
            for i, violation in enumerate(self.targets.violations(metrics)):
                proposal.trial.set_constraint(f"c{i}", violation)
            self.study.tell(proposal.trial, self._finite(self.targets.objective_values(metrics)))
        except RuntimeError as exc:
            # The grid sampler calls Study.stop() when its last point is told, which Optuna
            # allows only inside study.optimize; the trial is stored before that (Optuna
            # writes it in a `finally`). The grid is done: say so instead of crashing the run.
            if "Study.stop" not in str(exc):
                raise
            self.grid_finished = True

    def add_done(self, inputs: Mapping[str, Any], metrics: Mapping[str, object] | None) -> None:
        """Teach the study a trial that ran before (resume, or answered from the store)."""
        params = {k: v for k, v in inputs.items() if k in self.distributions}
        if len(params) != len(self.distributions):
            return  # ran with another space (user changed ranges): not comparable
        distributions = {k: self.distributions[k] for k in params}
        try:
            for key, value in params.items():
                if not distributions[key]._contains(
                        distributions[key].to_internal_repr(value)):
                    return
        except (ValueError, TypeError):
            return
        if metrics is None:
            frozen = optuna.trial.create_trial(state=TrialState.FAIL, params=params,
                                               distributions=distributions)
        else:
            constraints = {f"c{i}": v
                           for i, v in enumerate(self.targets.violations(metrics))}
            frozen = optuna.trial.create_trial(
                params=params, distributions=distributions,
                values=self._finite(self.targets.objective_values(metrics)),
                constraints=constraints or None)
        self.study.add_trial(frozen)

    @staticmethod
    def _finite(values: list[float]) -> list[float]:
        """Optuna refuses infinities; a missing metric becomes a very bad finite value."""
        return [v if math.isfinite(v) else math.copysign(1e12, v) for v in values]
