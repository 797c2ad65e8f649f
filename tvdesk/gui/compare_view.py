"""Compare: two or more trials side by side.

A caption per trial (its colour, condition, segment and tag), their equity curves overlaid
(one pen per trial, a legend naming them), a metrics table (rows: metrics; columns: the trials,
then each trial's difference from the first, green where it is better and red where worse by
the metric's direction) and the inputs that differ (a toggle shows them all). Everything shown
is computed by `tvdesk.viewmodels.compare`; this module only lays it out. `compare(ids)` is
what the Results view's "Compare" asks for; double-clicking a trial's column opens it.
"""

from __future__ import annotations

import logging

from tvdesk.errors import TvdeskError
from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import Qt, QtCore, QtWidgets, Slot, pg
from tvdesk.gui.results_model import GREEN, RED, TextTableModel
from tvdesk.gui.view_base import RunView
from tvdesk.gui.widgets import chip_style, ensure_chart_foreground, table_view
from tvdesk.viewmodels.compare import Comparison, build_comparison

log = logging.getLogger(__name__)

PLACEHOLDER = ("Select two or more trials in Results (Ctrl- or Shift-click), right-click and "
               "choose Compare.")


class CompareView(RunView):

    def __init__(self, controller: RunController,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.comparison: Comparison | None = None
        self.trial_ids: list[int] = []
        self.curves: list[pg.PlotDataItem] = []

        self.stack = QtWidgets.QStackedWidget()
        self.placeholder = QtWidgets.QLabel(PLACEHOLDER)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self._build_page())
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        controller.store_opened.connect(lambda _path: self.clear())

    # ------------------------------------------------------------------ building

    def _build_page(self) -> QtWidgets.QWidget:
        page = QtWidgets.QWidget()
        self.title_label = QtWidgets.QLabel()
        font = self.title_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title_label.setFont(font)
        self.captions = QtWidgets.QWidget()
        self._captions_layout = QtWidgets.QHBoxLayout(self.captions)
        self._captions_layout.setContentsMargins(0, 0, 0, 0)
        head = QtWidgets.QHBoxLayout()
        head.addWidget(self.title_label)
        head.addWidget(self.captions, 1)
        self.notes_label = QtWidgets.QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setStyleSheet(f"color: {RED};")
        self.notes_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        ensure_chart_foreground()
        self.chart = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.plot = self.chart.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.getAxis("left").setWidth(72)
        self.plot.setMenuEnabled(False)
        self.plot.setLabel("left", "Equity")
        self.legend = self.plot.addLegend(offset=(10, 10))
        self.chart_note = QtWidgets.QLabel()
        self.chart_note.setWordWrap(True)
        self.chart_note.setStyleSheet("color: palette(placeholder-text);")
        chart_box = QtWidgets.QWidget()
        chart_layout = QtWidgets.QVBoxLayout(chart_box)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        chart_layout.addWidget(self.chart, 1)
        chart_layout.addWidget(self.chart_note)

        self.metrics_model = TextTableModel(self)
        self.metrics_table = table_view(self.metrics_model)
        self.metrics_table.horizontalHeader().setStretchLastSection(False)
        self.metrics_table.horizontalHeader().sectionDoubleClicked.connect(self._open_column)
        self.metrics_table.setToolTip("Differences are green where the trial is better than "
                                      "the first and red where it is worse; double-click a "
                                      "trial's header to open it")
        metrics_box = QtWidgets.QGroupBox("Metrics")
        QtWidgets.QVBoxLayout(metrics_box).addWidget(self.metrics_table)

        self.inputs_model = TextTableModel(self)
        self.inputs_table = table_view(self.inputs_model)
        self.show_all_inputs = QtWidgets.QCheckBox("Show all inputs")
        self.show_all_inputs.setToolTip("Off: only the inputs whose values differ")
        self.show_all_inputs.toggled.connect(lambda _on: self._fill_inputs())
        self.inputs_note = QtWidgets.QLabel()
        self.inputs_note.setStyleSheet("color: palette(placeholder-text);")
        inputs_box = QtWidgets.QGroupBox("Inputs")
        inputs_layout = QtWidgets.QVBoxLayout(inputs_box)
        inputs_layout.addWidget(self.show_all_inputs)
        inputs_layout.addWidget(self.inputs_note)
        inputs_layout.addWidget(self.inputs_table, 1)

        top = QtWidgets.QSplitter(Qt.Orientation.Horizontal)  # the chart, the inputs beside
        top.addWidget(chart_box)
        top.addWidget(inputs_box)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 1)
        top.setSizes([800, 400])
        splitter = QtWidgets.QSplitter(Qt.Orientation.Vertical)  # the metrics full width
        splitter.addWidget(top)
        splitter.addWidget(metrics_box)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([450, 350])

        layout = QtWidgets.QVBoxLayout(page)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(head)
        layout.addWidget(self.notes_label)
        layout.addWidget(splitter, 1)
        return page

    # ------------------------------------------------------------------ showing

    def compare(self, trial_ids: list[int]) -> None:
        """Show these trials side by side (the first is the one the others are measured by)."""
        ids = [int(i) for i in dict.fromkeys(trial_ids)]
        if not ids:
            self.clear()
            return
        try:
            comparison = build_comparison(self.controller.store(), ids)
        except TvdeskError as exc:
            self.clear(f"The trials could not be read: {exc}")
            return
        if not comparison.trials:
            self.clear(" ".join(comparison.notes) or PLACEHOLDER)
            return
        self.trial_ids = list(comparison.ids)
        self.comparison = comparison
        self._render(comparison)
        self.stack.setCurrentIndex(1)

    def refresh(self) -> None:
        """Read the compared trials again (tags may have changed)."""
        if self.trial_ids:
            self.compare(self.trial_ids)

    def clear(self, message: str = PLACEHOLDER) -> None:
        self.trial_ids = []
        self.comparison = None
        self.placeholder.setText(message)
        self.stack.setCurrentIndex(0)

    def _render(self, c: Comparison) -> None:
        self.title_label.setText(f"{len(c.trials)} trials")
        self._fill_captions(c)
        self.notes_label.setText("\n".join(c.notes))
        self.notes_label.setVisible(bool(c.notes))
        self._fill_chart(c)
        self._fill_metrics(c)
        self._fill_inputs()

    def _fill_captions(self, c: Comparison) -> None:
        while self._captions_layout.count():
            item = self._captions_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for trial in c.trials:
            chip = QtWidgets.QLabel(trial.title)
            chip.setStyleSheet(chip_style(trial.colour))
            chip.setToolTip(f"Its curve's colour · tag {trial.tag}")
            text = QtWidgets.QLabel(trial.caption)
            text.setToolTip(f"{trial.title}: {trial.caption}")
            self._captions_layout.addWidget(chip)
            self._captions_layout.addWidget(text)
            self._captions_layout.addSpacing(10)
        self._captions_layout.addStretch(1)

    def _fill_chart(self, c: Comparison) -> None:
        for curve in self.curves:
            self.legend.removeItem(curve)
            self.plot.removeItem(curve)
        self.curves = []
        self.plot.setLabel("left", f"Equity {c.currency}".strip())
        for trial in c.trials:
            if trial.equity is None:
                continue
            curve = self.plot.plot(trial.equity.x, trial.equity.equity,
                                   pen=pg.mkPen(trial.colour, width=1.6), name=trial.title)
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self.curves.append(curve)
        self.plot.enableAutoRange()
        missing = [t.note for t in c.without_curve]
        self.chart_note.setText("\n".join(missing))
        self.chart_note.setVisible(bool(missing))

    def _fill_metrics(self, c: Comparison) -> None:
        count = len(c.trials)
        rows = c.metrics

        def foreground(row: int, column: int) -> str | None:
            if column <= count:
                return None
            verdict = rows[row].verdicts[column - count - 1]
            return GREEN if verdict > 0 else RED if verdict < 0 else None

        def tooltip(row: int, column: int) -> str | None:
            return rows[row].tooltip if column == 0 else None

        self.metrics_model.set_rows(c.metric_headers(), c.metric_table(),
                                    numeric=range(1, 2 * count), foreground=foreground,
                                    tooltips=tooltip)
        self.metrics_table.resizeColumnsToContents()

    @Slot()
    def _fill_inputs(self) -> None:
        c = self.comparison
        if c is None:
            return
        rows = c.shown_inputs(self.show_all_inputs.isChecked())
        differing = sum(1 for r in c.inputs if r.differs)
        self.inputs_note.setText(
            "Every input is the same." if not differing and not self.show_all_inputs.isChecked()
            else f"{differing} of {len(c.inputs)} inputs differ.")
        bold = {i for i, r in enumerate(rows) if r.differs}
        self.inputs_model.set_rows(
            c.input_headers(), [(r.name, *r.values) for r in rows],
            numeric=range(1, len(c.trials) + 1),
            background=lambda row, _column: "#33ff9800" if row in bold
            and self.show_all_inputs.isChecked() else None)
        self.inputs_table.resizeColumnsToContents()

    @Slot(int)
    def _open_column(self, section: int) -> None:
        """Double-click on a trial's column header: open that trial."""
        c = self.comparison
        if c is not None and 1 <= section <= len(c.trials):
            self.trial_activated.emit(c.trials[section - 1].id)

    def shown_input_names(self) -> list[str]:
        return [str(self.inputs_model.index(row, 0).data())
                for row in range(self.inputs_model.rowCount())]

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(1200, 800)


__all__ = ["PLACEHOLDER", "CompareView"]
