"""The run's setup: strategy, data, range, conditions, targets, engine, limits.

The form only collects text and numbers into a `RunForm`; `tvdesk.app.optimize_settings`
checks them with the same code and the same messages as the CLI. An `InputError` names the
flag its field stands for, and the form shows the message under that field, inline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tvdesk.app.form_checks import (
    COMMISSION_TYPES,
    QTY_TYPES,
    DataSpan,
    data_span,
    script_settings,
)
from tvdesk.app.optimize_settings import RunForm, settings_from_form
from tvdesk.app.requests import RunOptions
from tvdesk.app.watchlist import parse_list
from tvdesk.config import Settings
from tvdesk.data.library import Library, timeframe_code
from tvdesk.errors import InputError, TvdeskError
from tvdesk.gui.form_helpers import (
    ERROR_COLOUR,
    clear_invalid,
    error_label,
    mark_invalid,
    note_label,
    shrinkable,
)
from tvdesk.gui.qt import QtCore, QtGui, QtWidgets, Signal, Slot
from tvdesk.model import Strategy
from tvdesk.optimize.settings import OptimizeSettings
from tvdesk.optimize.space import build_space
from tvdesk.pine.loader import load_strategy
from tvdesk.viewmodels.watchlist import LIBRARY_EMPTY_HINT, library_choices, library_span

_OFF = "off"
AGGREGATES = (("Median", "median"), ("Min (worst chart)", "min"), ("Mean", "mean"))
LIBRARY_FACTS_TIP = ("A watchlist is chosen: each chart's bars and symbol facts (tick size, "
                     "point value, session) come from the market data library")
SYMBOL_ROLE = QtCore.Qt.ItemDataRole.UserRole


class _OptionalNumber(QtWidgets.QDoubleSpinBox):
    """A number that can be switched off (shown as "off" at the minimum)."""

    def __init__(self, maximum: float, decimals: int = 2, parent=None) -> None:
        super().__init__(parent)
        self.setRange(-1, maximum)
        self.setDecimals(decimals)
        self.setSpecialValueText(_OFF)
        self.setValue(-1)

    def number(self) -> float | None:
        return None if self.value() < 0 else float(self.value())

    def set_number(self, value: float | None) -> None:
        self.setValue(-1 if value is None else value)


class _PathField(QtWidgets.QWidget):
    """A path: a line edit (`edit`) and a "…" button (`button`) beside it."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = shrinkable(QtWidgets.QLineEdit())
        self.button = QtWidgets.QToolButton()
        self.button.setText("…")
        self.button.setToolTip("Choose a file")
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)


class _DateField(QtWidgets.QWidget):
    """A date as text (`edit`; empty: all data) and a calendar button (`button`) whose pop-up
    offers the data file's dates (`set_span`)."""

    def __init__(self, edge: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.edge = edge  # "from" or "to"
        self.span: DataSpan | None = None
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = shrinkable(QtWidgets.QLineEdit(placeholderText="YYYY-MM-DD"))
        self.calendar = QtWidgets.QCalendarWidget()
        self.calendar.setGridVisible(True)
        self.calendar.clicked.connect(self._picked)
        self.calendar.activated.connect(self._picked)
        menu = QtWidgets.QMenu(self)
        action = QtWidgets.QWidgetAction(menu)
        action.setDefaultWidget(self.calendar)
        menu.addAction(action)
        menu.aboutToShow.connect(self._prepare)
        self.menu = menu
        self.button = QtWidgets.QToolButton()
        self.button.setText("Pick")
        self.button.clicked.connect(
            lambda: menu.popup(self.button.mapToGlobal(self.button.rect().bottomLeft())))
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)
        self.set_span(None)

    def set_span(self, span: DataSpan | None) -> None:
        """Offer the data's dates; the placeholder and tooltip say which they are."""
        self.span = span
        if span is None:
            self.edit.setPlaceholderText("YYYY-MM-DD (empty: all data)")
            tip = "Empty: all data. Dates in the chart timezone"
            self.calendar.setDateRange(QtCore.QDate(1970, 1, 1), QtCore.QDate(2200, 1, 1))
        else:
            day = span.first if self.edge == "from" else span.last
            self.edit.setPlaceholderText(f"{day.isoformat()} (all data)")
            tip = f"{span.describe()}; empty: all data"
            self.calendar.setDateRange(_qdate(span.first), _qdate(span.last))
        self.edit.setToolTip(tip)
        self.button.setToolTip(f"Pick a date on a calendar ({tip})")

    def _prepare(self) -> None:
        current = QtCore.QDate.fromString(self.edit.text().strip()[:10],
                                          QtCore.Qt.DateFormat.ISODate)
        if not current.isValid():
            if self.span is not None:
                current = _qdate(self.span.first if self.edge == "from" else self.span.last)
            else:
                current = QtCore.QDate.currentDate()
        self.calendar.setSelectedDate(current)

    def _picked(self, day: QtCore.QDate) -> None:
        self.edit.setText(day.toString(QtCore.Qt.DateFormat.ISODate))
        self.menu.close()
        self.edit.editingFinished.emit()


def _qdate(day: Any) -> QtCore.QDate:
    return QtCore.QDate(day.year, day.month, day.day)


