"""Read OHLCV bars from CSV files into numpy arrays the engines can run on.

Accepts TradingView's "Export chart data…" files and the common OHLCV layouts (pandas-style
index column, `date` + `time` columns, UNIX seconds or milliseconds, ISO dates). Everything is
validated up front with vectorised checks, because an engine fed unsorted or impossible bars
produces results that look plausible and are wrong; an error naming the file, line and column is
cheaper for the user than a silently bad backtest.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from tvdesk.errors import DataError, InputError

__all__ = [
    "Bars", "bars_in_window", "check_timeframe", "count_gaps", "derive_mintick",
    "detect_timeframe",
    "load_bars", "parse_timeframe", "window_ms",
]

# Header aliases, lower-cased and stripped. Order is priority: the first alias present wins.
_TIME_ALIASES = ("time", "timestamp", "datetime", "date_time", "date/time", "date")
_INDEX_HEADERS = ("", "unnamed: 0")  # the index column pandas writes (or mangles when re-read)
_PRICE_COLUMNS = ("open", "high", "low", "close")
_VOLUME_ALIASES = ("volume", "vol")
_CLOCK_RE = r"^\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$"  # a bare time of day, e.g. 09:30 or 09:30:00
_OFFSET_RE = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_MS_THRESHOLD = 1e11  # UNIX seconds stay below this until the year 5138; milliseconds exceed it
_MINUTE_MS, _DAY_MS = 60_000, 86_400_000
# Times outside 1970-01-01 .. 2200-01-01 UTC are typos or wrong units (a ms value read as
# seconds, a year 0001 placeholder); the engine's calendar code cannot even represent some.
_FIRST_MS, _LAST_MS = 0, 7_258_118_400_000
_TIME_RANGE = "expected a time from 1970-01-01 to 2200-01-01 UTC"
# No traded instrument is priced above 1e12 or trades more than 1e18 units in a bar; beyond
# that a value is a typo or a corrupt cell, and the engine's arithmetic overflows on it.
_MAX_PRICE, _MAX_VOLUME = 1e12, 1e18
_TIMEFRAME_RE = re.compile(r"(\d*)\s*([A-Za-z]*)")
# (spellings, casefolded; TradingView suffix; unit in ms; unit name). "M" is a month and "m"
# a minute, as on TradingView; a month is its mean length, enough to tell it from a week.
_TIMEFRAME_UNITS = (
    (("", "m", "min", "minute", "minutes"), "", _MINUTE_MS, "minute"),
    (("h", "hr", "hour", "hours"), "", 60 * _MINUTE_MS, "hour"),
    (("s", "sec", "second", "seconds"), "S", 1000, "second"),
    (("d", "day", "days"), "D", _DAY_MS, "day"),
    (("w", "wk", "week", "weeks"), "W", 7 * _DAY_MS, "week"),
    (("mo", "month", "months"), "M", 30.44 * _DAY_MS, "month"),
)
_TIMEFRAME_TOLERANCE = 1.1  # bar lengths within 10 % of each other are the same timeframe
_EXPECTED_TIMEFRAME = "expected a timeframe such as 15, 60, 4h, 1D or 1W"
Fail = Callable[[int, str, str], DataError]  # (row, role key, message) -> error to raise
_EXPECTED_TIME = "expected UNIX seconds, UNIX milliseconds or an ISO 8601 date/time"
# All text: error messages quote cells as written. Blank lines kept so row index -> line number.
_READ_OPTIONS = {"header": 0, "dtype": str, "keep_default_na": False, "skip_blank_lines": False}


@dataclass(frozen=True, slots=True, eq=False)
class Bars:
    """Validated bars, oldest first. Arrays are read-only so cached Bars cannot be altered.

    `times` are UNIX milliseconds (UTC) of each bar's open, strictly increasing; prices and
    volume are float64. `timezone` is the one naive times were read in (epochs and times with an
    offset do not need it) and stays the symbol's exchange timezone for day/session logic.
    `timeframe` is TradingView style ("60", "1D", ...), detected from the bars' spacing (which
    is why `load_bars` refuses fewer than two bars). `price_decimals` lets a tick size be
    derived when the user gives none. `gaps` counts bars missing against the timeframe,
    weekends included: information, not an error.
    """

    path: str
    timezone: str
    times: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    timeframe: str
    price_decimals: int
    gaps: int

    def __len__(self) -> int:
        return len(self.times)

    def slice_until(self, end_ms: int | None) -> Bars:
        """The bars opening at or before `end_ms` (all bars for None), e.g. to replay history."""
        if end_ms is None:
            return self
        n = int(np.searchsorted(self.times, end_ms, side="right"))
        return replace(
            self,
            times=self.times[:n],
            open=self.open[:n],
            high=self.high[:n],
            low=self.low[:n],
            close=self.close[:n],
            volume=self.volume[:n],
            gaps=count_gaps(self.times[:n], self.timeframe),
        )


def derive_mintick(price_decimals: int) -> float:
    """Tick size implied by the prices' decimals, used when the user gives no mintick."""
    return max(10.0 ** -max(price_decimals, 0), 1e-10)


