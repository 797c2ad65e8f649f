"""Read-only widgets that show a backtest the way TradingView's strategy tester does.

Key-stat cards, the tag chip, the equity / drawdown chart and monospace text panes with a diff
highlighter. They keep no view state: a view creates them once and fills them with values from
`tvdesk.viewmodels.trial_details`.

The chart pieces every view shares live here too: `ThemedChart` (a chart that repaints in
the new theme's colours when the theme changes), and axes that label what they show the way
a trader reads it: whole numbers only (`IntegerAxis`), category names thinned so none overlap
(`CategoryAxis`), and dates with their year (`YearDateAxis`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pyqtgraph.graphicsItems.DateAxisItem import (
    DAY_SPACING,
    HMS_ZOOM_LEVEL,
    HOUR_SPACING,
    MINUTE_SPACING,
    MONTH_SPACING,
    MS_ZOOM_LEVEL,
    YEAR_SPACING,
    TickSpec,
    ZoomLevel,
    makeMStepper,
    makeSStepper,
    makeYStepper,
)

from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets, pg
from tvdesk.gui.results_model import GREEN, RED
from tvdesk.gui.theme import style_chart
from tvdesk.viewmodels.trial_details import EquityPlot, KeyStat

BLUE, GREY = "#2962ff", "#787b86"


def ensure_chart_foreground() -> None:
    """pyqtgraph 0.14 cannot make a plot with foreground None (what `tvdesk.gui.qt` sets):
    use the application palette's text colour when none is set."""
    if pg.getConfigOption("foreground") is None:
        app = QtWidgets.QApplication.instance()
        colour = (app.palette().color(QtGui.QPalette.ColorRole.Text)
                  if isinstance(app, QtWidgets.QApplication) else QtGui.QColor("#131722"))
        pg.setConfigOption("foreground", colour)


PALETTE_EVENTS = (QtCore.QEvent.Type.PaletteChange, QtCore.QEvent.Type.ApplicationPaletteChange)


