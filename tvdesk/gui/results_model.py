"""Qt models over tvdesk.app's tables: the results table, its proxy, a tag chip delegate.

`ResultsModel` wraps a `tvdesk.viewmodels.results_table.ResultsTable` (which holds the rows, formats
cells, sorts and places new rows): the model only translates that into Qt's roles and
signals. A reload is one `beginResetModel`; a trial arriving during a run is one
`beginInsertRows` (or a `dataChanged` when its row exists). Sorting is done by the table in one
`list.sort` — `ResultsProxy.sort` hands it over — so ten thousand rows sort at once instead of
through a Python `lessThan` per comparison; the proxy only filters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets
from tvdesk.store import TrialRow
from tvdesk.viewmodels.results_table import (
    Change,
    ResultsTable,
    RunLayout,
    TrialFilter,
    tag_colour,
)

TRIAL_ID_ROLE = Qt.ItemDataRole.UserRole + 1
TAG_COLOUR_ROLE = Qt.ItemDataRole.UserRole + 2
GREEN = "#089981"
RED = "#f23645"
_SIGNED_COLUMNS = ("metric:net_profit_percent", "holdout:net_profit_percent")
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignCenter


class ResultsModel(QtCore.QAbstractTableModel):
    """One row per trial of a run (see `ResultsTable` for the columns)."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.table = ResultsTable()
        self._green = QtGui.QBrush(QtGui.QColor(GREEN))
        self._red = QtGui.QBrush(QtGui.QColor(RED))
        self._signed: frozenset[int] = frozenset()

    # ------------------------------------------------------------------ Qt interface

    def rowCount(self, parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex
                 = QtCore.QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.table)

    def columnCount(self, parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex
                    = QtCore.QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.table.columns)

    def data(self, index: QtCore.QModelIndex | QtCore.QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.table.text(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            col = self.table.columns[column]
            if col.kind == "tag":
                return _CENTER
            return _RIGHT if col.numeric else _LEFT
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.table.tooltip(row, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, column)
        if role == TRIAL_ID_ROLE:
            return self.table.trial_at(row).id
        if role == TAG_COLOUR_ROLE:
            tag = self.table.trial_at(row).tag
            return tag_colour(tag) if tag else None
        return None

    def _foreground(self, row: int, column: int) -> QtGui.QBrush | None:
        if column in self._signed:
            value = self.table.value(row, column)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
                return self._green if value > 0 else self._red
        elif self.table.columns[column].kind == "status" \
                and self.table.trial_at(row).status == "error":
            return self._red
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not \
                0 <= section < len(self.table.columns):
            return None
        column = self.table.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.wrapped_header  # long names on two lines: never clipped
        if role == Qt.ItemDataRole.ToolTipRole:
            if column.tooltip.startswith(column.header):
                return column.tooltip
            return f"{column.header}\n{column.tooltip}" if column.tooltip else column.header
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column.numeric else _LEFT
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort in the table (numbers numerically), keeping selections on their trials."""
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        ids = [self.table.trial_at(i.row()).id if i.isValid() else None for i in persistent]
        self.table.sort(column if 0 <= column < len(self.table.columns) else None,
                        order == Qt.SortOrder.DescendingOrder)
        moved = []
        for old, trial_id in zip(persistent, ids, strict=True):
            row = None if trial_id is None else self.table.row_of(trial_id)
            moved.append(QtCore.QModelIndex() if row is None
                         else self.index(row, old.column()))
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    # ------------------------------------------------------------------ loading

    def reload(self, trials: Iterable[TrialRow], currency: str = "USD",
               layout: RunLayout | None = None, *, sort_by_objective: bool = False) -> None:
        """Load a run's trials. `layout` is `run_layout(settings)` (objective, condition
        input, steps); `sort_by_objective` orders them best first (a run just opened)."""
        self.beginResetModel()
        self.table.currency = currency
        if layout is not None:
            self.table.configure(layout)
        if sort_by_objective:
            self.table.sort_by_objective()
        self.table.load(trials)
        self._update_signed()
        self.endResetModel()

    def _update_signed(self) -> None:
        self._signed = frozenset(
            i for i, c in enumerate(self.table.columns) if f"{c.kind}:{c.key}" in _SIGNED_COLUMNS)

    def upsert(self, trial: TrialRow) -> None:
        """A trial finished during the run: insert its row, or update the one it has."""
        if self.table.new_inputs(trial):  # a rewrite with new inputs: new columns
            first = self.table.input_column_end()
            count = len(self.table.new_inputs(trial))
            self.beginInsertColumns(QtCore.QModelIndex(), first, first + count - 1)
            self.table.add_inputs(trial)
            self._update_signed()
            self.endInsertColumns()
        change = self.table.placement(trial)
        if change.kind == "insert":
            self.beginInsertRows(QtCore.QModelIndex(), change.row, change.row)
            affected = self.table.apply(trial, change)
            self.endInsertRows()
        else:
            affected = self.table.apply(trial, change)
        self._rows_changed(affected)

    def set_tags(self, trials: Iterable[TrialRow]) -> None:
        """Take the tags the run's judgement wrote (the rows stay where they are)."""
        self._rows_changed(self.table.set_tags(trials))

    def _rows_changed(self, rows: Iterable[int]) -> None:
        rows = sorted(set(rows))
        if rows:
            self.dataChanged.emit(self.index(rows[0], 0),
                                  self.index(rows[-1], len(self.table.columns) - 1))

    def trial_id(self, row: int) -> int:
        return self.table.trial_at(row).id


class ResultsProxy(QtCore.QSortFilterProxyModel):
    """Filters the results by a `TrialFilter`; sorting is handed to the source model."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._filter = TrialFilter()
        self.setDynamicSortFilter(True)

    @property
    def trial_filter(self) -> TrialFilter:
        return self._filter

    def set_filter(self, flt: TrialFilter) -> None:
        if flt == self._filter:
            return
        self.beginFilterChange()
        self._filter = flt
        self.endFilterChange(QtCore.QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex
                         ) -> bool:
        model = self.sourceModel()
        if not isinstance(model, ResultsModel) or not 0 <= source_row < len(model.table):
            return True
        return self._filter.matches(model.table.trial_at(source_row))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        model = self.sourceModel()
        if model is not None:
            model.sort(column, order)


class TagDelegate(QtWidgets.QStyledItemDelegate):
    """Draws a cell as a coloured chip: the tag's colour (TAG_COLOUR_ROLE), white text."""

    def paint(self, painter: QtGui.QPainter, option: QtWidgets.QStyleOptionViewItem,
              index: QtCore.QModelIndex | QtCore.QPersistentModelIndex) -> None:
        colour = index.data(TAG_COLOUR_ROLE)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        if not colour or not text:
            super().paint(painter, option, index)
            return
        style = option.widget.style() if option.widget else QtWidgets.QApplication.style()
        background = QtWidgets.QStyleOptionViewItem(option)
        self.initStyleOption(background, index)
        background.text = ""
        style.drawControl(QtWidgets.QStyle.ControlElement.CE_ItemViewItem, background, painter,
                          option.widget)
        painter.save()
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        font = QtGui.QFont(option.font)
        font.setBold(True)
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        metrics = QtGui.QFontMetrics(font)
        width = metrics.horizontalAdvance(text) + 14
        height = min(option.rect.height() - 2, metrics.height() + 4)
        chip = QtCore.QRectF(0, 0, width, height)
        chip.moveCenter(QtCore.QRectF(option.rect).center())
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QtGui.QColor(colour))
        painter.drawRoundedRect(chip, height / 2, height / 2)
        painter.setPen(QtGui.QColor("white"))
        painter.setFont(font)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def sizeHint(self, option: QtWidgets.QStyleOptionViewItem,
                 index: QtCore.QModelIndex | QtCore.QPersistentModelIndex) -> QtCore.QSize:
        hint = super().sizeHint(option, index)
        return QtCore.QSize(hint.width() + 20, hint.height())