def detect_timeframe(times_ms: np.ndarray) -> str:
    """The TradingView timeframe of bars opening at `times_ms` ("" for fewer than two bars).

    Uses the most common spacing, not the smallest, so weekends, holidays and DST shifts of
    local-midnight bars do not change the answer (daily stock data stays "1D").
    """
    diffs = np.diff(np.asarray(times_ms, dtype=np.int64))
    diffs = diffs[diffs > 0]
    if diffs.size == 0:
        return ""
    values, counts = np.unique(diffs, return_counts=True)
    step = int(values[np.argmax(counts)])  # ties go to the smaller spacing
    if step < _MINUTE_MS:
        return f"{max(round(step / 1000), 1)}S"
    if step <= 20 * 3_600_000:
        return str(round(step / _MINUTE_MS))
    days = step / _DAY_MS
    if days >= 27.5:
        return f"{round(days / 30.44)}M"
    if days >= 5.5:
        return f"{round(days / 7)}W"
    return f"{round(days)}D"


def parse_timeframe(text: str) -> tuple[str, float, str] | None:
    """`"4h"` -> ("240", 14_400_000, "4 hours"): TradingView's code, the bar length in ms and
    words for messages; None when `text` is not a timeframe.

    PyneCore understands only TradingView's codes ("240", "1D"), so the local engine must be
    given the code of whatever spelling the user chose; the length lets spacings be compared.
    """
    match = _TIMEFRAME_RE.fullmatch(text.strip())
    if not match or not text.strip():
        return None
    count = int(match.group(1) or 1)
    folded = "mo" if match.group(2) == "M" else match.group(2).casefold()
    for spellings, suffix, size, name in _TIMEFRAME_UNITS:
        if count > 0 and folded in spellings:
            code = f"{count}{suffix}" if suffix else str(round(count * size / _MINUTE_MS))
            return code, count * size, f"{count} {name}{'s' if count != 1 else ''}"
    return None


def check_timeframe(declared: str, bars: Bars) -> str:
    """TradingView's code for the `declared` timeframe, after checking it against `bars`.

    Raises InputError (naming --timeframe, both timeframes and the file) when the bars'
    spacing clearly contradicts it, e.g. "60" declared for 4-second bars: the engine trusts
    the declared timeframe (timeframe.period, sessions, request.security), so a wrong one
    gives a plausible but wrong backtest. The detected timeframe is the most common spacing,
    so weekends and holidays do not count; spacings within 10 % are the same timeframe.
    """
    parsed = parse_timeframe(declared)
    if parsed is None:
        raise InputError(f"{_EXPECTED_TIMEFRAME}, got {declared!r}", source="--timeframe")
    code, size, words = parsed
    found = parse_timeframe(bars.timeframe)
    if found is not None and max(size, found[1]) > _TIMEFRAME_TOLERANCE * min(size, found[1]):
        raise InputError(
            f"{declared!r} ({words}) was given but the bars of {bars.path} are "
            f"{bars.timeframe!r} ({found[2]}) apart; expected the data's timeframe "
            f"{bars.timeframe!r}, or leave --timeframe out to take it from the data",
            source="--timeframe")
    return code


