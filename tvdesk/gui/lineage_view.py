"""Lineage: the tree of strategy versions (placeholder until the view lands)."""

from __future__ import annotations

from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import QtWidgets, Signal


class LineageView(QtWidgets.QWidget):
    trial_activated = Signal(int)
    source_selected = Signal(str)

    def __init__(self, controller: RunController,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel("Lineage: the tree of strategy versions"))

    def refresh(self) -> None:
        """Reload from the store for the controller's current run."""

    def show_trial(self, trial_id: int) -> None:
        """Show one trial (the trial view); others ignore it."""
