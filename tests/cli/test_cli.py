"""The `tvdesk` command as a user runs it: a real subprocess, real files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "pine" / "examples" / "sma_cross.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"


def tvdesk(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tvdesk", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=300)


def test_version_names_pynesys() -> None:
    run = tvdesk("--version")
    assert run.returncode == 0
    assert "tvdesk 0." in run.stdout
    assert "Powered by PyneSys (https://pynesys.io)" in run.stdout


def test_evaluate_prints_a_summary_and_writes_the_result_document(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    run = tvdesk("evaluate", "--engine", "local", "--script", str(EXAMPLE), "--data", str(EURUSD),
                 "--symbol", "FX:EURUSD", "--mintick", "0.00001", "--pointvalue", "1",
                 "--input", "Fast Length=12", "--from", "2017-06-01", "--to", "2017-12-31",
                 "--json", str(out))
    assert run.returncode == 0, run.stderr
    assert "Net profit" in run.stdout and "Profit factor" in run.stdout
    doc = json.loads(out.read_text())
    assert doc["source"] == "local"
    assert doc["properties"]["inputs"]["Fast Length"] == 12
    assert doc["metrics"]["total_trades"] == len([t for t in doc["trades"] if not t["open"]])
    assert all(t["entry_time"] >= "2017-06-01" for t in doc["trades"])
    assert all(t["exit_time"] is None or t["exit_time"] <= "2018" for t in doc["trades"])
    assert doc["properties"]["tick_size"] == 0.00001


def test_unknown_input_exits_2_and_lists_the_inputs(tmp_path: Path) -> None:
    run = tvdesk("evaluate", "--script", str(EXAMPLE), "--data", str(EURUSD),
                 "--input", "Fast=3")
    assert run.returncode == 2
    assert "unknown input 'Fast'" in run.stderr and "'Fast Length' (int" in run.stderr
    assert "Traceback" not in run.stderr


def test_bad_market_data_exits_2_naming_file_and_row(tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("time,open,high,low,close\n1700000000,1,2,0.5,1\n1700003600,1,0.5,2,1\n")
    run = tvdesk("evaluate", "--script", str(EXAMPLE), "--data", str(data))
    assert run.returncode == 2
    assert "bad.csv, line 3" in run.stderr


def test_pine_error_exits_2_with_the_line(tmp_path: Path) -> None:
    # Exit 2, not 1: the script is what the user gave and only they can fix it, so a Pine
    # error is bad input like a bad flag; 1 is kept for runs that fail for another reason.
    script = tmp_path / "broken.pine"
    script.write_text('//@version=6\nstrategy("b")\nplot(close)\nplot(open)\n'
                      'x = ta.sma(close, 3))\nplot(x)\n')
    run = tvdesk("evaluate", "--script", str(script), "--data", str(EURUSD))
    assert run.returncode == 2
    assert "broken.pine: Pine line 5:" in run.stderr
    assert "Traceback" not in run.stderr


def test_one_input_set_by_title_and_by_name_exits_2_naming_both() -> None:
    run = tvdesk("evaluate", "--script", str(EXAMPLE), "--data", str(EURUSD),
                 "--input", "Fast Length=5", "--input", "fastLen=7")
    assert run.returncode == 2
    assert ("--input 'Fast Length=5' and --input 'fastLen=7' both set the input "
            "'Fast Length' (fastLen); give it once") in run.stderr
    assert "Traceback" not in run.stderr


def test_bad_timezone_in_the_config_names_the_file_not_the_flag(tmp_path: Path) -> None:
    config = tmp_path / "tvdesk.toml"
    config.write_text('timezone = "Mars/Olympus"\n')
    run = tvdesk("--config", str(config), "evaluate", "--script", str(EXAMPLE),
                 "--data", str(EURUSD))
    assert run.returncode == 2
    assert f"{config}: key 'timezone': expected an IANA timezone name" in run.stderr
    assert "--timezone" not in run.stderr and "Traceback" not in run.stderr


def test_missing_script_exits_2(tmp_path: Path) -> None:
    run = tvdesk("evaluate", "--script", str(tmp_path / "nope.pine"), "--data", str(EURUSD))
    assert run.returncode == 2
    assert "nope.pine: no such Pine file" in run.stderr


def test_profile_from_config_supplies_the_flags(tmp_path: Path) -> None:
    config = tmp_path / "tvdesk.toml"
    config.write_text(f"""
[profiles.demo]
script = "{EXAMPLE.as_posix()}"
data = "{EURUSD.as_posix()}"
symbol = "FX:EURUSD"
mintick = 0.00001
from = "2017-09-01"
[profiles.demo.inputs]
"Slow Length" = 40
""")
    out = tmp_path / "r.json"
    run = tvdesk("--config", str(config), "evaluate", "--profile", "demo",
                 "--input", "Fast Length=8", "--json", str(out))
    assert run.returncode == 0, run.stderr
    inputs = json.loads(out.read_text())["properties"]["inputs"]
    assert inputs == {"Fast Length": 8, "Slow Length": 40, "Allow Shorts": False}


def test_a_profiles_properties_override_the_scripts_strategy_settings(tmp_path: Path) -> None:
    config = tmp_path / "tvdesk.toml"
    base = f"""
