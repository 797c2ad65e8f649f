"""Watchlists on the command line: evaluate and optimize over several charts of the library."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from watchlist_data import (
    CURVE_FIT_MOVES,
    EURUSD,
    ROOT,
    SLOT_PINE,
    SMA,
    env,
    run,
    slice_csv,
    slot_chart,
)

from tvdesk.store import RunStore


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A library of two symbols: the first 2,500 bundled EURUSD bars (beside the home folder
    as eurusd.csv) and a copy shifted by a year and priced 1.3× ("FX:EURXXX")."""
    home = tmp_path / "home"
    eurusd = slice_csv(EURUSD, tmp_path / "eurusd.csv", 1, 2500)
    assert run(home, "data", "add", str(eurusd), "--symbol", "FX:EURUSD",
               "--mintick", "0.00001").returncode == 0
    shifted = tmp_path / "eurxxx.csv"
    lines = eurusd.read_text().splitlines()
    out = [lines[0]]
    for row in lines[1:]:
        stamp, *prices = row.split(",")
        year = int(stamp[:4]) + 1
        out.append(",".join([f"{year}{stamp[4:]}",
                             *(f"{float(p) * 1.3:.5f}" for p in prices[:4]), prices[4]]))
    shifted.write_text("\n".join(out) + "\n")
    assert run(home, "data", "add", str(shifted), "--symbol", "FX:EURXXX",
               "--mintick", "0.00001").returncode == 0
    return home


def _trades(document: dict) -> list[tuple]:
    return [(t["entry_time"], t["exit_time"], t["entry_price"], t["exit_price"],
             round(t["profit"], 6)) for t in document["trades"]]


