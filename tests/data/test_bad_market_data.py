"""Bad market data through the `tvdesk` command: exit 2, the file, line and column named.

Each case was a crash deep in the engine (PyneCore) or in the metrics before: a single bar
("Invalid timeframe: empty string!"), a price of 1e308 (an OverflowError), a UNIX time read as
the year 33658, an out-of-order row dated year 1 (a traceback while writing the message),
4-second bars annualised into an OverflowError, and a declared timeframe that contradicted
the data without anyone noticing. Runs `tvdesk.cli.main` in this process (with capsys).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tvdesk.app.requests import RunOptions, build_request
from tvdesk.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "pine" / "examples" / "sma_cross.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"
GOOG = ROOT / "resources" / "data" / "GOOG_1d.csv"
HEADER = "time,open,high,low,close,volume\n"
START = 1704186000  # 2024-01-02 09:00 UTC


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def hourly(rows: int = 3) -> str:
    """`rows` valid hourly bars as CSV lines (no header)."""
    return "".join(f"{START + i * 3600},1,2,0.5,1,10\n" for i in range(rows))


def seconds_bars(path: Path, count: int = 400) -> Path:
    """Bars 4 seconds apart on a rising wave: the SMA cross trades and ends ~50 % up."""
    lines, previous = [HEADER.strip()], 100.0
    for i in range(count):
        close = 100 + 10 * math.sin(i / 15) + i * 0.1
        high, low = max(previous, close) + 0.5, min(previous, close) - 0.5
        lines.append(f"{START + 4 * i},{previous:.2f},{high:.2f},{low:.2f},{close:.2f},10")
        previous = close
    path.write_text("\n".join(lines) + "\n")
    return path


def evaluate(capsys: pytest.CaptureFixture[str], data: Path, *extra: str) -> tuple[int, str]:
    code, _out, err = run_cli(capsys, "evaluate", "--script", str(EXAMPLE), "--data", str(data),
                              "--mintick", "0.01", "--pointvalue", "1", *extra)
    return code, err


# --------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(("name", "text", "where", "what"), [
    ("one_bar.csv", HEADER + hourly(1), "line 2", "1 bar; a backtest needs at least 2 bars"),
    ("huge_price.csv", HEADER + hourly(2) + f"{START + 7200},1,1e308,0.5,1,10\n",
     "line 4, column 'high'", "at most 1e12"),
    ("year_33658.csv", HEADER + hourly(2) + "1000000000000000,1,2,0.5,1,10\n",
     "line 4, column 'time'", "'1000000000000000' (read as UNIX milliseconds) is after 2200"),
    ("negative_time.csv", HEADER + hourly(2) + "-5000,1,2,0.5,1,10\n",
     "line 4, column 'time'", "'-5000' (read as UNIX seconds) is before 1970-01-01"),
    ("year_1.csv", "time,open,high,low,close\n2024-01-02,1,2,0.5,1\n0001-01-01,1,2,0.5,1\n",
     "line 3, column 'time'", "'0001-01-01' is before 1970-01-01"),
    ("year_2500.csv", "time,open,high,low,close\n2024-01-02,1,2,0.5,1\n2500-01-01,1,2,0.5,1\n",
     "line 3, column 'time'", "'2500-01-01' is after 2200-01-01"),
    ("nan_volume.csv", HEADER + hourly(2) + f"{START + 7200},1,2,0.5,1,NaN\n",
     "line 4, column 'volume'", "leave the cell empty for a bar without volume"),
    ("inf_volume.csv", HEADER + hourly(2) + f"{START + 7200},1,2,0.5,1,inf\n",
     "line 4, column 'volume'", "expected a finite number"),
])
def test_bad_data_exits_2_naming_file_line_and_column(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, where: str,
        what: str) -> None:
    data = tmp_path / name
    data.write_text(text)
    code, err = evaluate(capsys, data)
    assert code == 2
    assert f"{data}, {where}: " in err
    assert what in err
    assert "failed while running" not in err  # refused before the engine saw it


def test_bad_data_is_refused_by_optimize_too(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "one_bar.csv"
    data.write_text(HEADER + hourly(1))
    code, _out, err = run_cli(capsys, "optimize", "--script", str(EXAMPLE), "--data", str(data),
                              "--store", str(tmp_path / "runs.db"), "--max-iterations", "2")
    assert code == 2
    assert f"{data}, line 2: 1 bar" in err


# --------------------------------------------------------------------------- timeframe


@pytest.mark.parametrize("command", ["evaluate", "optimize", "parity"])
def test_timeframe_contradicting_the_data_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    data = seconds_bars(tmp_path / "four_seconds.csv")
    extra = {"evaluate": (), "optimize": ("--store", str(tmp_path / "runs.db")),
             "parity": ("--tv-trades", str(tmp_path / "never_read.csv"))}[command]
    code, _out, err = run_cli(capsys, command, "--script", str(EXAMPLE), "--data", str(data),
                              "--timeframe", "60", *extra)
    assert code == 2
    assert "--timeframe: '60' (60 minutes) was given" in err
    assert f"the bars of {data} are '4S' (4 seconds) apart" in err


def test_daily_data_declared_hourly_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = evaluate(capsys, GOOG, "--timeframe", "60")
    assert code == 2
    assert f"the bars of {GOOG} are '1D' (1 day) apart" in err


def test_matching_timeframe_in_any_spelling_reaches_the_engine_as_tradingview_code() -> None:
    # "1h" used to reach PyneCore as it is and fail there ("Invalid timeframe: wrong modifier")
    request = build_request(RunOptions(script=str(EXAMPLE), data=str(EURUSD), timeframe="1h"))
    assert request.symbol.timeframe == "60"
    daily = build_request(RunOptions(script=str(EXAMPLE), data=str(GOOG), timeframe="D"))
    assert daily.symbol.timeframe == "1D"  # weekends do not make daily stock data weekly


def test_timeframe_check_leaves_other_requests_alone(tmp_path: Path) -> None:
    missing = str(tmp_path / "not_there.csv")
    # no declared timeframe: the data is not read here (the engine reports a missing file)
    assert build_request(RunOptions(script=str(EXAMPLE), data=missing)).symbol.timeframe is None
    # TradingView uses its own data: the file is not read, the timeframe is left as given
    tv = build_request(RunOptions(script=str(EXAMPLE), data=missing, timeframe="4h",
                                  symbol="FX:EURUSD"), engine="tradingview")
    assert tv.symbol.timeframe == "4h"


# --------------------------------------------------------------------------- metrics


def test_seconds_bars_evaluate_with_no_annualised_return(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 4-second bars that end 50 % up raised OverflowError in the CAGR (a 27-minute span
    # raised to the power of a year); now the run succeeds and the figure is "not meaningful".
    data = seconds_bars(tmp_path / "four_seconds.csv")
    out = tmp_path / "result.json"
    code, err = evaluate(capsys, data, "--json", str(out))
    assert code == 0, err
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["net_profit"] > 0
    assert metrics["annualized_return"] is None


# --------------------------------------------------------------------------- trading window


@pytest.mark.parametrize(("window", "flag"), [
    (("--to", "2000-01-01"), "--to"),
    (("--from", "2030-01-01"), "--from"),
])
def test_window_without_bars_exits_2_naming_the_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], window: tuple[str, str],
        flag: str) -> None:
    data = tmp_path / "hours.csv"
    data.write_text(HEADER + hourly(50))
    code, err = evaluate(capsys, data, *window)
    assert code == 2
    assert flag in err


# The bundled EURUSD data runs from 2017-04-19 09:00 to 2018-02-07 15:00 UTC; its Friday
# 2017-04-21 ends at 20:00 and the next bar opens on Sunday 2017-04-23 at 21:00.
WEEKEND = ("--from", "2017-04-22", "--to", "2017-04-22")
EURUSD_SPAN = "its bars run from 2017-04-19 09:00 UTC to 2018-02-07 15:00 UTC"


@pytest.mark.parametrize(("window", "says"), [
    (WEEKEND, ["--from/--to: no bars between 2017-04-22 00:00 UTC and 2017-04-22 23:59:59 UTC "
               f"in {EURUSD}: {EURUSD_SPAN}",
               "the nearest are 2017-04-21 20:00 UTC and 2017-04-23 21:00 UTC"]),
    (("--from", "2030-01-01"), ["--from: 2030-01-01 00:00 UTC is after the last bar of "
                                f"{EURUSD} (2018-02-07 15:00 UTC)"]),
    (("--to", "2000-01-01"), ["--to: 2000-01-01 23:59:59 UTC is before the first bar of "
                              f"{EURUSD} (2017-04-19 09:00 UTC)"]),
])
def test_empty_window_says_which_kind_it_is(
        capsys: pytest.CaptureFixture[str], window: tuple[str, ...], says: list[str]) -> None:
    # A weekend window was reported as "--from is after the last bar of the data", which sent
    # the user looking at the wrong end of the file.
    code, err = evaluate(capsys, EURUSD, *window)
    assert code == 2
    for text in says:
        assert text in err
    assert "failed while running" not in err


@pytest.mark.parametrize(("window", "says"), [
    (("--from", "2030-01-01"), "--from: 2030-01-01 00:00 UTC is after the last bar of"),
    (WEEKEND, "--from/--to: no bars between 2017-04-22 00:00 UTC and 2017-04-22 23:59:59 UTC"),
])
@pytest.mark.parametrize("holdout", ["20%", "0%"])
def test_optimize_refuses_an_empty_window_before_the_run_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], window: tuple[str, ...], says: str,
        holdout: str) -> None:
    # Every trial used to fail on the empty window and the run was reported finished (exit 0).
    from tvdesk.store import RunStore

    store = tmp_path / "runs.db"
    code, _out, err = run_cli(capsys, "optimize", "--script", str(EXAMPLE), "--data",
                              str(EURUSD), "--store", str(store), "--max-iterations", "2",
                              "--holdout", holdout, *window)
    assert code == 2
    assert says in err and str(EURUSD) in err
    if store.exists():
        with RunStore.open(store) as runs:
            assert runs.list_runs() == []
