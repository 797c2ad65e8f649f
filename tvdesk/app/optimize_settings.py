"""One place that turns what a user filled in (CLI flags or the GUI's form) into settings.

The CLI converts its flags into a `RunForm`; the GUI fills one from its widgets. Both get the
same checks and the same messages, and every error names the flag the field stands for
(`InputError.source`), which the GUI maps back to the widget to show the message inline.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields, replace
from typing import Any

from tvdesk.app.form_checks import (
    check_conditions,
    check_dates_in_data,
    check_file,
    check_search_ranges,
    check_strategy_settings,
    data_span,
)
from tvdesk.app.requests import RunOptions, build_request
from tvdesk.config import Profile, Settings
from tvdesk.errors import InputError
from tvdesk.optimize.git_best import chosen_repository
from tvdesk.optimize.settings import LLMSettings, OptimizeSettings, parse_conditions
from tvdesk.optimize.space import build_space
from tvdesk.optimize.targets import (
    Constraint,
    Targets,
    check_metric,
    constraint_from_shorthand,
    parse_constraint,
    targets_from_mapping,
)


@dataclass(slots=True)
class RunForm:
    """Everything a run can be given, as text or simple values, before any checking."""

    options: RunOptions = field(default_factory=RunOptions)
    profile: str | None = None
    engine: str | None = None
    proposer: str = "params"
    sampler: str = "tpe"
    seed: int = 42
    process_count: int | None = None
    conditions: str | None = None
    condition_input: str | None = None
    holdout: str = "20%"
    workspace: str | None = None
    min_trades: float | None = None
    max_drawdown: float | None = None
    min_profit_factor: float | None = None
    targets: list[str] = field(default_factory=list)
    potential: list[str] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)
    max_iterations: int = 100
    max_consecutive_errors: int = 10
    max_duplicate_consecutive_errors: int = 5
    time_budget: float | None = None
    max_llm_calls: int | None = None  # None: 3 per allowed trial (llm_call_budget)
    search_ranges: dict[str, dict[str, Any]] = field(default_factory=dict)
    exclude_inputs: tuple[str, ...] = ()
    llm_base_url: str | None = None
    llm_models: str | None = None
    model: str | None = None
    llm_study_trials: int | None = None
    stop_on_target: bool = False  # or the config's [optimize] stop_on_target
    git_commit: bool = False  # commit each new best (git_best); or the config's git_commit
    git_repo: str | None = None  # where (implies git_commit); else the config's git_repository
    symbols: str | None = None  # a watchlist: "A,B" (see app.watchlist), or
    watchlist: str | None = None  # a [watchlists] name
    timeframes: str | None = None  # "15,60,240"
    aggregate: str | None = None  # the watchlist objective: median (default), min (worst
    # chart) or mean; None: the profile's
    search_timeframe: bool = False  # the timeframe is a searched parameter (or the profile's)


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
        parsed.append((check_metric(key.strip(), "--objective"), direction != "min"))
    (main, maximize), *extra = parsed
    return main, maximize, tuple(extra)


def _positive_int(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise InputError(f"expected a whole number ≥ 1, got {value}", source=flag)


def _constraints(form: RunForm, profile: Profile | None) -> list[Constraint]:
    constraints: list[Constraint] = []
    if profile and profile.targets:
        constraints.extend(targets_from_mapping(profile.targets, f"profiles.{profile.name}"))
    for name in ("min_trades", "max_drawdown", "min_profit_factor"):
        value = getattr(form, name)
        if value is not None:
            new = constraint_from_shorthand(name, value)
            constraints = [c for c in constraints if c.metric != new.metric or c.op != new.op]
            constraints.append(new)
    constraints.extend(parse_constraint(t) for t in form.targets)
    return constraints


def _check_files(options: RunOptions, profile: Profile | None) -> None:
    """The script and data files exist, each error naming its flag and the path."""
    script = options.script or (str(profile.script) if profile and profile.script else None)
    data = options.data or (str(profile.data) if profile and profile.data else None)
    check_file(script, "--script", "a Pine strategy file (.pine)")
    check_file(data, "--data", "a CSV file of OHLC bars")


def _llm(form: RunForm, config: Settings) -> LLMSettings:
    llm = LLMSettings()
    if config.llm_base_url:
        llm = replace(llm, base_url=config.llm_base_url)
    if config.llm_models:
        llm = replace(llm, models=config.llm_models,
                      model=config.llm_model or ("auto" if len(config.llm_models) > 1
                                                 else config.llm_models[0]))
    if form.llm_base_url:
        llm = replace(llm, base_url=form.llm_base_url)
    if form.llm_models:
        models = tuple(m.strip() for m in form.llm_models.split(",") if m.strip())
        llm = replace(llm, models=models, model="auto" if len(models) > 1 else models[0])
    if form.model:
        if form.model != "auto" and form.model not in llm.models:
            llm = replace(llm, models=(*llm.models, form.model))
        llm = replace(llm, model=form.model)
    if form.llm_study_trials is not None:
        llm = replace(llm, study_trials=form.llm_study_trials)
    return llm


def settings_from_form(form: RunForm, config: Settings) -> OptimizeSettings:
    _positive_int(form.process_count, "--process-count")
    _positive_int(form.max_iterations, "--max-iterations")
    _positive_int(form.max_consecutive_errors, "--max-consecutive-errors")
    _positive_int(form.max_duplicate_consecutive_errors, "--max-duplicate-consecutive-errors")
    if form.max_llm_calls is not None:
        _positive_int(form.max_llm_calls, "--max-llm-calls")
    profile = config.profile(form.profile) if form.profile else None
    engine = form.engine or config.engine
    _check_files(form.options, profile)
    check_strategy_settings(form.options.settings)
    request = build_request(form.options, profile, default_timezone=config.timezone,
                            engine=engine)
    constraints = _constraints(form, profile)
    potential = tuple(parse_constraint(t, "--target-potential") for t in form.potential)
    objective, maximize, extra = parse_objectives(form.objectives)
    conditions_text = form.conditions or (profile.conditions if profile else None)
    conditions = parse_conditions(conditions_text) if conditions_text else ()
    condition_input = form.condition_input or (profile.condition_input if profile
                                               else "Condition")
    condition_spec = request.strategy.input_by_key(condition_input)
    if conditions and condition_spec is None:
        titles = ", ".join(repr(s.title) for s in request.strategy.inputs)
        raise InputError(f"the script has no input {condition_input!r} to give the conditions "
                         f"to (inputs: {titles}); set --condition-input", source="--conditions")
    if conditions and condition_spec is not None:
        check_conditions(conditions, condition_spec)
    charts = _charts(form, config, profile, engine, request)
    if not request.data_path and engine == "local" and not charts:
        raise InputError("the local engine needs market data (--data FILE.csv, or a "
                         "watchlist with --symbols)", source="--data")
    if engine == "local" and not charts:
        check_dates_in_data(request.date_from, request.date_to,
                            data_span(request.data_path, request.symbol.timezone),
                            request.data_path, request.symbol.timezone)
    check_search_ranges(request.strategy, form.search_ranges)
    build_space(request.strategy, overrides=form.search_ranges, exclude=form.exclude_inputs,
                condition_input=condition_input)  # unknown titles, empty ranges: now, not later
    return OptimizeSettings(
        request=request, engine=engine, conditions=conditions,
        condition_input=condition_input, proposer=form.proposer,  # type: ignore[arg-type]
        sampler=form.sampler, seed=form.seed,  # type: ignore[arg-type]
        # On TradingView "workers" are pages of one account: the local `processes` setting
        # must not open 8 windows; the [tradingview] pages setting (default 1) applies.
        process_count=form.process_count or (config.tradingview.pages
                                             if engine == "tradingview"
                                             else config.processes),
        max_iterations=form.max_iterations,
        max_consecutive_errors=form.max_consecutive_errors,
        max_duplicate_consecutive_errors=form.max_duplicate_consecutive_errors,
        time_budget=form.time_budget, holdout=parse_holdout(form.holdout),
        max_llm_calls=form.max_llm_calls,
        targets=Targets(constraints=tuple(constraints), potential=potential,
                        objective=objective, maximize=maximize, extra_objectives=extra),
        search_ranges=dict(form.search_ranges), exclude_inputs=tuple(form.exclude_inputs),
        workspace=form.workspace, llm=_llm(form, config),
        stop_on_target=form.stop_on_target or config.optimize.stop_on_target,
        git_repository=chosen_repository(form.git_commit, form.git_repo, config.optimize),
        git_push=config.optimize.git_push,
        charts=charts, aggregate=_aggregate(form, profile),  # type: ignore[arg-type]
        search_timeframe=bool(charts) and _search_timeframe(form, profile),
    )


def _aggregate(form: RunForm, profile: Profile | None) -> str:
    return form.aggregate or (profile.aggregate if profile else None) or "median"


def _search_timeframe(form: RunForm, profile: Profile | None) -> bool:
    return form.search_timeframe or bool(profile and profile.search_timeframe)


def _charts(form: RunForm, config: Settings, profile: Profile | None, engine: str,
            request: Any) -> tuple:
    """The watchlist's charts, resolved in the market data library (empty: one chart)."""
    from tvdesk.app.watchlist import (
        refuse_single_chart_flags,
        resolve_charts,
        watchlist_choice,
    )
    from tvdesk.optimize.watchlist_trials import AGGREGATES

    if _aggregate(form, profile) not in AGGREGATES:
        raise InputError(f"expected one of {', '.join(AGGREGATES)}, got {form.aggregate!r}",
                         source="--aggregate")
    search_timeframe = _search_timeframe(form, profile)
    choice = watchlist_choice(symbols=form.symbols, timeframes=form.timeframes,
                              watchlist=form.watchlist, settings=config, profile=profile,
                              data=form.options.data)
    if not choice:
        if form.search_timeframe:
            raise InputError("--search-timeframe needs a watchlist (--symbols) and two or more "
                             "--timeframes", source="--search-timeframe")
        return ()
    if engine != "local":
        raise InputError("watchlist runs use the local engine (--engine local)",
                         source="--symbols")
    refuse_single_chart_flags(form.options)
    charts = resolve_charts(choice.symbols, choice.timeframes)
    if search_timeframe and len({c.timeframe for c in charts}) < 2:
        raise InputError("--search-timeframe needs two or more --timeframes",
                         source="--search-timeframe")
    for chart in charts:
        check_dates_in_data(request.date_from, request.date_to,
                            data_span(chart.data_path, chart.timezone), chart.label,
                            chart.timezone)
    return charts


# RunForm fields whose flag has another name (--target is repeatable, so the list is targets).
_FLAG_DEST = {"targets": "target", "potential": "target_potential", "objectives": "objective"}


def form_from_args(args: argparse.Namespace, options: RunOptions) -> RunForm:
    """The form as `tvdesk optimize`'s flags fill it: every RunForm field from the flag of the
    same name (see _FLAG_DEST); fields without a flag (GUI-only) keep their defaults."""
    values = {}
    for item in fields(RunForm):
        dest = _FLAG_DEST.get(item.name, item.name)
        if item.name != "options" and hasattr(args, dest):
            values[item.name] = getattr(args, dest)
    return RunForm(options=options, **values)


def settings_from_args(args: argparse.Namespace, config: Settings,
                       options: RunOptions) -> OptimizeSettings:
    return settings_from_form(form_from_args(args, options), config)
