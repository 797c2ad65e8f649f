"""Writing XLSX sheets: the sheet writer and cell conventions both tvdesk workbooks share.

The run's workbook (`tvdesk.reports.run_workbook`) and TradingView's export workbook
(`tvdesk.reports.tradingview_workbook`) write their sheets the same way: numbers are numbers,
dates are dates (wall clock in the chart's timezone, no offset, as TradingView writes them),
undefined metrics are TradingView's "N/A", and every sheet has a bold, frozen header row and
set column widths. openpyxl's write-only mode keeps a 1,000-trial run fast.
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

from tvdesk.reports.labels import is_number

DATE_FORMAT = "yyyy-mm-dd hh:mm"
MONEY = "#,##0.00"
PERCENT = "0.00"
_BOLD = Font(name="Calibri", size=11, bold=True)  # the body's font, bold
_HEAD_LEFT = Alignment(wrap_text=True, vertical="bottom")
_HEAD_RIGHT = Alignment(wrap_text=True, vertical="bottom", horizontal="right")
_RIGHT = Alignment(horizontal="right")
BOOL_FORMAT = '"TRUE";"TRUE";"FALSE"'  # LibreOffice shows bare booleans as 1 / 0


class Styled(NamedTuple):
    """A cell value with its own number format (rows whose columns mix units)."""

    value: Any
    format: str


def _width(value: Any) -> int:
    if isinstance(value, Styled):
        value = value.value
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, float):
        return min(len(f"{value:,.2f}"), 18)
    return len(str(value))


def write_sheet(book: Workbook, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]],
                formats: Mapping[int, str] | None = None, *, freeze: str = "A2",
                min_width: int = 6, max_width: int = 60) -> WriteOnlyWorksheet:
    """One sheet: a bold, frozen header, column widths from the content, number formats by
    column (`formats` maps a 0-based column to an Excel format).

    Long headers wrap over a taller header row instead of widening a column of short numbers;
    headers of number columns are right-aligned like their numbers.
    """
    sheet = book.create_sheet(name)
    formats = dict(formats or {})
    columns = max([len(header), *(len(r) for r in rows[:500])])
    widths = [max(max((len(w) for w in str(h).split()), default=0), min(len(str(h)), 12)) + 2
              for h in header]
    widths += [0] * (columns - len(widths))
    numeric = [False] * columns
    seen = [False] * columns
    for row in rows[:500]:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], _width(value) + 2)
            plain = value.value if isinstance(value, Styled) else value
            if not seen[index] and plain not in (None, "", "N/A"):
                seen[index] = True
                numeric[index] = is_number(plain) or isinstance(plain, (datetime, date))
    widths = [max(min_width, min(w, max_width)) for w in widths]
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    lines = max([1, *(math.ceil(len(str(h)) / max(w - 2, 1)) for h, w in
                      zip(header, widths, strict=False))])
    if lines > 1:
        sheet.row_dimensions[1].height = 15 * min(lines, 4)
    if freeze:
        sheet.freeze_panes = freeze
    # Printing: landscape, every column on one page width, header row on every page.
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    head = []
    for index, text in enumerate(header):
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = _BOLD
        cell.alignment = _HEAD_RIGHT if numeric[index] else _HEAD_LEFT
        head.append(cell)
    sheet.append(head)
    for row in rows:
        out: list[Any] = []
        for index, value in enumerate(row):
            fmt = formats.get(index)
            if isinstance(value, Styled):
                value, fmt = value
            if isinstance(value, bool):
                fmt = BOOL_FORMAT
            if isinstance(value, datetime):
                fmt = fmt or DATE_FORMAT
            if fmt is not None and (is_number(value) or isinstance(value, (bool, datetime))):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = fmt
                out.append(cell)
            elif value == "N/A" and numeric[index]:
                cell = WriteOnlyCell(sheet, value=value)
                cell.alignment = _RIGHT
                out.append(cell)
            else:
                out.append(value)
        sheet.append(out)
    return sheet


def naive(moment: datetime | None, tz: tzinfo | None) -> datetime | None:
    """A time as TradingView writes it: wall-clock in the chart's timezone, no offset."""
    if moment is None:
        return None
    if moment.tzinfo is not None and tz is not None:
        moment = moment.astimezone(tz)
    return moment.replace(tzinfo=None)


def metric_value(value: Any) -> Any:
    """A metric cell: numbers stay numbers, undefined is TradingView's "N/A"."""
    if value is None:
        return "N/A"
    if isinstance(value, float) and value != value:  # NaN
        return "N/A"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "N/A"
    return value


def workbook_bytes(book: Workbook) -> bytes:
    """The finished workbook as the bytes of an .xlsx file."""
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


__all__ = [
    "BOOL_FORMAT",
    "DATE_FORMAT",
    "MONEY",
    "PERCENT",
    "Styled",
    "metric_value",
    "naive",
    "workbook_bytes",
    "write_sheet",
]
