"""Lineage: the tree of strategy versions a run tried, the base script at the root.

Each node is one Pine source (an LLM rewrite hangs under the version it was rewritten from)
with who proposed it, how many trials ran it, its best in-sample net profit % and that
trial's tag; the best version of the run is bold. Selecting a node emits `source_selected`
(the window filters the results to it); double-clicking opens the node's best trial. The tree
is built by `tvdesk.viewmodels.lineage`.
"""

from __future__ import annotations

import logging

from tvdesk.errors import TvdeskError
from tvdesk.events import Event
from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets, Slot
from tvdesk.gui.results_model import GREEN, RED, TAG_COLOUR_ROLE, TagDelegate
from tvdesk.gui.view_base import RunView
from tvdesk.viewmodels.lineage import LineageNode, best_node, build_lineage, count_trial
from tvdesk.viewmodels.results_table import short_hash, tag_colour, tag_name

log = logging.getLogger(__name__)

HASH_ROLE = Qt.ItemDataRole.UserRole + 10
BEST_TRIAL_ROLE = Qt.ItemDataRole.UserRole + 11
HEADERS = ("Version", "Proposer", "Trials", "Best net profit %", "Best trial", "Tag")
REFRESH_MS = 1500  # live runs: rebuild at most this often (a rewrite adds a node)


class RoomyDelegate(QtWidgets.QStyledItemDelegate):
    """Rows a little taller than the font, so the tag chips are not squeezed."""

    def sizeHint(self, option: QtWidgets.QStyleOptionViewItem,
                 index: QtCore.QModelIndex | QtCore.QPersistentModelIndex) -> QtCore.QSize:
        hint = super().sizeHint(option, index)
        return QtCore.QSize(hint.width(), max(hint.height(), option.fontMetrics.height() + 8))


