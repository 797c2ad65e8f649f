"""What a trader found hard to read in the reports, each pinned by a test.

A small synthetic run (no engine): seven in-sample trials of one condition and one holdout
trial. The trial with the highest net profit made few trades, no losing one, and an
unbounded minimum track record; the optimiser's pick (trial 2) was checked on the holdout
(trial 3), which carries trial 2's OVERFIT verdict. The stored judgement's tag counts are
deliberately stale, as after a re-tagging.
"""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from tvdesk.model import BacktestResult, FrozenMap, Trade
from tvdesk.reports import ReportData, TrialSummary
from tvdesk.reports.builders import pick_details
from tvdesk.reports.charts import chart_trial
from tvdesk.reports.data import RunSummary
from tvdesk.reports.html import render_html
from tvdesk.reports.labels import column_header, format_metric, reason_text, settings_summary
from tvdesk.reports.run_workbook import DETAIL_SHEETS, render_xlsx
from tvdesk.reports.tradingview_workbook import SHEETS, render_tradingview_xlsx
from tvdesk.reports.txt import render_txt
from tvdesk.reports.xlsx_sheets import pages_wide

T0 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
ENDLESS = "also: insufficient evidence: track record 200 periods < minimum ∞"
OVERFIT_REASON = "holdout Sharpe -0.100 ≤ 0 while in-sample Sharpe is 0.120"


def _metrics(profit: float, trades: int = 40, losing: int = 12) -> dict[str, Any]:
    return {"net_profit": profit * 100, "net_profit_percent": profit,
            "max_drawdown": 250.0, "max_drawdown_percent": 2.5, "total_trades": trades,
            "winning_trades": trades - losing, "losing_trades": losing,
            "percent_profitable": 100.0 * (trades - losing) / trades,
            "profit_factor": 1.8 if losing else None, "avg_trade": profit * 100 / trades,
            "sharpe_ratio": 0.2, "sortino_ratio": 0.3, "sharpe_daily": 0.05,
            "initial_capital": 10000.0}


def _trial(id_: int, profit: float, *, segment: str = "in_sample", n: int | None = None,
           tag: str = "RISK", reasons: tuple[str, ...] = ("max drawdown 7.00% > 5%",),
           **metric_args: Any) -> TrialSummary:
    return TrialSummary(
        id=id_, worker=1, condition=None, iteration=id_, proposer="params", segment=segment,
        inputs=FrozenMap({"Fast Length": n if n is not None else id_, "Slow Length": 50}),
        metrics=FrozenMap(_metrics(profit, **metric_args)), tag=tag, reasons=reasons,
        started_at=T0 + timedelta(minutes=id_), finished_at=T0 + timedelta(minutes=id_ + 1),
        seconds=1.5)


def _result(trial: TrialSummary) -> BacktestResult:
    trades = tuple(
        Trade(number=i + 1, side="long", entry_time=T0 + timedelta(days=2 * i),
              entry_price=1.1, qty=1000.0, exit_time=T0 + timedelta(days=2 * i + 1),
              exit_price=1.11, profit=10.0, profit_percent=0.9, entry_signal="Long",
              exit_signal="Close", cum_profit=10.0 * (i + 1))
        for i in range(3))
    return BacktestResult(source="local", metrics=trial.metrics, trades=trades,
                          properties=FrozenMap({"timezone": "UTC", "currency": "USD",
                                                "inputs": dict(trial.inputs)}))


def _data() -> ReportData:
    trials = (
        _trial(1, 9.0, trades=5, losing=0, reasons=("one trade made 80% of the gross profit",
                                                    ENDLESS)),
        _trial(2, 7.0, tag="OVERFIT", reasons=(OVERFIT_REASON,)),
        _trial(3, 1.0, segment="holdout", n=2, tag="OVERFIT", reasons=(OVERFIT_REASON,)),
        _trial(4, 6.0), _trial(5, 5.0), _trial(6, 4.0, tag="NORMAL"), _trial(7, 3.0),
        _trial(8, 2.0),
    )
    details = tuple((t, _result(t)) for t in pick_details(trials, top=6))
    settings = {"holdout": 0.2, "targets": {
        "objective": "net_profit_percent",
        "constraints": [["total_trades", ">=", 20.0], ["max_drawdown_percent", "<=", math.inf]]}}
    run = RunSummary(id="r1", strategy_title="Synthetic", engine="local", created_at=T0,
                     finished_at=T0 + timedelta(hours=1), status="finished",
                     settings=FrozenMap(settings))
    stale = {"pbo": 0.4, "tags": {"OVERFIT": 2, "RISK": 9}, "trials": 7}
    return ReportData(run=run, trials=trials, details=details, robustness=FrozenMap(stale),
                      generated_at=T0 + timedelta(hours=2))


@pytest.fixture(scope="module")
def data() -> ReportData:
    return _data()


@pytest.fixture(scope="module")
def book(data: ReportData) -> Any:
    return load_workbook(io.BytesIO(render_xlsx(data)))


