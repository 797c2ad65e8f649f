"""Runs: one panel per worker with live charts, the run's progress, and its event log.

Every event of the run goes to a `tvdesk.viewmodels.progress.RunMonitor` (an append, nothing drawn);
a 250 ms timer then pushes what changed to the charts with `setData` on curves made once per
panel, and the new log lines to the log in one call. So a burst of events costs the event loop
almost nothing, and 10,000 points per curve stay smooth (peak downsampling, clipped to view).
Reopening a run (`refresh`) builds the same monitor from the store.

The charts read as a trader expects: iterations and trades on whole-number axes, no SI-prefix
scaling, fixed sane ranges while a plot is empty, one stretch of line per condition (the
monitor leaves a gap between tracks), the "run best" line at the highest star, and the
theme's colours (`ThemedChart`). The header's progress bar moves only forward: its total is
planned from the run's settings and a track that stops early counts its budget as skipped.
"""

from __future__ import annotations

import logging

import numpy as np

from tvdesk.events import Event
from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import QtCore, QtGui, QtWidgets, Slot, pg
from tvdesk.gui.view_base import RunView
from tvdesk.gui.widgets import IntegerAxis, ThemedChart
from tvdesk.viewmodels.progress import RunMonitor, RunProgress, now

log = logging.getLogger(__name__)

REDRAW_MS = 125
PANELS_PER_TICK = 1  # a frame repaints one panel: with 2 workers each is redrawn every 250 ms
LOG_LINES = 5000
SYMBOLS_UP_TO = 200  # points per curve drawn with a dot each; more are a plain line
BLUE, RED, GREY, ORANGE, INK = "#2962ff", "#f23645", "#787b86", "#ff6d00", "#131722"
EMPTY_Y_RANGES = {"net": (-5.0, 5.0), "dd": (0.0, 5.0), "trades": (0.0, 10.0)}
"""The y range of a plot with no point yet: a plain scale, not pyqtgraph's ±0.4 around the
zero line (which it wrote as -400..400 "(x0.001)")."""
EMPTY_X_SPAN = 10.0


def _plot(layout: pg.GraphicsLayout, row: int, title: str, *,
          integer_y: bool = False) -> pg.PlotItem:
    """A plot of one metric by iteration: the iteration axis (and the trades axis) show
    whole numbers only, and no axis rescales its numbers with an SI prefix."""
    axes = {"bottom": IntegerAxis("bottom")}
    if integer_y:
        axes["left"] = IntegerAxis("left")
    plot = layout.addPlot(row=row, col=0, axisItems=axes)
    plot.setLabel("left", title, **{"font-size": "8pt"})
    # Grid lines at major ticks only: minor grid lines cost most of a frame in software
    # rendering (measured by benchmarks/gui_loop_lag.py).
    plot.showGrid(x=True, y=True, alpha=0.15)
    for side in ("left", "bottom"):
        plot.getAxis(side).setStyle(maxTickLevel=0)
        plot.getAxis(side).enableAutoSIPrefix(False)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.getAxis("left").setWidth(52)
    return plot


def _curve(plot: pg.PlotItem, colour: str) -> pg.PlotDataItem:
    curve = plot.plot(pen=pg.mkPen(colour, width=1))  # width 1: the fast path of the raster
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)
    return curve