class LineageView(RunView):

    def __init__(self, controller: RunController,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(controller, parent)
        self.run_id: str | None = None
        self.roots: list[LineageNode] = []
        self._items: dict[str, QtWidgets.QTreeWidgetItem] = {}
        self._nodes: dict[str, LineageNode] = {}

        self.tree = QtWidgets.QTreeWidget()
        self.tree.setColumnCount(len(HEADERS))
        self.tree.setHeaderLabels(list(HEADERS))
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setItemDelegate(RoomyDelegate(self.tree))
        self.tree.setItemDelegateForColumn(5, TagDelegate(self.tree))
        self.tree.header().setStretchLastSection(False)
        header = self.tree.headerItem()
        for column in (2, 3, 4):
            header.setTextAlignment(column, Qt.AlignmentFlag.AlignRight
                                    | Qt.AlignmentFlag.AlignVCenter)
        header.setToolTip(0, "Short hash of the Pine source; the base script is the root")
        header.setToolTip(1, "Who proposed the version: the base script, or an LLM rewrite")
        header.setToolTip(3, "The best net profit % of the version's in-sample trials")
        self.tree.itemSelectionChanged.connect(self._selected)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)

        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        controller.run_started.connect(lambda _run: self.refresh())
        controller.run_finished.connect(lambda _run, _status: self._timer.start(0))
        controller.store_opened.connect(lambda _path: self._timer.start(0))
        controller.event.connect(self._on_event)

    # ------------------------------------------------------------------ loading

    def refresh(self) -> None:
        """Reload from the store for the controller's current run."""
        self._timer.stop()
        roots: list[LineageNode] = []
        try:
            store = self.controller.store()
            self.run_id = self.controller.run_id or store.latest_run_id()
            if self.run_id is not None:
                roots = build_lineage(store, self.run_id)
        except TvdeskError as exc:
            log.warning("lineage: cannot read the run store: %s", exc)
            self.run_id = None
        selected = self.selected_hash()
        self.roots = roots
        self._fill(roots)
        if selected in self._items:
            self.tree.blockSignals(True)
            self.tree.setCurrentItem(self._items[selected])
            self.tree.blockSignals(False)

    def _fill(self, roots: list[LineageNode]) -> None:
        self.tree.clear()
        self._items = {}
        self._nodes = {node.hash: node for root in roots for node in root.walk()}
        best = best_node(roots)
        bold = QtGui.QFont(self.tree.font())
        bold.setBold(True)
        stack: list[tuple[LineageNode, QtWidgets.QTreeWidgetItem | None]] = \
            [(root, None) for root in reversed(roots)]
        while stack:  # iterative: long chains of rewrites
            node, parent = stack.pop()
            item = self._item(node)
            if parent is None:
                self.tree.addTopLevelItem(item)
            else:
                parent.addChild(item)
            if node is best:
                for column in range(len(HEADERS)):
                    item.setFont(column, bold)
                item.setToolTip(0, f"{node.hash}\nthe best version of the run")
            self._items[node.hash] = item
            stack.extend((child, item) for child in reversed(node.children))
        self.tree.expandAll()
        for column in range(len(HEADERS)):
            self.tree.resizeColumnToContents(column)
        self.tree.setColumnWidth(5, max(self.tree.columnWidth(5), 100))
        versions = len(self._items)
        rewrites = sum(1 for root in roots for n in root.walk() if not n.is_base)
        self.summary.setText(
            "No run yet." if self.run_id is None else
            f"Run {self.run_id}: {versions} version{'s' if versions != 1 else ''} "
            f"({rewrites} rewrite{'s' if rewrites != 1 else ''}). Select a version to show "
            "its trials in Results; double-click to open its best trial.")

    @classmethod
    def _item(cls, node: LineageNode) -> QtWidgets.QTreeWidgetItem:
        item = QtWidgets.QTreeWidgetItem()
        for column in (2, 3, 4):
            item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight
                                  | Qt.AlignmentFlag.AlignVCenter)
        item.setData(0, HASH_ROLE, node.hash)
        item.setToolTip(0, node.hash)
        cls._write(item, node)
        return item

    @staticmethod
    def _write(item: QtWidgets.QTreeWidgetItem, node: LineageNode) -> None:
        score = "" if node.best_score is None else f"{node.best_score + 0.0:,.2f} %"
        version = f"{short_hash(node.hash)}  (base script)" if node.is_base else \
            short_hash(node.hash)
        texts = (version, node.proposer or "—", f"{node.trials:,}", score,
                 "" if node.best_trial_id is None else str(node.best_trial_id),
                 tag_name(node.best_tag) if node.best_trial_id is not None and node.best_tag
                 else "")
        for column, text in enumerate(texts):
            item.setText(column, text)
        if node.best_score:
            item.setForeground(3, QtGui.QBrush(QtGui.QColor(GREEN if node.best_score > 0
                                                            else RED)))
        item.setData(0, BEST_TRIAL_ROLE, node.best_trial_id)
        item.setData(5, TAG_COLOUR_ROLE, tag_colour(node.best_tag) if node.best_tag else None)

    def selected_hash(self) -> str | None:
        item = self.tree.currentItem()
        return None if item is None else item.data(0, HASH_ROLE)

    def select_source(self, source_hash: str) -> None:
        item = self._items.get(source_hash)
        if item is not None:
            self.tree.setCurrentItem(item)

    def show_trial(self, trial_id: int) -> None:
        """Others ignore it; the lineage has no trial of its own to show."""

    # ------------------------------------------------------------------ signals

    @Slot()
    def _selected(self) -> None:
        source_hash = self.selected_hash()
        if source_hash:
            self.source_selected.emit(source_hash)

    @Slot(QtWidgets.QTreeWidgetItem, int)
    def _double_clicked(self, item: QtWidgets.QTreeWidgetItem, _column: int) -> None:
        trial_id = item.data(0, BEST_TRIAL_ROLE)
        if trial_id is not None:
            self.trial_activated.emit(int(trial_id))

    @Slot(object)
    def _on_event(self, event: Event) -> None:
        """During a run: a trial of a known version updates its node in place; a new version
        (or the judgement's tags) rebuilds the tree, at most every REFRESH_MS."""
        if event.run_id != self.run_id:
            return
        if event.kind == "judged":
            self._timer.start()
        elif event.kind in ("trial_finished", "holdout") and event.trial_id is not None:
            try:
                trial = self.controller.store().trial(event.trial_id)
            except (KeyError, TvdeskError):
                return
            node = self._nodes.get(trial.source_hash)
            if node is None:
                if not self._timer.isActive():
                    self._timer.start()
                return
            count_trial(node, trial)
            self._write(self._items[node.hash], node)
