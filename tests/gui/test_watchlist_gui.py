"""Watchlist runs in the workbench: the setup form's Watchlist group, the Trial view's Charts
tab and the Results grid on a watchlist run.

A real market data library (the bundled EURUSD hourly and GOOG daily bars) in a temporary
TVDESK_HOME, and a real store made by a small real watchlist optimisation (2 symbols × 2
timeframes) plus a one-chart run of the same strategy in the same store.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from tvdesk.app.optimize_settings import RunForm, settings_from_form
from tvdesk.app.requests import RunOptions
from tvdesk.config import Profile, Settings, load_settings
from tvdesk.data.library import Library
from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import Qt, QtCore
from tvdesk.gui.results_view import ResultsView
from tvdesk.gui.setup_form import LIBRARY_FACTS_TIP, SetupForm
from tvdesk.gui.trial_view import CHARTS_TAB, TrialView
from tvdesk.store import RunStore
from tvdesk.viewmodels.results_table import ResultsTable, RunLayout, TrialFilter

from engine_helpers import optimise_example

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "pine" / "examples" / "sma_cross.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"
GOOG = ROOT / "resources" / "data" / "GOOG_1d.csv"
SYMBOLS = ["FX:EURUSD", "NASDAQ:GOOG"]
LABELS = ["FX:EURUSD 1D", "FX:EURUSD 1W", "NASDAQ:GOOG 1D", "NASDAQ:GOOG 1W"]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A TVDESK_HOME of this module's own whose library holds EURUSD 60 and GOOG 1D."""
    folder = tmp_path_factory.mktemp("watchlist-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TVDESK_HOME", str(folder))
        library = Library()
        library.add([EURUSD], symbol="FX:EURUSD")
        library.add([GOOG], symbol="NASDAQ:GOOG")
        yield folder


