"""Read OHLCV bars from CSV files into numpy arrays the engines can run on.

Accepts TradingView's "Export chart data…" files and the common OHLCV layouts (pandas-style
index column, `date` + `time` columns, UNIX seconds or milliseconds, ISO dates). Everything is
validated up front with vectorised checks, because an engine fed unsorted or impossible bars
produces results that look plausible and are wrong; an error naming the file, line and column is
cheaper for the user than a silently bad backtest.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from tvdesk.errors import DataError

__all__ = ["Bars", "derive_mintick", "detect_timeframe", "load_bars"]

# Header aliases, lower-cased and stripped. Order is priority: the first alias present wins.
_TIME_ALIASES = ("time", "timestamp", "datetime", "date_time", "date/time", "date")
_INDEX_HEADERS = ("", "unnamed: 0")  # the index column pandas writes (or mangles when re-read)
_PRICE_COLUMNS = ("open", "high", "low", "close")
_VOLUME_ALIASES = ("volume", "vol")
_CLOCK_RE = r"^\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$"  # a bare time of day, e.g. 09:30 or 09:30:00
_OFFSET_RE = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_MS_THRESHOLD = 1e11  # UNIX seconds stay below this until the year 5138; milliseconds exceed it
_MINUTE_MS, _DAY_MS = 60_000, 86_400_000
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
    `timeframe` is TradingView style ("60", "1D", ...; "" when fewer than two bars make it
    undecidable). `price_decimals` lets a tick size be derived when the user gives none. `gaps`
    counts bars missing against the timeframe, weekends included: information, not an error.
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
            gaps=_count_gaps(self.times[:n], self.timeframe),
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


def load_bars(path: str | Path, *, timezone: str = "UTC") -> Bars:
    """Read and validate a CSV of OHLC(V) bars; naive times are taken to be in `timezone`.

    Raises DataError naming the file, 1-based line (header = line 1) and column at fault.
    """
    source = str(path)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        message = f"unknown timezone {timezone!r}; expected an IANA name like 'America/New_York'"
        raise DataError(message, source=source) from None
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

    def numbers(key: str, kind: str, ok: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Column `key` as float64, failing at the first value `ok` rejects."""
        text = raw(key).str.replace(",", ".", regex=False) if sep == ";" else raw(key)  # 1,5
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        if key == "volume":  # volume is optional per bar too (TradingView writes NaN)
            values = np.where(text.str.lower().isin(("", "nan")).to_numpy(), 0.0, values)
        bad = np.flatnonzero(~ok(values))
        if bad.size:
            i, column = bad[0], header[cols[key]]
            kind = kind if np.isfinite(values[i]) else "number"
            raise fail(i, key, f"expected a {kind} in column {column!r}, got {text.iloc[i]!r}")
        return values

    time_key = "date+time" if "date" in cols else "time"
    times = _parse_times(raw, time_key, timezone, fail)
    prices = {
        key: numbers(key, "positive number", lambda v: (v > 0) & np.isfinite(v))
        for key in _PRICE_COLUMNS
    }
    _check_ohlc(prices, fail)
    volume = np.zeros(len(frame))
    if "volume" in cols:
        volume = numbers("volume", "non-negative number", lambda v: (v >= 0) & np.isfinite(v))
    _check_order(times, fail, time_key)
    timeframe = detect_timeframe(times)
    arrays = [times, *prices.values(), volume]
    for array in arrays:
        array.flags.writeable = False
    decimals = _price_decimals(np.concatenate(list(prices.values())))
    return Bars(source, timezone, *arrays, timeframe, decimals, _count_gaps(times, timeframe))


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


def _parse_times(
    raw: Callable[[str], pd.Series], key: str, timezone: str, fail: Fail
) -> np.ndarray:
    """UNIX ms for each row: epochs as given, offsets honoured, naive times in `timezone`."""
    text = raw("time")
    if key == "date+time":  # separate date and time-of-day columns; "time" may hold a full stamp
        text = text.where(~text.str.match(_CLOCK_RE), raw("date") + " " + text)
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isnan(numbers[0]):
        bad = np.flatnonzero(~np.isfinite(numbers))
        if bad.size:
            raise fail(bad[0], key, f"{_EXPECTED_TIME}, got {text.iloc[bad[0]]!r}")
        return np.rint(np.where(numbers > _MS_THRESHOLD, numbers, numbers * 1000)).astype(np.int64)
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
        try:
            local = stamps.dt.tz_localize(timezone, ambiguous="infer", nonexistent="NaT")
        except ValueError:  # ambiguous fall-back hour that cannot be inferred: take the first
            local = stamps.dt.tz_localize(
                timezone, ambiguous=np.ones(len(stamps), dtype=bool), nonexistent="NaT"
            )
        skipped = local.isna().to_numpy() & ~unparsed
        if skipped.any():
            i = np.flatnonzero(~aware)[np.argmax(skipped)]
            message = f"time {text.iloc[i]!r} does not exist in {timezone} (clocks jump forward)"
            raise fail(i, key, f"{message}; expected a time valid in that timezone")
        bad[~aware] = unparsed
        result[~aware] = _to_ms(local)
    if bad.any():
        i = int(np.argmax(bad))
        raise fail(i, key, f"{_EXPECTED_TIME}, got {text.iloc[i]!r}")
    return result


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
        prev = datetime.fromtimestamp(times[i - 1] / 1000, UTC).isoformat()
        this = datetime.fromtimestamp(times[i] / 1000, UTC).isoformat()
        if diffs[i - 1] == 0:
            message = f"duplicate timestamp {this} (same as the previous row)"
            raise fail(i, key, f"{message}; expected one bar per time")
        message = f"timestamp {this} is earlier than the previous row ({prev})"
        raise fail(i, key, f"{message}; expected bars sorted oldest first")


def _price_decimals(values: np.ndarray) -> int:
    """Fewest decimals (0-10) that represent every price, ignoring float noise."""
    for decimals in range(11):
        scaled = values * 10.0**decimals
        noise = np.maximum(1e-6, np.abs(scaled) * 1e-14)
        if np.all(np.abs(scaled - np.rint(scaled)) <= noise):
            return decimals
    return 10


def _count_gaps(times: np.ndarray, timeframe: str) -> int:
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
