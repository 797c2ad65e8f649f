"""The HTML report: one self-contained file, readable offline and safe to mail.

Inline CSS, charts embedded as base64 PNG data URIs, no scripts, no fonts, no links out: the
file shows the same everywhere and loads nothing. The same charts are also written as PNG
files next to it (`<base>_<chart>.png`) for slides and chats.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from tvdesk import __version__
from tvdesk.fileio import write_bytes_atomically, write_text_atomically
from tvdesk.reports.chart_table import header as chart_header
from tvdesk.reports.data import ReportData, TrialSummary, ranked
from tvdesk.reports.labels import (
    HEADLINE_METRICS,
    KEY_METRICS,
    column_header,
    flatten_settings,
    format_metric,
    format_plain,
    format_robustness,
    label,
    reason_text,
    settings_summary,
)
from tvdesk.reports.txt import NOTABLE_EVENTS, condition_name, event_text, fmt_time

CHART_CAPTIONS = {
    "equity": "Equity of the best trial (the first card's) with buy & hold and, when it was "
              "checked, its holdout; drawdown from the running peak below.",
    "monthly_returns": "Return of each month of the best trial (last column: the year).",
    "trade_pnl": "Distribution of the best trial's trade results.",
    "iterations": "Every in-sample trial in the order it started, with the best so far.",
    "parameters": "Best result per cell over the two inputs with the most distinct values "
                  "(framed: the best trial).",
    "watchlist_equity": "Equity of the best trial (the first card's) on each chart of the "
                        "watchlist, as the optimiser kept it (thinned); dotted: the initial "
                        "capital.",
}
TAG_COLOURS = {"GOOD": "#089981", "NORMAL": "#787b86", "RISK": "#ff9800", "OVERFIT": "#f23645"}
MAX_TRIAL_ROWS = 5000
TABLE_EXTRAS = ("sharpe_daily", "sqn")
"""tvdesk's own statistics shown in the HTML trials table (the workbook and CSV have all)."""