def _header(sheet: Any) -> list[Any]:
    return [c.value for c in next(sheet.iter_rows(max_row=1))]


# --------------------------------------------------------------------------- XLSX


def test_every_sheet_prints_landscape_fitted_to_the_width_with_its_header_on_each_page(
        book: Any) -> None:
    for sheet in book.worksheets:
        setup = sheet.page_setup
        assert setup.orientation == "landscape", sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        assert setup.fitToHeight == 0, sheet.title  # as many pages down as the rows need
        assert sheet.print_title_rows == "$1:$1", sheet.title
        assert sheet.freeze_panes, sheet.title
        assert sheet.print_options.gridLines, sheet.title
        assert "&P" in sheet.oddFooter.center.text, sheet.title
    summary = book["Summary"]
    widths = [summary.column_dimensions[get_column_letter(i + 1)].width
              for i in range(len(_header(summary)))]
    assert int(summary.page_setup.fitToWidth) == pages_wide(widths) >= 2  # readable, not tiny
    assert summary.print_title_cols == "$A:$A"  # the trial id on every page width
    assert int(book["Settings"].page_setup.fitToWidth) == 1
    assert book["Settings"].print_title_cols is None


def test_summary_columns_are_sized_by_their_content_and_long_reasons_wrap(
        book: Any, data: ReportData) -> None:
    summary = book["Summary"]
    header = _header(summary)
    column = header.index(column_header("max_drawdown_percent")) + 1
    width = summary.column_dimensions[get_column_letter(column)].width
    assert width < len(column_header("max_drawdown_percent"))  # the header wraps instead
    reasons = header.index("Reasons") + 1
    assert summary.column_dimensions[get_column_letter(reasons)].width <= 50
    long_reason = summary.cell(row=2, column=reasons)
    assert long_reason.value.startswith("one trade made 80%")
    assert long_reason.alignment.wrap_text
    assert summary.row_dimensions[1].height > 15  # the wrapped header row is taller


def test_detailed_trials_share_three_long_sheets_instead_of_five_sheets_each(
        book: Any, data: ReportData) -> None:
    first = data.details[0][0]
    assert len(data.details) == 7  # six trials and one holdout trial
    assert book.sheetnames == ["Summary", *[f"T{first.id} {n}" for n in SHEETS],
                               *DETAIL_SHEETS, "Timeline", "Robustness", "Settings"]
    detailed = {t.id for t, _r in data.details}
    metrics = list(book["Trial metrics"].iter_rows(min_row=2, values_only=True))
    assert {r[0] for r in metrics} == detailed
    net = {r[0]: r for r in metrics if r[5] == "Net profit"}
    assert net[3][1] == "holdout" and net[3][3] == 2  # the holdout names the trial it checked
    assert net[2][3] is None and net[2][6] == pytest.approx(700.0)
    trades = list(book["Trial trades"].iter_rows(min_row=2, values_only=True))
    assert len(trades) == 2 * 3 * len(detailed)
    assert {r[0] for r in trades} == detailed
    properties = list(book["Trial properties"].iter_rows(min_row=2, values_only=True))
    assert (2, "in_sample", None, None, "Fast Length", 2) in properties


def test_every_table_has_a_filter_over_all_its_rows(book: Any) -> None:
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        columns = len(_header(sheet))
        assert sheet.auto_filter.ref == f"A1:{get_column_letter(columns)}{len(rows)}", \
            sheet.title


def test_undefined_metrics_are_empty_cells_and_numbers_carry_their_unit_format(
        book: Any, data: ReportData) -> None:
    for sheet in book.worksheets:
        assert all(v != "N/A" for row in sheet.iter_rows(values_only=True) for v in row), \
            sheet.title
    summary = book["Summary"]
    header = _header(summary)
    row = {h: cell for h, cell in zip(header, next(summary.iter_rows(min_row=2)), strict=True)}
    assert row["Trial"].value == 1 and row["Trial"].number_format == "0"
    assert row["Profit factor"].value is None  # no losing trade: no profit factor
    assert row["Net profit %"].value == 9.0
    assert row["Net profit %"].number_format == '0.00" %"'
    assert row[column_header("net_profit")].number_format == "#,##0.00"
    assert row["Total trades"].number_format == "#,##0"
    first = data.details[0][0]
    performance = {r[0].value: r for r in book[f"T{first.id} Risk-adjusted performance"]
                   .iter_rows(min_row=2)}
    assert performance["Profit factor"][1].value is None
    # TradingView's own export shape keeps TradingView's "N/A".
    export = load_workbook(io.BytesIO(render_tradingview_xlsx(data.details[0][1])))
    risk = {r[0]: r for r in export["Risk-adjusted performance"].iter_rows(values_only=True)}
    assert risk["Profit factor"][1] == "N/A"


# --------------------------------------------------------------------------- HTML