[profiles.demo]
script = "{EXAMPLE.as_posix()}"
data = "{EURUSD.as_posix()}"
mintick = 0.00001
"""
    documents = {}
    for name, extra in (("plain", ""), ("costly", "[profiles.demo.properties]\n"
                                                   "commission_value = 0.5\n"
                                                   "initial_capital = 50000\n")):
        config.write_text(base + extra)
        out = tmp_path / f"{name}.json"
        run = tvdesk("--config", str(config), "evaluate", "--profile", "demo", "--json", str(out))
        assert run.returncode == 0, run.stderr
        documents[name] = json.loads(out.read_text())
    plain, costly = documents["plain"], documents["costly"]
    assert len(plain["trades"]) > 0
    assert sum(t["commission"] for t in costly["trades"]) > \
        sum(t["commission"] for t in plain["trades"])
    assert costly["metrics"]["net_profit"] != plain["metrics"]["net_profit"]
    config.write_text(base + "[profiles.demo.properties]\npyramiding = 3\n")
    bad = tvdesk("--config", str(config), "evaluate", "--profile", "demo")
    assert bad.returncode == 2 and "unknown key 'profiles.demo.properties.pyramiding'" in bad.stderr


def test_evaluate_from_exports_reads_every_export_in_the_folder(tmp_path: Path) -> None:
    from export_fixtures import write_csv, write_xlsx

    sheets = tmp_path / "sheets"
    sheets.mkdir()
    write_xlsx(sheets / "report.xlsx")
    write_csv(sheets / "trades.csv")
    out = tmp_path / "all.json"
    run = tvdesk("evaluate", "--from-exports", str(sheets), "--json", str(out))
    assert run.returncode == 0, run.stderr
    assert "report.xlsx" in run.stdout and "trades.csv" in run.stdout
    documents = json.loads(out.read_text())
    assert [d["source"] for d in documents] == ["export", "export"]
    empty = tvdesk("evaluate", "--from-exports", str(tmp_path / "none"))
    assert empty.returncode == 2 and "no TradingView exports" in empty.stderr


def test_evaluate_runs_the_baseline_and_each_condition(tmp_path: Path) -> None:
    out = tmp_path / "conditions.json"
    run = tvdesk("evaluate", "--script", str(ROOT / "pine" / "examples" / "multi_condition.pine"),
                 "--data", str(EURUSD), "--mintick", "0.00001", "--conditions", "2-3",
                 "--json", str(out))
    assert run.returncode == 0, run.stderr
    documents = json.loads(out.read_text())
    assert [d["properties"]["inputs"]["Condition"] for d in documents] == [1, 2, 3]
    assert "condition 3" in run.stdout
    missing = tvdesk("evaluate", "--script", str(EXAMPLE), "--data", str(EURUSD),
                     "--conditions", "1-2")
    assert missing.returncode == 2 and "no input 'Condition'" in missing.stderr


def test_optimize_then_list_and_export_the_run(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    run = tvdesk("optimize", "--script", str(EXAMPLE), "--data", str(EURUSD), "--mintick",
                 "0.00001", "--store", str(store), "--max-iterations", "6", "--holdout", "25%")
    assert run.returncode == 0, run.stderr
    assert "finished" in run.stdout and "best trial" in run.stdout and "holdout:" in run.stdout
    listing = tvdesk("runs", "--store", str(store))
    assert listing.returncode == 0 and "SMA Cross" in listing.stdout
    assert "     6 trials" in listing.stdout
    out = tmp_path / "run.json"
    export = tvdesk("runs", "--store", str(store), "--export", "latest", "--json", str(out))
    assert export.returncode == 0, export.stderr
    snapshot = json.loads(out.read_text())
    assert len([t for t in snapshot["trials"] if t["segment"] == "in_sample"]) == 6
    bad = tvdesk("optimize", "--script", str(EXAMPLE), "--data", str(EURUSD), "--store",
                 str(store), "--target", "profit>>1")
    assert bad.returncode == 2 and "expected 'metric>=number'" in bad.stderr


def test_optimize_refuses_a_target_on_an_unknown_metric_before_running(tmp_path: Path) -> None:
    """A target no backtest can meet is refused up front (exit 2), naming the metric and the
    close known names, and no run is started."""
    from tvdesk.store import RunStore

    store = tmp_path / "runs.db"
    run = tvdesk("optimize", "--script", str(EXAMPLE), "--data", str(EURUSD), "--mintick",
                 "0.00001", "--store", str(store), "--max-iterations", "2",
                 "--target", "foo_bar>=3", "--target", "sharpe_ratio>=0")
    assert run.returncode == 2, run.stderr
    assert "--target: unknown metric 'foo_bar'" in run.stderr
    assert "Traceback" not in run.stderr and "finished" not in run.stdout
    typo = tvdesk("optimize", "--script", str(EXAMPLE), "--data", str(EURUSD), "--store",
                  str(store), "--target", "profit_factr>=1.2")
    assert typo.returncode == 2 and "did you mean profit_factor" in typo.stderr
    if store.exists():
        with RunStore.open(store) as opened:
            assert opened.list_runs() == []


def test_optimize_with_a_missing_data_file_is_a_clear_error(tmp_path: Path) -> None:
    run = tvdesk("optimize", "--script", str(EXAMPLE), "--data", str(tmp_path / "nope.csv"),
                 "--store", str(tmp_path / "runs.db"))
    assert run.returncode == 2
    assert "nope.csv: file not found" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_script_the_safety_check_refuses_exits_2_naming_line_and_construct(
        tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    script = tmp_path / "evil.pine"
    script.write_text('//@version=6\nstrategy("evil")\nx = ta.sma(close, 3)\n'
                      f'log.os.system("touch {marker}")\n', encoding="utf-8")
    data = Path(__file__).resolve().parents[2] / "resources" / "data" / "EURUSD_1h.csv"
    result = tvdesk("evaluate", "--script", str(script), "--data", str(data),
                    "--mintick", "0.00001")
    assert result.returncode == 2
    assert "evil.pine: Pine line 4: refused: `log.os` is not part of Pine" in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


DAILY_TREND = """//@version=6
strategy("daily trend", overlay=true)
d = request.security(syminfo.tickerid, "D", ta.sma(close, 5))
if ta.crossover(close, d)
    strategy.entry("L", strategy.long)
