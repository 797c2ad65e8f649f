"""Surface: a metric over two inputs as a heatmap, with slices through the chosen trial.

The grid, the stability of each cell, the chosen cell and the slices all come from
`tvdesk.viewmodels.surface`; this view only picks what to ask for (metric, inputs, how the other
inputs are treated) and draws the answer: the heatmap with a colour bar and the input values
on its axes, the chosen trial's cell outlined, each cell's value or stability written in it,
a tooltip per cell, and double-click to open the cell's best trial.

A run of several conditions shows one condition (track) at a time, chosen in the Condition
box (it opens on the condition of the run's chosen trial). Axis names are thinned so they
never overlap (`CategoryAxis`), integer inputs get whole-number ticks, the choice boxes are as
wide as their longest entry, and a slice title too long for its plot is elided (the whole
title is its tooltip). The charts follow the theme (`ThemedChart`).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from tvdesk.events import Event
from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import QtCore, QtGui, QtWidgets, Slot, pg
from tvdesk.gui.view_base import RunView
from tvdesk.gui.widgets import CategoryAxis, ThemedChart
from tvdesk.reports.labels import label
from tvdesk.viewmodels.formatting import format_inputs
from tvdesk.viewmodels.surface import (
    MODE_LABELS,
    MODES,
    Mode,
    Surface,
    SurfaceData,
    colour_levels,
    compute_surface,
    default_pair,
    load_surface_data,
    metric_choices,
    slice_1d,
    varying_inputs,
)

log = logging.getLogger(__name__)

MAX_CELL_TEXT = 400  # cells written into; a bigger grid is colour and tooltip only
RED, PALE_RED, WHITE, PALE_GREEN, GREEN = "#f23645", "#f7a9b0", "#ffffff", "#9bd6c8", "#089981"
YELLOW, BLUE, ORANGE, INK, GREY = "#fff3c4", "#2962ff", "#ff6d00", "#131722", "#9598a1"
CELL_TEXTS = (("value", "Values"), ("stability", "Stability"), ("none", "None"))
COMBO_MIN_CHARS = 8  # a choice box never shrinks below this many characters


def _choice_box() -> QtWidgets.QComboBox:
    """A choice box as wide as its longest entry, whatever the row's width."""
    combo = QtWidgets.QComboBox()
    combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
    combo.setMinimumContentsLength(COMBO_MIN_CHARS)
    combo.setSizePolicy(QtWidgets.QSizePolicy.Policy.Minimum,
                        QtWidgets.QSizePolicy.Policy.Fixed)
    return combo


def _colour_map(diverging: bool, higher_better: bool) -> pg.ColorMap:
    """Red is worse, green is better; white at 0 when the values have both signs."""
    colours = [RED, PALE_RED, WHITE, PALE_GREEN, GREEN] if diverging else [RED, YELLOW, GREEN]
    if not higher_better:
        colours = colours[::-1]
    stops = np.linspace(0.0, 1.0, len(colours))
    return pg.ColorMap(stops, [QtGui.QColor(c) for c in colours])


def _format(value: float) -> str:
    if not math.isfinite(value):
        return ""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