_CSS = """
:root { --ink: #131722; --muted: #6a6d78; --line: #e0e3eb; --bg: #f8f9fd; --blue: #2962ff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
       sans-serif; color: var(--ink); background: var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 20px 60px; }
header h1 { font-size: 24px; margin: 0 0 4px; }
header p { margin: 2px 0; color: var(--muted); }
nav { margin: 14px 0 6px; }
nav a { color: var(--blue); margin-right: 14px; text-decoration: none; font-weight: 500; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
          padding: 16px 20px; margin: 18px 0; }
h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 16px 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left;
         vertical-align: top; overflow-wrap: break-word; }
.kv td { overflow-wrap: anywhere; }  /* a long path or list may break anywhere */
th { background: #f0f3fa; font-weight: 600; vertical-align: bottom; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;
         overflow-wrap: normal; }
th.num { text-align: right; }
/* A table wider than its section scrolls sideways inside it instead of being cut off; the
   shadows at the edges show there is more (pure CSS: the report runs no scripts). */
.table-wrap { overflow-x: auto; max-width: 100%;
  background: linear-gradient(to right, #fff 30%, rgba(255,255,255,0)) left / 40px 100%,
    linear-gradient(to left, #fff 30%, rgba(255,255,255,0)) right / 40px 100%,
    radial-gradient(farthest-side at 0 50%, rgba(0,0,0,.18), rgba(0,0,0,0)) left / 14px 100%,
    radial-gradient(farthest-side at 100% 50%, rgba(0,0,0,.18), rgba(0,0,0,0)) right / 14px 100%;
  background-repeat: no-repeat; background-attachment: local, local, scroll, scroll; }
.scroll { max-height: 640px; overflow-y: auto; }
.scroll table { width: auto; min-width: 100%; }
.scroll th { position: sticky; top: 0; z-index: 2; min-width: 64px; max-width: 140px;
             overflow-wrap: normal; }
.scroll td:first-child, .scroll th:first-child { position: sticky; left: 0; z-index: 1;
             background: #fff; }
.scroll th:first-child { z-index: 3; background: #f0f3fa; }
@media print {
  .table-wrap, .scroll { overflow: visible; max-height: none; background: none; }
  .scroll th, .scroll td:first-child, .scroll th:first-child { position: static; }
  table, .scroll table { width: 100%; font-size: 9px; }
  th, td { padding: 2px 4px; }
  td.num { white-space: normal; }
}
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr));
         gap: 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card h3 { margin-top: 0; }
.kv td:first-child { color: var(--muted); width: 45%; }
.tag { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
       font-size: 12px; font-weight: 600; background: #787b86; }
.neg { color: #f23645; } .pos { color: #089981; }
figure { margin: 0 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px;
             background: #fff; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
ul.reasons { margin: 6px 0 0; padding-left: 18px; }
.muted { color: var(--muted); }
details summary { cursor: pointer; color: var(--blue); margin: 8px 0; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 30px; }
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _tag(tag: str | None) -> str:
    name = tag or "untagged"
    colour = TAG_COLOURS.get(name, "#9598a1")
    return f'<span class="tag" style="background:{colour}">{_e(name)}</span>'


def _signed(key: str, metrics: Mapping[str, Any], currency: str) -> str:
    """A trial's metric, coloured by sign for profits; an undefined one says why
    ("no losing trades", see `format_metric`)."""
    value = metrics.get(key)
    text = _e(format_metric(key, metrics, currency))
    if key.startswith(("net_profit", "avg_trade")) and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        css = "pos" if value > 0 else "neg" if value < 0 else ""
        return f'<span class="{css}">{text}</span>' if css else text
    return text


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int] | None = None,
           css: str = "", wrap: str = "table-wrap") -> str:
    """A table in a `wrap` container: every table scrolls sideways inside its section when it
    is wider (never cut off at the right edge)."""
    numeric = numeric or set()
    head = "".join(f'<th class="num">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>"
                   for i, h in enumerate(header))
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                        for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    cls = f' class="{css}"' if css else ""
    return (f'<div class="{wrap}"><table{cls}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _kv(rows: Iterable[tuple[str, str]], numeric: bool = True) -> str:
    value_class = ' class="num"' if numeric else ""
    body = "".join(f"<tr><td>{_e(k)}</td><td{value_class}>{v}</td></tr>" for k, v in rows)
    return f'<div class="table-wrap"><table class="kv"><tbody>{body}</tbody></table></div>'


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --------------------------------------------------------------------------- sections


def _header(data: ReportData) -> str:
    run = data.run
    tz = data.zone
    lines = []
    if run.kind == "optimization":
        lines.append(f"Run <b>{_e(run.id)}</b> · {_e(run.engine)} engine · {_e(run.status)}")
        lines.append(f"Created {_e(fmt_time(run.created_at, tz))} · finished "
                     f"{_e(fmt_time(run.finished_at, tz))}")
        in_sample = len(data.in_sample())
        holdout = sum(1 for t in data.trials if t.segment == "holdout")
        lines.append(f"{len(data.trials)} trials ({in_sample} in sample, {holdout} holdout) · "
                     f"ranked by {_e(label(data.rank_metric))}")
    else:
        lines.append(f"Single backtest · {_e(run.engine)} engine")
    if run.is_watchlist:
        lines.append(f"{_e(run.watchlist_text())} · times in {_e(run.timezone)}")
    elif run.symbol or run.timeframe:
        lines.append(f"{_e(run.symbol)} {_e(run.timeframe)} · times in {_e(run.timezone)}")
    paragraphs = "".join(f"<p>{line}</p>" for line in lines)
    return (f"<header><h1>{_e(run.strategy_title)}</h1>{paragraphs}</header>")


def _single(data: ReportData) -> bool:
    """A single backtest without verdicts: no tags or trials table to show."""
    return data.run.kind == "backtest" and not any(t.tag for t in data.trials)


def _nav(data: ReportData, charts: Mapping[str, bytes]) -> str:
    links = [("best", "Result" if data.run.kind == "backtest" else "Best trials")]
    if _other_chart_trials(data):
        links.append(("per-chart", "Per chart"))
    if charts:
        links.append(("charts", "Charts"))
    if not _single(data):
        links += [("tags", "Tags")]
    links += [("robustness", "Robustness")]
    if not _single(data):
        links += [("trials", "Trials")]
    if data.timeline:
        links.append(("events", "Events"))
    links.append(("settings", "Settings"))
    return "<nav>" + "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in links) + "</nav>"


def _reasons(reasons: Sequence[str]) -> str:
    items = "".join(f"<li>{_e(reason_text(r))}</li>" for r in reasons)
    return f'<ul class="reasons">{items}</ul>'


def _metrics_table(data: ReportData, trial: TrialSummary, check: TrialSummary | None) -> str:
    """The headline metrics; with a finished holdout trial, its out-of-sample value beside
    each in-sample one, which is what tells a robust trial from a lucky fit."""
    cur = data.run.currency
    keys = [k for k in HEADLINE_METRICS if k in trial.metrics]
    if check is None or check.status != "done":
        return _kv((label(k), _signed(k, trial.metrics, cur)) for k in keys)
    rows = [(_e(label(k)), _signed(k, trial.metrics, cur), _signed(k, check.metrics, cur))
            for k in keys]
    return _table(["Metric", f"In sample (trial #{trial.id})",
                   f"Holdout, out of sample (trial #{check.id})"], rows, {1, 2}, "kv")


def _holdout_note(data: ReportData, trial: TrialSummary, check: TrialSummary | None) -> str:
    """Why a card has no out-of-sample column, when the run kept a holdout."""
    if data.run.kind != "optimization" or not data.run.settings.get("holdout"):
        return ""
    if check is None:
        return '<p class="muted">No holdout (out-of-sample) result for this trial.</p>'
    if check.status != "done":
        return (f'<p class="muted">Its holdout run (trial #{check.id}) did not finish: '
                f"{_e(check.error or check.status)}.</p>")
    return ""


def _rank_note(data: ReportData, trial: TrialSummary) -> str:
    """Says so when the card's trial is not its condition's best by the rank metric: the
    holdout is run for the optimiser's pick (best by its objective within the targets)."""
    best = data.best_by_condition().get(trial.condition)
    if best is None or best.id == trial.id:
        return ""
    metric = data.rank_metric
    return (f'<p class="muted">Trial #{best.id} has a higher {_e(label(metric))} in sample '
            f"({_e(format_metric(metric, best.metrics, data.run.currency))}) but no holdout "
            f"result: the holdout is run for the optimiser's pick, this trial (its best by the "
            f"objective within the targets).</p>")


