"""Tests of the CSV market data reader (tvdesk.data.market_data)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tvdesk.data import Bars, derive_mintick, detect_timeframe, load_bars
from tvdesk.data.market_data import check_timeframe, parse_timeframe
from tvdesk.errors import DataError, InputError

DATA_DIR = Path(__file__).resolve().parents[2] / "resources" / "data"
HOUR = 3_600_000
DAY = 24 * HOUR


def ms(text: str) -> int:
    """UNIX ms of an ISO datetime taken as UTC."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def write(tmp_path: Path, text: str, name: str = "bars.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def load_error(path: Path, **kwargs: str) -> DataError:
    with pytest.raises(DataError) as info:
        load_bars(path, **kwargs)
    return info.value


def assert_located(err: DataError, path: Path, line: int | None, column: str | None) -> None:
    """The error names the file, line and column, both as attributes and in its message."""
    assert err.source == str(path)
    assert err.line == line
    assert err.column == column
    assert str(err).startswith(str(path))
    if line is not None:
        assert f"line {line}" in str(err)
    if column is not None:
        assert f"column {column!r}" in str(err)


# --------------------------------------------------------------------------- formats


def test_tradingview_export_unix_seconds_with_volume_and_indicator_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "time,open,high,low,close,Volume,Volume MA,Plot\n"
        "1704186000,1.1,1.2,1.0,1.15,100,NaN,3\n"
        "1704189600,1.15,1.25,1.1,1.2,200,150,4\n",
    )
    bars = load_bars(path)
    assert isinstance(bars, Bars)
    assert bars.path == str(path)
    assert len(bars) == 2
    assert bars.times.tolist() == [1704186000000, 1704189600000]
    assert bars.times.dtype == np.int64
    assert bars.open.tolist() == [1.1, 1.15]
    assert bars.high.tolist() == [1.2, 1.25]
    assert bars.low.tolist() == [1.0, 1.1]
    assert bars.close.tolist() == [1.15, 1.2]
    assert bars.volume.tolist() == [100.0, 200.0]
    assert bars.close.dtype == np.float64
    assert bars.timeframe == "60"
    assert bars.price_decimals == 2


def test_tradingview_export_iso_with_offset_ignores_timezone_option(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "time,open,high,low,close\n"
        "2024-01-02T09:30:00-05:00,10,11,9,10.5\n"
        "2024-01-02T09:35:00-05:00,10.5,11,10,10.75\n",
    )
    expected = [ms("2024-01-02T14:30:00"), ms("2024-01-02T14:35:00")]
    assert load_bars(path).times.tolist() == expected
    tokyo = load_bars(path, timezone="Asia/Tokyo")
    assert tokyo.times.tolist() == expected
    assert tokyo.timezone == "Asia/Tokyo"
    assert tokyo.volume.tolist() == [0.0, 0.0]
    assert tokyo.timeframe == "5"


def test_backtesting_package_layout_with_empty_index_header(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ",Open,High,Low,Close,Volume\n"
        "2017-04-19 09:00:00,1.0716,1.0722,1.07083,1.07219,1413\n"
        "2017-04-19 10:00:00,1.07214,1.07296,1.07214,1.0726,1241\n",
    )
    bars = load_bars(path)
    assert bars.times.tolist() == [ms("2017-04-19T09:00:00"), ms("2017-04-19T10:00:00")]
    assert bars.volume.tolist() == [1413.0, 1241.0]
    assert bars.price_decimals == 5
    assert derive_mintick(bars.price_decimals) == pytest.approx(1e-5)


@pytest.mark.parametrize(
    "name", ["time", "Timestamp", "DATE", "datetime", "date_time", "Date/Time", "", "  Time  "]
)
def test_time_column_aliases(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, f"{name},Open,High,Low,Close\n2004-08-19,100,104.06,95.96,100.34\n"
                 "2004-08-20,101,109.08,100.5,108.31\n")
    assert load_bars(path).times.tolist() == [ms("2004-08-19T00:00:00"), ms("2004-08-20T00:00")]


