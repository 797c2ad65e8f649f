"""The plain-text report: what a person reads in a terminal or an e-mail.

Run, best trial per condition with TradingView-named metrics, tag and reasons, the top trials,
counts by tag, the robustness statistics, the notable events and the settings that matter.
Lines stay under 100 characters; nothing depends on a terminal's colours or width.
"""

from __future__ import annotations

import textwrap
from datetime import datetime, tzinfo
from typing import Any

from tvdesk.reports.chart_table import format_table
from tvdesk.reports.chart_table import header as chart_header
from tvdesk.reports.data import ReportData, TrialSummary, ranked
from tvdesk.reports.labels import (
    HEADLINE_METRICS,
    flatten_settings,
    format_metric,
    format_plain,
    format_robustness,
    format_value,
    label,
    reason_text,
    settings_summary,
)

TOP_ROWS = 10
WIDTH = 99
NOTABLE_EVENTS = ("run_started", "resumed", "new_best", "track_finished", "holdout", "error",
                  "worker_restarted", "judged", "stopped", "reset_unfinished")


def fmt_time(moment: datetime | None, tz: tzinfo) -> str:
    if moment is None:
        return "-"
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return f"{moment:%Y-%m-%d %H:%M:%S %Z}".rstrip()


def condition_name(condition: str | None) -> str:
    return "script default" if condition is None else f"condition {condition}"


def _heading(text: str, char: str = "-") -> list[str]:
    return ["", text, char * len(text)]


def _metric_lines(trial: TrialSummary, currency: str, indent: str = "    ") -> list[str]:
    lines = []
    for key in HEADLINE_METRICS:
        if key in trial.metrics:
            lines.append(f"{indent}{label(key):<40} "
                         f"{format_metric(key, trial.metrics, currency)}")
    return lines


def _inputs(trial: TrialSummary) -> str:
    return ", ".join(f"{k}={format_plain(v)}" for k, v in trial.inputs.items()) or "(none)"


def _short(key: str, trial: TrialSummary, currency: str) -> str:
    return format_metric(key, trial.metrics, currency)


