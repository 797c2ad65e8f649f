"""Writing XLSX sheets: the sheet writer and cell conventions both tvdesk workbooks share.

The run's workbook (`tvdesk.reports.run_workbook`) and TradingView's export workbook
(`tvdesk.reports.tradingview_workbook`) write their sheets the same way: numbers are numbers,
dates are dates (wall clock in the chart's timezone, no offset, as TradingView writes them),
and every sheet is a table: a bold, frozen header row with a filter on each column, column
widths from the content, and printing set up (landscape, fitted to the page width, header
repeated on every page). An undefined metric is an empty cell in the run's workbook, so its
column stays numeric (sorting, filters and sums work); only the TradingView-shaped export
writes TradingView's "N/A" (`metric_value`). openpyxl's write-only mode keeps a 1,000-trial
run fast.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Any, NamedTuple

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.page import PageMargins

from tvdesk.reports.labels import is_number

DATE_FORMAT = "yyyy-mm-dd hh:mm"
MONEY = "#,##0.00"
PERCENT = "0.00"
PERCENT_SIGN = '0.00" %"'
"""A percent column of the run's workbook: 5.96 shows as "5.96 %" and stays the number 5.96
(Excel's own 0.00% would show 596 %, as the values are already percent)."""
INTEGER = "0"
COUNT = "#,##0"
_BOLD = Font(name="Calibri", size=11, bold=True)  # the body's font, bold
_HEAD_LEFT = Alignment(wrap_text=True, vertical="bottom")
_HEAD_RIGHT = Alignment(wrap_text=True, vertical="bottom", horizontal="right")
_WRAP = Alignment(wrap_text=True, vertical="top")
SAMPLE_ROWS = 500
"""Rows read to size the columns: enough to see every kind of value, cheap on big runs."""
READABLE_PAGE_WIDTH = 220
"""Column-width units one landscape page holds at a readable scale (about two thirds, 7 pt
text, on A4 or Letter with the margins `setup_printing` sets)."""
MAX_HEADER_LINES = 6
BOOL_FORMAT = '"TRUE";"TRUE";"FALSE"'  # LibreOffice shows bare booleans as 1 / 0


class Styled(NamedTuple):
    """A cell value with its own number format (rows whose columns mix units)."""

    value: Any
    format: str


def _width(value: Any, fmt: str | None = None) -> int:
    """Characters a cell needs: numbers as their format shows them, text as written."""
    if isinstance(value, Styled):
        value, fmt = value
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    suffix = 2 if fmt and "%" in fmt else 0
    if isinstance(value, float):
        return min(len(f"{value:,.2f}"), 18) + suffix
    if isinstance(value, int) and not isinstance(value, bool):
        return len(f"{value:,}") + suffix
    return len(str(value))


def _numeric_columns(rows: Sequence[Sequence[Any]], columns: int) -> list[bool]:
    """Whether each column holds numbers or dates (decided by its first filled cell)."""
    numeric = [False] * columns
    seen = [False] * columns
    for row in rows[:SAMPLE_ROWS]:
        for index, value in enumerate(row):
            plain = value.value if isinstance(value, Styled) else value
            if not seen[index] and plain not in (None, ""):
                seen[index] = True
                numeric[index] = is_number(plain) or isinstance(plain, (datetime, date))
    return numeric


def column_widths(header: Sequence[str], rows: Sequence[Sequence[Any]],
                  formats: Mapping[int, str], min_width: int, max_width: int) -> list[int]:
    """Widths from the content, not from the header: a header only needs its longest word
    (it wraps), so a column of short numbers under a long label stays narrow. Long text is
    capped at `max_width` and wraps in its cell."""
    columns = max([len(header), *(len(r) for r in rows[:SAMPLE_ROWS])])
    widths = [max((len(w) for w in str(h).split()), default=0) + 2 for h in header]
    widths += [0] * (columns - len(widths))
    for row in rows[:SAMPLE_ROWS]:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], _width(value, formats.get(index)) + 2)
    return [max(min_width, min(w, max_width)) for w in widths]


def _wrapped_lines(text: str, width: int) -> int:
    """Lines `text` takes when wrapped at word boundaries into `width` characters."""
    lines, used = 1, 0
    for word in text.split():
        need = len(word) if used == 0 else used + 1 + len(word)
        if used and need > width:
            lines, used = lines + 1, len(word)
        else:
            used = need
    return lines


def pages_wide(widths: Sequence[int]) -> int:
    """How many landscape pages wide a sheet prints on.

    One page when the columns fit at a readable scale; a wider sheet (the Summary of a run
    with many inputs and metrics) is spread over the fewest pages that keep the print
    readable, with the first column repeated on each page, instead of being shrunk onto one
    page where nothing can be read.
    """
    return max(1, math.ceil(sum(widths) / READABLE_PAGE_WIDTH))