def test_date_only_values_make_daily_bars(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Date,Open,High,Low,Close,Volume\n"
        "2004-08-19,100,104.06,95.96,100.34,22351900\n"
        "2004-08-20,101.01,109.08,100.5,108.31,11428600\n"
        "2004-08-23,110.75,113.48,109.05,109.4,9137200\n",
    )
    bars = load_bars(path)
    assert bars.timeframe == "1D"
    assert bars.times[-1] == ms("2004-08-23T00:00:00")
    assert bars.gaps == 2  # the weekend


def test_separate_date_and_time_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Date,Time,Open,High,Low,Close,Vol\n"
        "2024-01-02,09:30,10,11,9,10.5,5\n"
        "2024-01-02,09:31:00,10.5,11,10,10.75,6\n",
    )
    bars = load_bars(path, timezone="America/New_York")
    assert bars.times.tolist() == [ms("2024-01-02T14:30:00"), ms("2024-01-02T14:31:00")]
    assert bars.volume.tolist() == [5.0, 6.0]
    assert bars.timeframe == "1"


def test_semicolon_delimiter_bom_whitespace_and_decimal_comma(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        " TIME ; Open ;HIGH; low ;Close;VOLUME\n"
        "1704186000; 1,5 ;1,75;1,25;1,6;10\n"
        "1704189600;1.6;1.8;1.5;1.7;\n",
        encoding="utf-8-sig",
    )
    bars = load_bars(path)
    assert bars.open.tolist() == [1.5, 1.6]
    assert bars.high.tolist() == [1.75, 1.8]
    assert bars.volume.tolist() == [10.0, 0.0]  # an empty volume cell means no volume


def test_unix_seconds_and_milliseconds_decided_by_magnitude(tmp_path: Path) -> None:
    seconds = write(tmp_path, "time,open,high,low,close\n1704186000,1,1,1,1\n"
                    "1704189600,1,1,1,1\n", "s.csv")
    millis = write(tmp_path, "time,open,high,low,close\n1704186000000,1,1,1,1\n"
                   "1704189600000,1,1,1,1\n", "ms.csv")
    assert load_bars(seconds).times.tolist() == [1704186000000, 1704189600000]
    assert load_bars(millis).times.tolist() == [1704186000000, 1704189600000]


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,close\n\n1704186000,1,1,1,1\n\n1704189600,1,1,1,x\n")
    err = load_error(path)
    assert_located(err, path, 5, "close")


def test_timezone_option_interprets_naive_times(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "datetime,open,high,low,close\n2024-01-15 09:30:00,1,1,1,1\n2024-07-15 09:30:00,1,1,1,1\n",
    )
    utc = load_bars(path).times
    new_york = load_bars(path, timezone="America/New_York")
    assert new_york.timezone == "America/New_York"
    assert (new_york.times - utc).tolist() == [5 * HOUR, 4 * HOUR]  # EST in winter, EDT in summer


def test_bars_are_read_only_and_slice_until(tmp_path: Path) -> None:
    rows = "".join(f"{1704186000 + i * 3600},1,2,0.5,1.5\n" for i in range(5))
    bars = load_bars(write(tmp_path, "time,open,high,low,close\n" + rows))
    with pytest.raises(ValueError):
        bars.close[0] = 3.0
    head = bars.slice_until(1704186000000 + 2 * HOUR)
    assert len(head) == 3
    assert head.times[-1] == 1704186000000 + 2 * HOUR
    assert len(head.volume) == len(head.open) == 3
    assert len(bars.slice_until(1704186000000 + 2 * HOUR - 1)) == 2
    assert len(bars.slice_until(0)) == 0
    assert bars.slice_until(None) is bars


