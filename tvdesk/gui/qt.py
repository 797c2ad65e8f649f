"""The one place the Qt binding is chosen and configured.

Every GUI module imports Qt through here, so a binding change touches one file, and pyqtgraph
is told to use PySide6 before it is imported (it must never pick up PyQt from the venv).
"""

from __future__ import annotations

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt, Signal, Slot

pg.setConfigOptions(antialias=True, background=None)  # follow the palette

__all__ = ["Qt", "QtCore", "QtGui", "QtWidgets", "Signal", "Slot", "pg"]