def _chart_table(data: ReportData, trial: TrialSummary) -> str:
    """A watchlist trial's result on each chart: the rows every tvdesk shell shows
    (`tvdesk.reports.chart_table`, as `tvdesk.viewmodels.watchlist`), net profit coloured."""
    rows = []
    for result, row in zip(data.chart_results(trial), data.chart_table(trial), strict=True):
        net = result.metrics.get("net_profit_percent")
        cells = [_e(cell) for cell in row]
        if isinstance(net, (int, float)) and not isinstance(net, bool) and net:
            cells[1] = f'<span class="{"pos" if net > 0 else "neg"}">{cells[1]}</span>'
        cells[-1] = _tag(row[-1])
        rows.append(cells)
    head = chart_header()
    return _table(head, rows, set(range(1, len(head) - 1)), "per-chart")


def _chart_tables(data: ReportData, trial: TrialSummary, check: TrialSummary | None) -> str:
    """The per-chart tables of a card: the trial's, then its holdout's."""
    if not data.chart_results(trial):
        return ""
    parts = [f"<h3>Per chart ({len(data.chart_results(trial))} charts)</h3>",
             _chart_table(data, trial)]
    if check is not None and data.chart_results(check):
        parts += [f"<h3>Holdout per chart (trial #{check.id})</h3>", _chart_table(data, check)]
    return "".join(parts)


def _trial_card(data: ReportData, trial: TrialSummary, heading: str) -> str:
    parts = [f"<h3>{_e(heading)} {_tag(trial.tag)}</h3>"]
    if data.run.kind == "optimization":
        parts.append(f'<p class="muted">Trial #{trial.id} · worker {trial.worker} · iteration '
                     f"{trial.iteration} · {_e(trial.proposer)}</p>")
        parts.append(_rank_note(data, trial))
    if trial.inputs:
        parts.append(_kv((k, _e(format_plain(v))) for k, v in trial.inputs.items()))
    check = data.holdout_of(trial)
    parts.append("<h3>Metrics</h3>" + _metrics_table(data, trial, check)
                 + _holdout_note(data, trial, check) + _chart_tables(data, trial, check))
    if trial.reasons:
        parts.append(f"<h3>Reasons</h3>{_reasons(trial.reasons)}")
    if check is not None and check.reasons and tuple(check.reasons) != tuple(trial.reasons):
        parts.append(f"<h3>Holdout reasons {_tag(check.tag)}</h3>{_reasons(check.reasons)}")
    return f'<div class="card">{"".join(parts)}</div>'