class WorkerPanel(QtWidgets.QGroupBox):
    """One worker: a status line and net profit %, max drawdown % and trades by iteration."""

    def __init__(self, worker: int, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(f"Worker {worker}", parent)
        self.worker = worker
        self.drawn_version = -1
        self._symbols: bool | None = None  # dots on each point, while there are few
        self._x_span: float | None = None
        self.drawn_tick = -1
        self.run_best_value: float | None = None
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        self.status = QtWidgets.QLabel("waiting for its first trial")
        self.status.setWordWrap(True)
        # Two lines, always: a label that grows would resize the charts (a full re-layout).
        self.status.setFixedHeight(self.status.fontMetrics().lineSpacing() * 2 + 4)
        self.status.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft
                                 | QtCore.Qt.AlignmentFlag.AlignTop)
        self.status.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.charts = ThemedChart()
        self.charts.setMinimumHeight(330)
        layout.addWidget(self.charts)
        self.net_plot = _plot(self.charts.ci, 0, "Net profit %")
        self.dd_plot = _plot(self.charts.ci, 1, "Max DD %")
        self.trades_plot = _plot(self.charts.ci, 2, "Trades", integer_y=True)
        for plot in (self.dd_plot, self.trades_plot):
            plot.setXLink(self.net_plot)
        for plot in (self.net_plot, self.dd_plot):
            plot.getAxis("bottom").setStyle(showValues=False)
        self.trades_plot.setLabel("bottom", "iteration", **{"font-size": "8pt"})
        self.charts.ci.layout.setRowStretchFactor(0, 3)
        self.charts.ci.layout.setRowStretchFactor(1, 2)
        self.charts.ci.layout.setRowStretchFactor(2, 2)
        self.net_plot.addLine(y=0, pen=pg.mkPen(GREY, width=0.8))
        # Curves are made once and only ever get setData (see RunsView._redraw).
        self.net_curve = _curve(self.net_plot, BLUE)
        self.dd_curve = _curve(self.dd_plot, RED)
        self.trades_curve = _curve(self.trades_plot, GREY)
        self.best_marks = pg.ScatterPlotItem(symbol="star", size=14, pen=pg.mkPen(INK, width=0.8),
                                             brush=pg.mkBrush(ORANGE), name="new best")
        self.best_marks.setZValue(10)
        self.net_plot.addItem(self.best_marks)
        self.run_best = pg.InfiniteLine(
            angle=0, movable=False,
            pen=pg.mkPen(ORANGE, width=1, style=QtCore.Qt.PenStyle.DashLine),
            label="run best {value:.2f}%",
            # Left-aligned just inside the plot: a centred label lost its start to the axis.
            labelOpts={"position": 0.02, "color": ORANGE, "anchors": [(0, 0), (0, 1)]})
        self.run_best.setVisible(False)
        self.run_best_trial: int | None = None
        self.net_plot.addItem(self.run_best, ignoreBounds=True)
        self._empty: bool | None = None
        self.show_empty(True)
        self.charts.restyle()

    def show_empty(self, empty: bool) -> None:
        """An empty plot gets fixed, plain ranges; the first point hands y back to
        auto-range (x follows the run's budget, see `set_x_span`)."""
        if empty == self._empty:
            return
        self._empty = empty
        for plot, key in ((self.net_plot, "net"), (self.dd_plot, "dd"),
                          (self.trades_plot, "trades")):
            if empty:
                plot.enableAutoRange(y=False)
                plot.setYRange(*EMPTY_Y_RANGES[key], padding=0)
            else:
                plot.enableAutoRange(y=True)
        if empty and self._x_span is None:
            self.net_plot.enableAutoRange(x=False)
            self.net_plot.setXRange(0, EMPTY_X_SPAN, padding=0)

    def draw(self, series, run_best: float | None, x_span: float | None = None,
             run_best_trial: int | None = None) -> None:
        """Push a worker's series to the curves (views of its arrays, no copies)."""
        x = series.x.view()
        if len(x) and np.isfinite(x[-1]) and x_span is not None:
            x_span = max(x_span, float(x[-1]))
        self.show_empty(len(x) == 0)
        self.set_x_span(x_span)
        if self._symbols != (len(x) <= SYMBOLS_UP_TO):
            self._symbols = len(x) <= SYMBOLS_UP_TO
            for curve, colour in ((self.net_curve, BLUE), (self.dd_curve, RED),
                                  (self.trades_curve, GREY)):
                if self._symbols:
                    curve.setSymbol("o")
                    curve.setSymbolSize(4)
                    curve.setSymbolPen(None)
                    curve.setSymbolBrush(pg.mkBrush(colour))
                else:
                    curve.setSymbol(None)
        self.net_curve.setData(x, series.net_profit.view())
        self.dd_curve.setData(x, series.drawdown.view())
        self.trades_curve.setData(x, series.trades.view())
        self.best_marks.setData(series.best_x, series.best_y,
                                data=list(series.best_ids))
        self.set_run_best(run_best, run_best_trial)
        self.status.setText(series.status())
        self.drawn_version = series.version

    def set_x_span(self, span: float | None) -> None:
        """Fix the x range to the run's whole budget when it is known: the curve fills it as
        trials finish, and the axes need not be laid out again for every new point (that
        re-layout was most of a frame)."""
        if span == self._x_span:
            return
        self._x_span = span
        if span is None and self._empty:
            self.net_plot.enableAutoRange(x=False)
            self.net_plot.setXRange(0, EMPTY_X_SPAN, padding=0)
        elif span is None:
            self.net_plot.enableAutoRange(x=True)
        else:
            self.net_plot.enableAutoRange(x=False)
            self.net_plot.setXRange(0, span + 1, padding=0.01)

    def set_run_best(self, value: float | None, trial: int | None = None) -> None:
        """The dashed line at the run's highest starred net profit, named by its trial."""
        self.run_best_value = value
        if value is None:
            self.run_best.setVisible(False)
            return
        self.run_best.setVisible(True)  # first: a hidden line's label does not update
        if trial != self.run_best_trial:
            self.run_best_trial = trial
            name = f" #{trial}" if trial is not None else ""
            self.run_best.label.setFormat(f"run best{name} {{value:.2f}}%")
        self.run_best.setValue(value)