def test_evaluate_runs_every_chart_and_writes_a_document_per_chart(home: Path,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "charts.json"
    done = run(home, "evaluate", "--script", str(SMA), "--symbols", "FX:EURUSD,EURXXX",
               "--timeframes", "60,4h", "--json", str(out))
    assert done.returncode == 0, done.stderr
    table = done.stdout.splitlines()
    assert table[0].split()[:3] == ["Chart", "Net", "profit"]
    assert [line.split()[0] + " " + line.split()[1] for line in table[1:5]] == \
        ["FX:EURUSD 60", "FX:EURUSD 240", "FX:EURXXX 60", "FX:EURXXX 240"]
    documents = json.loads(out.read_text())
    assert [(d["properties"]["symbol"], d["properties"]["timeframe"]) for d in documents] == \
        [("FX:EURUSD", "60"), ("FX:EURUSD", "240"), ("FX:EURXXX", "60"), ("FX:EURXXX", "240")]
    assert all(d["properties"]["tick_size"] == 0.00001 for d in documents)
    for line, document in zip(table[1:5], documents, strict=True):
        net = document["metrics"]["net_profit_percent"]
        assert line.split()[2] == (f"{net:+.2f}" if net else "0.00")

    # The library's hourly chart is the CSV it came from: the same trades as --data.
    single = tmp_path / "single.json"
    plain = run(home, "evaluate", "--script", str(SMA), "--data",
                str(home.parent / "eurusd.csv"), "--symbol", "FX:EURUSD", "--mintick", "0.00001",
                "--json", str(single))
    assert plain.returncode == 0, plain.stderr
    assert _trades(json.loads(single.read_text())) == _trades(documents[0])
    # The shifted, rescaled copy trades other dates: its own chart, not a copy of the first.
    assert _trades(documents[2]) != _trades(documents[0])


def test_watchlist_mistakes_exit_2_naming_them(home: Path, tmp_path: Path) -> None:
    missing = run(home, "evaluate", "--script", str(SMA), "--symbols", "FX:EURUSD,BINANCE:BTC")
    assert missing.returncode == 2
    assert "BINANCE:BTC is not in the market data library" in missing.stderr
    assert "FX:EURUSD" in missing.stderr  # what it does hold
    both = run(home, "evaluate", "--script", str(SMA), "--symbols", "FX:EURUSD",
               "--data", str(EURUSD))
    assert both.returncode == 2 and "--data describes one chart" in both.stderr
    too_fine = run(home, "evaluate", "--script", str(SMA), "--symbols", "FX:EURUSD",
                   "--timeframes", "15")
    assert too_fine.returncode == 2 and "timeframe 15" in too_fine.stderr
    config = tmp_path / "tvdesk.toml"
    config.write_text('[watchlists]\nfx = ["FX:EURUSD", "FX:EURXXX"]\n')
    named = run(home, "--config", str(config), "evaluate", "--script", str(SMA),
                "--watchlist", "fx", "--timeframes", "1D")
    assert named.returncode == 0, named.stderr
    assert "FX:EURXXX 1D" in named.stdout
    unknown = run(home, "--config", str(config), "evaluate", "--script", str(SMA),
                  "--watchlist", "crypto")
    assert unknown.returncode == 2 and "no watchlist named 'crypto'" in unknown.stderr
    # A watchlist profile: its charts, unless a --data flag asks for one chart.
    config.write_text('[watchlists]\nfx = ["FX:EURUSD", "FX:EURXXX"]\n\n[profiles.fx]\n'
                      f'script = "{SMA}"\nwatchlist = "fx"\ntimeframes = ["1D"]\n')
    profiled = run(home, "--config", str(config), "evaluate", "--profile", "fx")
    assert profiled.returncode == 0, profiled.stderr
    assert "FX:EURUSD 1D" in profiled.stdout and "FX:EURXXX 1D" in profiled.stdout
    one = run(home, "--config", str(config), "evaluate", "--profile", "fx", "--data",
              str(EURUSD), "--mintick", "0.00001")
    assert one.returncode == 0, one.stderr
    assert "FX:EURXXX" not in one.stdout and "symbol facts:" in one.stdout


@pytest.fixture
def slot_home(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    for symbol, moves in CURVE_FIT_MOVES.items():
        chart = slot_chart(tmp_path / f"{symbol.split(':')[1]}.csv", moves)
        assert run(home, "data", "add", str(chart), "--symbol", symbol,
                   "--mintick", "0.01").returncode == 0
    script = tmp_path / "slot.pine"
    script.write_text(SLOT_PINE)
    return home, script


def test_the_watchlist_best_is_the_inputs_that_work_everywhere(slot_home, tmp_path) -> None:
    """Each chart alone would pick another slot (1 is a curve fit of chart AAA); the median
    over the charts picks slot 3, the one that earns on all three, and a target held on every
    chart leaves slot 3 the only trial that meets it."""
    home, script = slot_home
    store_path = tmp_path / "runs.db"
    done = run(home, "optimize", "--script", str(script), "--symbols",
               ",".join(CURVE_FIT_MOVES), "--sampler", "grid", "--max-iterations", "4",
               "--holdout", "0%", "--process-count", "1", "--store", str(store_path),
               "--target", "net_profit>=0")
    assert done.returncode == 0, done.stderr
    with RunStore.open_for_reading(store_path) as store:
        run_id = store.latest_run_id()
        assert run_id
        trials = {t.inputs["Slot"]: t for t in store.trials(run_id, status="done")}
        assert sorted(trials) == [1, 2, 3, 4]
        charts = {slot: {c.label: c for c in store.chart_results(t.id)}
                  for slot, t in trials.items()}
    for slot, t in trials.items():
        assert list(charts[slot]) == [f"{s} 60" for s in CURVE_FIT_MOVES]
        for i, (symbol, moves) in enumerate(CURVE_FIT_MOVES.items()):
            assert charts[slot][f"{symbol} 60"].metrics["net_profit"] == \
                pytest.approx(moves[slot - 1]), (slot, i)
        assert t.metrics["net_profit"] == pytest.approx(
            sorted(m[slot - 1] for m in CURVE_FIT_MOVES.values())[1])  # the median
    assert "best trial" in done.stdout and "Slot=3" in done.stdout
    for symbol in CURVE_FIT_MOVES:  # the best of each chart alone is another slot
        alone = max(trials, key=lambda s: charts[s][f"{symbol} 60"].metrics["net_profit"])
        assert alone != 3
    # Targets on every chart: only slot 3 earns on all three (slot 1's mean is positive).
    assert trials[1].metrics["charts_profitable_percent"] == pytest.approx(100 / 3)
    assert trials[1].tag == "OVERFIT"
    assert any("profitable on 1 of 3 charts" in r for r in trials[1].reasons)
    assert trials[3].metrics["charts_profitable_percent"] == 100
    assert "met by 1 of 4 trials" in done.stdout
    exported = tmp_path / "run.json"
    assert run(home, "runs", "--store", str(store_path), "--export", "latest", "--json",
               str(exported)).returncode == 0
    rows = json.loads(exported.read_text())["trials"]
    assert all([c["label"] for c in row["charts"]] == [f"{s} 60" for s in CURVE_FIT_MOVES]
               for row in rows)
    assert rows[0]["charts"][0]["result"]["trades"]  # each chart's trades are kept


def test_the_timeframe_can_be_searched(slot_home, tmp_path: Path) -> None:
    home, script = slot_home
    store_path = tmp_path / "runs.db"
    done = run(home, "optimize", "--script", str(script), "--symbols", "TEST:AAA,TEST:BBB",
               "--timeframes", "60,120", "--search-timeframe", "--sampler", "grid",
               "--max-iterations", "8", "--holdout", "0%", "--store", str(store_path))
    assert done.returncode == 0, done.stderr
    with RunStore.open_for_reading(store_path) as store:
        run_id = store.latest_run_id()
        assert run_id
        trials = store.trials(run_id, status="done")
        seen = set()
        for trial in trials:
            timeframe = trial.inputs["Chart timeframe"]
            seen.add(timeframe)
            labels = [c.label for c in store.chart_results(trial.id)]
            assert labels == [f"TEST:AAA {timeframe}", f"TEST:BBB {timeframe}"]
    assert seen == {"60", "120"} and len(trials) == 8


def test_a_killed_watchlist_run_resumes_with_every_charts_result(home: Path,
                                                                 tmp_path: Path) -> None:
    store_path = tmp_path / "runs.db"
    args = [sys.executable, "-m", "tvdesk", "optimize", "--script", str(SMA), "--symbols",
            "FX:EURUSD,FX:EURXXX", "--timeframes", "60,240", "--max-iterations", "12",
            "--process-count", "2", "--store", str(store_path)]
    process = subprocess.Popen(args, cwd=ROOT, env=env(home), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 240
        for line in process.stdout:
            if "trial 3:" in line or time.monotonic() > deadline:
                break
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
        time.sleep(0.5)  # the workers notice their parent died
    with RunStore.open_for_reading(store_path) as store:
        run_id = store.latest_run_id()
        assert run_id
        before = store.count_trials(run_id, status="done")
    assert 3 <= before < 12
    resumed = run(home, "optimize", "--resume", run_id, "--store", str(store_path))
    assert resumed.returncode == 0, resumed.stderr
    with RunStore.open_for_reading(store_path) as store:
        trials = store.trials(run_id)
        assert store.get_run(run_id).status == "finished"
        done = [t for t in trials if t.status == "done"]
        in_sample = [t for t in done if t.segment == "in_sample"]
        assert len({json.dumps(t.inputs, sort_keys=True) for t in in_sample}) == \
            len(in_sample) == 12
        assert [t.segment for t in done].count("holdout") == 1
        for trial in done:
            assert [c.label for c in store.chart_results(trial.id)] == \
                ["FX:EURUSD 60", "FX:EURUSD 240", "FX:EURXXX 60", "FX:EURXXX 240"]
        assert not [t for t in trials if t.status == "running"]
