"""Turn flags (and a profile) into OptimizeSettings, with the CLI's clear messages."""

from __future__ import annotations

import argparse
from dataclasses import replace

from tvdesk.config import Settings
from tvdesk.errors import InputError
from tvdesk.model import BacktestRequest
from tvdesk.optimize.settings import LLMSettings, OptimizeSettings, parse_conditions
from tvdesk.optimize.targets import (
    Constraint,
    Targets,
    constraint_from_shorthand,
    parse_constraint,
    targets_from_mapping,
)


def parse_holdout(text: str) -> float:
    raw = text.strip().rstrip("%")
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"expected a percentage such as 20%, got {text!r}",
                         source="--holdout") from None
    fraction = value / 100 if text.strip().endswith("%") or value > 1 else value
    if not 0 <= fraction < 0.9:
        raise InputError(f"expected 0% to 90%, got {text!r}", source="--holdout")
    return fraction


def parse_objectives(values: list[str]) -> tuple[str, bool, tuple[tuple[str, bool], ...]]:
    parsed: list[tuple[str, bool]] = []
    for value in values or ["net_profit_percent:max"]:
        key, _, direction = value.partition(":")
        if direction not in ("", "max", "min"):
            raise InputError(f"expected KEY, KEY:max or KEY:min, got {value!r}",
                             source="--objective")
        parsed.append((key.strip(), direction != "min"))
    (main, maximize), *extra = parsed
    return main, maximize, tuple(extra)


def settings_from_args(args: argparse.Namespace, config: Settings,
                       request: BacktestRequest) -> OptimizeSettings:
    if args.process_count is not None and args.process_count < 1:
        raise InputError("expected a whole number ≥ 1", source="--process-count")
    if args.max_iterations < 1:
        raise InputError("expected a whole number ≥ 1", source="--max-iterations")
    profile = config.profile(args.profile) if args.profile else None
    constraints: list[Constraint] = []
    if profile and profile.targets:
        constraints.extend(targets_from_mapping(profile.targets, f"profiles.{profile.name}"))
    for name in ("min_trades", "max_drawdown", "min_profit_factor"):
        value = getattr(args, name)
        if value is not None:
            constraints = [c for c in constraints
                           if c != constraint_from_shorthand(name, value)]
            constraints.append(constraint_from_shorthand(name, value))
    constraints.extend(parse_constraint(t) for t in args.target)
    potential = tuple(parse_constraint(t, "--target-potential") for t in args.target_potential)
    objective, maximize, extra = parse_objectives(args.objective)
    conditions_text = args.conditions or (profile.conditions if profile else None)
    conditions = parse_conditions(conditions_text) if conditions_text else ()
    condition_input = args.condition_input or (profile.condition_input if profile
                                               else "Condition")
    if conditions and request.strategy.input_by_key(condition_input) is None:
        titles = ", ".join(repr(s.title) for s in request.strategy.inputs)
        raise InputError(f"the script has no input {condition_input!r} to give the conditions "
                         f"to (inputs: {titles}); set --condition-input", source="--conditions")
    llm = LLMSettings()
    if config.llm_base_url:
        llm = replace(llm, base_url=config.llm_base_url)
    if config.llm_models:
        llm = replace(llm, models=config.llm_models,
                      model=config.llm_model or ("auto" if len(config.llm_models) > 1
                                                 else config.llm_models[0]))
    if args.llm_base_url:
        llm = replace(llm, base_url=args.llm_base_url)
    if args.llm_models:
        llm = replace(llm, models=tuple(m.strip() for m in args.llm_models.split(",")
                                        if m.strip()))
    if args.model:
        if args.model != "auto" and args.model not in llm.models:
            llm = replace(llm, models=(*llm.models, args.model))
        llm = replace(llm, model=args.model)
    elif args.llm_models:
        llm = replace(llm, model="auto" if len(llm.models) > 1 else llm.models[0])
    if args.llm_study_trials is not None:
        llm = replace(llm, study_trials=args.llm_study_trials)
    return OptimizeSettings(
        request=request, engine=args.engine or config.engine, conditions=conditions,
        condition_input=condition_input, proposer=args.proposer, sampler=args.sampler,
        seed=args.seed, process_count=args.process_count or config.processes,
        max_iterations=args.max_iterations,
        max_consecutive_errors=args.max_consecutive_errors,
        max_duplicate_consecutive_errors=args.max_duplicate_consecutive_errors,
        time_budget=args.time_budget, holdout=parse_holdout(args.holdout),
        targets=Targets(constraints=tuple(constraints), potential=potential,
                        objective=objective, maximize=maximize, extra_objectives=extra),
        workspace=args.workspace, llm=llm,
    )
