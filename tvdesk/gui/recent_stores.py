"""The File menu's recent run stores, kept in QSettings (newest first, files that are gone
are dropped when the menu is shown)."""

from __future__ import annotations

from pathlib import Path

from tvdesk.gui.qt import QtCore

KEY = "recent/stores"
LIMIT = 8


def stores(settings: QtCore.QSettings) -> list[Path]:
    """The remembered stores that still exist, newest first."""
    raw = settings.value(KEY) or []
    names = [raw] if isinstance(raw, str) else list(raw)
    return [Path(name) for name in names if name and Path(name).is_file()]


def remember(settings: QtCore.QSettings, path: Path) -> None:
    """Put `path` first (once), keeping at most LIMIT entries."""
    resolved = str(Path(path).resolve())
    kept = [str(p) for p in stores(settings) if str(p) != resolved]
    settings.setValue(KEY, [resolved, *kept][:LIMIT])