def render_txt(data: ReportData) -> str:
    run = data.run
    tz = data.zone
    cur = run.currency
    lines: list[str] = []
    title = f"tvdesk report — {run.strategy_title}"
    lines += [title, "=" * len(title)]
    if run.kind == "optimization":
        lines.append(f"Run        {run.id} (optimisation on the {run.engine} engine, "
                     f"{run.status})")
        lines.append(f"Created    {fmt_time(run.created_at, tz)}    "
                     f"Finished {fmt_time(run.finished_at, tz)}")
    else:
        lines.append(f"Backtest   {run.engine} engine")
    if run.is_watchlist:
        lines += _wrap(run.watchlist_text(lead=""), "Watchlist  ", " " * 11)
    elif run.symbol or run.timeframe:
        lines.append(f"Symbol     {run.symbol} {run.timeframe}".rstrip())
    lines.append(f"Timezone   {run.timezone} (all times below)")
    in_sample = data.in_sample()
    holdout = [t for t in data.trials if t.segment == "holdout"]
    statuses = ", ".join(f"{n} {s}" for s, n in data.status_counts().items())
    if run.kind == "optimization":
        lines.append(f"Trials     {len(data.trials)} ({len(in_sample)} in sample, "
                     f"{len(holdout)} holdout; {statuses})")
    lines.append(f"Generated  {fmt_time(data.generated_at, tz)}")

    if run.kind == "optimization":
        best = data.headline_by_condition()
        lines += _heading("Best trial per condition (the holdout-checked one when there is one)")
    else:
        best = {None: data.trials[0]} if data.trials else {}
        lines += _heading("Result")
    if not best:
        lines.append("  No finished trial has this metric.")
    for condition, trial in best.items():
        lines.append("")
        if run.kind == "optimization":
            lines.append(f"{condition_name(condition).capitalize()}: trial #{trial.id} "
                         f"(worker {trial.worker}, iteration {trial.iteration}, "
                         f"{trial.proposer})    tag: {trial.tag or 'untagged'}")
        elif trial.tag:
            lines.append(f"Tag: {trial.tag}")
        lines += _wrap(f"Inputs: {_inputs(trial)}", "  ", "    ")
        lines += _metric_lines(trial, cur)
        lines += _chart_lines(data, trial, "  Per chart:")
        if trial.reasons:
            lines.append("  Reasons:")
            for reason in trial.reasons:
                lines += _wrap(f"- {reason_text(reason)}", "    ", "      ")
        check = data.holdout_of(trial)
        if check is not None:
            lines.append(f"  Holdout: trial #{check.id} ({check.status})    "
                         f"tag: {check.tag or 'untagged'}")
            for key in ("net_profit_percent", "max_drawdown_percent", "total_trades",
                        "profit_factor"):
                lines.append(f"    {label(key):<40} {_short(key, check, cur)}")
            lines += _chart_lines(data, check, "    Holdout per chart:", "      ")
    if run.kind == "optimization" and len(in_sample) > 1:
        lines += _heading(f"Top {min(TOP_ROWS, len(in_sample))} trials in sample")
        lines.append(f"  {'Trial':>6}  {'Condition':<10} {'Net profit %':>13} "
                     f"{'Max DD %':>9} {'Trades':>7} {'Profit f.':>9}  Tag")
        for trial in ranked(in_sample, data.rank_metric)[:TOP_ROWS]:
            lines.append(
                f"  {trial.id:>6}  {trial.condition or '-':<10} "
                f"{_num(trial.metric('net_profit_percent')):>13} "
                f"{_num(trial.metric('max_drawdown_percent')):>9} "
                f"{_num(trial.metric('total_trades'), 0):>7} "
                f"{_num(trial.metric('profit_factor'), 3):>9}  {trial.tag or '-'}")
        lines.append("  (Max DD % = Max equity drawdown (intrabar) %; Profit f. = Profit "
                     "factor)")

    tags = data.trials_by_tag()
    if run.kind == "optimization" or set(tags) != {"untagged"}:
        lines += _heading("Tags (in-sample trials; a holdout trial carries its trial's tag)")
        for tag, group in tags.items():
            lines.append(f"  {tag:<10} {len(group):>6}")
            reasons = _top_reasons(group)
            for reason, n in reasons:
                lines += _wrap(f"{n} × {reason}", " " * 20, " " * 24)
    errors = [t for t in data.trials if t.status == "error"]
    if errors:
        lines += _heading("Errors")
        for trial in errors[:TOP_ROWS]:
            lines.append(f"  trial #{trial.id}: {trial.error or 'no message'}")
        if len(errors) > TOP_ROWS:
            lines.append(f"  ... and {len(errors) - TOP_ROWS} more")

    lines += _heading("Robustness")
    if data.robustness:
        for key, value in data.robustness_items():
            lines += _wrap(f"{label(key):<50} {format_robustness(key, value)}", "  ",
                           " " * 53)
    else:
        lines.append("  No run-level statistics (PBO, deflated Sharpe) in this report.")

    notable = [e for e in data.timeline if e.kind in NOTABLE_EVENTS]
    if notable:
        lines += _heading("Events")
        for event in notable:
            lines += _wrap(f"{fmt_time(event.at, tz)}  {event.kind:<15} "
                           f"{event_text(event.kind, event.payload)}".rstrip(), "  ", " " * 44)

    warned: dict[str, list[int]] = {}
    for detail, result in data.details:
        for warning in result.warnings:
            warned.setdefault(warning, []).append(detail.id)
    if warned:
        lines += _heading("Warnings of the trials shown in full")
        for warning, ids in warned.items():
            trials = ", ".join(f"#{i}" for i in ids)
            lines += _wrap(f"- {warning} (trial{'s' if len(ids) > 1 else ''} {trials})",
                           "  ", "    ")

    lines += _heading("Settings")
    pairs: list[tuple[str, Any]] = (settings_summary(run.settings) if run.kind == "optimization"
                                    else flatten_settings(run.settings))
    for name, value in pairs:
        lines += _wrap(f"{name:<24} {format_plain(value)}", "  ", " " * 27)
    return "\n".join(lines) + "\n"


def _chart_lines(data: ReportData, trial: TrialSummary, title: str,
                 indent: str = "    ") -> list[str]:
    """A watchlist trial's per-chart table (`tvdesk.reports.chart_table`), indented."""
    rows = data.chart_table(trial)
    if not rows:
        return []
    table = format_table(rows, chart_header())
    return [title, *(f"{indent}{line}" for line in table.splitlines())]


def _wrap(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(text, width=WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False) or [first.rstrip()]


def _num(value: float | None, digits: int = 2) -> str:
    return "N/A" if value is None else f"{value:,.{digits}f}"


def _top_reasons(trials: list[TrialSummary], limit: int = 3) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for trial in trials:
        for reason in trial.reasons:
            text = reason_text(reason)
            counts[text] = counts.get(text, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def event_text(kind: str, payload: Any) -> str:
    """One line about an event: the trial, the figures it carries."""
    parts = []
    if payload.get("condition") is not None:
        parts.append(f"condition {payload['condition']}")
    if payload.get("trial_id") is not None:
        parts.append(f"trial #{payload['trial_id']}")
    if kind == "holdout" and payload.get("of_trial") is not None:
        parts.append(f"of trial #{payload['of_trial']}")
    for key in ("net_profit_percent", "max_drawdown_percent"):
        if isinstance(payload.get(key), (int, float)):
            parts.append(f"{label(key)} {format_value(key, payload[key])}")
    robustness = payload.get("robustness")
    if kind == "judged" and isinstance(robustness, dict) and isinstance(robustness.get("tags"),
                                                                         dict):
        parts.append("tags " + ", ".join(f"{k} {v}" for k, v in robustness["tags"].items()))
    if kind == "new_best" and isinstance(payload.get("score"), (int, float)):
        parts.append(f"score {payload['score']:.4g}")
    for key in ("reason", "message", "best_trial"):
        if payload.get(key) not in (None, ""):
            parts.append(f"{key.replace('_', ' ')}: {format_plain(payload[key])}")
    return "; ".join(parts)
