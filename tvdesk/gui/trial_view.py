"""Trial: one trial in detail, laid out like TradingView's strategy tester.

Key stats as big numbers; tabs for the equity chart (drawdown below, buy & hold when the
run's data can be read), the full metrics (TradingView's labels, tvdesk's own marked), the
list of trades, monthly returns, the Pine source with its diff against the parent version,
and for LLM rewrites the prompt and the reply. A watchlist trial (one strategy on several
charts) also gets a Charts tab: each chart's key metrics and own tag, its equity as a small
plot, and the trades of the chart chosen in the table (`tvdesk.viewmodels.watchlist`); a
one-chart trial has no such tab. Everything shown is computed by
`tvdesk.viewmodels.trial_details` and `tvdesk.viewmodels.watchlist`; this module only lays it
out. The main chart's curves are created once and updated with `setData`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tvdesk.errors import TvdeskError
from tvdesk.events import Event
from tvdesk.fileio import write_text_atomically
from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets, Signal, Slot, pg
from tvdesk.gui.results_model import (
    GREEN,
    RED,
    TAG_COLOUR_ROLE,
    TagDelegate,
    TextTableModel,
)
from tvdesk.gui.view_base import RunView
from tvdesk.gui.widgets import (
    GREY,
    DiffHighlighter,
    EquityChart,
    StatCard,
    ThemedChart,
    YearDateAxis,
    chip_style,
    note_over_text,
    read_only_text,
    table_view,
)
from tvdesk.viewmodels.results_table import tag_colour
from tvdesk.viewmodels.trial_details import (
    MONTHS,
    TRADE_NUMERIC,
    TVDESK_SECTION,
    MonthlyReturns,
    TrialDetails,
    trial_details,
)
from tvdesk.viewmodels.watchlist import NET_COLUMN, ChartBreakdown, trial_breakdown
from tvdesk.viewmodels.watchlist import header as chart_header

log = logging.getLogger(__name__)

RERUN_TIP = ("Run this trial again on TradingView (same script, inputs and dates) and store "
             "the result beside it with the parity of the trades")
PLACEHOLDER = "Double-click a trial in Results to see it here."
EXPORT_PINE_TIP = ("Save this trial as a Pine script for TradingView, its inputs set as the "
                   "defaults")
COPY_PINE_TIP = "Copy this trial as a Pine script, its inputs set as the defaults"
CHARTS_TAB = "Charts"
CHARTS_TIP = "This watchlist trial chart by chart: metrics, equity and trades of each chart"
PLOT_HEIGHT = 190  # pixels per row of the small per-chart equity plots


class ChartTableModel(TextTableModel):
    """The per-chart table: ready-made text, the last column drawn as a tag chip."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.tag_column = -1

    def data(self, index: QtCore.QModelIndex | QtCore.QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == TAG_COLOUR_ROLE and index.isValid() and index.column() == self.tag_column:
            text = super().data(index, Qt.ItemDataRole.DisplayRole)
            return tag_colour(str(text)) if text else None
        return super().data(index, role)


class ChartCurves(ThemedChart):
    """One small equity plot per chart (return % over the chart's own dates), two or three
    to a row: charts of different symbols and timeframes often cover different years, so each
    keeps its own time axis."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots: list[Any] = []
        self.curves: list[Any] = []

    def set_breakdown(self, breakdown: ChartBreakdown | None) -> int:
        """Draw every chart's curve; returns the number of plot rows."""
        self.clear()
        self.plots, self.curves = [], []
        if breakdown is None:
            return 0
        columns = 2 if len(breakdown.curves) <= 4 else 3
        for number, chart in enumerate(breakdown.curves):
            plot = self.addPlot(row=number // columns, col=number % columns,
                                axisItems={"bottom": YearDateAxis(utcOffset=0)})
            plot.setTitle(chart.title)
            plot.setLabel("left", "Return %")
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setMenuEnabled(False)
            plot.getAxis("left").setWidth(56)
            plot.getAxis("left").enableAutoSIPrefix(False)  # a flat curve: no "(x0.001)"
            plot.addItem(pg.InfiniteLine(
                pos=0.0, angle=0, movable=False,
                pen=pg.mkPen(GREY, width=0.8, style=Qt.PenStyle.DotLine)))
            colour = GREEN if chart.sign > 0 else RED if chart.sign < 0 else GREY
            curve = plot.plot(chart.x, chart.returns, pen=pg.mkPen(colour, width=1.4))
            self.plots.append(plot)
            self.curves.append(curve)
        self.restyle()
        return (len(breakdown.curves) + columns - 1) // columns


class TrialView(RunView):
    export_pine_requested = Signal(int)  # trial id: save its Pine with the inputs set
    copy_pine_requested = Signal(int)  # trial id: copy that Pine to the clipboard

    def __init__(self, controller: RunController,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.details: TrialDetails | None = None
        self.trial_id: int | None = None
        self._save_dialog: QtWidgets.QFileDialog | None = None
        self._last_folder = str(Path.home())

        self.stack = QtWidgets.QStackedWidget()
        self.placeholder = QtWidgets.QLabel(PLACEHOLDER)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self._build_details())
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        controller.store_opened.connect(lambda _path: self.clear())
        controller.run_finished.connect(lambda _run, _status: self.refresh())
        controller.event.connect(self._on_event)
        controller.confirm_finished.connect(self._on_confirmed)

    # ------------------------------------------------------------------ building

    def _build_details(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.title_label = QtWidgets.QLabel()
        font = self.title_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title_label.setFont(font)
        self.tag_label = QtWidgets.QLabel()
        self.subtitle_label = QtWidgets.QLabel()
        self.subtitle_label.setStyleSheet("color: palette(placeholder-text);")
        self.subtitle_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = QtWidgets.QLabel()
        self.status_label.setStyleSheet("color: palette(placeholder-text);")

        # Export / Copy Pine ship the trial (its inputs as defaults); these two give the
        # version's source as written, with the script's own defaults.
        self.copy_button = QtWidgets.QPushButton("Copy source")
        self.copy_button.setToolTip("Copy this version's Pine source as written (the script's "
                                    "own defaults, not this trial's inputs)")
        self.copy_button.clicked.connect(self.copy_script)
        self.save_button = QtWidgets.QPushButton("Save source…")
        self.save_button.setToolTip("Save this version's Pine source as written (the script's "
                                    "own defaults, not this trial's inputs)")
        self.save_button.clicked.connect(self.save_script)
        self.rerun_button = QtWidgets.QPushButton("Re-run on TradingView")
        self.rerun_button.setToolTip(RERUN_TIP)
        self.rerun_button.clicked.connect(self.rerun_on_tradingview)
        self.export_pine_button = QtWidgets.QPushButton("Export Pine…")
        self.export_pine_button.setToolTip(EXPORT_PINE_TIP)
        self.export_pine_button.clicked.connect(self._request_export_pine)
        self.copy_pine_button = QtWidgets.QPushButton("Copy Pine")
        self.copy_pine_button.setToolTip(COPY_PINE_TIP)
        self.copy_pine_button.clicked.connect(self._request_copy_pine)

        head = QtWidgets.QHBoxLayout()
        head.addWidget(self.title_label)
        head.addWidget(self.tag_label)
        head.addStretch(1)
        head.addWidget(self.status_label)
        for button in (self.export_pine_button, self.copy_pine_button, self.rerun_button,
                       self.copy_button, self.save_button):
            head.addWidget(button)

        self.cards = [StatCard() for _ in range(5)]
        cards = QtWidgets.QHBoxLayout()
        for card in self.cards:
            cards.addWidget(card, 1)

        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self._build_overview(), "Overview")
        self.charts_page = self._build_charts()  # a tab only while a watchlist trial shows
        self.tabs.addTab(self._build_metrics(), "Performance")
        self.trades_model = TextTableModel(self)
        self.trades_table = table_view(self.trades_model)
        self.tabs.addTab(self.trades_table, "List of trades")
        self.monthly_table = QtWidgets.QTableWidget()
        self.monthly_table.setEditTriggers(
            QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.monthly_table.horizontalHeader().setSectionResizeMode(
            QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.monthly_table.horizontalHeader().setMinimumSectionSize(64)
        self.tabs.addTab(self.monthly_table, "Monthly returns")
        self.tabs.addTab(self._build_source(), "Pine source")
        self.tabs.addTab(self._build_diff(), "Diff vs parent")
        self.llm_page = self._build_llm()
        self.llm_index = self.tabs.addTab(self.llm_page, "LLM")

        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(head)
        layout.addWidget(self.subtitle_label)
        layout.addLayout(cards)
        layout.addWidget(self.tabs, 1)
        return page

    def _build_overview(self) -> QtWidgets.QWidget:
        self.chart = EquityChart()
        self.chart_note = QtWidgets.QLabel()
        self.chart_note.setStyleSheet("color: palette(placeholder-text);")
        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.chart_note)
        left_layout.addWidget(self.chart, 1)

        self.reasons_label = QtWidgets.QLabel()
        self.reasons_label.setWordWrap(True)
        self.reasons_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.reasons_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        tag_box = QtWidgets.QGroupBox("Quality tag")
        QtWidgets.QVBoxLayout(tag_box).addWidget(self.reasons_label)
        self.inputs_table = QtWidgets.QTableWidget(0, 2)
        self.inputs_table.setHorizontalHeaderLabels(["Input", "Value"])
        self.inputs_table.verticalHeader().setVisible(False)
        self.inputs_table.horizontalHeader().setStretchLastSection(True)
        self.inputs_table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        inputs_box = QtWidgets.QGroupBox("Inputs")
        QtWidgets.QVBoxLayout(inputs_box).addWidget(self.inputs_table)
        self.notes_label = QtWidgets.QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setStyleSheet(f"color: {RED};")
        side = QtWidgets.QWidget()
        side_layout = QtWidgets.QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.notes_label)
        side_layout.addWidget(tag_box)
        side_layout.addWidget(inputs_box, 1)

        splitter = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([900, 320])
        return splitter

    def _build_charts(self) -> QtWidgets.QWidget:
        self.breakdown: ChartBreakdown | None = None
        self.charts_note = QtWidgets.QLabel()
        self.charts_note.setWordWrap(True)
        self.charts_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.charts_model = ChartTableModel(self)
        self.charts_table = table_view(self.charts_model)
        self.charts_table.setSelectionMode(
            QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.charts_table.horizontalHeader().setStretchLastSection(False)
        self.charts_table.setToolTip("Each chart's own result; the tag is the one this "
                                     "backtest earns on its own. Choose a chart to see its "
                                     "trades below")
        self.charts_model.tag_column = len(chart_header()) - 1
        self._chart_tag_delegate = TagDelegate(self.charts_table)
        self.charts_table.setItemDelegateForColumn(self.charts_model.tag_column,
                                                   self._chart_tag_delegate)
        self.charts_table.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self._show_chart_trades(current.row()))
        self.chart_curves = ChartCurves()
        self.curves_scroll = QtWidgets.QScrollArea()
        self.curves_scroll.setWidgetResizable(True)
        self.curves_scroll.setHorizontalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.curves_scroll.setWidget(self.chart_curves)
        self.chart_trades_label = QtWidgets.QLabel()
        self.chart_trades_model = TextTableModel(self)
        self.chart_trades_table = table_view(self.chart_trades_model)
        trades = QtWidgets.QWidget()
        trades_layout = QtWidgets.QVBoxLayout(trades)
        trades_layout.setContentsMargins(0, 0, 0, 0)
        trades_layout.addWidget(self.chart_trades_label)
        trades_layout.addWidget(self.chart_trades_table, 1)

        splitter = QtWidgets.QSplitter(Qt.Orientation.Vertical)
        for widget in (self.charts_table, self.curves_scroll, trades):
            splitter.addWidget(widget)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([170, 380, 200])
        page = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.charts_note)
        layout.addWidget(splitter, 1)
        return page

    def _build_metrics(self) -> QtWidgets.QWidget:
        self.metrics_tree = QtWidgets.QTreeWidget()
        self.metrics_tree.setColumnCount(4)
        self.metrics_tree.setHeaderLabels(["Metric", "All", "Long", "Short"])
        self.metrics_tree.setRootIsDecorated(False)
        self.metrics_tree.setAlternatingRowColors(True)
        self.metrics_tree.setUniformRowHeights(True)
        header = self.metrics_tree.header()
        header.setStretchLastSection(False)
        for column in (1, 2, 3):
            self.metrics_tree.headerItem().setTextAlignment(
                column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return self.metrics_tree

    def _build_source(self) -> QtWidgets.QWidget:
        self.source_note = QtWidgets.QLabel()
        self.source_note.setWordWrap(True)
        self.source_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.source_edit = read_only_text()
        return note_over_text(self.source_note, self.source_edit)

    def _build_diff(self) -> QtWidgets.QWidget:
        self.diff_note = QtWidgets.QLabel()
        self.diff_edit = read_only_text()
        self._diff_highlighter = DiffHighlighter(self.diff_edit.document())
        return note_over_text(self.diff_note, self.diff_edit)

    def _build_llm(self) -> QtWidgets.QWidget:
        self.llm_choice = QtWidgets.QComboBox()
        self.llm_choice.currentIndexChanged.connect(self._show_exchange)
        self.llm_info = QtWidgets.QLabel()
        self.prompt_edit = read_only_text()
        self.prompt_edit.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.reply_edit = read_only_text()
        self.reply_edit.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.WidgetWidth)
        splitter = QtWidgets.QSplitter(Qt.Orientation.Horizontal)
        for title, edit in (("Prompt", self.prompt_edit), ("Reply", self.reply_edit)):
            box = QtWidgets.QGroupBox(title)
            QtWidgets.QVBoxLayout(box).addWidget(edit)
            splitter.addWidget(box)
        page = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(0, 4, 0, 0)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.llm_choice)
        row.addWidget(self.llm_info, 1)
        layout.addLayout(row)
        layout.addWidget(splitter, 1)
        return page

    # ------------------------------------------------------------------ showing

    def show_trial(self, trial_id: int) -> None:
        """Show one trial (reads the store; the chart and tables are updated in place)."""
        try:
            store = self.controller.store()
            details = trial_details(store, trial_id)
            breakdown = trial_breakdown(store, trial_id)
        except KeyError:
            self.clear(f"Trial {trial_id} is not in this run store.")
            return
        except TvdeskError as exc:
            self.clear(f"Trial {trial_id} could not be read: {exc}")
            return
        self.trial_id = trial_id
        self.details = details
        self._render(details)
        self._render_breakdown(breakdown)
        self.stack.setCurrentIndex(1)

    @Slot()
    def _request_export_pine(self) -> None:
        if self.trial_id is not None:
            self.export_pine_requested.emit(self.trial_id)

    @Slot()
    def _request_copy_pine(self) -> None:
        if self.trial_id is not None:
            self.copy_pine_requested.emit(self.trial_id)

    def rerun_on_tradingview(self) -> None:
        if self.trial_id is None:
            return
        self.rerun_button.setEnabled(False)
        self.status_label.setText("running on TradingView…")
        self.controller.rerun_on_tradingview(self.trial_id)

    def _on_confirmed(self, trial_id: int, summary: str) -> None:
        self.rerun_button.setEnabled(True)
        if trial_id == self.trial_id:
            self.status_label.setText(f"TradingView: {summary}")

    def clear(self, message: str = PLACEHOLDER) -> None:
        self.trial_id = None
        self.details = None
        self.placeholder.setText(message)
        self.stack.setCurrentIndex(0)

    def refresh(self) -> None:
        """Read the shown trial again (its tag may have changed)."""
        if self.trial_id is not None:
            self.show_trial(self.trial_id)

    def _render(self, d: TrialDetails) -> None:
        self.title_label.setText(d.title)
        self.tag_label.setText(d.tag)
        self.tag_label.setStyleSheet(chip_style(d.tag_colour))
        self.tag_label.setToolTip("\n".join(d.reasons) or d.tag)
        self.subtitle_label.setText(d.subtitle)
        self.status_label.clear()
        for card, stat in zip(self.cards, d.key_stats, strict=False):
            card.set_stat(stat)
        self.chart.set_plot(d.equity, d.currency)
        buy_hold = " · dashed: buy & hold" if d.equity and d.equity.buy_hold else ""
        self.chart_note.setText(f"{d.equity.note}{buy_hold}" if d.equity else
                                "No equity to draw for this trial.")
        self.reasons_label.setText(
            "\n".join(f"• {reason}" for reason in d.reasons) if d.reasons
            else "Not judged yet: tags are written when the run finishes.")
        self.notes_label.setText("\n".join(d.notes))
        self.notes_label.setVisible(bool(d.notes))
        self._fill_inputs(d.inputs)
        self._fill_metrics(d)
        self.trades_model.set_rows(
            d.trades.headers, d.trades.rows, TRADE_NUMERIC,
            foreground=lambda row, column, signs=d.trades.signs: (
                (GREEN if signs[row] > 0 else RED if signs[row] < 0 else None)
                if column in (9, 10) else None))
        self.trades_table.resizeColumnsToContents()
        self._fill_monthly(d.monthly)
        self.source_edit.setPlainText(d.pine)
        inputs = ", ".join(f"{name} = {value}" for name, value in d.inputs)
        self.source_note.setText(
            f"The stored source of version {d.trial.source_hash[:8]}. This trial ran it with "
            f"{inputs}: set these in TradingView's Inputs dialog." if inputs else
            f"The stored source of version {d.trial.source_hash[:8]}.")
        self.diff_note.setText(d.diff_note)
        self.diff_edit.setPlainText(d.diff or ("" if d.parent_hash is None else
                                               "The source is the same as its parent's."))
        self.diff_edit.setVisible(d.parent_hash is not None)
        self._fill_llm(d)

    def _render_breakdown(self, breakdown: ChartBreakdown | None) -> None:
        """The Charts tab for a watchlist trial (right after Overview); none otherwise."""
        self.breakdown = breakdown
        index = self.tabs.indexOf(self.charts_page)
        if breakdown is None:
            if index >= 0:
                self.tabs.removeTab(index)
            self.chart_curves.set_breakdown(None)
            self.llm_index = self.tabs.indexOf(self.llm_page)
            return
        if index < 0:
            self.tabs.insertTab(1, self.charts_page, CHARTS_TAB)
            self.tabs.setTabToolTip(1, CHARTS_TIP)
        self.llm_index = self.tabs.indexOf(self.llm_page)
        self.chart_note.setText(f"{self.chart_note.text()} · an equal-weight portfolio of the "
                                f"{len(breakdown.rows)} charts (each chart: the Charts tab)")
        self.charts_note.setText(breakdown.note)
        signs = breakdown.signs
        self.charts_model.set_rows(
            breakdown.header, breakdown.rows, range(1, len(breakdown.header) - 1),
            foreground=lambda row, column: (
                (GREEN if signs[row] > 0 else RED if signs[row] < 0 else None)
                if column == NET_COLUMN else None))
        self.charts_table.resizeColumnsToContents()
        rows = self.chart_curves.set_breakdown(breakdown)
        self.chart_curves.setMinimumHeight(rows * PLOT_HEIGHT)
        self.charts_table.selectRow(0)
        self._show_chart_trades(0)

    def _show_chart_trades(self, row: int) -> None:
        breakdown = self.breakdown
        if breakdown is None or not 0 <= row < len(breakdown.trades):
            self.chart_trades_label.clear()
            self.chart_trades_model.set_rows((), ())
            return
        trades = breakdown.trades[row]
        self.chart_trades_label.setText(
            f"Trades on {breakdown.labels[row]}: {len(trades.rows)}")
        self.chart_trades_model.set_rows(
            trades.headers, trades.rows, TRADE_NUMERIC,
            foreground=lambda r, column, signs=trades.signs: (
                (GREEN if signs[r] > 0 else RED if signs[r] < 0 else None)
                if column in (9, 10) else None))
        self.chart_trades_table.resizeColumnsToContents()

    def _fill_inputs(self, inputs: tuple[tuple[str, str], ...]) -> None:
        self.inputs_table.setRowCount(len(inputs))
        for row, (name, value) in enumerate(inputs):
            self.inputs_table.setItem(row, 0, QtWidgets.QTableWidgetItem(name))
            item = QtWidgets.QTableWidgetItem(value)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.inputs_table.setItem(row, 1, item)
        self.inputs_table.resizeColumnToContents(0)

    def _fill_metrics(self, d: TrialDetails) -> None:
        tree = self.metrics_tree
        tree.clear()
        section = None
        bold = QtGui.QFont(tree.font())
        bold.setBold(True)
        items = []
        heads = []
        for line in d.metrics:
            if line.section != section:
                section = line.section
                head = QtWidgets.QTreeWidgetItem([section, "", "", ""])
                head.setFont(0, bold)
                head.setFlags(Qt.ItemFlag.ItemIsEnabled)
                items.append(head)
                heads.append(head)
            item = QtWidgets.QTreeWidgetItem([line.label, line.all, line.long, line.short])
            for column in (1, 2, 3):
                item.setTextAlignment(column,
                                      Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setToolTip(0, line.tooltip)
            if line.section == TVDESK_SECTION:
                item.setToolTip(1, line.tooltip)
            items.append(item)
        tree.addTopLevelItems(items)
        for head in heads:  # spanning needs the item in the tree
            head.setFirstColumnSpanned(True)
        for column in range(4):
            tree.resizeColumnToContents(column)

    def _fill_monthly(self, monthly: MonthlyReturns) -> None:
        table = self.monthly_table
        table.clear()
        table.setColumnCount(13)
        table.setRowCount(len(monthly.years))
        table.setHorizontalHeaderLabels([*MONTHS, "Year"])
        table.setVerticalHeaderLabels([str(y) for y in monthly.years])
        values = [v for row in monthly.cells for v in row[:12] if v is not None]
        scale = max((abs(v) for v in values), default=0.0) or 1.0
        bold = QtGui.QFont(table.font())
        bold.setBold(True)
        for row, cells in enumerate(monthly.cells):
            for column, value in enumerate(cells):
                if value is None:
                    continue
                item = QtWidgets.QTableWidgetItem(f"{round(value, 2) + 0.0:.2f} %")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                colour = QtGui.QColor(GREEN if value > 0 else RED)
                strength = min(abs(value) / scale, 1.0) if column < 12 else 0.6
                colour.setAlpha(int(40 + 150 * strength) if value else 0)
                item.setBackground(colour)
                if column == 12:
                    item.setFont(bold)
                table.setItem(row, column, item)
        table.resizeColumnsToContents()

    def _fill_llm(self, d: TrialDetails) -> None:
        self.tabs.setTabEnabled(self.llm_index, bool(d.llm))
        self.tabs.setTabToolTip(self.llm_index, "" if d.llm else
                                "Only trials proposed by an LLM rewrite have a prompt")
        self.llm_choice.blockSignals(True)
        self.llm_choice.clear()
        for number, talk in enumerate(d.llm, 1):
            self.llm_choice.addItem(f"Exchange {number}: {talk.model}")
        self.llm_choice.setVisible(len(d.llm) > 1)
        self.llm_choice.blockSignals(False)
        self._show_exchange(0)

    @Slot(int)
    def _show_exchange(self, index: int) -> None:
        talks = self.details.llm if self.details is not None else ()
        if not 0 <= index < len(talks):
            self.llm_info.clear()
            self.prompt_edit.clear()
            self.reply_edit.clear()
            return
        talk = talks[index]
        latency = f" · {talk.latency}" if talk.latency else ""
        self.llm_info.setText(f"Model {talk.model} · outcome {talk.outcome}{latency}")
        self.prompt_edit.setPlainText(talk.prompt)
        self.reply_edit.setPlainText(talk.reply)

    # ------------------------------------------------------------------ actions

    @Slot()
    def copy_script(self) -> None:
        if self.details is None:
            return
        QtGui.QGuiApplication.clipboard().setText(self.details.pine)
        self.status_label.setText("Script copied")

    @Slot()
    def save_script(self) -> None:
        """Ask where to save (a non-blocking dialog); `_write_script` does the saving."""
        if self.details is None:
            return
        dialog = QtWidgets.QFileDialog(self, "Save the Pine script",
                                       str(Path(self._last_folder) / self.details.file_name))
        dialog.setAcceptMode(QtWidgets.QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(["Pine scripts (*.pine)", "All files (*)"])
        dialog.setDefaultSuffix("pine")
        dialog.fileSelected.connect(self._write_script)
        dialog.finished.connect(lambda _result: dialog.deleteLater())
        self._save_dialog = dialog
        dialog.open()

    @Slot(str)
    def _write_script(self, path: str) -> None:
        if self.details is None or not path:
            return
        try:
            write_text_atomically(path, self.details.pine)
        except OSError as exc:
            self.status_label.setText("Not saved")
            box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "tvdesk",
                                        f"Could not save {path}: {exc}",
                                        QtWidgets.QMessageBox.StandardButton.Ok, self)
            box.open()
            return
        self._last_folder = str(Path(path).parent)
        self.status_label.setText(f"Saved {Path(path).name}")

    # ------------------------------------------------------------------ live run

    @Slot(object)
    def _on_event(self, event: Event) -> None:
        """The judgement tags every trial at the end: show the shown trial's new tag."""
        if event.kind == "judged" and self.details is not None \
                and self.details.trial.run_id == event.run_id:
            self.refresh()