def setup_printing(sheet: WriteOnlyWorksheet, widths: Sequence[int]) -> None:
    """Landscape, fitted to the page width (see `pages_wide`), as many pages down as the rows
    need, the header row (and, over several page widths, the first column) on every page,
    narrow margins, grid lines, and the sheet name and page number in the footer."""
    wide = pages_wide(widths)
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = wide
    sheet.page_setup.fitToHeight = 0  # 0: as many pages down as needed
    sheet.page_setup.pageOrder = "overThenDown"  # a row's pages are printed together
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    if wide > 1:
        sheet.print_title_cols = "A:A"
    sheet.print_options.gridLines = True
    sheet.page_margins = PageMargins(left=0.3, right=0.3, top=0.5, bottom=0.6, header=0.2,
                                     footer=0.25)
    sheet.oddFooter.center.text = "&A — page &P of &N"


def add_autofilter(sheet: WriteOnlyWorksheet, columns: int, rows: int) -> None:
    """A filter button on every header cell, over the whole table."""
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(columns, 1))}{rows + 1}"


def _header_cells(sheet: WriteOnlyWorksheet, header: Sequence[str],
                  numeric: Sequence[bool]) -> list[WriteOnlyCell]:
    cells = []
    for index, text in enumerate(header):
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = _BOLD
        cell.alignment = _HEAD_RIGHT if index < len(numeric) and numeric[index] else _HEAD_LEFT
        cells.append(cell)
    return cells


def _body_cell(sheet: WriteOnlyWorksheet, value: Any, fmt: str | None, width: int) -> Any:
    """One body cell: numbers and dates with their format, long text wrapped in its column,
    anything else as the bare value (cheapest to write)."""
    if isinstance(value, Styled):
        value, fmt = value
    if isinstance(value, float) and not math.isfinite(value):
        return None  # never a text or an invalid number in a numeric column
    if isinstance(value, bool):
        fmt = BOOL_FORMAT
    if isinstance(value, datetime):
        fmt = fmt or DATE_FORMAT
    if fmt is not None and (is_number(value) or isinstance(value, (bool, datetime))):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = fmt
        return cell
    if isinstance(value, str) and len(value) > width - 2:
        cell = WriteOnlyCell(sheet, value=value)
        cell.alignment = _WRAP
        return cell
    return value


def write_sheet(book: Workbook, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]],
                formats: Mapping[int, str] | None = None, *, freeze: str = "A2",
                min_width: int = 6, max_width: int = 60) -> WriteOnlyWorksheet:
    """One table on its own sheet: a bold, frozen header with a filter on every column,
    column widths from the content, number formats by column (`formats` maps a 0-based column
    to an Excel format), printing set up (see `setup_printing`).

    Long headers wrap over a taller header row instead of widening a column of short numbers;
    headers of number columns are right-aligned like their numbers; long text wraps inside
    its (capped) column instead of running over the next ones.
    """
    sheet = book.create_sheet(name)
    formats = dict(formats or {})
    widths = column_widths(header, rows, formats, min_width, max_width)
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    lines = max([1, *(_wrapped_lines(str(h), max(w - 2, 1)) for h, w in
                      zip(header, widths, strict=False))])
    if lines > 1:
        sheet.row_dimensions[1].height = 15 * min(lines, MAX_HEADER_LINES)
    if freeze:
        sheet.freeze_panes = freeze
    setup_printing(sheet, widths)
    add_autofilter(sheet, len(widths), len(rows))
    sheet.append(_header_cells(sheet, header, _numeric_columns(rows, len(widths))))
    for row in rows:
        sheet.append([_body_cell(sheet, value, formats.get(index), widths[index])
                      for index, value in enumerate(row)])
    return sheet


def naive(moment: datetime | None, tz: tzinfo | None) -> datetime | None:
    """A time as TradingView writes it: wall-clock in the chart's timezone, no offset."""
    if moment is None:
        return None
    if moment.tzinfo is not None and tz is not None:
        moment = moment.astimezone(tz)
    return moment.replace(tzinfo=None)


def metric_value(value: Any, undefined: str | None = None) -> Any:
    """A metric cell: numbers stay numbers; undefined (None, NaN, infinite) is `undefined`:
    an empty cell by default, so the column stays numeric; the TradingView-shaped export
    passes TradingView's "N/A"."""
    if value is None:
        return undefined
    if isinstance(value, float) and not math.isfinite(value):
        return undefined
    return value


def workbook_bytes(book: Workbook) -> bytes:
    """The finished workbook as the bytes of an .xlsx file."""
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


__all__ = [
    "BOOL_FORMAT",
    "COUNT",
    "DATE_FORMAT",
    "INTEGER",
    "MONEY",
    "PERCENT",
    "PERCENT_SIGN",
    "Styled",
    "add_autofilter",
    "column_widths",
    "metric_value",
    "naive",
    "pages_wide",
    "setup_printing",
    "workbook_bytes",
    "write_sheet",
]