class ThemedChart(pg.GraphicsLayoutWidget):
    """A chart that follows the theme: styled from its palette when its owner has added its
    plots (`restyle`), and again whenever the palette changes (Settings → Theme sets the
    application palette, which reaches every widget as a palette-change event)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        ensure_chart_foreground()
        super().__init__(parent)
        self.restyle()

    def restyle(self) -> None:
        style_chart(self)

    def changeEvent(self, event: QtCore.QEvent) -> None:
        super().changeEvent(event)
        if event.type() in PALETTE_EVENTS:
            self.restyle()


class IntegerAxis(pg.AxisItem):
    """An axis of whole numbers (iterations, trades): ticks at least 1 apart, on integers,
    written without decimals. Never scaled by an SI prefix (which wrote a small range as
    "-400..400 (x0.001)"). `integer = False` makes it a plain number axis."""

    def __init__(self, orientation: str, *, integer: bool = True, **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self.integer = integer

    def set_integer(self, integer: bool) -> None:
        if integer != self.integer:
            self.integer = integer
            self.picture = None
            self.update()

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list:
        levels = super().tickSpacing(minVal, maxVal, size)
        if not self.integer:
            return levels
        return [(max(1.0, float(round(spacing))), offset) for spacing, offset in levels]

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        levels = super().tickValues(minVal, maxVal, size)
        if not self.integer:
            return levels
        return [(spacing, [v for v in values if float(v).is_integer()])
                for spacing, values in levels]

    def tickStrings(self, values: Sequence[float], scale: float, spacing: float) -> list[str]:
        if not self.integer:
            return super().tickStrings(values, scale, spacing)
        return [f"{round(v * scale):d}" for v in values]


class CategoryAxis(IntegerAxis):
    """An axis of named cells (0, 1, 2, ...): every cell's name when they fit, else every
    k-th, k chosen from the longest name and the axis length, so names never overlap.
    Without names it is a number axis (whole numbers with `set_integer(True)`)."""

    GAP = 8  # pixels between two names

    def __init__(self, orientation: str, **kwargs: object) -> None:
        super().__init__(orientation, integer=False, **kwargs)
        self.labels: list[str] = []
        # Ticks outward: drawn into a heatmap they read as minus signs before its numbers.
        self.setStyle(tickLength=4)

    def set_labels(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self.picture = None
        self.update()

    def label_step(self, pixels_per_cell: float) -> int:
        """Every how many cells a name is written, for cells this many pixels apart."""
        if not self.labels or pixels_per_cell <= 0:
            return 1
        metrics = QtGui.QFontMetrics(self.style.get("tickFont") or QtGui.QFont())
        if self.orientation in ("bottom", "top"):
            needed = max(metrics.horizontalAdvance(text) for text in self.labels)
        else:
            needed = metrics.height()
        return max(1, math.ceil((needed + self.GAP) / pixels_per_cell))

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        if not self.labels:
            return super().tickValues(minVal, maxVal, size)
        span = maxVal - minVal
        step = self.label_step(size / span if span > 0 else 0.0)
        first, last = max(0, math.ceil(minVal)), min(len(self.labels) - 1, math.floor(maxVal))
        return [(float(step), [float(i) for i in range(first, last + 1) if i % step == 0])]

    def tickStrings(self, values: Sequence[float], scale: float, spacing: float) -> list[str]:
        if not self.labels:
            return super().tickStrings(values, scale, spacing)
        return [self.labels[round(v)] if 0 <= round(v) < len(self.labels) else ""
                for v in values]


_MONTH_YEAR = "Sep 2024"  # the widest month label: how far apart month ticks must be


class YearDateAxis(pg.DateAxisItem):
    """pyqtgraph's date axis, but a month is written with its year ("Mar 2024") and a day
    with its month and year, so a chart of a few months still says which year it shows."""

    def __init__(self, orientation: str = "bottom", **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        months = TickSpec(MONTH_SPACING, makeMStepper(1), "%b %Y", autoSkip=[1, 2, 3, 6])
        year_month = ZoomLevel([
            TickSpec(YEAR_SPACING, makeYStepper(1), "%Y", autoSkip=[1, 2, 5, 10, 25]),
            months], _MONTH_YEAR)
        month_day = ZoomLevel([
            TickSpec(MONTH_SPACING, makeMStepper(1), "%b %Y"),
            TickSpec(DAY_SPACING, makeSStepper(DAY_SPACING), "%d", autoSkip=[1, 5])],
            _MONTH_YEAR)
        day_hour = ZoomLevel([
            TickSpec(DAY_SPACING, makeSStepper(DAY_SPACING), "%d %b %Y"),
            TickSpec(HOUR_SPACING, makeSStepper(HOUR_SPACING), "%H:%M", autoSkip=[1, 6])],
            "00 Sep 2024")
        hour_minute = ZoomLevel([
            TickSpec(DAY_SPACING, makeSStepper(DAY_SPACING), "%d %b %Y"),
            TickSpec(MINUTE_SPACING, makeSStepper(MINUTE_SPACING), "%H:%M",
                     autoSkip=[1, 5, 15])], "00 Sep 2024")
        # pyqtgraph's thresholds (seconds per pixel at which a level is too fine); the two
        # finest levels are its own.
        self.zoomLevels = {math.inf: year_month, 5 * DAY_SPACING: month_day,
                           6 * HOUR_SPACING: day_hour, 15 * MINUTE_SPACING: hour_minute,
                           30: HMS_ZOOM_LEVEL, 1: MS_ZOOM_LEVEL}


def chip_style(colour: str) -> str:
    return (f"QLabel {{ background: {colour}; color: white; border-radius: 9px; "
            "padding: 2px 10px; font-weight: bold; }")


def monospace() -> QtGui.QFont:
    font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QtGui.QFont.StyleHint.Monospace)
    return font


def note_over_text(note: QtWidgets.QLabel, text: QtWidgets.QWidget) -> QtWidgets.QWidget:
    """A tab page: a one-line note above a text view that takes the rest of the height."""
    page = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(page)
    layout.setContentsMargins(0, 4, 0, 0)
    layout.addWidget(note)
    layout.addWidget(text, 1)
    return page


def read_only_text() -> QtWidgets.QPlainTextEdit:
    edit = QtWidgets.QPlainTextEdit()
    edit.setReadOnly(True)
    edit.setFont(monospace())
    edit.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
    edit.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                 | Qt.TextInteractionFlag.TextSelectableByKeyboard)
    return edit


def table_view(model: QtCore.QAbstractItemModel) -> QtWidgets.QTableView:
    """A table of rows to read and select (no row numbers, one line per row)."""
    view = QtWidgets.QTableView()
    view.setModel(model)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setResizeContentsPrecision(200)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class DiffHighlighter(QtGui.QSyntaxHighlighter):
    """Colours a unified diff: added lines green, removed red, hunk headers blue."""

    def __init__(self, document: QtGui.QTextDocument) -> None:
        super().__init__(document)
        self._formats = {}
        for prefix, colour in (("+", GREEN), ("-", RED), ("@", BLUE)):
            fmt = QtGui.QTextCharFormat()
            fmt.setForeground(QtGui.QColor(colour))
            self._formats[prefix] = fmt

    def highlightBlock(self, text: str) -> None:
        if text.startswith(("+++", "---")):
            fmt = QtGui.QTextCharFormat()
            fmt.setFontWeight(QtGui.QFont.Weight.Bold)
            self.setFormat(0, len(text), fmt)
        elif text[:1] in self._formats:
            self.setFormat(0, len(text), self._formats[text[:1]])


class StatCard(QtWidgets.QFrame):
    """One of TradingView's key stats: title, big value, smaller detail."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.title = QtWidgets.QLabel()
        self.value = QtWidgets.QLabel()
        self.detail = QtWidgets.QLabel()
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.7)
        font.setBold(True)
        self.value.setFont(font)
        self.title.setStyleSheet("color: palette(placeholder-text);")
        for label in (self.title, self.value, self.detail):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)

    def set_stat(self, stat: KeyStat) -> None:
        self.title.setText(stat.title)
        self.value.setText(stat.value)
        self.detail.setText(stat.detail)
        colour = GREEN if stat.sign > 0 else RED if stat.sign < 0 else ""
        style = f"color: {colour};" if colour else ""
        self.value.setStyleSheet(style)
        self.detail.setStyleSheet(style)
        self.setToolTip(stat.tooltip)


