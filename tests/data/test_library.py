"""The market data library: add, merge, refuse, list, resample on demand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from watchlist_data import EURUSD, GOOG, run, slice_csv

from tvdesk.data.library import Library
from tvdesk.data.market_data import load_bars
from tvdesk.errors import DataError, InputError


def test_overlapping_exports_merge_into_the_series_the_whole_file_holds(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    older = slice_csv(EURUSD, tmp_path / "older.csv", 1, 3000)
    newer = slice_csv(EURUSD, tmp_path / "newer.csv", 2501, 5000)
    first = library.add([older], symbol="FX:EURUSD", mintick=0.00001)
    second = library.add([newer], symbol="fx:eurusd")
    assert first[0].created and first[0].new_bars == 3000
    assert (second[0].new_bars, second[0].replaced_bars) == (2000, 500)

    whole = load_bars(EURUSD)
    entry = library.resolve("FX:EURUSD", "60")
    held = load_bars(entry.path)
    assert entry.bars == len(whole) == 5000
    np.testing.assert_array_equal(held.times, whole.times)
    np.testing.assert_array_equal(held.close, whole.close)
    assert entry.gaps == whole.gaps
    assert entry.mintick == 0.00001  # kept from the first add
    assert entry.sources == (str(older), str(newer))


def test_the_newer_export_wins_where_both_have_a_bar(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    library.add([slice_csv(EURUSD, tmp_path / "a.csv", 1, 100)], symbol="FX:EURUSD")
    lines = slice_csv(EURUSD, tmp_path / "b.csv", 100, 200).read_text().splitlines()
    cells = lines[1].split(",")  # the older file's last bar, still forming when it was saved
    cells[4] = f"{float(cells[4]) * 1.001:.5f}"  # a close 0.1 % higher
    cells[2] = str(max(float(cells[2]), float(cells[4])))
    lines[1] = ",".join(cells)
    (tmp_path / "b.csv").write_text("\n".join(lines) + "\n")
    library.add([tmp_path / "b.csv"], symbol="FX:EURUSD")
    held = load_bars(library.resolve("FX:EURUSD", "60").path)
    assert len(held) == 200
    assert held.close[99] == pytest.approx(float(cells[4]))


def test_an_overlap_with_other_prices_is_refused_and_the_series_kept(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    library.add([slice_csv(EURUSD, tmp_path / "a.csv", 1, 300)], symbol="FX:EURUSD")
    other = slice_csv(EURUSD, tmp_path / "other.csv", 200, 400, scale=1.1)
    with pytest.raises(DataError) as caught:
        library.add([other], symbol="FX:EURUSD")
    message = str(caught.value)
    assert str(other) in message and "101 of its 101 bars that overlap" in message
    assert "--replace" in message
    assert library.resolve("FX:EURUSD", "60").bars == 300
    replaced = library.add([other], symbol="FX:EURUSD", replace=True)
    assert replaced[0].entry.bars == 201


def test_missing_bars_show_as_gaps_and_the_list_shows_each_series(tmp_path: Path) -> None:
    home = tmp_path / "home"
    whole = EURUSD.read_text().splitlines()
    holed = [*whole[:101], *whole[111:301]]  # ten hours missing on a weekday
    (tmp_path / "holed.csv").write_text("\n".join(holed) + "\n")
    added = run(home, "data", "add", str(tmp_path / "holed.csv"), "--symbol", "FX:EURUSD",
                "--mintick", "0.00001")
    assert added.returncode == 0, added.stderr
    assert "FX:EURUSD 60: new series; 290 new bars" in added.stdout
    assert run(home, "data", "add", str(GOOG), "--symbol", "NASDAQ:GOOG",
               "--timezone", "America/New_York").returncode == 0
    listing = run(home, "data", "list")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0] + " " + line.split()[1]: line.split()
            for line in listing.stdout.splitlines()[1:]}
    assert set(rows) == {"FX:EURUSD 60", "NASDAQ:GOOG 1D"}
    whole_gaps = load_bars(slice_csv(EURUSD, tmp_path / "whole.csv", 1, 300)).gaps
    assert rows["FX:EURUSD 60"][6:8] == ["290", str(whole_gaps + 10)]
    assert "tz America/New_York" in listing.stdout


def test_timeframes_are_built_like_tradingviews_bars(tmp_path: Path) -> None:
    """A 240-minute and a daily series from hourly bars, checked against pandas' resampling
    (bars open on the period start in UTC: 00:00, 04:00, ...)."""
    library = Library(tmp_path / "lib")
    library.add([EURUSD], symbol="FX:EURUSD")
    frame = pd.read_csv(EURUSD, index_col=0, parse_dates=True)
    for code, rule in (("240", "240min"), ("1D", "1D")):
        entry = library.resolve("EURUSD", code)
        assert entry.timeframe == code and "resampled from FX:EURUSD 60" in entry.sources[0]
        built = load_bars(entry.path)
        expected = frame.resample(rule).agg({"Open": "first", "High": "max", "Low": "min",
                                             "Close": "last", "Volume": "sum"}).dropna()
        times = expected.index.tz_localize("UTC").as_unit("ms").asi8
        np.testing.assert_array_equal(built.times, times)
        np.testing.assert_allclose(built.open, expected["Open"].to_numpy())
        np.testing.assert_allclose(built.high, expected["High"].to_numpy())
        np.testing.assert_allclose(built.low, expected["Low"].to_numpy())
        np.testing.assert_allclose(built.close, expected["Close"].to_numpy())
        np.testing.assert_allclose(built.volume, expected["Volume"].to_numpy())
        assert built.timeframe == code


def test_a_stock_sessions_hourly_bars_open_at_the_session_open(tmp_path: Path) -> None:
    """30-minute bars of a 09:30-16:00 New York session give 60-minute bars at 09:30, 10:30 …
    15:30 (the last one half an hour long), as TradingView builds them."""
    day = pd.date_range("2024-03-04 09:30", "2024-03-04 15:30", freq="30min",
                        tz="America/New_York")
    days = day.append([day + pd.Timedelta(days=d) for d in range(1, 5)])
    prices = np.arange(len(days), dtype=float) + 100
    lines = ["time,open,high,low,close,volume"] + [
        f"{int(t.timestamp())},{p},{p + 0.5},{p - 0.5},{p + 0.25},10"
        for t, p in zip(days, prices, strict=True)]
    (tmp_path / "aapl30.csv").write_text("\n".join(lines) + "\n")
    library = Library(tmp_path / "lib")
    library.add([tmp_path / "aapl30.csv"], symbol="NASDAQ:AAPL",
                timezone="America/New_York", session="0930-1600")
    built = load_bars(library.resolve("NASDAQ:AAPL", "60").path)
    local = pd.to_datetime(built.times, unit="ms", utc=True).tz_convert("America/New_York")
    assert [t.strftime("%H:%M") for t in local[:7]] == \
        ["09:30", "10:30", "11:30", "12:30", "13:30", "14:30", "15:30"]
    assert len(built) == 7 * 5
    assert built.open[0] == 100 and built.close[0] == 101.25 and built.volume[0] == 20
    assert built.volume[6] == 10  # 15:30-16:00: one 30-minute bar


def test_what_the_library_cannot_give_is_named(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    with pytest.raises(InputError, match="BINANCE:BTCUSDT is not in the market data library"):
        library.resolve("BINANCE:BTCUSDT", "60")
    library.add([GOOG], symbol="NASDAQ:GOOG")
    with pytest.raises(InputError, match="has no bars at timeframe 60, nor finer"):
        library.resolve("GOOG", "60")
    library.add([slice_csv(EURUSD, tmp_path / "e.csv", 1, 50)], symbol="OANDA:GOOG")
    with pytest.raises(InputError, match="ambiguous"):
        library.resolve("GOOG", "1D")


def test_data_add_errors_exit_2_naming_what_is_wrong(tmp_path: Path) -> None:
    home = tmp_path / "home"
    plain = slice_csv(EURUSD, tmp_path / "eurusd.csv", 1, 50)
    no_symbol = run(home, "data", "add", str(plain))
    assert no_symbol.returncode == 2 and "--symbol" in no_symbol.stderr
    wrong_tf = run(home, "data", "add", str(plain), "--symbol", "FX:EURUSD", "--timeframe", "15")
    assert wrong_tf.returncode == 2 and "15" in wrong_tf.stderr
    assert run(home, "data", "list").stdout.startswith("the market data library is empty")
    named = tmp_path / "FX_EURUSD, 60.csv"
    named.write_text(plain.read_text())
    by_name = run(home, "data", "add", str(named))
    assert by_name.returncode == 0, by_name.stderr
    assert "FX:EURUSD 60: new series; 50 new bars" in by_name.stdout


def test_a_new_version_leaves_the_bars_a_run_started_on_untouched(tmp_path: Path) -> None:
    """A run (and its --resume) keeps reading the version it started with; `data remove`
    deletes every version."""
    library = Library(tmp_path / "lib")
    library.add([slice_csv(EURUSD, tmp_path / "a.csv", 1, 1000)], symbol="FX:EURUSD")
    first, first_240 = library.resolve("EURUSD", "60"), library.resolve("EURUSD", "240")
    library.add([slice_csv(EURUSD, tmp_path / "b.csv", 900, 2000)], symbol="FX:EURUSD")
    second, second_240 = library.resolve("EURUSD", "60"), library.resolve("EURUSD", "240")
    assert first.path != second.path and first_240.path != second_240.path
    assert len(load_bars(first.path)) == 1000 and len(load_bars(second.path)) == 2000
    assert len(load_bars(first_240.path)) < len(load_bars(second_240.path))
    again = library.add([slice_csv(EURUSD, tmp_path / "c.csv", 1, 2000)], symbol="FX:EURUSD")
    assert again[0].entry.path == second.path  # the same bars: the same version
    assert [e.label for e in library.remove("FX:EURUSD")] == ["FX:EURUSD 60"]
    assert not Path(first.path).exists() and not Path(second.path).exists()
    assert library.entries() == []


def test_a_new_timeframe_takes_the_symbols_facts_and_a_refused_file_writes_nothing(
        tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    library.add([slice_csv(EURUSD, tmp_path / "h.csv", 1, 300)], symbol="FX:EURUSD",
                mintick=0.00001, pointvalue=100000, currency="USD")
    daily = load_bars(library.resolve("FX:EURUSD", "1D").path)  # a daily export of it
    rows = zip(daily.times // 1000, daily.open, daily.high, daily.low, daily.close, strict=True)
    (tmp_path / "d.csv").write_text("time,open,high,low,close\n" + "".join(
        f"{t},{o},{h},{low},{c}\n" for t, o, h, low, c in rows))
    added = library.add([tmp_path / "d.csv"], symbol="FX:EURUSD")
    assert (added[0].entry.timeframe, added[0].entry.mintick, added[0].entry.pointvalue,
            added[0].entry.currency) == ("1D", 0.00001, 100000, "USD")
    with pytest.raises(InputError, match="kept in timezone UTC"):
        library.add([tmp_path / "d.csv"], symbol="FX:EURUSD", timezone="Europe/London")
    before = {e.label: e.path for e in library.entries()}
    # Two files, two timeframes: the hourly one overlaps with other prices, so neither lands.
    other = slice_csv(EURUSD, tmp_path / "other.csv", 200, 400, scale=1.1)
    weekly = tmp_path / "w.csv"
    weekly.write_text("time,open,high,low,close\n1500000000,1,2,0.5,1.5\n1500604800,1,2,0.5,1\n")
    with pytest.raises(DataError):
        library.add([weekly, other], symbol="FX:EURUSD")
    assert {e.label: e.path for e in library.entries()} == before
