"""The trial timeline as CSV: one row per trial in start order, for spreadsheets and scripts.

Columns: start and finish time (ISO 8601 with the offset, in the chart's timezone), seconds,
trial, worker, condition, iteration, proposer, segment, status, one column per input, the key
metrics under TradingView's labels, tvdesk's own per-trial statistics, tag and reasons.
UTF-8 with a byte-order mark, like TradingView's own CSV exports, so spreadsheet programs read
non-ASCII input titles correctly.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from tvdesk.fileio import write_text_atomically
from tvdesk.reports.data import ReportData, TrialSummary
from tvdesk.reports.labels import KEY_METRICS, column_header, finite, input_headers

FIXED = ("Started", "Finished", "Seconds", "Trial", "Worker", "Condition", "Iteration",
         "Proposer", "Segment", "Status")


def _time(moment: datetime | None, data: ReportData) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(data.zone)
    return moment.isoformat(timespec="seconds")


def _input(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def _metric(trial: TrialSummary, key: str) -> Any:
    if key not in trial.metrics:
        return ""
    value = trial.metrics[key]
    number = finite(value)
    if number is None:
        return "N/A" if value is None or isinstance(value, float) else value
    return repr(number) if not float(number).is_integer() else int(number)


def render_csv(data: ReportData) -> str:
    inputs = data.input_names()
    metrics = list(KEY_METRICS) + data.extra_metric_keys()
    input_columns = input_headers(inputs, FIXED)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FIXED, *input_columns,
                     *[column_header(k, data.run.currency) for k in metrics], "Tag", "Reasons"])
    order = sorted(data.trials, key=lambda t: (t.started_at is None,
                                               t.started_at.timestamp() if t.started_at else 0,
                                               t.id))
    for t in order:
        writer.writerow([
            _time(t.started_at, data), _time(t.finished_at, data),
            "" if t.seconds is None else round(t.seconds, 6), t.id, t.worker,
            t.condition or "", t.iteration, t.proposer, t.segment, t.status,
            *[_input(t.inputs.get(name)) for name in inputs],
            *[_metric(t, key) for key in metrics], t.tag or "", "; ".join(t.reasons)])
    return "\ufeff" + buffer.getvalue()


def write_csv(data: ReportData, path: str | Path) -> Path:
    return write_text_atomically(path, render_csv(data))