class SurfaceView(RunView):

    def __init__(self, controller: RunController,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.data: SurfaceData | None = None
        self.surface: Surface | None = None
        self._stale = False
        self._filling = False
        self._texts: list[pg.TextItem] = []

        self._slice_titles: dict[str, str] = {}

        # ---- controls
        self.condition_combo = _choice_box()
        self.condition_combo.setToolTip("The condition (track) shown: each was searched on its "
                                        "own, so the map shows one at a time")
        self.condition_label = QtWidgets.QLabel("Condition")
        self.metric_combo = _choice_box()
        # Metric names run long: the box shows 22 characters, the list shows them whole.
        self.metric_combo.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.metric_combo.setMinimumContentsLength(22)
        self.x_combo = _choice_box()
        self.y_combo = _choice_box()
        self.mode_buttons = QtWidgets.QButtonGroup(self)
        modes = QtWidgets.QHBoxLayout()
        modes.setSpacing(6)
        for index, mode in enumerate(MODES):
            button = QtWidgets.QRadioButton(MODE_LABELS[mode])
            button.setToolTip({
                "at_best": "Other inputs fixed at the chosen trial's values: a true slice",
                "best_of": "Every trial: the best value of each cell over the other inputs",
                "median_of": "Every trial: the median value of each cell over the other inputs",
            }[mode])
            self.mode_buttons.addButton(button, index)
            modes.addWidget(button)
        self.mode_buttons.button(MODES.index("best_of")).setChecked(True)  # fills the grid
        self.cell_text = _choice_box()
        for key, text in CELL_TEXTS:
            self.cell_text.addItem(text, key)
        self.cell_text.setToolTip("What each cell shows: its value, or its neighbourhood "
                                  "stability (median of the 8 neighbours / the cell)")
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.refresh_button.setToolTip("Reload the run's trials from the store")

        # Two rows: one would be wider than the tab, and Qt would squeeze the boxes.
        choices = QtWidgets.QHBoxLayout()
        choices.addWidget(self.condition_label)
        choices.addWidget(self.condition_combo)
        for text, widget in (("Metric", self.metric_combo), ("X", self.x_combo),
                             ("Y", self.y_combo)):
            choices.addWidget(QtWidgets.QLabel(text))
            choices.addWidget(widget)
        choices.addStretch(1)
        choices.addWidget(self.refresh_button)
        how = QtWidgets.QHBoxLayout()
        how.addWidget(QtWidgets.QLabel("Other inputs:"))
        how.addLayout(modes)
        how.addSpacing(8)
        how.addWidget(QtWidgets.QLabel("Cells show"))
        how.addWidget(self.cell_text)
        how.addStretch(1)
        controls = QtWidgets.QVBoxLayout()
        controls.setSpacing(4)
        controls.addLayout(choices)
        controls.addLayout(how)
        self.condition_label.setVisible(False)
        self.condition_combo.setVisible(False)

        self.info = QtWidgets.QLabel("Open or run an optimisation to see its parameter surface.")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)

        # ---- heatmap
        self.heat_widget = ThemedChart()
        self.heat_plot = self.heat_widget.addPlot(
            axisItems={"bottom": CategoryAxis("bottom"), "left": CategoryAxis("left")})
        self.heat_plot.setMenuEnabled(False)
        self.heat_plot.hideButtons()
        self.heat_plot.setMouseEnabled(x=False, y=False)
        self.heat_plot.getViewBox().setDefaultPadding(0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.heat_plot.addItem(self.image)
        self.colour_bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=_colour_map(True, True),
                                          interactive=False, width=14, colorMapMenu=False)
        self.colour_bar.setImageItem(self.image, insert_in=self.heat_plot)
        self.best_box = pg.PlotDataItem(pen=pg.mkPen(INK, width=3))
        self.best_box.setZValue(20)
        self.heat_plot.addItem(self.best_box)
        self.heat_widget.scene().sigMouseMoved.connect(self._hover)
        self.heat_widget.scene().sigMouseClicked.connect(self._clicked)

        # ---- 1D slices
        self.slice_widget = ThemedChart()
        self.x_slice = self.slice_widget.addPlot(row=0, col=0, axisItems=self._slice_axes())
        self.y_slice = self.slice_widget.addPlot(row=1, col=0, axisItems=self._slice_axes())
        self._slice_items: dict[str, tuple[pg.ScatterPlotItem, pg.PlotDataItem,
                                           pg.ScatterPlotItem]] = {}
        for key, plot in (("x", self.x_slice), ("y", self.y_slice)):
            plot.showGrid(x=True, y=True, alpha=0.12)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            cloud = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(149, 152, 161, 90))
            line = pg.PlotDataItem(pen=pg.mkPen(BLUE, width=1.6), symbol="o", symbolSize=6,
                                   symbolPen=None, symbolBrush=pg.mkBrush(BLUE))
            chosen = pg.ScatterPlotItem(size=16, symbol="star", pen=pg.mkPen(INK, width=0.8),
                                        brush=pg.mkBrush(ORANGE))
            for item in (cloud, line, chosen):
                plot.addItem(item)
            chosen.setZValue(10)
            self._slice_items[key] = (cloud, line, chosen)
        self.heat_widget.restyle()
        self.slice_widget.restyle()

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.heat_widget)
        splitter.addWidget(self.slice_widget)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.info)
        layout.addWidget(splitter, 1)

        for combo in (self.metric_combo, self.x_combo, self.y_combo, self.cell_text):
            combo.currentIndexChanged.connect(self._choice_changed)
        self.metric_combo.currentIndexChanged.connect(self._metric_tooltip)
        self.slice_widget.installEventFilter(self)
        self.condition_combo.currentIndexChanged.connect(self._condition_changed)
        self.mode_buttons.idClicked.connect(self._choice_changed)
        self.refresh_button.clicked.connect(self.refresh)
        controller.run_finished.connect(lambda _run, _status: self.refresh())
        controller.store_opened.connect(lambda _path: self.refresh())
        controller.event.connect(self._on_event)

    @staticmethod
    def _slice_axes() -> dict[str, pg.AxisItem]:
        """A slice's axes: the input below (names, whole numbers or plain numbers, as the
        input is), the metric on the left; neither rescaled by an SI prefix."""
        left = pg.AxisItem("left")
        left.enableAutoSIPrefix(False)
        return {"bottom": CategoryAxis("bottom"), "left": left}

    # ------------------------------------------------------------------ data

    def refresh(self) -> None:
        """Reload from the store for the controller's current run."""
        self._stale = False
        run_id = self.controller.run_id
        if run_id is None:
            self.data = None
            self._show_message("Open or run an optimisation to see its parameter surface.")
            return
        try:
            self.data = load_surface_data(self.controller.store(), run_id)
        except Exception as exc:  # a bad or foreign store: say so, keep the window alive
            log.exception("could not load run %s", run_id)
            self.data = None
            self._show_message(f"Could not load run {run_id}: {exc}")
            return
        self._fill_conditions()
        self._fill_choices()
        self._recompute()

    def show_trial(self, trial_id: int) -> None:
        """Show one trial (the trial view); others ignore it."""

    @Slot(object)
    def _on_event(self, event: Event) -> None:
        """New trials make the surface stale; it reloads when shown, not on every event."""
        if event.kind in ("trial_finished", "run_started"):
            self._stale = True

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            QtCore.QTimer.singleShot(0, self.refresh)

    def _fill_conditions(self) -> None:
        """The Condition box: the run's conditions, shown only when there are several; keeps
        the one chosen, else opens on the condition of the run's chosen trial."""
        assert self.data is not None
        conditions = self.data.conditions()
        previous = self.condition_combo.currentData()
        self._filling = True
        try:
            self.condition_combo.clear()
            for condition in conditions:
                self.condition_combo.addItem(str(condition), condition)
            wanted = previous if previous in conditions else self.data.default_condition()
            self._select(self.condition_combo, wanted)
        finally:
            self._filling = False
        several = len(conditions) > 1
        self.condition_label.setVisible(several)
        self.condition_combo.setVisible(several)

    @property
    def condition(self) -> str | None:
        """The condition (track) shown; None for a run of one track."""
        if self.data is None or len(self.data.conditions()) <= 1:
            return None
        value = self.condition_combo.currentData()
        return None if value is None else str(value)

    @Slot()
    def _condition_changed(self, *_args: object) -> None:
        if not self._filling and self.data is not None:
            self._fill_choices()
            self._recompute()

    def _fill_choices(self) -> None:
        """Metric and input lists of the run; keep what the user chose when it still exists."""
        assert self.data is not None
        inputs = self.data.inputs(self.condition)
        names = varying_inputs(inputs)
        pair = default_pair(inputs) or ((names[0], names[1]) if len(names) >= 2 else None)
        previous = (self.metric_combo.currentData(), self.x_combo.currentData(),
                    self.y_combo.currentData())
        self._filling = True
        try:
            self.metric_combo.clear()
            for metric in metric_choices(self.data.points_of(self.condition)):
                self.metric_combo.addItem(label(metric), metric)
            self._fit_metric_list()
            for combo in (self.x_combo, self.y_combo):
                combo.clear()
                for name in names:
                    combo.addItem(name, name)
            wanted_metric = previous[0] or self.data.objective
            if self.metric_combo.findData(wanted_metric) < 0:
                wanted_metric = "net_profit_percent"
            self._select(self.metric_combo, wanted_metric)
            if pair is not None:
                x, y = pair
                if previous[1] in names and previous[2] in names and previous[1] != previous[2]:
                    x, y = previous[1], previous[2]
                self._select(self.x_combo, x)
                self._select(self.y_combo, y)
        finally:
            self._filling = False

    @staticmethod
    def _select(combo: QtWidgets.QComboBox, data: object) -> None:
        index = combo.findData(data)
        if index >= 0:
            combo.setCurrentIndex(index)

    def select(self, *, metric: str | None = None, x: str | None = None, y: str | None = None,
               mode: Mode | None = None, cell_text: str | None = None,
               condition: str | None = None) -> None:
        """Choose what the surface shows (as the controls would); redraws once."""
        if condition is not None and self.data is not None:
            self._filling = True
            try:
                self._select(self.condition_combo, condition)
            finally:
                self._filling = False
            self._fill_choices()
        self._filling = True
        try:
            if metric is not None:
                self._select(self.metric_combo, metric)
            if x is not None:
                self._select(self.x_combo, x)
            if y is not None:
                self._select(self.y_combo, y)
            if mode is not None:
                self.mode_buttons.button(MODES.index(mode)).setChecked(True)
            if cell_text is not None:
                self._select(self.cell_text, cell_text)
        finally:
            self._filling = False
        self._recompute()

    @Slot()
    def _choice_changed(self, *_args: object) -> None:
        if not self._filling:
            self._recompute()

    @property
    def mode(self) -> Mode:
        return MODES[max(0, self.mode_buttons.checkedId())]

    def _recompute(self) -> None:
        data = self.data
        if data is None:
            return
        metric, x, y = (self.metric_combo.currentData(), self.x_combo.currentData(),
                        self.y_combo.currentData())
        points = data.points_of(self.condition)
        if not points:
            self._show_message(f"Run {data.run_id} has no finished trials yet.")
            return
        if metric is None or x is None or y is None or x == y:
            self._show_message(f"Run {data.run_id}: a surface needs two different inputs "
                               "that took at least two values each.")
            return
        better = data.higher_better(metric)
        self.surface = compute_surface(points, x, y, metric, mode=self.mode,
                                       best_trial=data.best_for(self.condition),
                                       higher_better=better)
        self._draw(self.surface)
        for key, name in (("x", x), ("y", y)):
            self._draw_slice(key, slice_1d(points, name, metric,
                                           best_trial=self.surface.best_trial,
                                           higher_better=better))

    # ------------------------------------------------------------------ drawing

    def _show_message(self, text: str) -> None:
        self.surface = None
        self.info.setText(text)
        self.image.clear()
        self.best_box.setData([], [])
        self._clear_texts()
        for cloud, line, chosen in self._slice_items.values():
            cloud.setData([], [])
            line.setData([], [])
            chosen.setData([], [])

    def _clear_texts(self) -> None:
        for item in self._texts:
            self.heat_plot.removeItem(item)
        self._texts.clear()

    def _draw(self, surface: Surface) -> None:
        rows, cols = surface.values.shape
        low, high, diverging = colour_levels(surface.values)
        self.colour_bar.setColorMap(_colour_map(diverging, surface.higher_better))
        self.colour_bar.setLevels((low, high))
        self.colour_bar.axis.setLabel(label(surface.metric))
        # Empty cells draw transparent (ImageItem leaves NaN out).
        self.image.setImage(surface.values, autoLevels=False, levels=(low, high))
        self.image.setRect(QtCore.QRectF(-0.5, -0.5, cols, rows))
        bottom, left = self.heat_plot.getAxis("bottom"), self.heat_plot.getAxis("left")
        assert isinstance(bottom, CategoryAxis) and isinstance(left, CategoryAxis)
        bottom.set_labels(surface.x.labels)  # thinned to what fits: names never overlap
        left.set_labels(surface.y.labels)
        metrics = QtGui.QFontMetrics(left.style.get("tickFont") or self.font())
        widest = max((metrics.horizontalAdvance(text) for text in surface.y.labels), default=0)
        # Room for the widest name and the axis title beside it (they overlapped).
        left.setWidth(widest + metrics.height() + 22)
        self.heat_plot.setLabel("bottom", surface.x.name)
        self.heat_plot.setLabel("left", surface.y.name)
        self.heat_plot.setXRange(-0.5, cols - 0.5, padding=0)
        self.heat_plot.setYRange(-0.5, rows - 0.5, padding=0)
        if surface.best_cell is not None:
            row, col = surface.best_cell
            self.best_box.setData([col - 0.5, col + 0.5, col + 0.5, col - 0.5, col - 0.5],
                                  [row - 0.5, row - 0.5, row + 0.5, row + 0.5, row - 0.5])
        else:
            self.best_box.setData([], [])
        self._draw_texts(surface)
        self.info.setText(self._describe(surface))

    def _draw_texts(self, surface: Surface) -> None:
        self._clear_texts()
        what = self.cell_text.currentData()
        if what == "none" or surface.values.size > MAX_CELL_TEXT:
            return
        grid = surface.stability if what == "stability" else surface.values
        font = QtGui.QFont()
        font.setPointSizeF(7.5)
        for (row, col), value in np.ndenumerate(grid):
            if not math.isfinite(surface.values[row, col]):
                continue
            text = ("×" + _format(value) if math.isfinite(value) else "–") \
                if what == "stability" else _format(value)
            item = pg.TextItem(text, color=INK, anchor=(0.5, 0.5))
            item.setFont(font)
            item.setPos(col, row)
            item.setZValue(15)
            self.heat_plot.addItem(item)
            self._texts.append(item)

    def _describe(self, surface: Surface) -> str:
        assert self.data is not None
        condition = self.condition
        where = f" · condition {condition}" if condition is not None else ""
        parts = [f"Run {self.data.run_id}{where} · "
                 f"{len(self.data.points_of(condition))} finished trials · "
                 f"{label(surface.metric)} ({'higher' if surface.higher_better else 'lower'} "
                 f"is better)"]
        if surface.best_trial is not None:
            where = "" if surface.best_cell is not None else " (not on this grid)"
            parts.append(f"chosen trial #{surface.best_trial}{where} (outlined)")
        if surface.mode == "at_best" and surface.fixed:
            fixed = format_inputs(surface.fixed, self.data.steps)
            parts.append(f"other inputs at the chosen trial's: {fixed}")
        elif surface.mode != "at_best":
            parts.append(f"each cell: {MODE_LABELS[surface.mode]} every trial in it")
        if surface.empty:
            parts.append("no trial has this metric")
        parts.append("hover a cell for details, double-click to open its best trial")
        return " · ".join(parts)

    def _draw_slice(self, key: str, line) -> None:
        plot = self.x_slice if key == "x" else self.y_slice
        cloud, curve, chosen = self._slice_items[key]
        cloud.setData(line.all_xs, line.all_ys)
        curve.setData(line.xs, line.ys)
        if line.best_x is not None and line.best_y is not None:
            chosen.setData([line.best_x], [line.best_y])
        else:
            chosen.setData([], [])
        axis = plot.getAxis("bottom")
        assert isinstance(axis, CategoryAxis)
        axis.set_labels(line.labels)
        axis.set_integer(line.integer)
        plot.setLabel("bottom", line.name)
        plot.setLabel("left", label(line.metric))
        count = len(line.xs)
        self._slice_titles[key] = (
            f"{label(line.metric)} vs {line.name} — others at the chosen trial "
            f"({count} value{'s' if count != 1 else ''}; grey: every trial)")
        self._title_slices()
        plot.enableAutoRange()

    def _title_slices(self) -> None:
        """Each slice's title, elided to its plot's width; the whole title is the slice
        chart's tooltip."""
        font = QtGui.QFont(self.font())
        font.setPointSizeF(9)
        metrics = QtGui.QFontMetrics(font)
        for key, plot in (("x", self.x_slice), ("y", self.y_slice)):
            title = self._slice_titles.get(key)
            if title is None:
                continue
            # The view's width, not the plot's: a title wider than the view widens the plot.
            # The title sits over the plot area, right of the metric axis; layout margins
            # take the rest. (contentsRect: during the widget's resize event its viewport
            # still has the old size.)
            room = max(60, self.slice_widget.contentsRect().width()
                       - int(plot.getAxis("left").width()) - 40)
            width = room
            for _attempt in range(6):  # the rich-text label renders a little wider
                shown = metrics.elidedText(title, QtCore.Qt.TextElideMode.ElideRight, width)
                plot.setTitle(shown, size="9pt")
                if plot.titleLabel.item.boundingRect().width() <= room:
                    break
                width = int(width * 0.9)
        self.slice_widget.setToolTip("\n".join(self._slice_titles[k] for k in ("x", "y")
                                               if k in self._slice_titles))

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if watched is self.slice_widget and event.type() == QtCore.QEvent.Type.Resize \
                and self._slice_titles:
            self._title_slices()  # elided again to the new width
        return super().eventFilter(watched, event)

    @Slot()
    def _metric_tooltip(self, *_args: object) -> None:
        """The metric box may elide a long name: its tooltip says it whole."""
        self.metric_combo.setToolTip(self.metric_combo.currentText())

    def _fit_metric_list(self) -> None:
        """The metric list opens wide enough for its longest name."""
        combo = self.metric_combo
        widest = max((combo.fontMetrics().horizontalAdvance(combo.itemText(i))
                      for i in range(combo.count())), default=0)
        combo.view().setMinimumWidth(widest + 32)  # the list is not laid out until shown

    # ------------------------------------------------------------------ mouse

    def _cell_at(self, scene_pos: QtCore.QPointF) -> tuple[int, int] | None:
        surface = self.surface
        if surface is None or not self.heat_plot.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.heat_plot.getViewBox().mapSceneToView(scene_pos)
        col, row = round(point.x()), round(point.y())
        rows, cols = surface.values.shape
        if 0 <= row < rows and 0 <= col < cols:
            return row, col
        return None

    @Slot(object)
    def _hover(self, scene_pos: QtCore.QPointF) -> None:
        cell = self._cell_at(scene_pos)
        if cell is None or self.surface is None:
            self.heat_widget.setToolTip("")
            return
        text = self.surface.cell_text(*cell)
        self.heat_widget.setToolTip(text)
        QtWidgets.QToolTip.showText(QtGui.QCursor.pos(), text, self.heat_widget)

    @Slot(object)
    def _clicked(self, event) -> None:
        if not event.double():
            return
        cell = self._cell_at(event.scenePos())
        if cell is not None:
            self.activate_cell(*cell)

    def activate_cell(self, row: int, col: int) -> None:
        """Open the best trial of a cell (what double-clicking it does)."""
        if self.surface is None:
            return
        trial_id = int(self.surface.trial_ids[row, col])
        if trial_id >= 0:
            self.trial_activated.emit(trial_id)
