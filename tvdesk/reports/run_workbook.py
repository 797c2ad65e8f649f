"""The run's XLSX report: every trial on one sheet, the detailed trials side by side.

`render_xlsx(data)` builds the workbook of a `ReportData`:
- `Summary`: one row per trial (ids, every input as its own column, key metrics under
  TradingView's labels, tag and reasons);
- the first trial the report details (its best by the ranking metric) in TradingView's own
  five sheets, prefixed with its id (`T12 Performance`, `T12 Trades analysis`,
  `T12 Risk-adjusted performance`, `T12 List of trades`, `T12 Properties`), laid out exactly
  as TradingView's export (`tvdesk.reports.tradingview_workbook`): the trader sees the top
  trial as TradingView shows it, and `tvdesk import` reads the workbook back as that trial;
- when the report details more than one trial (each condition's best, the next best, each
  with its holdout trial): `Trial metrics`, `Trial trades` and `Trial properties`, each one
  long table of every detailed trial, led by the trial's id, segment, condition and, for a
  holdout trial, the in-sample trial it checked;
- `Chart results` (a watchlist run): each detailed trial's result on each chart of the
  watchlist, the columns and tag of the per-chart table the CLI, GUI and other reports show
  (`tvdesk.reports.chart_table`), as numbers;
- `Timeline`: one row per trial in start order; `Robustness` when there are run statistics;
- `Settings`: the run's settings flattened to key / value, secrets dropped.

Why long tables and not TradingView's five sheets per detailed trial: five sheets for each of
the best trials and their holdouts made workbooks of 30 to 50 tabs no one could find their
way through, and comparing one metric across trials, or a trial in sample with its holdout,
meant opening a sheet per trial. A `Trial` column keeps the workbook at a dozen sheets
whatever the report's `top`, and a sheet's filter answers those questions in one place.
Every sheet is a filtered table that prints readably (see `tvdesk.reports.xlsx_sheets`);
undefined metrics are empty cells, so number columns stay numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from tvdesk.fileio import write_bytes_atomically
from tvdesk.reports.chart_table import COLUMNS as CHART_COLUMNS
from tvdesk.reports.chart_table import NUMBER_FORMATS, chart_values
from tvdesk.reports.chart_table import header as chart_header
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
from tvdesk.reports.tradingview_workbook import (
    METRIC_SHEETS,
    SHEETS,
    TRADE_FORMATS,
    TRADE_HEADERS,
    add_tradingview_sheets,
    metric_columns,
    metric_sheet_rows,
    properties_rows,
    result_trade_rows,
)
from tvdesk.reports.xlsx_sheets import (
    COUNT,
    INTEGER,
    PERCENT_SIGN,
    Styled,
    metric_value,
    naive,
    workbook_bytes,
    write_sheet,
)

_FIXED = ("Trial", "Condition", "Worker", "Iteration", "Proposer", "Segment", "Status")
_FIXED_FORMATS = {0: INTEGER, 2: INTEGER, 3: INTEGER}
_DETAIL_KEYS = ("Trial", "Segment", "Condition", "Holdout of trial")
_DETAIL_FORMATS = {0: INTEGER, 3: INTEGER}
DETAIL_SHEETS = ("Trial metrics", "Trial trades", "Trial properties")
"""The long tables of every detailed trial (names no export reader takes for its own)."""
CHART_SHEET = "Chart results"
"""A watchlist run's per-chart results of every detailed trial."""


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
    """A metric's cell: the number, or empty when missing or undefined (never text)."""
    return metric_value(trial.metrics.get(key))


def summary_formats(inputs: Sequence[str], metrics: Sequence[str]) -> dict[int, str]:
    """Number formats of the Summary's columns: ids as integers, each metric in its unit."""
    first_metric = len(_FIXED) + len(inputs)
    return {**_FIXED_FORMATS,
            **{first_metric + i: number_format(k) for i, k in enumerate(metrics)}}


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
                {0: "yyyy-mm-dd hh:mm:ss", 1: "yyyy-mm-dd hh:mm:ss", 2: "0.000", 3: INTEGER,
                 4: INTEGER, 6: INTEGER, 10: number_format(metric), 11: PERCENT_SIGN,
                 12: number_format(metric)}, freeze="B2")


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
    if run.is_watchlist:
        rows += [["run.watchlist", run.watchlist_text()]]
    rows += [[key, value] for key, value in flatten_settings(run.settings)]
    write_sheet(book, "Settings", ["Key", "Value"], [r for r in rows if r[1] is not None],
                max_width=80)


def _stamp(moment: datetime | None, fmt: str) -> Any:
    return None if moment is None else Styled(moment, fmt)


def _plain_number(value: Any) -> Any:
    """A statistic cell: whole numbers without decimals, fractions with three, undefined
    (NaN, infinite) empty."""
    if isinstance(value, bool) or not is_number(value):
        return _cell_input(value)
    if metric_value(value) is None:
        return None
    return Styled(value, COUNT if isinstance(value, int) else "0.000")