def test_gaps_are_counted_not_rejected(tmp_path: Path) -> None:
    start = 1704186000
    stamps = [start, start + 3600, start + 4 * 3600, start + 5 * 3600, start + 7 * 3600]
    rows = "".join(f"{t},1,1,1,1\n" for t in stamps)
    bars = load_bars(write(tmp_path, "time,open,high,low,close\n" + rows))
    assert bars.timeframe == "60"
    assert bars.gaps == 3  # two missing before the 3rd bar, one before the 5th


def test_price_decimals_ignore_trailing_zeros_and_float_noise(tmp_path: Path) -> None:
    path = write(
        tmp_path, "time,open,high,low,close\n1704186000,1.0500,1.0716000000000001,1,1.050\n"
        "1704189600,1.05,1.06,1.04,1.05\n"
    )
    bars = load_bars(path)
    assert bars.price_decimals == 4


def test_derive_mintick() -> None:
    assert derive_mintick(2) == pytest.approx(0.01)
    assert derive_mintick(0) == 1.0
    assert derive_mintick(15) == pytest.approx(1e-10)


# --------------------------------------------------------------------------- timeframes


def _series(step_ms: int, count: int = 10) -> np.ndarray:
    return ms("2024-01-01T00:00:00") + step_ms * np.arange(count, dtype=np.int64)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (60_000, "1"),
        (15 * 60_000, "15"),
        (HOUR, "60"),
        (4 * HOUR, "240"),
        (DAY, "1D"),
        (7 * DAY, "1W"),
    ],
)
def test_detect_timeframe_regular(step: int, expected: str) -> None:
    assert detect_timeframe(_series(step)) == expected


def test_detect_timeframe_daily_with_weekend_gaps_is_daily() -> None:
    days = np.array([d for d in range(60) if d % 7 not in (5, 6)], dtype=np.int64)  # Mon-Fri
    assert detect_timeframe(ms("2024-01-01T00:00:00") + days * DAY) == "1D"


def test_detect_timeframe_monthly_and_undecidable() -> None:
    months = np.array([ms(f"2023-{m:02d}-01T00:00:00") for m in range(1, 13)], dtype=np.int64)
    assert detect_timeframe(months) == "1M"
    assert detect_timeframe(months[:1]) == ""


def test_monthly_gaps_count_calendar_months(tmp_path: Path) -> None:
    rows = "".join(f"2023-{m:02d}-01,1,1,1,1\n" for m in (1, 2, 3, 4, 7, 8, 9))
    bars = load_bars(write(tmp_path, "date,open,high,low,close\n" + rows))
    assert bars.timeframe == "1M"
    assert bars.gaps == 2  # May and June


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    err = load_error(path)
    assert_located(err, path, None, None)
    assert "not found" in str(err)
    assert isinstance(err, InputError)
    assert err.exit_code == 2


def test_directory_is_unreadable(tmp_path: Path) -> None:
    err = load_error(tmp_path)
    assert_located(err, tmp_path, None, None)
    assert "cannot read" in str(err)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("zeit,ouvert,haut,bas,clôture\n".encode("latin-1"))
    err = load_error(path)
    assert_located(err, path, None, None)
    assert "not UTF-8" in str(err)


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    err = load_error(path)
    assert_located(err, path, 1, None)
    assert "empty" in str(err)


def test_header_without_bars(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,close\n\n")
    err = load_error(path)
    assert_located(err, path, 2, None)
    assert "no bars" in str(err)


def test_missing_columns_lists_found_and_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "when,open,high,last\n1,2,3,4\n")
    err = load_error(path)
    assert_located(err, path, 1, None)
    message = str(err)
    assert "no time, low, close column" in message
    assert "['when', 'open', 'high', 'last']" in message
    assert "timestamp" in message