@pytest.fixture(autouse=True)
def _library_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TVDESK_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def store_path(home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """(store, watchlist run id, one-chart run id): a real watchlist optimisation of the SMA
    cross on 2 symbols × 2 timeframes, then a real one-chart run in the same store."""
    from tvdesk.app.optimize import run_optimization

    path = tmp_path_factory.mktemp("watchlist-store") / "runs.sqlite"
    form = RunForm(options=RunOptions(script=str(EXAMPLE)), symbols=",".join(SYMBOLS),
                   timeframes="1D,1W", max_iterations=5, seed=1)
    settings = settings_from_form(form, Settings())
    with RunStore.open(path) as store:
        outcome = asyncio.run(run_optimization(settings, store))
    assert outcome.status == "finished"
    single = optimise_example(path, max_iterations=3)
    return path, outcome.run_id, single


@pytest.fixture
def controller(store_path: tuple[Path, str, str]) -> Iterator[RunController]:
    path, run_id, _single = store_path
    ctl = RunController(path)
    ctl.run_id = run_id
    yield ctl
    ctl.store().close()


def _form(qtbot, config: Settings | None = None, library: Library | None = None) -> SetupForm:
    form = SetupForm(config or Settings(), library=library)
    qtbot.addWidget(form)
    form.set_paths(EXAMPLE, EURUSD)
    form.mintick.setText("0.00001")
    form.session.setText("0930-1600")
    return form


def _listed(form: SetupForm) -> list[str]:
    return [form.watch_symbols.item(row).text() for row in range(form.watch_symbols.count())]


# --------------------------------------------------------------------------- setup form


def test_ticking_symbols_fills_the_run_form_and_disables_the_single_chart_fields(qtbot) -> None:
    form = _form(qtbot)
    assert _listed(form) == SYMBOLS
    assert not form.library_hint.isVisibleTo(form)
    single = form._single_chart_fields()
    assert all(w.isEnabled() for w in single)
    assert not form.aggregate.isEnabled() and not form.search_timeframe.isEnabled()
    session_tip = form.session.toolTip()
    assert form.run_form().symbols is None

    form.set_watchlist_symbols(SYMBOLS)
    assert form.watchlist_symbols() == SYMBOLS
    for widget in single:
        assert not widget.isEnabled(), widget
        assert widget.toolTip() == LIBRARY_FACTS_TIP
    form.timeframes.setText("1D, 1W")
    form.aggregate.setCurrentIndex(form.aggregate.findData("min"))
    form.search_timeframe.setChecked(True)
    run = form.run_form()
    assert run.symbols == "FX:EURUSD,NASDAQ:GOOG"
    assert run.timeframes == "1D, 1W" and run.aggregate == "min" and run.search_timeframe
    # The disabled fields still hold text, but the library's facts are used: none is passed.
    assert form.data.edit.text() and form.mintick.text()
    options = run.options
    assert (options.data, options.symbol, options.mintick, options.pointvalue,
            options.session, options.magnifier_data) == (None,) * 6
    settings = form.build_settings()
    assert settings is not None, form.error.text()
    assert [chart.label for chart in settings.charts] == LABELS
    assert settings.aggregate == "min" and settings.search_timeframe
    goog = next(c for c in settings.charts if c.label == "NASDAQ:GOOG 1D")
    # The library's facts, not the form's 0.00001: GOOG was added with no tick size, so the
    # engine derives it from the prices (and says so among the symbol facts).
    assert goog.mintick is None and goog.data_path.endswith(".npz")
    # The date pickers offer the dates the chosen symbols' series cover.
    assert form.date_from.placeholderText().startswith("2004-08-19")
    assert form.date_to.placeholderText().startswith("2018-02-07")

    # Unticked: a one-chart run again, the fields and their own tooltips back.
    form.set_watchlist_symbols([])
    assert all(w.isEnabled() for w in single)
    assert form.session.toolTip() == session_tip
    run = form.run_form()
    assert run.symbols is None and not run.search_timeframe
    assert run.options.data == str(EURUSD) and run.options.mintick == 0.00001


def test_an_empty_library_says_how_to_fill_it_and_refresh_lists_new_symbols(
        qtbot, tmp_path: Path) -> None:
    library = Library(tmp_path / "library")
    form = _form(qtbot, library=library)
    assert form.watch_symbols.count() == 0
    assert form.library_hint.isVisibleTo(form)
    assert "tvdesk data add" in form.library_hint.text()
    assert not form.watch_symbols.isVisibleTo(form)
    library.add([GOOG], symbol="NASDAQ:GOOG")
    qtbot.mouseClick(form.refresh_library_button, Qt.MouseButton.LeftButton)
    assert _listed(form) == ["NASDAQ:GOOG"]
    assert not form.library_hint.isVisibleTo(form)
    assert "1D: 2,148 bars" in form.watch_symbols.item(0).toolTip()


def test_watchlist_mistakes_are_shown_at_their_fields(qtbot) -> None:
    form = _form(qtbot)
    form.timeframes.setText("1D, soon")
    form.timeframes.editingFinished.emit()
    assert form.error_field() is form.timeframes
    assert "soon" in form.error.text()
    form.timeframes.setText("1D")
    form.timeframes.editingFinished.emit()
    assert form.error_field() is None and form.error.isHidden()
    # Timeframes without symbols: no watchlist to run them on.
    assert form.build_settings() is None
    assert form.error_field() is form.timeframes and "--symbols" in form.error.text()
    # Searching the timeframe needs two of them.
    form.set_watchlist_symbols(["NASDAQ:GOOG"])
    form.search_timeframe.setChecked(True)
    assert form.build_settings() is None
    assert form.error_field() is form.search_timeframe
    # A saved watchlist's symbol the library does not hold: listed as missing, refused.
    form.search_timeframe.setChecked(False)
    form.set_watchlist_symbols(["NASDAQ:GOOG", "BINANCE:BTCUSDT"])
    assert "BINANCE:BTCUSDT (not in the library)" in _listed(form)
    assert form.build_settings() is None
    assert form.error_field() is form.watch_symbols
    assert "tvdesk data add" in form.error.text()


def test_profiles_and_saved_watchlists_fill_the_watchlist(qtbot, tmp_path: Path,
                                                         monkeypatch) -> None:
    profile = Profile(name="goog", script=EXAMPLE, symbols=("NASDAQ:GOOG",),
                      timeframes=("1D", "1W"))
    config = Settings(profiles={"goog": profile},
                      watchlists={"fx and goog": ("FX:EURUSD", "NASDAQ:GOOG")})
    form = _form(qtbot, config)
    form.profile.setCurrentText("goog")
    assert form.watchlist_symbols() == ["NASDAQ:GOOG"]
    assert form.timeframes.text() == "1D, 1W"
    assert not form.data.isEnabled()
    assert form.run_form().timeframes == "1D, 1W"
    # A [watchlists] entry ticks its symbols.
    index = form.saved_watchlist.findData("fx and goog")
    assert index > 0
    form.saved_watchlist.setCurrentIndex(index)
    form.saved_watchlist.activated.emit(index)
    assert form.watchlist_symbols() == SYMBOLS
    # Saved as a profile and read back.
    config_file = tmp_path / "config.toml"
    config_file.write_text("timezone = \"UTC\"\n")
    form.config = load_settings(config_file)
    assert form.save_profile("both"), form.error.text()
    saved = load_settings(config_file).profile("both")
    assert saved.symbols == tuple(SYMBOLS) and saved.timeframes == ("1D", "1W")
    assert saved.data is None and saved.mintick is None


# --------------------------------------------------------------------------- trial view


def _best(store: RunStore, run_id: str):
    trials = store.trials(run_id, segment="in_sample", status="done")
    return max(trials, key=lambda t: t.metrics["net_profit_percent"])


def _tabs(view: TrialView) -> list[str]:
    return [view.tabs.tabText(i) for i in range(view.tabs.count())]


def test_a_watchlist_trial_shows_each_chart(qtbot, controller) -> None:
    store = controller.store()
    trial = _best(store, controller.run_id)
    records = store.chart_results(trial.id)
    assert [r.label for r in records] == LABELS
    view = TrialView(controller)
    qtbot.addWidget(view)
    view.resize(1300, 900)
    view.show_trial(trial.id)
    assert _tabs(view)[:2] == ["Overview", CHARTS_TAB]
    model = view.charts_model
    assert model.rowCount() == len(records) == 4
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert headers[:3] == ["Chart", "Net profit %", "Max DD %"] and headers[-1] == "Tag"
    for row, record in enumerate(records):
        def cell(column: int, row: int = row) -> str:
            return model.index(row, column).data()

        assert cell(0) == record.label
        net = record.metrics["net_profit_percent"]
        assert cell(1) == (f"{net:+.2f}" if net else "0.00")
        assert cell(2) == f"{record.metrics['max_drawdown_percent']:.2f}"
        assert cell(4) == f"{record.metrics['total_trades']:g}"
        assert cell(len(headers) - 1) in ("GOOD", "NORMAL", "RISK", "OVERFIT")
        colour = model.index(row, 1).data(Qt.ItemDataRole.ForegroundRole)
        assert (colour is None) == (not net)
    # One small equity plot per chart, ending at the chart's own return.
    assert len(view.chart_curves.curves) == 4
    for curve, record in zip(view.chart_curves.curves, records, strict=True):
        equity = record.equity["equity"]
        assert len(curve.yData) == len(equity)
        capital = record.metrics["initial_capital"]
        assert curve.yData[-1] == pytest.approx((equity[-1] / capital - 1) * 100)
    # The chosen chart's trades.
    goog = LABELS.index("NASDAQ:GOOG 1D")
    view.charts_table.selectRow(goog)
    assert view.chart_trades_model.rowCount() == len(records[goog].result["trades"]) > 0
    assert "NASDAQ:GOOG 1D" in view.chart_trades_label.text()
    note = view.charts_note.text()
    assert "4 charts" in note and "median" in note
    assert view.tabs.tabText(view.llm_index) == "LLM"


def test_a_one_chart_trial_has_no_charts_tab(qtbot, controller, store_path) -> None:
    _path, run_id, single_run = store_path
    store = controller.store()
    single = store.trials(single_run)[0]
    assert store.chart_results(single.id) == []
    view = TrialView(controller)
    qtbot.addWidget(view)
    view.show_trial(single.id)
    before = _tabs(view)
    assert CHARTS_TAB not in before
    assert before == ["Overview", "Performance", "List of trades", "Monthly returns",
                      "Pine source", "Diff vs parent", "LLM"]
    assert "portfolio" not in view.chart_note.text()
    # A watchlist trial adds the tab; the next one-chart trial takes it away again.
    view.show_trial(_best(store, run_id).id)
    assert CHARTS_TAB in _tabs(view)
    view.show_trial(single.id)
    assert _tabs(view) == before
    assert view.tabs.tabText(view.llm_index) == "LLM"
    assert view.breakdown is None


# --------------------------------------------------------------------------- results grid


def test_results_grid_of_a_watchlist_run_copes_with_the_dict_metric(qtbot, controller,
                                                                    tmp_path: Path) -> None:
    store = controller.store()
    trials = store.trials(controller.run_id)
    assert all(isinstance(t.metrics.get("chart_worst"), dict) for t in trials
               if t.status == "done")
    settings = QtCore.QSettings(str(tmp_path / "results.ini"),
                                QtCore.QSettings.Format.IniFormat)
    view = ResultsView(controller, settings=settings)
    qtbot.addWidget(view)
    view.refresh()
    table = view.model.table
    assert len(table) == len(trials)
    # The range filter offers the numeric cross-chart evidence, never the dict.
    offered = [view.metric_filter.itemData(i) for i in range(view.metric_filter.count())]
    assert "charts_profitable_percent" in offered and "chart_worst" not in offered
    view.set_metric_range("chart_worst", low=0.0)
    assert view.proxy.rowCount() == len(trials)  # not a metric to filter: nothing hidden
    view.set_metric_range("charts_profitable_percent", low=50.0)
    shown = view.proxy.rowCount()
    assert shown == sum(1 for t in trials
                        if (t.metrics.get("charts_profitable_percent") or -1) >= 50.0)
    view.clear_filters()
    # Every column sorts both ways, numbers numerically.
    for column in range(len(table.columns)):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            view.proxy.sort(column, order)
            assert view.proxy.rowCount() == len(trials)
    net = next(i for i, c in enumerate(table.columns) if c.key == "net_profit_percent")
    view.proxy.sort(net, Qt.SortOrder.DescendingOrder)
    values = [table.value(r, net) for r in range(len(table))]
    numbers = [v for v in values if isinstance(v, (int, float))]
    assert numbers == sorted(numbers, reverse=True)
    # The column chooser lists the columns; the dict is not one of them.
    view._fill_columns_menu()
    entries = [a.text() for a in view.columns_menu.actions() if a.isCheckable()]
    assert len(entries) == len(table.columns)
    assert not any("worst" in text.lower() for text in entries)


def test_a_dict_metric_as_the_objective_column_neither_breaks_text_sort_nor_filter(
        controller) -> None:
    """A stored run whose objective is a dict-valued metric (no check allows it today, an old
    or hand-made store might): its column shows text, sorts after numbers and filters out."""
    trials = controller.store().trials(controller.run_id)
    table = ResultsTable()
    table.configure(RunLayout(objective="chart_worst"))
    table.load(trials)
    column = next(i for i, c in enumerate(table.columns) if c.key == "chart_worst")
    texts = [table.text(row, column) for row in range(len(table))]
    assert all(isinstance(text, str) for text in texts)
    table.sort(column, descending=True)
    table.sort(column, descending=False)
    assert sorted(t.id for t in table.trials) == sorted(t.id for t in trials)
    assert "chart_worst" not in table.metric_keys()
    assert table.count(TrialFilter(metric="chart_worst", low=0.0)) == 0
    assert table.count(TrialFilter()) == len(trials)
