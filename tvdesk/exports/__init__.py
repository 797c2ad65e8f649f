"""Readers of TradingView's strategy-report exports (XLSX and List-of-trades CSV).

An export parses into the same `BacktestResult` as a local or a TradingView run
(`source="export"`), so reports, tags and the optimizer never care where a result came from.

    result = read_export("report.xlsx", timezone="Europe/Berlin")
    stale = export_matches(result, inputs={"Length": 14}, date_from=date(2024, 1, 1))

The format is chosen from the content, not the file name: a zip archive is an XLSX workbook,
an OLE compound file is refused as password-protected or legacy .xls, anything else is read as
CSV. Every problem with a file is an `InputError` naming the file, sheet, row and column.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tvdesk.errors import InputError
from tvdesk.exports.csv_reader import is_chart_data_csv, read_csv, read_csv_trades
from tvdesk.exports.properties import export_matches
from tvdesk.exports.xlsx_parts import CFB_MAGIC, ZIP_MAGIC
from tvdesk.exports.xlsx_reader import read_xlsx, read_xlsx_trades
from tvdesk.model import BacktestResult, Trade

__all__ = ["export_matches", "find_exports", "is_chart_data_csv", "read_export", "read_trades"]

EXPORT_SUFFIXES = (".xlsx", ".csv")

_SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


def read_export(path: str | Path, *, timezone: str = "UTC") -> BacktestResult:
    """Read an XLSX or CSV export; times become aware datetimes in `timezone` (the chart's)."""
    kind = _kind(path)
    zone = _zone(timezone)
    with gc_paused():
        return read_xlsx(path, zone) if kind == "xlsx" else read_csv(path, zone)


def find_exports(folder: str | Path) -> list[Path]:
    """The TradingView exports in a folder (XLSX and List-of-trades CSV), oldest first.

    Chart-data CSVs are market data, not results, and are left out.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    files = [p for p in root.iterdir()
             if p.is_file() and p.suffix.lower() in EXPORT_SUFFIXES
             and not (p.suffix.lower() == ".csv" and is_chart_data_csv(p))]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def read_trades(path: str | Path, *, timezone: str = "UTC") -> tuple[Trade, ...]:
    """Only the trades of an export (XLSX or CSV), sorted by trade number."""
    kind = _kind(path)
    zone = _zone(timezone)
    with gc_paused():
        return read_xlsx_trades(path, zone) if kind == "xlsx" else read_csv_trades(path, zone)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a file is parsed.

    Parsing a 10,000-trade export makes about a million small objects (cells, rows, trades)
    and no reference cycles; the collector would walk them again every few thousand
    allocations for nothing, which measured a sixth of the import time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown timezone {name!r}; expected an IANA name such as "
                         f"'UTC' or 'America/New_York'", column="timezone") from None


def _kind(path: str | Path) -> str:
    source = str(path)
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", source=source) \
            from None
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(CFB_MAGIC):
        raise InputError(
            "the file is password-protected or legacy .xls (an OLE compound file, not XLSX): "
            "remove the password or save it as .xlsx, or download the export from "
            "TradingView again", source=source)
    if Path(path).suffix.lower() in _SPREADSHEET_SUFFIXES:
        raise InputError(
            "not a spreadsheet: an XLSX file is a zip archive starting with 'PK', this file "
            "is not one (was it renamed, or saved as a web page?)", source=source)
    return "csv"