def _number_text(value: float) -> str:
    """10000.0 -> "10000", 0.02 -> "0.02": a number as a trader would type it."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


class SetupForm(QtWidgets.QScrollArea):
    strategy_loaded = Signal(object)  # tvdesk.model.Strategy

    def __init__(self, config: Settings, parent: QtWidgets.QWidget | None = None, *,
                 library: Library | None = None) -> None:
        super().__init__(parent)
        self.config = config
        self.library = library
        self.strategy: Strategy | None = None
        self._script_settings: dict[str, Any] = script_settings(None)
        self._invalid: QtWidgets.QWidget | None = None
        self._invalid_items: list[QtWidgets.QTableWidgetItem] = []
        self._error_form: QtWidgets.QFormLayout | None = None  # where the error label sits
        # The form is as wide as the dock: fields shrink and labels go above them, never a
        # horizontal scroll bar that hides the labels.
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QtWidgets.QWidget()
        self.setWidget(body)
        outer = QtWidgets.QVBoxLayout(body)
        self._outer = outer

        self.profile = shrinkable(QtWidgets.QComboBox(), 10)
        self.profile.addItem("(no profile)")
        self.profile.addItems(sorted(config.profiles))
        self.profile.currentTextChanged.connect(self._apply_profile)
        self.script = self._path_field("Pine strategy (*.pine)")
        self.script.edit.editingFinished.connect(self._load_script)
        self.code = QtWidgets.QPlainTextEdit()
        self.code.setReadOnly(True)
        self.code.setFont(QtGui.QFontDatabase.systemFont(
            QtGui.QFontDatabase.SystemFont.FixedFont))
        self.code.setMinimumHeight(120)
        self.code.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.inputs = QtWidgets.QTableWidget(0, 6)
        self.inputs.setHorizontalHeaderLabels(["", "Input", "Default", "Min", "Max", "Step"])
        header = self.inputs.horizontalHeader()
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(24)
        for column in range(6):
            header.setSectionResizeMode(
                column, QtWidgets.QHeaderView.ResizeMode.Stretch if column == 1
                else QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        search_header = self.inputs.horizontalHeaderItem(0)
        assert search_header is not None
        search_header.setToolTip("Search: ticked inputs are varied by the search")
        self.inputs.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        self.inputs.setWordWrap(False)
        self.inputs.verticalHeader().setVisible(False)
        self.inputs.setMinimumHeight(150)
        self.inputs.setToolTip("Tick the inputs to search; Min, Max and Step can be edited")

        self.data = self._path_field("Market data (*.csv)")
        self.data.edit.editingFinished.connect(self._update_data_span)
        self.security = shrinkable(QtWidgets.QLineEdit(placeholderText="SYMBOL=file.csv, ..."))
        self.security.setToolTip("Bars of the other symbols the script requests with "
                                 "request.security, as SYMBOL=FILE separated by commas. The "
                                 "chart symbol's higher timeframes are built from the data "
                                 "file.")
        self.magnifier = self._path_field("Lower-timeframe bars (*.csv)")
        self.magnifier.edit.setPlaceholderText("optional: fills orders inside bars")
        self.magnifier.setToolTip("Lower-timeframe bars of the chart symbol: orders fill as "
                                  "TradingView's Bar magnifier fills them")
        self.symbol = shrinkable(QtWidgets.QLineEdit(placeholderText="EXCHANGE:SYMBOL"))
        self.timezone = shrinkable(QtWidgets.QLineEdit(placeholderText=config.timezone))
        self.timezone.editingFinished.connect(self._update_data_span)
        self.session = shrinkable(QtWidgets.QLineEdit(placeholderText="24 hours, e.g. 0930-1600"))
        self.session.setToolTip("Trading session as TradingView writes it (0930-1600, "
                                "1700-1700:23456): higher-timeframe bars start at its open")
        self.mintick = shrinkable(QtWidgets.QLineEdit(placeholderText="from the data"))
        self.pointvalue = shrinkable(QtWidgets.QLineEdit(placeholderText="1"))
        self._build_watchlist_fields()
        self.date_from_field = _DateField("from")
        self.date_to_field = _DateField("to")
        self.date_from = self.date_from_field.edit
        self.date_to = self.date_to_field.edit
        self.holdout = QtWidgets.QSpinBox(suffix=" %", maximum=80, value=20)
        self.conditions = shrinkable(QtWidgets.QLineEdit(placeholderText="e.g. 1-4 (empty: one "
                                                                         "track)"))
        self.condition_input = shrinkable(QtWidgets.QLineEdit("Condition"))

        # strategy() properties: the script's values until the user changes one; only changed
        # values are passed on (RunOptions.settings), as TradingView's Properties tab does.
        self.initial_capital = shrinkable(QtWidgets.QLineEdit())
        self.order_size = shrinkable(QtWidgets.QLineEdit())
        self.order_size_type = shrinkable(QtWidgets.QComboBox(), 8)
        for value, label in QTY_TYPES.items():
            self.order_size_type.addItem(label, value)
        self.commission = shrinkable(QtWidgets.QLineEdit())
        self.commission_type = shrinkable(QtWidgets.QComboBox(), 8)
        for value, label in COMMISSION_TYPES.items():
            self.commission_type.addItem(label, value)
        self.slippage = QtWidgets.QSpinBox(suffix=" ticks", maximum=1_000_000)
        self._settings_fields: dict[str, QtWidgets.QWidget] = {
            "initial_capital": self.initial_capital, "default_qty_value": self.order_size,
            "default_qty_type": self.order_size_type, "commission_value": self.commission,
            "commission_type": self.commission_type, "slippage": self.slippage}
        self._fill_properties(None)

        self.min_trades = _OptionalNumber(100000, 0)
        self.max_drawdown = _OptionalNumber(100)
        self.min_profit_factor = _OptionalNumber(100)
        self.constraints = shrinkable(QtWidgets.QLineEdit(placeholderText="sharpe_ratio>=0.2, "
                                                                          "..."))
        self.constraints.setToolTip("More targets, separated by commas: metric>=number or "
                                    "metric<=number (metric keys as in the results, e.g. "
                                    "sharpe_ratio, percent_profitable, max_drawdown_percent)")
        self.engine = shrinkable(QtWidgets.QComboBox(), 10)
        self.engine.addItem("Local (offline)", "local")
        self.engine.addItem("TradingView (browser)", "tradingview")
        self.engine.setItemData(0, "PyneCore on this machine, offline",
                                QtCore.Qt.ItemDataRole.ToolTipRole)
        self.engine.setItemData(1, "The real site in a browser; the account is in the keyring",
                                QtCore.Qt.ItemDataRole.ToolTipRole)
        self.engine.setToolTip("Local: PyneCore on this machine, offline. TradingView runs "
                               "each trial on the real site (account in the keyring): slow and "
                               "paced (one page, pauses, a cap per hour) to keep it safe")
        self.proposer = shrinkable(QtWidgets.QComboBox(), 10)
        for label, value in (("Parameter search", "params"), ("LLM rewrites", "llm"),
                             ("Both", "both")):
            self.proposer.addItem(label, value)
        self.processes = QtWidgets.QSpinBox(minimum=1, maximum=64, value=config.processes)
        self.max_iterations = QtWidgets.QSpinBox(minimum=1, maximum=1_000_000, value=100)
        self.max_errors = QtWidgets.QSpinBox(minimum=1, maximum=10_000, value=10)
        self.max_duplicates = QtWidgets.QSpinBox(minimum=1, maximum=10_000, value=5)
        self.seed = QtWidgets.QSpinBox(minimum=0, maximum=2**31 - 1, value=42)

        self.save_profile_button = QtWidgets.QToolButton()
        self.save_profile_button.setText("Save…")
        self.save_profile_button.setToolTip("Save as profile: keep these fields as a named "
                                            "profile in the settings file")
        self.save_profile_button.clicked.connect(self._ask_profile_name)
        profile_row = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(profile_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.profile, 1)
        row.addWidget(self.save_profile_button)
        strategy_box = self._group("Strategy", [
            ("Profile", profile_row), ("Pine file", self.script), ("Code", self.code),
            ("Inputs", self.inputs)])
        data_box = self._group("Data and symbol", [
            ("Data file", self.data), ("Other symbols", self.security),
            ("Bar magnifier", self.magnifier), ("Symbol", self.symbol),
            ("Timezone", self.timezone), ("Session", self.session),
            ("Tick size", self.mintick), ("Point value", self.pointvalue),
            ("From", self.date_from_field), ("To", self.date_to_field),
            ("Holdout", self.holdout)])
        watchlist_rows: list[tuple[str, QtWidgets.QWidget]] = [
            ("Symbols", self._symbols_box)]
        if self.saved_watchlist.count() > 1:
            watchlist_rows.append(("Saved watchlist", self.saved_watchlist))
        watchlist_rows += [("Timeframes", self.timeframes), ("Aggregate", self.aggregate),
                           ("", self.search_timeframe)]
        watchlist_box = self._group("Watchlist", watchlist_rows)
        watchlist_box.setToolTip("One strategy on several charts (symbols × timeframes) from "
                                 "the market data library, scored by the aggregate over them")
        properties_box = self._group("Properties", [
            ("Initial capital", self.initial_capital),
            ("Order size", _pair(self.order_size, self.order_size_type)),
            ("Commission", _pair(self.commission, self.commission_type)),
            ("Slippage", self.slippage)])
        properties_box.setToolTip("The script's strategy() settings; a value changed here "
                                  "overrides the script's for this run")
        run_box = self._group("Search", [
            ("Conditions", self.conditions), ("Condition input", self.condition_input),
            ("Engine", self.engine), ("Proposer", self.proposer),
            ("Workers", self.processes), ("Max iterations", self.max_iterations),
            ("Max errors in a row", self.max_errors),
            ("Max repeats in a row", self.max_duplicates), ("Seed", self.seed)])
        self.max_errors.setToolTip("Stop a track after this many consecutive failed trials")
        self.max_duplicates.setToolTip("Stop a track after this many consecutive proposals of "
                                       "a parameter set already tried")
        target_box = self._group("Targets", [
            ("Min trades", self.min_trades), ("Max drawdown %", self.max_drawdown),
            ("Min profit factor", self.min_profit_factor), ("Other", self.constraints)])
        # One error at a time, shown right under its field (moved there by show_error).
        self.error = error_label()
        self.error.setObjectName("formError")
        for box in (strategy_box, data_box, watchlist_box, properties_box, target_box,
                    run_box):
            outer.addWidget(box)
        outer.addWidget(self.error)
        outer.addStretch(1)
        self._field_for_flag: dict[str, QtWidgets.QWidget] = {
            "--script": self.script.edit, "--data": self.data.edit, "--symbol": self.symbol,
            "--security": self.security, "--magnifier-data": self.magnifier.edit,
            "--session": self.session,
            "--timezone": self.timezone, "--mintick": self.mintick,
            "--pointvalue": self.pointvalue, "--from": self.date_from, "--to": self.date_to,
            "--holdout": self.holdout, "--conditions": self.conditions,
            "--condition-input": self.condition_input, "--target": self.constraints,
            "--input": self.inputs, "search ranges": self.inputs,
            "--process-count": self.processes, "--max-iterations": self.max_iterations,
            "--max-consecutive-errors": self.max_errors,
            "--max-duplicate-consecutive-errors": self.max_duplicates,
            "settings": self.initial_capital,
            "--symbols": self.watch_symbols, "--watchlist": self.watch_symbols,
            "--timeframes": self.timeframes, "--aggregate": self.aggregate,
            "--search-timeframe": self.search_timeframe,
        }
        self.refresh_library()
        self.setMinimumWidth(self._narrowest())

    # ------------------------------------------------------------------ building

    def _build_watchlist_fields(self) -> None:
        """The Watchlist group's fields: the library's symbols to tick, the timeframes, the
        aggregate and whether the timeframe is searched."""
        self.watch_symbols = QtWidgets.QListWidget()
        self.watch_symbols.setToolTip("Tick the symbols to run the strategy on (the market "
                                      "data library's); each is run at every timeframe below")
        self.watch_symbols.setMinimumHeight(72)
        self.watch_symbols.setMaximumHeight(140)
        self.watch_symbols.itemChanged.connect(lambda _item: self._watchlist_changed())
        self.library_hint = note_label(LIBRARY_EMPTY_HINT)
        self.library_hint.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refresh_library_button = QtWidgets.QToolButton()
        self.refresh_library_button.setText("Refresh")
        self.refresh_library_button.setToolTip("Read the market data library again (after "
                                               "`tvdesk data add`)")
        self.refresh_library_button.clicked.connect(self.refresh_library)
        self.saved_watchlist = shrinkable(QtWidgets.QComboBox(), 10)
        self.saved_watchlist.addItem("(choose to tick its symbols)", None)
        for name in sorted(self.config.watchlists):
            self.saved_watchlist.addItem(name, name)
        self.saved_watchlist.setToolTip("A watchlist of the settings file's [watchlists]: "
                                        "ticks its symbols")
        self.saved_watchlist.activated.connect(self._apply_saved_watchlist)
        self._symbols_box = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(self._symbols_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.watch_symbols)
        box.addWidget(self.library_hint)
        refresh_row = QtWidgets.QHBoxLayout()
        refresh_row.addStretch(1)
        refresh_row.addWidget(self.refresh_library_button)
        box.addLayout(refresh_row)
        self.timeframes = shrinkable(QtWidgets.QLineEdit(
            placeholderText="15,60,240 (empty: finest)"))
        self.timeframes.setToolTip("The timeframes to run every ticked symbol at, separated "
                                   "by commas (15, 60, 240, 1D, 1W); a timeframe the library "
                                   "does not hold is built from finer bars. Empty: each "
                                   "symbol's finest series")
        self.timeframes.editingFinished.connect(self._check_timeframes)
        self.aggregate = shrinkable(QtWidgets.QComboBox(), 8)
        for label, value in AGGREGATES:
            self.aggregate.addItem(label, value)
        self.aggregate.setToolTip("How a trial is scored over its charts: the median chart, "
                                  "the worst chart (min), or the mean")
        self.search_timeframe = QtWidgets.QCheckBox("Search the timeframe")
        self.search_timeframe.setToolTip("The search also picks the timeframe (one of the "
                                         "timeframes above; needs two or more)")

    def _single_chart_fields(self) -> tuple[QtWidgets.QWidget, ...]:
        """The fields that describe one chart: the library's facts replace them."""
        return (self.data, self.symbol, self.mintick, self.pointvalue, self.session,
                self.magnifier)

    def _group(self, title: str, rows: list[tuple[str, QtWidgets.QWidget]]
               ) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox(title)
        form = QtWidgets.QFormLayout(box)
        form.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # A field that does not fit beside its label goes under it (a narrow dock).
        form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapLongRows)
        for label, widget in rows:
            form.addRow(label, widget)
        return box

    def _narrowest(self) -> int:
        """The narrowest this form lays out without clipping: its body's minimum, the
        vertical scroll bar and the frame."""
        body = self.widget()
        assert body is not None
        return (body.minimumSizeHint().width() + self.frameWidth() * 2
                + self.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_ScrollBarExtent))

    def sizeHint(self) -> QtCore.QSize:
        """Wide enough for the inputs table's columns and a path, so the dock starts at a
        comfortable width; narrower still lays out (labels go above their fields)."""
        hint = super().sizeHint()
        wide = self.fontMetrics().averageCharWidth() * 80
        return QtCore.QSize(max(self._narrowest(), min(wide, 560)), hint.height())

    def _path_field(self, filter_text: str) -> _PathField:
        holder = _PathField()
        edit = holder.edit

        def browse() -> None:
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Choose a file",
                                                            edit.text(), filter_text)
            if path:
                edit.setText(path)
                edit.editingFinished.emit()

        holder.button.clicked.connect(browse)
        return holder

    # ------------------------------------------------------------------ watchlist

    def refresh_library(self) -> None:
        """List the library's symbols again, keeping the ticks (an empty library: a hint)."""
        ticked = set(self.watchlist_symbols())
        library = self.library if self.library is not None else Library()
        try:
            choices = library_choices(library.entries())
        except OSError:
            choices = []
        held = {symbol for symbol, _tip in choices}
        missing = [s for s in ticked if s not in held]  # a saved watchlist's, not held
        self.watch_symbols.blockSignals(True)
        self.watch_symbols.clear()
        for symbol, tip in [*choices, *((s, "") for s in missing)]:
            item = QtWidgets.QListWidgetItem(symbol if tip else
                                             f"{symbol} (not in the library)")
            item.setData(SYMBOL_ROLE, symbol)
            item.setToolTip(tip or f"{symbol} is not in the market data library: add it with "
                                   f"`tvdesk data add FILE --symbol {symbol}`")
            item.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled
                          | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.CheckState.Checked if symbol in ticked
                               else QtCore.Qt.CheckState.Unchecked)
            self.watch_symbols.addItem(item)
        self.watch_symbols.blockSignals(False)
        self.library_hint.setVisible(not choices)
        self.watch_symbols.setVisible(self.watch_symbols.count() > 0)
        self._watchlist_changed()

    def watchlist_symbols(self) -> list[str]:
        """The ticked symbols, in the list's order."""
        out = []
        for row in range(self.watch_symbols.count()):
            item = self.watch_symbols.item(row)
            if item is not None and item.checkState() == QtCore.Qt.CheckState.Checked:
                out.append(str(item.data(SYMBOL_ROLE)))
        return out

    def set_watchlist_symbols(self, symbols: Sequence[str]) -> None:
        """Tick exactly `symbols` (one the library does not hold is listed as missing)."""
        wanted = {s.upper() for s in symbols}
        held = set()
        self.watch_symbols.blockSignals(True)
        for row in range(self.watch_symbols.count()):
            item = self.watch_symbols.item(row)
            if item is None:
                continue
            symbol = str(item.data(SYMBOL_ROLE))
            on = symbol.upper() in wanted
            held.add(symbol.upper())
            item.setCheckState(QtCore.Qt.CheckState.Checked if on
                               else QtCore.Qt.CheckState.Unchecked)
        for symbol in symbols:
            if symbol.upper() not in held:
                item = QtWidgets.QListWidgetItem(f"{symbol} (not in the library)")
                item.setData(SYMBOL_ROLE, symbol)
                item.setToolTip(f"{symbol} is not in the market data library: add it with "
                                f"`tvdesk data add FILE --symbol {symbol}`")
                item.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled
                              | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(QtCore.Qt.CheckState.Checked)
                self.watch_symbols.addItem(item)
        self.watch_symbols.blockSignals(False)
        self.watch_symbols.setVisible(self.watch_symbols.count() > 0)
        self._watchlist_changed()

    @Slot(int)
    def _apply_saved_watchlist(self, index: int) -> None:
        name = self.saved_watchlist.itemData(index)
        if name:
            self.set_watchlist_symbols(self.config.watchlists.get(str(name), ()))

    def _watchlist_changed(self) -> None:
        """Symbols ticked: the single-chart fields give way to the library's facts."""
        on = bool(self.watchlist_symbols())
        for widget in self._single_chart_fields():
            if widget.isEnabled() == (not on):
                continue
            if on:
                widget.setProperty("singleChartTip", widget.toolTip())
                widget.setToolTip(LIBRARY_FACTS_TIP)
            else:
                widget.setToolTip(str(widget.property("singleChartTip") or ""))
            widget.setEnabled(not on)
        self.aggregate.setEnabled(on)
        self.search_timeframe.setEnabled(on)
        if self._invalid in (self.watch_symbols, self.search_timeframe, self.aggregate,
                             *self._single_chart_fields(), self.data.edit,
                             self.magnifier.edit):
            self.clear_error()
        self._update_data_span()

    def _check_timeframes(self) -> None:
        """Timeframes that are not timeframes: said at the field when it is left."""
        try:
            for text in parse_list(self.timeframes.text().strip() or None, "--timeframes"):
                timeframe_code(text, "--timeframes")
        except InputError as exc:
            self.show_error(exc)
            return
        if self._invalid is self.timeframes:
            self.clear_error()

    # ------------------------------------------------------------------ loading

    def set_paths(self, script: str | Path, data: str | Path) -> None:
        self.script.edit.setText(str(script))
        self.data.edit.setText(str(data))
        self._load_script()
        self._update_data_span()

    def _update_data_span(self) -> None:
        """The data file's first and last dates on the From / To fields (two lines read);
        with a watchlist, the dates its symbols' series cover in the library."""
        zone = self.timezone.text().strip() or self.config.timezone
        symbols = self.watchlist_symbols()
        span: DataSpan | None
        if symbols:
            library = self.library if self.library is not None else Library()
            try:
                dates = library_span(library.entries(), symbols)
            except OSError:
                dates = None
            span = DataSpan(*dates) if dates else None
        else:
            span = data_span(self.data.edit.text().strip(), zone)  # None when it cannot tell
        self.date_from_field.set_span(span)
        self.date_to_field.set_span(span)

    def _apply_profile(self, name: str) -> None:
        profile = self.config.profiles.get(name)
        if profile is None:
            return
        if profile.script:
            self.script.edit.setText(str(profile.script))
        if profile.data:
            self.data.edit.setText(str(profile.data))
        self.security.setText(", ".join(f"{symbol}={path}"
                                        for symbol, path in profile.security.items()))
        self.magnifier.edit.setText(str(profile.magnifier_data or ""))
        for edit, value in ((self.symbol, profile.symbol), (self.timezone, profile.timezone),
                            (self.session, profile.session),
                            (self.conditions, profile.conditions),
                            (self.date_from, profile.date_from),
                            (self.date_to, profile.date_to)):
            edit.setText("" if value is None else str(value))
        self.mintick.setText("" if profile.mintick is None else f"{profile.mintick:g}")
        self.pointvalue.setText("" if profile.pointvalue is None else f"{profile.pointvalue:g}")
        self.condition_input.setText(profile.condition_input)
        symbols: Sequence[str] = profile.symbols
        if not symbols and profile.watchlist:
            symbols = self.config.watchlists.get(profile.watchlist, ())
        self.set_watchlist_symbols(symbols)
        self.timeframes.setText(", ".join(profile.timeframes))
        index = self.aggregate.findData(profile.aggregate or "median")
        self.aggregate.setCurrentIndex(max(index, 0))
        self.search_timeframe.setChecked(profile.search_timeframe)
        self._load_script()  # shows the script's strategy() settings ...
        self.show_properties(profile.properties)  # ... then the profile's own
        self._update_data_span()

    def show_properties(self, values: Mapping[str, Any]) -> None:
        """Show strategy() overrides (a profile's) in the Properties fields."""
        edits = {"initial_capital": self.initial_capital, "default_qty_value": self.order_size,
                 "commission_value": self.commission}
        combos = {"default_qty_type": self.order_size_type,
                  "commission_type": self.commission_type}
        for key, value in values.items():
            if key in edits and isinstance(value, (int, float)):
                edits[key].setText(_number_text(value))
            elif key in combos and combos[key].findData(value) >= 0:
                combos[key].setCurrentIndex(combos[key].findData(value))
            elif key == "slippage" and isinstance(value, (int, float)):
                self.slippage.setValue(int(value))

    def _ask_profile_name(self) -> None:
        name, ok = QtWidgets.QInputDialog.getText(self, "Save profile", "Profile name:",
                                                  text=self.profile.currentText()
                                                  if self.profile.currentIndex() > 0 else "")
        if ok and name.strip():
            self.save_profile(name.strip())

    def save_profile(self, name: str) -> bool:
        """Write the form as profile `name` into the settings file; False (shown) on error."""
        from dataclasses import replace as dc_replace

        from tvdesk.app.requests import parse_security_flag, parse_when
        from tvdesk.config import Profile, save_settings
        from tvdesk.optimize.targets import SHORTHANDS

        try:
            form = self.run_form()
            options = form.options
            tz = options.timezone or self.config.timezone
            date_from = parse_when(options.date_from, tz, "--from", end_of_day=False)
            date_to = parse_when(options.date_to, tz, "--to", end_of_day=False)
            targets = {key: value for key in SHORTHANDS
                       if (value := getattr(form, key, None)) is not None}
            profile = Profile(
                name=name, script=Path(options.script) if options.script else None,
                data=Path(options.data) if options.data else None, symbol=options.symbol,
                timezone=options.timezone, session=options.session, mintick=options.mintick,
                pointvalue=options.pointvalue,
                date_from=date_from.date() if date_from else None,
                date_to=date_to.date() if date_to else None, conditions=form.conditions,
                condition_input=form.condition_input or "Condition", targets=targets,
                security={symbol: Path(path) for symbol, path in
                          (parse_security_flag(flag) for flag in options.security)},
                magnifier_data=Path(options.magnifier_data) if options.magnifier_data
                else None, properties=dict(self.strategy_settings()),
                symbols=parse_list(form.symbols, "--symbols"),
                timeframes=tuple(timeframe_code(t, "--timeframes") for t in
                                 parse_list(form.timeframes, "--timeframes")),
                aggregate=form.aggregate if form.symbols else None,
                search_timeframe=bool(form.symbols) and form.search_timeframe)
            settings = dc_replace(self.config, profiles={**self.config.profiles,
                                                         name: profile})
            path = save_settings(settings)
        except TvdeskError as exc:
            self.show_error(exc)
            return False
        from tvdesk.config import load_settings

        self.config = load_settings(path)
        if self.profile.findText(name) < 0:
            self.profile.addItem(name)
        self.profile.blockSignals(True)
        self.profile.setCurrentText(name)
        self.profile.blockSignals(False)
        self.clear_error()
        return True

    def _load_script(self) -> None:
        path = self.script.edit.text().strip()
        if not path:
            return
        try:
            strategy = load_strategy(path)
        except TvdeskError as exc:
            self.show_error(exc)
            return
        self.clear_error()
        self.strategy = strategy
        self.code.setPlainText(strategy.source)
        self._fill_inputs(strategy)
        self._fill_properties(strategy)
        self.strategy_loaded.emit(strategy)

    def _fill_properties(self, strategy: Strategy | None) -> None:
        """Show the script's strategy() settings (Pine's defaults where it declares none)."""
        values = script_settings(strategy)
        self._script_settings = values
        declared = dict(strategy.settings) if strategy is not None else {}

        def tip(key: str, shown: str) -> str:
            raw = declared.get(key)
            said = f"the script says {raw}" if raw is not None else \
                "the script does not say: TradingView's default"
            return f"{shown} ({said}); change it to override the script for this run"

        self.initial_capital.setText(_number_text(values["initial_capital"]))
        self.order_size.setText(_number_text(values["default_qty_value"]))
        self.commission.setText(_number_text(values["commission_value"]))
        self.slippage.setValue(int(values["slippage"]))
        self.order_size_type.setCurrentIndex(
            self.order_size_type.findData(values["default_qty_type"]))
        self.commission_type.setCurrentIndex(
            self.commission_type.findData(values["commission_type"]))
        for key, widget in self._settings_fields.items():
            shown = values[key]
            text = QTY_TYPES.get(shown) or COMMISSION_TYPES.get(shown) or (
                _number_text(shown) if isinstance(shown, (int, float)) else str(shown))
            widget.setProperty("defaultTip", tip(key, text))
            widget.setToolTip(tip(key, text))

    def strategy_settings(self) -> tuple[tuple[str, object], ...]:
        """The strategy() settings the user changed from the script's, as overrides."""
        changed: list[tuple[str, object]] = []
        for key, label, edit in (("initial_capital", "initial capital", self.initial_capital),
                                 ("default_qty_value", "order size", self.order_size),
                                 ("commission_value", "commission", self.commission)):
            raw = edit.text().strip()
            if not raw:
                continue  # empty: the script's value
            try:
                value = float(raw.replace(",", ""))
            except ValueError:
                raise InputError(f"{label}: expected a number, got {raw!r}", source="settings",
                                 key=key) from None
            if not math.isclose(value, float(self._script_settings[key]), rel_tol=1e-12,
                                abs_tol=1e-12):
                changed.append((key, value))
        if self.slippage.value() != int(self._script_settings["slippage"]):
            changed.append(("slippage", self.slippage.value()))
        for key, combo in (("default_qty_type", self.order_size_type),
                           ("commission_type", self.commission_type)):
            if combo.currentData() != self._script_settings[key]:
                changed.append((key, combo.currentData()))
        return tuple(changed)

    def _fill_inputs(self, strategy: Strategy) -> None:
        dims = {d.title: d for d in build_space(
            strategy, condition_input=self.condition_input.text() or None).dimensions}
        self.inputs.setRowCount(0)
        for spec in strategy.inputs:
            if not spec.overridable:
                continue
            row = self.inputs.rowCount()
            self.inputs.insertRow(row)
            include = QtWidgets.QTableWidgetItem()
            searchable = spec.title in dims and dims[spec.title].kind != "choice"
            include.setFlags(_check_flags(checkable=spec.title in dims))
            include.setCheckState(QtCore.Qt.CheckState.Checked if spec.title in dims
                                  else QtCore.Qt.CheckState.Unchecked)
            self.inputs.setItem(row, 0, include)
            title = _item(spec.title, editable=False)
            title.setToolTip(_input_tip(spec))
            self.inputs.setItem(row, 1, title)
            self.inputs.setItem(row, 2, _item("" if spec.default is None else str(spec.default),
                                              editable=False))
            include.setToolTip("Search this input" if spec.title in dims else
                               "Not searched (a choice list, the condition input or text)")
            dim = dims.get(spec.title)
            for col, value in ((3, dim.low if dim else None), (4, dim.high if dim else None),
                               (5, dim.step if dim else None)):
                self.inputs.setItem(row, col, _item("" if value is None else f"{value:g}",
                                                    editable=searchable))
        self.inputs.resizeColumnsToContents()

    # ------------------------------------------------------------------ reading

    def run_form(self) -> RunForm:
        def text(edit: QtWidgets.QLineEdit) -> str | None:
            return edit.text().strip() or None

        def number(edit: QtWidgets.QLineEdit, flag: str) -> float | None:
            raw = edit.text().strip()
            if not raw:
                return None
            try:
                return float(raw)
            except ValueError:
                raise InputError(f"expected a number, got {raw!r}", source=flag) from None

        ranges, excluded = self._ranges()
        watchlist = self.watchlist_symbols()
        # With a watchlist the single-chart fields are disabled: the library's facts are used.
        single = not watchlist
        options = RunOptions(
            script=text(self.script.edit), data=text(self.data.edit) if single else None,
            symbol=text(self.symbol) if single else None,
            timezone=text(self.timezone),
            mintick=number(self.mintick, "--mintick") if single else None,
            pointvalue=number(self.pointvalue, "--pointvalue") if single else None,
            date_from=text(self.date_from), date_to=text(self.date_to),
            security=tuple(part.strip() for part in self.security.text().split(",")
                           if part.strip()),
            magnifier_data=text(self.magnifier.edit) if single else None,
            session=text(self.session) if single else None,
            settings=self.strategy_settings())
        return RunForm(
            options=options, engine=self.engine.currentData(),
            proposer=self.proposer.currentData(), seed=self.seed.value(),
            process_count=self.processes.value(), conditions=text(self.conditions),
            condition_input=text(self.condition_input), holdout=f"{self.holdout.value()}%",
            min_trades=self.min_trades.number(), max_drawdown=self.max_drawdown.number(),
            min_profit_factor=self.min_profit_factor.number(),
            targets=[t.strip() for t in self.constraints.text().split(",") if t.strip()],
            max_iterations=self.max_iterations.value(),
            max_consecutive_errors=self.max_errors.value(),
            max_duplicate_consecutive_errors=self.max_duplicates.value(),
            search_ranges=ranges, exclude_inputs=excluded,
            symbols=",".join(watchlist) or None, timeframes=text(self.timeframes),
            aggregate=str(self.aggregate.currentData() or "median"),
            search_timeframe=bool(watchlist) and self.search_timeframe.isChecked())

    def _ranges(self) -> tuple[dict[str, dict[str, float]], tuple[str, ...]]:
        ranges: dict[str, dict[str, float]] = {}
        excluded: list[str] = []
        for row in range(self.inputs.rowCount()):
            title = self._cell(row, 1).text()
            include = self._cell(row, 0)
            if include.flags() & QtCore.Qt.ItemFlag.ItemIsUserCheckable and \
                    include.checkState() != QtCore.Qt.CheckState.Checked:
                excluded.append(title)
                continue
            values: dict[str, float] = {}
            for col, key in ((3, "min"), (4, "max"), (5, "step")):
                cell = self._cell(row, col)
                raw = cell.text().strip()
                if raw and cell.flags() & QtCore.Qt.ItemFlag.ItemIsEditable:
                    try:
                        values[key] = float(raw)
                    except ValueError:
                        raise InputError(f"input {title!r}: {key} must be a number, got "
                                         f"{raw!r}", source="search ranges",
                                         key=title) from None
            if values:
                ranges[title] = values
        return ranges, tuple(excluded)

    def _cell(self, row: int, column: int) -> QtWidgets.QTableWidgetItem:
        item = self.inputs.item(row, column)
        assert item is not None, "_fill_inputs sets every cell of a row"
        return item

    def build_settings(self) -> OptimizeSettings | None:
        """Checked settings, or None with the error shown inline next to its field."""
        try:
            settings = settings_from_form(self.run_form(), self.config)
        except TvdeskError as exc:
            self.show_error(exc)
            return None
        self.clear_error()
        return settings

    # ------------------------------------------------------------------ errors

    def field_for(self, exc: TvdeskError) -> QtWidgets.QWidget | None:
        """The widget an error is about: by the flag it names (`source`), the entry (`key`:
        a strategy() setting), or the file it names."""
        source = getattr(exc, "source", None) or ""
        key = getattr(exc, "key", None)
        if source == "settings" and key in self._settings_fields:
            return self._settings_fields[key]
        widget = self._field_for_flag.get(source)
        if widget is None and source:
            if source == self.script.edit.text().strip() or source.endswith(".pine"):
                widget = self.script.edit
            elif source == self.data.edit.text().strip() or source.endswith(".csv"):
                widget = self.data.edit
        return widget

    def show_error(self, exc: TvdeskError) -> None:
        """The message right under its field, the field outlined, scrolled to and focused."""
        self.clear_error()
        message = str(exc)
        widget = self.field_for(exc)
        self.error.setText(message)
        self._place_error(widget)
        self.error.show()
        if widget is not None:
            mark_invalid(widget, message)
            if widget is self.inputs:
                self._mark_input_row(getattr(exc, "key", None), message)
            widget.setFocus(QtCore.Qt.FocusReason.OtherFocusReason)
        self._invalid = widget
        self._outer.activate()  # the label's place, before scrolling to it
        self.ensureWidgetVisible(self.error)
        if widget is not None:
            self.ensureWidgetVisible(widget)

    def _place_error(self, widget: QtWidgets.QWidget | None) -> None:
        """Move the error label into the form row under `widget` (the bottom otherwise)."""
        node = widget
        body = self.widget()
        while node is not None and node is not body:
            parent = node.parentWidget()
            layout = parent.layout() if parent is not None else None
            if isinstance(layout, QtWidgets.QFormLayout):
                position: Any = layout.getWidgetPosition(node)
                row = int(position[0])
                if row >= 0:
                    self._outer.removeWidget(self.error)
                    layout.insertRow(row + 1, self.error)
                    self._error_form = layout
                    return
            node = parent

    def _mark_input_row(self, title: str | None, message: str) -> None:
        """Colour the Min / Max / Step cells of the input `title` and go to its Min cell."""
        for row in range(self.inputs.rowCount()):
            item = self.inputs.item(row, 1)
            if title is None or item is None or item.text() != title:
                continue
            for column in (3, 4, 5):
                cell = self.inputs.item(row, column)
                if cell is not None:
                    cell.setBackground(QtGui.QColor(ERROR_COLOUR).lighter(170))
                    cell.setToolTip(message)
                    self._invalid_items.append(cell)
            self.inputs.setCurrentCell(row, 3)
            self.inputs.scrollToItem(self._cell(row, 3))
            return

    def clear_error(self) -> None:
        self.error.hide()
        self.error.clear()
        if self._error_form is not None:
            self._error_form.takeRow(self.error)
            self._outer.insertWidget(self._outer.count() - 1, self.error)
            self.error.hide()
            self._error_form = None
        widget = self._invalid
        if widget is not None:
            clear_invalid(widget, widget.property("defaultTip") or "")
        for cell in self._invalid_items:
            cell.setBackground(QtGui.QBrush())
            cell.setToolTip("")
        self._invalid_items = []
        self._invalid = None

    def error_field(self) -> QtWidgets.QWidget | None:
        return self._invalid