def test_non_numeric_price(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,close\n1704186000,1,1,1,1\n1704189600,1,abc,1,1\n")
    err = load_error(path)
    assert_located(err, path, 3, "high")
    assert "expected a number in column 'high', got 'abc'" in str(err)


def test_non_positive_price(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,Close\n1704186000,1,1,1,-1.2\n")
    err = load_error(path)
    assert_located(err, path, 2, "Close")
    assert "expected a positive number in column 'Close', got '-1.2'" in str(err)


def test_empty_price_cell(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,close\n1704186000,,1,1,1\n")
    assert_located(load_error(path), path, 2, "open")


@pytest.mark.parametrize(
    ("row", "column", "expected"),
    [
        ("1,0.9,1,1", "high", "expected high >= low"),
        ("1.2,1.1,1,1", "high", "expected high >= max(open, close)"),
        ("1,1.2,0.9,1.3", "high", "expected high >= max(open, close)"),
        ("1,1.2,1.05,1.1", "low", "expected low <= min(open, close)"),
    ],
)
def test_inconsistent_high_low(tmp_path: Path, row: str, column: str, expected: str) -> None:
    path = write(tmp_path, f"time,open,high,low,close\n1704186000,1,1,1,1\n1704189600,{row}\n")
    err = load_error(path)
    assert_located(err, path, 3, column)
    assert expected in str(err)


def test_unsorted_timestamps(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "time,open,high,low,close\n1704189600,1,1,1,1\n1704193200,1,1,1,1\n1704186000,1,1,1,1\n",
    )
    err = load_error(path)
    assert_located(err, path, 4, "time")
    assert "earlier than the previous row" in str(err)


def test_duplicate_timestamps(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,open,high,low,close\n2024-01-02,1,1,1,1\n2024-01-02,1,1,1,1\n")
    err = load_error(path)
    assert_located(err, path, 3, "Date")
    assert "duplicate timestamp" in str(err)


@pytest.mark.parametrize("value", ["yesterday", "2024-13-45", ""])
def test_unparseable_time(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"time,open,high,low,close\n2024-01-02,1,1,1,1\n{value},1,1,1,1\n")
    err = load_error(path)
    assert_located(err, path, 3, "time")
    assert f"ISO 8601 date/time, got {value!r}" in str(err)


def test_unparseable_epoch(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,close\n1704186000,1,1,1,1\nsoon,1,1,1,1\n")
    err = load_error(path)
    assert_located(err, path, 3, "time")
    assert "UNIX seconds" in str(err)


def test_unknown_timezone(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,close\n1704186000,1,1,1,1\n")
    err = load_error(path, timezone="Mars/Olympus_Mons")
    assert_located(err, path, None, None)
    assert "unknown timezone 'Mars/Olympus_Mons'" in str(err)


def test_local_time_skipped_by_dst(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,close\n2024-03-10 02:30:00,1,1,1,1\n"
                 "2024-03-10 03:30:00,1,1,1,1\n")
    assert load_bars(path).times[:1].tolist() == [ms("2024-03-10T02:30:00")]
    err = load_error(path, timezone="America/New_York")
    assert_located(err, path, 2, "time")
    assert "does not exist in America/New_York" in str(err)


def test_negative_volume(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,close,volume\n1704186000,1,1,1,1,-5\n")
    err = load_error(path)
    assert_located(err, path, 2, "volume")
    assert "non-negative" in str(err)


# --------------------------------------------------------------------------- shipped data


def test_shipped_eurusd_hourly() -> None:
    bars = load_bars(DATA_DIR / "EURUSD_1h.csv")
    assert len(bars) == 5000
    assert bars.times[0] == ms("2017-04-19T09:00:00")
    assert bars.times[-1] == ms("2018-02-07T15:00:00")
    assert bars.timeframe == "60"
    assert bars.price_decimals == 5
    assert bars.gaps == 2063  # 42 weekends and holidays
    assert bars.close[-1] == pytest.approx(1.22904)


def test_shipped_goog_daily() -> None:
    bars = load_bars(DATA_DIR / "GOOG_1d.csv")
    assert len(bars) == 2148
    assert bars.times[0] == ms("2004-08-19T00:00:00")
    assert bars.times[-1] == ms("2013-03-01T00:00:00")
    assert bars.timeframe == "1D"
    assert bars.price_decimals == 2
    assert bars.volume[0] == 22351900.0


# --------------------------------------------------------------------------- bar count

HEADER = "time,open,high,low,close,volume\n"
FIRST = "1704186000,1,2,0.5,1,10\n"  # 2024-01-02 09:00 UTC


def test_a_single_bar_is_refused_naming_its_line(tmp_path: Path) -> None:
    # One bar reached PyneCore, which failed with "Invalid timeframe: empty string!".
    path = write(tmp_path, HEADER + "\n" + FIRST)
    err = load_error(path)
    assert_located(err, path, 3, None)
    assert "1 bar; a backtest needs at least 2 bars" in str(err)


def test_two_bars_are_enough(tmp_path: Path) -> None:
    bars = load_bars(write(tmp_path, HEADER + FIRST + "1704189600,1,2,0.5,1,10\n"))
    assert len(bars) == 2
    assert bars.timeframe == "60"


# --------------------------------------------------------------------------- absurd values


def test_absurd_price_is_refused_naming_row_column_and_limit(tmp_path: Path) -> None:
    # 1e308 overflowed inside the engine ("cannot convert float infinity to integer").
    path = write(tmp_path, HEADER + FIRST + "1704189600,1,1e308,0.5,1,10\n")
    err = load_error(path)
    assert_located(err, path, 3, "high")
    assert "expected a positive number of at most 1e12 in column 'high', got '1e308'" in str(err)


def test_price_limit_is_inclusive(tmp_path: Path) -> None:
    at_limit = write(tmp_path, HEADER + FIRST + "1704189600,1,1e12,0.5,1,10\n", "at.csv")
    assert load_bars(at_limit).high[1] == 1e12
    above = write(tmp_path, HEADER + FIRST + "1704189600,1,2,0.5,1,10\n"
                  "1704193200,1.5e12,1.5e12,1.5e12,1.5e12,10\n", "above.csv")
    assert_located(load_error(above), above, 4, "open")


def test_tiny_crypto_prices_stay_valid(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "1704186000,0.00000001,0.00000003,0.00000001,0.00000002,5\n"
                 "1704189600,0.00000002,0.00000002,0.00000001,0.00000001,5\n")
    bars = load_bars(path)
    assert bars.low.min() == pytest.approx(1e-8)
    assert bars.price_decimals == 8
    assert derive_mintick(bars.price_decimals) == pytest.approx(1e-8)


@pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity"])
def test_infinite_price_is_refused(tmp_path: Path, cell: str) -> None:
    path = write(tmp_path, HEADER + FIRST + f"1704189600,1,2,0.5,{cell},10\n")
    err = load_error(path)
    assert_located(err, path, 3, "close")
    assert f"got {cell!r}" in str(err)


@pytest.mark.parametrize(("cell", "expected"), [
    ("inf", "expected a finite number in column 'volume', got 'inf'"),
    ("1e19", "expected a non-negative number of at most 1e18 in column 'volume', got '1e19'"),
])
def test_infinite_or_absurd_volume_is_refused(tmp_path: Path, cell: str, expected: str) -> None:
    path = write(tmp_path, HEADER + FIRST + f"1704189600,1,2,0.5,1,{cell}\n")
    err = load_error(path)
    assert_located(err, path, 3, "volume")
    assert expected in str(err)


def test_volume_up_to_the_limit_and_blank_volume_are_valid(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "1704186000,1,2,0.5,1,1e18\n1704189600,1,2,0.5,1,\n")
    assert load_bars(path).volume.tolist() == [1e18, 0.0]  # blank: a bar without volume


@pytest.mark.parametrize("cell", ["NaN", "nan"])
def test_nan_volume_is_refused_with_the_fix(tmp_path: Path, cell: str) -> None:
    # Blank means "no volume"; a literal NaN is refused like a negative volume is, and the
    # message says how to write a bar without volume.
    path = write(tmp_path, HEADER + FIRST + f"1704189600,1,2,0.5,1,{cell}\n")
    err = load_error(path)
    assert_located(err, path, 3, "volume")
    assert f"got {cell!r}; leave the cell empty for a bar without volume" in str(err)


def test_a_whole_nan_volume_column_is_refused_too(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,high,low,close,Volume\n"
                 "1704186000,1,2,0.5,1,NaN\n1704189600,1,2,0.5,1,NaN\n")
    err = load_error(path)
    assert_located(err, path, 2, "Volume")
    assert "remove the column if the symbol has no volume" in str(err)


# --------------------------------------------------------------------------- time range


@pytest.mark.parametrize(("cell", "expected"), [
    # 1e15 is read as milliseconds: the year 33658 (the engine said "year 33658 is out of range")
    ("1000000000000000", "(read as UNIX milliseconds) is after 2200-01-01"),
    ("1e15", "(read as UNIX milliseconds) is after 2200-01-01"),
    ("1e300", "(read as UNIX milliseconds) is after 2200-01-01"),
    ("-1000", "(read as UNIX seconds) is before 1970-01-01"),
    ("-70000000000", "(read as UNIX seconds) is before 1970-01-01"),
    ("-1e306", "(read as UNIX seconds) is before 1970-01-01"),
    ("50000000000", "(read as UNIX seconds) is after 2200-01-01"),
])
def test_epoch_outside_1970_2200_is_refused(tmp_path: Path, cell: str, expected: str) -> None:
    path = write(tmp_path, HEADER + FIRST + f"{cell},1,2,0.5,1,10\n")
    err = load_error(path)
    assert_located(err, path, 3, "time")
    assert f"time {cell!r} {expected}" in str(err)
    assert "expected a time from 1970-01-01 to 2200-01-01 UTC" in str(err)


@pytest.mark.parametrize(("cell", "side"), [
    ("0001-01-01", "before 1970-01-01"),  # out of order too: the range is checked first
    ("1969-12-31T23:59:59Z", "before 1970-01-01"),
    ("2500-01-01", "after 2200-01-01"),
    ("9999-12-31 23:00", "after 2200-01-01"),
    ("0001-01-01T00:00:00+05:00", "before 1970-01-01"),
    ("2200-01-01T00:00:01Z", "after 2200-01-01"),
])
@pytest.mark.parametrize("timezone", ["UTC", "America/New_York"])
def test_iso_time_outside_1970_2200_is_refused(tmp_path: Path, cell: str, side: str,
                                               timezone: str) -> None:
    path = write(tmp_path, f"time,open,high,low,close\n2024-01-02,1,2,0.5,1\n{cell},1,2,0.5,1\n")
    err = load_error(path, timezone=timezone)
    assert_located(err, path, 3, "time")
    assert f"time {cell!r} is {side}; expected a time from 1970-01-01 to 2200-01-01 UTC" in str(
        err)


def test_naive_times_are_checked_in_utc(tmp_path: Path) -> None:
    # 1969-12-31 20:00 in New York is 1970-01-01 01:00 UTC: in range (the order check fails)
    path = write(tmp_path, "time,open,high,low,close\n1969-12-31 20:00,1,2,0.5,1\n"
                 "1969-12-31 21:00,1,2,0.5,1\n")
    assert load_bars(path, timezone="America/New_York").times[0] == HOUR
    assert "is before 1970-01-01" in str(load_error(path))


def test_range_ends_are_valid(tmp_path: Path) -> None:
    epoch = write(tmp_path, HEADER + "0,1,2,0.5,1,10\n3600,1,2,0.5,1,10\n", "epoch.csv")
    assert load_bars(epoch).times.tolist() == [0, HOUR]
    end = write(tmp_path, "time,open,high,low,close\n2199-12-31T23:00:00Z,1,2,0.5,1\n"
                "2200-01-01T00:00:00Z,1,2,0.5,1\n", "end.csv")
    assert load_bars(end).times[-1] == ms("2200-01-01T00:00:00")


def test_order_message_never_fails_on_times_it_cannot_format() -> None:
    from tvdesk.data.market_data import _check_order

    def fail(row: int, key: str, message: str) -> DataError:
        return DataError(message, source="x.csv", line=row + 2, column=key)

    with pytest.raises(DataError, match="earlier than the previous row") as info:
        _check_order(np.array([0, -10**17], dtype=np.int64), fail, "time")
    assert "-100000000000000000 ms after 1970-01-01 UTC" in str(info.value)


# --------------------------------------------------------------------------- declared timeframe


@pytest.mark.parametrize(("text", "code", "length"), [
    ("60", "60", HOUR),
    ("1h", "60", HOUR),
    ("4H", "240", 4 * HOUR),
    ("15m", "15", 15 * 60_000),
    ("5S", "5S", 5_000),
    ("D", "1D", DAY),
    ("1d", "1D", DAY),
    ("1W", "1W", 7 * DAY),
    ("M", "1M", 30.44 * DAY),
    ("3M", "3M", 3 * 30.44 * DAY),
])
def test_parse_timeframe(text: str, code: str, length: float) -> None:
    parsed = parse_timeframe(text)
    assert parsed is not None
    assert parsed[:2] == (code, pytest.approx(length))


@pytest.mark.parametrize("text", ["", "0", "abc", "fortnight", "1M3"])
def test_parse_timeframe_refuses_non_timeframes(text: str) -> None:
    assert parse_timeframe(text) is None


def _spaced(tmp_path: Path, step_s: int, count: int = 20) -> Bars:
    rows = "".join(f"{1704186000 + i * step_s},1,2,0.5,1\n" for i in range(count))
    return load_bars(write(tmp_path, "time,open,high,low,close\n" + rows, f"every_{step_s}.csv"))


@pytest.mark.parametrize(("step_s", "detected", "words"), [
    (4, "4S", "4 seconds"),
    (86_400, "1D", "1 day"),
])
def test_declared_timeframe_contradicting_the_bars_is_refused(
        tmp_path: Path, step_s: int, detected: str, words: str) -> None:
    bars = _spaced(tmp_path, step_s)
    with pytest.raises(InputError) as info:
        check_timeframe("60", bars)
    err = info.value
    assert not isinstance(err, DataError)
    assert err.source == "--timeframe"
    assert str(err).startswith("--timeframe: '60' (60 minutes) was given")
    assert f"the bars of {bars.path} are {detected!r} ({words}) apart" in str(err)


@pytest.mark.parametrize(("declared", "step_s", "code"), [
    ("60", 3600, "60"),
    ("1h", 3600, "60"),
    ("4S", 4, "4S"),
    ("1440", 86_400, "1440"),
    ("1W", 7 * 86_400, "1W"),
])
def test_declared_timeframe_matching_the_bars_gives_tradingview_code(
        tmp_path: Path, declared: str, step_s: int, code: str) -> None:
    assert check_timeframe(declared, _spaced(tmp_path, step_s)) == code


def test_daily_stock_data_with_weekends_matches_a_daily_timeframe() -> None:
    bars = load_bars(DATA_DIR / "GOOG_1d.csv")
    assert check_timeframe("D", bars) == "1D"
    assert check_timeframe("1D", bars) == "1D"


def test_monthly_data_matches_a_monthly_timeframe(tmp_path: Path) -> None:
    rows = "".join(f"2023-{m:02d}-01,1,1,1,1\n" for m in range(1, 13))
    bars = load_bars(write(tmp_path, "date,open,high,low,close\n" + rows))
    assert check_timeframe("1M", bars) == "1M"
    with pytest.raises(InputError, match="'1W' \\(1 week\\) was given"):
        check_timeframe("1W", bars)


def test_unreadable_declared_timeframe_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected a timeframe such as 15, 60, 4h, 1D or 1W, "
                       "got 'fortnight'") as info:
        check_timeframe("fortnight", _spaced(tmp_path, 3600))
    assert info.value.source == "--timeframe"