def bars_in_window(bars: Bars, date_from: datetime | None,
                   date_to: datetime | None) -> tuple[int, int]:
    """The bars `[lo, hi)` that open between `date_from` and `date_to` (both inclusive, None:
    unbounded), or an InputError that says why none do.

    Three different mistakes leave no bar: a --to before the data starts, a --from after it
    ends, and a window that falls between two bars (a weekend, a gap in the data). Each is
    named as what it is, with the data's first and last bar, so the user looks for the right
    problem. The backtest and the optimizer (which must refuse before a run is stored) both
    call this, so they say the same. Naive datetimes are UTC, as in the backtest.
    """
    times = bars.times
    start, end = window_ms(date_from), window_ms(date_to)
    lo = 0 if start is None else int(np.searchsorted(times, start, side="left"))
    hi = len(times) if end is None else int(np.searchsorted(times, end, side="right"))
    if hi > lo or not len(times):  # load_bars never returns fewer than 2 bars
        return lo, hi
    tz = bars.timezone
    first, last = chart_time(int(times[0]), tz), chart_time(int(times[-1]), tz)
    if hi == 0 and end is not None:
        raise InputError(f"{chart_time(end, tz)} is before the first bar of {bars.path} "
                         f"({first}); expected a --to on or after it", source="--to")
    if lo >= len(times) and start is not None:
        raise InputError(f"{chart_time(start, tz)} is after the last bar of {bars.path} "
                         f"({last}); expected a --from on or before it", source="--from")
    assert start is not None and end is not None  # an open end always holds a bar here
    raise InputError(
        f"no bars between {chart_time(start, tz)} and {chart_time(end, tz)} in {bars.path}: "
        f"its bars run from {first} to {last}, and the nearest are "
        f"{chart_time(int(times[lo - 1]), tz)} and {chart_time(int(times[lo]), tz)} "
        "(a weekend or a gap in the data?); expected a window that holds at least one bar",
        source="--from/--to")


