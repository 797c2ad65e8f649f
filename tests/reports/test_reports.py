"""Reports over a real optimisation: workbook, TradingView round trip, HTML, CSV, text, JSON.

One small real run (SMA cross on EURUSD 1h, 8 trials and a holdout) and one real single
backtest are made once for the module; every test reads them back through the report model.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tvdesk.app.optimize import run_optimization
from tvdesk.engines.local import LocalEngine
from tvdesk.errors import InputError
from tvdesk.exports import read_export
from tvdesk.model import BacktestRequest, BacktestResult, FrozenMap, SymbolSpec, Trade
from tvdesk.optimize.settings import OptimizeSettings
from tvdesk.pine.loader import load_strategy
from tvdesk.reports import (
    FORMATS,
    ReportData,
    TrialSummary,
    report_from_result,
    report_from_store,
    write_reports,
    write_tradingview_xlsx,
)
from tvdesk.reports import charts as report_charts
from tvdesk.reports.builders import pick_details
from tvdesk.reports.charts import parameter_heatmap, render_charts
from tvdesk.reports.data import RunSummary
from tvdesk.reports.labels import KEY_METRICS, column_header, label
from tvdesk.reports.naming import report_base, safe_name
from tvdesk.reports.run_workbook import DETAIL_SHEETS, render_xlsx, summary_columns
from tvdesk.reports.tradingview_workbook import SHEETS
from tvdesk.reports.txt import render_txt
from tvdesk.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"
GENERATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@dataclass
class Run:
    store: RunStore
    run_id: str
    data: ReportData
    single: BacktestResult


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder = tmp_path_factory.mktemp("reports-run")
    request = BacktestRequest(
        strategy=load_strategy(ROOT / "pine" / "examples" / "sma_cross.pine"),
        data_path=str(ROOT / "resources" / "data" / "EURUSD_1h.csv"),
        symbol=SymbolSpec(ticker="FX:EURUSD", mintick=0.00001, pointvalue=1.0))
    settings = OptimizeSettings(request=request, max_iterations=8, holdout=0.2)
    with RunStore.open(folder / "runs.db") as store:
        async def main() -> tuple[str, BacktestResult]:
            async with LocalEngine(processes=1) as engine:
                outcome = await run_optimization(settings, store, engine=engine)
                single = await engine.run(request.with_inputs({"Allow Shorts": True}))
            return outcome.run_id, single

        run_id, single = asyncio.run(main())
        data = replace(report_from_store(store, run_id), generated_at=GENERATED)
        yield Run(store, run_id, data, single)


def written(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- model


def test_report_model_holds_every_trial_and_the_best_in_full(run: Run) -> None:
    trials = run.store.trials(run.run_id)
    assert [t.id for t in run.data.trials] == [t.id for t in trials]
    best = run.store.best_trial(run.run_id, "net_profit_percent")
    [holdout] = run.store.trials(run.run_id, segment="holdout")
    detail_ids = [t.id for t, _r in run.data.details]
    assert detail_ids[0] == best.id
    assert detail_ids[1] == holdout.id  # the best trial's holdout follows it
    assert len([i for i in detail_ids if i != holdout.id]) == 5
    assert run.data.best_by_condition()[None].id == best.id
    assert run.data.run.strategy_title == "SMA Cross"
    # Equity comes from the daily returns the store keeps (or the trades when it has none).
    assert run.data.equity[best.id].kind == "daily"
    assert run.data.equity[holdout.id].kind in ("daily", "trades")
    assert run.data.equity[best.id].buy_hold is not None


def test_details_pick_each_conditions_best_first_then_fill_up_to_top() -> None:
    def trial(id_: int, condition: str, profit: float, segment: str = "in_sample",
              inputs: dict[str, Any] | None = None) -> TrialSummary:
        return TrialSummary(id=id_, worker=1, condition=condition, iteration=id_,
                            proposer="params", segment=segment,
                            inputs=FrozenMap(inputs or {"n": id_}),
                            metrics=FrozenMap({"net_profit_percent": profit}))

    trials = [trial(1, "a", 5.0), trial(2, "a", 9.0), trial(3, "a", 8.0), trial(4, "b", 1.0),
              trial(5, "b", 2.0), trial(6, "a", 7.0), trial(7, "a", 99.0, "holdout", {"n": 2}),
              replace(trial(8, "a", 50.0), status="error")]
    picked = [t.id for t in pick_details(trials, top=3)]
    assert picked == [2, 7, 5, 3]  # a's best (+ its holdout), b's best, then the next best
    assert [t.id for t in pick_details(trials, top=1)] == [2, 7]


# --------------------------------------------------------------------------- XLSX


def test_xlsx_summary_equals_the_store_and_details_are_present(run: Run) -> None:
    book = load_workbook(io.BytesIO(render_xlsx(run.data)))
    trials = run.store.trials(run.run_id)
    details = [t for t, _r in run.data.details]
    # The first detailed trial in TradingView's layout, every detailed trial in long tables.
    expected_sheets = ["Summary", *[f"T{details[0].id} {name}" for name in SHEETS],
                       *DETAIL_SHEETS, "Timeline", "Robustness", "Settings"]
    assert run.data.robustness["trials"] == 8  # the run's judgement, read from the store
    assert book.sheetnames == expected_sheets

    sheet = book["Summary"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    headers, inputs, metrics = summary_columns(run.data)
    assert header == headers
    assert inputs == ["Allow Shorts", "Fast Length", "Slow Length"]
    assert [column_header(k) for k in KEY_METRICS] == header[10:10 + len(KEY_METRICS)]
    assert "Net profit USD" in header and "Max equity drawdown (intrabar) %" in header
    assert len(rows) - 1 == len(trials)
    col = {name: header.index(name) for name in header}
    for row, trial in zip(rows[1:], trials, strict=True):
        assert row[col["Trial"]] == trial.id
        assert row[col["Segment"]] == trial.segment
        assert row[col["Worker"]] == trial.worker
        for name in inputs:
            assert row[col[name]] == trial.inputs[name]
            assert type(row[col[name]]) is type(trial.inputs[name])  # bools stay bools
        for key in metrics:
            value = trial.metrics.get(key)
            cell = row[col[column_header(key)]]
            if value is None:
                assert cell is None  # empty, never "N/A": the column stays numeric
            else:
                assert cell == pytest.approx(value, rel=1e-12)
    assert sheet.freeze_panes == "B2"
    assert sheet["A1"].font.bold
    assert sheet.column_dimensions["H"].width > 6

    timeline = list(book["Timeline"].iter_rows(values_only=True))
    assert len(timeline) - 1 == len(trials)
    assert [r[3] for r in timeline[1:]] == [t.id for t in trials]
    started = timeline[1][0]
    assert isinstance(started, datetime) and started.tzinfo is None
    wall_clock = trials[0].started_at.astimezone(UTC).replace(tzinfo=None)  # chart zone: UTC
    assert abs(started - wall_clock) < timedelta(milliseconds=1)

    best = details[0]
    trades = list(book[f"T{best.id} List of trades"].iter_rows(values_only=True))
    assert trades[0][:4] == ("Trade #", "Type", "Date and time", "Signal")
    assert trades[1][1] == "Exit long" and trades[2][1] == "Entry long"  # exit row first
    assert isinstance(trades[2][2], datetime)
    performance = {r[0]: r for r in book[f"T{best.id} Performance"].iter_rows(values_only=True)}
    assert performance["Net profit"][1] == pytest.approx(best.metrics["net_profit"])
    assert performance["Net profit"][2] == pytest.approx(best.metrics["net_profit_percent"])
    metric_rows = list(book["Trial metrics"].iter_rows(min_row=2, values_only=True))
    assert {r[0] for r in metric_rows} == {t.id for t in details}
    detail_trades = list(book["Trial trades"].iter_rows(min_row=2, values_only=True))
    assert len(detail_trades) == sum(2 * len(r.trades) for _t, r in run.data.details)
    for worksheet in book.worksheets:  # undefined metrics are empty cells, never text
        assert all(v != "N/A" for row in worksheet.iter_rows(values_only=True) for v in row)


def test_settings_sheet_is_flat_and_drops_secret_looking_keys(run: Run) -> None:
    settings = {**run.data.run.settings,
                "llm": {"base_url": "http://127.0.0.1:11434/v1", "api_key": "sk-live-1",
                        "password": "hunter2", "session_token": "abc", "model": "auto"}}
    data = replace(run.data, run=replace(run.data.run, settings=FrozenMap(settings)))
    book = load_workbook(io.BytesIO(render_xlsx(data)))
    pairs = {r[0]: r[1] for r in book["Settings"].iter_rows(min_row=2, values_only=True)}
    assert pairs["llm.model"] == "auto"
    assert pairs["request.symbol.ticker"] == "FX:EURUSD"
    assert pairs["max_iterations"] == 8 and pairs["holdout"] == 0.2
    assert pairs["run.id"] == run.run_id
    text = json.dumps([str(v) for v in pairs.values()] + list(pairs))
    for secret in ("sk-live-1", "hunter2", "abc\"", "api_key", "password", "token"):
        assert secret not in text
    assert "Pine source" in str(pairs["request.strategy.source"])


def test_tradingview_workbook_round_trips_through_the_export_reader(run: Run,
                                                                    tmp_path: Path) -> None:
    best, result = run.data.details[0]
    path = write_tradingview_xlsx(result, tmp_path / "export.xlsx")
    assert load_workbook(path).sheetnames == list(SHEETS)
    back = read_export(path, timezone="UTC")
    assert back.warnings == ()
    assert_reads_back(result, back)
    assert back.properties["inputs"] == best.inputs
    assert back.properties["symbol"] == "FX:EURUSD"


def test_the_run_report_workbook_reads_back_as_the_first_trial_it_details(
        run: Run, tmp_path: Path) -> None:
    best, result = run.data.details[0]
    path = tmp_path / "run.xlsx"
    path.write_bytes(render_xlsx(run.data))
    back = read_export(path, timezone="UTC")
    assert back.warnings[0].startswith(f"a tvdesk run report: read trial T{best.id}'s sheets")
    assert back.warnings[1:] == ()
    assert_reads_back(result, back)
    assert back.properties["inputs"] == best.inputs


def assert_reads_back(result: BacktestResult, back: BacktestResult) -> None:
    assert len(back.trades) == len(result.trades) > 0
    for mine, theirs in zip(result.trades, back.trades, strict=True):
        assert (theirs.number, theirs.side, theirs.open) == (mine.number, mine.side, mine.open)
        assert theirs.entry_time == mine.entry_time and theirs.exit_time == mine.exit_time
        assert theirs.entry_price == pytest.approx(mine.entry_price, abs=1e-9)
        assert theirs.exit_price == pytest.approx(mine.exit_price, abs=1e-9)
        assert theirs.profit == pytest.approx(mine.profit, abs=1e-6)
        assert theirs.entry_signal == mine.entry_signal
    for key in ("net_profit", "net_profit_percent", "total_trades", "profit_factor",
                "max_drawdown", "max_drawdown_percent", "percent_profitable", "sharpe_ratio"):
        assert back.metrics[key] == pytest.approx(result.metrics[key], rel=1e-9), key
    assert back.metrics["total_trades"] == result.metrics["total_trades"]


def test_round_trip_keeps_shorts_open_trades_undefined_values_and_the_chart_timezone(
        tmp_path: Path) -> None:
    zone = "America/New_York"
    t0 = datetime(2024, 3, 8, 15, 30, tzinfo=UTC)  # the weekend before a DST change
    trades = (
        Trade(number=1, side="short", entry_time=t0, entry_price=101.25, qty=3.0,
              exit_time=t0 + timedelta(days=3, hours=2), exit_price=99.5, profit=5.25,
              profit_percent=1.73, entry_signal="Short", exit_signal="Cover", run_up=6.0,
              run_up_percent=1.9, drawdown=1.5, drawdown_percent=0.5, cum_profit=5.25),
        Trade(number=2, side="long", entry_time=t0 + timedelta(days=4), entry_price=99.0,
              qty=2.0, profit=-1.0, profit_percent=-0.5, entry_signal="Long", open=True,
              cum_profit=5.25),
    )
    metrics = {"net_profit": 5.25, "net_profit_percent": 0.0525, "total_trades": 1,
               "total_open_trades": 1, "profit_factor": None, "max_drawdown": 4.5,
               "max_drawdown_percent": 0.045, "initial_capital": 10000.0,
               "percent_profitable": 100.0, "winning_trades": 1, "losing_trades": 0,
               "max_drawdown_duration_close_to_close_days": 3.5}
    result = BacktestResult(source="local", metrics=FrozenMap(metrics), trades=trades,
                            properties=FrozenMap({"timezone": zone, "currency": "USDT",
                                                  "inputs": {"Len": 3, "On": True}}))
    path = write_tradingview_xlsx(result, tmp_path / "tv.xlsx")
    back = read_export(path, timezone=zone)
    assert [t.side for t in back.trades] == ["short", "long"]
    assert back.trades[0].entry_time == t0 and back.trades[0].exit_time == trades[0].exit_time
    assert back.trades[1].open and back.trades[1].exit_time is None
    assert back.trades[1].profit == -1.0
    assert back.metrics["profit_factor"] is None
    assert back.metrics["max_drawdown_duration_close_to_close_days"] == 3.5
    numbers = {k: v for k, v in metrics.items() if v is not None}
    assert {k: back.metrics[k] for k in numbers} == pytest.approx(numbers)
    assert back.properties["currency"] == "USDT"
    assert back.properties["inputs"] == {"Len": 3, "On": True}
    # Dates are written as the chart's wall-clock time without an offset.
    naive = load_workbook(path)["List of trades"]["C3"].value
    assert naive == t0.astimezone(back.trades[0].entry_time.tzinfo).replace(tzinfo=None)


# --------------------------------------------------------------------------- all formats


def test_write_reports_writes_every_format_atomically(run: Run, tmp_path: Path) -> None:
    document = run.store.export_json(run.run_id)
    paths = write_reports(run.data, tmp_path, json_document=document)
    base = report_base("SMA Cross", GENERATED)
    assert base == "SMA_Cross_20260102-030405"
    names = [p.name for p in paths]
    for ext in ("txt", "xlsx", "html", "csv", "json"):
        assert f"{base}.{ext}" in names
    assert written(tmp_path) == sorted(names)  # and nothing else: no temporary files
    assert json.loads((tmp_path / f"{base}.json").read_text()) == document

    html = (tmp_path / f"{base}.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", html, re.I)
    assert "<script" not in html.lower() and "@import" not in html
    for payload in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html):
        assert base64.b64decode(payload).startswith(PNG)
    pngs = [p for p in paths if p.suffix == ".png"]
    assert {p.name for p in pngs} == {f"{base}_{c}.png" for c in
                                      ("equity", "monthly_returns", "trade_pnl", "iterations",
                                       "parameters")}
    for png in pngs:
        data = png.read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000

    with (tmp_path / f"{base}.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    trials = run.store.trials(run.run_id)
    assert len(rows) == len(trials)
    assert [int(r["Trial"]) for r in rows] == [t.id for t in trials]
    assert rows[0]["Fast Length"] == str(trials[0].inputs["Fast Length"])
    assert float(rows[0]["Net profit %"]) == pytest.approx(trials[0].metrics["net_profit_percent"])
    assert datetime.fromisoformat(rows[0]["Started"]).tzinfo is not None

    text = (tmp_path / f"{base}.txt").read_text(encoding="utf-8")
    best = run.store.best_trial(run.run_id, "net_profit_percent")
    assert f"trial #{best.id}" in text
    for name in ("Net profit", "Max equity drawdown (intrabar)", "Profit factor",
                 "Percent profitable", "Sharpe ratio"):
        assert name in text
    assert "net_profit_percent" not in text and "max_drawdown" not in text
    assert f"tag: {best.tag or 'untagged'}" in text and "Holdout: trial #" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_a_failing_chart_writes_no_file_at_all(run: Run, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: Any, **_kwargs: Any) -> bytes:
        raise RuntimeError("chart failed")

    monkeypatch.setattr(report_charts, "equity_chart", boom)
    with pytest.raises(RuntimeError, match="chart failed"):
        write_reports(run.data, tmp_path)
    assert written(tmp_path) == []


def test_a_crash_while_writing_leaves_whole_files_and_no_temporary_ones(
        run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace
    calls = []

    def flaky(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr("tvdesk.fileio.os.replace", flaky)
    with pytest.raises(OSError, match="disk full"):
        write_reports(run.data, tmp_path, ("txt", "csv", "xlsx", "json"))
    base = report_base("SMA Cross", GENERATED)
    assert written(tmp_path) == [f"{base}.csv", f"{base}.txt"]  # the xlsx never half-written
    assert (tmp_path / f"{base}.txt").read_text(encoding="utf-8").endswith("\n")


def test_an_unknown_format_is_refused_before_anything_is_written(run: Run,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        write_reports(run.data, tmp_path, ("txt", "pdf"))
    message = str(caught.value)
    assert "'pdf'" in message
    for name in FORMATS:
        assert name in message
    assert written(tmp_path) == []


def test_a_single_backtest_is_a_one_trial_report(run: Run, tmp_path: Path) -> None:
    data = report_from_result(run.single, title="SMA Cross / shorts")
    assert len(data.trials) == 1 and data.run.kind == "backtest"
    assert data.equity[1].kind == "bars" and data.equity[1].buy_hold is not None
    paths = write_reports(data, tmp_path)
    base = paths[0].stem
    assert base.startswith("SMA_Cross_shorts_")
    document = json.loads((tmp_path / f"{base}.json").read_text())
    assert document == json.loads(json.dumps(run.single.to_dict()))
    charts = {p.stem.removeprefix(base + "_") for p in paths if p.suffix == ".png"}
    assert charts == {"equity", "monthly_returns", "trade_pnl"}
    book = load_workbook(tmp_path / f"{base}.xlsx")
    assert book.sheetnames == ["Summary", *[f"T1 {n}" for n in SHEETS], "Timeline", "Settings"]
    text = (tmp_path / f"{base}.txt").read_text(encoding="utf-8")
    assert "Net profit" in text and "Allow Shorts=On" in text


# --------------------------------------------------------------------------- labels, charts


def test_tvdesks_own_statistics_never_share_tradingviews_names(run: Run) -> None:
    assert label("sharpe_ratio") == "Sharpe ratio"
    assert label("sharpe_daily") == "Sharpe ratio (daily, tvdesk)"
    assert label("net_profit_long_percent") == "Net profit, long %"
    assert label("some_new_stat").endswith("(tvdesk)")
    trial = replace(run.data.trials[0], metrics=FrozenMap({**run.data.trials[0].metrics,
                                                           "sharpe_daily": 0.08}))
    data = replace(run.data, trials=(trial, *run.data.trials[1:]),
                   robustness=FrozenMap({"pbo": 0.125, "dsr": 0.97, "n_trials": 8}))
    text = render_txt(data)
    assert "Probability of backtest overfitting (PBO, tvdesk)" in text
    assert "Deflated Sharpe ratio (DSR, tvdesk)" in text and "0.125" in text
    header = next(load_workbook(io.BytesIO(render_xlsx(data)))["Summary"].iter_rows(
        max_row=1, values_only=True))
    assert "Sharpe ratio" in header and "Sharpe ratio (daily, tvdesk)" in header
    robustness = load_workbook(io.BytesIO(render_xlsx(data)))["Robustness"]
    assert [r[2] for r in robustness.iter_rows(min_row=2, values_only=True)] == \
        ["pbo", "dsr", "n_trials"]


def test_parameter_heatmap_needs_two_numeric_inputs(run: Run) -> None:
    one_numeric = [replace(t, inputs=FrozenMap({"Fast Length": t.inputs["Fast Length"],
                                                "Mode": "x"}))
                   for t in run.data.trials]
    assert parameter_heatmap(one_numeric, title="t") is None
    assert parameter_heatmap(run.data.trials, title="t").startswith(PNG)
    charts = render_charts(run.data)
    assert list(charts) == ["equity", "monthly_returns", "trade_pnl", "iterations",
                            "parameters"]


def test_charts_do_not_touch_pyplot() -> None:
    code = ("import sys; from tvdesk.reports.charts import trade_pnl_chart, monthly_returns; "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_file_names_are_sanitised() -> None:
    assert safe_name("SMA Cross (v2) / é") == "SMA_Cross_v2"
    assert safe_name("...") == "strategy"
    assert re.fullmatch(r"RSI-2_\d{8}-\d{6}", report_base("RSI-2"))
    data = ReportData(run=RunSummary(id="r", strategy_title="x", engine="local",
                                     created_at=None, finished_at=None, status="running"),
                      trials=())
    assert "No finished trial" in render_txt(data)
    assert render_charts(data) == {}


def test_standalone_writers_and_the_json_fallback(run: Run, tmp_path: Path) -> None:
    from tvdesk.reports.csv_timeline import write_csv
    from tvdesk.reports.html import write_html
    from tvdesk.reports.run_workbook import write_xlsx

    paths = write_html(run.data, tmp_path / "r.html", charts={"equity": PNG + b"x" * 10})
    assert [p.name for p in paths] == ["r.html", "r_equity.png"]
    assert write_csv(run.data, tmp_path / "r.csv").read_text(encoding="utf-8-sig").count(
        "\n") == len(run.data.trials) + 1
    assert load_workbook(write_xlsx(run.data, tmp_path / "r.xlsx")).sheetnames[0] == "Summary"
    [path] = write_reports(run.data, tmp_path / "json", ["JSON"])
    document = json.loads(path.read_text())
    assert document["format"] == "tvdesk.report"
    assert [t["id"] for t in document["trials"]] == [t.id for t in run.data.trials]
    assert column_header("expectancy") == "Expectancy per trade USD (tvdesk)"