class RunsView(RunView):

    def __init__(self, controller: RunController,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.monitor: RunMonitor | None = None
        self.panels: dict[int, WorkerPanel] = {}
        self._tick = 0

        self.title = QtWidgets.QLabel("No run yet: start one from the setup on the left")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.progress = QtWidgets.QLabel("")
        self.progress.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                   | QtCore.Qt.AlignmentFlag.AlignVCenter)
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setFixedWidth(180)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setVisible(False)
        header = QtWidgets.QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.progress)
        header.addWidget(self.progress_bar)

        self._grid_host = QtWidgets.QWidget()
        self.grid = QtWidgets.QGridLayout(self._grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(8)
        self.placeholder = QtWidgets.QLabel("Worker panels appear here as workers start trials.")
        self.placeholder.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: #787b86;")
        self.grid.addWidget(self.placeholder, 0, 0)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        scroll.setWidget(self._grid_host)

        self.log = QtWidgets.QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.log.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.log.setPlaceholderText("Every event of the run, one line each")

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(scroll)
        splitter.addWidget(self.log)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([4000, 1000])  # proportions: the panels get most of the height
        splitter.setChildrenCollapsible(False)
        self.log.setMinimumHeight(80)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(splitter, 1)

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self._redraw)
        self.timer.start()

        controller.event.connect(self._on_event)
        controller.run_finished.connect(self._on_run_finished)
        controller.store_opened.connect(lambda _path: self.refresh())

    # ------------------------------------------------------------------ data

    def refresh(self) -> None:
        """Reload from the store for the controller's current run."""
        run_id = self.controller.run_id
        if run_id is None:
            self._reset(None)
            return
        try:
            monitor = RunMonitor.from_store(self.controller.store(), run_id)
        except Exception as exc:  # a bad or foreign store: say so, keep the window alive
            log.exception("could not load run %s", run_id)
            self._reset(None)
            self.title.setText(f"Could not load run {run_id}: {exc}")
            return
        self._reset(monitor)
        self._redraw(every=True)

    def show_trial(self, trial_id: int) -> None:
        """Show one trial (the trial view); others ignore it."""

    def _reset(self, monitor: RunMonitor | None) -> None:
        self.monitor = monitor
        for panel in self.panels.values():
            self.grid.removeWidget(panel)
            panel.deleteLater()
        self.panels.clear()
        self.log.clear()
        self.placeholder.setVisible(True)
        self.title.setText(f"Run {monitor.run_id}" if monitor and monitor.run_id else
                           "No run yet: start one from the setup on the left")
        self.progress.setText("")
        self.progress_bar.setVisible(monitor is not None)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        if monitor is not None:
            for number in sorted(monitor.workers):
                self._add_panel(number)

    @Slot(object)
    def _on_event(self, event: Event) -> None:
        """O(1): hand the event to the monitor; the timer draws."""
        monitor = self.monitor
        if monitor is None or event.run_id != monitor.run_id:
            if event.kind == "run_started" and event.payload.get("resumed"):
                self._open_resumed(event)
                return
            self._reset(RunMonitor.for_run(self.controller.store(), event.run_id))
            monitor = self.monitor
            assert monitor is not None
        monitor.handle(event)
        if event.worker is not None and event.worker in monitor.workers \
                and event.worker not in self.panels:
            self._add_panel(event.worker)

    def _open_resumed(self, event: Event) -> None:
        """A resumed run: what it did before comes from the store, then it goes on live."""
        try:
            monitor = RunMonitor.from_store(self.controller.store(), event.run_id)
        except Exception:
            log.exception("could not load resumed run %s", event.run_id)
            monitor = RunMonitor.for_run(None, event.run_id)
        self._reset(monitor)
        monitor.handle(event, log=False)

    @Slot(str, str)
    def _on_run_finished(self, run_id: str, status: str) -> None:
        monitor = self.monitor
        if monitor is not None and monitor.run_id == run_id and not monitor.progress.finished:
            monitor.status = status
            monitor.progress.finished = True
        self._redraw()

    # ------------------------------------------------------------------ drawing

    def _add_panel(self, worker: int) -> None:
        panel = WorkerPanel(worker)
        self.panels[worker] = panel
        self.placeholder.setVisible(False)
        for index, number in enumerate(sorted(self.panels)):
            self.grid.removeWidget(self.panels[number])
            self.grid.addWidget(self.panels[number], index // 2, index % 2)

    @Slot()
    def _redraw(self, every: bool = False) -> None:
        """Push what changed since the last tick: log lines, panels, curves, progress."""
        monitor = self.monitor
        if monitor is None:
            return
        lines = monitor.new_lines()
        if lines:
            self.log.appendPlainText("\n".join(lines[-LOG_LINES:]))
        for number in monitor.workers:
            if number not in self.panels:
                self._add_panel(number)
        if self.isVisible():  # a hidden tab draws when it is shown (showEvent)
            self._draw_charts(monitor, every=every)
        busy = (f" · workers busy: {self.controller.busy_workers}"
                if self.controller.running else "")
        best_text = f" · best trial #{monitor.best_trial}" if monitor.best_trial else ""
        self.title.setText(f"Run {monitor.run_id} — {monitor.status}{best_text}")
        self.progress.setText(monitor.progress.text(now()) + busy)
        self._set_bar(monitor.progress)

    def _set_bar(self, progress: RunProgress) -> None:
        """The bar: done + skipped of the planned total (busy while the total is unknown,
        full once the run is over)."""
        total = progress.total
        if total is None:
            self.progress_bar.setRange(0, 1 if progress.finished else 0)
            self.progress_bar.setValue(1 if progress.finished else 0)
            return
        value = progress.completed()
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(min(value, total))
        self.progress_bar.setFormat(f"{value} / {total}")
        self.progress_bar.setToolTip(
            f"{progress.done} trials run"
            + (f", {progress.skipped} skipped: tracks that stopped early (targets met, time "
               "budget) do not use the rest of their iterations" if progress.skipped else ""))

    def _draw_charts(self, monitor: RunMonitor, *, every: bool = False) -> None:
        """Redraw the panel that has waited longest for its new points (all with `every`):
        one panel's repaint per tick keeps each frame short, whatever the number of workers."""
        best = monitor.best_net_profit
        waiting = [(self.panels[number].drawn_tick, number)
                   for number, series in monitor.workers.items()
                   if series.version != self.panels[number].drawn_version
                   or self.panels[number].run_best_value != best]
        self._tick += 1
        for _tick, number in sorted(waiting)[: None if every else PANELS_PER_TICK]:
            panel = self.panels[number]
            panel.draw(monitor.workers[number], best, monitor.x_span, monitor.best_net_trial)
            panel.drawn_tick = self._tick

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        # After the show (not inside it): panels made during a show event upset Qt.
        QtCore.QTimer.singleShot(0, self._redraw_all)

    @Slot()
    def _redraw_all(self) -> None:
        self._redraw(every=True)
