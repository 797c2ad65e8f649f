"""Small pieces the dialogs share: inline error labels, grey notes, Save / Cancel buttons.

One place, so every dialog shows its errors and notes alike.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from tvdesk.gui.qt import Qt, QtGui, QtWidgets

ERROR_COLOUR = "#d64545"  # readable on light and dark palettes


def error_label(word_wrap: bool = True) -> QtWidgets.QLabel:
    label = QtWidgets.QLabel()
    label.setWordWrap(word_wrap)
    label.setStyleSheet(f"color: {ERROR_COLOUR};")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def show_error(label: QtWidgets.QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))


def mark_invalid(widget: QtWidgets.QWidget, message: str) -> None:
    """A red border and the message as tooltip: the field an error is about. The rule
    selects the widget by its property, so a table's header, cells and scroll bars (its
    children) keep their own look."""
    widget.setProperty("invalid", True)
    widget.setStyleSheet(f'*[invalid="true"] {{ border: 1px solid {ERROR_COLOUR}; }}')
    widget.setToolTip(message)


def clear_invalid(widget: QtWidgets.QWidget, tooltip: str = "") -> None:
    widget.setProperty("invalid", False)
    widget.setStyleSheet("")
    widget.setToolTip(tooltip)


_W = TypeVar("_W", bound=QtWidgets.QWidget)


def shrinkable(widget: _W, characters: int = 6) -> _W:
    """A field that may get as narrow as `characters` wide: a narrow dock lays it out
    without clipping (the text scrolls inside it) instead of pushing the form wider."""
    widget.setMinimumWidth(widget.fontMetrics().averageCharWidth() * characters + 16)
    policy = widget.sizePolicy()
    policy.setHorizontalPolicy(QtWidgets.QSizePolicy.Policy.Expanding)
    widget.setSizePolicy(policy)
    if isinstance(widget, QtWidgets.QComboBox):
        widget.setSizeAdjustPolicy(
            QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        widget.setMinimumContentsLength(characters)
    return widget


def note_label(text: str = "") -> QtWidgets.QLabel:
    label = QtWidgets.QLabel(text)
    label.setWordWrap(True)
    label.setForegroundRole(QtGui.QPalette.ColorRole.PlaceholderText)
    return label


class SavingDialog(Protocol):
    """A dialog with a `save()` slot (besides QDialog's `reject()`)."""

    def save(self) -> None: ...

    def reject(self) -> None: ...


def save_cancel(dialog: SavingDialog) -> tuple[QtWidgets.QDialogButtonBox,
                                              QtWidgets.QPushButton]:
    """Save / Cancel buttons wired to the dialog's `save()` and `reject()`."""
    standard = QtWidgets.QDialogButtonBox.StandardButton
    buttons = QtWidgets.QDialogButtonBox(standard.Save | standard.Cancel)
    buttons.accepted.connect(dialog.save)
    buttons.rejected.connect(dialog.reject)
    return buttons, buttons.button(standard.Save)