def _robustness(book: Workbook, data: ReportData) -> None:
    rows = []
    for key, value in data.robustness_items():
        if isinstance(value, Mapping):
            for sub, item in value.items():
                rows.append([f"{label(key)}: {sub}", _plain_number(item), f"{key}.{sub}"])
        else:
            rows.append([label(key), _plain_number(value), key])
    write_sheet(book, "Robustness", ["Statistic", "Value", "Key"], rows)


def _detail_key(data: ReportData, trial: TrialSummary) -> list[Any]:
    """The cells that lead a detailed trial's rows: id, segment, condition, checked trial."""
    checked = data.in_sample_of(trial) if trial.segment == "holdout" else None
    return [trial.id, trial.segment, trial.condition, checked.id if checked else None]


def trial_metric_rows(data: ReportData) -> list[list[Any]]:
    """Every detailed trial's metrics as TradingView's three metric sheets list them, one
    row per metric, in one table (undefined values empty)."""
    rows = []
    for trial, result in data.details:
        key = _detail_key(data, trial)
        for sheet in SHEETS[:3]:
            rows += [[*key, sheet, *row]
                     for row in metric_sheet_rows(result, METRIC_SHEETS[sheet], None)]
    return rows


def _trial_metrics(book: Workbook, data: ReportData) -> None:
    header = [*_DETAIL_KEYS, "Section", "Metric", *metric_columns(data.run.currency)]
    write_sheet(book, DETAIL_SHEETS[0], header, trial_metric_rows(data), _DETAIL_FORMATS,
                freeze=f"{get_column_letter(len(_DETAIL_KEYS) + 3)}2")


def _trial_trades(book: Workbook, data: ReportData) -> None:
    """Every detailed trial's List of trades (two rows per trade, exit first) in one table."""
    header = [*_DETAIL_KEYS, *(h.format(cur=data.run.currency) for h in TRADE_HEADERS)]
    rows = [[*_detail_key(data, trial), *row] for trial, result in data.details
            for row in result_trade_rows(result, data.zone)]
    shift = len(_DETAIL_KEYS)
    formats = {**_DETAIL_FORMATS, **{shift + i: f for i, f in TRADE_FORMATS.items()},
               shift: INTEGER}
    write_sheet(book, DETAIL_SHEETS[1], header, rows, formats,
                freeze=f"{get_column_letter(shift + 3)}2")


def _trial_properties(book: Workbook, data: ReportData) -> None:
    rows = [[*_detail_key(data, trial), *row] for trial, result in data.details
            for row in properties_rows(result, data.zone)]
    write_sheet(book, DETAIL_SHEETS[2], [*_DETAIL_KEYS, "Name", "Value"], rows,
                _DETAIL_FORMATS, freeze=f"{get_column_letter(len(_DETAIL_KEYS) + 2)}2")


def chart_result_rows(data: ReportData) -> list[list[Any]]:
    """Every detailed watchlist trial's per-chart rows, led by the trial's key cells."""
    rows = []
    for trial, _result in data.details:
        charts = data.chart_results(trial)
        values = chart_values([(c.label, c.metrics) for c in charts])
        rows += [[*_detail_key(data, trial), *row] for row in values]
    return rows


def _chart_results(book: Workbook, data: ReportData) -> None:
    shift = len(_DETAIL_KEYS)
    formats = {**_DETAIL_FORMATS, **{shift + 1 + i: NUMBER_FORMATS[unit]
                                     for i, (_key, _title, unit) in enumerate(CHART_COLUMNS)}}
    write_sheet(book, CHART_SHEET, [*_DETAIL_KEYS, *chart_header()], chart_result_rows(data),
                formats, freeze=f"{get_column_letter(shift + 2)}2")


def render_xlsx(data: ReportData) -> bytes:
    book = Workbook(write_only=True)
    headers, inputs, metrics = summary_columns(data)
    write_sheet(book, "Summary", headers, summary_rows(data, inputs, metrics),
                summary_formats(inputs, metrics), freeze="B2", max_width=50)
    if data.details:
        first, result = data.details[0]
        add_tradingview_sheets(book, result, prefix=f"T{first.id} ", tz=data.zone,
                               undefined=None)
    if len(data.details) > 1:
        _trial_metrics(book, data)
        _trial_trades(book, data)
        _trial_properties(book, data)
    if any(data.chart_results(trial) for trial, _result in data.details):
        _chart_results(book, data)
    _timeline(book, data)
    if data.robustness:
        _robustness(book, data)
    _settings(book, data)
    return workbook_bytes(book)


def write_xlsx(data: ReportData, path: str | Path) -> Path:
    return write_bytes_atomically(path, render_xlsx(data))


__all__ = [
    "CHART_SHEET",
    "DETAIL_SHEETS",
    "chart_result_rows",
    "render_xlsx",
    "summary_columns",
    "summary_formats",
    "summary_rows",
    "trial_metric_rows",
    "write_xlsx",
]