def _best(data: ReportData) -> str:
    if data.run.kind != "optimization":
        heading = " ".join(x for x in (data.run.symbol, data.run.timeframe) if x) or "Backtest"
        cards = [_trial_card(data, t, heading) for t in data.trials[:1]]
        title = "Result"
    else:
        cards = [_trial_card(data, t, condition_name(c).capitalize())
                 for c, t in data.headline_by_condition().items()]
        title = "Best trial per condition, in sample and on the holdout"
    if not cards:
        cards = ['<p class="muted">No finished trial has this metric.</p>']
    warnings: dict[str, list[int]] = {}
    for trial, result in data.details:
        for warning in result.warnings:
            warnings.setdefault(warning, []).append(trial.id)
    notes = ""
    if warnings:
        items = "".join(f"<li>{_e(w)} <span class=\"muted\">(trial "
                        f"{', '.join(f'#{i}' for i in ids)})</span></li>"
                        for w, ids in warnings.items())
        notes = f'<h3>Warnings</h3><ul class="reasons">{items}</ul>'
    return (f'<section id="best"><h2>{_e(title)}</h2><div class="cards">{"".join(cards)}'
            f"</div>{notes}</section>")


def _other_chart_trials(data: ReportData) -> list[TrialSummary]:
    """The detailed watchlist trials whose per-chart results no card shows."""
    shown: set[int] = set()
    if data.run.kind == "optimization":
        for trial in data.headline_by_condition().values():
            shown.add(trial.id)
            check = data.holdout_of(trial)
            if check is not None:
                shown.add(check.id)
    return [t for t, _r in data.details if t.id not in shown and data.chart_results(t)]


def _per_chart(data: ReportData) -> str:
    """The per-chart results of the other trials the report details (the next best and
    their holdouts), one table each."""
    trials = _other_chart_trials(data)
    if not trials:
        return ""
    parts = []
    for trial in trials:
        what = "holdout" if trial.segment == "holdout" else "in sample"
        checked = data.in_sample_of(trial) if trial.segment == "holdout" else None
        of = f" of trial #{checked.id}" if checked is not None else ""
        parts.append(f"<h3>Trial #{trial.id} · {what}{of} · "
                     f"{_e(label(data.rank_metric))} "
                     f"{_e(format_metric(data.rank_metric, trial.metrics, data.run.currency))} "
                     f"{_tag(trial.tag)}</h3>{_chart_table(data, trial)}")
    return (f'<section id="per-chart"><h2>Per chart: the other trials shown in full</h2>'
            f'<p class="muted">{_e(data.run.watchlist_text())}.</p>{"".join(parts)}</section>')


def _charts(charts: Mapping[str, bytes], data: ReportData) -> str:
    if not charts:
        return ""
    figures = []
    for name, png in charts.items():
        caption = CHART_CAPTIONS.get(name, "")
        figures.append(f'<figure><img src="{data_uri(png)}" alt="{_e(name.replace("_", " "))}">'
                       f"<figcaption>{_e(caption)}</figcaption></figure>")
    return f'<section id="charts"><h2>Charts</h2>{"".join(figures)}</section>'


def _tags(data: ReportData) -> str:
    """Trials by tag with their most common reasons; counted by `ReportData.trials_by_tag`,
    the same count the Robustness section shows."""
    rows = []
    for tag, trials in data.trials_by_tag().items():
        reasons: dict[str, int] = {}
        for trial in trials:
            for reason in trial.reasons:
                text = reason_text(reason)
                reasons[text] = reasons.get(text, 0) + 1
        top = sorted(reasons.items(), key=lambda i: (-i[1], i[0]))[:5]
        text = "<br>".join(f"{n} × {_e(r)}" for r, n in top) or '<span class="muted">—</span>'
        rows.append((_tag(tag if tag != "untagged" else None), str(len(trials)), text))
    statuses = ", ".join(f"{n} {_e(s)}" for s, n in data.status_counts().items())
    table = _table(["Tag", "In-sample trials", "Most common reasons"], rows, {1})
    return (f'<section id="tags"><h2>Tags</h2>{table}'
            f'<p class="muted">A holdout trial carries the tag of the trial it checked and is '
            f"not counted again. Trial status: {statuses}</p></section>")


def _robustness(data: ReportData) -> str:
    if not data.robustness:
        body = ('<p class="muted">No run-level statistics (probability of backtest overfitting, '
                "deflated Sharpe ratio) in this report.</p>")
    else:
        rows = []
        for key, value in data.robustness_items():
            if isinstance(value, Mapping):
                for sub, item in value.items():
                    rows.append((f"{label(key)}: {sub}", _e(format_robustness(key, item))))
            else:
                rows.append((label(key), _e(format_robustness(key, value))))
        body = _kv(rows)
    return f'<section id="robustness"><h2>Robustness</h2>{body}</section>'