class EquityChart(ThemedChart):
    """Equity (with buy & hold and the initial capital) over drawdown %, x axes linked; the
    time axis says the year (`YearDateAxis`) and the chart follows the theme."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.equity_plot = self.addPlot(row=0, col=0,
                                        axisItems={"bottom": YearDateAxis(utcOffset=0)})
        self.drawdown_plot = self.addPlot(row=1, col=0,
                                          axisItems={"bottom": YearDateAxis(utcOffset=0)})
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 1)
        self.drawdown_plot.setXLink(self.equity_plot)
        self.equity_plot.hideAxis("bottom")
        for plot in (self.equity_plot, self.drawdown_plot):
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.getAxis("left").setWidth(72)
            plot.setMenuEnabled(False)
        self.equity_plot.setLabel("left", "Equity")
        self.drawdown_plot.setLabel("left", "Drawdown %")
        self.legend = self.equity_plot.addLegend(offset=(10, 10))
        self.equity_curve = self.equity_plot.plot(pen=pg.mkPen(BLUE, width=1.6),
                                                  name="Strategy equity")
        self.buy_hold_curve = self.equity_plot.plot(
            pen=pg.mkPen(GREY, width=1.2, style=Qt.PenStyle.DashLine), name="Buy & hold")
        self.capital_line = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen(GREY, width=0.8, style=Qt.PenStyle.DotLine))
        self.equity_plot.addItem(self.capital_line)
        red = QtGui.QColor(RED)
        fill = QtGui.QColor(red)
        fill.setAlpha(90)
        self.drawdown_curve = self.drawdown_plot.plot(pen=pg.mkPen(red, width=1.0),
                                                      fillLevel=0.0, brush=fill)
        for curve in (self.equity_curve, self.buy_hold_curve, self.drawdown_curve):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        self._buy_hold_in_legend = True
        self.restyle()

    def set_plot(self, plot: EquityPlot | None, currency: str) -> None:
        self.equity_plot.setLabel("left", f"Equity {currency}".strip())
        if plot is None:
            for curve in (self.equity_curve, self.buy_hold_curve, self.drawdown_curve):
                curve.setData([], [])
            self.capital_line.setVisible(False)
            return
        self.equity_curve.setData(plot.x, plot.equity)
        self.drawdown_curve.setData(plot.x, plot.drawdown)
        has_buy_hold = bool(plot.buy_hold)
        self.buy_hold_curve.setData(plot.buy_hold_x, plot.buy_hold)
        if has_buy_hold != self._buy_hold_in_legend:
            if has_buy_hold:
                self.legend.addItem(self.buy_hold_curve, "Buy & hold")
            else:
                self.legend.removeItem(self.buy_hold_curve)
            self._buy_hold_in_legend = has_buy_hold
        self.capital_line.setValue(plot.initial_capital)
        self.capital_line.setVisible(plot.initial_capital > 0)
        for item in (self.equity_plot, self.drawdown_plot):
            item.enableAutoRange()
