"""About: tvdesk's version, what it is built on, the licenses, and the Python and Qt versions.

Opened with `open()` by the main window, like the other dialogs; it only shows text.
"""

from __future__ import annotations

import html
import platform
import re

from tvdesk import POWERED_BY, __version__
from tvdesk.gui.form_helpers import note_label
from tvdesk.gui.qt import Qt, QtCore, QtGui, QtWidgets

LICENSES = ("tvdesk Apache-2.0; PyneCore Apache-2.0; opencode-pine2pyne Apache-2.0; "
            "Qt for Python LGPLv3; pyqtgraph MIT; Optuna MIT")


class AboutDialog(QtWidgets.QDialog):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About tvdesk")
        title = QtWidgets.QLabel(f"tvdesk {html.escape(__version__)}")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        description = QtWidgets.QLabel("A desktop workbench for TradingView Pine Script "
                                       "strategies: backtest locally or on TradingView, "
                                       "judge, optimise, report.")
        description.setWordWrap(True)
        self.powered_by_label = QtWidgets.QLabel(_linked(POWERED_BY))
        self.powered_by_label.setTextFormat(Qt.TextFormat.RichText)
        self.powered_by_label.setOpenExternalLinks(True)
        self.licenses_label = QtWidgets.QLabel(
            "<b>Licenses</b><br>" + "<br>".join(html.escape(entry)
                                                for entry in LICENSES.split("; ")))
        self.licenses_label.setTextFormat(Qt.TextFormat.RichText)
        # QtCore.__version__ exists at runtime but is missing from PySide6's stubs.
        pyside_version: str = QtCore.__version__  # type: ignore[attr-defined]
        self.versions_label = note_label(
            f"Python {platform.python_version()} · "
            f"Qt {QtCore.qVersion()} · Qt for Python {pyside_version} · "
            f"{platform.system()} {platform.machine()}")
        for label in (description, self.licenses_label, self.versions_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(description)
        layout.addWidget(self.powered_by_label)
        layout.addWidget(self.licenses_label)
        layout.addWidget(self.versions_label)
        layout.addSpacing(6)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def text(self) -> str:
        """Everything the dialog says, as plain text (for tests and "copy to clipboard")."""
        labels = self.findChildren(QtWidgets.QLabel)
        return "\n".join(QtGui.QTextDocumentFragment.fromHtml(label.text()).toPlainText()
                         if label.textFormat() == Qt.TextFormat.RichText else label.text()
                         for label in labels)


def _linked(text: str) -> str:
    """Plain text with its URLs made into links (rich text for a QLabel)."""
    escaped = html.escape(text)
    return re.sub(r"https?://[^\s)]+", lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>',
                  escaped)