def _trials(data: ReportData) -> str:
    cur = data.run.currency
    inputs = data.input_names()
    extras = data.extra_metric_keys()
    metrics = list(KEY_METRICS) + [k for k in TABLE_EXTRAS if k in extras]
    header = ["Trial", "Condition", "Segment", "Status", *inputs,
              *[column_header(k, cur) for k in metrics], "Tag"]
    first = 4 + len(inputs)
    numeric = {0} | set(range(first, first + len(metrics)))
    order = ranked(data.trials, data.rank_metric)
    ranked_ids = {t.id for t in order}
    order += [t for t in data.trials if t.id not in ranked_ids]
    rows = []
    for t in order[:MAX_TRIAL_ROWS]:
        rows.append((str(t.id), _e(t.condition or "—"), _e(t.segment), _e(t.status),
                     *[_e(format_plain(t.inputs.get(n))) for n in inputs],
                     *[_signed(k, t.metrics, cur) if k in t.metrics else "" for k in
                       metrics], _tag(t.tag) if t.tag else ""))
    more = ""
    if len(order) > MAX_TRIAL_ROWS:
        more = (f'<p class="muted">The best {MAX_TRIAL_ROWS:,} of {len(order):,} trials are '
                f"shown; the workbook and the CSV have all of them.</p>")
    return (f'<section id="trials"><h2>Trials (best {_e(label(data.rank_metric))} first)</h2>'
            f'{_table(header, rows, numeric, wrap="table-wrap scroll")}{more}</section>')


def _events(data: ReportData) -> str:
    events = [e for e in data.timeline if e.kind in NOTABLE_EVENTS]
    if not events:
        return ""
    tz = data.zone
    rows = [(_e(fmt_time(e.at, tz)), _e(e.kind), _e(event_text(e.kind, e.payload)))
            for e in events]
    return (f'<section id="events"><h2>Events</h2>{_table(["Time", "Event", "Details"], rows)}'
            f"</section>")


def _settings(data: ReportData) -> str:
    run = data.run
    summary = settings_summary(run.settings) if run.kind == "optimization" else []
    flat = flatten_settings(run.settings)
    parts = []
    if summary:
        parts.append(_kv(((name, _e(text)) for name, text in summary), numeric=False))
    all_rows = _kv(((key, _e(format_plain(value))) for key, value in flat), numeric=False)
    if summary:
        parts.append(f"<details><summary>All settings ({len(flat)})</summary>{all_rows}"
                     f"</details>")
    else:
        parts.append(all_rows)
    return f'<section id="settings"><h2>Settings</h2>{"".join(parts)}</section>'


def render_html(data: ReportData, charts: Mapping[str, bytes]) -> str:
    """The whole report as one HTML document; `charts` from `render_charts(data)`."""
    run = data.run
    title = f"{run.strategy_title} — tvdesk report"
    single = _single(data)
    body = "".join([
        _header(data), _nav(data, charts), _best(data), _per_chart(data),
        _charts(charts, data),
        "" if single else _tags(data), _robustness(data), "" if single else _trials(data),
        _events(data), _settings(data),
        f"<footer>Generated {_e(fmt_time(data.generated_at, data.zone))} by tvdesk "
        f"{_e(__version__)}. Metric names are TradingView's; names ending in “tvdesk” are "
        f"tvdesk's own statistics.</footer>",
    ])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n")


def chart_paths(html_path: Path, charts: Iterable[str]) -> dict[str, Path]:
    """Where each chart's PNG goes next to the HTML file: `<base>_<chart>.png`."""
    return {name: html_path.with_name(f"{html_path.stem}_{name}.png") for name in charts}


def write_html(data: ReportData, path: str | Path,
               charts: Mapping[str, bytes] | None = None) -> list[Path]:
    """The HTML file and its PNG files, each written atomically; returns every path."""
    from tvdesk.reports.charts import render_charts

    target = Path(path)
    charts = render_charts(data) if charts is None else charts
    text = render_html(data, charts)
    written = [write_bytes_atomically(p, charts[name])
               for name, p in chart_paths(target, charts).items()]
    written.insert(0, write_text_atomically(target, text))
    return written