class TextTableModel(QtCore.QAbstractTableModel):
    """A read-only table of ready-made text (trades, monthly returns ...).

    `numeric` columns are right-aligned; `foreground(row, column)` and `background(row,
    column)` may return a colour name for a cell.
    """

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._headers: tuple[str, ...] = ()
        self._rows: tuple[tuple[str, ...], ...] = ()
        self._numeric: frozenset[int] = frozenset()
        self._foreground: Any = None
        self._background: Any = None
        self._tooltips: Any = None

    def set_rows(self, headers: Iterable[str], rows: Iterable[Iterable[str]],
                 numeric: Iterable[int] = (), foreground: Any = None, background: Any = None,
                 tooltips: Any = None) -> None:
        self.beginResetModel()
        self._headers = tuple(headers)
        self._rows = tuple(tuple(r) for r in rows)
        self._numeric = frozenset(numeric)
        self._foreground, self._background, self._tooltips = foreground, background, tooltips
        self.endResetModel()

    def rowCount(self, parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex
                 = QtCore.QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QtCore.QModelIndex | QtCore.QPersistentModelIndex
                    = QtCore.QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index: QtCore.QModelIndex | QtCore.QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rows[row][column]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column in self._numeric else _LEFT
        if role == Qt.ItemDataRole.ForegroundRole and self._foreground is not None:
            colour = self._foreground(row, column)
            return QtGui.QColor(colour) if colour else None
        if role == Qt.ItemDataRole.BackgroundRole and self._background is not None:
            colour = self._background(row, column)
            return QtGui.QColor(colour) if colour else None
        if role == Qt.ItemDataRole.ToolTipRole and self._tooltips is not None:
            return self._tooltips(row, column)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if orientation == Qt.Orientation.Horizontal:
                return self._headers[section] if section < len(self._headers) else None
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and orientation == Qt.Orientation.Horizontal:
            return _RIGHT if section in self._numeric else _LEFT
        return None


__all__ = ["TAG_COLOUR_ROLE", "TRIAL_ID_ROLE", "Change", "ResultsModel", "ResultsProxy",
           "TagDelegate", "TextTableModel"]