def _section(html: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', html, re.S)
    assert match, name
    return match.group(1)


def test_a_conditions_card_shows_the_holdout_result_beside_the_in_sample_one(
        data: ReportData) -> None:
    best = _section(render_html(data, {}), "best")
    assert "In sample (trial #2)" in best and "Holdout, out of sample (trial #3)" in best
    net = re.search(r"<td>Net profit %</td><td class=\"num\">(.*?)</td>"
                    r"<td class=\"num\">(.*?)</td>", best)
    assert net and "7.00 %" in net.group(1) and "1.00 %" in net.group(2)
    assert "Trial #1 has a higher Net profit % in sample" in best  # why #1 is not shown
    text = render_txt(data)
    assert "Script default: trial #2" in text and "Holdout: trial #3 (done)" in text


def test_the_charts_show_the_trial_the_card_shows(data: ReportData) -> None:
    chosen = chart_trial(data)
    assert chosen is not None and chosen[0].id == 2  # the card's trial, not #1 (no holdout)
    alone = ReportData(run=data.run, trials=data.trials, details=data.details[:1])
    chosen = chart_trial(alone)
    assert chosen is not None and chosen[0].id == 1  # the card's trial is not detailed


def test_a_trial_without_any_holdout_says_so(data: ReportData) -> None:
    alone = tuple(t for t in data.trials if t.segment != "holdout")
    best = _section(render_html(ReportData(run=data.run, trials=alone), {}), "best")
    assert "Trial #1 ·" in best and "Holdout, out of sample" not in best
    assert "No holdout (out-of-sample) result for this trial." in best


def test_infinite_limits_and_undefined_ratios_read_in_words(data: ReportData) -> None:
    assert reason_text(ENDLESS) == (
        "also: insufficient evidence: the Sharpe ratio does not beat the benchmark, so no "
        "track record is long enough to show an edge (200 periods tested)")
    assert reason_text("track record 40 periods < minimum 316") == \
        "track record 40 periods < minimum 316"
    no_losses = data.trials[0].metrics
    assert format_metric("profit_factor", no_losses) == "no losing trades"
    assert format_metric("profit_factor", {"profit_factor": math.inf, "total_trades": 4,
                                           "losing_trades": 0}) == "no losing trades"
    assert format_metric("profit_factor_short", {"total_trades_short": 0}) == "no trades"
    assert format_metric("sharpe_ratio", {"sharpe_ratio": None, "total_trades": 9}) == "N/A"
    constraints = dict(settings_summary(data.run.settings))["Constraints"]
    assert constraints == "Total trades >= 20"  # an unbounded limit is no limit
    html, text = render_html(data, {}), render_txt(data)
    for report in (html, text):
        assert "∞" not in report and "inf" not in report.replace("information", "")
        assert "does not beat the benchmark" in report
    trials = _section(html, "trials")
    assert "no losing trades" in trials


class _Tables(HTMLParser):
    """Each <table> with the classes of the elements it sits in."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.tables: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([cls for _t, cls in self.stack])
        self.stack.append((tag, dict(attrs).get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass


def test_wide_tables_scroll_sideways_inside_their_section(data: ReportData) -> None:
    html = render_html(data, {})
    parser = _Tables()
    parser.feed(html)
    assert len(parser.tables) >= 6
    for parents in parser.tables:  # every table sits directly in a scrolling container
        assert "table-wrap" in parents[-1].split(), parents
    css = re.search(r"<style>(.*?)</style>", html, re.S)
    assert css
    assert re.search(r"\.table-wrap \{[^}]*overflow-x: auto", css.group(1))
    assert re.search(r"@media print \{[^@]*\.table-wrap, \.scroll \{ overflow: visible",
                     css.group(1))
    trials = _section(html, "trials")
    assert trials.startswith('<h2>Trials') and 'class="table-wrap scroll"' in trials
    assert "white-space: nowrap; }" not in css.group(1).split("th {")[1][:80]  # headers wrap


def _tag_counts_in_html(html: str) -> tuple[dict[str, int], dict[str, int]]:
    tags = {m[0]: int(m[1]) for m in re.findall(
        r'<span class="tag"[^>]*>(\w+)</span></td><td class="num">(\d+)</td>',
        _section(html, "tags"))}
    robustness = {m[0]: int(m[1]) for m in re.findall(
        r"<td>Trials by tag \(tvdesk\): (\w+)</td><td class=\"num\">(\d+)</td>",
        _section(html, "robustness"))}
    return tags, robustness


def test_tag_counts_agree_between_sections_and_count_a_holdout_once(data: ReportData) -> None:
    assert data.tag_counts() == {"RISK": 5, "OVERFIT": 1, "NORMAL": 1}
    tags, robustness = _tag_counts_in_html(render_html(data, {}))
    assert tags == robustness == data.tag_counts()  # not the stale stored {"OVERFIT": 2 ...}
    text = render_txt(data)
    assert re.search(r"^  OVERFIT +1$", text, re.M)
    assert "OVERFIT=1" in text and "OVERFIT=2" not in text
    book = load_workbook(io.BytesIO(render_xlsx(data)))
    sheet = {r[2]: r[1] for r in book["Robustness"].iter_rows(min_row=2, values_only=True)}
    assert sheet["tags.OVERFIT"] == 1 and sheet["tags.RISK"] == 5