def window_ms(value: datetime | None) -> int | None:
    """UNIX milliseconds of a --from/--to bound, naive taken as UTC (the backtest's window
    and `bars_in_window` must agree on it)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def chart_time(ms: int, timezone: str) -> str:
    """A time for a message in the chart's timezone, the one --from/--to were given in;
    seconds only when there are some (a bare --to date ends at 23:59:59). Never raises."""
    try:
        moment = datetime.fromtimestamp(ms / 1000, ZoneInfo(timezone))
    except (ValueError, OverflowError, OSError, ZoneInfoNotFoundError):
        return _iso(ms)
    layout = "%Y-%m-%d %H:%M:%S" if moment.second or moment.microsecond else "%Y-%m-%d %H:%M"
    return f"{moment.strftime(layout)} {timezone}"


def load_bars(path: str | Path, *, timezone: str = "UTC") -> Bars:
    """Read and validate a CSV of OHLC(V) bars; naive times are taken to be in `timezone`.

    Raises DataError naming the file, 1-based line (header = line 1) and column at fault, for
    anything the engine would choke on or silently misread: unparseable cells, times outside
    1970..2200, prices not in (0, 1e12], volumes not in [0, 1e18] (blank = 0), inconsistent
    OHLC, unsorted or duplicate times, and files of fewer than two bars.
    """
    source = str(path)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        message = f"unknown timezone {timezone!r}; expected an IANA name like 'America/New_York'"
        raise DataError(message, source=source) from None
    from tvdesk.data import series_file

    if series_file.is_series_file(path):
        return _library_bars(path, source)
    header, sep = _read_header(path, source)
    cols = _map_columns(header, source)
    positions = sorted(cols.values())
    try:
        frame = pd.read_csv(path, sep=sep, usecols=positions, encoding="utf-8-sig", **_READ_OPTIONS)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=positions)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot read CSV: {exc}", source=source) from None
    frame.columns = positions
    frame = frame.fillna("").apply(lambda column: column.str.strip())
    frame = frame[(frame != "").any(axis=1)]  # blank lines are not bars
    if frame.empty:
        raise DataError("no bars after the header line", source=source, line=2)
    lines = frame.index.to_numpy() + 2  # index 0 is the line after the header

    def fail(row: int, key: str, message: str) -> DataError:
        """The error for data row `row` (0-based, blank lines skipped) of role `key`."""
        name = "+".join(header[cols[k]] for k in key.split("+"))
        return DataError(message, source=source, line=int(lines[row]), column=name)

    def raw(key: str) -> pd.Series:
        return frame[cols[key]]

    def numbers(key: str, kind: str, ok: Callable[[np.ndarray], np.ndarray],
                limit: float) -> np.ndarray:
        """Column `key` as float64, failing at the first value that is not a finite `kind`
        (as `ok` decides) of at most `limit`."""
        text = raw(key).str.replace(",", ".", regex=False) if sep == ";" else raw(key)  # 1,5
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        if key == "volume":  # a blank volume cell is a bar without volume
            values = np.where((text == "").to_numpy(), 0.0, values)
        bad = np.flatnonzero(~(ok(values) & np.isfinite(values) & (values <= limit)))
        if bad.size:
            i = int(bad[0])
            problem = _number_problem(raw(key).iloc[i], float(values[i]), header[cols[key]],
                                      kind, limit, volume=key == "volume")
            raise fail(i, key, problem)
        return values

    time_key = "date+time" if "date" in cols else "time"
    times = _parse_times(raw, time_key, timezone, fail)
    prices = {
        key: numbers(key, "positive number", lambda v: v > 0, _MAX_PRICE)
        for key in _PRICE_COLUMNS
    }
    _check_ohlc(prices, fail)
    volume = np.zeros(len(frame))
    if "volume" in cols:
        volume = numbers("volume", "non-negative number", lambda v: v >= 0, _MAX_VOLUME)
    _check_order(times, fail, time_key)
    if len(times) < 2:
        message = ("1 bar; a backtest needs at least 2 bars (the timeframe is read from their "
                   "spacing)")
        raise DataError(message, source=source, line=int(lines[0]))
    timeframe = detect_timeframe(times)
    arrays = [times, *prices.values(), volume]
    for array in arrays:
        array.flags.writeable = False
    decimals = _price_decimals(np.concatenate(list(prices.values())))
    return Bars(source, timezone, times, prices["open"], prices["high"], prices["low"],
                prices["close"], volume, timeframe, decimals, count_gaps(times, timeframe))


def _library_bars(path: str | Path, source: str) -> Bars:
    """Bars of a market data library series (already validated when it was added; the
    order and the OHLC consistency are checked again, cheaply, against a damaged file)."""
    from tvdesk.data import series_file

    columns, meta = series_file.read_series(path)
    times = columns["times"]
    if len(times) < 2:
        raise DataError("a backtest needs at least 2 bars", source=source)
    if not bool(np.all(np.diff(times) > 0)):
        raise DataError("damaged library series: times are not increasing", source=source)
    for array in columns.values():
        array.flags.writeable = False
    timeframe = str(meta.get("timeframe") or detect_timeframe(times))
    return Bars(source, str(meta.get("timezone") or "UTC"), times, columns["open"],
                columns["high"], columns["low"], columns["close"], columns["volume"],
                timeframe, int(meta.get("price_decimals", 2)), count_gaps(times, timeframe))


def _read_header(path: str | Path, source: str) -> tuple[list[str], str]:
    """The header's column names (as written, stripped) and the delimiter it uses."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
    except FileNotFoundError:
        raise DataError("file not found; expected a CSV file of OHLC bars", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise DataError(f"cannot read the file: {reason}", source=source) from None
    if not first.strip():
        what = "file is empty" if not first else "line 1 is blank"
        expected = "expected a header such as 'time,open,high,low,close,volume', then bars"
        raise DataError(f"{what}; {expected}", source=source, line=1)
    sep = max((",", ";", "\t"), key=first.count)
    return [name.strip() for name in next(csv.reader([first.rstrip("\r\n")], delimiter=sep))], sep


def _map_columns(header: list[str], source: str) -> dict[str, int]:
    """Map roles (time, date, open, ..., volume) to column positions, or explain what is missing."""
    lowered = [name.lower() for name in header]
    cols: dict[str, int] = {}
    if "date" in lowered and "time" in lowered:
        cols["date"], cols["time"] = lowered.index("date"), lowered.index("time")
    else:
        for alias in (*_TIME_ALIASES, *_INDEX_HEADERS):
            if alias in lowered:
                cols["time"] = lowered.index(alias)
                break
    for key in _PRICE_COLUMNS:
        if key in lowered:
            cols[key] = lowered.index(key)
    for alias in _VOLUME_ALIASES:
        if alias in lowered:
            cols["volume"] = lowered.index(alias)
            break
    missing = [k for k in ("time", *_PRICE_COLUMNS) if k not in cols]
    if missing:
        raise DataError(
            f"no {', '.join(missing)} column; expected a time column (one of time, timestamp, "
            "date, datetime, date_time, Date/Time or an empty first header) and open, high, low, "
            f"close (volume optional); found columns {header}",
            source=source,
            line=1,
        )
    return cols


def _number_problem(cell: str, value: float, column: str, kind: str, limit: float, *,
                    volume: bool = False) -> str:
    """What is wrong with one numeric cell, and what was expected instead.

    A literal NaN volume is refused, not read as 0: blank means "no volume" and is accepted,
    while NaN more likely marks a hole in the data that a volume-based script should not
    trade through unnoticed (negative volume is refused for the same reason).
    """
    if volume and np.isnan(value) and cell.strip().lower() == "nan":
        return (f"expected a {kind} in column {column!r}, got {cell!r}; leave the cell empty "
                "for a bar without volume (or remove the column if the symbol has no volume)")
    if np.isnan(value):
        return f"expected a number in column {column!r}, got {cell!r}"
    if not np.isfinite(value):
        return f"expected a finite number in column {column!r}, got {cell!r}"
    if value > limit:
        bound = f"{limit:.0e}".replace("e+", "e")
        return (f"expected a {kind} of at most {bound} in column {column!r}, got {cell!r} "
                "(above any real market's value: a typo or a corrupt cell?)")
    return f"expected a {kind} in column {column!r}, got {cell!r}"


def _parse_times(
    raw: Callable[[str], pd.Series], key: str, timezone: str, fail: Fail
) -> np.ndarray:
    """UNIX ms for each row: epochs as given, offsets honoured, naive times in `timezone`.

    Every time is checked against 1970..2200 here, before anything else looks at the times
    (ordering, timeframe, error messages that format them).
    """
    text = raw("time")
    if key == "date+time":  # separate date and time-of-day columns; "time" may hold a full stamp
        text = text.where(~text.str.match(_CLOCK_RE), raw("date") + " " + text)
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isnan(numbers[0]):
        return _epoch_times(numbers, text, key, fail)
    result = np.zeros(len(text), dtype=np.int64)
    aware = text.str.contains(_OFFSET_RE, regex=True).to_numpy()
    bad = np.zeros(len(text), dtype=bool)
    if aware.any():
        stamps = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
        bad[aware] = stamps.isna().to_numpy()
        result[aware] = _to_ms(stamps)
    if not aware.all():
        stamps = pd.to_datetime(text[~aware], format="ISO8601", errors="coerce")
        unparsed = stamps.isna().to_numpy()
        naive_ms = stamps.to_numpy(dtype="datetime64[ms]").view(np.int64)
        # More than a day outside the range whatever the timezone: keep such times away from
        # tz_localize, which cannot handle years beyond the standard library's 1..9999.
        far = ~unparsed & ((naive_ms < _FIRST_MS - _DAY_MS) | (naive_ms > _LAST_MS + _DAY_MS))
        stamps = stamps.where(~far)
        try:
            local = stamps.dt.tz_localize(timezone, ambiguous="infer", nonexistent="NaT")
        except ValueError:  # ambiguous fall-back hour that cannot be inferred: take the first
            local = stamps.dt.tz_localize(
                timezone, ambiguous=np.ones(len(stamps), dtype=bool), nonexistent="NaT"
            )
        skipped = local.isna().to_numpy() & ~unparsed & ~far
        if skipped.any():
            i = np.flatnonzero(~aware)[np.argmax(skipped)]
            message = f"time {text.iloc[i]!r} does not exist in {timezone} (clocks jump forward)"
            raise fail(i, key, f"{message}; expected a time valid in that timezone")
        bad[~aware] = unparsed
        result[~aware] = np.where(far, naive_ms, _to_ms(local))
    if bad.any():
        i = int(np.argmax(bad))
        raise fail(i, key, f"{_EXPECTED_TIME}, got {text.iloc[i]!r}")
    _check_range(result.astype(np.float64), text, key, fail, lambda i: "")
    return result


def _epoch_times(numbers: np.ndarray, text: pd.Series, key: str, fail: Fail) -> np.ndarray:
    """UNIX ms of epoch cells: seconds or milliseconds, decided per cell by magnitude."""
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        raise fail(bad[0], key, f"{_EXPECTED_TIME}, got {text.iloc[bad[0]]!r}")
    in_ms = numbers > _MS_THRESHOLD
    with np.errstate(over="ignore"):  # 1e306 seconds overflow to inf: out of range below
        values = np.where(in_ms, numbers, numbers * 1000)

    def unit(i: int) -> str:
        return f" (read as UNIX {'milliseconds' if in_ms[i] else 'seconds'})"

    _check_range(values, text, key, fail, unit)
    return np.rint(values).astype(np.int64)


def _check_range(
    times_ms: np.ndarray, text: pd.Series, key: str, fail: Fail, how: Callable[[int], str]
) -> None:
    """Refuse the first time outside 1970..2200 UTC, quoting its cell as written."""
    outside = (times_ms < _FIRST_MS) | (times_ms > _LAST_MS)
    if outside.any():
        i = int(np.argmax(outside))
        side = "before 1970-01-01" if times_ms[i] < _FIRST_MS else "after 2200-01-01"
        raise fail(i, key, f"time {text.iloc[i]!r}{how(i)} is {side}; {_TIME_RANGE}")


def _to_ms(stamps: pd.Series) -> np.ndarray:
    utc = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return utc.to_numpy(dtype="datetime64[ms]").view(np.int64)


def _check_ohlc(prices: dict[str, np.ndarray], fail: Fail) -> None:
    """A bar's high must bound every other price and its low must be under all of them."""
    o, h, lo, c = (prices[k] for k in _PRICE_COLUMNS)
    got = "got open {o}, high {h}, low {lo}, close {c}"
    checks = (
        (h < lo, "high", "expected high >= low"),
        (h < np.maximum(o, c), "high", "expected high >= max(open, close)"),
        (lo > np.minimum(o, c), "low", "expected low <= min(open, close)"),
    )
    for mask, key, expected in checks:
        if mask.any():
            i = int(np.argmax(mask))
            raise fail(i, key, f"{expected}, " + got.format(o=o[i], h=h[i], lo=lo[i], c=c[i]))


def _check_order(times: np.ndarray, fail: Fail, key: str) -> None:
    """Bars must be strictly increasing: engines index history by position."""
    diffs = np.diff(times)
    bad = np.flatnonzero(diffs <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        prev, this = _iso(int(times[i - 1])), _iso(int(times[i]))
        if diffs[i - 1] == 0:
            message = f"duplicate timestamp {this} (same as the previous row)"
            raise fail(i, key, f"{message}; expected one bar per time")
        message = f"timestamp {this} is earlier than the previous row ({prev})"
        raise fail(i, key, f"{message}; expected bars sorted oldest first")


def _iso(ms: int) -> str:
    """A time for a message; never raises (a message must not fail while reporting)."""
    try:
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return f"{ms} ms after 1970-01-01 UTC"


def _price_decimals(values: np.ndarray) -> int:
    """Fewest decimals (0-10) that represent every price, ignoring float noise.

    The tolerance shrinks with values under one unit of the tested decimal, so a crypto price
    of 1e-8 needs 8 decimals instead of passing as 0 (a tick of 1 would erase it).
    """
    for decimals in range(11):
        scaled = np.abs(values * 10.0**decimals)
        noise = np.maximum(np.minimum(scaled, 1.0) * 1e-6, scaled * 1e-14)
        if np.all(np.abs(scaled - np.rint(scaled)) <= noise):
            return decimals
    return 10


def count_gaps(times: np.ndarray, timeframe: str) -> int:
    """Bars missing between consecutive bars for this timeframe (weekends count too)."""
    if len(times) < 2 or not timeframe:
        return 0
    if timeframe.isdigit():  # minutes
        steps = np.diff(times) / (int(timeframe) * _MINUTE_MS)
    elif timeframe[-1] == "M":  # calendar months differ in length: count months, not ms
        months = times.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
        steps = np.diff(months) / int(timeframe[:-1])
    else:
        size = {"S": 1000, "D": _DAY_MS, "W": 7 * _DAY_MS}[timeframe[-1]]
        steps = np.diff(times) / (int(timeframe[:-1]) * size)
    return int(np.maximum(np.rint(steps) - 1, 0).sum())
