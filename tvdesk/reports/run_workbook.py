"""The run's XLSX report: every trial on one sheet, the best trials in full, the timeline.

`render_xlsx(data)` builds the workbook of a `ReportData`:
- `Summary`: one row per trial (ids, every input as its own column, key metrics under
  TradingView's labels, tag and reasons);
- for each trial shown in full, TradingView's five sheets prefixed with the trial id
  (`T12 Performance`, `T12 Trades analysis`, `T12 Risk-adjusted performance`,
  `T12 List of trades`, `T12 Properties`), laid out exactly as TradingView's own export
  (`tvdesk.reports.tradingview_workbook`);
- `Timeline`: one row per trial in start order; `Robustness` when there are run statistics;
- `Settings`: the run's settings flattened to key / value, secrets dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from tvdesk.fileio import write_bytes_atomically
from tvdesk.reports.data import ReportData, TrialSummary
from tvdesk.reports.labels import (
    KEY_METRICS,
    column_header,
    flatten_settings,
    format_plain,
    input_headers,
    is_number,
    label,
    number_format,
)
from tvdesk.reports.tradingview_workbook import add_tradingview_sheets
from tvdesk.reports.xlsx_sheets import (
    PERCENT,
    Styled,
    metric_value,
    naive,
    workbook_bytes,
    write_sheet,
)

_FIXED = ("Trial", "Condition", "Worker", "Iteration", "Proposer", "Segment", "Status")


def summary_columns(data: ReportData) -> tuple[list[str], list[str], list[str]]:
    """(headers, input names, metric keys) of the Summary sheet, in column order."""
    inputs = data.input_names()
    metrics = list(KEY_METRICS) + data.extra_metric_keys()
    input_columns = input_headers(inputs, _FIXED)
    headers = [*_FIXED, *input_columns,
               *[column_header(k, data.run.currency) for k in metrics], "Tag", "Reasons",
               "Error"]
    return headers, inputs, metrics


def _cell_input(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return format_plain(value)


def _metric_cell(trial: TrialSummary, key: str) -> Any:
    if key not in trial.metrics:
        return None
    return metric_value(trial.metrics[key])


def summary_rows(data: ReportData, inputs: Sequence[str],
                 metrics: Sequence[str]) -> list[list[Any]]:
    rows = []
    for t in data.trials:
        rows.append([t.id, t.condition, t.worker, t.iteration, t.proposer, t.segment, t.status,
                     *[_cell_input(t.inputs.get(name)) for name in inputs],
                     *[_metric_cell(t, key) for key in metrics],
                     t.tag, "; ".join(t.reasons), t.error])
    return rows


def _timeline(book: Workbook, data: ReportData) -> None:
    tz = data.zone
    when = f" ({data.run.timezone})"
    metric = data.rank_metric
    header = ["Started" + when, "Finished" + when, "Seconds", "Trial", "Worker", "Condition",
              "Iteration", "Proposer", "Segment", "Status", column_header(metric),
              column_header("max_drawdown_percent"), "Best so far: " + column_header(metric),
              "Tag"]
    order = sorted(data.trials, key=lambda t: (t.started_at is None, t.started_at or
                                               datetime.min.replace(tzinfo=tz), t.id))
    best: dict[str | None, float] = {}
    rows = []
    for t in order:
        value = t.metric(metric)
        running = None
        if t.segment == "in_sample" and t.status == "done" and value is not None:
            best[t.condition] = max(best.get(t.condition, value), value)
        if t.segment == "in_sample":
            running = best.get(t.condition)
        rows.append([naive(t.started_at, tz), naive(t.finished_at, tz), t.seconds, t.id,
                     t.worker, t.condition, t.iteration, t.proposer, t.segment, t.status,
                     _metric_cell(t, metric), _metric_cell(t, "max_drawdown_percent"), running,
                     t.tag])
    write_sheet(book, "Timeline", header, rows,
                {0: "yyyy-mm-dd hh:mm:ss", 1: "yyyy-mm-dd hh:mm:ss", 2: "0.000",
                 10: PERCENT, 11: PERCENT, 12: PERCENT})


def _settings(book: Workbook, data: ReportData) -> None:
    run = data.run
    tz = data.zone
    stamp = "yyyy-mm-dd hh:mm:ss"
    rows: list[list[Any]] = [
        ["run.id", run.id], ["run.strategy_title", run.strategy_title],
        ["run.engine", run.engine], ["run.status", run.status],
        [f"run.created_at ({run.timezone})", _stamp(naive(run.created_at, tz), stamp)],
        [f"run.finished_at ({run.timezone})", _stamp(naive(run.finished_at, tz), stamp)],
        ["run.timezone", run.timezone],
        [f"report.generated_at ({run.timezone})", _stamp(naive(data.generated_at, tz), stamp)],
    ]
    rows += [[key, value] for key, value in flatten_settings(run.settings)]
    write_sheet(book, "Settings", ["Key", "Value"], [r for r in rows if r[1] is not None],
                max_width=80)


def _stamp(moment: datetime | None, fmt: str) -> Any:
    return None if moment is None else Styled(moment, fmt)


def _plain_number(value: Any) -> Any:
    """A statistic cell: whole numbers without decimals, fractions with three."""
    if isinstance(value, bool) or not is_number(value):
        return _cell_input(value)
    return Styled(value, "#,##0" if isinstance(value, int) else "0.000")


def _robustness(book: Workbook, data: ReportData) -> None:
    rows = []
    for key, value in data.robustness.items():
        if isinstance(value, Mapping):
            for sub, item in value.items():
                rows.append([f"{label(key)}: {sub}", _plain_number(item), f"{key}.{sub}"])
        else:
            rows.append([label(key), _plain_number(value), key])
    write_sheet(book, "Robustness", ["Statistic", "Value", "Key"], rows)


def render_xlsx(data: ReportData) -> bytes:
    book = Workbook(write_only=True)
    headers, inputs, metrics = summary_columns(data)
    first_metric = len(_FIXED) + len(inputs)
    formats = {first_metric + i: number_format(k) for i, k in enumerate(metrics)}
    write_sheet(book, "Summary", headers, summary_rows(data, inputs, metrics), formats,
                freeze="B2")
    tz = data.zone
    for trial, result in data.details:
        add_tradingview_sheets(book, result, prefix=f"T{trial.id} ", tz=tz)
    _timeline(book, data)
    if data.robustness:
        _robustness(book, data)
    _settings(book, data)
    return workbook_bytes(book)


def write_xlsx(data: ReportData, path: str | Path) -> Path:
    return write_bytes_atomically(path, render_xlsx(data))


__all__ = ["render_xlsx", "summary_columns", "summary_rows", "write_xlsx"]