def _pair(field: QtWidgets.QWidget, kind: QtWidgets.QWidget) -> QtWidgets.QWidget:
    """A value and its unit side by side (order size and its type, say)."""
    holder = QtWidgets.QWidget()
    row = QtWidgets.QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(field, 1)
    row.addWidget(kind, 1)
    return holder


def _input_tip(spec: Any) -> str:
    """An input's title with what the script allows, for the table's tooltip."""
    allowed = []
    if spec.options:
        allowed.append("one of " + ", ".join(str(o) for o in spec.options))
    if spec.minval is not None or spec.maxval is not None:
        low = "" if spec.minval is None else f"{spec.minval:g}"
        high = "" if spec.maxval is None else f"{spec.maxval:g}"
        allowed.append(f"{low} … {high}")
    if spec.step is not None:
        allowed.append(f"step {spec.step:g}")
    return f"{spec.title} ({spec.kind})" + (f": {', '.join(allowed)}" if allowed else "")


def _item(text: str, *, editable: bool) -> QtWidgets.QTableWidgetItem:
    item = QtWidgets.QTableWidgetItem(text)
    flags = QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable
    if editable:
        flags |= QtCore.Qt.ItemFlag.ItemIsEditable
    item.setFlags(flags)
    return item


def _check_flags(*, checkable: bool) -> QtCore.Qt.ItemFlag:
    flags = QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable
    if checkable:
        flags |= QtCore.Qt.ItemFlag.ItemIsUserCheckable
    return flags
