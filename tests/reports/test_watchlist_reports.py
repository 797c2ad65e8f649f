"""Watchlist run reports: the per-chart breakdown in HTML, XLSX and TXT; none for one chart.

One small real watchlist run (SMA cross on EURUSD and GOOG, daily and weekly: four charts, six
trials and a holdout) and one real one-chart run are made once for the module through the
command line, each reported with `tvdesk report`. The per-chart numbers are checked against
`tvdesk.viewmodels.watchlist.chart_rows`, the table the CLI and the GUI show.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tvdesk.cli import main
from tvdesk.reports import ReportData, report_from_store
from tvdesk.reports import chart_table as report_table
from tvdesk.reports.run_workbook import CHART_SHEET
from tvdesk.store import ChartRecord, RunStore
from tvdesk.viewmodels import watchlist as view

ROOT = Path(__file__).resolve().parents[2]
SMA = ROOT / "pine" / "examples" / "sma_cross.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"
GOOG = ROOT / "resources" / "data" / "GOOG_1d.csv"
LABELS = ("FX:EURUSD 1D", "FX:EURUSD 1W", "NASDAQ:GOOG 1D", "NASDAQ:GOOG 1W")
DETAIL_KEYS = ["Trial", "Segment", "Condition", "Holdout of trial"]


@dataclass
class Reported:
    store: Path
    run_id: str
    data: ReportData
    out: Path

    def file(self, ext: str) -> Path:
        found = sorted(self.out.glob(f"*.{ext}"))
        assert len(found) == 1, found
        return found[0]

    def records(self, trial_id: int) -> list[ChartRecord]:
        with RunStore.open_for_reading(self.store) as store:
            return store.chart_results(trial_id)


def _report(db: Path, out: Path) -> Reported:
    assert main(["report", "--store", str(db), "--out", str(out)]) == 0
    with RunStore.open_for_reading(db) as store:
        run_id = store.list_runs()[0].id
        data = report_from_store(store, run_id)
    return Reported(db, run_id, data, out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Reported, Reported]]:
    folder = tmp_path_factory.mktemp("watchlist-reports")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TVDESK_HOME", str(folder / "home"))
        assert main(["data", "add", str(EURUSD), "--symbol", "FX:EURUSD"]) == 0
        assert main(["data", "add", str(GOOG), "--symbol", "NASDAQ:GOOG"]) == 0
        assert main(["optimize", "--script", str(SMA), "--symbols", "FX:EURUSD,NASDAQ:GOOG",
                     "--timeframes", "1D,1W", "--max-iterations", "6",
                     "--store", str(folder / "watchlist.db")]) == 0
        watchlist = _report(folder / "watchlist.db", folder / "watchlist-report")
        assert main(["optimize", "--script", str(SMA), "--data", str(EURUSD),
                     "--symbol", "FX:EURUSD", "--max-iterations", "4",
                     "--store", str(folder / "one.db")]) == 0
        one = _report(folder / "one.db", folder / "one-report")
    yield watchlist, one


@pytest.fixture(scope="module")
def watchlist(runs: tuple[Reported, Reported]) -> Reported:
    return runs[0]


@pytest.fixture(scope="module")
def one_chart(runs: tuple[Reported, Reported]) -> Reported:
    return runs[1]


def best_trial(reported: Reported) -> int:
    """The trial of the first card (the one the HTML's first per-chart table belongs to)."""
    return next(iter(reported.data.headline_by_condition().values())).id


def expected_rows(records: list[ChartRecord]) -> list[list[str]]:
    return view.chart_rows([(r.label, r.metrics) for r in records])


class _Tables(HTMLParser):
    """Every <table class="per-chart"> of a page as rows of cell text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._in_table = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("class", "per-chart") in attrs:
            self._in_table = True
            self.tables.append([])
        elif self._in_table and tag == "tr":
            self._row = []
        elif self._in_table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif self._in_table and tag in ("td", "th") and self._row is not None \
                and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif self._in_table and tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def per_chart_tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def as_view_row(cells: list[Any]) -> list[str]:
    """A workbook row's chart cells (label, numbers, tag) as the view model writes them: its
    numbers go through `view.chart_rows` (an empty cell is a missing metric)."""
    label, *values, tag = cells
    metrics = {key: value for (key, _title, _unit), value in zip(view.COLUMNS, values,
                                                                 strict=True)}
    return [*view.chart_rows([(label, metrics)], with_tag=False)[0], tag]


# --------------------------------------------------------------------------- the run itself


def test_the_run_is_a_watchlist_run_with_chart_results(watchlist: Reported) -> None:
    run = watchlist.data.run
    assert run.watchlist == LABELS
    assert run.aggregate == "median"
    best = best_trial(watchlist)
    assert [r.label for r in watchlist.records(best)] == list(LABELS)
    # every detailed trial of a watchlist run carries its charts, equity included
    for trial, _result in watchlist.data.details:
        charts = watchlist.data.chart_results(trial)
        assert [c.label for c in charts] == [r.label for r in watchlist.records(trial.id)]
        assert all(c.equity is not None and len(c.equity.times) >= 2 for c in charts)
    # a watchlist trial's metrics hold a dict (chart_worst): a report reads it as no number
    trial = watchlist.data.details[0][0]
    assert isinstance(trial.metrics.get("chart_worst"), dict)
    assert trial.metric("chart_worst") is None
    assert "chart_worst" not in watchlist.data.extra_metric_keys()


def test_the_reports_per_chart_table_is_the_view_models(watchlist: Reported) -> None:
    """Reports cannot import the view models (they import the reports): the copy must say
    the same, cell for cell, on every stored chart result and on the edge cases."""
    assert report_table.COLUMNS == view.COLUMNS
    assert report_table.header() == view.header()
    assert report_table.header(with_tag=False) == view.header(with_tag=False)
    pairs: list[tuple[str, dict[str, Any]]] = []
    for trial in watchlist.data.trials:
        pairs += [(r.label, r.metrics) for r in watchlist.records(trial.id)]
    assert len(pairs) >= 4 * 6
    pairs += [("edge", {"net_profit_percent": value, "max_drawdown_percent": value,
                        "profit_factor": value, "total_trades": value,
                        "percent_profitable": value, "sharpe_ratio": value})
              for value in (None, 0, 0.0, -0.0, 1, 2.5, -3.25, True, "text", math.inf,
                            math.nan, 1e-9, 123456.789)]
    assert report_table.chart_rows(pairs) == view.chart_rows(pairs)
    assert report_table.chart_rows(pairs, with_tag=False) == view.chart_rows(pairs,
                                                                             with_tag=False)


# --------------------------------------------------------------------------- HTML


def test_html_shows_each_chart_with_its_net_profit_as_chart_rows_formats_it(
        watchlist: Reported) -> None:
    html = watchlist.file("html").read_text(encoding="utf-8")
    assert "Watchlist run on 4 charts: " + ", ".join(LABELS) in html
    assert "the median over the charts" in html
    tables = per_chart_tables(html)
    head, *rows = tables[0]  # the first card's: the best trial's
    assert head == view.header()
    expected = expected_rows(watchlist.records(best_trial(watchlist)))
    assert rows == expected
    for label, net in ((row[0], row[1]) for row in expected):
        assert label in html
        assert f"<td>{label}</td>" in html
        assert any(r[:2] == [label, net] for r in rows)
    # one table per detailed trial with charts: the card's (and its holdout's), the others
    detailed = [t for t, _ in watchlist.data.details if watchlist.data.chart_results(t)]
    assert len(tables) == len(detailed) >= 3
    found = sorted(tuple(map(tuple, table[1:])) for table in tables)
    wanted = sorted(tuple(map(tuple, expected_rows(watchlist.records(t.id)))) for t in detailed)
    assert found == wanted


def test_html_draws_an_equity_panel_per_chart(watchlist: Reported) -> None:
    html = watchlist.file("html").read_text(encoding="utf-8")
    files = list(watchlist.out.glob("*_watchlist_equity.png"))
    assert len(files) == 1
    png = files[0].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert 'alt="watchlist equity"' in html
    assert 'href="#per-chart"' in html


# --------------------------------------------------------------------------- XLSX


def test_xlsx_has_the_per_chart_table_with_the_same_numbers(watchlist: Reported) -> None:
    book = load_workbook(watchlist.file("xlsx"))
    assert CHART_SHEET in book.sheetnames
    sheet = book[CHART_SHEET]
    head, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert head == [*DETAIL_KEYS, *view.header()]
    by_trial: dict[int, list[list[str]]] = {}
    for row in rows:
        by_trial.setdefault(row[0], []).append(as_view_row(row[len(DETAIL_KEYS):]))
    detailed = [t.id for t, _ in watchlist.data.details]
    assert list(by_trial) == detailed
    for trial_id, text_rows in by_trial.items():
        assert text_rows == expected_rows(watchlist.records(trial_id)), trial_id
    best = by_trial[best_trial(watchlist)]
    assert [r[0] for r in best] == list(LABELS)
    # numbers stay numbers: the best trial's net profit % cells are floats, as stored
    nets = [r[len(DETAIL_KEYS) + 1] for r in rows if r[0] == best_trial(watchlist)]
    stored = [r.metrics["net_profit_percent"] for r in watchlist.records(best_trial(watchlist))]
    assert nets == pytest.approx(stored)
    settings = {r[0]: r[1] for r in book["Settings"].iter_rows(values_only=True)}
    assert settings["run.watchlist"].startswith("Watchlist run on 4 charts")


# --------------------------------------------------------------------------- TXT and JSON


def test_txt_has_the_watchlist_line_and_the_best_trials_table(watchlist: Reported) -> None:
    text = watchlist.file("txt").read_text(encoding="utf-8")
    assert "Watchlist  4 charts: FX:EURUSD 1D" in text
    assert "Symbol     " not in text  # the joined symbols would read as one chart
    table = view.format_table(expected_rows(watchlist.records(best_trial(watchlist))),
                              view.header())
    assert "  Per chart:\n" + "\n".join(f"    {line}" for line in table.splitlines()) in text
    best = next(t for t in watchlist.data.trials if t.id == best_trial(watchlist))
    check = watchlist.data.holdout_of(best)
    assert check is not None and watchlist.data.chart_results(check)  # the run kept a holdout
    holdout = view.format_table(expected_rows(watchlist.records(check.id)), view.header())
    assert "    Holdout per chart:\n" + "\n".join(
        f"      {line}" for line in holdout.splitlines()) in text


def test_the_reports_own_json_lists_each_detailed_trials_charts(watchlist: Reported) -> None:
    document = watchlist.data.to_dict()
    assert document["run"]["watchlist"] == list(LABELS)
    assert document["run"]["aggregate"] == "median"
    first = document["details"][0]
    assert [c["label"] for c in first["charts"]] == list(LABELS)
    assert first["charts"][0]["metrics"]["net_profit_percent"] == pytest.approx(
        watchlist.records(first["trial_id"])[0].metrics["net_profit_percent"])


# --------------------------------------------------------------------------- one chart


def test_a_one_chart_runs_report_has_no_per_chart_table(one_chart: Reported) -> None:
    data = one_chart.data
    assert not data.run.is_watchlist
    assert data.details and not data.charts
    html = one_chart.file("html").read_text(encoding="utf-8")
    assert per_chart_tables(html) == []
    assert "Watchlist" not in html and 'id="per-chart"' not in html
    assert "Per chart" not in html
    assert not list(one_chart.out.glob("*_watchlist_equity.png"))
    assert "FX:EURUSD" in html  # its symbol line is still there
    book = load_workbook(one_chart.file("xlsx"))
    assert CHART_SHEET not in book.sheetnames
    assert "run.watchlist" not in [r[0] for r in book["Settings"].iter_rows(values_only=True)]
    text = one_chart.file("txt").read_text(encoding="utf-8")
    assert "Per chart" not in text and "Watchlist" not in text
    assert "Symbol     " in text
    assert all("charts" not in d for d in data.to_dict()["details"])
    assert "watchlist" not in data.to_dict()["run"]
