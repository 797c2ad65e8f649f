"""Results: one row per trial of the run, sortable and filterable, live during a run.

A QTableView over `ResultsModel` (rows and cell text from tvdesk.viewmodels.results_table) through
`ResultsProxy` (the filters). A reload resets the model once; while a run goes on, each
finished trial is inserted where the current sort puts it and the judgement's tags are
written into the rows in place, so the table never reloads ten thousand rows per trial.
Double-clicking a row (or Enter) opens the trial.

A run opens sorted best first by its objective. Which columns show is the user's choice
(the header's context menu or "Columns…"), kept in QSettings; until chosen, a column shows as
`ResultsTable.default_visible` says. A row's context menu opens, compares, copies the inputs
of, exports or re-runs trials: the view only emits the request (`trial_activated`,
`compare_requested`, `export_pine_requested`, `rerun_requested`); the window acts on it.
"""

from __future__ import annotations

import json
import logging

from tvdesk.errors import TvdeskError
from tvdesk.events import Event
from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets, Signal, Slot
from tvdesk.gui.results_model import TRIAL_ID_ROLE, ResultsModel, ResultsProxy, TagDelegate
from tvdesk.gui.theme import app_settings
from tvdesk.gui.view_base import RunView
from tvdesk.reports.labels import label, unit
from tvdesk.viewmodels.results_table import (
    TAGS,
    UNTAGGED,
    Column,
    TrialFilter,
    condition_text,
    inputs_text,
    run_layout,
    short_hash,
)

log = logging.getLogger(__name__)

ANY = "__any__"
SCRIPT_CONDITION = "__script__"  # the combo's data for condition None (the script's own)
LIVE_KINDS = frozenset({"trial_finished", "holdout", "error"})
SPIN_LIMIT = 1e12
COLUMNS_KEY = "results/columns"  # QSettings: JSON {column ident: shown} of the user's choices
MAX_COLUMN_WIDTH = 260


def run_currency(settings: dict) -> str:
    symbol = (settings.get("request") or {}).get("symbol") or {}
    return str(symbol.get("currency") or "USD")


