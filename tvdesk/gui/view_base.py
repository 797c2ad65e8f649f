"""What every tab of the window is: a view of the controller's store and current run."""

from __future__ import annotations

from tvdesk.gui.controller import RunController
from tvdesk.gui.qt import QtWidgets, Signal


class RunView(QtWidgets.QWidget):
    """Base of the Runs, Results, Surface, Trial and Lineage views.

    `trial_activated` asks the window to open a trial; `source_selected` to filter by a
    strategy version. A view reloads itself in `refresh()` from `controller.store()`.
    """

    trial_activated = Signal(int)
    source_selected = Signal(str)

    def __init__(self, controller: RunController,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller

    def refresh(self) -> None:
        """Reload from the store for the controller's current run."""

    def show_trial(self, trial_id: int) -> None:
        """Show one trial (the trial view does; the others ignore it)."""
