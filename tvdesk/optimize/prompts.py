"""The chat messages that ask an LLM for the next version of a strategy.

One function, pure: everything the model may see is passed in, so what reaches the model is
exactly what the caller chose. That is how holdout data stays out: the caller passes metrics
of the development segment only, and nothing here reads files, settings or the run store.
The prompt shows the current script with its numbers, how they compare with the targets,
some other versions from worst to best (models improve more from ranked examples than from
a single score), what was already tried (so they do not repeat themselves) and why the last
reply was rejected. The reply format is fixed (prose, then one ```pine block) because
`pine_text.extract_pine` and `comment_of` parse it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tvdesk.metric_catalog import METRICS
from tvdesk.optimize.targets import SHORTHANDS

# The metrics every prompt shows, in this order.
KEY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("net_profit_percent", "Net profit", "%"),
    ("max_drawdown_percent", "Max drawdown", "%"),
    ("total_trades", "Total trades", ""),
    ("percent_profitable", "Percent profitable", "%"),
    ("profit_factor", "Profit factor", ""),
)

SYSTEM_PROMPT = """\
You are an expert TradingView Pine Script v6 developer who improves trading strategies.
You are given a strategy script, its backtest results and the targets it should meet, and
you write the next version of the script.

Reply format, always:
1. A short explanation (at most five sentences): what you change and why.
2. Then exactly ONE fenced code block tagged pine (```pine ... ```) holding the COMPLETE
   script, from //@version=6 to the last line. No other code blocks, no diffs, no fragments.

Rules for the script:
- Pine Script version 6, a strategy (one strategy(...) declaration), not an indicator.
- Keep the strategy() arguments that set capital, position sizing, commission, slippage and
  pyramiding unchanged: results are only comparable with the same costs and sizing.
- Keep the titles of the inputs you keep, so saved parameter sets still apply. Make every
  new tunable number an input.int / input.float with a title, minval and maxval (and step
  for floats), so the parameter search can tune it.
- Use only the chart's own symbol and timeframe. No request.security() on other symbols or
  with lookahead, no libraries (import), no repainting, no use of future bars.
- Make a real change in logic or structure. Changes of comments, spacing or names only are
  detected as duplicates and rejected.
- Prefer a few simple, general rules to many special cases: the result is judged later on
  data you never see, and an overfitted script fails there.
"""


def _label(key: str) -> str:
    """TradingView's label for a metric key, with ' %' for a `_percent` variant."""
    base, percent = (key[:-8], True) if key.endswith("_percent") else (key, False)
    for metric in METRICS:
        if metric.key in (key, base):
            return metric.label + (" %" if percent and metric.key == base else "")
    return key


def _number(value: Any, unit: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "n/a"
    text = f"{value:d}" if isinstance(value, int) else f"{value:,.2f}"
    return f"{text} {unit}" if unit else text


def _metric_lines(metrics: Mapping[str, Any]) -> list[str]:
    return [f"- {label}: {_number(metrics.get(key), unit)}" for key, label, unit in KEY_METRICS]


def _metric_summary(metrics: Mapping[str, Any]) -> str:
    return "; ".join(f"{label} {_number(metrics.get(key), unit)}"
                     for key, label, unit in KEY_METRICS)


def _target_line(key: str, value: Any) -> str:
    """One target as `Label op value`, whichever of the accepted spellings it uses."""
    if key in SHORTHANDS:
        metric, op = SHORTHANDS[key]
        return f"- {_label(metric)} {op} {_number(value)}"
    for suffix, op in (("_min", ">="), ("_max", "<=")):
        if key.endswith(suffix):
            return f"- {_label(key[:-len(suffix)])} {op} {_number(value)}"
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        return f"- {_label(key)} {value[0]} {_number(value[1])}"
    return f"- {_label(key)}: {_number(value)}"


def _fenced(code: str) -> str:
    return f"```pine\n{code.strip()}\n```"


def build_messages(*, current_pine: str, metrics: Mapping[str, Any], tag: str | None,
                   reasons: Sequence[str], targets: Mapping[str, Any],
                   previous_comment: str | None,
                   archive: Sequence[tuple[str, Mapping[str, Any]]],
                   tried_summaries: Sequence[str],
                   last_error: str | None) -> list[dict[str, str]]:
    """System and user messages asking for one complete Pine v6 strategy in a ```pine block.

    `metrics` are the current script's (development segment only). `tag` and `reasons` are
    the verdict on it. `archive` holds other versions, worst first, each as (Pine source or a
    one-line description, its metrics); a source is shown in full. `tried_summaries` lists
    behaviours that already exist or ideas already tried. `last_error` says why the previous
    reply could not be used (no script, did not compile, duplicate, ...).
    """
    parts: list[str] = ["## Current script: backtest results", *_metric_lines(metrics)]
    if tag:
        parts.append(f"- Verdict: {tag}")
    if reasons:
        parts += ["", "Why:", *(f"- {reason}" for reason in reasons)]

    parts += ["", "## Targets (all must hold)"]
    parts += [_target_line(k, v) for k, v in targets.items()] or ["- none given: improve net "
                                                                   "profit at lower drawdown"]

    if archive:
        parts += ["", "## Other versions, from worst to best",
                  "Learn from what the better ones do differently."]
        for number, (source, version_metrics) in enumerate(archive, start=1):
            is_code = "\n" in source.strip()
            heading = f"### Version {number}" + ("" if is_code else f": {source.strip()}")
            parts += ["", heading, _metric_summary(version_metrics)]
            if is_code:
                parts.append(_fenced(source))

    if tried_summaries:
        parts += ["", "## Already tried or already present (do something different)",
                  *(f"- {summary}" for summary in tried_summaries)]

    if previous_comment:
        parts += ["", "## Your previous comment", previous_comment.strip()]

    if last_error:
        parts += ["", "## Your previous reply could not be used",
                  last_error.strip(), "Avoid this in the new version."]

    parts += ["", "## Current script", _fenced(current_pine), "",
              "Write the next version of this script to meet the targets. Reply with a short "
              "explanation, then ONE complete Pine v6 strategy script in a ```pine block."]
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "\n".join(parts)}]