if ta.crossunder(close, d)
    strategy.close("L")
"""


def test_a_daily_trend_filter_runs_in_the_confined_worker(tmp_path: Path) -> None:
    # request.security's child processes talk through /dev/shm, which the worker's Landlock
    # rules must allow; the daily series is built from the hourly data, no flag needed.
    script = tmp_path / "daily.pine"
    script.write_text(DAILY_TREND)
    out = tmp_path / "result.json"
    run = tvdesk("evaluate", "--script", str(script), "--data", str(EURUSD), "--symbol",
                 "FX:EURUSD", "--mintick", "0.00001", "--to", "2017-09-30", "--json", str(out))
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text())
    assert doc["metrics"]["total_trades"] > 0
    assert doc["properties"]["security_feeds"] == ["FX:EURUSD D from EURUSD_1h.csv"]
    assert "symbol facts: symbol FX:EURUSD (given)" in run.stdout
    assert "point value 1 (assumed)" in run.stdout


def test_another_symbol_without_bars_exits_2_naming_it(tmp_path: Path) -> None:
    script = tmp_path / "other.pine"
    script.write_text(DAILY_TREND.replace("syminfo.tickerid", '"FX:GBPUSD"'))
    run = tvdesk("evaluate", "--script", str(script), "--data", str(EURUSD), "--symbol",
                 "FX:EURUSD", "--mintick", "0.00001", "--to", "2017-06-30")
    assert run.returncode == 2
    assert "FX:GBPUSD" in run.stderr and "timeframe D" in run.stderr
    assert "--security FX:GBPUSD=FILE" in run.stderr


def test_security_flag_gives_another_symbols_bars(tmp_path: Path) -> None:
    script = tmp_path / "other.pine"
    script.write_text(DAILY_TREND.replace("syminfo.tickerid", '"FX:GBPUSD"'))
    out = tmp_path / "result.json"
    run = tvdesk("evaluate", "--script", str(script), "--data", str(EURUSD), "--symbol",
                 "FX:EURUSD", "--mintick", "0.00001", "--to", "2017-09-30",
                 "--security", f"GBPUSD={EURUSD}", "--json", str(out))
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text())["properties"]["security_feeds"] == [
        "GBPUSD D from EURUSD_1h.csv"]


def test_bad_security_flags_exit_2_naming_the_flag(tmp_path: Path) -> None:
    base = ("evaluate", "--script", str(EXAMPLE), "--data", str(EURUSD))
    run = tvdesk(*base, "--security", "FX:GBPUSD")
    assert run.returncode == 2 and "--security" in run.stderr and "SYMBOL=FILE" in run.stderr
    run = tvdesk(*base, "--security", f"FX:GBPUSD={tmp_path / 'missing.csv'}")
    assert run.returncode == 2 and "does not exist" in run.stderr
    run = tvdesk(*base, "--magnifier-data", str(tmp_path / "missing.csv"))
    assert run.returncode == 2 and "--magnifier-data" in run.stderr


def test_a_tradingview_export_file_name_names_the_symbol(tmp_path: Path) -> None:
    data = tmp_path / "FX_EURUSD, 60_3f2a1.csv"
    data.write_bytes(EURUSD.read_bytes())
    run = tvdesk("evaluate", "--script", str(EXAMPLE), "--data", str(data), "--mintick",
                 "0.00001", "--to", "2017-06-30")
    assert run.returncode == 0, run.stderr
    assert ("symbol FX:EURUSD (named by the TradingView export's file name)"
            in run.stdout)
