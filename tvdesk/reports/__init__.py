"""Reports of a run or a single backtest: text, XLSX, HTML with charts, CSV timeline, JSON.

    data = report_from_store(store, run_id, top=5)        # or report_from_result(result, ...)
    paths = write_reports(data, out_dir, ("txt", "xlsx", "html"),
                          json_document=store.export_json(run_id))

Writers read only the pure-data `ReportData` (see `data`; `builders` fills it from the store or
a result), never the store. `FORMATS` is the one list of report formats; the application and
the CLI check their format arguments against it. Every file is
named `<strategy>_<YYYYmmdd-HHMMSS>.<ext>` (see `naming`) and written atomically: everything is
rendered in memory first, then each file goes to a temporary file in the target folder and is
renamed over its name, so a failure while rendering writes nothing at all and a crash while
writing never leaves half a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tvdesk.errors import InputError
from tvdesk.fileio import write_bytes_atomically, write_text_atomically
from tvdesk.reports.builders import report_from_result, report_from_store
from tvdesk.reports.data import (
    EquitySeries,
    ReportData,
    RunSummary,
    TimelineEvent,
    TrialSummary,
)
from tvdesk.reports.naming import default_reports_dir, report_base
from tvdesk.reports.tradingview_workbook import write_tradingview_xlsx

FORMATS: tuple[str, ...] = ("txt", "xlsx", "html", "csv", "json")
"""Every format `write_reports` knows, in the order it writes them."""

__all__ = [
    "FORMATS",
    "EquitySeries",
    "ReportData",
    "RunSummary",
    "TimelineEvent",
    "TrialSummary",
    "default_reports_dir",
    "report_from_result",
    "report_from_store",
    "write_reports",
    "write_tradingview_xlsx",
]


def _check_formats(formats: Iterable[str]) -> list[str]:
    wanted: list[str] = []
    for name in formats:
        key = str(name).strip().lower().lstrip(".")
        if key not in FORMATS:
            raise InputError(f"unknown report format {name!r}; valid formats are "
                             f"{', '.join(FORMATS)}", column="format")
        if key not in wanted:
            wanted.append(key)
    return wanted


def json_snapshot(data: ReportData) -> dict[str, Any]:
    """The JSON document of a report when none is given: a single backtest's result
    document, or the report's own data."""
    if data.run.kind == "backtest" and data.details:
        return data.details[0][1].to_dict()
    return data.to_dict()


def write_reports(data: ReportData, out_dir: str | Path,
                  formats: Iterable[str] = FORMATS, *,
                  json_document: Mapping[str, Any] | None = None) -> list[Path]:
    """Write the report in each format to `out_dir`; returns every file written.

    `json_document` is the JSON snapshot (`store.export_json(run_id)` for a run); without it a
    single backtest's `result.to_dict()` or the report's own data is written. The HTML report
    also writes its charts as PNG files next to it. Unknown formats raise InputError naming
    the valid ones, before anything is written.
    """
    wanted = _check_formats(formats)
    folder = Path(out_dir)
    base = report_base(data.run.strategy_title, data.generated_at)
    rendered: list[tuple[Path, str | bytes]] = []

    def add(name: str, content: str | bytes) -> None:
        rendered.append((folder / name, content))

    for fmt in wanted:
        if fmt == "txt":
            from tvdesk.reports.txt import render_txt

            add(f"{base}.txt", render_txt(data))
        elif fmt == "xlsx":
            from tvdesk.reports.run_workbook import render_xlsx

            add(f"{base}.xlsx", render_xlsx(data))
        elif fmt == "html":
            from tvdesk.reports.charts import render_charts
            from tvdesk.reports.html import chart_paths, render_html

            charts = render_charts(data)
            add(f"{base}.html", render_html(data, charts))
            for name, path in chart_paths(folder / f"{base}.html", charts).items():
                add(path.name, charts[name])
        elif fmt == "csv":
            from tvdesk.reports.csv_timeline import render_csv

            add(f"{base}.csv", render_csv(data))
        elif fmt == "json":
            import json

            document = json_document if json_document is not None else json_snapshot(data)
            add(f"{base}.json", json.dumps(document, indent=2, ensure_ascii=False,
                                           allow_nan=False, default=str) + "\n")
    written: list[Path] = []
    for path, content in rendered:
        if isinstance(content, bytes):
            written.append(write_bytes_atomically(path, content))
        else:
            written.append(write_text_atomically(path, content))
    return written

