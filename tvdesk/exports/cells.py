"""Turning one spreadsheet or CSV cell into a number, a date or a duration.

The converters raise `CellError` with what was expected but no location: they run on every
cell of a 20,000-row sheet, and only the caller knows the file, sheet, row and column. It
catches `CellError` and raises `located` (an `InputError` naming all four), so building a
location costs nothing until something is actually wrong.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, tzinfo

from tvdesk.errors import InputError
from tvdesk.exports import aliases
from tvdesk.exports.dates import parse_datetime
from tvdesk.exports.numbers import parse_number

EXCEL_EPOCH = datetime(1899, 12, 30)
EXCEL_EPOCH_1904 = datetime(1904, 1, 1)
_MAX_SERIAL = 2_958_465  # 9999-12-31


class CellError(ValueError):
    """A cell that does not hold what was expected; the caller adds where it is."""


def located(error: CellError | str, *, source: str, line: int | None, column: str | None,
            sheet: str | None = None) -> InputError:
    """The user-facing error for a bad cell: file, sheet, row and column header."""
    if sheet:  # InputError itself names file, line and column; the sheet is added here
        where = f"sheet {sheet!r}, row {line}: " if line is not None else f"sheet {sheet!r}: "
    else:
        where = ""
    return InputError(f"{where}{error}", source=source, line=line, column=column)


def to_float(value: object, decimal: str | None = None) -> float | None:
    """A number cell, or None when empty.

    Text in any locale's form is accepted ("1234.5", "0,27 %", "−1 234,5", see
    `tvdesk.exports.numbers`); `decimal` is the column's decimal mark when it is known.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise CellError(f"expected a number, found {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if not text:
        return None
    if decimal != ",":
        try:
            return float(text)  # the plain form, by far the commonest
        except ValueError:
            pass
    number = parse_number(text, decimal)
    if number is None:
        raise CellError(f"expected a number, found {text!r}")
    return number


def to_int(value: object) -> int | None:
    number = to_float(value)
    if number is None:
        return None
    if not number.is_integer():
        raise CellError(f"expected a whole number, found {value!r}")
    return int(number)


def to_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def to_datetime(value: object, tz: tzinfo, *, date1904: bool = False,
                day_first: bool | None = None) -> datetime:
    """A chart-timezone time: an Excel serial number, a datetime, or ISO text.

    TradingView writes the chart's wall-clock time without an offset, so naive values get `tz`
    attached; a value that carries an offset is converted to `tz`. Serials are rounded to the
    second because SheetJS's binary fractions are a few microseconds off. A wall time that
    occurs twice (the hour a DST change repeats) is read as its first occurrence (fold=0).
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return from_serial(float(value), tz, date1904)
    text = "" if value is None else str(value).strip()
    if not text:
        raise CellError("expected a date and time, found an empty cell")
    parsed: datetime | None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = parse_datetime(text, day_first)
    if parsed is None:
        try:
            return from_serial(float(text), tz, date1904)
        except (ValueError, CellError):
            raise CellError(
                f"expected a date such as 2024-01-31 or 2024-01-31 09:30 (or an Excel serial "
                f"number), found {text!r}") from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed.astimezone(tz)


def from_serial(serial: float, tz: tzinfo, date1904: bool) -> datetime:
    """An Excel serial date (1900 or 1904 system) as a time in `tz`, to the second."""
    if not math.isfinite(serial) or not 0 <= serial <= _MAX_SERIAL:
        raise CellError(f"expected an Excel date serial number, found {serial!r}")
    epoch = EXCEL_EPOCH_1904 if date1904 else EXCEL_EPOCH
    return (epoch + timedelta(seconds=round(serial * 86400))).replace(tzinfo=tz)


# --------------------------------------------------------------------------- durations

_DAYS_PER_UNIT = {"seconds": 1 / 86400, "minutes": 1 / 1440, "hours": 1 / 24, "days": 1.0,
                  "weeks": 7.0, "months": 30.4375, "years": 365.25}
_UNIT_DAYS: dict[str, float] = {
    aliases.normalise(word): _DAYS_PER_UNIT[unit]
    for unit, words in aliases.DURATION_UNIT_NAMES.items() for word in words
}

# A number and a unit word in any script ("31 days", "31 дн.", "31日", "2 semanas"); a word
# starts with a letter and runs to a space or digit, so Thai vowel signs (not `\w`) stay in it.
_DURATION_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([^\W\d_][^\s\d,.]*)\.?")


def duration_days(text: str) -> float | None:
    """"31 days", "2 weeks 3 days", "5 horas" -> days as a float; None if it is not a duration."""
    norm = aliases.normalise(text)
    parts = _DURATION_PART.findall(norm)
    if not parts or _DURATION_PART.sub("", norm).strip(" ,") != "":
        return None
    total = 0.0
    for number, unit in parts:
        days = _UNIT_DAYS.get(unit)
        if days is None:
            return None
        total += float(number.replace(",", ".")) * days
    return total