class ResultsView(RunView):
    compare_requested = Signal(list)  # trial ids (two or more), in the table's order
    export_pine_requested = Signal(int)  # trial id
    rerun_requested = Signal(int)  # trial id: run it again on TradingView

    def __init__(self, controller: RunController,
                 parent: QtWidgets.QWidget | None = None, *,
                 settings: QtCore.QSettings | None = None) -> None:
        super().__init__(controller, parent)
        self.run_id: str | None = None
        self._refresh_pending = False
        self._source_hash: str | None = None
        self._settings = settings if settings is not None else app_settings()
        self._column_choices = self._load_column_choices()

        self.model = ResultsModel(self)
        self.proxy = ResultsProxy(self)
        self.proxy.setSourceModel(self.model)

        self.table = QtWidgets.QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.AscendingOrder)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_row_menu)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setHorizontalScrollMode(QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setResizeContentsPrecision(200)  # widths from 200 rows, not all 10,000
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._show_columns_menu)
        self.columns_menu = QtWidgets.QMenu(self)
        self.columns_menu.setToolTipsVisible(True)
        self.columns_menu.aboutToShow.connect(self._fill_columns_menu)
        self._tag_delegate = TagDelegate(self.table)
        self.table.doubleClicked.connect(self._activate)
        enter = QtGui.QShortcut(QtGui.QKeySequence(Qt.Key.Key_Return), self.table)
        enter.setContext(Qt.ShortcutContext.WidgetShortcut)
        enter.activated.connect(lambda: self._activate(self.table.currentIndex()))

        self._build_filters()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(self._filters_row)
        layout.addLayout(self._range_row)
        layout.addWidget(self.table, 1)

        controller.run_started.connect(self._on_run_started)
        controller.run_finished.connect(lambda _run, _status: self._schedule_refresh())
        controller.store_opened.connect(lambda _path: self._schedule_refresh())
        controller.event.connect(self._on_event)
        self.model.modelReset.connect(self._update_count)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)

    # ------------------------------------------------------------------ filters

    def _build_filters(self) -> None:
        self.tag_filter = QtWidgets.QComboBox()
        self.tag_filter.addItem("All tags", ANY)
        for name in (*TAGS, UNTAGGED):
            self.tag_filter.addItem(name, name)
        self.tag_filter.setToolTip("Show only trials with this quality tag")
        self.condition_filter = QtWidgets.QComboBox()
        self.condition_filter.setToolTip("Show only one condition's trials")
        self.worker_filter = QtWidgets.QComboBox()
        self.worker_filter.setToolTip("Show only one worker's trials (0: the holdout)")
        self.segment_filter = QtWidgets.QComboBox()
        for text, value in (("In-sample and holdout", ANY), ("In-sample", "in_sample"),
                            ("Holdout", "holdout")):
            self.segment_filter.addItem(text, value)
        self.segment_filter.setToolTip("In-sample trials were seen by the search; the holdout "
                                       "(the last part of the data) was run once, at the end")
        self.source_chip = QtWidgets.QToolButton()
        self.source_chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.source_chip.setToolTip("Only the trials of one strategy version (chosen in "
                                    "Lineage); click to show every version")
        self.source_chip.setVisible(False)
        self.source_chip.clicked.connect(lambda: self.filter_by_source(None))

        self.metric_filter = QtWidgets.QComboBox()
        self.metric_filter.setToolTip("Filter by a range of any metric; a trial without that "
                                      "metric is hidden once a bound is set")
        self.metric_filter.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.metric_filter.setMinimumContentsLength(26)
        self.metric_low = self._spin("Lowest value shown")
        self.metric_high = self._spin("Highest value shown")
        self._low_set = self._high_set = False
        self.clear_button = QtWidgets.QPushButton("Clear filters")
        self.clear_button.clicked.connect(self.clear_filters)
        self.count_label = QtWidgets.QLabel()
        self.count_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.columns_button = QtWidgets.QToolButton()
        self.columns_button.setText("Columns…")
        self.columns_button.setToolTip("Choose the columns to show (also: right-click a "
                                       "column header); the choice is remembered")
        self.columns_button.setMenu(self.columns_menu)
        self.columns_button.setPopupMode(
            QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)

        row = self._filters_row = QtWidgets.QHBoxLayout()
        for text, widget in (("Tag", self.tag_filter), ("Condition", self.condition_filter),
                             ("Worker", self.worker_filter), ("Segment", self.segment_filter)):
            row.addWidget(QtWidgets.QLabel(text))
            row.addWidget(widget)
        row.addWidget(self.source_chip)
        row.addStretch(1)
        row.addWidget(self.count_label)
        ranges = self._range_row = QtWidgets.QHBoxLayout()
        ranges.addWidget(QtWidgets.QLabel("Metric"))
        ranges.addWidget(self.metric_filter)
        ranges.addWidget(QtWidgets.QLabel("from"))
        ranges.addWidget(self.metric_low)
        ranges.addWidget(QtWidgets.QLabel("to"))
        ranges.addWidget(self.metric_high)
        ranges.addStretch(1)
        ranges.addWidget(self.columns_button)
        ranges.addWidget(self.clear_button)

        for combo in (self.tag_filter, self.condition_filter, self.worker_filter,
                      self.segment_filter):
            combo.currentIndexChanged.connect(self._apply_filters)
        self.metric_filter.currentIndexChanged.connect(self._metric_chosen)
        self.metric_low.valueChanged.connect(lambda _v: self._bound_edited("low"))
        self.metric_high.valueChanged.connect(lambda _v: self._bound_edited("high"))
        self._fill_choices()

    def _spin(self, tip: str) -> QtWidgets.QDoubleSpinBox:
        spin = QtWidgets.QDoubleSpinBox()
        spin.setRange(-SPIN_LIMIT, SPIN_LIMIT)
        spin.setDecimals(2)
        spin.setKeyboardTracking(False)
        spin.setGroupSeparatorShown(True)
        spin.setEnabled(False)
        spin.setToolTip(tip)
        spin.setMinimumWidth(110)
        return spin

    def _fill_choices(self) -> None:
        """The condition, worker and metric lists from the rows (keeping the choices made)."""
        table = self.model.table
        self._refill(self.condition_filter, "All conditions",
                     [(condition_text(c), SCRIPT_CONDITION if c is None else c)
                      for c in table.conditions()])
        self._refill(self.worker_filter, "All workers",
                     [(str(w), w) for w in table.workers()])
        self._refill(self.metric_filter, "No metric range",
                     [(label(k), k) for k in table.metric_keys()])

    @staticmethod
    def _refill(combo: QtWidgets.QComboBox, everything: str,
                items: list[tuple[str, object]]) -> None:
        current = combo.currentData() if combo.count() else ANY
        wanted = [(everything, ANY), *items]
        if [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())] == wanted:
            return
        combo.blockSignals(True)
        combo.clear()
        for text, value in wanted:
            combo.addItem(text, value)
        index = combo.findData(current)
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def _add_choices(self) -> None:
        """A live trial may bring a new condition, worker or metric: add it to the lists."""
        table = self.model.table
        if (self.condition_filter.count() != len(table.conditions()) + 1
                or self.worker_filter.count() != len(table.workers()) + 1
                or self.metric_filter.count() != len(table.metric_keys()) + 1):
            self._fill_choices()

    @Slot()
    def _metric_chosen(self) -> None:
        key = self.metric_filter.currentData()
        active = key not in (None, ANY)
        for spin in (self.metric_low, self.metric_high):
            spin.setEnabled(active)
        self._low_set = self._high_set = False
        if active:
            kind = unit(key)
            decimals = 0 if kind == "count" else 3 if kind in ("ratio", "number") else 2
            bounds = self.model.table.metric_bounds(key) or (0.0, 0.0)
            for spin, value in ((self.metric_low, bounds[0]), (self.metric_high, bounds[1])):
                spin.blockSignals(True)
                spin.setDecimals(decimals)
                spin.setValue(value)
                spin.blockSignals(False)
        self._apply_filters()

    def _bound_edited(self, which: str) -> None:
        if which == "low":
            self._low_set = True
        else:
            self._high_set = True
        self._apply_filters()

    def current_filter(self) -> TrialFilter:
        def chosen(combo: QtWidgets.QComboBox) -> object:
            return combo.currentData()

        tag = chosen(self.tag_filter)
        condition = chosen(self.condition_filter)
        worker = chosen(self.worker_filter)
        segment = chosen(self.segment_filter)
        metric = chosen(self.metric_filter)
        metric = None if metric in (None, ANY) else str(metric)
        conditions = None
        if condition not in (None, ANY):
            conditions = frozenset({None if condition == SCRIPT_CONDITION else str(condition)})
        return TrialFilter(
            tag=None if tag == ANY else str(tag),
            conditions=conditions,
            worker=None if worker in (None, ANY) else int(str(worker)),
            segment=None if segment == ANY else str(segment),
            source_hash=self._source_hash,
            metric=metric,
            low=self.metric_low.value() if metric and self._low_set else None,
            high=self.metric_high.value() if metric and self._high_set else None,
        )

    @Slot()
    def _apply_filters(self) -> None:
        self.proxy.set_filter(self.current_filter())
        self._update_count()

    @Slot(str)
    def filter_by_source(self, source_hash: str | None) -> None:
        """Show only the trials of one strategy version (None: every version)."""
        self._source_hash = source_hash or None
        self.source_chip.setVisible(self._source_hash is not None)
        if self._source_hash:
            self.source_chip.setText(f"Source {short_hash(self._source_hash)}  ✕")
        self._apply_filters()

    @Slot()
    def clear_filters(self) -> None:
        for combo in (self.tag_filter, self.condition_filter, self.worker_filter,
                      self.segment_filter, self.metric_filter):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self._source_hash = None
        self.source_chip.setVisible(False)
        self._metric_chosen()

    def set_tag_filter(self, tag: str | None) -> None:
        self.tag_filter.setCurrentIndex(max(self.tag_filter.findData(tag or ANY), 0))

    def set_metric_range(self, key: str, low: float | None = None,
                         high: float | None = None) -> None:
        """Choose a metric and set either bound (as a person would in the boxes)."""
        self.metric_filter.setCurrentIndex(max(self.metric_filter.findData(key), 0))
        if low is not None:
            self.metric_low.setValue(low)
        if high is not None:
            self.metric_high.setValue(high)

    @Slot()
    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        run = f"run {self.run_id}: " if self.run_id else ""
        text = f"{run}{total:,} trials" if shown == total else \
            f"{run}{shown:,} of {total:,} trials shown"
        self.count_label.setText(text)

    # ------------------------------------------------------------------ loading

    def _current_run(self) -> str | None:
        store = self.controller.store()
        return self.controller.run_id or store.latest_run_id()

    def _schedule_refresh(self) -> None:
        """Refresh once the signal's other slots ran (the window may refresh us itself)."""
        self._refresh_pending = True
        QtCore.QTimer.singleShot(0, self._refresh_if_pending)

    def _refresh_if_pending(self) -> None:
        if self._refresh_pending:
            self.refresh()

    def refresh(self) -> None:
        """Reload from the store for the controller's current run."""
        self._refresh_pending = False
        trials, currency = [], "USD"
        layout = None
        previous = self.run_id
        try:
            self.run_id = self._current_run()
            if self.run_id is not None:
                store = self.controller.store()
                trials = store.trials(self.run_id)
                settings = store.get_run(self.run_id).settings
                currency = run_currency(settings)
                layout = run_layout(settings)
        except TvdeskError as exc:
            log.warning("results: cannot read the run store: %s", exc)
            self.run_id = None
        # Another run (or the first): best first by its objective; the same run keeps the
        # order the user chose.
        self.model.reload(trials, currency, layout,
                          sort_by_objective=self.run_id is not None and self.run_id != previous)
        self._fill_choices()
        self._apply_filters()
        self._layout_columns()
        self._sync_sort_indicator()

    def _sync_sort_indicator(self) -> None:
        """Another run may have other inputs: keep the arrow on the column actually sorted."""
        table = self.model.table
        header = self.table.horizontalHeader()
        column = table.sort_column
        order = Qt.SortOrder.DescendingOrder if table.descending else \
            Qt.SortOrder.AscendingOrder
        header.blockSignals(True)
        header.setSortIndicator(0 if column is None else column,
                                Qt.SortOrder.AscendingOrder if column is None else order)
        header.blockSignals(False)
        header.viewport().update()

    def _layout_columns(self) -> None:
        for column, spec in enumerate(self.model.table.columns):
            # None (nullptr) clears a column's delegate; PySide6's stub omits None.
            self.table.setItemDelegateForColumn(
                column, self._tag_delegate if spec.kind == "tag" else None)  # type: ignore[arg-type]
        self._apply_column_visibility()
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        for column in range(header.count()):
            self._fit_column(column)

    def _fit_column(self, column: int, measure: bool = False) -> None:
        """Wide enough for the header (never clipped) and the cells, but never too wide
        (long signals, conditions): a long cell is cut, its header is not."""
        if self.table.isColumnHidden(column):
            return
        header = self.table.horizontalHeader()
        if measure:
            self.table.resizeColumnToContents(column)
        head = header.sectionSizeHint(column)
        header.resizeSection(column, max(head, min(header.sectionSize(column),
                                                   MAX_COLUMN_WIDTH)))

    # ------------------------------------------------------------------ columns

    def _load_column_choices(self) -> dict[str, bool]:
        raw = self._settings.value(COLUMNS_KEY, "")
        try:
            data = json.loads(str(raw or "{}"))
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): bool(v) for k, v in data.items()}

    def _save_column_choices(self) -> None:
        self._settings.setValue(COLUMNS_KEY, json.dumps(self._column_choices, sort_keys=True))
        self._settings.sync()

    def column_shown(self, spec: Column) -> bool:
        """The user's choice for the column, else the table's default (the trial id always
        shows: a row needs a handle)."""
        if spec.kind == "id":
            return True
        choice = self._column_choices.get(spec.ident)
        return self.model.table.default_visible(spec) if choice is None else choice

    def _apply_column_visibility(self) -> None:
        for column, spec in enumerate(self.model.table.columns):
            hidden = not self.column_shown(spec)
            if self.table.isColumnHidden(column) != hidden:
                self.table.setColumnHidden(column, hidden)
                if not hidden:  # hidden columns were not measured
                    self._fit_column(column, measure=True)

    def set_column_shown(self, ident: str, shown: bool) -> None:
        """Show or hide a column (by `Column.ident`) and remember the choice."""
        self._column_choices[ident] = bool(shown)
        self._save_column_choices()
        self._apply_column_visibility()

    @Slot()
    def reset_columns(self) -> None:
        """Forget the choices: every column as the table's default says."""
        self._column_choices.clear()
        self._save_column_choices()
        self._apply_column_visibility()

    @Slot()
    def _fill_columns_menu(self) -> None:
        """One checkable entry per column: metrics, inputs, then bookkeeping."""
        menu = self.columns_menu
        menu.clear()
        groups = (("Trial, tag and metrics", ("id", "tag", "metric", "holdout")),
                  ("Inputs", ("input",)),
                  ("Bookkeeping", ("condition", "segment", "worker", "iteration", "proposer",
                                   "status", "source")))
        for title, kinds in groups:
            specs = [c for c in self.model.table.columns if c.kind in kinds]
            if not specs:
                continue
            menu.addSection(title)
            for spec in specs:
                action = menu.addAction(spec.header)
                action.setCheckable(True)
                action.setChecked(self.column_shown(spec))
                action.setEnabled(spec.kind != "id")
                action.setToolTip(spec.tooltip)
                action.setData(spec.ident)
                action.toggled.connect(
                    lambda shown, ident=spec.ident: self.set_column_shown(ident, shown))
        menu.addSeparator()
        menu.addAction("Reset to the defaults", self.reset_columns)

    @Slot(QtCore.QPoint)
    def _show_columns_menu(self, pos: QtCore.QPoint) -> None:
        self.columns_menu.popup(self.table.horizontalHeader().mapToGlobal(pos))

    # ------------------------------------------------------------------ row actions

    def selected_trial_ids(self) -> list[int]:
        """The selected rows' trial ids, in the table's order."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        ids = [self.proxy.index(row, 0).data(TRIAL_ID_ROLE) for row in rows]
        return [int(i) for i in ids if i is not None]

    def row_menu(self, index: QtCore.QModelIndex) -> QtWidgets.QMenu | None:
        """The context menu of a row (None off the rows): Open, Compare, Copy inputs, Export
        Pine…, Re-run on TradingView. A row clicked outside the selection becomes it."""
        trial_id = index.data(TRIAL_ID_ROLE) if index.isValid() else None
        if trial_id is None:
            return None
        trial_id = int(trial_id)
        if trial_id not in self.selected_trial_ids():
            self.table.selectRow(index.row())
        self.table.selectionModel().setCurrentIndex(
            index, QtCore.QItemSelectionModel.SelectionFlag.NoUpdate)
        selected = self.selected_trial_ids()
        menu = QtWidgets.QMenu(self)
        menu.setToolTipsVisible(True)
        open_action = menu.addAction(f"Open trial {trial_id}",
                                     lambda: self.trial_activated.emit(trial_id))
        menu.setDefaultAction(open_action)
        compare = menu.addAction(
            f"Compare {len(selected)} trials" if len(selected) >= 2 else "Compare",
            lambda: self.compare_requested.emit(list(selected)))
        compare.setEnabled(len(selected) >= 2)
        compare.setToolTip("Metrics, equity curves and inputs of the selected trials side by "
                           "side" if len(selected) >= 2 else "Select two or more rows to compare")
        menu.addSeparator()
        copy = menu.addAction("Copy inputs", lambda: self.copy_inputs(trial_id))
        copy.setToolTip("The trial's inputs as Name=value lines")
        menu.addAction("Export Pine…", lambda: self.export_pine_requested.emit(trial_id))
        menu.addAction("Re-run on TradingView", lambda: self.rerun_requested.emit(trial_id))
        return menu

    @Slot(QtCore.QPoint)
    def _show_row_menu(self, pos: QtCore.QPoint) -> None:
        menu = self.row_menu(self.table.indexAt(pos))
        if menu is not None:
            menu.aboutToHide.connect(menu.deleteLater)
            menu.popup(self.table.viewport().mapToGlobal(pos))

    def copy_inputs(self, trial_id: int) -> str:
        """Put a trial's inputs on the clipboard as "Name=value" lines; returns the text."""
        row = self.model.table.row_of(trial_id)
        if row is None:
            return ""
        table = self.model.table
        text = inputs_text(table.trial_at(row).inputs, table.layout.steps)
        QtGui.QGuiApplication.clipboard().setText(text)
        return text

    def show_trial(self, trial_id: int) -> None:
        """Select a trial's row (when it is shown)."""
        row = self.model.table.row_of(trial_id)
        if row is None:
            return
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if index.isValid():
            self.table.selectRow(index.row())
            self.table.scrollTo(index)

    # ------------------------------------------------------------------ live run

    @Slot(str)
    def _on_run_started(self, run_id: str) -> None:
        if run_id != self.run_id:
            self.refresh()

    @Slot(object)
    def _on_event(self, event: Event) -> None:
        if self.run_id is None or event.run_id != self.run_id:
            return
        try:
            store = self.controller.store()
            if event.kind in LIVE_KINDS and event.trial_id is not None:
                trial = store.trial(event.trial_id)
                columns = len(self.model.table.columns)
                self.model.upsert(trial)
                self._add_choices()
                if len(self.model.table.columns) != columns:
                    self._layout_columns()
                else:  # a holdout, a second condition ... may bring a column out
                    self._apply_column_visibility()
            elif event.kind == "judged":
                self.model.set_tags(store.trials(self.run_id, status="done"))
        except (KeyError, TvdeskError) as exc:
            log.warning("results: could not read trial %s: %s", event.trial_id, exc)
        self._update_count()

    @Slot(QtCore.QModelIndex)
    def _activate(self, index: QtCore.QModelIndex) -> None:
        if index.isValid():
            trial_id = index.data(TRIAL_ID_ROLE)
            if trial_id is not None:
                self.trial_activated.emit(int(trial_id))
